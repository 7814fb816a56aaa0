"""The classifier head of one scheme: one-vs-rest, calibrated, with per-code thresholds.

One out-of-fold pass gives every narrative a score per code from a model that did not see it.
Those scores fit the calibrators and the thresholds, so a fit costs ``(cv + 1) * n_codes`` small
fits and nothing is tuned on the narratives it is scored on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self, TypeVar

import numpy as np
from joblib import Parallel, delayed
from numpy.typing import ArrayLike, NDArray
from scipy.special import logit
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from pipeline.errors import InputError
from training.calibration import CALIBRATION_METHODS, Calibrator, fit_calibrator
from training.evaluate import SchemeEvaluation, evaluate_codes
from training.folds import stratified_folds
from training.threshold import learn_thresholds

__all__ = ["SchemeClassifier", "default_estimator"]

_T = TypeVar("_T")


def default_estimator() -> LogisticRegression:
    """Return the default binary classifier: L2 logistic regression with balanced classes.

    liblinear is several times faster than lbfgs here, on sparse TF-IDF and on short dense
    vectors alike.
    """
    return LogisticRegression(C=1.0, class_weight="balanced", solver="liblinear")


class SchemeClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Calibrated one-vs-rest classifier for one scheme, with a threshold per code.

    Multi-label when ``y`` is a label-indicator array of shape (n, k); single-label (exactly
    one class per narrative) when ``y`` is a vector of class labels.

    Parameters
    ----------
    estimator : estimator or None
        Binary classifier cloned for each code; it needs ``decision_function`` or
        ``predict_proba``. None means :func:`default_estimator`.
    calibration : {"sigmoid", "isotonic"}
        How out-of-fold scores become probabilities; see :mod:`training.calibration`.
    cv : int
        Number of folds of the out-of-fold pass (fewer when there are fewer narratives).
    min_positives : int
        Codes with at least this many positives get their own F1-optimal threshold; rarer codes
        are shrunk toward the scheme-level threshold (see :mod:`training.threshold`).
    random_state : int or None
        Seed of the fold shuffle; a fixed int makes fitting deterministic.
    n_jobs : int or None
        Parallel jobs over (fold, code) fits, as in joblib.

    Attributes
    ----------
    classes_ : ndarray of shape (k,)
        Column indices ``0..k-1`` (multi-label) or the sorted class labels (single-label).
    multi_label_ : bool
        Whether ``y`` was a label-indicator array.
    estimators_ : list of estimators
        One fitted binary classifier per column, trained on all narratives.
    calibrators_ : list of Calibrator
        One calibrator per column, fitted on out-of-fold scores.
    thresholds_ : ndarray of shape (k,) or None
        Probability at or above which each code is selected (multi-label only).
    threshold_weights_ : ndarray of shape (k,) or None
        1 where a code has its own threshold, less where it was shrunk toward
        ``scheme_threshold_`` (multi-label only).
    scheme_threshold_ : float or None
        The scheme-level threshold (multi-label only).
    oof_proba_ : ndarray of shape (n, k)
        Calibrated out-of-fold probabilities of the training narratives.
    oof_metrics_ : SchemeEvaluation
        Out-of-fold precision, recall, F1 and calibration.
    n_features_in_ : int
        Number of features seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 4))
    >>> Y = np.column_stack([X[:, 0] > 0, X[:, 1] > 0.5]).astype(int)
    >>> head = SchemeClassifier(cv=3).fit(X, Y)
    >>> head.predict_proba(X[:2]).shape, head.predict(X[:2]).shape
    ((2, 2), (2, 2))
    """

    def __init__(
        self,
        estimator: Any = None,
        *,
        calibration: str = "sigmoid",
        cv: int = 5,
        min_positives: int = 20,
        random_state: int | None = 0,
        n_jobs: int | None = None,
    ) -> None:
        self.estimator = estimator
        self.calibration = calibration
        self.cv = cv
        self.min_positives = min_positives
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X: ArrayLike, y: ArrayLike) -> Self:
        """Fit the per-code classifiers, calibrators and thresholds.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n, d)
            Features of ``n`` narratives.
        y : array-like of shape (n, k) or (n,)
            Label indicators (multi-label) or class labels (single-label).

        Returns
        -------
        SchemeClassifier
            The fitted classifier.

        Raises
        ------
        InputError
            If ``X`` is empty or invalid, a code has no positive (or no negative) narrative,
            or a single-label ``y`` has only one class.
        """
        if self.calibration not in CALIBRATION_METHODS:
            raise InputError(
                f"calibration={self.calibration!r} is unknown; use one of {CALIBRATION_METHODS}"
            )
        checked: tuple[Any, Any] = _guarded(
            lambda: validate_data(self, X, y, accept_sparse="csr", multi_output=True)
        )
        features, target = checked
        _guarded(lambda: check_classification_targets(target))
        indicator = self._encode(target)
        folds = stratified_folds(indicator, self.cv, self.random_state)
        base = default_estimator() if self.estimator is None else self.estimator
        jobs = [(fold, j) for fold in range(len(folds)) for j in range(indicator.shape[1])]
        fitted = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_code)(base, features[folds[f][0]], indicator[folds[f][0], j])
            for f, j in jobs
        )
        scores = np.zeros(indicator.shape)
        for (f, j), model in zip(jobs, fitted, strict=True):
            test = folds[f][1]
            scores[test, j] = _score(model, features[test])
        self.calibrators_: list[Calibrator] = [
            fit_calibrator(scores[:, j], indicator[:, j], self.calibration)
            for j in range(indicator.shape[1])
        ]
        self.oof_proba_ = self._calibrate(scores)
        self.thresholds_: NDArray[np.float64] | None = None
        self.threshold_weights_: NDArray[np.float64] | None = None
        self.scheme_threshold_: float | None = None
        if self.multi_label_:
            learned = learn_thresholds(self.oof_proba_, indicator, self.min_positives)
            self.thresholds_ = learned.values
            self.threshold_weights_ = learned.weight
            self.scheme_threshold_ = learned.scheme
        self.estimators_ = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_code)(base, features, indicator[:, j]) for j in range(indicator.shape[1])
        )
        self.oof_metrics_: SchemeEvaluation = evaluate_codes(
            indicator,
            self._decide(self.oof_proba_),
            [str(c) for c in self.classes_],
            self.oof_proba_,
        )
        return self

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        """Return calibrated probabilities, shape (n, k), each in [0, 1].

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n, d)
            Features.

        Returns
        -------
        ndarray of shape (n, k)
            Per-code probabilities (multi-label) or class probabilities summing to 1
            (single-label), columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", reset=False)
        scores = np.column_stack([_score(model, X) for model in self.estimators_])
        return self._calibrate(scores)

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """Return decisions: an indicator array (multi-label) or one class per narrative.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n, d)
            Features.

        Returns
        -------
        ndarray of shape (n, k) or (n,)
            1 where a code's probability reaches its threshold (multi-label), or the most
            probable class (single-label).
        """
        decisions = self._decide(self.predict_proba(X))
        if self.multi_label_:
            return decisions
        return np.asarray(self.classes_[decisions.argmax(axis=1)])

    def __sklearn_tags__(self) -> Any:
        """Declare multi-label and sparse-input support to scikit-learn."""
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.input_tags.sparse = True
        return tags

    def _encode(self, y: Any) -> NDArray[np.int_]:
        """Turn ``y`` into a label-indicator array, setting ``classes_`` and ``multi_label_``."""
        if type_of_target(y) == "multilabel-indicator":
            indicator = np.asarray(y.toarray() if hasattr(y, "toarray") else y).astype(np.int64)
            positives = indicator.sum(axis=0)
            for j, count in enumerate(positives):
                if count == 0 or count == len(indicator):
                    which = "no positive" if count == 0 else "only positive"
                    raise InputError(
                        f"code column {j} has {which} narratives out of {len(indicator)}; "
                        "drop the code or label narratives both with and without it"
                    )
            self.classes_ = np.arange(indicator.shape[1])
            self.multi_label_ = True
            return indicator
        labels = column_or_1d(y, warn=True)
        self.classes_, encoded = np.unique(labels, return_inverse=True)
        if len(self.classes_) < 2:
            raise InputError(
                f"y has only one class ({self.classes_[0]!r}); a single-label scheme needs "
                "narratives of at least two classes"
            )
        self.multi_label_ = False
        return np.eye(len(self.classes_), dtype=np.int64)[encoded]

    def _calibrate(self, scores: NDArray[np.float64]) -> NDArray[np.float64]:
        proba = np.column_stack(
            [calibrator.predict(scores[:, j]) for j, calibrator in enumerate(self.calibrators_)]
        ).astype(np.float64)
        if self.multi_label_:
            return proba
        # One-vs-rest probabilities of exclusive classes are renormalised, as scikit-learn's
        # CalibratedClassifierCV does; a row of zeros becomes uniform.
        totals = proba.sum(axis=1, keepdims=True)
        uniform = np.full_like(proba, 1.0 / proba.shape[1])
        return np.where(totals > 0, proba / np.where(totals > 0, totals, 1.0), uniform)

    def _decide(self, proba: NDArray[np.float64]) -> NDArray[np.int64]:
        if self.multi_label_:
            assert self.thresholds_ is not None
            return (proba >= self.thresholds_).astype(np.int64)
        one_hot: NDArray[np.int64] = np.eye(proba.shape[1], dtype=np.int64)[proba.argmax(axis=1)]
        return one_hot


class _Constant:
    """Stands in for a classifier whose training fold holds only one class of a code."""

    def __init__(self, score: float) -> None:
        self.score = score

    def decision_function(self, X: Any) -> NDArray[np.float64]:
        return np.full(X.shape[0], self.score)


def _fit_code(base: Any, X: Any, y: NDArray[np.int_]) -> Any:
    """Fit a clone of ``base`` on one code, or a constant when the code does not vary."""
    positives = int(y.sum())
    if positives in (0, len(y)):
        return _Constant(float(logit((positives + 0.5) / (len(y) + 1.0))))
    return clone(base).fit(X, y)


def _score(model: Any, X: Any) -> NDArray[np.float64]:
    """Return one score per narrative, higher meaning the code more likely applies."""
    if hasattr(model, "decision_function"):
        return np.asarray(model.decision_function(X), dtype=np.float64)
    proba = np.clip(model.predict_proba(X)[:, 1], 1e-6, 1 - 1e-6)
    return np.asarray(logit(proba), dtype=np.float64)


def _guarded(call: Callable[[], _T]) -> _T:
    """Run a scikit-learn validation, re-raising its ValueError as an InputError."""
    try:
        return call()
    except InputError:
        raise
    except ValueError as error:
        raise InputError(str(error)) from error
