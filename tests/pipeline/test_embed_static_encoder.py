"""The numpy static encoder: which folders it reads, that its vectors are sentence-transformers'
own, and that a cold run with the default static model imports neither torch nor
sentence-transformers.

Tiny static folders are written here with ``tokenizers`` and ``safetensors`` (no torch); the
comparisons with ``SentenceTransformer`` are slow (they import it), and those with the real
default model and the CLI are e2e (``make models`` builds the model).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import save_file
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

import pipeline.embed_static
from pipeline.embed import Embedder, EmbedderSpec, EmbeddingCache
from pipeline.embed_model import SentenceTransformerEncoder, StaticEncoder, load_encoder
from pipeline.embed_spec import MINILM_EMBEDDING_MODEL, STATIC_EMBEDDER_DIR
from pipeline.embed_static import is_static_folder
from pipeline.errors import EmbedderError
from tests.pipeline.test_embed import STATIC_MODULES

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "gp-near-miss-sample.jsonl"
WORDS = [
    *("the", "patient", "was", "given", "wrong", "dose", "of", "warfarin", "pharmacist"),
    *("queried", "it", "and", "rang", "gp", "receptionist", "noticed", "results", "filed"),
    *("to", "a", "different", "record", "before", "dispensing"),
]
SUBWORDS = ["##s", "##ed", "##ing", "##ly", ".", ",", "'", "-", "(", ")", "é"]
DIM = 24
# Texts the tiny vocabulary knows, partly knows, and does not know at all.
TINY_TEXTS = [
    "The pharmacist queried the dose.",
    "The receptionist noticed results filed to a different record, before dispensing.",
    "The patient's GP rang (twice) - the dose was queried.",
    "Wrong dosing of warfarin, noticed; queried.",
    "",
    "   \n\t ",
    "zzz qqq xylophone",  # only unknown tokens: the [UNK] row, which is zero
    "😀 🎉 日本語",
    "Café naïve résumé Ünïcödé",
    " ".join(WORDS * 400),  # about 9,600 tokens
]


def write_tiny_static(
    folder: Path,
    *,
    normalize: bool = True,
    truncation: int | None = None,
    seed: int = 0,
) -> Path:
    """Write a small static model folder as sentence-transformers saves one."""
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", *WORDS, *SUBWORDS]
    tokenizer = Tokenizer(
        models.WordPiece({t: i for i, t in enumerate(vocabulary)}, unk_token="[UNK]")
    )
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    if truncation is not None:
        tokenizer.enable_truncation(truncation)
    folder.mkdir(parents=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    weights = np.random.default_rng(seed).normal(size=(len(vocabulary), DIM)).astype(np.float32)
    weights[1] = 0.0  # [UNK]: unembedded, as training.distill leaves it
    save_file({"embedding.weight": weights}, str(folder / "model.safetensors"))
    modules = STATIC_MODULES if normalize else STATIC_MODULES[:1]
    (folder / "modules.json").write_text(json.dumps(modules))
    if normalize:
        (folder / "1_Normalize").mkdir()
        (folder / "1_Normalize" / "config.json").write_text(
            json.dumps({"module_input_name": "sentence_embedding"})
        )
    (folder / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": {"query": "", "document": ""}, "default_prompt_name": None})
    )
    return folder


@pytest.fixture(autouse=True)
def fresh_loader() -> Iterator[None]:
    load_encoder.cache_clear()
    yield
    load_encoder.cache_clear()


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_tiny_static(tmp_path / "tiny")


def reference_mean(folder: Path, texts: list[str], normalize: bool) -> np.ndarray:
    """Mean of token vectors in float64, from the files, independently of StaticEncoder."""
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    from safetensors.numpy import load_file

    weights = load_file(str(folder / "model.safetensors"))["embedding.weight"].astype(np.float64)
    rows = []
    for text in texts:
        ids = tokenizer.encode(text, add_special_tokens=False).ids
        vector = weights[ids].mean(axis=0) if ids else np.zeros(weights.shape[1])
        if normalize:
            vector = vector / max(float(np.linalg.norm(vector)), 1e-12)
        rows.append(vector)
    return np.stack(rows)


# --- which folders are static -----------------------------------------------------------------


def _edit_json(path: Path, change: Callable[[Any], Any]) -> None:
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


def _half_weights(folder: Path) -> None:
    from safetensors.numpy import load_file

    weights = load_file(str(folder / "model.safetensors"))["embedding.weight"]
    save_file({"embedding.weight": weights.astype(np.float16)}, str(folder / "model.safetensors"))


def _model2vec_weights(folder: Path) -> None:
    from safetensors.numpy import load_file

    weights = load_file(str(folder / "model.safetensors"))["embedding.weight"]
    save_file({"embeddings": weights}, str(folder / "model.safetensors"))


NOT_STATIC: dict[str, Callable[[Path], None]] = {
    "a third module": lambda f: _edit_json(
        f / "modules.json",
        lambda m: [*m, {"idx": 2, "name": "2", "path": "2_Dense", "type": m[0]["type"][:-15]}],
    ),
    "a Dense instead of Normalize": lambda f: _edit_json(
        f / "modules.json",
        lambda m: [m[0], {**m[1], "type": "sentence_transformers.base.modules.dense.Dense"}],
    ),
    "Normalize of token embeddings": lambda f: _edit_json(
        f / "1_Normalize" / "config.json", lambda c: {**c, "module_input_name": "token_embeddings"}
    ),
    "a class of another package": lambda f: _edit_json(
        f / "modules.json", lambda m: [{**m[0], "type": "mypkg.StaticEmbedding"}, m[1]]
    ),
    "a default prompt": lambda f: _edit_json(
        f / "config_sentence_transformers.json",
        lambda c: {"prompts": {"query": "query: "}, "default_prompt_name": "query"},
    ),
    "a truncated dimension": lambda f: _edit_json(
        f / "config_sentence_transformers.json", lambda c: {**c, "truncate_dim": 8}
    ),
    "float16 weights": _half_weights,
    "model2vec weights": _model2vec_weights,
    "no tokenizer.json": lambda f: (f / "tokenizer.json").unlink(),
    "no modules.json": lambda f: (f / "modules.json").unlink(),
}


def test_a_static_folder_is_recognised(tmp_path: Path) -> None:
    assert is_static_folder(write_tiny_static(tmp_path / "n"))
    assert is_static_folder(write_tiny_static(tmp_path / "u", normalize=False))
    (tmp_path / "n" / "config_sentence_transformers.json").unlink()  # optional
    (tmp_path / "n" / "1_Normalize" / "config.json").unlink()  # Normalize's defaults
    assert is_static_folder(tmp_path / "n")


@pytest.mark.parametrize("change", list(NOT_STATIC))
def test_anything_else_is_left_to_sentence_transformers(tiny: Path, change: str) -> None:
    NOT_STATIC[change](tiny)
    assert not is_static_folder(tiny)
    with pytest.raises(EmbedderError, match="not a static model"):
        StaticEncoder.load(tiny)


def test_minilm_is_not_static() -> None:
    assert not is_static_folder(EmbedderSpec.from_model(MINILM_EMBEDDING_MODEL).path)


def test_load_encoder_picks_numpy_for_static_and_sentence_transformers_otherwise(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Path, str | None]] = []
    monkeypatch.setattr(
        "pipeline.embed_model._load_sentence_transformer",
        lambda path, device: calls.append((path, device)) or "st",
    )
    encoder = load_encoder(tiny, "cpu")
    assert isinstance(encoder, StaticEncoder) and calls == []
    assert load_encoder(tiny, "cpu") is encoder  # once per process
    minilm = EmbedderSpec.from_model(MINILM_EMBEDDING_MODEL).path
    assert load_encoder(minilm, "cpu") == "st"
    NOT_STATIC["a default prompt"](tiny)
    other = tmp_path / "prompted"
    tiny.rename(other)
    assert load_encoder(other, None) == "st"
    assert calls == [(minilm, "cpu"), (other, None)]


# --- the encoder, against the files -----------------------------------------------------------


def test_the_encoder_states_what_the_embedder_checks(tmp_path: Path) -> None:
    encoder = StaticEncoder.load(write_tiny_static(tmp_path / "a"))
    assert (encoder.dim, encoder.max_seq_length, encoder.special_tokens) == (DIM, None, 0)
    truncating = StaticEncoder.load(write_tiny_static(tmp_path / "b", truncation=16))
    assert truncating.max_seq_length == 16
    text = "The pharmacist queried it."
    (spans,) = encoder.token_offsets([text])
    assert [text[a:b] for a, b in spans] == ["The", "pharmacist", "queried", "it", "."]


@pytest.mark.parametrize("normalize", [True, False])
def test_vectors_are_the_mean_of_token_vectors(tmp_path: Path, normalize: bool) -> None:
    folder = write_tiny_static(tmp_path / "m", normalize=normalize)
    encoder = StaticEncoder.load(folder)
    vectors = encoder.encode(TINY_TEXTS, 4, normalize_embeddings=False)
    assert vectors.shape == (len(TINY_TEXTS), DIM) and vectors.dtype == np.float32
    expected = reference_mean(folder, TINY_TEXTS, normalize)
    # float32 sums, one token after another (as torch's): ~1e-6 off over 9,600 tokens
    np.testing.assert_allclose(vectors, expected, atol=1e-5)
    zero = ~vectors.any(axis=1)
    np.testing.assert_array_equal(zero, ~expected.any(axis=1))
    for text in ("", "   \n\t ", "zzz qqq xylophone"):  # no tokens, or only the zero [UNK]
        assert zero[TINY_TEXTS.index(text)]
    unit = encoder.encode(TINY_TEXTS, 4, normalize_embeddings=True)
    assert not unit[zero].any()  # a zero vector stays zero, as torch's normalize leaves it
    np.testing.assert_allclose(np.linalg.norm(unit[~zero], axis=1), 1.0, rtol=1e-6)
    assert (~zero).sum() >= 5
    assert encoder.encode([], 4, normalize_embeddings=True).shape == (0, DIM)


def test_batches_and_token_chunks_change_no_bit(
    tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoder = StaticEncoder.load(tiny)
    whole = encoder.encode(TINY_TEXTS, 1024, normalize_embeddings=True)
    np.testing.assert_array_equal(encoder.encode(TINY_TEXTS, 1, normalize_embeddings=True), whole)
    monkeypatch.setattr(pipeline.embed_static, "TOKEN_CHUNK", 7)  # the long text: ~1,400 chunks
    np.testing.assert_array_equal(encoder.encode(TINY_TEXTS, 3, normalize_embeddings=True), whole)


def test_a_broken_folder_says_what_is_wrong(tiny: Path) -> None:
    (tiny / "tokenizer.json").write_text('{"version": "1.0", "model": 3}')
    with pytest.raises(EmbedderError, match="Could not read the tokenizer.*make models"):
        StaticEncoder.load(tiny)


def test_weights_must_cover_the_vocabulary(tiny: Path) -> None:
    save_file({"embedding.weight": np.zeros((5, DIM), np.float32)}, str(tiny / "model.safetensors"))
    with pytest.raises(EmbedderError, match=r"shape \(5, 24\) for a tokenizer of \d+ tokens"):
        StaticEncoder.load(tiny)


def test_the_embedder_runs_the_static_encoder_without_torch(tiny: Path, tmp_path: Path) -> None:
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from pipeline.embed import Embedder, EmbedderSpec, EmbeddingCache\n"
        "spec = EmbedderSpec.from_model(sys.argv[1])\n"
        "embedder = Embedder(spec, EmbeddingCache(Path(sys.argv[2])))\n"
        "vectors = embedder.encode(json.loads(sys.argv[3]))\n"
        "names = ('torch', 'sentence_transformers', 'transformers')\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "print(json.dumps({'heavy': heavy, 'computed': embedder.last_stats.computed,\n"
        "                  'vectors': vectors.tolist()}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tiny), str(tmp_path / "cache"), json.dumps(TINY_TEXTS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(done.stdout)
    assert result["heavy"] == []
    assert result["computed"] == len(TINY_TEXTS)
    expected = StaticEncoder.load(tiny).encode(TINY_TEXTS, 32, normalize_embeddings=True)
    np.testing.assert_array_equal(np.asarray(result["vectors"], dtype=np.float32), expected)


# --- the same vectors as sentence-transformers (slow: imports it) ------------------------------


def sentence_transformer(folder: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device="cpu", local_files_only=True)


def assert_same_as_sentence_transformers(folder: Path, texts: list[str]) -> None:
    model = sentence_transformer(folder)
    theirs = SentenceTransformerEncoder(model)
    ours = StaticEncoder.load(folder)
    assert (ours.dim, ours.max_seq_length, ours.special_tokens) == (
        theirs.dim,
        theirs.max_seq_length,
        theirs.special_tokens,
    )
    assert ours.token_offsets(texts) == theirs.token_offsets(texts)
    for normalize in (True, False):
        expected = model.encode(
            texts, batch_size=32, normalize_embeddings=normalize, show_progress_bar=False
        )
        got = ours.encode(texts, 1024, normalize_embeddings=normalize)
        assert got.shape == expected.shape and got.dtype == np.float32
        assert float(np.abs(got - expected).max()) < 1e-5
        assert [not row.any() for row in got] == [not row.any() for row in expected]


@pytest.mark.slow
@pytest.mark.parametrize(
    "variant",
    [{}, {"normalize": False}, {"truncation": 6}],
    ids=["normalize", "no-normalize", "truncation"],
)
def test_tiny_models_give_sentence_transformers_vectors(
    tmp_path: Path, variant: dict[str, Any]
) -> None:
    assert_same_as_sentence_transformers(write_tiny_static(tmp_path / "m", **variant), TINY_TEXTS)


# --- the real default model and the CLI (e2e: `make models` builds the model) ----------------


def varied_texts() -> list[str]:
    """The shipped sample's narratives and awkward texts: long, empty, emoji, unknown tokens."""
    texts = [json.loads(line)["text"] for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    return [
        *texts,
        "",
        " ",
        "\n\t\r",
        "\u200b\u200b",  # zero-width spaces: no token at all
        "😀🎉🙈",
        "🏥 ✓ → ± µg ≥ 5",
        "日本語のテキストと한국어",
        "Ünïcödé café naïve résumé",
        "x" * 5000,  # one word far longer than any vocabulary entry
        " ".join(texts[:60]) * 4,  # tens of thousands of tokens
        "[CLS] [SEP] [UNK] [PAD] [MASK]",
    ]


@pytest.mark.e2e
def test_the_default_model_gives_sentence_transformers_vectors() -> None:
    folder = (ROOT / STATIC_EMBEDDER_DIR).resolve()
    assert is_static_folder(folder)
    texts = varied_texts()
    assert len(texts) > 300
    assert_same_as_sentence_transformers(folder, texts)


@pytest.mark.e2e
def test_load_encoder_keeps_sentence_transformers_for_minilm() -> None:
    assert isinstance(load_encoder((ROOT / STATIC_EMBEDDER_DIR).resolve()), StaticEncoder)
    minilm = load_encoder(EmbedderSpec.from_model(MINILM_EMBEDDING_MODEL).path, "cpu")
    assert isinstance(minilm, SentenceTransformerEncoder)
    assert (minilm.dim, minilm.max_seq_length, minilm.special_tokens) == (384, 256, 2)


@pytest.mark.e2e
def test_the_default_models_identity_is_unchanged(tmp_path: Path) -> None:
    # Vectors cached under the default model's identity stay valid: the spec never looks at
    # which encoder will compute them, and a warm run loads neither.
    spec = EmbedderSpec.from_model()
    assert "window=unbounded" in spec.identity and ";st=6" in spec.identity
    embedder = Embedder(spec, EmbeddingCache(tmp_path))
    first = embedder.encode(["The pharmacist queried the dose."])
    again = Embedder(EmbedderSpec.from_model(), EmbeddingCache(tmp_path))
    np.testing.assert_array_equal(again.encode(["The pharmacist queried the dose."]), first)
    assert again.last_stats.cached == 1 and again._encoder is None


# spaCy's thinc imports torch when it is installed, whatever the pipeline; nearmiss's blank
# pipelines never use it. The script imports thinc without torch first, so that what is measured
# is nearmiss's own code: a cold suggest must then import neither torch nor sentence-transformers.
COLD_SUGGEST = """
import json, sys
sys.modules["torch"] = None
import thinc.compat
del sys.modules["torch"]
from pipeline.cli import app
try:
    app(sys.argv[2:], prog_name="nearmiss")
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules)
with open(sys.argv[1], "w", encoding="utf-8") as out:
    json.dump({"code": code, "heavy": heavy}, out)
"""


@pytest.mark.e2e
def test_a_cold_suggest_with_the_static_model_imports_neither_torch_nor_st(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEARMISS_")}
    env["NEARMISS_CACHE_DIR"] = str(tmp_path / "cache")  # empty: every vector is computed
    report, output = tmp_path / "report.json", tmp_path / "suggestions.jsonl"
    command = ["suggest", "--input", str(SAMPLE), "--output", str(output), "--json"]
    done = subprocess.run(
        [sys.executable, "-c", COLD_SUGGEST, str(report), *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    result = json.loads(report.read_text(encoding="utf-8"))
    assert result == {"code": 0, "heavy": []}, done.stderr[-2000:]
    lines = output.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(SAMPLE.read_text(encoding="utf-8").splitlines())
    assert any((tmp_path / "cache").rglob("*")), "the embedding cache was not filled"
