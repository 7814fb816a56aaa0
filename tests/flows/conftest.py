"""Flow tests: one Prefect test server for the whole session, in a temporary PREFECT_HOME.

Prefect's state and settings go to a throw-away folder (set before Prefect is first imported), its
analytics and task-run recorder are off and its console is quiet. ``prefect_test_harness`` starts a
temporary API server once per session (it takes several seconds); every flow test, and any
subprocess given :func:`prefect_env`, runs against it.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import SecretStr

_PREFECT_HOME = tempfile.mkdtemp(prefix="nearmiss-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED"] = "false"
os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "CRITICAL"

from prefect.settings import PREFECT_API_URL  # noqa: E402 (after the environment is set)
from prefect.testing.utilities import prefect_test_harness  # noqa: E402

from pipeline.store import dispose_engines  # noqa: E402
from pipeline.store.migration import forget_schemas  # noqa: E402
from tests.flows import fakes  # noqa: E402

if TYPE_CHECKING:
    from pipeline.batch import BatchSummary

PRACTICES = ("Synthetic Practice A", "Synthetic Practice B", "Synthetic Practice C")
STEPS = (
    "the repeat template carried the old dose",
    "the result was filed to the wrong patient",
    "the referral was never sent",
    "the fridge alarm was silenced",
)
CATCHES = (
    "the pharmacist queried it",
    "the practice's weekly search flagged it",
    "a receptionist noticed",
    "the patient rang to ask",
)


@pytest.fixture(scope="session", autouse=True)
def prefect_server() -> Iterator[str]:
    """Run every flow test against one temporary Prefect server; yield its API URL."""
    with prefect_test_harness(server_startup_timeout=120):
        yield str(PREFECT_API_URL.value())
    shutil.rmtree(_PREFECT_HOME, ignore_errors=True)


@pytest.fixture
def prefect_env(prefect_server: str) -> dict[str, str]:
    """Environment for a subprocess that runs flows against the session's Prefect server."""
    return {**os.environ, "PREFECT_API_URL": prefect_server}


@pytest.fixture(autouse=True)
def _fresh_engines() -> Iterator[None]:
    yield
    dispose_engines()
    forget_schemas()


def run_flow(paths: list[Path], store: str, **options: Any) -> BatchSummary:
    """Run ``code_batch`` on ``paths`` into ``store``.

    With the fake suggester and no retries, unless ``options`` say otherwise.
    """
    from flows.batch import code_batch

    options.setdefault("suggester_factory", fakes.FACTORY)
    options.setdefault("retries", 0)
    summary: BatchSummary = code_batch(paths=paths, db=SecretStr(store), **options)
    return summary


def write_export(path: Path, count: int, *, bad: int = 0, start: int = 0) -> Path:
    """Write a Datix-style CSV of ``count`` distinct narratives, then ``bad`` blank-text rows."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ID", "Practice", "Incident date", "Description"])
        for i in range(start, start + count):
            text = (
                f"Event {i}: {STEPS[i % len(STEPS)]} and {CATCHES[i // len(STEPS) % len(CATCHES)]}"
                f" before the patient was harmed (case {i})."
            )
            writer.writerow([f"GP-{i:05d}", PRACTICES[i % 3], f"{1 + i % 28:02d}/03/2024", text])
        for i in range(bad):
            writer.writerow([f"BAD-{i:03d}", PRACTICES[0], "01/03/2024", "   "])
    return path


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Keep batch work folders and caches under tmp_path."""
    from pipeline.config import get_settings

    monkeypatch.setenv("NEARMISS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NEARMISS_CACHE_DIR", str(tmp_path / "cache"))
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


@pytest.fixture
def store(tmp_path: Path) -> str:
    """A fresh SQLite store (created and migrated by the first flow that uses it)."""
    return f"sqlite:///{tmp_path / 'store.sqlite3'}"
