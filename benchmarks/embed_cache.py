"""Embedding benchmark: bare MiniLM ``SentenceTransformer.encode`` against our default embedder.

Reads the ``text`` field of the first ``--limit`` lines of a JSONL file (pass the path; the data
stays where it is) and prints, from one run:

* bare: ``SentenceTransformer.encode`` with the packaged all-MiniLM-L6-v2 (which truncates at its
  256-token window, as sentence-transformers does): the baseline;
* ours, cold: :meth:`pipeline.embed.Embedder.encode` with the default embedder
  (``minilm-static-256``, or ``--model``) and an empty cache (keys, lookups, encoding whole
  texts, cache writes);
* ours, warm: the same texts again, every vector cached (a new embedder, as a re-run builds);
* ours, warm, new process: a fresh interpreter embedding the same texts from the cache
  (imports, the model's content hash, lookups; torch must not be imported);
* with ``--with-minilm``, the same three rows for our embedder over MiniLM (long texts as
  mean-pooled windows, so no text is truncated);
* the ratios cold/bare and warm/bare (targets: <= 1.10 and <= 0.10), and the tokens each side
  embedded: truncation skips the ends of long texts, which our embedders read.

The models are loaded and warmed up before the timings (load times are printed apart); bare and
cold alternate ``--repeats`` times and the best of each is kept; the cache is a temporary folder.

    .venv/bin/python benchmarks/embed_cache.py --data /path/to/safenet.jsonl --limit 1000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.config import get_settings
from pipeline.embed import DEFAULT_BATCH_SIZE, Embedder, EmbedderSpec, EmbeddingCache
from pipeline.embed_model import TextEncoder, load_encoder
from pipeline.embed_spec import DEFAULT_EMBEDDING_MODEL, MINILM_EMBEDDING_MODEL

ROOT = Path(__file__).resolve().parent.parent

WARM_PROCESS = """
import json, sys, time
started = time.perf_counter()
from pipeline.embed import Embedder, EmbedderSpec, EmbeddingCache
from pathlib import Path
texts = [json.loads(line)["text"] for line in open(sys.argv[1], encoding="utf-8")]
spec = EmbedderSpec.from_model(sys.argv[2], overlap_tokens=int(sys.argv[4]))
embedder = Embedder(spec, EmbeddingCache(Path(sys.argv[3])))
vectors = embedder.encode(texts)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "torch": "torch" in sys.modules, "rows": len(vectors),
                  "cached": embedder.last_stats.cached}))
