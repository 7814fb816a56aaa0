from __future__ import annotations

import itertools

import numpy as np
import pytest

from pipeline.errors import InputError
from training.features import Corpus
from training.scheme import fit_scheme

from .conftest import CODES


def test_every_view_combination_is_measured_and_the_best_chosen(corpus, labels):
    model = fit_scheme(corpus, labels, CODES, multi_label=True, cv=3)
    views = ("tfidf", "embedding", "sentences", "nb_tfidf")
    assert list(model.candidates) == [
        "+".join(members) for size in range(1, 5) for members in itertools.combinations(views, size)
    ]
    assert len(model.candidates) == 15 and list(model.candidates)[3] == "nb_tfidf"
    best = max(c.macro_f1 for c in model.candidates.values())
    assert model.candidates[model.features].macro_f1 == best
    assert model.oof_metrics.macro.f1 == pytest.approx(best)
    assert set(model.heads) == set(views)
    for candidate in model.candidates.values():
        assert candidate.thresholds is not None and len(candidate.thresholds) == 3
        assert candidate.to_dict()["features"] == candidate.features


def test_predict_any_candidate(corpus, labels):
    model = fit_scheme(corpus, labels, CODES, multi_label=True, cv=3)
    test = corpus.take(range(10))
    proba = model.predict_proba(test)
    assert proba.shape == (10, 3) and ((proba >= 0) & (proba <= 1)).all()
    assert model.predict(test).shape == (10, 3)
    fused = model.predict_proba(test, "tfidf+embedding")
    single = [model.predict_proba(test, view) for view in ("tfidf", "embedding")]
    np.testing.assert_allclose(fused, np.mean(single, axis=0))
    with pytest.raises(InputError, match="no candidate"):
        model.predict(test, "words")


def test_tfidf_only_corpus_and_determinism(narratives, labels):
    texts, _ = narratives
    corpus = Corpus(tuple(texts))
    first = fit_scheme(corpus, labels, CODES, multi_label=True, cv=3)
    second = fit_scheme(corpus, labels, CODES, multi_label=True, cv=3)
    assert list(first.candidates) == ["tfidf", "nb_tfidf", "tfidf+nb_tfidf"]
    assert first.candidates == second.candidates and first.features == second.features
    # Both TF-IDF views read the one vectorizer.
    assert first.heads["nb_tfidf"].n_features_in_ == len(first.vectorizer.vocabulary_)


def test_single_label_scheme(corpus, labels):
    y = np.eye(3, dtype=int)[np.argmax(labels * [3, 2, 1], axis=1)]
    model = fit_scheme(corpus, y, CODES, multi_label=False, views=["tfidf", "embedding"], cv=3)
    proba = model.predict_proba(corpus)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    decisions = model.predict(corpus)
    assert (decisions.sum(axis=1) == 1).all()
    assert all(c.thresholds is None for c in model.candidates.values())


def test_code_without_positives_is_named(corpus, labels):
    labels[:, 1] = 0
    with pytest.raises(InputError, match="code 'it_design' has no positive"):
        fit_scheme(corpus, labels, CODES, multi_label=True)


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (np.zeros((5, 3)), "expected"),
        (np.full((150, 3), 2), "only 0 and 1"),
        (np.ones((150, 3)), "exactly one code"),
    ],
)
def test_bad_labels(corpus, y, message):
    with pytest.raises(InputError, match=message):
        fit_scheme(corpus, y, CODES, multi_label=False)


def test_model_survives_a_joblib_round_trip(corpus, labels, tmp_path):
    import joblib

    model = fit_scheme(corpus, labels, CODES, multi_label=True, views=["tfidf", "embedding"], cv=3)
    joblib.dump(model, tmp_path / "classifier.joblib")
    loaded = joblib.load(tmp_path / "classifier.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(corpus), model.predict_proba(corpus))
    assert loaded.features == model.features
