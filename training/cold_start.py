"""Fit a bundle's cold-start calibration on its own labelled data, embedder and taxonomy.

Cold start scores a code by the best cosine between a narrative's sentences and the code's
prototype (its definition and examples, :class:`pipeline.head.ColdStartHead`), mapped to [0, 1]
by ``expit(slope * (cosine - center))``; a multi-label code is selected at ``threshold``. How
cosines spread depends on the embedding model *and* on how a taxonomy's definitions are worded,
so :func:`fit_cold_start` learns the three numbers from the training data: a logistic
regression of "the code applies" on the best cosine, pooled over every labelled (narrative,
code) pair of the multi-label schemes (the single-label ones when there are none), and the
threshold where pooled F1 peaks. It uses every labelled record, including those of schemes
with too few labels to train a head: those are the schemes cold start serves.

The cosines do not depend on the labels (prototypes come from the taxonomy), so the only
estimates that could overfit are the slope, the center and the threshold. The threshold is
chosen on out-of-fold probabilities (folds of whole narratives), the regression refitted on all
pairs. Too few pairs, or cosines that do not rise with the labels, give no calibration; the
suggester then falls back to its per-model table (``pipeline.head.COLD_START_CALIBRATIONS``).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> y = rng.random(400) < 0.2
>>> cosines = 0.5 + 0.1 * y + rng.normal(0, 0.03, 400)
>>> groups, multi = np.arange(400) // 2, np.ones(400, dtype=bool)
>>> fit = fit_calibration(cosines, y.astype(int), groups, multi_label=multi)
>>> 0.5 < fit.calibration.center < 0.7 and fit.calibration.slope > 10
True
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from pipeline.embed import Embedder
from pipeline.evidence import view_sentences
from pipeline.head import ColdStartCalibration, ColdStartHead, cold_start_texts
from pipeline.sentences import prepare_records
from training.dataset import Dataset
from training.threshold import best_f1_threshold

__all__ = [
    "MIN_CALIBRATION_NEGATIVES",
    "MIN_CALIBRATION_POSITIVES",
    "ColdStartFit",
    "fit_calibration",
    "fit_cold_start",
]

logger = logging.getLogger(__name__)

#: Fewer positive (narrative, code) pairs than this and no calibration is fitted.
MIN_CALIBRATION_POSITIVES = 5
#: Fewer negative pairs than this and no calibration is fitted.
MIN_CALIBRATION_NEGATIVES = 5
#: Folds (of whole narratives) for the out-of-fold threshold.
CALIBRATION_FOLDS = 5
#: Inverse regularisation of the one-feature logistic regression (effectively none).
_C = 1e4


@dataclass(frozen=True, slots=True)
class ColdStartFit:
    """A fitted cold-start calibration and what it was fitted on.

    Attributes
    ----------
    calibration : ColdStartCalibration
        Center, slope and threshold.
    n_records : int
        Labelled narratives whose pairs were pooled.
    n_pairs : int
        (Narrative, code) pairs pooled.
    n_positives : int
        Pairs where the code applies.
    schemes : tuple of str
        The schemes pooled.
    oof_f1 : float
        Pooled F1, at the threshold, of the pairs that set it (the multi-label ones when there
        are any), on out-of-fold probabilities.
    """

    calibration: ColdStartCalibration
    n_records: int
    n_pairs: int
    n_positives: int
    schemes: tuple[str, ...]
    oof_f1: float

    def to_dict(self) -> dict[str, Any]:
        """Return what a bundle records in ``metadata.json`` (``training.cold_start``)."""
        c = self.calibration
        return {
            "center": c.center,
            "slope": c.slope,
            "threshold": c.threshold,
            "fitted_on": {
                "records": self.n_records,
                "pairs": self.n_pairs,
                "positives": self.n_positives,
                "schemes": list(self.schemes),
                "oof_f1": round(self.oof_f1, 4),
            },
        }


def fit_cold_start(
    dataset: Dataset, embedder: Embedder, text_views: Mapping[str, str]
) -> ColdStartFit | None:
    """Fit the cold-start calibration of ``embedder`` and the dataset's taxonomy.

    Parameters
    ----------
    dataset : Dataset
        The redacted labelled records (every scheme with labelled records is used).
    embedder : Embedder
        The bundle's embedding model (through its cache).
    text_views : mapping of str to str
        The text view of each scheme (recovery schemes read only their sections).

    Returns
    -------
    ColdStartFit or None
        The calibration, or None when there are too few labelled pairs or the cosines do not
        rise with the labels (the caller says so and the suggester falls back to its table).
    """
    labelled = [data for data in dataset.schemes.values() if len(data.rows)]
    multi = [data for data in labelled if data.scheme.multi_label]
    pooled = multi or labelled
    if not pooled:
        return None
    prepared = prepare_records(list(dataset.records), redact=False)
    views = sorted({text_views[data.scheme.id] for data in pooled})
    sentences = {view: view_sentences(prepared, view) for view in views}
    distinct = list(dict.fromkeys(s for found in sentences.values() for s in found.texts))
    prototype_texts = [cold_start_texts(data.scheme.leaf_codes) for data in pooled]
    flat = [text for per_scheme in prototype_texts for per_code in per_scheme for text in per_code]
    vectors = embedder.encode([*distinct, *flat])
    index = {text: i for i, text in enumerate(distinct)}
    cosines, labels, groups, kinds = [], [], [], []
    start = len(distinct)
    for data, per_scheme in zip(pooled, prototype_texts, strict=True):
        sizes = [len(per_code) for per_code in per_scheme]
        head = ColdStartHead.from_vectors(
            data.scheme.id,
            data.codes,
            data.scheme.multi_label,
            vectors[start : start + sum(sizes)],
            sizes,
            text_views[data.scheme.id],
        )
        start += sum(sizes)
        found = sentences[head.text_view]
        rows = vectors[[index[s] for s in found.texts]] if found.texts else vectors[:0]
        best = head.best_cosines([found.groups(rows)[i] for i in data.rows])
        cosines.append(best.ravel())
        labels.append(data.y.ravel())
        groups.append(np.repeat(data.rows, len(data.codes)))
        kinds.append(np.full(best.size, data.scheme.multi_label))
    fit = fit_calibration(
        np.concatenate(cosines),
        np.concatenate(labels),
        np.concatenate(groups),
        multi_label=np.concatenate(kinds),
    )
    if fit is None:
        return None
    return ColdStartFit(
        calibration=fit.calibration,
        n_records=len(np.unique(np.concatenate(groups))),
        n_pairs=fit.n_pairs,
        n_positives=fit.n_positives,
        schemes=tuple(data.scheme.id for data in pooled),
        oof_f1=fit.oof_f1,
    )


def fit_calibration(
    cosines: NDArray[np.floating[Any]],
    y: NDArray[np.integer[Any]],
    groups: NDArray[np.integer[Any]],
    *,
    multi_label: NDArray[np.bool_],
) -> ColdStartFit | None:
    """Fit center, slope and threshold on pooled (narrative, code) pairs.

    Parameters
    ----------
    cosines : ndarray of shape (m,)
        Each pair's best sentence-to-prototype cosine.
    y : ndarray of shape (m,)
        1 when the code applies to the narrative.
    groups : ndarray of shape (m,)
        The narrative of each pair (folds keep a narrative's pairs together).
    multi_label : ndarray of bool, shape (m,)
        Whether each pair belongs to a multi-label scheme (only those set the threshold).

    Returns
    -------
    ColdStartFit or None
        The calibration (``n_records`` and ``schemes`` left for the caller), or None with too
        few positive or negative pairs or a slope that is not positive.
    """
    x = np.asarray(cosines, dtype=np.float64).reshape(-1, 1)
    target = np.asarray(y, dtype=np.int64)
    positives = int(target.sum())
    if positives < MIN_CALIBRATION_POSITIVES or len(target) - positives < MIN_CALIBRATION_NEGATIVES:
        return None
    slope, center = _logistic(x, target)
    if slope <= 0:
        return None
    oof = np.full(len(target), np.nan)
    n_folds = min(CALIBRATION_FOLDS, len(np.unique(groups)))
    if n_folds >= 2:
        for train, test in GroupKFold(n_splits=n_folds).split(x, target, groups):
            fold_slope, fold_center = _logistic(x[train], target[train])
            oof[test] = expit(fold_slope * (x[test, 0] - fold_center))
    # A fold with a single class (or too few narratives for folds) scores with the full fit.
    missing = np.isnan(oof)
    oof[missing] = expit(slope * (x[missing, 0] - center))
    chosen = np.asarray(multi_label, dtype=bool)
    if not target[chosen].any():
        chosen = np.ones(len(target), dtype=bool)
    threshold, f1 = best_f1_threshold(oof[chosen], target[chosen])
    calibration = ColdStartCalibration(round(center, 4), round(slope, 4), round(threshold, 4))
    return ColdStartFit(
        calibration=calibration,
        n_records=len(np.unique(groups)),
        n_pairs=len(target),
        n_positives=positives,
        schemes=(),
        oof_f1=f1,
    )


def _logistic(x: NDArray[np.float64], y: NDArray[np.int64]) -> tuple[float, float]:
    """Return (slope, center) of ``P(y) = expit(slope * (x - center))``; slope 0 if one class."""
    if len(np.unique(y)) < 2:
        return 0.0, 0.0
    model = LogisticRegression(C=_C, max_iter=1000).fit(x, y)
    slope = float(model.coef_[0, 0])
    if slope == 0:
        return 0.0, 0.0
    return slope, float(-model.intercept_[0] / slope)