"""


@dataclass
class Ours:
    """One of our embedders under test and its measurements."""

    spec: EmbedderSpec
    encoder: TextEncoder
    load_s: float
    cold_runs: list[float]
    windows: int = 0
    tokens: int = 0
    warm_s: float = 0.0
    process: dict[str, object] | None = None
    vectors: np.ndarray | None = None


def read_texts(path: Path, limit: int) -> list[str]:
    texts = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                texts.append(json.loads(line)["text"])
            if len(texts) == limit:
                break
    return texts


def timed(function, *args):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


def token_count(encoder: TextEncoder, texts: list[str]) -> int:
    """Tokens the model embeds for these (already windowed) texts, special tokens included."""
    spans = encoder.token_offsets(texts)
    return sum(len(s) for s in spans) + encoder.special_tokens * len(texts)


def cold(ours: Ours, texts: list[str], cache_dir: Path, batch_size: int) -> None:
    embedder = Embedder(ours.spec, EmbeddingCache(cache_dir), batch_size=batch_size, device="cpu")
    embedder._encoder = ours.encoder  # loaded above: time the pipeline, not the loading
    seconds, ours.vectors = timed(embedder.encode, texts)
    ours.cold_runs.append(seconds)
    ours.windows = embedder.last_stats.windows


def warm(ours: Ours, texts: list[str], cache_dir: Path, overlap: int, tmp: Path) -> np.ndarray:
    def again() -> np.ndarray:
        fresh = EmbedderSpec.from_model(ours.spec.model, overlap_tokens=overlap)
        return Embedder(fresh, EmbeddingCache(cache_dir)).encode(texts)

    ours.warm_s, vectors = timed(again)
    subset = tmp / "texts.jsonl"
    subset.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", WARM_PROCESS, str(subset), ours.spec.model, str(cache_dir)]
        + [str(overlap)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    ours.process = json.loads(done.stdout)
    return vectors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="JSONL with a 'text' field")
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument(
        "--model",
        default=get_settings().embedding_model,
        help=f"our embedder (default: the settings', normally {DEFAULT_EMBEDDING_MODEL})",
    )
    parser.add_argument(
        "--with-minilm", action="store_true", help="also time our embedder over MiniLM (windowed)"
    )
    parser.add_argument("--overlap", type=int, default=0, help="window overlap in tokens")
    parser.add_argument("--repeats", type=int, default=1, help="alternate bare/cold N times")
    parser.add_argument(
        "--only-short",
        action="store_true",
        help="keep only texts that fit in MiniLM's window (bare then truncates nothing)",
    )
    args = parser.parse_args()

    started = time.perf_counter()
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    import_s = time.perf_counter() - started
    hf_logging.disable_progress_bar()
    minilm_spec = EmbedderSpec.from_model(MINILM_EMBEDDING_MODEL, overlap_tokens=args.overlap)
    bare_load_s, bare_model = timed(
        lambda: SentenceTransformer(str(minilm_spec.path), local_files_only=True, device="cpu")
    )
    specs = [EmbedderSpec.from_model(args.model, overlap_tokens=args.overlap)]
    if args.with_minilm and specs[0].model != MINILM_EMBEDDING_MODEL:
        specs.append(minilm_spec)
    ours_list = []
    for spec in specs:
        load_s, encoder = timed(load_encoder, spec.path, "cpu")
        ours_list.append(Ours(spec, encoder, load_s, []))
    minilm_encoder = load_encoder(minilm_spec.path, "cpu")

    candidates = read_texts(args.data, 10**9 if args.only_short else args.limit)
    if args.only_short:
        window = minilm_spec.window_tokens or 0
        fits = [len(s) + 2 <= window for s in minilm_encoder.token_offsets(candidates)]
        candidates = [t for t, ok in zip(candidates, fits, strict=True) if ok]
    texts = candidates[: args.limit]

    warmup = ["A warm-up sentence that is not in the corpus."] * 8
    bare_model.encode(warmup, batch_size=8, show_progress_bar=False)
    for ours in ours_list:
        ours.encoder.encode(warmup, 8, True)

    def bare() -> np.ndarray:
        return bare_model.encode(
            texts,
            batch_size=args.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )

    bare_runs: list[float] = []
    with tempfile.TemporaryDirectory(prefix="nearmiss-bench-") as tmp:
        for repeat in range(args.repeats):
            bare_runs.append(timed(bare)[0])
            for index, ours in enumerate(ours_list):
                cold(ours, texts, Path(tmp) / f"cache{index}-{repeat}", args.batch_size)
        for index, ours in enumerate(ours_list):
            cache_dir = Path(tmp) / f"cache{index}-{args.repeats - 1}"
            warm_vectors = warm(ours, texts, cache_dir, args.overlap, Path(tmp))
            assert np.array_equal(warm_vectors, ours.vectors)
            embedder = Embedder(ours.spec, None, encoder=ours.encoder)
            ours.tokens = token_count(
                ours.encoder, [w for ws in embedder.windows(texts) for w in ws]
            )

    window = minilm_spec.window_tokens or 0
    lengths = [len(s) + 2 for s in minilm_encoder.token_offsets(texts)]
    bare_tokens = sum(min(n, window) for n in lengths)
    bare_s = min(bare_runs)
    n = len(texts)
    short = f" that fit in MiniLM's {window} tokens" if args.only_short else ""
    print(f"data: {args.data} ({n} texts{short}, batch size {args.batch_size})")
    print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")
    print(
        f"torch threads: {torch.get_num_threads()}; import sentence-transformers {import_s:.1f} s;"
        f" load (not in the timings below): bare MiniLM {bare_load_s:.2f} s, "
        + ", ".join(f"{o.spec.model} {o.load_s:.2f} s" for o in ours_list)
    )
    print(
        f"texts over MiniLM's {window} tokens: {sum(x > window for x in lengths) / n:.1%}; "
        f"tokens embedded: bare MiniLM {bare_tokens} (truncated)"
    )
    for ours in ours_list:
        kind = "whole texts" if ours.spec.is_unbounded else f"{ours.windows} windows"
        print(
            f"  ours with {ours.spec.model}: {ours.tokens} tokens ({kind}; "
            f"x{ours.tokens / bare_tokens:.2f} bare's)"
        )
    if args.repeats > 1:
        print(f"bare runs: {', '.join(f'{s:.2f}' for s in bare_runs)} s")
        for ours in ours_list:
            runs = ", ".join(f"{s:.2f}" for s in ours.cold_runs)
            print(f"cold runs, {ours.spec.model}: {runs} s")
    print(f"{'':44}{'seconds':>9}{'texts/s':>10}{'vs bare':>9}")
    rows = [(f"bare MiniLM encode ({MINILM_EMBEDDING_MODEL})", bare_s)]
    for ours in ours_list:
        assert ours.process is not None
        rows += [
            (f"ours, {ours.spec.model}, cold cache", min(ours.cold_runs)),
            (f"ours, {ours.spec.model}, warm cache", ours.warm_s),
            (f"ours, {ours.spec.model}, warm, new process", float(ours.process["seconds"])),  # type: ignore[arg-type]
        ]
    for name, seconds in rows:
        print(f"{name:44}{seconds:9.3f}{n / seconds:10.1f}{seconds / bare_s:9.4f}")
    for ours in ours_list:
        assert ours.process is not None
        cold_s = min(ours.cold_runs)
        print(
            f"{ours.spec.model}: cold/bare = {cold_s / bare_s:.4f} (target <= 1.10); "
            f"warm/bare = {ours.warm_s / bare_s:.4f} (target <= 0.10); new process: "
            f"{ours.process['cached']}/{n} cached, imported torch: {ours.process['torch']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
