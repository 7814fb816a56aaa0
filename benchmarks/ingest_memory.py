"""Ingest memory and speed: peak RSS on a 10k-row vs a 100k-row Datix-style CSV, redaction included.

Writes both CSVs (Windows-1252, realistic narratives with identifiers) to a temporary folder,
ingests each in a fresh process, and prints peak RSS and rows per second. Memory is flat when the
100k-row peak is close to the 10k-row peak. ``--no-redact`` measures ingest alone (identity
redactor), to tell ingest's memory from the redactor's.

    .venv/bin/python benchmarks/ingest_memory.py [--rows 100000] [--small 10000]
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from make_sample_exports import DATIX_HEADER, DATIX_ROWS


def _nhs_number(n: int) -> str:
    digits = [9, 9, 9] + [int(d) for d in f"{n % 1_000_000:06d}"]
    check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
    check = 0 if check == 11 else check % 10
    s = "".join(map(str, digits)) + str(check)
    return f"{s[:3]} {s[3:6]} {s[6:]}"


def write_export(path: Path, rows: int) -> None:
    """Write a Datix-style CSV of ``rows`` distinct rows (cycling the sample narratives)."""
    with path.open("w", encoding="cp1252", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL)
        writer.writerow(DATIX_HEADER)
        for i in range(rows):
            date, practice, location, category, reporter, text, action = DATIX_ROWS[
                i % len(DATIX_ROWS)
            ]
            text = f"{text} Patient Mrs Ann Example (NHS {_nhs_number(i)}), case {i}."
            writer.writerow(
                [100_000 + i, f"GP-{i:06d}", date, practice, location, category, reporter]
                + [text, action, "No harm (near miss)"]
            )


def worker(path: Path, out: Path, redact: bool) -> None:
    """Ingest one file in this process and print one JSON line of measurements."""
    from pipeline.ingest import ingest_files
    from pipeline.redact import redact_texts

    redactor = redact_texts if redact else list
    redactor(["warm up Mrs Ann Example"])  # load the redaction pipeline before timing
    baseline_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    summary = ingest_files([path], out / "records.jsonl", out / "quarantine.jsonl", redact=redactor)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "rows": summary.read,
                "ingested": summary.ingested,
                "reconciles": summary.reconciles,
                "seconds": round(seconds, 1),
                "rows_per_s": round(summary.read / seconds),
                "rss_before_mib": round(baseline_kib / 1024, 1),
                "peak_rss_mib": round(peak_kib / 1024, 1),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--no-redact", action="store_true", help="measure ingest alone")
    parser.add_argument("--worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker, redact=not args.no_redact)
        return
    print("redaction:", "off (ingest alone)" if args.no_redact else "on (pipeline.redact)")
    with tempfile.TemporaryDirectory() as folder:
        results = {}
        for rows in (args.small, args.rows):
            export = Path(folder) / f"datix_{rows}.csv"
            write_export(export, rows)
            size_mib = export.stat().st_size / 2**20
            out = Path(folder) / f"out_{rows}"
            done = subprocess.run(
                [sys.executable, __file__, "--worker", str(export), str(out)]
                + (["--no-redact"] if args.no_redact else []),
                check=True,
                capture_output=True,
                text=True,
            )
            result = json.loads(done.stdout.strip().splitlines()[-1])
            results[rows] = result
            print(
                f"{rows:>7} rows ({size_mib:5.1f} MiB CSV): "
                f"peak RSS {result['peak_rss_mib']:6.1f} MiB "
                f"(after loading: {result['rss_before_mib']:6.1f} MiB), "
                f"{result['rows_per_s']:>5} rows/s, {result['seconds']} s, "
                f"reconciles={result['reconciles']}"
            )
        small, large = results[args.small], results[args.rows]
        growth = large["peak_rss_mib"] - small["peak_rss_mib"]
        print(
            f"peak RSS growth from {args.small} to {args.rows} rows: {growth:+.1f} MiB "
            f"({growth * 2**20 / (args.rows - args.small):.0f} bytes per extra row)"
        )


if __name__ == "__main__":
    main()
