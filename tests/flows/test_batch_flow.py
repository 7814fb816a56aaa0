"""The ``code_batch`` flow and ``nearmiss batch``.

Counts that reconcile, double runs, crash and resume, a store that goes away, a local Dask cluster,
and no narrative text in Prefect.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from typer.testing import CliRunner

from flows.batch import code_batch
from pipeline.batch import BatchSummary, ahead
from pipeline.cli import app
from pipeline.errors import BundleError
from pipeline.store import Narrative, Suggestion, SuggestionSet, dispose_engines, session_scope
from tests.flows import fakes
from tests.flows.conftest import write_export

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
pytestmark = pytest.mark.usefixtures("data_dir")


def _run(paths: list[Path], store: str, **options: object) -> BatchSummary:
    options.setdefault("suggester_factory", fakes.FACTORY)
    options.setdefault("retries", 0)
    options.setdefault("ingest_process", False)  # a child process each run: tested where it matters
    return code_batch(paths=paths, db=SecretStr(store), **options)  # type: ignore[arg-type]


def _counts(store: str) -> tuple[int, int, int]:
    with session_scope(store) as session:
        return (
            int(session.scalar(select(func.count()).select_from(Narrative)) or 0),
            int(session.scalar(select(func.count()).select_from(SuggestionSet)) or 0),
            int(session.scalar(select(func.count()).select_from(Suggestion)) or 0),
        )


def _assert_whole(store: str) -> None:
    """Every narrative has at most one suggestion set per model, and every set all its codes."""
    with session_scope(store) as session:
        sizes = session.execute(
            select(Suggestion.set_id, func.count()).group_by(Suggestion.set_id)
        ).all()
        per_narrative = session.execute(
            select(SuggestionSet.narrative_id, func.count()).group_by(SuggestionSet.narrative_id)
        ).all()
    assert {count for _, count in sizes} <= {4}
    assert {count for _, count in per_narrative} <= {1}


def test_bad_rows_reconcile_in_flow_cli_and_status(store: str) -> None:
    exports = ROOT / "data" / "sample" / "exports"
    args = ["batch", str(exports), "--db", store, "--json"]
    result = runner.invoke(app, [*args, "--suggester-factory", fakes.FACTORY])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert summary["read"] == summary["ingested"] + summary["quarantined"] + summary["duplicates"]
    assert summary["ingested"] == summary["coded"] + summary["already_coded"]
    assert summary["quarantined"] == 4 and summary["reasons"]["blank_text"] == 1
    quarantined = Path(summary["quarantine"]).read_text("utf-8").splitlines()
    assert len(quarantined) == summary["quarantined"]
    assert all(json.loads(line)["reason"] for line in quarantined)
    status = runner.invoke(app, ["status", "--db", store, "--json"])
    assert json.loads(status.stdout)["by_status"]["pending"] == summary["ingested"]
    assert _counts(store)[1] == summary["coded"]
    assert not (Path(summary["quarantine"]).parent / "records.jsonl").exists()


def test_the_cli_ingests_once_in_a_child_process_that_the_flow_adopts(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[object] = []
    original = ahead.IngestProcess.__init__

    def counted(self: ahead.IngestProcess, request: ahead.IngestRequest) -> None:
        started.append(request)
        original(self, request)

    monkeypatch.setattr(ahead.IngestProcess, "__init__", counted)
    export = write_export(tmp_path / "export.csv", 12, bad=1)
    args = ["batch", str(export), "--db", store, "--json", "--suggester-factory", fakes.FACTORY]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["ingested"], summary["quarantined"], summary["coded"]) == (12, 1, 12)
    assert len(started) == 1  # started by the CLI before the flow, adopted by the flow


@pytest.mark.parametrize("ingest_process", [True, False], ids=["child-process", "in-process"])
def test_running_the_same_export_twice_adds_nothing_and_says_so(
    store: str, tmp_path: Path, ingest_process: bool
) -> None:
    export = write_export(tmp_path / "export.csv", 30, bad=2)
    first = _run([export], store, chunk_size=8, ingest_process=ingest_process)
    assert (first.ingested, first.quarantined, first.coded, first.stored) == (30, 2, 30, 30)
    assert first.chunks == 4 and first.reconciles
    before = _counts(store)
    second = _run([export], store, chunk_size=8)
    assert (second.stored, second.coded, second.already_coded) == (0, 0, 30)
    assert second.reconciles
    assert "Nothing new" in second.format()
    assert _counts(store) == before


def test_a_new_bundle_codes_everything_again_without_storing_twice(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = write_export(tmp_path / "export.csv", 12)
    _run([export], store)
    monkeypatch.setenv("NEARMISS_FAKE_NAME", "fake-v2")
    again = _run([export], store, model=tmp_path / "fake-v2")
    assert (again.model, again.stored, again.coded) == ("fake-v2", 0, 12)
    assert _counts(store)[:2] == (12, 24)


def test_a_missing_bundle_fails_before_anything_is_stored(store: str, tmp_path: Path) -> None:
    export = write_export(tmp_path / "export.csv", 3)
    with pytest.raises(BundleError, match="No bundle"):
        _run([export], store, suggester_factory="tests.flows.fakes:load_missing")
    result = runner.invoke(
        app,
        [
            "batch",
            str(export),
            "--db",
            store,
            "--suggester-factory",
            "tests.flows.fakes:load_missing",
        ],
    )
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("Error: No bundle")
    assert "Traceback" not in result.output


def test_crash_and_resume(store: str, tmp_path: Path, prefect_env: dict[str, str]) -> None:
    """Kill the process group mid-run; the re-run finishes without redoing finished chunks."""
    export = write_export(tmp_path / "export.csv", 120)
    log = tmp_path / "coded-1.txt"
    env = {**prefect_env, "NEARMISS_FAKE_DELAY": "0.4", "NEARMISS_FAKE_LOG": str(log)}
    command = [
        *(str(Path(sys.executable).parent / "nearmiss"), "batch", str(export), "--db", store),
        *("--chunk-size", "10", "--suggester-factory", fakes.FACTORY),
    ]
    process = subprocess.Popen(
        command,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            if (tmp_path / "store.sqlite3").exists() and _counts(store)[1] >= 30:
                break
            time.sleep(0.1)
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
        if process.stderr:
            process.stderr.close()
    dispose_engines()
    narratives, sets, _ = _counts(store)
    assert 30 <= sets < 120
    _assert_whole(store)
    with session_scope(store) as session:
        coded_before = set(session.scalars(select(Narrative.record_id).join(SuggestionSet)))
    resumed_log = tmp_path / "coded-2.txt"
    os.environ["NEARMISS_FAKE_LOG"] = str(resumed_log)
    try:
        resumed = _run([export], store, chunk_size=10)
    finally:
        del os.environ["NEARMISS_FAKE_LOG"]
    assert resumed.reconciles
    assert (resumed.ingested, resumed.already_coded) == (120, len(coded_before))
    assert resumed.coded == 120 - len(coded_before)
    assert resumed.stored == 120 - narratives
    recoded = set(resumed_log.read_text("utf-8").split())
    assert not recoded & coded_before, "finished chunks were coded again"
    assert _counts(store)[:2] == (120, 120)
    _assert_whole(store)


def _one_coder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Code every chunk in this process, where the in-process hooks see them."""
    from pipeline.config import get_settings

    monkeypatch.setenv("NEARMISS_BATCH_CODERS", "1")
    get_settings.cache_clear()


