"""Ingest in a child process: the same result as here, adopted once, its errors raised here."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.batch import (
    IngestProcess,
    IngestRequest,
    PreparedBatch,
    cancel_ingest,
    early_chunk,
    finish_ingest,
    hash_inputs,
    read_span,
    run_ingest,
    start_ingest,
    wait_for_sentences,
)
from pipeline.batch.prepare import RECORDS_FILE
from pipeline.errors import InputError
from tests.flows.conftest import write_export


@pytest.fixture(autouse=True)
def no_leftover_processes() -> Iterator[None]:
    yield
    cancel_ingest()


def _request(tmp_path: Path, export: Path, name: str) -> IngestRequest:
    return IngestRequest.of([export], work_dir=tmp_path / name, chunk_size=7)


def _lines(prepared: PreparedBatch) -> list[str]:
    return prepared.records.read_text(encoding="utf-8").splitlines()


def test_a_child_process_ingests_exactly_what_this_process_does(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export.csv", 20, bad=2)
    here = run_ingest(_request(tmp_path, export, "here"), separate_process=False)
    there = run_ingest(_request(tmp_path, export, "there"), separate_process=True)
    same = {"seconds": 0, "output": "", "quarantine": ""}
    assert there.ingest.to_dict() | same == here.ingest.to_dict() | same
    assert (there.ingest.read, there.ingest.ingested, there.ingest.quarantined) == (22, 20, 2)
    assert _lines(there) == _lines(here)
    assert there.spans == here.spans and len(there.spans) == 3
    assert there.inputs == here.inputs == tuple(hash_inputs([export]))
    assert there.records == tmp_path / "there" / "records.jsonl"


def test_the_flow_adopts_the_ingest_started_for_the_same_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = write_export(tmp_path / "export.csv", 5)
    request = _request(tmp_path, export, "work")
    start_ingest(request)

    def not_here(self: IngestRequest) -> PreparedBatch:
        raise AssertionError("ingested again in this process")

    monkeypatch.setattr(IngestRequest, "run", not_here)
    prepared = run_ingest(request, separate_process=False)  # adopts the child, never runs here
    assert prepared.ingest.ingested == 5
    with pytest.raises(AssertionError, match="ingested again"):  # adopted once, then gone
        run_ingest(request, separate_process=False)


def test_an_ingest_for_another_request_in_the_same_folder_is_stopped_not_adopted(
    tmp_path: Path,
) -> None:
    export = write_export(tmp_path / "export.csv", 5)
    other = start_ingest(_request(tmp_path, export, "work"))  # chunks of 7
    request = IngestRequest.of([export], work_dir=tmp_path / "work", chunk_size=2)
    assert len(run_ingest(request, separate_process=False).spans) == 3
    assert other._process.poll() is not None  # never two writers in one work folder


def test_an_input_error_in_the_child_is_raised_here(tmp_path: Path) -> None:
    missing = tmp_path / "gone.csv"
    with pytest.raises(InputError, match=r"gone\.csv"):
        run_ingest(IngestRequest.of([missing], work_dir=tmp_path / "w"), separate_process=True)


def test_a_child_killed_midway_is_an_input_error_naming_its_exit_code(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export.csv", 50)
    ingest = IngestProcess(_request(tmp_path, export, "work"))
    ingest._process.kill()  # as the kernel's out-of-memory killer would
    with pytest.raises(InputError, match=r"ended without a result \(exit code -9\)"):
        ingest.result()


def test_cancel_stops_an_ingest_nobody_adopted(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export.csv", 50)
    ingest = start_ingest(_request(tmp_path, export, "work"))
    cancel_ingest()
    assert ingest._process.poll() is not None  # stopped, not left running


@pytest.mark.parametrize("level", [logging.INFO, logging.WARNING])
def test_the_child_logs_at_this_process_level(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], level: int
) -> None:
    export = write_export(tmp_path / "export.csv", 5)
    root = logging.getLogger()
    before = root.level
    root.setLevel(level)
    try:
        run_ingest(_request(tmp_path, export, "work"), separate_process=True)
    finally:
        root.setLevel(before)
    milestone = "INFO pipeline.ingest.ingestion: ingest: 5 read, 5 ingested"
    assert (milestone in capfd.readouterr().err) == (level == logging.INFO)


def test_an_ingest_that_splits_sentences_leaves_coding_nothing_to_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child fills the suggestion cache with what coding would compute from the records."""
    import pipeline.sentences
    from pipeline.config import get_settings
    from pipeline.suggest_cache import SuggestCache, prepare_cached

    monkeypatch.setenv("NEARMISS_CACHE_DIR", str(tmp_path / "cache"))
    get_settings.cache_clear()
    export = write_export(tmp_path / "export.csv", 20, bad=2)
    request = IngestRequest.of([export], work_dir=tmp_path / "work", chunk_size=7, sentences=True)
    prepared = run_ingest(request, separate_process=True)  # returns before the sentences
    # Full chunks were reported during ingest, split already, for the flow to code at once.
    assert [chunk.span for chunk in prepared.early] == list(prepared.spans[:2])
    assert [span.lines for span in prepared.spans] == [7, 7, 6]
    assert [wait_for_sentences(request.work_dir, span.index) for span in prepared.spans] == [
        True
    ] * len(prepared.spans)
    finish_ingest(request.work_dir)
    assert not wait_for_sentences(request.work_dir, 0)  # forgotten: nothing to wait for
    records = [record for span in prepared.spans for record in read_span(prepared.records, span)]
    expected = pipeline.sentences.prepare_records(records, redact=False)

    def no_splitting(*args: object, **kwargs: object) -> None:
        raise AssertionError("coding split a narrative the ingest had split")

    monkeypatch.setattr(pipeline.sentences, "prepare_records", no_splitting)
    cache = SuggestCache(tmp_path / "cache")
    assert prepare_cached(records, redact=False, cache=cache) == expected
    assert len(expected) == 20 and all(ready.sentences for ready in expected)
    get_settings.cache_clear()


