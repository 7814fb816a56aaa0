"""Cross-validation folds that keep every code's narratives spread across folds.

Multi-label data cannot be stratified on the label set itself (most combinations are rare).
Each narrative is stratified instead on its rarest code, which keeps rare codes in every fold
(a cheap stand-in for iterative stratification); narratives with no code form their own stratum.
Strata too small to reach every fold are pooled.

Examples
--------
>>> import numpy as np
>>> y = np.array([[1, 0]] * 6 + [[0, 1]] * 4)
>>> folds = stratified_folds(y, n_splits=2, random_state=0)
>>> [int(y[test, 1].sum()) for _, test in folds]
[2, 2]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from sklearn.model_selection import StratifiedKFold

from pipeline.errors import InputError

__all__ = ["stratified_folds"]


def stratified_folds(
    y: NDArray[np.int_], n_splits: int, random_state: int | None
) -> list[tuple[NDArray[np.intp], NDArray[np.intp]]]:
    """Split narratives into shuffled folds stratified on each narrative's rarest code.

    Parameters
    ----------
    y : ndarray of shape (n, k)
        Label indicators (one-hot for a single-label scheme).
    n_splits : int
        Number of folds wanted; reduced to ``n`` when there are fewer narratives.
    random_state : int or None
        Seed of the shuffle; a fixed int gives the same folds every time.

    Returns
    -------
    list of tuple of (ndarray, ndarray)
        ``(train_indices, test_indices)`` for each fold; every narrative is in exactly one test
        fold.

    Raises
    ------
    InputError
        If there are fewer than 2 narratives (1 sample cannot be cross-validated) or
        ``n_splits`` < 2.
    """
    n, k = y.shape
    if n_splits < 2:
        raise InputError(f"cv={n_splits} folds is too few; use at least 2")
    if n < 2:
        raise InputError(f"got {n} sample(s); cross-validation needs at least 2 narratives")
    n_splits = min(n_splits, n)
    positives = y.astype(bool)
    counts = positives.sum(axis=0)
    rarest = np.where(positives, counts, np.iinfo(np.int64).max).argmin(axis=1)
    strata = np.where(positives.any(axis=1), rarest, k)
    sizes = np.bincount(strata, minlength=k + 1)
    small = sizes[strata] < n_splits
    if small.any():
        # Pool the small strata; if the pool is still too small, fold it into the largest.
        strata[small] = k + 1
        if small.sum() < n_splits:
            strata[small] = np.bincount(strata[~small]).argmax() if (~small).any() else 0
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    return list(splitter.split(np.zeros((n, 1)), strata))
