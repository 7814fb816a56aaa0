"""Full chunks are stored and coded as the ingest process writes them, while it redacts the rest."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

import pipeline.batch
from pipeline.batch import BatchSummary, NullProgress, PreparedBatch, Span, reporting
from pipeline.batch.prepare import EARLY_RECORDS_FILE, RECORDS_FILE
from pipeline.errors import InputError
from tests.flows.conftest import run_flow, write_export

pytestmark = pytest.mark.usefixtures("data_dir")


def _run(export: Path, store: str, *, work_dir: Path, ingest_process: bool = True) -> BatchSummary:
    return run_flow([export], store, chunk_size=8, work_dir=work_dir, ingest_process=ingest_process)


@pytest.fixture
def stored_spans(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Record which file and chunk each store task reads."""
    calls: list[tuple[str, int]] = []
    original = pipeline.batch.store_chunk

    def spy(records: Path, span: Span, *args: Any, **kwargs: Any) -> Any:
        calls.append((records.name, span.index))
        return original(records, span, *args, **kwargs)

    monkeypatch.setattr(pipeline.batch, "store_chunk", spy)
    return calls


def test_full_chunks_come_from_the_ingest_before_it_ends(
    store: str, tmp_path: Path, stored_spans: list[tuple[str, int]]
) -> None:
    export = write_export(tmp_path / "export.csv", 30, bad=2)
    summary = _run(export, store, work_dir=tmp_path / "work")
    assert stored_spans == [  # each read from its own file, before the records file is there
        (EARLY_RECORDS_FILE.format(0), 0),
        (EARLY_RECORDS_FILE.format(1), 1),
        (EARLY_RECORDS_FILE.format(2), 2),
        (RECORDS_FILE, 3),  # the last 6, once ingest is done
    ]
    assert (summary.read, summary.ingested, summary.quarantined, summary.chunks) == (32, 30, 2, 4)
    assert (summary.stored, summary.coded, summary.already_coded) == (30, 30, 0)
    assert summary.reconciles
    left = sorted(path.name for path in (tmp_path / "work").iterdir())
    assert left == ["quarantine.jsonl"]  # the records files are gone, the quarantine stays


def test_the_progress_bar_counts_from_the_first_chunk_and_gets_its_total_from_the_ingest(
    store: str, tmp_path: Path
) -> None:
    seen: list[tuple[str, int | None]] = []

    class Recorder(NullProgress):
        def start(self, total: int | None) -> None:
            seen.append(("start", total))

        def advance(self, count: int) -> None:
            seen.append(("advance", count))

    export = write_export(tmp_path / "export.csv", 30, bad=2)
    with reporting(Recorder()):
        summary = _run(export, store, work_dir=tmp_path / "work")
    assert summary.coded == 30
    assert [event for event in seen if event[0] == "start"] == [("start", None), ("start", 30)]
    assert seen[0] == ("start", None)  # before any chunk was counted
    assert sum(count or 0 for kind, count in seen if kind == "advance") == 30


def test_early_chunks_stored_and_coded_before_are_counted_once(
    store: str, tmp_path: Path, stored_spans: list[tuple[str, int]]
) -> None:
    export = write_export(tmp_path / "export.csv", 30)
    _run(export, store, work_dir=tmp_path / "work", ingest_process=False)
    again = _run(export, store, work_dir=tmp_path / "work")
    assert [name for name, _ in stored_spans[-4:]] == [
        *(EARLY_RECORDS_FILE.format(index) for index in range(3)),
        RECORDS_FILE,
    ]
    assert (again.ingested, again.stored, again.coded, again.already_coded) == (30, 0, 0, 30)
    assert again.reconciles


@pytest.mark.parametrize(("row", "record_id"), [(2, "GP-00001"), (12, "GP-00011")])
def test_id_conflicts_in_early_chunks_reach_the_quarantine_file(
    store: str, tmp_path: Path, row: int, record_id: str
) -> None:
    export = write_export(tmp_path / "export.csv", 20)
    _run(export, store, work_dir=tmp_path / "one", ingest_process=False)
    rows = list(csv.reader(export.open(encoding="utf-8", newline="")))
    rows[row][3] = "Edited: the repeat prescription was checked twice before it was signed."
    edited = tmp_path / "edited.csv"
    with edited.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    summary = _run(edited, store, work_dir=tmp_path / "two")
    assert (summary.ingested, summary.quarantined, summary.reasons) == (19, 1, {"id_conflict": 1})
    assert summary.reconciles
    quarantined = Path(summary.quarantine).read_text("utf-8").splitlines()
    (line,) = [json.loads(text) for text in quarantined]
    assert (line["record"]["id"], line["row"]) == (record_id, row)
    assert line["reason"].startswith("id_conflict: ")
    assert sorted(path.name for path in (tmp_path / "two").iterdir()) == ["quarantine.jsonl"]


def test_an_ingest_that_disowns_its_early_chunks_fails_the_run(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a retried ingest of exports that changed meanwhile would: never counted twice."""
    original = pipeline.batch.run_ingest

    def retried(*args: Any, **kwargs: Any) -> PreparedBatch:
        return dataclasses.replace(original(*args, **kwargs), early=())

    monkeypatch.setattr(pipeline.batch, "run_ingest", retried)
    export = write_export(tmp_path / "export.csv", 20)
    with pytest.raises(InputError, match="exports changed during the batch"):
        _run(export, store, work_dir=tmp_path / "work")
