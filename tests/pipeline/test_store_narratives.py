"""Narratives in the store: idempotent insertion, status counts and purging, on both backends."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, update

from pipeline.errors import InputError
from pipeline.record import Record
from pipeline.store import (
    Decision,
    Narrative,
    Purge,
    Suggestion,
    SuggestionSet,
    add_narratives,
    add_suggestions,
    content_hash,
    purge_narratives,
    record_decision,
    session_scope,
    status_summary,
)
from pipeline.store import narratives as store_narratives
from tests.pipeline.store_support import make_records

# The store fixtures (`store_url`, `backend`), parametrised over SQLite and PostgreSQL.
pytest_plugins = ("tests.pipeline.store_fixtures",)


def _count(url: str, model: type) -> int:
    with session_scope(url) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_add_narratives_is_idempotent(store_url: str) -> None:
    records = make_records(5)
    with session_scope(store_url, write=True) as session:
        inserted, present = add_narratives(session, records[:3])
    assert len(inserted) == 3
    assert present == []
    with session_scope(store_url, write=True) as session:
        again, present = add_narratives(session, records)
    assert len(again) == 2
    assert present == inserted  # input order
    assert _count(store_url, Narrative) == 5


def test_repeats_within_a_chunk_and_renamed_sources_are_already_present(store_url: str) -> None:
    record = make_records(1)[0]
    moved = record.model_copy(update={"id": "other-id", "source": "renamed.csv", "row": 99})
    assert content_hash(moved) == content_hash(record)
    with session_scope(store_url, write=True) as session:
        inserted, present = add_narratives(session, [record, record, moved])
    assert len(inserted) == 1
    assert present == inserted * 2


def test_fields_round_trip(store_url: str) -> None:
    record = Record(
        id="sea-1",
        text="What happened: wrong patient. Why: two patients with one surname.",
        sections={"what_happened": "wrong patient", "why": "two patients with one surname"},
        practice="Y02417",
        event_date=dt.date(2019, 3, 12),
        source="seas.docx",
        row=4,
    )
    with session_scope(store_url, write=True) as session:
        (narrative_id,), _ = add_narratives(session, [record])
    with session_scope(store_url) as session:
        narrative = session.get_one(Narrative, narrative_id)
        assert narrative.record_id == "sea-1"
        assert narrative.sections == record.sections
        assert narrative.event_date == dt.date(2019, 3, 12)
        assert (narrative.practice, narrative.source, narrative.source_row) == (
            "Y02417",
            "seas.docx",
            4,
        )
        assert narrative.status == "pending"
        assert narrative.created_at.tzinfo is not None
        assert narrative.content_hash == content_hash(record)


def test_a_stored_id_with_other_content_rolls_back_the_chunk(store_url: str) -> None:
    first = make_records(1)[0]
    with session_scope(store_url, write=True) as session:
        add_narratives(session, [first])
    edited = first.model_copy(update={"text": "An edited narrative."})
    with pytest.raises(InputError, match="r-0000"), session_scope(store_url, write=True) as s:
        add_narratives(s, [*make_records(3, prefix="new"), edited])
    assert _count(store_url, Narrative) == 1


def test_chunks_larger_than_one_statement(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_narratives, "_BATCH", 4)
    with session_scope(store_url, write=True) as session:
        inserted, present = add_narratives(session, make_records(10))
        again, present = add_narratives(session, make_records(11))
    assert len(set(inserted)) == 10
    assert (len(again), present) == (1, inserted)


def test_status_summary(store_url: str) -> None:
    with session_scope(store_url, write=True) as session:
        ids, _ = add_narratives(session, make_records(3, practice="A"))
        add_narratives(session, make_records(2, practice="B", prefix="b"))
        add_narratives(session, [Record(id="x", text="No practice given.")])
        record_decision(session, ids[0], {"outcome": ["near_miss"]}, actor="ann")
    with session_scope(store_url) as session:
        summary = status_summary(session)
        scoped = status_summary(session, practices={"A"})
    assert summary.total == 6
    assert summary.by_status == {"pending": 5, "reviewed": 1}
    assert summary.as_dict()["by_practice"] == {
        "": {"pending": 1, "reviewed": 0},
        "A": {"pending": 2, "reviewed": 1},
        "B": {"pending": 2, "reviewed": 0},
    }
    assert scoped.by_status == {"pending": 2, "reviewed": 1}


def _suggestions(record_id: str) -> dict[str, object]:
    scored = {"code": "near_miss", "score": 0.9, "selected": True, "evidence": []}
    return {"id": record_id, "model": "m1", "suggestions": {"outcome": [scored]}}


def test_purge_deletes_everything_derived(store_url: str) -> None:
    old = make_records(3, practice="A", prefix="old")  # March 2021
    new = [
        r.model_copy(update={"event_date": dt.date(2024, 1, 1)})
        for r in make_records(2, prefix="n")
    ]
    other = make_records(2, practice="B", prefix="other")
    with session_scope(store_url, write=True) as session:
        old_ids, _ = add_narratives(session, [*old, *new, *other])
        add_suggestions(session, [_suggestions(r.id) for r in [*old, *new, *other]])
        record_decision(session, old_ids[0], {"outcome": ["near_miss"]}, actor="ann")
    with session_scope(store_url, write=True) as session:
        report = purge_narratives(session, dt.date(2022, 1, 1), practice="A", actor="dpo")
    assert (report.narratives, report.suggestion_sets, report.suggestions, report.decisions) == (
        3,
        3,
        3,
        1,
    )
    assert _count(store_url, Narrative) == 4
    assert _count(store_url, SuggestionSet) == 4
    assert _count(store_url, Suggestion) == 4
    assert _count(store_url, Decision) == 0
    with session_scope(store_url) as session:
        purge = session.scalars(select(Purge)).one()
        assert (purge.before, purge.practice, purge.narratives, purge.actor) == (
            dt.date(2022, 1, 1),
            "A",
            3,
            "dpo",
        )
    with session_scope(store_url, write=True) as session:
        assert purge_narratives(session, dt.date(2022, 1, 1), actor="dpo").narratives == 2


def test_purge_uses_the_stored_date_when_there_is_no_event_date(store_url: str) -> None:
    with session_scope(store_url, write=True) as session:
        add_narratives(session, [Record(id="undated", text="No date.")])
        session.execute(update(Narrative).values(created_at=dt.datetime(2020, 5, 1, tzinfo=dt.UTC)))
    with session_scope(store_url, write=True) as session:
        assert purge_narratives(session, dt.date(2020, 5, 1), actor="dpo").narratives == 0
        assert purge_narratives(session, dt.date(2020, 5, 2), actor="dpo").narratives == 1


def test_concurrent_writers_store_each_narrative_once(store_url: str) -> None:
    shared = make_records(10, prefix="shared")
    with session_scope(store_url):  # create the schema before the race
        pass

    def write(worker: int) -> tuple[list[int], list[int]]:
        own = make_records(10, practice=f"P{worker}", prefix=f"own{worker}")
        with session_scope(store_url, write=True) as session:
            return add_narratives(session, [*shared, *own])

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(write, range(4)))
    inserted = [i for ids, _ in results for i in ids]
    assert len(inserted) == len(set(inserted)) == 50
    assert sum(len(present) for _, present in results) == 30
    assert _count(store_url, Narrative) == 50
