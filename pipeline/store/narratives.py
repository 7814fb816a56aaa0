"""Narratives in the store: idempotent insertion, status counts and purging.

Each function works inside the caller's transaction (see :func:`~pipeline.store.session_scope`),
so one chunk of records is one transaction: it is stored whole or not at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Select, Table, and_, delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from pipeline.errors import InputError
from pipeline.record import Record
from pipeline.store.inputs import forget_finished_inputs
from pipeline.store.models import STATUSES, Decision, Narrative, Purge, Suggestion, SuggestionSet

__all__ = [
    "PurgeReport",
    "StatusCount",
    "StatusSummary",
    "add_narratives",
    "content_hash",
    "purge_narratives",
    "status_summary",
]

logger = logging.getLogger(__name__)

# Rows per statement: keeps IN lists and multi-row INSERTs far below SQLite's variable limit.
_BATCH = 500


def content_hash(record: Record) -> str:
    """Return the SHA-256 of a record's content: text, sections, practice and event date.

    The record's ``id``, ``source`` and ``row`` are left out, so the same narrative re-ingested
    from a renamed or re-exported file is recognised as already stored.

    Examples
    --------
    >>> a = Record(id="a", text="Wrong patient selected", practice="Y1", source="x.csv", row=2)
    >>> b = Record(id="b", text="Wrong patient selected", practice="Y1", source="y.csv", row=9)
    >>> content_hash(a) == content_hash(b)
    True
    """
    payload = {
        "text": record.text,
        "sections": record.sections or None,
        "practice": record.practice,
        "event_date": record.event_date.isoformat() if record.event_date else None,
    }
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def add_narratives(session: Session, records: Iterable[Record]) -> tuple[list[int], list[int]]:
    """Store records as ``pending`` narratives, skipping those already stored.

    Parameters
    ----------
    session : Session
        A session inside a write transaction (``session_scope(url, write=True)``).
    records : iterable of Record
        De-identified records, one chunk (a few thousand at most).

    Returns
    -------
    tuple of (list of int, list of int)
        Store ids of the narratives inserted, and of those already present (same content hash,
        including repeats within the chunk), each in input order.

    Raises
    ------
    InputError
        If a record's ``id`` is already stored, or repeated in the chunk, with other content.
        Nothing from the chunk is kept once the transaction rolls back.
    """
    chunk = list(records)
    hashes = [content_hash(record) for record in chunk]
    _check_id_conflicts(session, chunk, hashes)
    known = _ids_by_hash(session, set(hashes))
    rows: dict[str, dict[str, Any]] = {}
    for record, digest in zip(chunk, hashes, strict=True):
        if digest not in known and digest not in rows:
            rows[digest] = _row(record, digest)
    inserted_hashes: set[str] = set()
    values = list(rows.values())
    if values:
        # One cached statement run for many parameter sets (SQLAlchemy batches them into
        # multi-row INSERTs itself), not a fresh 500-row VALUES clause compiled per batch.
        table = cast(Table, Narrative.__table__)
        statement = (
            _insert(session, table)
            .on_conflict_do_nothing()
            .returning(table.c.id, table.c.content_hash)
        )
        for narrative_id, digest in session.execute(statement, values):
            known[digest] = narrative_id
            inserted_hashes.add(digest)
    missing = set(hashes) - known.keys()
    if missing:
        # Inserted by a concurrent writer under the same record id but other content.
        known |= _ids_by_hash(session, missing)
        if set(hashes) - known.keys():
            raise InputError("Records changed while being stored by another process; re-run")
    inserted: list[int] = []
    present: list[int] = []
    for digest in hashes:
        if digest in inserted_hashes:
            inserted.append(known[digest])
            inserted_hashes.discard(digest)
        else:
            present.append(known[digest])
    logger.info("Stored %d narratives, %d already present", len(inserted), len(present))
    return inserted, present


def _insert(session: Session, table: Table) -> Any:
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)


def _row(record: Record, digest: str) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    return {
        "record_id": record.id,
        "content_hash": digest,
        "text": record.text,
        "sections": record.sections or None,
        "practice": record.practice,
        "event_date": record.event_date,
        "source": record.source,
        "source_row": record.row,
        "status": "pending",
        "created_at": now,
        "status_changed_at": now,
    }


def _ids_by_hash(session: Session, hashes: Collection[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    ordered = sorted(hashes)
    for start in range(0, len(ordered), _BATCH):
        query = select(Narrative.content_hash, Narrative.id).where(
            Narrative.content_hash.in_(ordered[start : start + _BATCH])
        )
        found.update({digest: narrative_id for digest, narrative_id in session.execute(query)})
    return found


def _check_id_conflicts(session: Session, chunk: Sequence[Record], hashes: Sequence[str]) -> None:
    wanted: dict[str, str] = {}
    conflicts: set[str] = set()
    for record, digest in zip(chunk, hashes, strict=True):
        if wanted.setdefault(record.id, digest) != digest:
            conflicts.add(record.id)
    ids = sorted(wanted)
    for start in range(0, len(ids), _BATCH):
        query = select(Narrative.record_id, Narrative.content_hash).where(
            Narrative.record_id.in_(ids[start : start + _BATCH])
        )
        conflicts.update(rid for rid, digest in session.execute(query) if wanted[rid] != digest)
    if conflicts:
        shown = ", ".join(sorted(conflicts)[:5])
        raise InputError(
            f"{len(conflicts)} record id(s) are already stored with other content ({shown}); "
            "give an edited narrative a new id, or purge the old one first"
        )


@dataclass(frozen=True, slots=True)
class StatusCount:
    """How many narratives of one practice (``None``: no practice) have one status."""

    practice: str | None
    status: str
    count: int


@dataclass(frozen=True, slots=True)
class StatusSummary:
    """Narrative counts by practice and status."""

    counts: tuple[StatusCount, ...]

    @property
    def total(self) -> int:
        """All narratives counted."""
        return sum(row.count for row in self.counts)

    @property
    def by_status(self) -> dict[str, int]:
        """Counts per status, every status present (zero when none)."""
        totals = dict.fromkeys(STATUSES, 0)
        for row in self.counts:
            totals[row.status] = totals.get(row.status, 0) + row.count
        return totals

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready summary: ``total``, ``by_status`` and ``by_practice``."""
        by_practice: dict[str, dict[str, int]] = {}
        for row in self.counts:
            counts = by_practice.setdefault(row.practice or "", dict.fromkeys(STATUSES, 0))
            counts[row.status] = row.count
        return {"total": self.total, "by_status": self.by_status, "by_practice": by_practice}


