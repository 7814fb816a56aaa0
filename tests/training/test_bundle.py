"""Training bundles: export equals the fitted model, metadata, card, determinism.

The starter bundle's tests are in ``test_starter.py``.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.bundle import CARD_FILE, HEADS_ARRAYS, HEADS_PARAMS, load_bundle, read_metadata
from pipeline.bundle_metadata import taxonomy_fingerprint
from pipeline.errors import BundleError, InputError
from pipeline.head import ColdStartHead, pool_sentence_vectors
from pipeline.head_state import head_from_state, head_to_state
from pipeline.scorer import SchemeScorer
from pipeline.taxonomy import load_taxonomy
from tests.bundle_fixtures import fake_embedder, tiny_labelled, write_labelled
from tests.training.conftest import CODES, FakeEmbedder, make_narratives
from training.bundle import train_bundle
from training.export import export_head
from training.features import Corpus
from training.scheme import SchemeModel, fit_scheme


def _corpus(texts: list[str]) -> Corpus:
    return Corpus(tuple(texts), embeddings=FakeEmbedder().encode(texts))


@pytest.fixture(scope="module")
def multi_label_model() -> tuple[SchemeModel, Corpus, np.ndarray]:
    texts, y = make_narratives(90, seed=4)
    corpus = _corpus(texts)
    return fit_scheme(corpus, y, CODES, multi_label=True, cv=3, random_state=0), corpus, y


@pytest.mark.parametrize(
    "features",
    ["tfidf", "embedding", "tfidf+embedding", "nb_tfidf", "tfidf+nb_tfidf", "embedding+nb_tfidf"],
)
def test_exported_multi_label_head_equals_the_model(
    multi_label_model: tuple[SchemeModel, Corpus, np.ndarray], features: str
) -> None:
    fitted, corpus, y = multi_label_model
    model = dataclasses.replace(fitted, features=features)
    head = export_head(model, "cause", y=y, text_view="full", min_positives=20)
    params, arrays = head_to_state(head)
    head = head_from_state("cause", json.loads(json.dumps(params)), arrays)
    probe_texts, _ = make_narratives(30, seed=9)
    probe = _corpus(probe_texts)
    for data in (corpus, probe):
        expected = model.predict_proba(data)
        proba = head.predict_proba(data.texts, data.embeddings)
        np.testing.assert_allclose(proba, expected, rtol=0, atol=1e-9)
        assert (head.decide(proba) == model.predict(data).astype(bool)).all()
    assert head.features == features
    assert head.n_positives == tuple(int(n) for n in y.sum(axis=0))


@pytest.mark.parametrize("calibration", ["sigmoid", "isotonic"])
def test_exported_single_label_head_equals_the_model(calibration: str) -> None:
    texts, y = make_narratives(80, seed=2)
    labels = np.eye(3, dtype=np.int64)[y[:, 0] + 2 * (y[:, 0] == 0) * y[:, 1]]
    corpus = _corpus(texts)
    model = fit_scheme(
        corpus, labels, CODES, multi_label=False, cv=3, calibration=calibration, random_state=1
    )
    for features in model.candidates:
        variant = dataclasses.replace(model, features=features)
        head = export_head(variant, "outcome", y=labels, text_view="full", min_positives=20)
        params, arrays = head_to_state(head)
        head = head_from_state("outcome", json.loads(json.dumps(params)), arrays)
        proba = head.predict_proba(corpus.texts, corpus.embeddings)
        np.testing.assert_allclose(proba, variant.predict_proba(corpus), rtol=0, atol=1e-9)
        assert (head.decide(proba) == variant.predict(corpus).astype(bool)).all()
        assert head.thresholds is None


def _sentence_corpus(texts: list[str]) -> Corpus:
    """Texts, their embeddings and their sentences' vectors pooled as a bundle pools them."""
    embedder = FakeEmbedder()
    groups = [[s for s in text.split(". ") if s] for text in texts]
    vectors = embedder.encode([s for group in groups for s in group])
    bounds = np.cumsum([0, *(len(group) for group in groups)])
    return Corpus(
        tuple(texts),
        embeddings=embedder.encode(texts),
        sentence_features=pool_sentence_vectors(vectors, bounds),
    )


