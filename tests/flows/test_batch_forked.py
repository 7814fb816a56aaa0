"""The command forks its second coder once the suggester is loaded, before Prefect runs.

The copy codes chunks with the model already in memory, so that the ingest process never loads
it again; if the copy dies, its chunk is coded in the command and the ingest process helps as
before. Run as a user runs it: the command in its own process (a test runner's threads would stop
the fork, as they should).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from pipeline.store import SuggestionSet, session_scope
from tests.flows import fakes
from tests.flows.conftest import write_export

pytestmark = pytest.mark.usefixtures("data_dir")
pytest_plugins = ("tests.pipeline.store_fixtures",)  # store_url: SQLite and PostgreSQL


def _batch(export: Path, store: str, env: dict[str, str]) -> tuple[int, dict[str, Any], str]:
    """Run ``nearmiss -vv batch`` in its own process; return its pid, summary and stderr."""
    command = [
        *(str(Path(sys.executable).parent / "nearmiss"), "-vv", "batch", str(export)),
        *("--db", store, "--json", "--chunk-size", "5", "--suggester-factory", fakes.FACTORY),
    ]
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-3000:]
    return process.pid, json.loads(stdout.strip().splitlines()[-1]), stderr


def _sets(store: str) -> int:
    with session_scope(store) as session:
        return int(session.scalar(select(func.count()).select_from(SuggestionSet)) or 0)


def _forked_pid(stderr: str) -> str:
    found = re.search(r"coder forked as process (\d+)", stderr)
    assert found, "no coder was forked"
    return found.group(1)


def test_the_second_coder_is_the_command_forked_with_its_model(
    store_url: str, tmp_path: Path, prefect_env: dict[str, str]
) -> None:
    pids = tmp_path / "pids.txt"
    env = {**prefect_env, "NEARMISS_FAKE_PIDS": str(pids), "NEARMISS_FAKE_DELAY": "0.3"}
    export = write_export(tmp_path / "export.csv", 40, bad=2)
    command_pid, summary, stderr = _batch(export, store_url, env)
    assert (summary["read"], summary["ingested"], summary["quarantined"]) == (42, 40, 2)
    assert (summary["coded"], summary["already_coded"]) == (40, 0)
    assert _sets(store_url) == 40
    calls = pids.read_text(encoding="utf-8").split()
    assert len(calls) == 8  # one per chunk of 5
    assert set(calls) == {str(command_pid), _forked_pid(stderr)}  # never the ingest process
    # The suggester was built once, in the command: neither the copy nor the ingest loaded it.
    assert len(re.findall(r"suggester \S+ loaded in", stderr)) == 1


def test_a_forked_coder_that_dies_leaves_its_chunk_to_the_command(
    store: str, tmp_path: Path, prefect_env: dict[str, str]
) -> None:
    pids = tmp_path / "pids.txt"
    env = {
        **prefect_env,
        "NEARMISS_FAKE_PIDS": str(pids),
        "NEARMISS_FAKE_DELAY": "0.3",
        "NEARMISS_FAKE_NOT_FORKED": "1",
    }
    export = write_export(tmp_path / "export.csv", 40)
    command_pid, summary, stderr = _batch(export, store, env)
    assert (summary["ingested"], summary["coded"], summary["already_coded"]) == (40, 40, 0)
    assert _sets(store) == 40
    assert "the forked coder failed (EOFError); coding its chunk here" in stderr
    calls = pids.read_text(encoding="utf-8").split()
    assert len(calls) == 8
    assert _forked_pid(stderr) not in calls
    # The ingest process loaded the bundle and coded the chunks the copy could not.
    assert str(command_pid) in calls and len(set(calls)) == 2
