"""Static embedder against MiniLM on SAFENET: encode speed and logistic-regression F1.

From one run it prints:

* throughput: bare ``SentenceTransformer.encode`` of the same ``--limit`` narratives with MiniLM
  (which truncates at 256 tokens) and with the static model (whole texts); both models are
  loaded and warmed up first, and the static model's time is the best of three runs;
* for each scheme (``contributing``, ``human_factors``), on the fixed split (test when
  ``int(sha1(id), 16) % 5 == 0``; rows with at least one code of the scheme; codes with 5+
  training examples): micro- and macro-F1 of one-vs-rest logistic regression
  (``class_weight="balanced"``, ``C=1``, threshold 0.5, nothing tuned) on TF-IDF (1-2 grams),
  MiniLM vectors, static vectors, and the mean of TF-IDF's and each embedding's probabilities,
  with a paired bootstrap interval (test rows resampled) for the macro-F1 differences that
  decide between the two embedders.

MiniLM vectors for the F1 rows come both from :class:`pipeline.embed.Embedder` (long texts as
mean-pooled windows, as the product embeds them) and from bare ``encode`` (truncated at 256
tokens), both cached in ``--cache-dir`` (a temporary folder by default) so a re-run skips
them. The static model is built first if ``--static`` is missing.

    .venv/bin/python benchmarks/static_vs_minilm.py --data /work/shared/benchmarks/safenet.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.multiclass import OneVsRestClassifier

from pipeline.embed import Embedder, EmbedderSpec, EmbeddingCache
from pipeline.embed_spec import MINILM_EMBEDDING_MODEL
from training.distill import DEFAULT_STATIC_EMBEDDER, build_static_embedder

ROOT = Path(__file__).resolve().parent.parent
SCHEMES = ("contributing", "human_factors")
MIN_TRAIN = 5


def load(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def is_test(record_id: str) -> bool:
    return int(hashlib.sha1(record_id.encode()).hexdigest(), 16) % 5 == 0


def scheme_targets(rows: list[dict], scheme: str, test: np.ndarray):
    """Rows with a code of the scheme, the codes with 5+ training rows, the indicator matrix."""
    keep = np.array([bool(r["labels"].get(scheme)) for r in rows])
    counts: dict[str, int] = {}
    for r, t, k in zip(rows, test, keep, strict=True):
        if k and not t:
            for code in r["labels"][scheme]:
                counts[code] = counts.get(code, 0) + 1
    codes = sorted(c for c, n in counts.items() if n >= MIN_TRAIN)
    y = np.array([[c in r["labels"].get(scheme, []) for c in codes] for r in rows], dtype=int)
    return keep, codes, y


def ovr_proba(x_train, y_train, x_test) -> np.ndarray:
    model = OneVsRestClassifier(LogisticRegression(class_weight="balanced", max_iter=3000))
    return model.fit(x_train, y_train).predict_proba(x_test)


def scores(y_true: np.ndarray, proba: np.ndarray) -> tuple[float, float]:
    y_pred = (proba >= 0.5).astype(int)
    micro = f1_score(y_true, y_pred, average="micro", zero_division=0)
    macro = f1_score(y_true, y_pred, average="macro", zero_division=0)
    return float(micro), float(macro)


def bootstrap_macro_diff(
    y_true: np.ndarray, proba_a: np.ndarray, proba_b: np.ndarray, rounds: int = 2000
) -> tuple[float, float]:
    """95% interval of macro-F1(a) - macro-F1(b) over test rows resampled with replacement."""
    idx = np.random.default_rng(0).integers(0, len(y_true), size=(rounds, len(y_true)))

    def macro(proba: np.ndarray) -> np.ndarray:
        pred = proba >= 0.5
        tp = (y_true & pred)[idx].sum(axis=1)
        fp = (~y_true & pred)[idx].sum(axis=1)
        fn = (y_true & ~pred)[idx].sum(axis=1)
        denominator = 2 * tp + fp + fn
        f1 = np.divide(2 * tp, denominator, out=np.zeros(tp.shape), where=denominator > 0)
        return f1.mean(axis=1)

    low, high = np.percentile(macro(proba_a) - macro(proba_b), [2.5, 97.5])
    return float(low), float(high)


def report_scheme(
    scheme: str,
    rows: list[dict],
    texts: list[str],
    test: np.ndarray,
    minilm_x: np.ndarray,
    bare_x: np.ndarray,
    static_x: np.ndarray,
) -> None:
    keep, codes, y = scheme_targets(rows, scheme, test)
    train, held = keep & ~test, keep & test
    print(
        f"\n{scheme}: train {int(train.sum())} / test {int(held.sum())} rows with a code; "
        f"{len(codes)} codes with {MIN_TRAIN}+ training examples"
    )
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    tfidf_train = vectorizer.fit_transform([t for t, k in zip(texts, train, strict=True) if k])
    tfidf_test = vectorizer.transform([t for t, k in zip(texts, held, strict=True) if k])
    tfidf = ovr_proba(tfidf_train, y[train], tfidf_test)
    minilm = ovr_proba(minilm_x[train], y[train], minilm_x[held])
    bare = ovr_proba(bare_x[train], y[train], bare_x[held])
    static = ovr_proba(static_x[train], y[train], static_x[held])
    proba = {
        "TF-IDF (1-2 grams)": tfidf,
        "MiniLM (bare, truncated)": bare,
        "MiniLM (windowed)": minilm,
        "static": static,
        "static + TF-IDF (mean prob.)": (static + tfidf) / 2,
        "MiniLM + TF-IDF (mean prob.)": (minilm + tfidf) / 2,
    }
    print(f"  {'features':32}{'micro-F1':>9}{'macro-F1':>9}")
    for name, p in proba.items():
        micro, macro = scores(y[held], p)
        print(f"  {name:32}{micro:9.3f}{macro:9.3f}")
    truth = y[held].astype(bool)
    pairs = [
        ("static", "MiniLM (windowed)"),
        ("static + TF-IDF (mean prob.)", "MiniLM + TF-IDF (mean prob.)"),
        ("static + TF-IDF (mean prob.)", "TF-IDF (1-2 grams)"),
    ]
    for a, b in pairs:
        diff = scores(y[held], proba[a])[1] - scores(y[held], proba[b])[1]
        low, high = bootstrap_macro_diff(truth, proba[a], proba[b])
        print(f"  macro-F1 {a} - {b}: {diff:+.3f} (95% bootstrap {low:+.3f} to {high:+.3f})")


def cached_bare_vectors(model, texts: list[str], cache_dir: Path, revision: str) -> np.ndarray:
    """Bare (truncating) ``encode`` of all texts, kept as ``.npy`` in the cache folder."""
    digest = hashlib.sha256(revision.encode() + b"\0" + "\0".join(texts).encode()).hexdigest()
    path = cache_dir / f"bare-{digest[:16]}.npy"
    if path.is_file():
        return np.load(path)
    vectors = model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def throughput(model, texts: list[str], batch_size: int, repeats: int) -> float:
    model.encode(texts[:16], batch_size=batch_size, show_progress_bar=False)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        best = min(best, time.perf_counter() - started)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="safenet.jsonl")
    parser.add_argument("--static", type=Path, default=ROOT / DEFAULT_STATIC_EMBEDDER)
    parser.add_argument("--limit", type=int, default=1000, help="narratives for throughput")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "nearmiss-bench-static-vs-minilm",
        help="MiniLM vectors for re-runs",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    if not (args.static / "modules.json").is_file():
        started = time.perf_counter()
        build_static_embedder(args.static)
        print(f"built {args.static} in {time.perf_counter() - started:.0f} s")
    import torch
    from sentence_transformers import SentenceTransformer

    rows = load(args.data)
    texts = [r["text"] for r in rows]
    test = np.array([is_test(r["id"]) for r in rows])
    spec = EmbedderSpec.from_model(MINILM_EMBEDDING_MODEL)
    minilm = SentenceTransformer(str(spec.path), local_files_only=True, device="cpu")
    static = SentenceTransformer(str(args.static), local_files_only=True, device="cpu")
    lengths = np.array([len(ids) for ids in minilm.tokenizer(texts, verbose=False)["input_ids"]])
    static_mb = sum(p.stat().st_size for p in args.static.rglob("*") if p.is_file()) / 1e6

    print(
        f"SAFENET {args.data}: {len(rows)} narratives, train {int((~test).sum())} / test "
        f"{int(test.sum())}; median {int(np.median(lengths))} tokens, "
        f"{(lengths > spec.window_tokens).mean():.1%} over MiniLM's {spec.window_tokens}"
    )
    sample = texts[: args.limit]
    minilm_s = throughput(minilm, sample, batch_size=32, repeats=1)
    static_s = throughput(static, sample, batch_size=512, repeats=3)
    print(
        f"\nencode throughput, {len(sample)} narratives, bare SentenceTransformer.encode, "
        f"{torch.get_num_threads()} torch threads"
    )
    print(f"  {'MiniLM (batch 32, truncates at 256)':44}{len(sample) / minilm_s:8.1f}/s")
    print(
        f"  {f'static {static_mb:.0f} MB (batch 512, whole text)':44}"
        f"{len(sample) / static_s:8.1f}/s  ({minilm_s / static_s:.0f}x)"
    )

    started = time.perf_counter()
    embedder = Embedder(spec, EmbeddingCache(args.cache_dir), device="cpu")
    minilm_x = embedder.encode(texts)
    stats = embedder.last_stats
    print(
        f"\nMiniLM vectors via Embedder (windowed, cache {args.cache_dir}): {stats.cached} cached, "
        f"{stats.computed} computed, {time.perf_counter() - started:.0f} s"
    )
    bare_x = cached_bare_vectors(minilm, texts, args.cache_dir, spec.revision)
    static_x = static.encode(
        texts, batch_size=512, normalize_embeddings=True, show_progress_bar=False
    )

    for scheme in SCHEMES:
        report_scheme(scheme, rows, texts, test, minilm_x, bare_x, static_x)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
