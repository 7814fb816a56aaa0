"""An unchanged re-run of ``nearmiss batch`` is answered from the store, without Prefect.

Anything else takes the full run: a changed file, a new file in a folder, another bundle, other
column options, a purge since, or a first run that never finished.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

import flows.batch
import pipeline.cli
from pipeline.cli import app
from pipeline.store import FinishedInput, Narrative, SuggestionSet, session_scope
from tests.flows import fakes
from tests.flows.conftest import write_export

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("data_dir")


class FlowSpy:
    """Counts flow runs; with ``allowed=False`` a flow run or a Prefect start-up fails the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.runs = 0
        self.allowed = True
        real = flows.batch.code_batch
        real_server = pipeline.cli._prefect_server_in_background

        def code_batch(**kwargs: Any) -> Any:
            assert self.allowed, "the flow ran for unchanged inputs"
            self.runs += 1
            return real(**kwargs)

        def server(launched: Any) -> Any:
            assert self.allowed, "Prefect's server was started for unchanged inputs"
            return real_server(launched)

        monkeypatch.setattr(flows.batch, "code_batch", code_batch)
        monkeypatch.setattr(pipeline.cli, "_prefect_server_in_background", server)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> FlowSpy:
    return FlowSpy(monkeypatch)


def _batch(store: str, *paths: Path, options: tuple[str, ...] = ()) -> dict[str, Any]:
    args = ["batch", *map(str, paths), "--db", store, "--json", "--retries", "0", *options]
    result = runner.invoke(app, [*args, "--suggester-factory", fakes.FACTORY])
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["read"] == summary["ingested"] + summary["quarantined"] + summary["duplicates"]
    assert summary["ingested"] == summary["coded"] + summary["already_coded"]
    return summary


def _counts(store: str) -> tuple[int, int, int]:
    with session_scope(store) as session:
        return tuple(  # type: ignore[return-value]
            int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in (Narrative, SuggestionSet, FinishedInput)
        )


def test_an_unchanged_rerun_skips_prefect_and_reconciles(
    store: str, tmp_path: Path, spy: FlowSpy
) -> None:
    export = write_export(tmp_path / "export.csv", 25, bad=2)
    first = _batch(store, export)
    assert (spy.runs, first["coded"], first["quarantined"]) == (1, 25, 2)
    before = _counts(store)
    assert before == (25, 25, 1)
    spy.allowed = False
    again = _batch(store, export)
    assert (again["coded"], again["stored"], again["already_coded"]) == (0, 0, 25)
    for key in ("read", "ingested", "quarantined", "duplicates", "model", "files"):
        assert again[key] == first[key], key
    text = runner.invoke(
        app, ["batch", str(export), "--db", store, "--suggester-factory", fakes.FACTORY]
    )
    assert text.exit_code == 0 and "Nothing new" in text.stdout
    assert _counts(store) == before


def test_a_changed_file_is_ingested_and_coded_again(
    store: str, tmp_path: Path, spy: FlowSpy
) -> None:
    export = write_export(tmp_path / "export.csv", 20)
    _batch(store, export)
    write_export(export, 24)  # the same 20 narratives and 4 new ones
    again = _batch(store, export)
    assert spy.runs == 2
    assert (again["stored"], again["coded"], again["already_coded"]) == (4, 4, 20)
    spy.allowed = False
    assert _batch(store, export)["coded"] == 0


def test_folders_are_keyed_per_file(store: str, tmp_path: Path, spy: FlowSpy) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    write_export(folder / "a.csv", 10)
    write_export(folder / "b.csv", 10, start=10)
    _batch(store, folder)
    write_export(folder / "c.csv", 5, start=20)
    again = _batch(store, folder)
    assert spy.runs == 2 and (again["stored"], again["coded"]) == (5, 5)
    spy.allowed = False
    unchanged = _batch(store, folder)
    assert [f["read"] for f in unchanged["files"]] == [10, 10, 5]
    assert _batch(store, folder / "b.csv")["already_coded"] == 10  # a file alone: still finished