@pytest.mark.parametrize("multi_label", [True, False])
def test_exported_sentences_view_equals_the_model(multi_label: bool) -> None:
    texts, y = make_narratives(90, seed=5)
    labels = y if multi_label else np.eye(3, dtype=np.int64)[y[:, 0] + 2 * (y[:, 0] == 0) * y[:, 1]]
    corpus = _sentence_corpus(texts)
    model = fit_scheme(corpus, labels, CODES, multi_label=multi_label, cv=3, random_state=0)
    assert {"sentences", "tfidf+sentences", "tfidf+embedding+sentences"} <= set(model.candidates)
    probe = _sentence_corpus(make_narratives(30, seed=9)[0])
    for features in model.candidates:
        variant = dataclasses.replace(model, features=features)
        head = export_head(variant, "cause", y=labels, text_view="full", min_positives=20)
        params, arrays = head_to_state(head)
        head = head_from_state("cause", json.loads(json.dumps(params)), arrays)
        assert head.features == features
        assert head.uses_sentences == ("sentences" in features)
        for data in (corpus, probe):
            proba = head.predict_proba(data.texts, data.embeddings, data.sentence_features)
            np.testing.assert_allclose(proba, variant.predict_proba(data), rtol=0, atol=1e-9)
            assert (head.decide(proba) == variant.predict(data).astype(bool)).all()


def test_a_sentences_head_needs_pooled_sentence_vectors() -> None:
    texts, y = make_narratives(40, seed=3)
    corpus = _sentence_corpus(texts)
    model = fit_scheme(corpus, y, CODES, multi_label=True, views=("sentences",), cv=2)
    head = export_head(model, "cause", y=y, text_view="full", min_positives=20)
    with pytest.raises(InputError, match="uses pooled sentence vectors"):
        head.predict_proba(corpus.texts, corpus.embeddings)
    assert corpus.embeddings is not None
    with pytest.raises(InputError, match="pooled sentence vectors of shape"):
        head.predict_proba(corpus.texts, corpus.embeddings, corpus.embeddings)


