"""The NB-weighted TF-IDF view: its estimator, per-fold ratios, choice, export and old bundles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from pipeline.bundle import HEADS_ARRAYS, HEADS_PARAMS, load_bundle, read_metadata
from pipeline.errors import InputError
from pipeline.head import HEAD_VIEWS
from pipeline.record import Record
from pipeline.suggest import Suggester
from pipeline.taxonomy import load_taxonomy
from tests.bundle_fixtures import fake_embedder, tiny_labelled, write_labelled
from tests.pipeline.suggest_fixtures import fake_encoder
from training.bundle import train_bundle
from training.features import Corpus, make_vectorizer
from training.folds import stratified_folds
from training.head import SchemeClassifier
from training.nb_logistic import NBLogisticRegression
from training.scheme import fit_scheme

from .conftest import CODES, make_narratives


@parametrize_with_checks([NBLogisticRegression()])
def test_scikit_learn_contract(estimator, check):
    check(estimator)


def _ratio(X: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    """The log-count ratio written out: occurrence counts in positives and negatives."""
    present = (X > 0).astype(float)
    p = alpha + present[y == 1].sum(axis=0)
    q = alpha + present[y == 0].sum(axis=0)
    return np.log(p / p.sum()) - np.log(q / q.sum())


def test_ratio_and_weights_are_an_nb_weighted_logistic_regression():
    texts, y = make_narratives(80, seed=1)
    X = make_vectorizer().fit_transform(texts)
    model = NBLogisticRegression(alpha=0.5, C=2.0).fit(X, y[:, 0])
    ratio = _ratio(X.toarray(), y[:, 0], 0.5)
    np.testing.assert_allclose(model.ratio_, ratio, rtol=0, atol=1e-12)
    # A term of the code's keywords is weighted up, a term of another code's down.
    vocabulary = make_vectorizer().fit(texts).vocabulary_
    assert model.ratio_[vocabulary["locum"]] > 1 > 0 > model.ratio_[vocabulary["dropdown"]]
    # LR on X * r, refitted here, has the decision function of coef_ over X itself.
    weighted = X.multiply(ratio).tocsr()
    reference = LogisticRegression(C=2.0, class_weight="balanced", solver="liblinear")
    reference.fit(weighted, y[:, 0])
    probe = make_vectorizer().fit(texts).transform(make_narratives(30, seed=8)[0])
    np.testing.assert_allclose(
        model.decision_function(probe),
        reference.decision_function(probe.multiply(ratio).tocsr()),
        rtol=0,
        atol=1e-9,
    )
    # Dense input gives the same model as sparse.
    dense = NBLogisticRegression(alpha=0.5, C=2.0).fit(X.toarray(), y[:, 0])
    np.testing.assert_allclose(dense.coef_, model.coef_, rtol=0, atol=1e-9)


def test_bad_input_is_refused():
    X = sparse.csr_matrix(np.eye(4))
    with pytest.raises(InputError, match="got 3 classes in y"):
        NBLogisticRegression().fit(X, [0, 1, 2, 0])
    with pytest.raises(InputError, match="alpha=0.0 must be positive"):
        NBLogisticRegression(alpha=0.0).fit(X, [0, 1, 1, 0])


def test_each_fold_learns_its_ratio_from_its_training_rows_only():
    texts, y = make_narratives(120, seed=3)
    X = make_vectorizer().fit_transform(texts)
    head = SchemeClassifier(NBLogisticRegression(), cv=4, random_state=0).fit(X, y)
    folds = stratified_folds(y, 4, 0)
    honest = np.zeros(y.shape)
    leaky = np.zeros(y.shape)
    for train, held in folds:
        for j in range(y.shape[1]):
            fold_model = NBLogisticRegression().fit(X[train], y[train, j])
            np.testing.assert_allclose(
                fold_model.ratio_, _ratio(X[train].toarray(), y[train, j], 1.0), atol=1e-12
            )
            honest[held, j] = fold_model.decision_function(X[held])
            # Changing every held-out row's label does not move the fold's ratio...
            flipped = y[:, j].copy()
            flipped[held] = 1 - flipped[held]
            again = NBLogisticRegression().fit(X[train], flipped[train])
            np.testing.assert_array_equal(again.ratio_, fold_model.ratio_)
            # ...whereas a ratio over all rows (held-out labels included) would differ.
            ratio_all = _ratio(X.toarray(), y[:, j], 1.0)
            assert np.abs(ratio_all - fold_model.ratio_).max() > 0.05
            inner = LogisticRegression(C=4.0, class_weight="balanced", solver="liblinear")
            inner.fit(X[train].multiply(ratio_all).tocsr(), y[train, j])
            leaky[held, j] = inner.decision_function(X[held].multiply(ratio_all).tocsr())
    calibrated = np.column_stack([c.predict(honest[:, j]) for j, c in enumerate(head.calibrators_)])
    np.testing.assert_allclose(head.oof_proba_, calibrated, rtol=0, atol=1e-9)
    assert np.abs(leaky - honest).max() > 1e-3
    # The final model's ratio is learned from every training row.
    for j, estimator in enumerate(head.estimators_):
        np.testing.assert_allclose(estimator.ratio_, _ratio(X.toarray(), y[:, j], 1.0))


def test_the_view_is_chosen_only_when_its_out_of_fold_score_is_higher():
    chosen = []
    for seed in range(4):  # data on which the view wins, and data (seed 3) on which it loses
        texts, y = make_narratives(120, seed=seed)
        corpus = Corpus(tuple(texts))
        without = fit_scheme(corpus, y, CODES, multi_label=True, views=("tfidf",), cv=3)
        model = fit_scheme(corpus, y, CODES, multi_label=True, cv=3)
        assert list(model.candidates) == ["tfidf", "nb_tfidf", "tfidf+nb_tfidf"]
        # Adding the view leaves the other candidate's out-of-fold scores as they were.
        assert model.candidates["tfidf"] == without.candidates["tfidf"]
        nb = [model.candidates[name] for name in ("nb_tfidf", "tfidf+nb_tfidf")]
        best_nb = max(nb, key=lambda c: c.macro_f1)  # the first of equals: fewer views
        if best_nb.macro_f1 > without.candidates["tfidf"].macro_f1:
            assert model.features == best_nb.features
        else:
            assert model.features == "tfidf"
        chosen.append(model.features)
    assert "tfidf" in chosen and "nb_tfidf" in chosen


def test_ties_go_to_the_candidate_without_the_view():
    # Every code is given away by its own word, so every candidate scores 1.0.
    texts = [f"the {word} was noted on the day" for word in ("locum", "dropdown", "handover")] * 30
    y = np.repeat(np.eye(3, dtype=np.int64)[None], 30, axis=0).reshape(90, 3)
    model = fit_scheme(Corpus(tuple(texts)), y, CODES, multi_label=True, cv=3)
    assert {c.macro_f1 for c in model.candidates.values()} == {1.0}
    assert model.features == "tfidf"


def _train(tmp_path: Path, taxonomy: Path, out: str, **kw: object) -> Path:
    labelled = write_labelled(tmp_path / "labelled.jsonl", tiny_labelled(40))
    embedder = fake_embedder(tmp_path)
    return train_bundle(labelled, taxonomy, tmp_path / out, embedder=embedder, **kw)  # type: ignore[arg-type]


def test_an_nb_tfidf_bundle_is_deterministic_and_predicts_as_fitted(
    tmp_path: Path, tiny_taxonomy_file: Path
) -> None:
    first = _train(tmp_path, tiny_taxonomy_file, "first", views=("nb_tfidf",))
    second = _train(tmp_path, tiny_taxonomy_file, "second", views=("nb_tfidf",), name="first")
    for name in (HEADS_ARRAYS, HEADS_PARAMS):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    params = json.loads((first / HEADS_PARAMS).read_text())["schemes"]["cause"]
    assert params["views"] == ["nb_tfidf"] and params["tfidf"]["vocabulary"]
    meta = read_metadata(first)
    assert meta.schemes["cause"].features == "nb_tfidf"
    assert meta.training["nb_tfidf_estimator"] == {"C": 4.0, "alpha": 1.0}
    head = load_bundle(first, load_taxonomy(tiny_taxonomy_file)).heads["cause"]
    assert head.uses_tfidf and not head.uses_embeddings
    assert head.predict_proba(["a locum covered the rota", "the dropdown alert"]).shape == (2, 2)


def test_a_bundle_without_the_view_still_loads_and_suggests(
    tmp_path: Path, tiny_taxonomy_file: Path
) -> None:
    # What nearmiss wrote before nb_tfidf existed: these three views, the same format.
    out = _train(tmp_path, tiny_taxonomy_file, "old", views=HEAD_VIEWS[:3])
    heads = (out / HEADS_PARAMS).read_text()
    assert "nb_tfidf" not in heads and "nb_tfidf" not in read_metadata(out).training["views"]
    bundle = load_bundle(out, load_taxonomy(tiny_taxonomy_file))
    assert set(bundle.heads) == {"outcome", "cause"}
    assert all("nb_tfidf" not in head.views for head in bundle.heads.values())
    texts = [r["text"] for r in tiny_labelled(5, seed=7)]
    suggester = Suggester.load(out, encoder=fake_encoder(), cache_dir=tmp_path / "cache")
    results = suggester.suggest([Record(id=f"p{i}", text=t) for i, t in enumerate(texts)])
    assert [set(r.to_dict()["suggestions"]) for r in results] == [{"outcome", "cause"}] * 5


def test_the_suggester_scores_an_nb_tfidf_head_as_the_head_does(
    tmp_path: Path, tiny_taxonomy_file: Path
) -> None:
    out = _train(tmp_path, tiny_taxonomy_file, "nb", views=("tfidf", "nb_tfidf"))
    texts = [r["text"] for r in tiny_labelled(6, seed=5)]
    suggester = Suggester.load(out, encoder=fake_encoder(), cache_dir=tmp_path / "cache")
    head = load_bundle(out, load_taxonomy(tiny_taxonomy_file)).heads["cause"]
    scorer = suggester.scorers["cause"]
    assert scorer.head is not None and scorer.head.features == head.features
    # The suggester's heads share one vectorizer between schemes; scores are unchanged.
    assert scorer.head.vectorizer is not head.vectorizer
    np.testing.assert_allclose(
        scorer.head.predict_proba(texts), head.predict_proba(texts), rtol=0, atol=1e-12
    )