def test_another_bundle_or_other_columns_take_the_full_run(
    store: str, tmp_path: Path, spy: FlowSpy, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = write_export(tmp_path / "export.csv", 8)
    _batch(store, export)
    monkeypatch.setenv("NEARMISS_FAKE_NAME", "fake-v2")
    v2 = ("--model", str(tmp_path / "fake-v2"))
    assert _batch(store, export, options=v2)["coded"] == 8
    assert spy.runs == 2
    again = _batch(store, export, options=("--column", "text=Description"))
    assert spy.runs == 3 and again["already_coded"] == 8
    spy.allowed = False
    assert _batch(store, export, options=v2)["already_coded"] == 8


def test_a_purge_means_the_full_run_again(store: str, tmp_path: Path, spy: FlowSpy) -> None:
    export = write_export(tmp_path / "export.csv", 12)
    _batch(store, export)
    purged = runner.invoke(app, ["purge", "--before", "2100-01-01", "--db", store, "--json"])
    assert purged.exit_code == 0, purged.output
    assert _counts(store) == (0, 0, 0)
    again = _batch(store, export)
    assert spy.runs == 2 and (again["stored"], again["coded"]) == (12, 12)


def test_an_interrupted_run_is_not_recorded(
    store: str, tmp_path: Path, spy: FlowSpy, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = write_export(tmp_path / "export.csv", 30)

    def crash(call: int) -> None:
        if call == 2:
            raise RuntimeError("the machine went down")

    monkeypatch.setattr(fakes, "BEFORE_SUGGEST", crash)
    args = ["batch", str(export), "--db", store, "--chunk-size", "10", "--retries", "0"]
    crashed = runner.invoke(app, [*args, "--suggester-factory", fakes.FACTORY])
    assert crashed.exit_code != 0 and "went down" in repr(crashed.exception)
    monkeypatch.setattr(fakes, "BEFORE_SUGGEST", None)
    narratives, sets, finished = _counts(store)
    assert finished == 0 and sets < 30
    resumed = _batch(store, export, options=("--chunk-size", "10"))
    assert spy.runs == 2 and resumed["coded"] == 30 - sets
    assert _counts(store) == (30, 30, 1)


@pytest.mark.slow
def test_without_a_prefect_server_the_cli_starts_and_stops_its_own(
    tmp_path: Path, prefect_env: dict[str, str]
) -> None:
    """No PREFECT_API_URL: a temporary server boots beside the models and is gone afterwards."""
    export = write_export(tmp_path / "export.csv", 6)
    env = {key: value for key, value in prefect_env.items() if key != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(tmp_path / "prefect")
    command = [
        *(str(Path(sys.executable).parent / "nearmiss"), "batch", str(export)),
        *("--db", f"sqlite:///{tmp_path / 'store.sqlite3'}", "--json"),
        *("--suggester-factory", fakes.FACTORY),
    ]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr.decode()
    assert json.loads(stdout.decode().strip().splitlines()[-1])["coded"] == 6
    assert b"Error" not in stderr
    with pytest.raises(ProcessLookupError):  # nothing of the run's process group is left
        os.killpg(process.pid, 0)
    # Unchanged: answered from the store; the server launched at the start is stopped unused.
    again = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    stdout, stderr = again.communicate(timeout=300)
    assert again.returncode == 0, stderr.decode()
    assert json.loads(stdout.decode().strip().splitlines()[-1])["already_coded"] == 6
    with pytest.raises(ProcessLookupError):
        os.killpg(again.pid, 0)


class _Launched:
    """Stands for a temporary server launched before Prefect was imported."""

    api = "http://127.0.0.1:9/api"

    def __init__(self) -> None:
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True

    def ready(self) -> None:
        raise AssertionError("waited for a server that Prefect's settings replace")


def test_a_server_launched_early_is_stopped_when_prefect_names_an_api(prefect_server: str) -> None:
    """An API in Prefect's settings (here the session's) wins; the early server is stopped."""
    from prefect.settings import PREFECT_API_URL

    assert pipeline.cli._launch_prefect_server() is None  # Prefect already names one
    launched = _Launched()
    with pipeline.cli._prefect_server_in_background(launched) as ready:  # type: ignore[arg-type]
        ready()
        assert PREFECT_API_URL.value() == prefect_server
    assert launched.stopped


def test_a_launched_server_is_used_and_stopped_if_the_command_fails_first() -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    launched = _Launched()
    with (
        temporary_settings(updates={PREFECT_API_URL: None}),
        pytest.raises(RuntimeError, match="bundle"),
        pipeline.cli._prefect_server_in_background(launched),  # type: ignore[arg-type]
    ):
        assert PREFECT_API_URL.value() == launched.api
        raise RuntimeError("no bundle")
    assert launched.stopped
