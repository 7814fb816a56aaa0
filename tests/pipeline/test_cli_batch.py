"""``nearmiss batch`` fails fast on bad input, and quick commands never pay Prefect's start-up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nowhere.csv"], "nowhere.csv"),
        (["{export}", "--dask-address", "tcp://10.1.2.3:8786"], "cannot reach a SQLite store"),
        (["{export}", "--dask-address", "tcp://127.0.0.1:1", "--dask-workers", "2"], "not both"),
        (["{export}", "--dask-workers", "0"], "not positive"),
        (["{export}", "--retries", "-1"], "negative"),
        (["{export}", "--chunk-size", "0"], "not positive"),
        (["{export}", "--column", "nonsense"], "TARGET=COLUMN"),
    ],
)
def test_bad_batch_input_is_one_line_and_exit_1(
    args: list[str], message: str, tmp_path: Path
) -> None:
    export = tmp_path / "export.csv"
    export.write_text("ID,Description\n1,Wrong patient's results opened.\n", encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    argv = ["batch", *(a.format(export=export) for a in args), "--db", db]
    result = runner.invoke(app, argv)
    assert result.exit_code == 1, result.output
    assert result.stderr.strip().startswith("Error:")
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "store.sqlite3").exists()


def test_quick_commands_do_not_import_prefect() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from pipeline.cli import app\n"
        "for args in (['status', '--help'], ['batch', '--help'], ['purge', '--help']):\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0\n"
        "assert 'prefect' not in sys.modules, 'prefect was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=60)


class _Exited:
    """Stands for a server process that has already ended."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.env = env

    def poll(self) -> int:
        return 1


def test_the_temporary_server_runs_without_a_lasting_servers_services(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pipeline.cli

    launched: list[_Exited] = []

    def popen(command: list[str], env: dict[str, str]) -> _Exited:
        launched.append(_Exited(command, env))
        return launched[-1]

    monkeypatch.setattr(subprocess, "Popen", popen)
    monkeypatch.setenv("PREFECT_SERVER_EVENTS_STREAM_OUT_ENABLED", "true")  # the user's wins
    server = pipeline.cli._TemporaryServer()
    server.poller.join()
    env = launched[0].env
    assert env["PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED"] == "false"
    assert env["PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED"] == "false"
    assert env["PREFECT_SERVER_LOGS_STREAM_OUT_ENABLED"] == "false"
    assert env["PREFECT_SERVER_EVENTS_STREAM_OUT_ENABLED"] == "true"
    assert env["PREFECT_SERVER_REGISTER_BLOCKS_ON_START"] == "false"
    assert not server.answered.is_set()  # it ended without answering


def test_prefect_sends_no_telemetry_unless_the_user_allows_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    import pipeline.cli

    environment = {key: value for key, value in os.environ.items() if key != "DO_NOT_TRACK"}
    monkeypatch.setattr(os, "environ", environment)
    pipeline.cli._quiet_prefect()
    assert environment["DO_NOT_TRACK"] == "1"
    environment["DO_NOT_TRACK"] = "0"  # the user's choice stands
    pipeline.cli._quiet_prefect()
    assert environment["DO_NOT_TRACK"] == "0"
