from __future__ import annotations

import numpy as np
import pytest

from pipeline.errors import InputError
from training.folds import stratified_folds


def test_every_narrative_is_tested_once_and_rare_codes_spread():
    rng = np.random.default_rng(0)
    y = (rng.random((103, 3)) < [0.5, 0.2, 0.0]).astype(int)
    y[:10, 2] = 1  # a rare code: 10 positives over 5 folds
    folds = stratified_folds(y, 5, random_state=0)
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == list(range(103))
    assert [int(y[test, 2].sum()) for _, test in folds] == [2, 2, 2, 2, 2]
    for train, test in folds:
        assert not set(train) & set(test)


def test_fixed_seed_gives_same_folds_and_tiny_data_still_splits():
    y = np.array([[1, 0], [0, 1], [1, 1], [0, 0], [1, 0]])
    first = stratified_folds(y, 5, random_state=7)
    second = stratified_folds(y, 5, random_state=7)
    assert [t.tolist() for _, t in first] == [t.tolist() for _, t in second]
    assert len(stratified_folds(y[:3], 5, random_state=0)) == 3


def test_too_few_narratives_or_folds():
    with pytest.raises(InputError, match="1 sample"):
        stratified_folds(np.array([[1]]), 5, random_state=0)
    with pytest.raises(InputError, match="at least 2"):
        stratified_folds(np.array([[1], [0]]), 1, random_state=0)
