"""Store a chunk of records as pending narratives in one transaction; say what is left to code.

Idempotency lives here, in the store, not in the orchestrator: narratives are keyed by content hash,
so storing a chunk again inserts nothing, and a narrative already coded by the bundle in use is not
coded again. A record whose id is already stored with *other* content (an edited narrative
re-exported under its old id) cannot be stored; it is quarantined with a reason instead of failing
its whole chunk, so every row still ends up stored or quarantined.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.batch.chunks import Span, read_span
from pipeline.ingest.row import Reason
from pipeline.record import Record
from pipeline.store import (
    Narrative,
    SuggestionSet,
    add_narratives,
    content_hash,
    session_scope,
)

__all__ = ["StoredChunk", "coded_ids", "store_chunk"]

logger = logging.getLogger(__name__)

# Ids per IN (...) list, well under SQLite's variable limit.
_IN_BATCH = 500


@dataclass(frozen=True, slots=True)
class StoredChunk:
    """What storing one chunk did (ids and counts only, never text).

    Attributes
    ----------
    index : int
        The chunk's position in the records file.
    ids : tuple of int
        Store id of each record kept, in file order (repeated when two records have one content).
    inserted : int
        Narratives new to the store.
    conflicts : int
        Records quarantined because their id is stored with other content.
    conflict_sources : tuple of (str, int)
        Those records counted by source file (to correct per-file counts).
    uncoded : tuple of int
        Distinct store ids that the bundle has not coded yet.
    seconds : float
        Wall time.
    """

    index: int
    ids: tuple[int, ...]
    inserted: int
    conflicts: int
    conflict_sources: tuple[tuple[str, int], ...]
    uncoded: tuple[int, ...]
    seconds: float


def store_chunk(
    records_path: Path, span: Span, db_url: str, *, model: str, quarantine: Path
) -> StoredChunk:
    """Store a chunk of de-identified records as ``pending`` narratives in one transaction.

    Parameters
    ----------
    records_path : Path
        The records file written by ingest.
    span : Span
        The chunk to store.
    db_url : str
        Store URL.
    model : str
        Name of the bundle that will code the narratives (suggestion sets are keyed by it).
    quarantine : Path
        Quarantine file; records whose id is stored with other content are appended to it as
        ``{"source", "row", "reason", "record"}`` after the transaction commits.

    Returns
    -------
    StoredChunk
        Store ids in file order and those still to code.

    Raises
    ------
    StoreError
        If the store is unreachable or goes away; nothing of the chunk is kept.
    InputError
        If the records file changed since the chunk was planned.
    """
    started = time.perf_counter()
    records = read_span(records_path, span)
    hashes = [content_hash(record) for record in records]
    with session_scope(db_url, write=True) as session:
        conflicting = _conflicting_ids(session, records, hashes)
        kept = [(r, h) for r, h in zip(records, hashes, strict=True) if r.id not in conflicting]
        inserted, _ = add_narratives(session, [record for record, _ in kept])
        by_hash = _ids_by_hash(session, {digest for _, digest in kept})
        ids = tuple(by_hash[digest] for _, digest in kept)
        done = coded_ids(session, ids, model)
    uncoded = tuple(dict.fromkeys(i for i in ids if i not in done))
    rejected = [record for record in records if record.id in conflicting]
    if rejected:
        _quarantine(quarantine, rejected)
    sources = Counter(record.source or "" for record in rejected)
    chunk = StoredChunk(
        index=span.index,
        ids=ids,
        inserted=len(inserted),
        conflicts=len(rejected),
        conflict_sources=tuple(sorted(sources.items())),
        uncoded=uncoded,
        seconds=time.perf_counter() - started,
    )
    logger.info(
        "chunk %d: %d records, %d new narratives, %d to code, %d id conflicts, %.2f s",
        span.index,
        len(records),
        chunk.inserted,
        len(uncoded),
        chunk.conflicts,
        chunk.seconds,
    )
    return chunk


def coded_ids(session: Session, ids: Collection[int], model: str) -> set[int]:
    """Return those of ``ids`` that already have a suggestion set from ``model``.

    Parameters
    ----------
    session : Session
        An open session.
    ids : collection of int
        Store ids of narratives.
    model : str
        The bundle name written as ``model`` in suggestion sets.

    Returns
    -------
    set of int
        The ids already coded by that model.
    """
    ordered = sorted(set(ids))
    done: set[int] = set()
    for start in range(0, len(ordered), _IN_BATCH):
        query = select(SuggestionSet.narrative_id).where(
            SuggestionSet.model == model,
            SuggestionSet.narrative_id.in_(ordered[start : start + _IN_BATCH]),
        )
        done.update(session.scalars(query))
    return done


def _conflicting_ids(
    session: Session, records: Sequence[Record], hashes: Sequence[str]
) -> set[str]:
    """Record ids that the store already holds with a different content hash."""
    wanted = {record.id: digest for record, digest in zip(records, hashes, strict=True)}
    ordered = sorted(wanted)
    conflicting: set[str] = set()
    for start in range(0, len(ordered), _IN_BATCH):
        query = select(Narrative.record_id, Narrative.content_hash).where(
            Narrative.record_id.in_(ordered[start : start + _IN_BATCH])
        )
        conflicting.update(rid for rid, digest in session.execute(query) if wanted[rid] != digest)
    return conflicting


def _ids_by_hash(session: Session, hashes: Collection[str]) -> dict[str, int]:
    ordered = sorted(hashes)
    found: dict[str, int] = {}
    for start in range(0, len(ordered), _IN_BATCH):
        query = select(Narrative.content_hash, Narrative.id).where(
            Narrative.content_hash.in_(ordered[start : start + _IN_BATCH])
        )
        found.update({digest: narrative_id for digest, narrative_id in session.execute(query)})
    return found


def _quarantine(path: Path, records: Sequence[Record]) -> None:
    """Append records whose id is stored with other content to the quarantine file."""
    reason = (
        f"{Reason.ID_CONFLICT}: the id is already in the store with different content; give the "
        "edited narrative a new id, or purge the stored one first"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8", newline="\n") as handle:
        for record in records:
            line = {
                "source": record.source,
                "row": record.row,
                "reason": reason,
                "record": record.model_dump(mode="json", exclude_none=True),
            }
            handle.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
    logger.warning("%d records quarantined: id already stored with other content", len(records))