def test_full_chunks_are_reported_before_the_ingest_ends(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export.csv", 1500)
    request = IngestRequest.of([export], work_dir=tmp_path / "work", chunk_size=500)
    start_ingest(request)
    first = early_chunk(request, 0)
    assert first is not None
    # The writer redacts 256 rows at a time: reported after 512, with about 1,000 rows to go.
    assert not request.work_dir.joinpath(RECORDS_FILE).exists()
    assert (first.span.index, first.span.start, first.span.lines) == (0, 0, 500)
    second = early_chunk(request, 1)  # after 1,024 rows
    assert second is not None
    assert (second.span.index, second.span.start, second.span.lines) == (1, first.span.stop, 500)
    assert early_chunk(request, 2) is None  # the last 500 follow no more: cut after ingest
    prepared = run_ingest(request)
    assert prepared.early == (first, second)
    assert [span.lines for span in prepared.spans] == [500, 500, 500]
    for chunk in (first, second):
        own = read_span(chunk.records, chunk.own_span)
        assert own == read_span(prepared.records, prepared.spans[chunk.span.index])


def test_no_early_chunk_when_the_records_fit_in_one(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export.csv", 7, bad=3)
    request = _request(tmp_path, export, "work")  # chunks of 7
    start_ingest(request)
    assert early_chunk(request, 0) is None  # waits for the ingest to end without one
    prepared = run_ingest(request)
    assert prepared.early == () and [span.lines for span in prepared.spans] == [7]
    assert not list(request.work_dir.glob("records.early-*"))


def test_no_early_chunk_without_a_process_for_the_request(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export.csv", 20)
    assert early_chunk(_request(tmp_path, export, "work"), 0) is None
    start_ingest(_request(tmp_path, export, "work"))
    other = IngestRequest.of([export], work_dir=tmp_path / "work", chunk_size=3)
    assert early_chunk(other, 0) is None  # the running process ingests another request


def test_an_ingest_without_sentences_leaves_the_cache_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEARMISS_CACHE_DIR", str(tmp_path / "cache"))
    from pipeline.config import get_settings

    get_settings.cache_clear()
    export = write_export(tmp_path / "export.csv", 5)
    run_ingest(_request(tmp_path, export, "work"), separate_process=False)
    assert not (tmp_path / "cache" / "suggestions.sqlite3").exists()
    get_settings.cache_clear()


def test_sentences_that_cannot_be_split_ahead_are_left_to_coding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A cache the child cannot write ends the splitting, never the batch."""
    from pipeline.config import get_settings

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be", encoding="utf-8")
    monkeypatch.setenv("NEARMISS_CACHE_DIR", str(blocked))
    get_settings.cache_clear()
    export = write_export(tmp_path / "export.csv", 10)
    request = IngestRequest.of([export], work_dir=tmp_path / "work", chunk_size=4, sentences=True)
    with caplog.at_level(logging.WARNING, logger="pipeline.batch.ahead"):
        prepared = run_ingest(request, separate_process=True)
        assert prepared.ingest.ingested == 10 and len(prepared.spans) == 3
        assert len(prepared.early) == 2  # reported all the same, for coding to split
        assert not wait_for_sentences(request.work_dir, 0)
        assert not wait_for_sentences(request.work_dir, 1)
        finish_ingest(request.work_dir)
    assert "coding splits them instead" in caplog.text
    get_settings.cache_clear()


def test_starting_an_ingest_imports_neither_the_store_nor_coding() -> None:
    # pipeline.batch loads its submodules on first use: a part (here what starts an ingest) is
    # imported without the others (the store, coding, a model, Prefect).
    code = (
        "import sys\n"
        "from pipeline.batch import DEFAULT_SUGGESTER_FACTORY, IngestRequest, start_ingest\n"
        "heavy = ('pipeline.store', 'pipeline.batch.coding', 'sklearn', 'prefect', 'spacy')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
        "from pipeline.batch import code_stored\n"
        "print('pipeline.batch.coding' in sys.modules, code_stored.__module__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["[]", "True pipeline.batch.coding"]
