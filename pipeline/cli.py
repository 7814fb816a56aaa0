"""The ``nearmiss`` command line: a thin Typer shell over library calls.

Each command is a few lines. Heavy imports happen inside commands so that ``--help`` and quick
commands stay fast. A :class:`~pipeline.errors.NearMissError` becomes a one-line reason on stderr
and exit code 1, never a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer

from pipeline import LOG_FORMAT, collector
from pipeline.errors import NearMissError

if TYPE_CHECKING:
    import subprocess

    from pipeline.batch import BatchSummary

__all__ = ["app", "run"]

P = ParamSpec("P")
R = TypeVar("R")

#: ``--json`` of every command that prints a result: one compact JSON line on stdout.
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as one JSON line.")]

app = typer.Typer(
    name="nearmiss",
    help="Suggest contributory-factor and recovery codes for GP near-miss narratives.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
taxonomy_app = typer.Typer(help="Check and show taxonomy files.", no_args_is_help=True)
app.add_typer(taxonomy_app, name="taxonomy")


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn a :class:`NearMissError` raised by ``command`` into a one-line message and exit 1."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except NearMissError as error:
            typer.echo(f"Error: {error}", err=True)
            raise typer.Exit(code=1) from None

    return wrapper


def emit_json(payload: dict[str, Any]) -> None:
    """Write exactly one compact JSON line to stdout."""
    sys.stdout.write(json.dumps(payload, separators=(",", ":"), default=str) + "\n")


def run() -> None:
    """Run the ``nearmiss`` console command: the Typer app in a process of its own."""
    collector.own_process()
    app()


@app.callback()
def main(
    verbose: Annotated[
        int,
        typer.Option("--verbose", "-v", count=True, help="More logs on stderr (-vv: debug)."),
    ] = 0,
) -> None:
    """Suggest contributory-factor and recovery codes for GP near-miss narratives."""
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    # The handler filters too: libraries that set their own loggers' levels (Prefect does) must
    # not print below the level asked for.
    handler.setLevel(level)
    logging.basicConfig(level=level, handlers=[handler], format=LOG_FORMAT)


@taxonomy_app.command("check")
@reports_errors
def taxonomy_check(
    file: Annotated[Path, typer.Argument(help="Taxonomy YAML file to validate.")],
    as_json: JsonOption = False,
) -> None:
    """Validate a taxonomy file and report its schemes and code counts."""
    from pipeline.taxonomy import load_taxonomy

    taxonomy = load_taxonomy(file)
    summary = {
        "name": taxonomy.name,
        "version": taxonomy.version,
        "schemes": {s.id: len(s.leaf_codes) for s in taxonomy.schemes},
        "warnings": list(taxonomy.warnings),
    }
    if as_json:
        emit_json(summary)
        return
    for warning in taxonomy.warnings:
        typer.echo(f"Warning: {warning}", err=True)
    typer.echo(f"{file}: OK, taxonomy {taxonomy.name} v{taxonomy.version}")
    for scheme in taxonomy.schemes:
        kind = "multi-label" if scheme.multi_label else "single-label"
        typer.echo(f"  {scheme.id}: {len(scheme.leaf_codes)} codes ({kind})")


@taxonomy_app.command("show")
@reports_errors
def taxonomy_show(
    file: Annotated[Path, typer.Argument(help="Taxonomy YAML file to show.")],
    scheme: Annotated[str | None, typer.Option("--scheme", help="Show only this scheme.")] = None,
) -> None:
    """Print a taxonomy as an indented tree of codes with their labels."""
    from pipeline.taxonomy import format_taxonomy, load_taxonomy

    typer.echo(format_taxonomy(load_taxonomy(file), scheme=scheme))


@app.command("train")
@reports_errors
def train(
    data: Annotated[
        Path | None, typer.Option("--data", help="Labelled JSONL (records with 'codes').")
    ] = None,
    taxonomy: Annotated[
        Path | None,
        typer.Option("--taxonomy", help="Taxonomy YAML the labels use (default: the shipped one)."),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Bundle directory to create.")] = None,
    starter: Annotated[
        bool,
        typer.Option("--starter", help="Rebuild the starter bundle from the shipped sample."),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace --out if it already holds files.")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the cross-validation folds.")] = 0,
    name: Annotated[
        str | None, typer.Option("--name", help="Bundle name (default: the --out folder's name).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Train a bundle: a calibrated head for every scheme that has labels."""
    import time

    from pipeline.bundle import read_metadata
    from pipeline.config import get_settings
    from pipeline.errors import InputError
    from training.summary import format_training, training_summary

    started = time.perf_counter()
    if starter:
        if data or out or taxonomy:
            raise InputError(
                "--starter builds from the shipped sample; drop --data/--out/--taxonomy"
            )
        from pipeline.starter import build_starter_bundle

        bundle_dir = build_starter_bundle()
    else:
        if data is None or out is None:
            raise InputError("give --data LABELLED.jsonl and --out DIR (or --starter)")
        from training.bundle import train_bundle

        taxonomy_path = taxonomy or get_settings().taxonomy_path
        bundle_dir = train_bundle(data, taxonomy_path, out, seed=seed, force=force, name=name)
    summary = training_summary(bundle_dir, read_metadata(bundle_dir), time.perf_counter() - started)
    if as_json:
        emit_json(summary)
    else:
        typer.echo(format_training(summary))


