from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from pipeline.errors import InputError
from training.head import SchemeClassifier


def _signal(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features with signal for a frequent, a medium and a rare code."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    y = np.zeros((n, 3), dtype=np.int64)
    y[:, 0] = X[:, 0] + 0.5 * rng.normal(size=n) > 0
    y[:, 1] = X[:, 1] + 0.5 * rng.normal(size=n) > 0.8
    rare = np.argsort(-X[:, 2])[:6]  # 6 positives: below min_positives
    y[rare, 2] = 1
    return X, y


@parametrize_with_checks([SchemeClassifier(cv=3)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_multi_label_shapes_and_probabilities():
    X, y = _signal()
    head = SchemeClassifier().fit(X, y)
    proba = head.predict_proba(X[:7])
    assert proba.shape == (7, 3)
    assert proba.dtype == np.float64
    assert ((proba >= 0) & (proba <= 1)).all()
    assert head.predict(X[:7]).shape == (7, 3)
    assert set(np.unique(head.predict(X))) <= {0, 1}
    assert head.oof_proba_.shape == y.shape
    assert head.multi_label_ and list(head.classes_) == [0, 1, 2]
    assert head.oof_metrics_.micro.f1 > 0.6


def test_thresholds_own_for_frequent_codes_and_shrunk_for_rare_ones():
    X, y = _signal()
    head = SchemeClassifier(min_positives=20).fit(X, y)
    weights = head.threshold_weights_
    assert weights is not None and head.thresholds_ is not None
    assert head.scheme_threshold_ is not None
    assert weights[0] == 1.0 and weights[1] == 1.0
    assert weights[2] == pytest.approx(6 / 20)
    # The rare code's threshold lies between its own optimum and the scheme-level one.
    from training.threshold import learn_thresholds

    learned = learn_thresholds(head.oof_proba_, y, 20)
    np.testing.assert_allclose(head.thresholds_, learned.values)
    low, high = sorted([learned.own[2], head.scheme_threshold_])
    assert low <= head.thresholds_[2] <= high
    assert head.thresholds_[2] == pytest.approx(0.3 * learned.own[2] + 0.7 * learned.scheme)


def test_min_positives_zero_keeps_every_code_own_threshold():
    X, y = _signal()
    head = SchemeClassifier(min_positives=0).fit(X, y)
    assert np.all(head.threshold_weights_ == 1.0)


def test_single_label_probabilities_sum_to_one_and_predict_classes():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 4))
    y = np.array(["near_miss", "incident", "not_safety"])[np.argmax(X[:, :3], axis=1)]
    head = SchemeClassifier().fit(X, y)
    proba = head.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert list(head.classes_) == ["incident", "near_miss", "not_safety"]
    assert head.thresholds_ is None and not head.multi_label_
    assert (head.predict(X) == y).mean() > 0.8


def test_fixed_seed_is_deterministic():
    X, y = _signal()
    first = SchemeClassifier(random_state=3).fit(X, y)
    second = SchemeClassifier(random_state=3).fit(X, y)
    np.testing.assert_array_equal(first.oof_proba_, second.oof_proba_)
    np.testing.assert_array_equal(first.thresholds_, second.thresholds_)
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))


def test_isotonic_calibration_gives_probabilities():
    X, y = _signal()
    proba = SchemeClassifier(calibration="isotonic").fit(X, y).predict_proba(X)
    assert ((proba >= 0) & (proba <= 1)).all()


def test_sparse_input():
    from scipy import sparse

    X, y = _signal()
    head = SchemeClassifier().fit(sparse.csr_matrix(np.abs(X)), y)
    assert head.predict(sparse.csr_matrix(np.abs(X[:3]))).shape == (3, 3)


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        (np.empty((0, 3)), np.empty((0, 2)), r"0 sample\(s\)"),
        (np.ones((10, 2)), np.array([[1, 0]] * 5 + [[0, 0]] * 5), "column 1 has no positive"),
        (np.ones((10, 2)), np.array([[1, 1]] * 5 + [[0, 1]] * 5), "column 1 has only positive"),
        (np.ones((10, 2)), np.array(["near_miss"] * 10), "only one class"),
        (np.ones((10, 2)), np.linspace(0, 1, 10), "Unknown label type"),
    ],
)
def test_bad_inputs_raise_input_error(X, y, message):
    with pytest.raises(InputError, match=message):
        SchemeClassifier().fit(X, y)


def test_unknown_calibration_raises():
    X, y = _signal()
    with pytest.raises(InputError, match="calibration='platt' is unknown"):
        SchemeClassifier(calibration="platt").fit(X, y)


def test_wrong_feature_count_at_predict():
    X, y = _signal()
    head = SchemeClassifier().fit(X, y)
    with pytest.raises(ValueError, match="features"):
        head.predict(X[:, :3])
