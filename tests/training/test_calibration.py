from __future__ import annotations

import numpy as np
import pytest

from pipeline.errors import InputError
from training.calibration import SigmoidCalibrator, fit_calibrator


def test_platt_recovers_a_known_sigmoid():
    rng = np.random.default_rng(0)
    scores = rng.normal(scale=2.0, size=20_000)
    y = (rng.random(scores.size) < 1 / (1 + np.exp(-(1.5 * scores - 0.5)))).astype(int)
    calibrator = fit_calibrator(scores, y, "sigmoid")
    assert isinstance(calibrator, SigmoidCalibrator)
    assert calibrator.slope == pytest.approx(1.5, rel=0.08)
    assert calibrator.intercept == pytest.approx(-0.5, abs=0.08)


def test_separable_scores_stay_finite():
    calibrator = fit_calibrator(np.array([-3.0, -2.0, 2.0, 3.0]), np.array([0, 0, 1, 1]), "sigmoid")
    proba = calibrator.predict(np.array([-100.0, 0.0, 100.0]))
    assert np.isfinite([calibrator.slope, calibrator.intercept]).all()
    assert 0.0 <= proba[0] < 0.5 < proba[2] <= 1.0


def test_isotonic_is_monotonic_and_bounded():
    scores = np.linspace(-2, 2, 50)
    y = (scores > 0).astype(int)
    proba = fit_calibrator(scores, y, "isotonic").predict(np.array([-5.0, 0.5, 5.0]))
    assert proba.tolist() == sorted(proba.tolist())
    assert proba.min() >= 0 and proba.max() <= 1


def test_unknown_method():
    with pytest.raises(InputError, match="unknown"):
        fit_calibrator(np.zeros(3), np.array([0, 1, 0]), "beta")