def status_summary(session: Session, practices: Collection[str] | None = None) -> StatusSummary:
    """Count narratives by practice and status.

    Parameters
    ----------
    session : Session
        An open session.
    practices : collection of str or None
        Count only these practices (a user's scope); ``None`` counts all.

    Returns
    -------
    StatusSummary
        Rows ordered by practice (no practice first) then status.
    """
    query = select(Narrative.practice, Narrative.status, func.count()).group_by(
        Narrative.practice, Narrative.status
    )
    if practices is not None:
        query = query.where(Narrative.practice.in_(sorted(practices)))
    rows = [
        StatusCount(practice, status, count) for practice, status, count in session.execute(query)
    ]
    rows.sort(key=lambda row: (row.practice is not None, row.practice or "", row.status))
    return StatusSummary(tuple(rows))


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What a purge deleted (counts only)."""

    narratives: int
    suggestion_sets: int
    suggestions: int
    decisions: int


def purge_narratives(
    session: Session, before: dt.date, *, actor: str, practice: str | None = None
) -> PurgeReport:
    """Delete narratives from before a date, with their suggestions and decisions.

    A narrative's date is its ``event_date``; one without an event date is purged by the date it
    was stored, so that undated narratives are not kept for ever. The purge itself is recorded
    (cut-off, practice, count and actor, no content). When anything is deleted, the records of
    finished batch inputs are forgotten too, so that re-running an export stores it again.

    Parameters
    ----------
    session : Session
        A session inside a write transaction.
    before : date
        Narratives dated strictly before this day are deleted.
    actor : str
        Who asked for the purge, for the audit record.
    practice : str or None
        Purge only this practice's narratives.

    Returns
    -------
    PurgeReport
        How many rows of each kind were deleted.
    """
    midnight = dt.datetime.combine(before, dt.time(), tzinfo=dt.UTC)
    condition = or_(
        Narrative.event_date < before,
        and_(Narrative.event_date.is_(None), Narrative.created_at < midnight),
    )
    if practice is not None:
        condition = and_(condition, Narrative.practice == practice)
    by_narrative = select(func.count()).select_from(Narrative)
    sets = by_narrative.join(SuggestionSet, SuggestionSet.narrative_id == Narrative.id)
    report = PurgeReport(
        narratives=_count(session, by_narrative.where(condition)),
        suggestion_sets=_count(session, sets.where(condition)),
        suggestions=_count(
            session, sets.join(Suggestion, Suggestion.set_id == SuggestionSet.id).where(condition)
        ),
        decisions=_count(
            session,
            by_narrative.join(Decision, Decision.narrative_id == Narrative.id).where(condition),
        ),
    )
    # The database cascades the delete to suggestion sets, suggestions and decisions.
    session.execute(
        delete(Narrative).where(condition), execution_options={"synchronize_session": False}
    )
    if report.narratives:
        # Files a batch finished may have held purged narratives: re-running them must store
        # those again, so no file counts as finished any more.
        forget_finished_inputs(session)
    session.expire_all()
    session.add(Purge(before=before, practice=practice, narratives=report.narratives, actor=actor))
    session.flush()
    logger.info("Purged %d narratives dated before %s", report.narratives, before)
    return report


def _count(session: Session, query: Select[Any]) -> int:
    return int(session.scalar(query) or 0)
