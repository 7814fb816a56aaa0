"""Embedding benchmark: bare ``SentenceTransformer.encode`` against our cold and warm cache.

Reads the ``text`` field of the first ``--limit`` lines of a JSONL file (pass the path; the data
stays where it is) and prints, from one run:

* bare: ``SentenceTransformer.encode`` of the texts (truncated at the model's window, as
  sentence-transformers does);
* cold: :meth:`pipeline.embed.Embedder.encode` with an empty cache (keys, lookups,
  tokenization, windowing so that no text is truncated, encoding, pooling, cache writes);
* warm: the same texts again, every vector cached (a new embedder, as a re-run would build);
* warm, new process: a fresh interpreter embedding the same texts from the cache (imports,
  the model's content hash, lookups; torch must not be imported);
* the ratios cold/bare and warm/bare (targets: <= 1.10 and <= 0.10), and the tokens each side
  embedded, since windows cost compute that truncation skips; ``--only-short`` keeps texts that
  fit in one window, where the ratio is the pipeline's own overhead.

Both models are loaded and warmed up before the timings; the cache is a temporary directory.

    .venv/bin/python benchmarks/embed_cache.py --data /path/to/safenet.jsonl --limit 1000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pipeline.embed import DEFAULT_BATCH_SIZE, Embedder, EmbedderSpec, EmbeddingCache
from pipeline.embed_model import load_encoder
from pipeline.embed_spec import DEFAULT_EMBEDDING_MODEL

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
print(json.dumps({"seconds": seconds, "torch": "torch" in sys.modules, "rows": len(vectors)}))
"""


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="JSONL with a 'text' field")
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--model", default=DEFAULT_EMBEDDING_MODEL)
    parser.add_argument("--overlap", type=int, default=0, help="window overlap in tokens")
    parser.add_argument("--repeats", type=int, default=1, help="alternate bare/cold N times")
    parser.add_argument(
        "--only-short",
        action="store_true",
        help="keep only texts that fit in one window (measures the pipeline's own overhead)",
    )
    args = parser.parse_args()

    spec = EmbedderSpec.from_model(args.model, overlap_tokens=args.overlap)
    if args.only_short:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(spec.path), local_files_only=True)
        candidates = read_texts(args.data, 10**9)
        sizes = tokenizer(candidates, verbose=False)["input_ids"]
        fits = [
            t for t, ids in zip(candidates, sizes, strict=True) if len(ids) <= spec.window_tokens
        ]
        texts = fits[: args.limit]
    else:
        texts = read_texts(args.data, args.limit)
    started = time.perf_counter()
    import torch
    from sentence_transformers import SentenceTransformer

    import_s = time.perf_counter() - started
    load_s, bare_model = timed(
        lambda: SentenceTransformer(str(spec.path), local_files_only=True, device="cpu")
    )
    encoder = load_encoder(spec.path, "cpu")
    warmup = ["A warm-up sentence that is not in the corpus."] * 8
    bare_model.encode(warmup, batch_size=8, show_progress_bar=False)
    encoder.encode(warmup, 8, True)

    def bare() -> np.ndarray:
        return bare_model.encode(
            texts,
            batch_size=args.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )

    with tempfile.TemporaryDirectory(prefix="nearmiss-bench-") as tmp:
        bare_runs, cold_runs = [], []
        for repeat in range(args.repeats):
            cache_dir = Path(tmp) / f"cache{repeat}"
            bare_runs.append(timed(bare)[0])
            embedder = Embedder(
                spec, EmbeddingCache(cache_dir), batch_size=args.batch_size, device="cpu"
            )
            embedder._encoder = encoder  # the model loaded above: time the pipeline, not loading
            cold_s, cold_vectors = timed(embedder.encode, texts)
            cold_runs.append(cold_s)
            cold_stats = embedder.last_stats

        def warm() -> np.ndarray:
            fresh = EmbedderSpec.from_model(args.model, overlap_tokens=args.overlap)
            return Embedder(fresh, EmbeddingCache(cache_dir)).encode(texts)

        warm_s, warm_vectors = timed(warm)
        assert np.array_equal(warm_vectors, cold_vectors)
        subset = Path(tmp) / "texts.jsonl"
        subset.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
        done = subprocess.run(
            [sys.executable, "-c", WARM_PROCESS, str(subset), args.model, str(cache_dir)]
            + [str(args.overlap)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=True,
        )
        process = json.loads(done.stdout)

    tokenizer = encoder.model.tokenizer
    lengths = [len(ids) for ids in tokenizer(texts, verbose=False)["input_ids"]]
    window = spec.window_tokens
    bare_tokens = sum(min(n, window) for n in lengths)
    windows = [w for ws in embedder.windows(texts) for w in ws]
    our_tokens = sum(len(ids) for ids in tokenizer(windows, verbose=False)["input_ids"])

    bare_s, cold_s = min(bare_runs), min(cold_runs)
    n = len(texts)
    short = " that fit in one window" if args.only_short else ""
    print(f"data: {args.data} ({n} texts{short}, batch size {args.batch_size}, model {spec.model})")
    print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")
    print(
        f"torch threads: {torch.get_num_threads()}; import sentence-transformers {import_s:.1f} s;"
        f" load model {load_s:.2f} s (not in the timings below)"
    )
    print(
        f"texts over {window} tokens: {sum(x > window for x in lengths) / n:.1%}; windows: "
        f"{cold_stats.windows} for {n} texts; tokens embedded: bare {bare_tokens}, ours "
        f"{our_tokens} (x{our_tokens / bare_tokens:.2f}: the ends bare truncation drops)"
    )
    if args.repeats > 1:
        print(f"bare runs: {', '.join(f'{s:.1f}' for s in bare_runs)} s")
        print(f"cold runs: {', '.join(f'{s:.1f}' for s in cold_runs)} s")
    print(f"{'':28}{'seconds':>9}{'texts/s':>10}{'vs bare':>9}")
    rows = [
        ("bare SentenceTransformer", bare_s),
        ("ours, cold cache", cold_s),
        ("ours, warm cache", warm_s),
        ("ours, warm, new process", process["seconds"]),
    ]
    for name, seconds in rows:
        print(f"{name:28}{seconds:9.2f}{n / seconds:10.1f}{seconds / bare_s:9.3f}")
    per_token = (cold_s / our_tokens) / (bare_s / bare_tokens)
    print(
        f"cold/bare = {cold_s / bare_s:.3f} (target <= 1.10); per token embedded "
        f"{per_token:.3f}; warm/bare = {warm_s / bare_s:.4f} (target <= 0.10); "
        f"new process imported torch: {process['torch']}"
    )
    if len(bare_runs) > 1:
        print(f"bare spread: {statistics.pstdev(bare_runs) / statistics.mean(bare_runs):.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