def test_the_scorer_pools_sentences_as_training_does() -> None:
    texts, y = make_narratives(60, seed=6)
    groups = [[s for s in text.split(". ") if s] for text in texts]
    groups[0] = []  # a narrative with no sentence in its view pools to zeros, in both places
    embedder = FakeEmbedder()
    vectors = embedder.encode([s for group in groups for s in group])
    bounds = np.cumsum([0, *(len(group) for group in groups)])
    corpus = Corpus(tuple(texts), sentence_features=pool_sentence_vectors(vectors, bounds))
    model = fit_scheme(corpus, y, CODES, multi_label=True, views=("sentences",), cv=3)
    head = export_head(model, "cause", y=y, text_view="full", min_positives=20)
    cold = ColdStartHead("cause", CODES, True, np.eye(len(CODES), embedder.dim))
    scorer = SchemeScorer(cold, head)
    split = [vectors[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    sentences = [s for group in groups for s in group]
    proba, sentence_proba = scorer.score(texts, None, sentences, vectors, bounds.tolist())
    w = scorer.weights
    expected = w * model.predict_proba(corpus) + (1 - w) * cold.predict_proba(split)
    np.testing.assert_allclose(proba, expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(scorer.proba(texts, None, split), expected, rtol=0, atol=1e-9)
    # A sentence scored alone is a narrative whose one sentence is that sentence.
    alone = Corpus(tuple(sentences), sentence_features=np.hstack([vectors, vectors]))
    expected = w * model.predict_proba(alone) + (1 - w) * cold.sentence_proba(vectors)
    np.testing.assert_allclose(sentence_proba, expected, rtol=0, atol=1e-9)


@pytest.fixture
def labelled(tmp_path: Path) -> Path:
    return write_labelled(tmp_path / "labelled.jsonl", tiny_labelled(40))


def _train(
    tmp_path: Path, labelled: Path, taxonomy: Path, out: str = "bundle", **kw: object
) -> Path:
    return train_bundle(labelled, taxonomy, tmp_path / out, embedder=fake_embedder(tmp_path), **kw)  # type: ignore[arg-type]


def test_train_writes_a_loadable_bundle_with_full_metadata(
    tmp_path: Path, labelled: Path, tiny_taxonomy_file: Path
) -> None:
    out = _train(tmp_path, labelled, tiny_taxonomy_file)
    taxonomy = load_taxonomy(tiny_taxonomy_file)
    bundle = load_bundle(out, taxonomy)
    assert set(bundle.heads) == {"outcome", "cause"} and bundle.cold_start_schemes == ()
    meta = read_metadata(out)
    assert meta.name == "bundle"
    assert (meta.taxonomy.name, meta.taxonomy.version) == ("tiny", 2)
    assert meta.taxonomy.fingerprint == taxonomy_fingerprint(taxonomy)
    assert meta.training_data.n_records == 40 and meta.training_data.synthetic
    assert meta.training_data.path_name == "labelled.jsonl"
    assert meta.embedder is not None
    assert meta.embedder.identity == fake_embedder(tmp_path).spec.identity
    assert meta.embedder.dim == 16
    assert {"python", "numpy", "scikit-learn", "sentence-transformers", "spacy"} <= set(
        meta.libraries
    )
    assert meta.seed == 0 and meta.training["cv"] == 5
    cause = meta.schemes["cause"]
    assert not cause.cold_start and cause.text_view == "full"
    assert cause.features in cause.candidates
    assert set(cause.candidates) == {
        "+".join(views)
        for size in (1, 2, 3, 4)
        for views in itertools.combinations(("tfidf", "embedding", "sentences", "nb_tfidf"), size)
    }
    assert cause.thresholds is not None and set(cause.thresholds) == {"staffing", "it_design"}
    assert cause.cv_metrics is not None
    assert {"micro", "macro", "codes", "calibration"} <= set(cause.cv_metrics)
    assert cause.n_positives == {"staffing": 20, "it_design": 20}
    assert meta.schemes["outcome"].thresholds is None


def test_the_bundle_learns_only_redacted_text(
    tmp_path: Path, labelled: Path, tiny_taxonomy_file: Path
) -> None:
    out = _train(tmp_path, labelled, tiny_taxonomy_file)
    heads = (out / HEADS_PARAMS).read_text().lower()
    assert "jones" not in heads and "900123" not in heads


def test_training_twice_gives_identical_head_bytes(
    tmp_path: Path, labelled: Path, tiny_taxonomy_file: Path
) -> None:
    first = _train(tmp_path, labelled, tiny_taxonomy_file, "first")
    second = _train(tmp_path, labelled, tiny_taxonomy_file, "second", name="first")
    for name in (HEADS_ARRAYS, HEADS_PARAMS):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    third = _train(tmp_path, labelled, tiny_taxonomy_file, "third", seed=1)
    assert (third / HEADS_PARAMS).read_bytes() != (first / HEADS_PARAMS).read_bytes()


def test_an_existing_bundle_is_kept_unless_forced(
    tmp_path: Path, labelled: Path, tiny_taxonomy_file: Path
) -> None:
    out = _train(tmp_path, labelled, tiny_taxonomy_file)
    before = (out / HEADS_ARRAYS).read_bytes()
    with pytest.raises(BundleError, match="not empty.*--force"):
        _train(tmp_path, labelled, tiny_taxonomy_file)
    assert (out / HEADS_ARRAYS).read_bytes() == before
    _train(tmp_path, labelled, tiny_taxonomy_file, force=True, seed=3)
    load_bundle(out)


def test_a_scheme_with_too_few_labels_is_cold_start_and_says_so(
    tmp_path: Path, tiny_taxonomy_file: Path
) -> None:
    records = tiny_labelled(30)
    for record in records[6:]:
        del record["codes"]["cause"]
    labelled = write_labelled(tmp_path / "few.jsonl", records)
    out = _train(tmp_path, labelled, tiny_taxonomy_file)
    meta = read_metadata(out)
    assert meta.schemes["cause"].cold_start
    assert meta.schemes["cause"].cold_start_reason == (
        "only 6 labelled records; training needs at least 10"
    )
    bundle = load_bundle(out)
    assert bundle.cold_start_schemes == ("cause",) and set(bundle.heads) == {"outcome"}
    assert meta.embedder is not None  # cold start reads embeddings
    card = (out / CARD_FILE).read_text()
    assert "`cause` is scored from its code definitions and examples only" in card


def test_the_card_of_synthetic_and_real_data(
    tmp_path: Path, labelled: Path, tiny_taxonomy_file: Path
) -> None:
    card = (_train(tmp_path, labelled, tiny_taxonomy_file) / CARD_FILE).read_text()
    assert "Trained on synthetic data" in card
    assert "Unvalidated on real GP narratives" in card
    assert "not calibrated for local data" in card
    real = _train(tmp_path, labelled, tiny_taxonomy_file, "real", synthetic=False)
    card = (real / CARD_FILE).read_text()
    assert "Personal data" in card and "synthetic data" not in card


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"views": ("chars",)}, "must be one or more of"),
        ({"text_views": {"cause": "changes"}}, "text views .* are unknown"),
    ],
)
def test_bad_options_are_refused(
    tmp_path: Path,
    labelled: Path,
    tiny_taxonomy_file: Path,
    kwargs: dict[str, object],
    message: str,
) -> None:
    with pytest.raises(InputError, match=message):
        _train(tmp_path, labelled, tiny_taxonomy_file, **kwargs)