def _take_sqlite_away(path: Path, aside: Path) -> None:
    """Make a SQLite store unreachable, as an unmounted share would be."""
    dispose_engines()
    aside.mkdir()
    for suffix in ("", "-wal", "-shm"):
        source = path.with_name(path.name + suffix)
        if source.exists():
            shutil.move(source, aside / source.name)
    while True:  # a folder where the database file was: "unable to open database file"
        try:
            path.mkdir()
            break
        except FileExistsError:  # a connection since the move created an empty database there
            for suffix in ("", "-wal", "-shm"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)


def _bring_sqlite_back(path: Path, aside: Path) -> None:
    dispose_engines()
    if path.is_dir():
        path.rmdir()
    else:  # a connection made between the move and the mkdir created an empty database there
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
    for item in aside.iterdir():
        shutil.move(item, path.with_name(item.name))


def test_a_store_that_goes_away_mid_run_gives_a_clear_error_and_no_partial_records(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = write_export(tmp_path / "export.csv", 40)
    database, aside = tmp_path / "store.sqlite3", tmp_path / "aside"
    _one_coder(monkeypatch)  # the hook below sees this process's calls only

    def go_away(call: int) -> None:
        if call == 2:
            _take_sqlite_away(database, aside)

    monkeypatch.setattr(fakes, "BEFORE_SUGGEST", go_away)
    args = ["batch", str(export), "--db", store, "--chunk-size", "10", "--retries", "0"]
    result = runner.invoke(app, [*args, "--suggester-factory", fakes.FACTORY])
    assert result.exit_code == 1
    message = result.stderr.strip()
    assert message.startswith("Error: The store at sqlite:///") and "nothing was saved" in message
    assert len(message.splitlines()) == 1 and "Traceback" not in result.output
    _bring_sqlite_back(database, aside)
    monkeypatch.setattr(fakes, "BEFORE_SUGGEST", None)
    _assert_whole(store)
    narratives, sets, _ = _counts(store)
    assert sets < narratives <= 40
    resumed = _run([export], store, chunk_size=10)
    assert resumed.reconciles and resumed.coded == 40 - sets
    assert _counts(store)[:2] == (40, 40)
    _assert_whole(store)


def test_store_errors_are_retried(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = write_export(tmp_path / "export.csv", 20)
    database, aside = tmp_path / "store.sqlite3", tmp_path / "aside"
    monkeypatch.setattr("flows.batch.RETRY_DELAYS", [1.0])

    def blip(call: int) -> None:  # away for a moment, back before the retry
        if call == 1:
            _take_sqlite_away(database, aside)
            threading.Timer(0.2, _bring_sqlite_back, (database, aside)).start()

    monkeypatch.setattr(fakes, "BEFORE_SUGGEST", blip)
    summary = _run([export], store, retries=1)
    assert summary.coded == 20
    _assert_whole(store)


@pytest.mark.slow
def test_the_same_flow_runs_on_a_local_dask_cluster(store: str, tmp_path: Path) -> None:
    export = write_export(tmp_path / "export.csv", 30)
    summary = _run([export], store, chunk_size=10, dask_workers=1)
    assert (summary.coded, summary.chunks) == (30, 3) and summary.reconciles
    _assert_whole(store)


def test_no_narrative_text_reaches_prefect(store: str, tmp_path: Path) -> None:
    """Results are not persisted; what Prefect keeps (runs, states, the exceptions of failed
    runs) holds ids, counts and paths, never narrative text."""
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, PREFECT_SERVER_DATABASE_CONNECTION_URL

    export = write_export(tmp_path / "export.csv", 8)
    _run([export], store)
    storage = Path(PREFECT_LOCAL_STORAGE_PATH.value())
    stored = [path.read_bytes() for path in storage.glob("*")] if storage.exists() else []
    database = Path(str(PREFECT_SERVER_DATABASE_CONNECTION_URL.value()).split("///", 1)[1])
    kept = stored + [path.read_bytes() for path in database.parent.glob(database.name + "*")]
    for blob in stored:  # failed runs' exceptions, pickled and base64-encoded
        with contextlib.suppress(binascii.Error, ValueError):
            kept.append(base64.b64decode(blob))
    for blob in kept:
        assert b"fridge alarm" not in blob and b"weekly search" not in blob
