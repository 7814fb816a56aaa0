"""Export a fitted :class:`~training.scheme.SchemeModel` as an inference head made of arrays.

The exported :class:`~pipeline.head.SchemeHead` keeps only the chosen views (any of
:data:`~pipeline.head.HEAD_VIEWS`: TF-IDF, the embedding, pooled sentence vectors, NB-weighted
TF-IDF): per code the final estimator's ``coef_`` and ``intercept_``, and the calibrator's
parameters (Platt slope and intercept, or the isotonic thresholds). The NB-weighted view's
``coef_`` is already over the unweighted TF-IDF features, so both TF-IDF views share the
vectorizer. Its probabilities equal ``SchemeModel.predict_proba``
when it is given the same features (``tests/training/test_bundle.py`` checks this to 1e-9).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.isotonic import IsotonicRegression

from pipeline.errors import InputError
from pipeline.head import HEAD_VIEWS, Isotonic, LinearView, SchemeHead, Sigmoid, reads_tfidf
from training.calibration import SigmoidCalibrator
from training.head import SchemeClassifier
from training.scheme import SchemeModel
from training.threshold import learn_thresholds

__all__ = ["export_head"]


def export_head(
    model: SchemeModel,
    scheme: str,
    *,
    y: NDArray[np.int64],
    text_view: str,
    min_positives: int,
) -> SchemeHead:
    """Turn a fitted scheme model into a head that :mod:`pipeline.head_state` can save.

    Parameters
    ----------
    model : SchemeModel
        The fitted model; its chosen candidate (``model.features``) is exported.
    scheme : str
        The scheme id.
    text_view : str
        The part of the narrative the model was trained on.
    y : ndarray of shape (n, k)
        The label indicators it was fitted on (positives per code; the scheme threshold).
    min_positives : int
        The ``min_positives`` it was fitted with (to recover the scheme threshold).

    Returns
    -------
    SchemeHead
        The head.

    Raises
    ------
    InputError
        If a chosen view is not one a bundle head can hold, or a part cannot be exported.
    """
    members = model.features.split("+")
    unknown = [view for view in members if view not in HEAD_VIEWS]
    if unknown:
        raise InputError(
            f"scheme '{scheme}': view(s) {unknown} cannot go into a bundle; train with views "
            f"from {HEAD_VIEWS}"
        )
    views = {view: _linear_view(model.heads[view]) for view in HEAD_VIEWS if view in members}
    candidate = model.candidates[model.features]
    thresholds = None
    scheme_threshold = None
    if model.multi_label:
        assert candidate.thresholds is not None
        thresholds = np.asarray(candidate.thresholds, dtype=np.float64)
        oof = np.mean([model.heads[view].oof_proba_ for view in members], axis=0)
        scheme_threshold = float(learn_thresholds(oof, y, min_positives).scheme)
    return SchemeHead(
        scheme=scheme,
        codes=tuple(model.codes),
        multi_label=model.multi_label,
        views=views,
        vectorizer=model.vectorizer if reads_tfidf(views) else None,
        thresholds=thresholds,
        text_view=text_view,
        n_positives=tuple(int(n) for n in np.asarray(y).sum(axis=0)),
        scheme_threshold=scheme_threshold,
    )


def _linear_view(head: SchemeClassifier) -> LinearView:
    """Collect one view's per-code weights and calibrators."""
    coefs: list[NDArray[np.float64]] = []
    intercepts: list[float] = []
    width = int(head.n_features_in_)
    for estimator in head.estimators_:
        if hasattr(estimator, "coef_"):
            coefs.append(np.asarray(estimator.coef_, dtype=np.float64).reshape(width))
            intercepts.append(float(np.asarray(estimator.intercept_).reshape(-1)[0]))
        elif hasattr(estimator, "score"):  # a code that did not vary: a constant score
            coefs.append(np.zeros(width))
            intercepts.append(float(estimator.score))
        else:
            raise InputError(f"cannot export a {type(estimator).__name__}; use a linear model")
    return LinearView(
        coef=np.vstack(coefs),
        intercept=np.asarray(intercepts, dtype=np.float64),
        calibrators=tuple(_calibrator(c) for c in head.calibrators_),
    )


def _calibrator(calibrator: Any) -> Sigmoid | Isotonic:
    """Convert a fitted calibrator to its array form."""
    if isinstance(calibrator, SigmoidCalibrator):
        return Sigmoid(float(calibrator.slope), float(calibrator.intercept))
    if isinstance(calibrator, IsotonicRegression):
        return Isotonic(
            np.asarray(calibrator.X_thresholds_, dtype=np.float64),
            np.asarray(calibrator.y_thresholds_, dtype=np.float64),
        )
    raise InputError(f"cannot export a {type(calibrator).__name__} calibrator")
