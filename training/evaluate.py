"""Evaluate coded predictions: per-code precision, recall and F1, averages, and calibration.

Everything here works on label-indicator arrays, shape ``(n_narratives, n_codes)``, so one
function serves single-label schemes (one 1 a row) and multi-label schemes alike.

Examples
--------
>>> import numpy as np
>>> truth = np.array([[1, 0], [1, 1], [0, 1], [0, 0]])
>>> guess = np.array([[1, 0], [0, 1], [0, 1], [1, 0]])
>>> result = evaluate_codes(truth, guess, codes=("staffing", "it_design"))
>>> result.micro.f1, result.macro.f1
(0.75, 0.75)
>>> [(c.code, c.precision, c.recall) for c in result.codes]
[('staffing', 0.5, 0.5), ('it_design', 1.0, 1.0)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pipeline.errors import InputError

__all__ = [
    "Averages",
    "Calibration",
    "CodeMetrics",
    "ReliabilityBin",
    "SchemeEvaluation",
    "calibration_report",
    "evaluate_codes",
    "format_evaluation",
]


@dataclass(frozen=True, slots=True)
class CodeMetrics:
    """Scores of one code: precision, recall, F1, true (``support``) and predicted counts."""

    code: str
    precision: float
    recall: float
    f1: float
    support: int
    predicted: int


@dataclass(frozen=True, slots=True)
class Averages:
    """Precision, recall and F1 averaged over codes (macro) or over decisions (micro)."""

    precision: float
    recall: float
    f1: float


@dataclass(frozen=True, slots=True)
class ReliabilityBin:
    """One bin of a reliability diagram: probabilities in ``[lower, upper)``."""

    lower: float
    upper: float
    count: int
    mean_probability: float
    observed_rate: float


@dataclass(frozen=True, slots=True)
class Calibration:
    """Calibration of probabilities over every (narrative, code) pair.

    Attributes
    ----------
    brier : float
        Mean squared difference between probability and outcome (0 is perfect).
    ece : float
        Expected calibration error: the count-weighted mean gap between mean probability and
        observed rate over ``bins``.
    bins : tuple of ReliabilityBin
        Equal-width bins over [0, 1]; empty bins are left out.
    """

    brier: float
    ece: float
    bins: tuple[ReliabilityBin, ...]


@dataclass(frozen=True, slots=True)
class SchemeEvaluation:
    """Evaluation of one scheme's decisions (and, when given, its probabilities)."""

    n_narratives: int
    codes: tuple[CodeMetrics, ...]
    micro: Averages
    macro: Averages
    calibration: Calibration | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dictionary of every figure."""
        return asdict(self)


def evaluate_codes(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    codes: Sequence[str],
    proba: ArrayLike | None = None,
    n_bins: int = 10,
) -> SchemeEvaluation:
    """Score decisions against true codes.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n, k)
        Label indicators (1 = code applies), columns in the order of ``codes``.
    codes : sequence of str
        The code ids, one per column.
    proba : array-like of shape (n, k) or None
        Probabilities behind the decisions; adds a :class:`Calibration`.
    n_bins : int
        Number of equal-width reliability bins.

    Returns
    -------
    SchemeEvaluation
        Per-code metrics, micro and macro averages and calibration. A code never true nor
        predicted scores 0, as in scikit-learn with ``zero_division=0``.

    Raises
    ------
    InputError
        If the arrays are empty or their shapes disagree with each other or with ``codes``.
    """
    truth = _indicator(y_true, "y_true")
    guess = _indicator(y_pred, "y_pred")
    if truth.shape != guess.shape or truth.shape[1] != len(codes):
        raise InputError(
            f"y_true {truth.shape}, y_pred {guess.shape} and {len(codes)} codes disagree; "
            "pass arrays of shape (n_narratives, n_codes)"
        )
    tp = (truth & guess).sum(axis=0)
    support = truth.sum(axis=0)
    predicted = guess.sum(axis=0)
    per_code = tuple(
        CodeMetrics(
            code=code,
            precision=_ratio(tp[j], predicted[j]),
            recall=_ratio(tp[j], support[j]),
            f1=_ratio(2 * tp[j], support[j] + predicted[j]),
            support=int(support[j]),
            predicted=int(predicted[j]),
        )
        for j, code in enumerate(codes)
    )
    micro = Averages(
        precision=_ratio(tp.sum(), predicted.sum()),
        recall=_ratio(tp.sum(), support.sum()),
        f1=_ratio(2 * tp.sum(), support.sum() + predicted.sum()),
    )
    macro = Averages(
        precision=float(np.mean([c.precision for c in per_code])),
        recall=float(np.mean([c.recall for c in per_code])),
        f1=float(np.mean([c.f1 for c in per_code])),
    )
    calibration = None if proba is None else calibration_report(truth, proba, n_bins)
    return SchemeEvaluation(len(truth), per_code, micro, macro, calibration)


def calibration_report(y_true: ArrayLike, proba: ArrayLike, n_bins: int = 10) -> Calibration:
    """Measure how well probabilities match observed rates.

    Parameters
    ----------
    y_true : array-like of shape (n, k)
        Label indicators.
    proba : array-like of shape (n, k)
        Probabilities in [0, 1].
    n_bins : int
        Number of equal-width bins for the reliability diagram and the ECE.

    Returns
    -------
    Calibration
        Brier score, expected calibration error and the non-empty reliability bins.

    Raises
    ------
    InputError
        If shapes disagree, probabilities fall outside [0, 1] or ``n_bins`` < 1.

    Examples
    --------
    >>> report = calibration_report([[1], [0], [1], [0]], [[0.75], [0.25], [0.75], [0.25]], 2)
    >>> report.brier, report.ece
    (0.0625, 0.25)
    """
    truth = _indicator(y_true, "y_true").ravel().astype(float)
    prob = np.asarray(proba, dtype=float).ravel()
    if prob.shape != truth.shape:
        raise InputError(f"proba has {prob.size} values but y_true has {truth.size}")
    if n_bins < 1 or not np.all((prob >= 0.0) & (prob <= 1.0)):
        raise InputError("proba must lie in [0, 1] and n_bins must be at least 1")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.searchsorted(edges, prob, side="right") - 1, 0, n_bins - 1)
    bins = []
    ece = 0.0
    for b in range(n_bins):
        inside = which == b
        count = int(inside.sum())
        if count == 0:
            continue
        mean_p, rate = float(prob[inside].mean()), float(truth[inside].mean())
        ece += count / prob.size * abs(mean_p - rate)
        bins.append(ReliabilityBin(float(edges[b]), float(edges[b + 1]), count, mean_p, rate))
    brier = float(np.mean((prob - truth) ** 2))
    return Calibration(brier=brier, ece=float(ece), bins=tuple(bins))


def format_evaluation(evaluation: SchemeEvaluation, title: str = "") -> str:
    """Render an evaluation as a plain-text table.

    Parameters
    ----------
    evaluation : SchemeEvaluation
        What to show.
    title : str
        A heading line (e.g. the scheme id); omitted when empty.

    Returns
    -------
    str
        One row per code, then the micro and macro averages and the calibration line.
    """
    width = max([len(c.code) for c in evaluation.codes] + [len("macro avg")])
    lines = [title] if title else []
    lines.append(
        f"{'code':<{width}}  precision  recall     f1  support  predicted"
        f"   (n={evaluation.n_narratives})"
    )
    for c in evaluation.codes:
        lines.append(
            f"{c.code:<{width}}  {c.precision:9.3f}  {c.recall:6.3f}  {c.f1:5.3f}"
            f"  {c.support:7d}  {c.predicted:9d}"
        )
    for name, avg in (("micro avg", evaluation.micro), ("macro avg", evaluation.macro)):
        lines.append(f"{name:<{width}}  {avg.precision:9.3f}  {avg.recall:6.3f}  {avg.f1:5.3f}")
    if evaluation.calibration is not None:
        cal = evaluation.calibration
        lines.append(
            f"calibration: Brier {cal.brier:.4f}, ECE {cal.ece:.4f} ({len(cal.bins)} bins)"
        )
    return "\n".join(lines)


def _indicator(values: ArrayLike, name: str) -> NDArray[np.bool_]:
    array = np.asarray(values)
    if array.ndim != 2 or array.size == 0:
        raise InputError(
            f"{name} must be a non-empty label-indicator array of shape (n, k); "
            f"got shape {array.shape}"
        )
    return array.astype(bool)


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0
