"""Calibrate one code's classifier scores into probabilities.

Calibrators are fitted on out-of-fold scores, so they see how the classifier behaves on
narratives it was not trained on. Two methods:

``"sigmoid"`` (Platt scaling, the default)
    Two parameters per code, monotonic, so it keeps the ranking (and the F1-optimal threshold)
    of the scores. It needs few positives, which suits codes with tens of examples.
``"isotonic"``
    A free monotonic step function. More flexible, but with few positives it overfits and its
    flat steps make many narratives tie at one probability.

Examples
--------
>>> import numpy as np
>>> scores = np.array([-2.0, -1.0, 0.0, 1.0, 2.0, 3.0])
>>> calibrator = fit_calibrator(scores, np.array([0, 0, 1, 0, 1, 1]), "sigmoid")
>>> proba = calibrator.predict(scores)
>>> bool(np.all(np.diff(proba) > 0)), bool(0 < proba.min() and proba.max() < 1)
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.special import expit, log_expit
from sklearn.isotonic import IsotonicRegression

from pipeline.errors import InputError

__all__ = ["CALIBRATION_METHODS", "Calibrator", "SigmoidCalibrator", "fit_calibrator"]

CALIBRATION_METHODS = ("sigmoid", "isotonic")


class Calibrator(Protocol):
    """Anything that maps scores of shape (n,) to probabilities of shape (n,)."""

    def predict(self, scores: NDArray[np.float64]) -> NDArray[np.float64]:
        """Return calibrated probabilities for ``scores``."""
        ...


@dataclass(frozen=True, slots=True)
class SigmoidCalibrator:
    """Platt scaling: ``p = 1 / (1 + exp(-(slope * score + intercept)))``."""

    slope: float
    intercept: float

    def predict(self, scores: NDArray[np.float64]) -> NDArray[np.float64]:
        """Return calibrated probabilities for ``scores``, shape (n,)."""
        return np.asarray(expit(self.slope * scores + self.intercept), dtype=np.float64)


def fit_calibrator(scores: NDArray[np.float64], y: NDArray[np.int_], method: str) -> Calibrator:
    """Fit a calibrator mapping one code's scores to the probability that the code applies.

    Parameters
    ----------
    scores : ndarray of shape (n,)
        Out-of-fold classifier scores (higher means more likely).
    y : ndarray of shape (n,)
        1 where the code applies, else 0.
    method : {"sigmoid", "isotonic"}
        Platt scaling or isotonic regression (see the module docstring).

    Returns
    -------
    Calibrator
        A fitted calibrator.

    Raises
    ------
    InputError
        If ``method`` is unknown.
    """
    if method == "sigmoid":
        return _fit_platt(scores, y)
    if method == "isotonic":
        isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        fitted: Calibrator = isotonic.fit(scores, y.astype(float))
        return fitted
    raise InputError(f"calibration={method!r} is unknown; use one of {CALIBRATION_METHODS}")


def _fit_platt(scores: NDArray[np.float64], y: NDArray[np.int_]) -> SigmoidCalibrator:
    """Platt (1999) with his smoothed targets, so separable scores give finite parameters."""
    positives = float(y.sum())
    negatives = float(len(y) - positives)
    target = np.where(y == 1, (positives + 1) / (positives + 2), 1 / (negatives + 2))
    # Centre and scale the scores so one optimiser tolerance fits every classifier's units.
    centre, spread = float(np.mean(scores)), float(np.std(scores)) or 1.0
    z = (scores - centre) / spread

    def loss(params: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        logits = params[0] * z + params[1]
        value = -np.sum(target * log_expit(logits) + (1 - target) * log_expit(-logits))
        residual = expit(logits) - target
        return float(value), np.array([np.dot(residual, z), residual.sum()])

    result = minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
    slope, intercept = (float(v) for v in result.x)
    return SigmoidCalibrator(slope=slope / spread, intercept=intercept - slope * centre / spread)
