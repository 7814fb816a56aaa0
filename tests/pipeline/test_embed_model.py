"""The real models: packaged all-MiniLM-L6-v2 (offline load, windows, cache, imports) and the
default static model built by ``make models`` (slow: e2e)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline.embed import Embedder, EmbedderSpec, EmbeddingCache
from pipeline.embed_model import SentenceTransformerEncoder, StaticEncoder, load_encoder
from pipeline.embed_spec import MINILM_EMBEDDING_MODEL, STATIC_EMBEDDER_DIR

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]

SHORT = [
    "The pharmacist queried the warfarin dose before dispensing.",
    "A receptionist noticed the results were filed to the wrong patient.",
]
# A synthetic SEA, well over 256 tokens, whose last sentence tells the recovery.
BODY = " ".join(
    f"On day {i} the repeat prescription for the patient was reissued from the old template "
    "without a medication review, and the dose on the hospital discharge letter was not "
    "compared with the dose on the practice record."
    for i in range(1, 9)
)
RECOVERED_BY_PHARMACIST = BODY + " The community pharmacist queried the dose and rang the GP."
RECOVERED_BY_DAUGHTER = BODY + " The patient's daughter noticed the tablets looked different."


@pytest.fixture(scope="session")
def minilm() -> SentenceTransformerEncoder:
    return load_encoder(EmbedderSpec.from_model(MINILM_EMBEDDING_MODEL).path)


@pytest.fixture
def embedder(tmp_path: Path, minilm: SentenceTransformerEncoder) -> Embedder:
    return Embedder(EmbedderSpec.from_model(MINILM_EMBEDDING_MODEL), EmbeddingCache(tmp_path))


def bare(minilm: SentenceTransformerEncoder, texts: list[str]) -> np.ndarray:
    return minilm.model.encode(texts, batch_size=8, normalize_embeddings=True)


def test_the_packaged_model_loads_offline(minilm: SentenceTransformerEncoder) -> None:
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert (minilm.dim, minilm.max_seq_length, minilm.special_tokens) == (384, 256, 2)


def test_short_texts_get_the_models_own_vectors(
    embedder: Embedder, minilm: SentenceTransformerEncoder
) -> None:
    ours = embedder.encode(SHORT)
    assert ours.shape == (2, 384) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, bare(minilm, SHORT), atol=1e-6)


def test_a_long_texts_ending_changes_its_vector(
    embedder: Embedder, minilm: SentenceTransformerEncoder
) -> None:
    texts = [RECOVERED_BY_PHARMACIST, RECOVERED_BY_DAUGHTER]
    truncated = bare(minilm, texts)
    assert float(truncated[0] @ truncated[1]) > 0.9999  # bare encode never sees the ending
    ours = embedder.encode(texts)
    assert float(ours[0] @ ours[1]) < 0.999
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, rtol=1e-5)


def test_every_window_fits_the_model(
    embedder: Embedder, minilm: SentenceTransformerEncoder
) -> None:
    (windows,) = embedder.windows([RECOVERED_BY_DAUGHTER])
    assert len(windows) >= 2
    assert windows[-1].endswith("looked different.")
    lengths = [len(ids) for ids in minilm.model.tokenizer(windows)["input_ids"]]
    assert max(lengths) <= 256


def test_cache_hits_and_misses_are_counted(embedder: Embedder) -> None:
    texts = [*SHORT, RECOVERED_BY_PHARMACIST]
    first = embedder.encode(texts)
    assert (embedder.last_stats.cached, embedder.last_stats.computed) == (0, 3)
    assert embedder.last_stats.windows > 3
    second = embedder.encode([*texts, "Something new happened."])
    assert (embedder.last_stats.cached, embedder.last_stats.computed) == (3, 1)
    np.testing.assert_array_equal(first, second[:3])


def test_a_changed_model_identity_reuses_nothing(embedder: Embedder) -> None:
    embedder.encode(SHORT)
    changed = Embedder(dataclasses.replace(embedder.spec, revision="f" * 64), embedder.cache)
    changed.encode(SHORT)
    assert (changed.last_stats.cached, changed.last_stats.computed) == (0, 2)


def test_the_default_static_model_embeds_whole_texts(tmp_path: Path) -> None:
    spec = EmbedderSpec.from_model()  # built by `make models` under the checkout
    assert spec.path == (ROOT / STATIC_EMBEDDER_DIR).resolve()
    assert (spec.window_tokens, spec.dim) == (None, 256)
    static = load_encoder(spec.path)
    assert isinstance(static, StaticEncoder)  # read with numpy: no torch
    assert (static.max_seq_length, static.special_tokens, static.dim) == (None, 0, 256)
    embedder = Embedder(spec, EmbeddingCache(tmp_path))
    texts = [*SHORT, RECOVERED_BY_PHARMACIST, RECOVERED_BY_DAUGHTER]
    ours = embedder.encode(texts)
    assert embedder.last_stats.windows == len(texts)  # one window each: nothing is cut
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(spec.path), device="cpu", local_files_only=True)
    np.testing.assert_allclose(ours, model.encode(texts, batch_size=8), atol=1e-6)
    assert float(ours[2] @ ours[3]) < 0.999  # the endings of long texts count
    assert embedder.windows(texts) == [[text] for text in texts]


RUN = """
import json, socket, sys
def refuse(*args, **kwargs):
    raise OSError("network used")
socket.socket.connect = refuse
socket.create_connection = refuse
from pipeline.embed import Embedder
embedder = Embedder.from_settings()
vectors = embedder.encode(json.loads(sys.argv[1]))
stats = embedder.last_stats
print(json.dumps({"torch": "torch" in sys.modules, "cached": stats.cached,
                  "computed": stats.computed, "vectors": vectors.tolist()}))
"""


def run(texts: list[str], cache_dir: Path, model: str | None) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEARMISS_", "HF_"))}
    env["NEARMISS_CACHE_DIR"] = str(cache_dir)
    if model is not None:
        env["NEARMISS_EMBEDDING_MODEL"] = model
    done = subprocess.run(
        [sys.executable, "-c", RUN, json.dumps(texts)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("model", [None, MINILM_EMBEDDING_MODEL], ids=["default", "minilm"])
def test_a_cold_run_uses_no_network_and_a_warm_run_no_torch(
    tmp_path: Path, model: str | None
) -> None:
    texts = [*SHORT, RECOVERED_BY_DAUGHTER]
    cold = run(texts, tmp_path, model)
    # Only MiniLM needs torch; the default static model is read with numpy.
    assert (cold["torch"], cold["cached"], cold["computed"]) == (model is not None, 0, 3)
    warm = run(texts, tmp_path, model)
    assert (warm["torch"], warm["cached"], warm["computed"]) == (False, 3, 0)
    assert warm["vectors"] == cold["vectors"]
