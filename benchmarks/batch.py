"""Batch benchmark: ``nearmiss batch`` end to end, where its time goes, a re-run, and memory.

Prints, from one invocation:

* end-to-end ``nearmiss batch`` on ``--rows`` narratives (default 5,000; a Datix-style CSV with an
  identifier in every row), in a fresh process with an empty store, an empty embedding cache and
  no Prefect server (the temporary local one, as a user runs it; Prefect's own database is created
  once beforehand, as a user's first flow run ever does, and that time printed): wall time and
  narratives/s, CPU time (the process and its children), and
  where the time goes: start-up before the flow (imports, model, Prefect's server, overlapped; the
  ingest and redaction run beside them in another process from the start), storing narratives,
  coding (suggester and storing suggestions), and the rest of the flow (waiting for the ingest,
  Prefect's bookkeeping);
* the same pipeline work in one plain process, without Prefect or the store (import, load the
  redactor and suggester, ingest and redact the export, ``Suggester.suggest`` the records in the
  batch's chunks), and the overhead of orchestration and store over it in wall time (the issue's
  goal: at most 10%) and in CPU time (the extra work, which the batch's second core partly hides):
  medians of ``--repeat`` batch and plain runs (default 3), alternating, each from empty stores and
  caches, since one run of either varies by 10-15% on a shared 2-core machine;
* the same batch against a Prefect server that is already running (``prefect server start``,
  services on, as for deployments or a team that batches often; its own database), alternating
  with the two above: the temporary server's start-up is then not paid per run, and the server's
  CPU during each run is counted with the batch's;
* an unchanged re-run of the same command (goal: at most 10% of the first run);
* a bare ``SentenceTransformer.encode`` of the same (redacted) texts with the bundle's embedding
  model, loaded before the clock starts. With the static default model this line cannot meet
  +10% by construction: redaction must precede embedding and alone costs more than the static
  encode of the same texts, so it is printed for the record; the same against all-MiniLM-L6-v2,
  DESIGN.md's bar (batch coding at least as fast as a bare MiniLM encode);
* peak RSS of the batch process at ``--rows`` and at ``--large`` narratives (default 50,000; goal:
  flat), with the same overhead at that size (one run each); ``--large 0`` skips it.

Whatever ``pipeline.suggest.load_suggester`` returns codes the narratives (``NEARMISS_MODEL`` or
``--model`` choose another bundle). ``--suggester-factory tests.flows.fakes:load_fake`` checks the
harness without a model (the comparisons are then meaningless and skipped).

    .venv/bin/python benchmarks/batch.py [--rows 5000] [--large 50000] [--repeat 3] [--model DIR]
        [--no-running-server]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, NamedTuple

from ingest_memory import write_export

ROOT = Path(__file__).resolve().parents[1]
NEARMISS = Path(sys.executable).parent / "nearmiss"


class Run(NamedTuple):
    """A finished process: wall and CPU seconds, peak RSS in MiB, and its JSON output."""

    seconds: float
    cpu: float
    peak: float
    output: dict[str, Any]


def wait_for(process: subprocess.Popen[str], started: float, what: str) -> Run:
    """Wait for ``process``; return its wall time since ``started``, CPU, peak RSS and output.

    CPU and peak RSS (Linux) cover the process and the descendants it waited for: the ingest
    process and Prefect's server are among them.
    """
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{what} failed with exit code {process.returncode}")
    cpu = usage.ru_utime + usage.ru_stime
    return Run(seconds, cpu, usage.ru_maxrss / 1024, json.loads(output.strip().splitlines()[-1]))


def run_batch(export: Path, folder: Path, env: dict[str, str], extra: list[str]) -> Run:
    """Run ``nearmiss batch --json`` in a fresh process."""
    command = [str(NEARMISS), "batch", str(export), "--db", str(folder / "store.sqlite3")]
    started = time.perf_counter()
    process = subprocess.Popen(
        [*command, "--json", *extra], env=env, stdout=subprocess.PIPE, cwd=ROOT, text=True
    )
    return wait_for(process, started, "nearmiss batch")


def create_prefect_database(env: dict[str, str]) -> float:
    """Start and stop Prefect's temporary server once, which creates its database; return seconds.

    A user pays this once per machine (``PREFECT_HOME``), on the first flow run ever; every batch
    after that finds the database ready. The benchmark pays it here, outside the timed runs.
    """
    code = (
        "from prefect.server.api.server import SubprocessASGIServer\n"
        "server = SubprocessASGIServer()\n"
        "server.start(timeout=600)\n"
        "server.stop()\n"
    )
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT)
    return time.perf_counter() - started


def start_prefect_server(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``prefect server start`` on a free loopback port; return it and its API URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [str(Path(sys.executable).parent / "prefect"), "server", "start", "--no-ui"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    api = f"http://127.0.0.1:{port}/api"
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with direct.open(f"{api}/health", timeout=2) as answer:
                if answer.status == 200:
                    return process, api
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("prefect server start did not answer within 10 minutes")


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its live descendants, from /proc (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += times.get(current, 0.0)
        todo += [child for child, parent in parents.items() if parent == current]
    return total


def bare_encode(records: Path, model: str) -> dict[str, Any]:
    """Time SentenceTransformer.encode of the records' texts in a fresh process.

    ``model`` is ``"bundle"`` for the embedding model of the bundle the batch used, or a model
    name as ``NEARMISS_EMBEDDING_MODEL`` takes (e.g. ``all-MiniLM-L6-v2``).
    """
    code = f"""
