"""Naive-Bayes-weighted logistic regression (NBSVM-style): the classifier of the ``nb_tfidf`` view.

Each feature is scaled by its log-count ratio for the code, ``r = log((p / |p|_1) / (q / |q|_1))``,
where ``p`` (``q``) counts the positive (negative) narratives the feature occurs in, plus
``alpha``; a logistic regression is then fitted on ``x * r`` (Wang and Manning, 2012). The ratio
is learned in :meth:`NBLogisticRegression.fit` from the rows it is given, so inside
cross-validation each fold's ratio comes from that fold's training rows only.

``(x * r) @ w == x @ (w * r)``, so the fitted model is an ordinary linear model over the
unweighted features: ``coef_`` is ``w * r`` and a bundle stores it like any other linear head.

Examples
--------
>>> import numpy as np
>>> X = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
>>> model = NBLogisticRegression().fit(X, [1, 1, 0, 0])
>>> model.ratio_.round(3).tolist()
[1.099, -1.099]
>>> model.predict(X).tolist()
[1, 1, 0, 0]
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from pipeline.errors import InputError

__all__ = ["NBLogisticRegression"]


class NBLogisticRegression(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Binary logistic regression on features weighted by their Naive-Bayes log-count ratio.

    Parameters
    ----------
    alpha : float
        Smoothing count added to every feature's positive and negative occurrence counts.
    C : float
        Inverse L2 regularisation strength of the logistic regression (balanced classes,
        liblinear), as in :class:`sklearn.linear_model.LogisticRegression`.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The two class labels; the second is the positive class.
    ratio_ : ndarray of shape (d,)
        Each feature's log-count ratio, from the rows ``fit`` saw (a feature occurs in a row
        when its value is positive).
    coef_ : ndarray of shape (1, d)
        Weights over the unweighted features: the regression's weights times ``ratio_``.
    intercept_ : ndarray of shape (1,)
        The regression's intercept.
    n_features_in_ : int
        Number of features seen in ``fit``.
    """

    def __init__(self, *, alpha: float = 1.0, C: float = 4.0) -> None:
        self.alpha = alpha
        self.C = C

    def fit(self, X: ArrayLike, y: ArrayLike) -> Self:
        """Learn the log-count ratios from ``X`` and ``y``, then the weights.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n, d)
            Features (non-negative counts or TF-IDF weights; a feature occurs where positive).
        y : array-like of shape (n,)
            Two class labels.

        Returns
        -------
        NBLogisticRegression
            The fitted model.

        Raises
        ------
        InputError
            If ``y`` has other than two classes or ``alpha`` is not positive.
        """
        checked: tuple[Any, Any] = validate_data(self, X, y, accept_sparse="csr")
        features, target = checked
        check_classification_targets(target)
        self.classes_ = np.unique(target)
        if len(self.classes_) != 2:
            raise InputError(
                "Only binary classification is supported. NBLogisticRegression got "
                f"{len(self.classes_)} classes in y; fit one per code (one-vs-rest)"
            )
        if not self.alpha > 0:
            raise InputError(f"alpha={self.alpha!r} must be positive (it smooths the counts)")
        positive = np.asarray(target == self.classes_[1])
        present = (features > 0).astype(np.float64)
        p = self.alpha + np.asarray(present[positive].sum(axis=0), dtype=np.float64).ravel()
        q = self.alpha + np.asarray(present[~positive].sum(axis=0), dtype=np.float64).ravel()
        self.ratio_: NDArray[np.float64] = np.log(p / p.sum()) - np.log(q / q.sum())
        if sparse.issparse(features):
            weighted = features.multiply(self.ratio_).tocsr()
        else:
            weighted = features * self.ratio_
        regression = LogisticRegression(C=self.C, class_weight="balanced", solver="liblinear")
        regression.fit(weighted, target)
        self.coef_: NDArray[np.float64] = regression.coef_ * self.ratio_
        self.intercept_: NDArray[np.float64] = np.asarray(regression.intercept_, dtype=np.float64)
        return self

    def decision_function(self, X: ArrayLike) -> NDArray[np.float64]:
        """Return the score of the positive class, shape (n,): ``X @ coef_[0] + intercept_``."""
        check_is_fitted(self)
        features: Any = validate_data(self, X, accept_sparse="csr", reset=False)
        scores = np.asarray(features @ self.coef_[0], dtype=np.float64).ravel()
        return np.asarray(scores + self.intercept_[0], dtype=np.float64)

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """Return the more likely class of each row."""
        check_is_fitted(self)
        return np.asarray(self.classes_[(self.decision_function(X) > 0).astype(np.intp)])

    def __sklearn_tags__(self) -> Any:
        """Declare sparse input and binary-only targets to scikit-learn."""
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.classifier_tags.multi_class = False
        return tags
