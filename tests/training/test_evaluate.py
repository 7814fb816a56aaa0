from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.errors import InputError
from training.evaluate import calibration_report, evaluate_codes, format_evaluation


def test_hand_computed_example():
    truth = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [1, 0, 0]])
    guess = np.array([[1, 1, 0], [0, 1, 0], [0, 1, 0], [1, 0, 1]])
    result = evaluate_codes(truth, guess, ("a", "b", "c"))
    a, b, c = result.codes
    # a: tp 2, support 3, predicted 2 -> P 1, R 2/3, F1 0.8
    assert (a.precision, a.recall, a.f1, a.support, a.predicted) == pytest.approx(
        (1.0, 2 / 3, 0.8, 3, 2)
    )
    # b: tp 2, support 2, predicted 3 -> P 2/3, R 1, F1 0.8
    assert (b.precision, b.recall, b.f1) == pytest.approx((2 / 3, 1.0, 0.8))
    # c: never true, predicted once -> all 0
    assert (c.precision, c.recall, c.f1, c.support) == (0.0, 0.0, 0.0, 0)
    # micro: tp 4, support 5, predicted 6 -> P 4/6, R 4/5, F1 8/11
    assert (result.micro.precision, result.micro.recall, result.micro.f1) == pytest.approx(
        (4 / 6, 4 / 5, 8 / 11)
    )
    assert result.macro.f1 == pytest.approx((0.8 + 0.8 + 0.0) / 3)
    assert result.macro.precision == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert result.calibration is None and result.n_narratives == 4


def test_matches_scikit_learn():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    truth = (rng.random((50, 4)) < 0.3).astype(int)
    guess = (rng.random((50, 4)) < 0.3).astype(int)
    result = evaluate_codes(truth, guess, list("wxyz"))
    assert result.micro.f1 == pytest.approx(f1_score(truth, guess, average="micro"))
    assert result.macro.f1 == pytest.approx(
        f1_score(truth, guess, average="macro", zero_division=0)
    )


def test_calibration_hand_example():
    truth = np.array([[1], [0], [0], [1], [1]])
    proba = np.array([[0.9], [0.1], [0.3], [0.7], [0.4]])
    report = calibration_report(truth, proba, n_bins=2)
    # Brier: (0.01 + 0.01 + 0.09 + 0.09 + 0.36) / 5
    assert report.brier == pytest.approx(0.112)
    low, high = report.bins
    assert (low.count, low.mean_probability, low.observed_rate) == pytest.approx(
        (3, 0.8 / 3, 1 / 3)
    )
    assert (high.count, high.mean_probability, high.observed_rate) == pytest.approx((2, 0.8, 1.0))
    assert report.ece == pytest.approx(3 / 5 * abs(0.8 / 3 - 1 / 3) + 2 / 5 * 0.2)


def test_probability_one_falls_in_the_last_bin_and_empty_bins_are_dropped():
    report = calibration_report([[1], [0]], [[1.0], [0.0]], n_bins=10)
    assert [(b.lower, b.upper, b.count) for b in report.bins] == [(0.0, 0.1, 1), (0.9, 1.0, 1)]
    assert report.ece == 0.0 and report.brier == 0.0


def test_to_dict_is_json_and_format_lists_codes():
    result = evaluate_codes(
        [[1, 0], [0, 1]], [[1, 0], [1, 1]], ("a", "b"), [[0.8, 0.2], [0.6, 0.9]]
    )
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["codes"][0]["code"] == "a"
    assert payload["calibration"]["brier"] == pytest.approx(result.calibration.brier)
    table = format_evaluation(result, "cause")
    assert table.splitlines()[0] == "cause"
    assert "macro avg" in table and "Brier" in table
    assert any(line.startswith("b ") for line in table.splitlines())


@pytest.mark.parametrize(
    ("truth", "guess", "codes", "message"),
    [
        (np.zeros((0, 2)), np.zeros((0, 2)), ("a", "b"), "non-empty"),
        (np.zeros((3, 2)), np.zeros((3, 3)), ("a", "b"), "disagree"),
        (np.zeros((3, 2)), np.zeros((3, 2)), ("a",), "disagree"),
        (np.zeros(3), np.zeros(3), ("a",), "shape"),
    ],
)
def test_bad_shapes(truth, guess, codes, message):
    with pytest.raises(InputError, match=message):
        evaluate_codes(truth, guess, codes)


def test_probabilities_out_of_range():
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        calibration_report([[1]], [[1.2]])