import json, time
from pathlib import Path
from sentence_transformers import SentenceTransformer
if {model!r} == "bundle":
    from pipeline.suggest import load_suggester
    path = load_suggester(None, None).embedder.spec.path
else:
    from pipeline.embed_folder import resolve_model_path
    path = resolve_model_path({model!r})
texts = [json.loads(line)["text"] for line in Path({str(records)!r}).open(encoding="utf-8")]
model = SentenceTransformer(str(path), device="cpu")
model.encode(texts[:64], batch_size=32, normalize_embeddings=True, show_progress_bar=False)
started = time.perf_counter()
model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
seconds = time.perf_counter() - started
print(json.dumps({{"texts": len(texts), "seconds": seconds, "model": Path(path).name}}))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def in_process(
    export: Path, folder: Path, env: dict[str, str], model: Path | None
) -> dict[str, Any]:
    """Do the batch's pipeline work in one fresh process, without Prefect or the store.

    Returns the parent's wall time of the process, its CPU time and its phases: ``load`` (imports,
    redactor and suggester), ``ingest`` (read and redact into a records file) and ``suggest`` (the
    records in chunks of the batch's size).
    """
    out = folder / "in-process"
    code = f"""
import json, time
started = time.perf_counter()
from pathlib import Path
from pipeline.batch import DEFAULT_CHUNK_SIZE
from pipeline.ingest import ingest_files
from pipeline.record import Record
from pipeline.redact import redact_texts
from pipeline.suggest import load_suggester
redact_texts(["warm-up"])
model = {str(model) if model else None!r}
suggester = load_suggester(Path(model) if model else None, None)
loaded = time.perf_counter()
out = Path({str(out)!r})
ingest_files([Path({str(export)!r})], out / "records.jsonl", out / "quarantine.jsonl")
ingested = time.perf_counter()
records = [Record.model_validate_json(line) for line in (out / "records.jsonl").open("rb")]
coded = 0
for start in range(0, len(records), DEFAULT_CHUNK_SIZE):
    coded += len(suggester.suggest(records[start : start + DEFAULT_CHUNK_SIZE], redact=False))
done = time.perf_counter()
print(json.dumps({{"load": loaded - started, "ingest": ingested - loaded,
                  "suggest": done - ingested, "coded": coded}}))
"""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**env, "NEARMISS_CACHE_DIR": str(folder / "in-process-cache")},
    )
    done = wait_for(process, started, "the plain process")
    return {**done.output, "seconds": done.seconds, "cpu": done.cpu}


