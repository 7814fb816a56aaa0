"""Decision thresholds per code, learned from out-of-fold probabilities.

A code with at least ``min_positives`` positive narratives gets the threshold that maximises its
own out-of-fold F1. A rarer code's own optimum is noisy, so its threshold is shrunk toward one
scheme-level threshold (the one that maximises micro-F1 over all codes together), in proportion
to how far it falls short: ``weight = positives / min_positives``.

Examples
--------
>>> import numpy as np
>>> threshold, f1 = best_f1_threshold(np.array([0.9, 0.8, 0.3, 0.2]), np.array([1, 1, 0, 0]))
>>> threshold, f1
(0.55, 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pipeline.errors import InputError

__all__ = ["Thresholds", "best_f1_threshold", "learn_thresholds"]


@dataclass(frozen=True, eq=False)
class Thresholds:
    """Thresholds learned for one multi-label scheme.

    Attributes
    ----------
    values : ndarray of shape (k,)
        The threshold used for each code: select the code when its probability is >= this.
    own : ndarray of shape (k,)
        Each code's own F1-maximising threshold.
    weight : ndarray of shape (k,)
        How much of ``own`` is in ``values`` (1 for codes with enough positives).
    positives : ndarray of shape (k,)
        Positive narratives per code in the data the thresholds were learned from.
    scheme : float
        The scheme-level threshold rare codes are shrunk toward.
    """

    values: NDArray[np.float64]
    own: NDArray[np.float64]
    weight: NDArray[np.float64]
    positives: NDArray[np.int_]
    scheme: float


def best_f1_threshold(proba: NDArray[np.float64], y: NDArray[np.int_]) -> tuple[float, float]:
    """Find the probability threshold that maximises F1 for one code.

    Parameters
    ----------
    proba : ndarray of shape (n,)
        Out-of-fold probabilities (or any scores) for the code.
    y : ndarray of shape (n,)
        1 where the code applies, else 0.

    Returns
    -------
    tuple of (float, float)
        The threshold, halfway between the lowest selected score and the next one below it,
        and the F1 reached with ``proba >= threshold``. Ties go to the higher threshold.

    Raises
    ------
    InputError
        If the arrays are empty, differ in length, or ``y`` has no positive.
    """
    if proba.shape != y.shape or proba.size == 0:
        raise InputError(f"proba {proba.shape} and y {y.shape} must be non-empty and equal")
    positives = int(y.sum())
    if positives == 0:
        raise InputError("cannot learn a threshold for a code with no positive narratives")
    order = np.argsort(-proba, kind="stable")
    ranked, hits = proba[order], y[order]
    true_pos = np.cumsum(hits)
    selected = np.arange(1, len(ranked) + 1)
    f1 = 2.0 * true_pos / (positives + selected)
    # Only a cut after the last of equal scores is realisable with ``proba >= threshold``.
    f1[:-1][ranked[1:] == ranked[:-1]] = -1.0
    best = int(np.argmax(f1))
    if best + 1 < len(ranked):
        threshold = float((ranked[best] + ranked[best + 1]) / 2.0)
    else:
        threshold = float(ranked[best])
    return threshold, float(f1[best])


def learn_thresholds(
    proba: NDArray[np.float64], y: NDArray[np.int_], min_positives: int
) -> Thresholds:
    """Learn one threshold per code of a multi-label scheme.

    Parameters
    ----------
    proba : ndarray of shape (n, k)
        Out-of-fold calibrated probabilities.
    y : ndarray of shape (n, k)
        Label indicators; every column needs at least one positive.
    min_positives : int
        Codes with at least this many positives keep their own F1-optimal threshold; rarer
        codes are shrunk toward the scheme-level threshold.

    Returns
    -------
    Thresholds
        The thresholds and how they were reached.

    Raises
    ------
    InputError
        If shapes disagree or a code has no positive narratives.
    """
    if proba.shape != y.shape or proba.ndim != 2:
        raise InputError(f"proba {proba.shape} and y {y.shape} must both have shape (n, k)")
    scheme, _ = best_f1_threshold(proba.ravel(), y.ravel())
    own = np.array([best_f1_threshold(proba[:, j], y[:, j])[0] for j in range(y.shape[1])])
    positives = y.sum(axis=0).astype(int)
    weight = np.minimum(positives / max(min_positives, 1), 1.0)
    values = weight * own + (1.0 - weight) * scheme
    return Thresholds(values=values, own=own, weight=weight, positives=positives, scheme=scheme)
