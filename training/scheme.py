"""Fit one scheme: a head per feature view, then the view combination cross-validation prefers.

Every view's :class:`~training.head.SchemeClassifier` is fitted once, with the same folds (the
folds depend only on the labels, ``cv`` and ``random_state``), so its out-of-fold probabilities
line up with every other view's. A candidate is a set of views whose calibrated probabilities
are averaged (late fusion; a single view is the one-element case). Each candidate is scored on
those out-of-fold probabilities, with thresholds learned on them, and the best out-of-fold
macro-F1 wins (ties go to fewer views). No candidate ever sees held-out data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.feature_extraction.text import TfidfVectorizer

from pipeline.errors import InputError
from pipeline.head import reads_tfidf
from training.evaluate import SchemeEvaluation, evaluate_codes
from training.features import TFIDF_VIEWS, Corpus, make_vectorizer, view_estimator, view_matrix
from training.head import SchemeClassifier
from training.threshold import learn_thresholds

__all__ = ["CandidateScore", "SchemeModel", "fit_scheme"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CandidateScore:
    """Out-of-fold scores of one candidate feature set (views joined by ``+``).

    ``thresholds`` are the candidate's per-code decision thresholds (None when single-label).
    """

    features: str
    micro_f1: float
    macro_f1: float
    brier: float
    ece: float
    thresholds: tuple[float, ...] | None

    def to_dict(self) -> dict[str, Any]:
        """Return the scores as a JSON-serialisable dictionary."""
        return asdict(self)


@dataclass(frozen=True, eq=False)
class SchemeModel:
    """A fitted scheme: feature views, a head per view, and the chosen late fusion.

    Attributes
    ----------
    codes : tuple of str
        Code ids, the column order of every output.
    multi_label : bool
        Whether several codes may apply to one narrative.
    vectorizer : TfidfVectorizer or None
        The fitted TF-IDF vectorizer, shared by the :data:`~training.features.TFIDF_VIEWS`
        (None without them).
    heads : dict of str to SchemeClassifier
        One fitted head per view measured, so that any candidate can be scored.
    features : str
        The chosen candidate: views joined by ``+``, whose probabilities are averaged.
    candidates : dict of str to CandidateScore
        Out-of-fold scores of every candidate, the measurement behind the choice.
    oof_metrics : SchemeEvaluation
        Out-of-fold evaluation of the chosen candidate.
    """

    codes: tuple[str, ...]
    multi_label: bool
    vectorizer: TfidfVectorizer | None
    heads: dict[str, SchemeClassifier]
    features: str
    candidates: dict[str, CandidateScore]
    oof_metrics: SchemeEvaluation

    def predict_proba(self, corpus: Corpus, features: str = "") -> NDArray[np.float64]:
        """Return calibrated probabilities of shape (n, k).

        Parameters
        ----------
        corpus : Corpus
            The narratives, with the embeddings the views need.
        features : str
            A candidate (e.g. ``"tfidf+embedding"``); empty means the chosen one.

        Returns
        -------
        ndarray of shape (n, k)
            The candidate's views' probabilities, averaged.
        """
        views = self._candidate(features).features.split("+")
        probas = [
            self.heads[view].predict_proba(view_matrix(view, corpus, self.vectorizer))
            for view in views
        ]
        return np.asarray(np.mean(probas, axis=0), dtype=np.float64)

    def predict(self, corpus: Corpus, features: str = "") -> NDArray[np.int64]:
        """Return decisions as a label-indicator array of shape (n, k).

        Multi-label: a code is selected when its probability reaches the candidate's threshold.
        Single-label: exactly one code a narrative, the most probable.
        """
        candidate = self._candidate(features)
        proba = self.predict_proba(corpus, candidate.features)
        thresholds = None if candidate.thresholds is None else np.array(candidate.thresholds)
        return _decide(proba, thresholds)

    def _candidate(self, features: str) -> CandidateScore:
        name = features or self.features
        if name not in self.candidates:
            raise InputError(f"no candidate {name!r}; have {', '.join(self.candidates)}")
        return self.candidates[name]


def fit_scheme(
    corpus: Corpus,
    y: ArrayLike,
    codes: Sequence[str],
    *,
    multi_label: bool,
    views: Sequence[str] | None = None,
    cv: int = 5,
    min_positives: int = 20,
    calibration: str = "sigmoid",
    random_state: int | None = 0,
    n_jobs: int | None = None,
) -> SchemeModel:
    """Fit a head per view, score every view combination out of fold, and keep the best.

    Parameters
    ----------
    corpus : Corpus
        The training narratives.
    y : array-like of shape (n, k)
        Label indicators, columns in the order of ``codes`` (one-hot when single-label).
    codes : sequence of str
        The scheme's code ids.
    multi_label : bool
        Whether the scheme is multi-label.
    views : sequence of str or None
        Views to consider; None means every view the corpus can feed.
    cv, min_positives, calibration, random_state, n_jobs
        Passed to each :class:`~training.head.SchemeClassifier`.

    Returns
    -------
    SchemeModel
        The fitted model, with every candidate's out-of-fold scores.

    Raises
    ------
    InputError
        If ``y`` does not match the corpus and codes, a code has no positive narrative, a
        single-label row has other than one code, or a view cannot be fed.
    """
    indicator = _check_labels(y, codes, len(corpus), multi_label)
    views = tuple(corpus.views if views is None else views)
    uses_tfidf = reads_tfidf(views)
    vectorizer = make_vectorizer().fit(corpus.texts) if uses_tfidf else None
    target = indicator if multi_label else indicator.argmax(axis=1)
    heads: dict[str, SchemeClassifier] = {}
    matrices: dict[str, Any] = {}  # the TF-IDF views read one matrix, computed once
    for view in views:
        started = time.perf_counter()
        key = "tfidf" if view in TFIDF_VIEWS else view
        if key not in matrices:
            matrices[key] = view_matrix(view, corpus, vectorizer)
        head = SchemeClassifier(
            view_estimator(view),
            calibration=calibration,
            cv=cv,
            min_positives=min_positives,
            random_state=random_state,
            n_jobs=n_jobs,
        )
        heads[view] = head.fit(matrices[key], target)
        logger.info("Fitted the %s head in %.1f s", view, time.perf_counter() - started)
    scored = []
    for size in range(1, len(views) + 1):
        for members in combinations(views, size):
            oof = np.mean([heads[view].oof_proba_ for view in members], axis=0)
            thresholds = learn_thresholds(oof, indicator, min_positives) if multi_label else None
            values = None if thresholds is None else thresholds.values
            metrics = evaluate_codes(indicator, _decide(oof, values), codes, oof)
            scored.append((_candidate(members, values, metrics), metrics))
    best, metrics = max(scored, key=lambda item: item[1].macro.f1)
    logger.info("Chose %s (out-of-fold macro-F1 %.3f)", best.features, metrics.macro.f1)
    return SchemeModel(
        codes=tuple(codes),
        multi_label=multi_label,
        vectorizer=vectorizer,
        heads=heads,
        features=best.features,
        candidates={candidate.features: candidate for candidate, _ in scored},
        oof_metrics=metrics,
    )


def _check_labels(
    y: ArrayLike, codes: Sequence[str], n: int, multi_label: bool
) -> NDArray[np.int64]:
    """Validate the label indicators against the corpus and codes; name the offending code."""
    indicator = np.asarray(y)
    if indicator.shape != (n, len(codes)) or n == 0:
        raise InputError(
            f"y has shape {indicator.shape}; expected ({n}, {len(codes)}) for {n} narratives "
            f"and codes {list(codes)}, with at least one narrative"
        )
    if not np.isin(indicator, (0, 1)).all():
        raise InputError("y must hold only 0 and 1 (a label-indicator array)")
    indicator = indicator.astype(np.int64)
    for code, count in zip(codes, indicator.sum(axis=0), strict=True):
        if count == 0:
            raise InputError(
                f"code '{code}' has no positive narrative among {n}; label examples of it or "
                "leave it out of training"
            )
    if not multi_label and not (indicator.sum(axis=1) == 1).all():
        raise InputError("a single-label scheme needs exactly one code per narrative")
    return indicator


def _decide(
    proba: NDArray[np.float64], thresholds: NDArray[np.float64] | None
) -> NDArray[np.int64]:
    if thresholds is not None:
        return (proba >= thresholds).astype(np.int64)
    one_hot: NDArray[np.int64] = np.eye(proba.shape[1], dtype=np.int64)[proba.argmax(axis=1)]
    return one_hot


def _candidate(
    members: tuple[str, ...], thresholds: NDArray[np.float64] | None, metrics: SchemeEvaluation
) -> CandidateScore:
    calibration = metrics.calibration
    assert calibration is not None
    return CandidateScore(
        features="+".join(members),
        micro_f1=metrics.micro.f1,
        macro_f1=metrics.macro.f1,
        brier=calibration.brier,
        ece=calibration.ece,
        thresholds=None if thresholds is None else tuple(float(t) for t in thresholds),
    )