def redacted_records(export: Path, folder: Path, env: dict[str, str]) -> Path:
    """Ingest the export alone, for the texts the batch embeds."""
    records = folder / "records.jsonl"
    subprocess.run(
        [str(NEARMISS), "ingest", str(export), "--output", str(records), "--json"],
        check=True,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000)
    parser.add_argument("--large", type=int, default=50_000, help="0 skips the memory run")
    parser.add_argument("--model", type=Path, help="bundle directory (default: as nearmiss)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="alternating batch and plain runs (medians)"
    )
    parser.add_argument("--suggester-factory", help="module:function (default: pipeline.suggest)")
    parser.add_argument(
        "--no-running-server",
        dest="running_server",
        action="store_false",
        help="skip the runs against an already running Prefect server",
    )
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    extra = [*(["--model", str(args.model)] if args.model else [])]
    if args.suggester_factory:
        extra += ["--suggester-factory", args.suggester_factory]
    with tempfile.TemporaryDirectory(prefix="nearmiss-bench-") as tmp:
        root = Path(tmp)
        env = {
            **os.environ,
            "PREFECT_HOME": str(root / "prefect"),
            "NEARMISS_DATA_DIR": str(root / "data"),
            "NEARMISS_CACHE_DIR": str(root / "cache"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # as nearmiss sets for its own runs
        }
        env.pop("PREFECT_API_URL", None)  # the temporary local server, as a user runs it
        once = create_prefect_database(env)
        print(f"Prefect's database created once per machine (first flow run ever): {once:.1f} s")
        server: subprocess.Popen[bytes] | None = None
        served_env: dict[str, str] = {}
        if args.running_server and not args.suggester_factory:
            started = time.perf_counter()
            served_env = {**env, "PREFECT_HOME": str(root / "prefect-server")}
            server, served_env["PREFECT_API_URL"] = start_prefect_server(served_env)
            print(
                f"A running Prefect server (prefect server start, services on) up in "
                f"{time.perf_counter() - started:.1f} s, before the timed runs"
            )
        try:
            run_sizes(args, root, env, extra, server, served_env)
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=60)