@app.command("evaluate")
@reports_errors
def evaluate(
    model: Annotated[Path, typer.Option("--model", help="Bundle directory to evaluate.")],
    data: Annotated[Path, typer.Option("--data", help="Labelled JSONL (records with 'codes').")],
    taxonomy: Annotated[
        Path | None,
        typer.Option(
            "--taxonomy", help="Taxonomy in force (default NEARMISS_TAXONOMY, else the bundle's)."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Score a bundle on labelled data: per-code precision, recall, F1 and calibration."""
    from pipeline.config import get_settings
    from training.evaluate_bundle import evaluate_bundle

    result = evaluate_bundle(model, data, taxonomy_path=taxonomy or get_settings().taxonomy)
    if as_json:
        emit_json(result.to_dict())
    else:
        typer.echo(result.format())


@app.command("suggest")
@reports_errors
def suggest(
    input_path: Annotated[
        Path,
        typer.Option(
            "--input",
            "-i",
            help="Records JSONL, or an export ingest reads (CSV, XLSX, JSONL, DOCX, PDF, TXT) "
            "or a folder of them.",
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Suggestions JSONL to write.")],
    model: Annotated[
        Path | None,
        typer.Option(
            "--model",
            help="Bundle directory (default: NEARMISS_MODEL, the promoted bundle, the starter).",
        ),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Store whose promoted bundle to use (default NEARMISS_DB; none: no store).",
        ),
    ] = None,
    quarantine: Annotated[
        Path | None,
        typer.Option(help="Where an export's rejected rows go (default: beside --output)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Suggest codes, scores and evidence sentences for every narrative, one line per record."""
    from pipeline.suggest_file import suggest_file

    summary = suggest_file(input_path, output, model=model, db_url=db, quarantine=quarantine)
    if as_json:
        emit_json(summary.to_dict())
    else:
        typer.echo(summary.format())


@app.command("ingest")
@reports_errors
def ingest(
    files: Annotated[
        list[Path],
        typer.Argument(help="Export files (CSV, XLSX, JSONL, DOCX, PDF, TXT) or folders."),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Records JSONL to write.")],
    quarantine: Annotated[
        Path | None,
        typer.Option(help="Quarantine JSONL (default: <output stem>.quarantine.jsonl beside it)."),
    ] = None,
    column: Annotated[
        list[str] | None,
        typer.Option(
            "--column",
            "-c",
            help="Map a column: TARGET=COLUMN, e.g. 'text=Incident description'. Targets: "
            "text, action_taken, why, went_well, learning, changes, id, practice, event_date. "
            "Repeatable.",
        ),
    ] = None,
    keep_raw: Annotated[
        bool, typer.Option("--keep-raw", help="Write quarantined rows unredacted (personal data!).")
    ] = False,
    encoding: Annotated[
        str | None, typer.Option(help="Force the encoding of CSV and text files (e.g. cp1252).")
    ] = None,
    on_id_conflict: Annotated[
        str,
        typer.Option(
            help="A known id with different text: 'quarantine' the row or 'derive' a new id."
        ),
    ] = "quarantine",
    as_json: JsonOption = False,
) -> None:
    """Read exports into de-identified records; quarantine bad rows with a reason."""
    from pipeline.ingest import IdConflict, ingest_files, parse_column_options

    summary = ingest_files(
        files,
        output,
        quarantine,
        columns=parse_column_options(column or []),
        encoding=encoding,
        keep_raw=keep_raw,
        on_id_conflict=IdConflict.parse(on_id_conflict),
    )
    if as_json:
        emit_json(summary.to_dict())
    else:
        typer.echo(summary.format())


review_app = typer.Typer(help="Record review decisions in the store.", no_args_is_help=True)
app.add_typer(review_app, name="review")

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Store URL (sqlite:///PATH, a file path or postgresql://...); "
        "default NEARMISS_DB, else a SQLite file in the user data directory.",
    ),
]


@review_app.command("import")
@reports_errors
def review_import(
    file: Annotated[Path, typer.Argument(help="Labelled JSONL (records with 'codes').")],
    reviewer: Annotated[str, typer.Option("--reviewer", help="Who decided these codes.")],
    db: DbOption = None,
    taxonomy: Annotated[
        Path | None, typer.Option("--taxonomy", help="Taxonomy file (default: the shipped one).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Record codes already decided by people as review decisions, matched by record id."""
    from pipeline.config import get_settings
    from pipeline.review_import import import_labelled_file

    report = import_labelled_file(
        file, db_url=db, taxonomy_path=taxonomy or get_settings().taxonomy_path, reviewer=reviewer
    )
    if as_json:
        emit_json(report.to_dict())
    else:
        typer.echo(report.format())


@app.command("status")
@reports_errors
def status(
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show narrative counts by status and practice, and the promoted bundle."""
    from pipeline.store import db_url, describe_url, promoted_bundle, session_scope, status_summary

    url = db_url(db)
    with session_scope(url) as session:
        summary = status_summary(session).as_dict()
        bundle = promoted_bundle(session)
        summary["promoted_bundle"] = bundle.name if bundle else None
    summary["store"] = describe_url(url)
    if as_json:
        emit_json(summary)
        return
    typer.echo(f"Store: {summary['store']}")
    typer.echo(
        f"Promoted bundle: {summary['promoted_bundle'] or 'none (the starter bundle is used)'}"
    )
    by_status = ", ".join(f"{count} {name}" for name, count in summary["by_status"].items())
    typer.echo(f"Narratives: {summary['total']} ({by_status})")
    for practice, counts in summary["by_practice"].items():
        row = ", ".join(f"{count} {name}" for name, count in counts.items())
        typer.echo(f"  {practice or '(no practice)'}: {row}")


@app.command("purge")
@reports_errors
def purge(
    before: Annotated[
        str, typer.Option("--before", help="Delete narratives dated before this day (YYYY-MM-DD).")
    ],
    practice: Annotated[
        str | None, typer.Option("--practice", help="Only this practice's narratives.")
    ] = None,
    db: DbOption = None,
    actor: Annotated[
        str, typer.Option("--actor", help="Who asked for the purge (kept in the audit record).")
    ] = "cli",
    keep_cache: Annotated[
        bool,
        typer.Option("--keep-cache", help="Keep the embedding cache (default: clear it)."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete narratives before a date with everything derived from them (retention rules)."""
    import datetime as dt

    from pipeline.errors import InputError
    from pipeline.store import db_url, purge_narratives, session_scope

    try:
        cutoff = dt.date.fromisoformat(before)
    except ValueError:
        raise InputError(f"--before {before!r} is not a date; use YYYY-MM-DD") from None
    with session_scope(db_url(db), write=True) as session:
        report = purge_narratives(session, cutoff, actor=actor, practice=practice)
    result: dict[str, Any] = {
        "narratives": report.narratives,
        "suggestion_sets": report.suggestion_sets,
        "suggestions": report.suggestions,
        "decisions": report.decisions,
        "cache_cleared": False,
    }
    if not keep_cache and report.narratives:
        from pipeline.config import get_settings
        from pipeline.embed_cache import EmbeddingCache

        # Cache keys are hashes of text, windows and sentences per model: clearing the whole cache
        # is the one way to be sure no vector of a purged narrative survives.
        EmbeddingCache(get_settings().cache_dir).clear()
        result["cache_cleared"] = True
    if as_json:
        emit_json(result)
        return
    typer.echo(
        f"Purged {report.narratives} narratives before {cutoff}"
        f"{' for ' + practice if practice else ''}: {report.suggestion_sets} suggestion sets, "
        f"{report.suggestions} suggestions, {report.decisions} decisions"
        f"{'; embedding cache cleared' if result['cache_cleared'] else ''}."
    )


def _quiet_prefect() -> None:
    """Set Prefect's defaults for a command-line run, before Prefect is imported.

    Without ``PREFECT_API_URL`` a flow runs against a temporary local server: no analytics or
    telemetry, no task-run recorder, and Prefect's console output limited to what ``-v`` asks
    for, so stderr holds our progress bar and one-line errors. Values already in the environment
    win.
    """
    import os

    level = logging.getLogger().getEffectiveLevel()
    console = "CRITICAL" if level > logging.INFO else logging.getLevelName(level)
    defaults = {
        # A fresh PREFECT_HOME migrates a new database first: give a slow machine time.
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # Prefect's SDK telemetry (3.9+): in a terminal, a new user's first import prints a notice
        # and sends usage events to Prefect; nearmiss runs offline and sends nothing anywhere.
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED": "false",
        "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": console,
    }
    for name, value in defaults.items():
        os.environ.setdefault(name, value)


@contextlib.contextmanager
def _prefect_start_up() -> Iterator[None]:
    """Report a temporary Prefect server that does not start as a one-line error."""
    try:
        yield
    except RuntimeError as error:
        if "ephemeral Prefect API server" not in str(error):
            raise
        raise NearMissError(
            "Prefect's temporary local server did not start in time; run `prefect server start` "
            "and set PREFECT_API_URL, or raise PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
        ) from None


#: Settings of the Prefect services a temporary server runs without (unless set otherwise).
_LASTING_SERVER_SERVICES = (
    "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED",
    "PREFECT_SERVER_EVENTS_STREAM_OUT_ENABLED",
    "PREFECT_SERVER_LOGS_STREAM_OUT_ENABLED",
)


class _TemporaryServer:
    """Prefect's temporary server, launched without importing Prefect in this process.

    Without a configured API (``PREFECT_API_URL`` or the Prefect profile), a flow run starts a
    temporary server in a subprocess, after importing Prefect's whole server in this process, and
    waits several seconds for it. This launches the same server (the command and settings Prefect
    uses, with the UI, block registration and the services only a lasting server needs off) as
    soon as the command knows it will run a flow, before Prefect or any model is imported here,
    so that it boots on another core meanwhile. The server reads its settings from the
    environment and the Prefect profile, as Prefect's own would.
    """

    def __init__(self) -> None:
        import os
        import socket
        import subprocess
        import threading
        import time

        from pipeline.collector import SERVER_LAUNCHER

        with socket.socket() as probe:  # a free port on loopback
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.api = f"http://127.0.0.1:{port}/api"
        # uvicorn's command line, as ``python -m uvicorn`` (Prefect's own way), with the garbage
        # collector paused while the server imports (pipeline.collector).
        command = [sys.executable, "-c", SERVER_LAUNCHER, "--factory"]
        command += ["prefect.server.api.server:create_app", "--lifespan", "on"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "error"]
        # At exit, do not wait for this process's idle keep-alive connections to time out (5 s).
        command += ["--timeout-graceful-shutdown", "1"]
        env = {
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
            # No block types to register for a server that lives one run (our flows use no
            # blocks): measured, checking whether to register them imported every installed
            # Prefect collection first (prefect-dask, then Dask's distributed), about 0.7 s of
            # the server's start-up CPU.
            "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false",
            "PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false",
        }
        # Nor the services that serve a lasting server (automations' triggers and actions, the
        # event history, streaming events and logs out to clients): measured, about 0.6 s less of
        # the server's CPU per run (medians of 3 alternating 5,000-narrative batches, 4.2 -> 3.6
        # s). Flow runs and their states are still recorded. Values in the environment win.
        for name in _LASTING_SERVER_SERVICES:
            env.setdefault(name, "false")
        self.launched = time.perf_counter()
        self.process = subprocess.Popen(command, env=env)
        timeout = os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
        self.timeout = float(timeout)
        self.answered = threading.Event()
        self.poller = threading.Thread(target=self._poll, name="prefect-server-start", daemon=True)
        self.poller.start()

    def _poll(self) -> None:
        import time
        import urllib.request

        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            with contextlib.suppress(OSError), direct.open(f"{self.api}/health", timeout=2) as got:
                if got.status == 200:
                    break
            time.sleep(0.1)
        else:
            return
        # The server's first API request takes about half a second (measured; later ones a few
        # ms). Make it here, while the models load, not in the flow's first call (the client's
        # version check).
        with contextlib.suppress(OSError), direct.open(f"{self.api}/admin/version", timeout=60):
            pass
        self.answered.set()

    def ready(self) -> None:
        """Wait until the server answers; stop it at exit (raise if it never answers)."""
        import atexit
        import time

        # Registered as late as possible (exit handlers run last in, first out), after the flow
        # machinery loaded: measured, Prefect's own exit handlers then end at once instead of
        # idling for seconds on the server's open connections.
        atexit.register(self.stop)
        waited = time.perf_counter()
        self.poller.join()
        logging.getLogger(__name__).info(
            "Prefect's temporary server: %.1f s since launch, %.1f s of it waited for",
            time.perf_counter() - self.launched,
            time.perf_counter() - waited,
        )
        if not self.answered.is_set():
            raise RuntimeError("the ephemeral Prefect API server did not answer in time")

    def stop(self) -> None:
        """Stop the server: ask, then insist."""
        _stop_server(self.process)


def _launch_prefect_server() -> _TemporaryServer | None:
    """Launch Prefect's temporary server now, unless the environment names a Prefect API.

    Call after :func:`_quiet_prefect` (the server reads those settings). A Prefect already imported
    in this process (tests) is asked for its API; otherwise only ``PREFECT_API_URL`` in the
    environment is seen here, and an API set in the Prefect profile is found when the flow is
    about to run (:func:`_prefect_server_in_background` then stops this server unused).
    """
    import os

    if "prefect.settings" in sys.modules:
        from prefect.settings import PREFECT_API_URL

        if PREFECT_API_URL.value():
            return None
    elif os.environ.get("PREFECT_API_URL"):
        return None
    return _TemporaryServer()


@contextlib.contextmanager
def _prefect_server_in_background(
    server: _TemporaryServer | None,
) -> Iterator[Callable[[], None]]:
    """Point flows run in the block at ``server``, or at the API Prefect's settings name.

    Yields ``ready()``, which waits until the server answers; call it before the flow. The server
    stops when the process exits, or at once if the block fails before ``ready()``. Without a
    server and without a configured API, one is launched here.
    """
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        temporary_settings,
    )

    if PREFECT_API_URL.value():
        if server is not None:  # the profile names an API: the server launched early is unused
            server.stop()
        yield lambda: None
        return
    if server is None:
        server = _TemporaryServer()
    readied: list[bool] = []

    def ready() -> None:
        readied.append(True)
        server.ready()

    # No heartbeats: they let a lasting server notice a crashed run, and this server ends with the
    # run; stopping their thread costs up to a second at the end of every flow run.
    updates = {PREFECT_API_URL: server.api, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
    try:
        with temporary_settings(updates=updates):
            yield ready
    finally:
        if not readied:  # the block failed before the flow: nothing of Prefect's to wait for
            server.stop()


def _stop_server(server: subprocess.Popen[bytes]) -> None:
    """Stop a server subprocess: ask, then insist."""
    import subprocess

    server.terminate()
    try:
        server.wait(timeout=5)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


@app.command("batch")
@reports_errors
def batch(
    files: Annotated[
        list[Path],
        typer.Argument(help="Export files (CSV, XLSX, JSONL, DOCX, PDF, TXT) or folders."),
    ],
    db: DbOption = None,
    model: Annotated[
        Path | None,
        typer.Option(
            "--model",
            help="Bundle directory (default: NEARMISS_MODEL, the promoted bundle, the starter).",
        ),
    ] = None,
    quarantine: Annotated[
        Path | None,
        typer.Option(help="Quarantine JSONL (default: quarantine.jsonl in the batch work folder)."),
    ] = None,
    column: Annotated[
        list[str] | None,
        typer.Option("--column", "-c", help="Map a column: TARGET=COLUMN, as in ingest."),
    ] = None,
    chunk_size: Annotated[
        int | None, typer.Option("--chunk-size", help="Most narratives per chunk (default 2000).")
    ] = None,
    dask_address: Annotated[
        str | None,
        typer.Option(
            "--dask-address",
            help="Code chunks on this Dask scheduler (tcp://HOST:8786); the store must be "
            "PostgreSQL and the embedding cache shared.",
        ),
    ] = None,
    dask_workers: Annotated[
        int | None,
        typer.Option("--dask-workers", help="Code chunks on a local Dask cluster of N processes."),
    ] = None,
    retries: Annotated[
        int,
        typer.Option(help="Retries of a file read or store write that fails (after 2, 10, 30 s)."),
    ] = 3,
    as_json: JsonOption = False,
    suggester: Annotated[
        str | None,
        typer.Option(
            "--suggester-factory",
            hidden=True,
            help="module:function that builds the suggester (default pipeline.suggest).",
        ),
    ] = None,
) -> None:
    """Ingest exports into the store and code them, as pending suggestions for review."""
    from pipeline.errors import InputError
    from pipeline.ingest import find_inputs, parse_column_options

    find_inputs(files)  # fail on a missing path before Prefect starts
    columns = parse_column_options(column or [])
    if dask_address is not None and dask_workers is not None:
        raise InputError("give --dask-address or --dask-workers, not both")
    if retries < 0:
        raise InputError(f"--retries {retries} is negative; use 0 to fail at the first error")
    if dask_workers is not None and dask_workers < 1:
        raise InputError(f"--dask-workers {dask_workers} is not positive")
    if chunk_size is not None and chunk_size < 1:
        raise InputError(f"--chunk-size {chunk_size} is not positive; use a few thousand")
    # Start what takes longest first, each on its own core: Prefect's server, before anything
    # heavy is imported here (an unchanged re-run stops it unused), then the ingest (the flow
    # adopts it). Then load the suggester here, so that a missing bundle fails before any flow.
    collector.pause()  # until the models and Prefect are loaded
    _quiet_prefect()
    server = _launch_prefect_server()
    try:
        from pipeline.batch import (
            DEFAULT_CHUNK_SIZE,
            DEFAULT_SUGGESTER_FACTORY,
            IngestRequest,
            NullProgress,
            ProgressBar,
            cancel_ingest,
            distributed_notice,
            fork_coder,
            reporting,
            start_ingest,
            unchanged_summary,
            warm_up,
        )
        from pipeline.store import db_url

        url = db_url(db)
        if dask_address is not None or dask_workers is not None:
            typer.echo(distributed_notice(url, dask_address), err=True)
        factory = suggester or DEFAULT_SUGGESTER_FACTORY
        chunks = DEFAULT_CHUNK_SIZE if chunk_size is None else chunk_size
        split_ahead = factory == DEFAULT_SUGGESTER_FACTORY  # the ingest splits, not coding
        # Unchanged files already finished by this bundle: answer from the store, no flow. Checked
        # before the ingest starts: measured, an ingest process started first and stopped unused
        # made such a re-run 0.3 s slower (1.0 -> 1.3 s), competing for the cores.
        unchanged = unchanged_summary(
            files, db_url=url, model=model, columns=columns, factory=factory
        )
        request = IngestRequest.of(
            files, quarantine=quarantine, chunk_size=chunks, columns=columns, sentences=split_ahead
        )
        if unchanged is None:
            start_ingest(request)
    except BaseException:
        if server is not None:
            server.stop()
        raise
    if unchanged is not None:
        if server is not None:
            server.stop()
        collector.settle()
        _print_batch_summary(unchanged, as_json)
        return
    from pydantic import SecretStr

    reporter = ProgressBar() if sys.stderr.isatty() else NullProgress()
    try:
        with _prefect_start_up(), _prefect_server_in_background(server) as server_ready:
            bundle = warm_up(factory, model, url, split_ahead=split_ahead)  # tasks reuse it
            from flows.batch import code_batch

            collector.settle()
            server_ready()
            if dask_address is None and dask_workers is None:
                # The second coder: a copy of this process, model loaded, before Prefect runs.
                fork_coder(request.work_dir, factory, bundle.bundle_dir, url)
            with reporting(reporter):
                summary = code_batch(
                    paths=files,
                    db=SecretStr(url),
                    model=model,
                    chunk_size=chunks,
                    quarantine=quarantine,
                    columns=columns,
                    dask_address=dask_address,
                    dask_workers=dask_workers,
                    retries=retries,
                    suggester_factory=factory,
                )
    finally:
        cancel_ingest()  # an ingest the flow never adopted
    _print_batch_summary(summary, as_json)


def _print_batch_summary(summary: BatchSummary, as_json: bool) -> None:
    """Print a batch summary as one JSON line or as text."""
    if as_json:
        emit_json(summary.to_dict())
    else:
        typer.echo(summary.format())


@app.command("retrain")
@reports_errors
def retrain(
    db: DbOption = None,
    include_bulk: Annotated[
        bool,
        typer.Option("--include-bulk", help="Also learn from bulk-accepted decisions."),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Promote the new bundle even if it is not better.")
    ] = False,
    metric: Annotated[
        str, typer.Option("--metric", help="Comparison: macro_f1 or micro_f1.")
    ] = "macro_f1",
    as_json: JsonOption = False,
) -> None:
    """Train a bundle from reviewed codes; promote it only if it beats the one in use."""
    from pydantic import SecretStr

    from pipeline.store import db_url

    url = db_url(db)
    _quiet_prefect()
    from flows.retrain import retrain as retrain_flow

    with _prefect_start_up():
        report = retrain_flow(
            db=SecretStr(url), include_bulk=include_bulk, force=force, metric=metric
        )
    if as_json:
        emit_json(report)
        return
    from training.retrain import RetrainReport

    typer.echo(RetrainReport(**report).format())
