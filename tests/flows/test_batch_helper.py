"""The ingest process codes chunks too, once it has ingested: same store, both cores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pipeline.batch import BatchSummary
from pipeline.store import SuggestionSet, session_scope
from tests.flows.conftest import run_flow, write_export

pytestmark = pytest.mark.usefixtures("data_dir")


def _run(export: Path, store: str) -> BatchSummary:
    return run_flow([export], store, chunk_size=5, ingest_process=True)


def _sets(store: str) -> int:
    with session_scope(store) as session:
        return int(session.scalar(select(func.count()).select_from(SuggestionSet)) or 0)


def test_chunks_are_coded_in_both_processes(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pids = tmp_path / "pids.txt"
    monkeypatch.setenv("NEARMISS_FAKE_PIDS", str(pids))
    monkeypatch.setenv("NEARMISS_FAKE_DELAY", "0.3")  # long enough for both to take chunks
    export = write_export(tmp_path / "export.csv", 40, bad=2)
    summary = _run(export, store)
    assert (summary.read, summary.ingested, summary.quarantined) == (42, 40, 2)
    assert (summary.coded, summary.already_coded) == (40, 0)
    assert _sets(store) == 40
    calls = pids.read_text(encoding="utf-8").split()
    assert len(calls) == 8  # one per chunk of 5
    assert str(os.getpid()) in calls and len(set(calls)) == 2


def test_a_chunk_whose_second_coder_dies_is_coded_here(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NEARMISS_FAKE_ONLY_PID", str(os.getpid()))  # any other process dies
    monkeypatch.setenv("NEARMISS_FAKE_DELAY", "0.3")
    export = write_export(tmp_path / "export.csv", 30)
    summary = _run(export, store)
    assert (summary.ingested, summary.coded, summary.already_coded) == (30, 30, 0)
    assert _sets(store) == 30
    assert "coding its chunk here" in caplog.text