def run_sizes(
    args: argparse.Namespace,
    root: Path,
    env: dict[str, str],
    extra: list[str],
    server: subprocess.Popen[bytes] | None,
    served_env: dict[str, str],
) -> None:
    """Run and print the benchmark at each size (see the module docstring)."""
    peaks: dict[int, float] = {}
    for rows in dict.fromkeys(r for r in (args.rows, args.large) if r):
        folder = root / f"run-{rows}"
        folder.mkdir()
        export = folder / "export.csv"
        write_export(export, rows)
        env["NEARMISS_CACHE_DIR"] = str(folder / "cache")
        print(f"{rows} narratives: first run ...", file=sys.stderr, flush=True)
        run = run_batch(export, folder, env, extra)
        first, summary, peaks[rows] = run.seconds, run.output, run.peak
        coded = int(summary["coded"])
        flow = float(summary["seconds"])
        ingest, store, code = (
            float(summary[key]) for key in ("ingest_seconds", "store_seconds", "code_seconds")
        )
        print(
            f"{rows:>6} narratives: nearmiss batch {first:7.1f} s "
            f"({coded / first:5.1f} narratives/s; model {summary['model']}; "
            f"{summary['chunks']} chunks), CPU {run.cpu:.1f} s, peak RSS {peaks[rows]:7.1f} MiB"
        )
        print(
            f"{'':>6}  where the time goes: start-up and shut-down {first - flow:5.1f} s "
            f"(imports, model and Prefect's server; ingest+redact {ingest:.1f} s runs beside "
            f"them in another process from the start); flow {flow:5.1f} s: store narratives "
            f"{store:4.1f} s, coding {code:5.1f} s (suggest + store suggestions; overlaps "
            f"storing), rest {flow - store - code:+5.1f} s (waiting for ingest, Prefect, less "
            "the overlap)"
        )
        if rows != args.rows:
            if not args.suggester_factory:  # at scale: one run each, for the trend
                plain_folder = root / f"plain-{rows}"
                plain_folder.mkdir()
                plain = in_process(export, plain_folder, env, args.model)
                print(
                    f"{'':>6}  same work in one process {plain['seconds']:7.1f} s (load "
                    f"{plain['load']:.1f} s, ingest+redact {plain['ingest']:.1f} s, suggest "
                    f"{plain['suggest']:.1f} s): orchestration + store overhead "
                    f"{100 * (first - plain['seconds']) / plain['seconds']:+.1f}% at this size "
                    "(one run each)"
                )
            continue
        again = run_batch(export, folder, env, extra)
        rerun = again.seconds
        print(
            f"{'':>6}  unchanged re-run {rerun:7.1f} s = {100 * rerun / first:5.1f}% of the "
            f"first (goal <= 10%); coded {again.output['coded']}, already coded "
            f"{again.output['already_coded']}"
        )
        if args.suggester_factory:
            print(f"{'':>6}  comparisons skipped: {args.suggester_factory} embeds nothing")
            continue
        # Batch and plain runs alternate, each in a fresh folder (empty store and caches), so
        # that a slow spell of a shared machine does not fall on one side only.
        batches, plains, served = [run], [], []
        for i in range(args.repeat):
            if i:
                again_folder = root / f"run-{rows}-{i}"
                again_folder.mkdir()
                env["NEARMISS_CACHE_DIR"] = str(again_folder / "cache")
                batches.append(run_batch(export, again_folder, env, extra))
            plain_folder = root / f"plain-{rows}-{i}"
            plain_folder.mkdir()
            plains.append(in_process(export, plain_folder, env, args.model))
            if server is not None:
                served_folder = root / f"served-{rows}-{i}"
                served_folder.mkdir()
                served_env["NEARMISS_CACHE_DIR"] = str(served_folder / "cache")
                before = tree_cpu(server.pid)
                done = run_batch(export, served_folder, served_env, extra)
                served.append(done._replace(cpu=done.cpu + tree_cpu(server.pid) - before))
        batch_s = statistics.median(b.seconds for b in batches)
        plain_seconds = [p["seconds"] for p in plains]
        plain = sorted(plains, key=lambda p: float(p["seconds"]))[len(plains) // 2]
        batch_cpu = statistics.median(b.cpu for b in batches)
        overhead = 100 * (batch_s - plain["seconds"]) / plain["seconds"]
        # Each batch run against the plain run next to it: less moved by a slow spell.
        pairs = [100 * (b.seconds / p_s - 1) for b, p_s in zip(batches, plain_seconds, strict=True)]
        print(
            f"{'':>6}  same work in one process, no Prefect, no store "
            f"{plain['seconds']:7.1f} s "
            f"(load {plain['load']:.1f} s, ingest+redact {plain['ingest']:.1f} s, suggest "
            f"{plain['suggest']:.1f} s): orchestration + store overhead {overhead:+.1f}% "
            f"(goal <= +10%; medians of {args.repeat} alternating runs: batch "
            f"{'/'.join(f'{b.seconds:.1f}' for b in batches)} s, plain "
            f"{'/'.join(f'{float(p_s):.1f}' for p_s in plain_seconds)} s); per pair: "
            f"median {statistics.median(pairs):+.1f}%, {sum(o <= 10 for o in pairs)} of "
            f"{len(pairs)} within +10%"
        )
        print(
            f"{'':>6}  CPU time (medians): batch {batch_cpu:.1f} s, same work in one process "
            f"{plain['cpu']:.1f} s ({100 * (batch_cpu - plain['cpu']) / plain['cpu']:+.1f}%: "
            "the batch's extra work, which a second core partly hides)"
        )
        if served:
            served_s = statistics.median(b.seconds for b in served)
            served_pairs = [
                100 * (b.seconds / p_s - 1) for b, p_s in zip(served, plain_seconds, strict=True)
            ]
            print(
                f"{'':>6}  the same batch against a running Prefect server (deployments, or "
                f"`prefect server start` once) {served_s:7.1f} s: overhead "
                f"{100 * (served_s - plain['seconds']) / plain['seconds']:+.1f}% over the same "
                f"plain runs (runs {'/'.join(f'{b.seconds:.1f}' for b in served)} s); per pair: "
                f"median {statistics.median(served_pairs):+.1f}%, "
                f"{sum(o <= 10 for o in served_pairs)} of {len(served_pairs)} within +10%; CPU "
                f"{statistics.median(b.cpu for b in served):.1f} s (median, the server's during "
                "each run included)"
            )
        records = redacted_records(export, folder, env)
        for reference in ("bundle", "all-MiniLM-L6-v2"):
            bare = bare_encode(records, reference)
            name = bare["model"] if reference == "bundle" else reference
            overhead = 100 * (batch_s - bare["seconds"]) / bare["seconds"]
            goal = (
                " (out of reach by construction: redaction alone costs more than this encode)"
                if reference == "bundle"
                else " (goal: <= 0%)"
            )
            print(
                f"{'':>6}  bare SentenceTransformer.encode ({name}) of the same "
                f"{bare['texts']:.0f} texts {bare['seconds']:7.1f} s "
                f"({bare['texts'] / bare['seconds']:6.1f}/s): batch overhead {overhead:+.1f}%"
                + goal
            )
    if len(peaks) == 2:
        small, large = peaks[args.rows], peaks[args.large]
        print(
            f"peak RSS {args.rows} -> {args.large} narratives: {small:.1f} -> {large:.1f} MiB "
            f"({large - small:+.1f} MiB; goal: flat)"
        )


if __name__ == "__main__":
    main()
