"""Bundles: writing, loading, integrity, taxonomy and embedder checks (hand-made heads)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from pipeline.bundle import (
    CARD_FILE,
    HEADS_ARRAYS,
    HEADS_PARAMS,
    METADATA_FILE,
    TAXONOMY_FILE,
    load_bundle,
    read_metadata,
    write_bundle,
)
from pipeline.bundle_metadata import (
    FORMAT_VERSION,
    BundleMetadata,
    EmbedderInfo,
    SchemeInfo,
    TaxonomyInfo,
    TrainingDataInfo,
    taxonomy_fingerprint,
)
from pipeline.errors import BundleError
from pipeline.head import LinearView, SchemeHead, Sigmoid
from pipeline.head_state import head_to_state
from pipeline.taxonomy import load_taxonomy
from tests.bundle_fixtures import fake_embedder


def _head() -> SchemeHead:
    view = LinearView(
        coef=np.array([[1.0] + [0.0] * 15, [0.0, 1.0] + [0.0] * 14]),
        intercept=np.zeros(2),
        calibrators=(Sigmoid(2.0, 0.0), Sigmoid(1.0, -0.5)),
    )
    return SchemeHead(
        scheme="cause",
        codes=("staffing", "it_design"),
        multi_label=True,
        views={"embedding": view},
        thresholds=np.array([0.5, 0.4]),
        n_positives=(5, 4),
        scheme_threshold=0.45,
    )


def _write(directory: Path, taxonomy_file: Path, tmp_path: Path, **kwargs: object) -> Path:
    taxonomy = load_taxonomy(taxonomy_file)
    embedder = fake_embedder(tmp_path)
    params, arrays = head_to_state(_head())
    meta = BundleMetadata(
        format_version=FORMAT_VERSION,
        name="test-bundle",
        created_at="2025-01-01T00:00:00+00:00",
        taxonomy=TaxonomyInfo(
            name=taxonomy.name,
            version=taxonomy.version,
            sha256="0" * 64,
            fingerprint=taxonomy_fingerprint(taxonomy),
        ),
        embedder=EmbedderInfo(
            model=embedder.spec.model,
            revision=embedder.spec.revision,
            identity=embedder.spec.identity,
            dim=16,
        ),
        libraries={"python": "3"},
        training_data=TrainingDataInfo(
            sha256="1" * 64, n_records=9, path_name="labelled.jsonl", synthetic=True
        ),
        seed=0,
        training={},
        schemes={
            "outcome": SchemeInfo(
                codes=["near_miss", "incident"],
                multi_label=False,
                text_view="full",
                n_records=3,
                n_positives={"near_miss": 2, "incident": 1},
                cold_start=True,
                cold_start_reason="only 3 labelled records",
            ),
            "cause": SchemeInfo(
                codes=["staffing", "it_design"],
                multi_label=True,
                text_view="full",
                n_records=9,
                n_positives={"staffing": 5, "it_design": 4},
                cold_start=False,
                features="embedding",
            ),
        },
    )
    heads_json = {"format_version": 1, "schemes": {"cause": params}}
    write_bundle(directory, arrays, heads_json, meta, taxonomy_file, "# card\n", **kwargs)  # type: ignore[arg-type]
    return directory


@pytest.fixture
def bundle_dir(tmp_path: Path, tiny_taxonomy_file: Path) -> Path:
    return _write(tmp_path / "bundle", tiny_taxonomy_file, tmp_path)


def test_round_trip(bundle_dir: Path, tiny_taxonomy_file: Path, tmp_path: Path) -> None:
    bundle = load_bundle(bundle_dir, load_taxonomy(tiny_taxonomy_file))
    assert bundle.name == "test-bundle"
    assert set(bundle.heads) == {"cause"}
    assert bundle.cold_start_schemes == ("outcome",)
    assert bundle.taxonomy.name == "tiny"
    assert bundle.embedder_spec is not None
    assert bundle.embedder_spec.identity == fake_embedder(tmp_path).spec.identity
    emb = np.eye(16)[:3]
    np.testing.assert_allclose(
        bundle.heads["cause"].predict_proba(["a", "b", "c"], emb),
        _head().predict_proba(["a", "b", "c"], emb),
    )
    files = {p.name for p in bundle_dir.iterdir()}
    assert files == {METADATA_FILE, HEADS_ARRAYS, HEADS_PARAMS, TAXONOMY_FILE, CARD_FILE}
    assert (bundle_dir / TAXONOMY_FILE).read_bytes() == tiny_taxonomy_file.read_bytes()
    assert set(read_metadata(bundle_dir).files) == files - {METADATA_FILE}


def test_heads_npz_loads_without_pickle_and_is_byte_reproducible(
    tmp_path: Path, tiny_taxonomy_file: Path
) -> None:
    first = _write(tmp_path / "a", tiny_taxonomy_file, tmp_path)
    second = _write(tmp_path / "b", tiny_taxonomy_file, tmp_path)
    for name in (HEADS_ARRAYS, HEADS_PARAMS):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    with np.load(first / HEADS_ARRAYS, allow_pickle=False) as archive:
        assert "cause/embedding/coef" in archive.files
    with zipfile.ZipFile(first / HEADS_ARRAYS) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


@pytest.mark.parametrize("name", [HEADS_ARRAYS, HEADS_PARAMS, TAXONOMY_FILE, CARD_FILE])
def test_an_altered_file_is_refused_by_name(bundle_dir: Path, name: str) -> None:
    with (bundle_dir / name).open("ab") as handle:
        handle.write(b"\n# tampered")
    with pytest.raises(BundleError, match=f"{name} does not match its recorded SHA-256"):
        load_bundle(bundle_dir)


def test_a_missing_file_is_refused(bundle_dir: Path) -> None:
    (bundle_dir / HEADS_PARAMS).unlink()
    with pytest.raises(BundleError, match=f"missing {HEADS_PARAMS}"):
        load_bundle(bundle_dir)


def test_no_bundle_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="No bundle at .*nearmiss train --out"):
        load_bundle(tmp_path / "nothing")


def test_damaged_metadata_is_refused(bundle_dir: Path) -> None:
    path = bundle_dir / METADATA_FILE
    data = json.loads(path.read_text())
    del data["taxonomy"]
    path.write_text(json.dumps(data))
    with pytest.raises(BundleError, match="field 'taxonomy'.*rebuild"):
        load_bundle(bundle_dir)
    data["taxonomy"] = {"name": "t", "version": 1, "sha256": "x", "fingerprint": "y"}
    data["format_version"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(BundleError, match="format 99"):
        load_bundle(bundle_dir)


def test_another_taxonomy_version_is_refused_with_the_fix(
    bundle_dir: Path, tiny_taxonomy_file: Path
) -> None:
    other = tiny_taxonomy_file.with_name("v3.yaml")
    other.write_text(tiny_taxonomy_file.read_text().replace("version: 2", "version: 3"))
    with pytest.raises(BundleError) as caught:
        load_bundle(bundle_dir, load_taxonomy(other))
    message = str(caught.value)
    assert "trained on tiny v2 but tiny v3 is loaded" in message
    assert "nearmiss train" in message and "NEARMISS_TAXONOMY" in message
    assert "\n" not in message


def test_an_edited_taxonomy_with_the_same_version_is_refused(
    bundle_dir: Path, tiny_taxonomy_file: Path
) -> None:
    edited = tiny_taxonomy_file.with_name("edited.yaml")
    edited.write_text(tiny_taxonomy_file.read_text().replace("Too few staff", "Not enough staff"))
    with pytest.raises(BundleError, match="different codes or definitions"):
        load_bundle(bundle_dir, load_taxonomy(edited))
    # Layout and comments do not matter.
    comments = tiny_taxonomy_file.with_name("comments.yaml")
    comments.write_text("# a comment\n" + tiny_taxonomy_file.read_text())
    load_bundle(bundle_dir, load_taxonomy(comments))


def test_a_different_embedding_model_is_refused(bundle_dir: Path, tmp_path: Path) -> None:
    model = tmp_path / "fake-model" / "config.json"
    model.write_text(model.read_text().replace("16", "17"))
    with pytest.raises(BundleError, match="trained with embedding model .*retrain"):
        load_bundle(bundle_dir)
    assert load_bundle(bundle_dir, check_embedder=False).embedder_spec is None


def test_head_codes_must_match_the_taxonomy(bundle_dir: Path, tmp_path: Path) -> None:
    data = json.loads((bundle_dir / HEADS_PARAMS).read_text())
    data["schemes"]["cause"]["codes"] = ["it_design", "staffing"]
    rewritten = tmp_path / "rewritten"
    with np.load(bundle_dir / HEADS_ARRAYS) as archive:
        arrays = {key: archive[key] for key in archive.files}
    meta = read_metadata(bundle_dir)
    write_bundle(rewritten, arrays, data, meta, bundle_dir / TAXONOMY_FILE, "# card\n")
    with pytest.raises(BundleError, match="has codes .* but the taxonomy has"):
        load_bundle(rewritten)


def test_write_refuses_a_non_empty_directory_unless_forced(
    bundle_dir: Path, tiny_taxonomy_file: Path, tmp_path: Path
) -> None:
    with pytest.raises(BundleError, match="not empty.*--force"):
        _write(bundle_dir, tiny_taxonomy_file, tmp_path)
    _write(bundle_dir, tiny_taxonomy_file, tmp_path, force=True)
    load_bundle(bundle_dir)
    assert not [p for p in bundle_dir.parent.iterdir() if p.name.startswith(".bundle-")]


def test_make_embedder_uses_the_bundles_model(bundle_dir: Path, tmp_path: Path) -> None:
    bundle = load_bundle(bundle_dir)
    embedder = bundle.make_embedder(cache_dir=tmp_path / "cache")
    assert embedder.spec.identity == read_metadata(bundle_dir).embedder.identity  # type: ignore[union-attr]
