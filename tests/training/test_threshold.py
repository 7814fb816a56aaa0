from __future__ import annotations

import numpy as np
import pytest

from pipeline.errors import InputError
from training.threshold import best_f1_threshold, learn_thresholds


def test_best_threshold_hand_example():
    # Ranked: 0.9 (1), 0.7 (0), 0.6 (1), 0.2 (0). Top 3 gives F1 = 2*2 / (2+3) = 0.8; top 1 gives
    # 2*1 / (2+1) = 0.667; top 2 gives 0.5. The cut is halfway between 0.6 and 0.2.
    proba = np.array([0.2, 0.9, 0.6, 0.7])
    y = np.array([0, 1, 1, 0])
    threshold, f1 = best_f1_threshold(proba, y)
    assert threshold == pytest.approx(0.4)
    assert f1 == pytest.approx(0.8)
    assert ((proba >= threshold) == np.array([0, 1, 1, 1])).all()


def test_ties_are_never_split():
    proba = np.array([0.8, 0.5, 0.5, 0.1])
    y = np.array([1, 1, 0, 0])
    threshold, f1 = best_f1_threshold(proba, y)
    # Cutting inside the tie is impossible: top 1 (F1 2/3) or top 3 (F1 0.8).
    assert f1 == pytest.approx(0.8)
    assert threshold == pytest.approx(0.3)


def test_selecting_everything_uses_the_lowest_score():
    threshold, f1 = best_f1_threshold(np.array([0.3, 0.2]), np.array([1, 1]))
    assert (threshold, f1) == (0.2, 1.0)


def test_no_positive_raises():
    with pytest.raises(InputError, match="no positive"):
        best_f1_threshold(np.array([0.3, 0.2]), np.array([0, 0]))


def test_learn_thresholds_shrinks_by_positive_count():
    rng = np.random.default_rng(0)
    y = np.zeros((100, 2), dtype=np.int64)
    y[:40, 0] = 1
    y[:5, 1] = 1
    proba = np.clip(0.5 * y + rng.random((100, 2)) * 0.6, 0, 1)
    learned = learn_thresholds(proba, y, min_positives=10)
    assert learned.positives.tolist() == [40, 5]
    assert learned.weight.tolist() == [1.0, 0.5]
    assert learned.values[0] == learned.own[0]
    assert learned.values[1] == pytest.approx(0.5 * learned.own[1] + 0.5 * learned.scheme)


def test_learn_thresholds_shape_mismatch():
    with pytest.raises(InputError, match="shape"):
        learn_thresholds(np.zeros((3, 2)), np.zeros((3, 1), dtype=int), 5)
