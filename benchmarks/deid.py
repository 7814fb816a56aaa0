"""De-identification benchmark: speed, per-label recall and precision, leak rate.

Runs :func:`pipeline.redact.find_identifiers` over ``data/deid/eval.jsonl`` (synthetic, made by
``benchmarks/make_deid_eval.py``) and prints the figures below. Tune the rules on the ``dev``
split (``--data data/deid/dev.jsonl``, another seed) and report them on ``eval``, so that the
reported figures are not tuned on.

* narratives/s: best of ``--repeats`` timed passes of ``redact_texts`` over the set repeated
  ``--scale`` times, after a warm-up; wall clock and per CPU-second (the latter is steadier on a
  busy machine), in one process and in ``--processes`` worker processes (2 cores);
* per gold label: recall (a gold span counts as found when every non-space character of it is
  covered by predicted spans of any label: nothing leaks) and strict recall (one predicted span
  with the same label covers it);
* per predicted label: precision (the predicted span overlaps some gold span);
* token-level leak rate (gold identifier tokens not fully covered) and character precision;
* NAME recall by name kind: gazetteer first name, ambiguous gazetteer name (needs context), or
  not in the gazetteer (found by context alone);
* the most frequent false positives (``--show N``) and misses.

Exits 1 when overall recall is below ``--min-recall`` (default 0.98).

    .venv/bin/python benchmarks/deid.py [--data FILE] [--repeats 3] [--processes 2] [--show 15]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from pipeline.redact import Identifier, find_identifiers, redact_texts
from pipeline.redact_lexicon import load_lexicon

ROOT = Path(__file__).resolve().parent.parent


def covered(start: int, end: int, text: str, mask: list[bool]) -> bool:
    return all(mask[k] for k in range(start, end) if not text[k].isspace())


def name_kind(surface: str) -> str:
    lex = load_lexicon()
    words = {w.lower() for w in re.findall(r"[^\W\d_]+", surface)}
    if words & (lex.first_names - lex.ambiguous):
        return "gazetteer"
    if words & lex.ambiguous:
        return "ambiguous (context needed)"
    return "not in gazetteer (context only)"


def evaluate(rows: list[dict], preds: list[list[Identifier]], show: int) -> float:
    found, strict, total = Counter(), Counter(), Counter()
    kinds_found, kinds_total = Counter(), Counter()
    pred_ok, pred_total = Counter(), Counter()
    tok_total = tok_leak = 0
    char_pred = char_pred_gold = 0
    misses: dict[str, Counter] = defaultdict(Counter)
    false_pos: Counter = Counter()
    for row, pred in zip(rows, preds, strict=True):
        text = row["text"]
        mask = [False] * len(text)
        for p in pred:
            for k in range(p.start, p.end):
                mask[k] = True
        gold_mask = [False] * len(text)
        for g in row["spans"]:
            s, e, label = g["start"], g["end"], g["label"]
            for k in range(s, e):
                gold_mask[k] = True
            total[label] += 1
            ok = covered(s, e, text, mask)
            found[label] += ok
            strict[label] += any(p.start <= s and p.end >= e and p.label == label for p in pred)
            if not ok:
                misses[label][text[s:e]] += 1
            if label == "NAME":
                kind = name_kind(text[s:e])
                kinds_total[kind] += 1
                kinds_found[kind] += ok
            for m in re.finditer(r"\S+", text[s:e]):
                tok_total += 1
                tok_leak += not covered(s + m.start(), s + m.end(), text, mask)
        for p in pred:
            pred_total[p.label] += 1
            hit = any(gold_mask[k] for k in range(p.start, p.end))
            pred_ok[p.label] += hit
            if not hit:
                false_pos[f"{p.label}: {text[p.start : p.end]}"] += 1
            for k in range(p.start, p.end):
                if not text[k].isspace():
                    char_pred += 1
                    char_pred_gold += gold_mask[k]

    print(f"\n{'label':<17}{'gold':>6}{'recall':>9}{'strict':>9}{'pred':>7}{'precision':>11}")
    for label in sorted(set(total) | set(pred_total)):
        rec = found[label] / total[label] if total[label] else float("nan")
        st = strict[label] / total[label] if total[label] else float("nan")
        prec = pred_ok[label] / pred_total[label] if pred_total[label] else float("nan")
        print(
            f"{label:<17}{total[label]:>6}{rec:>9.3f}{st:>9.3f}{pred_total[label]:>7}{prec:>11.3f}"
        )
    all_gold, all_found = sum(total.values()), sum(found.values())
    all_pred, all_ok = sum(pred_total.values()), sum(pred_ok.values())
    recall = all_found / all_gold
    print(
        f"{'ALL':<17}{all_gold:>6}{recall:>9.3f}{sum(strict.values()) / all_gold:>9.3f}"
        f"{all_pred:>7}{all_ok / all_pred:>11.3f}"
    )
    print(f"\ntoken leak rate: {tok_leak}/{tok_total} = {tok_leak / tok_total:.4f}")
    print(f"character precision: {char_pred_gold / max(char_pred, 1):.4f}")
    print("\nNAME recall by kind:")
    for kind in sorted(kinds_total):
        print(
            f"  {kind:<33}{kinds_found[kind]:>5}/{kinds_total[kind]:<5}"
            f"{kinds_found[kind] / kinds_total[kind]:.3f}"
        )
    negatives = sum(1 for r in rows if not r["spans"])
    clean = sum(1 for r, p in zip(rows, preds, strict=True) if not r["spans"] and not p)
    print(f"\nnarratives with no identifiers left untouched: {clean}/{negatives}")
    if show:
        print(f"\nfalse positives ({sum(false_pos.values())}), most frequent:")
        for surface, n in false_pos.most_common(show):
            print(f"  {n:>3}  {surface!r}")
        print("misses, most frequent per label:")
        for label, counter in sorted(misses.items()):
            print(f"  {label}: " + ", ".join(f"{s!r}x{n}" for s, n in counter.most_common(show)))
    return recall


def main() -> int:
    ap = argparse.ArgumentParser(description="De-identification benchmark")
    ap.add_argument("--data", type=Path, default=ROOT / "data" / "deid" / "eval.jsonl")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument(
        "--scale", type=int, default=3, help="timed runs redact the set this many times"
    )
    ap.add_argument("--processes", type=int, default=2, help="also time this many processes")
    ap.add_argument("--show", type=int, default=15)
    ap.add_argument("--min-recall", type=float, default=0.98)
    args = ap.parse_args()
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line]
    texts = [r["text"] for r in rows]

    t0 = time.perf_counter()
    redact_texts(texts[:50])  # warm-up: builds the pipeline, loads the word lists
    load_s = time.perf_counter() - t0
    chars = sum(map(len, texts))
    print(f"{len(texts)} narratives (mean {chars / len(texts):.0f} chars) from {args.data.name}")
    print(
        f"load + warm-up: {load_s:.2f}s; load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores (other work on the machine slows the wall-clock figures)"
    )
    work = texts * args.scale
    wall = cpu = float("inf")
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        redact_texts(work, batch_size=args.batch_size)
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    print(
        f"speed, 1 process: {len(work) / wall:,.0f} narratives/s wall, "
        f"{len(work) / cpu:,.0f} per CPU-second (best of {args.repeats}, {len(work)} texts)"
    )
    if args.processes > 1:
        chunks = [work[k :: args.processes] for k in range(args.processes)]
        with ProcessPoolExecutor(
            args.processes, initializer=redact_texts, initargs=(["warm"],)
        ) as ex:
            list(ex.map(redact_texts, [["warm"]] * args.processes))
            best = float("inf")
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                list(ex.map(redact_texts, chunks))
                best = min(best, time.perf_counter() - t0)
        print(f"speed, {args.processes} processes: {len(work) / best:,.0f} narratives/s wall")

    recall = evaluate(rows, find_identifiers(texts), args.show)
    status = "PASS" if recall >= args.min_recall else "FAIL"
    print(f"\noverall recall {recall:.3f} (target >= {args.min_recall}): {status}")
    return 0 if recall >= args.min_recall else 1


if __name__ == "__main__":
    sys.exit(main())
