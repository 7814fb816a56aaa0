"""Finished batch inputs and the fast suggestion insert, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import select

from pipeline.evidence import Evidence
from pipeline.ingest.summary import FileSummary
from pipeline.store import (
    FileCounts,
    InputKey,
    Suggestion,
    SuggestionSet,
    add_narratives,
    add_suggestion_sets,
    add_suggestions,
    finished_inputs,
    hash_input,
    purge_narratives,
    record_finished_inputs,
    session_scope,
)
from pipeline.suggestion import CodeSuggestion
from pipeline.suggestion import SuggestionSet as Line
from tests.pipeline.store_support import make_records

pytest_plugins = ("tests.pipeline.store_fixtures",)


def _counts(source: str, read: int) -> FileCounts:
    return FileCounts(FileSummary(source, "csv", "utf-8", read, read - 1, 1, 0), "/tmp/q.jsonl")


def test_hash_input_is_content_and_size(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_bytes(b"ID,Description\n1,x\n")
    b.write_bytes(b"ID,Description\n1,x\n")
    assert hash_input(a) == hash_input(b)
    assert hash_input(a).size == 19
    b.write_bytes(b"ID,Description\n1,y\n")
    assert hash_input(a) != hash_input(b)


def test_finished_inputs_are_found_by_content_options_and_model(store_url: str) -> None:
    one, two = InputKey("a" * 64, 10), InputKey("b" * 64, 20)
    with session_scope(store_url, write=True) as session:
        record_finished_inputs(session, [(one, _counts("one.csv", 5))], options="o1", model="m1")
    with session_scope(store_url) as session:
        assert finished_inputs(session, [one, two], options="o1", model="m1") == {
            one: _counts("one.csv", 5)
        }
        assert finished_inputs(session, [one], options="o1", model="m2") == {}
        assert finished_inputs(session, [one], options="o2", model="m1") == {}
        assert finished_inputs(session, [InputKey("a" * 64, 11)], options="o1", model="m1") == {}


def test_recording_a_file_again_replaces_its_counts(store_url: str) -> None:
    key = InputKey("c" * 64, 30)
    for read in (5, 7):
        with session_scope(store_url, write=True) as session:
            record_finished_inputs(session, [(key, _counts("x.csv", read))], options="o", model="m")
    with session_scope(store_url) as session:
        assert finished_inputs(session, [key], options="o", model="m")[key].file.read == 7


def test_a_purge_forgets_finished_inputs_only_when_it_deletes(store_url: str) -> None:
    key = InputKey("d" * 64, 40)
    with session_scope(store_url, write=True) as session:
        add_narratives(session, make_records(3))
        record_finished_inputs(session, [(key, _counts("x.csv", 4))], options="o", model="m")
    with session_scope(store_url, write=True) as session:
        purge_narratives(session, dt.date(2000, 1, 1), actor="test")  # deletes nothing
    with session_scope(store_url) as session:
        assert key in finished_inputs(session, [key], options="o", model="m")
    with session_scope(store_url, write=True) as session:
        assert purge_narratives(session, dt.date(2100, 1, 1), actor="test").narratives == 3
    with session_scope(store_url) as session:
        assert finished_inputs(session, [key], options="o", model="m") == {}


def _sets(records: list[Any], model: str) -> list[Line]:
    return [
        Line(
            id=record.id,
            model=model,
            suggestions={
                "outcome": (
                    CodeSuggestion(
                        "near_miss",
                        0.875,
                        True,
                        (Evidence("Caught by the pharmacist – in time.", "what_happened"),),
                    ),
                    CodeSuggestion("harm_incident", 0.0625, False),
                ),
                "recovery": (CodeSuggestion("human", 1.0, True, (Evidence("x", None),)),),
            },
        )
        for record in records
    ]


def _stored(store_url: str, model: str) -> list[tuple[Any, ...]]:
    with session_scope(store_url) as session:
        rows = session.execute(
            select(
                SuggestionSet.narrative_id,
                Suggestion.scheme,
                Suggestion.code,
                Suggestion.score,
                Suggestion.selected,
                Suggestion.evidence,
            )
            .join(Suggestion, Suggestion.set_id == SuggestionSet.id)
            .where(SuggestionSet.model == model)
            .order_by(SuggestionSet.narrative_id, Suggestion.id)
        )
        return [tuple(row) for row in rows]


def test_suggestion_sets_as_objects_store_what_the_contract_stores(store_url: str) -> None:
    records = make_records(4)
    with session_scope(store_url, write=True) as session:
        add_narratives(session, records)
        fast = add_suggestion_sets(session, _sets(records, "fast"))
        slow = add_suggestions(session, [line.to_dict() for line in _sets(records, "slow")])
    assert len(fast.stored) == len(slow.stored) == 4
    stored = _stored(store_url, "fast")
    assert stored == _stored(store_url, "slow")
    assert len(stored) == 12
    assert stored[0][3:] == (
        0.875,
        True,
        [{"text": "Caught by the pharmacist – in time.", "section": "what_happened"}],
    )
    assert stored[1][3:] == (0.0625, False, [])
    with session_scope(store_url, write=True) as session:
        again = add_suggestion_sets(session, _sets(records, "fast"))
    assert (len(again.stored), len(again.already_present)) == (0, 4)
