"""Training bundles: export equals the fitted model, metadata, card, determinism, starter."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.bundle import CARD_FILE, HEADS_ARRAYS, HEADS_PARAMS, load_bundle, read_metadata
from pipeline.bundle_metadata import taxonomy_fingerprint
from pipeline.config import Settings
from pipeline.errors import BundleError, InputError
from pipeline.head_state import head_from_state, head_to_state
from pipeline.starter import (
    SAMPLE_DATA,
    STARTER_NAME,
    STARTER_TAXONOMY,
    ensure_starter_bundle,
    starter_staleness,
)
from pipeline.taxonomy import load_taxonomy
from tests.bundle_fixtures import fake_embedder, fake_model_dir, tiny_labelled, write_labelled
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


@pytest.mark.parametrize("features", ["tfidf", "embedding", "tfidf+embedding"])
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


def test_the_sentences_view_cannot_be_exported() -> None:
    texts, y = make_narratives(40, seed=3)
    corpus = Corpus(tuple(texts), sentence_features=np.random.default_rng(0).normal(size=(40, 4)))
    model = fit_scheme(corpus, y, CODES, multi_label=True, views=("sentences",), cv=2)
    with pytest.raises(InputError, match="cannot go into a bundle"):
        export_head(model, "cause", y=y, text_view="full", min_positives=20)


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
    assert set(cause.candidates) == {"tfidf", "embedding", "tfidf+embedding"}
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
        ({"views": ("sentences",)}, "must be one or more of"),
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


@pytest.fixture
def project(tmp_path: Path, tiny_taxonomy_file: Path) -> Settings:
    """A project root whose shipped sample and taxonomy are the tiny ones."""
    root = tmp_path / "project"
    write_labelled(root / SAMPLE_DATA, tiny_labelled(30))
    (root / STARTER_TAXONOMY).parent.mkdir(parents=True)
    (root / STARTER_TAXONOMY).write_bytes(tiny_taxonomy_file.read_bytes())
    return Settings(
        project_root=root,
        cache_dir=tmp_path / "cache",
        embedding_model=str(fake_model_dir(tmp_path)),
    )


def test_the_starter_is_built_on_first_use_then_reused(project: Settings, tmp_path: Path) -> None:
    embedder = fake_embedder(tmp_path)
    assert starter_staleness(project, embedder.spec) == "it is missing or unreadable"
    path = ensure_starter_bundle(project, embedder=embedder)
    assert path == project.project_root / "models" / STARTER_NAME
    assert read_metadata(path).name == STARTER_NAME
    assert starter_staleness(project, embedder.spec) is None
    assert starter_staleness(project) is None  # the settings' model is the same fake
    stamp = (path / HEADS_ARRAYS).stat().st_mtime_ns
    assert ensure_starter_bundle(project, embedder=embedder) == path
    assert (path / HEADS_ARRAYS).stat().st_mtime_ns == stamp
    card = (path / CARD_FILE).read_text()
    assert "Trained on synthetic data" in card


def test_the_starter_is_rebuilt_identically_when_its_sample_changes(
    project: Settings, tmp_path: Path
) -> None:
    embedder = fake_embedder(tmp_path)
    path = ensure_starter_bundle(project, embedder=embedder)
    heads = {name: (path / name).read_bytes() for name in (HEADS_ARRAYS, HEADS_PARAMS)}
    sample = project.project_root / SAMPLE_DATA
    sample.write_text(sample.read_text() + "\n")  # same records, new bytes
    assert starter_staleness(project, embedder.spec) == "the shipped sample changed"
    ensure_starter_bundle(project, embedder=embedder)
    assert starter_staleness(project, embedder.spec) is None
    for name, content in heads.items():
        assert (path / name).read_bytes() == content


def test_a_missing_sample_says_what_to_restore(project: Settings, tmp_path: Path) -> None:
    (project.project_root / SAMPLE_DATA).unlink()
    with pytest.raises(Exception, match="Cannot build the starter bundle: .* is missing"):
        ensure_starter_bundle(project, embedder=fake_embedder(tmp_path))
