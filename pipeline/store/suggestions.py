"""Suggestion sets in the store: one per narrative and model, in the suggestions JSONL shape."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, selectinload

from pipeline.errors import InputError
from pipeline.store.models import Bundle, Narrative, Suggestion, SuggestionSet

__all__ = [
    "StoredSuggestions",
    "add_suggestions",
    "latest_suggestion_set",
    "selected_codes",
]

logger = logging.getLogger(__name__)

# Ids per IN (...) list, well under SQLite's variable limit.
_BATCH = 500


class _Evidence(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    section: str | None = None


class _Scored(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(min_length=1)
    score: float = Field(ge=0.0, le=1.0)
    selected: bool
    evidence: list[_Evidence] = Field(default_factory=list)


class _SuggestionsLine(BaseModel):
    """One line of a suggestions file (the contract in DESIGN.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    model: str = Field(min_length=1)
    suggestions: dict[str, list[_Scored]]


@dataclass(frozen=True, slots=True)
class StoredSuggestions:
    """Outcome of :func:`add_suggestions`.

    Attributes
    ----------
    stored : tuple of int
        Ids of the suggestion sets added.
    already_present : tuple of int
        Ids of sets already stored for the same narrative and model (left unchanged).
    unknown_ids : tuple of str
        Record ids that match no stored narrative (nothing stored for them).
    """

    stored: tuple[int, ...]
    already_present: tuple[int, ...]
    unknown_ids: tuple[str, ...]


def add_suggestions(
    session: Session, lines: Iterable[Mapping[str, Any]], *, bundle_id: int | None = None
) -> StoredSuggestions:
    """Store suggestion sets, one per line of the suggestions JSONL contract.

    Parameters
    ----------
    session : Session
        A session inside a write transaction.
    lines : iterable of mapping
        ``{"id", "model", "suggestions": {scheme: [{"code", "score", "selected", "evidence"}]}}``;
        ``id`` is the record id of a stored narrative.
    bundle_id : int or None
        The registered bundle that made them. ``None`` links a set to the registered bundle whose
        name equals the line's ``model``, if there is exactly one.

    Returns
    -------
    StoredSuggestions
        Set ids stored and already present, and unknown record ids.

    Raises
    ------
    InputError
        If a line does not have the suggestions shape, or ``bundle_id`` is not registered.
    """
    parsed = [_parse(line, number) for number, line in enumerate(lines, start=1)]
    if bundle_id is not None and session.get(Bundle, bundle_id) is None:
        raise InputError(f"No bundle with id {bundle_id} is registered; register it first")
    narratives = _narrative_ids(session, {line.id for line in parsed})
    existing = _existing_sets(session, set(narratives.values()), {line.model for line in parsed})
    # Each line found in the store is either already present (its set id is known) or new; new
    # sets are inserted in a few multi-row statements (a chunk holds thousands of sets and each
    # set dozens of suggestions, far too many for one ORM object each).
    outcomes: list[tuple[bool, tuple[int, str]]] = []
    unknown: list[str] = []
    new: dict[tuple[int, str], _SuggestionsLine] = {}
    bundles: dict[str, int | None] = {}
    for line in parsed:
        narrative_id = narratives.get(line.id)
        if narrative_id is None:
            unknown.append(line.id)
            continue
        key = (narrative_id, line.model)
        is_new = key not in existing and key not in new
        if is_new:
            new[key] = line
            if line.model not in bundles:
                bundles[line.model] = bundle_id or _bundle_named(session, line.model)
        outcomes.append((is_new, key))
    existing.update(_insert_sets(session, new, bundles))
    stored = [existing[key] for is_new, key in outcomes if is_new]
    present = [existing[key] for is_new, key in outcomes if not is_new]
    logger.info(
        "Stored %d suggestion sets (%d already present, %d unknown ids)",
        len(stored),
        len(present),
        len(unknown),
    )
    return StoredSuggestions(tuple(stored), tuple(present), tuple(unknown))


def _insert_sets(
    session: Session,
    lines: Mapping[tuple[int, str], _SuggestionsLine],
    bundles: Mapping[str, int | None],
) -> dict[tuple[int, str], int]:
    """Insert new suggestion sets and their suggestions; return set ids by (narrative, model)."""
    ids: dict[tuple[int, str], int] = {}
    keys = list(lines)
    now = dt.datetime.now(dt.UTC)
    for start in range(0, len(keys), _BATCH):
        batch = keys[start : start + _BATCH]
        rows = [
            {"narrative_id": nid, "model": model, "bundle_id": bundles[model], "created_at": now}
            for nid, model in batch
        ]
        statement = insert(SuggestionSet).returning(
            SuggestionSet.id, SuggestionSet.narrative_id, SuggestionSet.model
        )
        for set_id, nid, model in session.execute(statement, rows):
            ids[(nid, model)] = set_id
        suggestions = [
            {
                "set_id": ids[key],
                "scheme": scheme,
                "code": scored.code,
                "score": scored.score,
                "selected": scored.selected,
                "evidence": [evidence.model_dump() for evidence in scored.evidence],
            }
            for key in batch
            for scheme, codes in lines[key].suggestions.items()
            for scored in codes
        ]
        if suggestions:
            session.execute(insert(Suggestion), suggestions)
    return ids


def _narrative_ids(session: Session, record_ids: set[str]) -> dict[str, int]:
    ordered = sorted(record_ids)
    found: dict[str, int] = {}
    for start in range(0, len(ordered), _BATCH):
        query = select(Narrative.record_id, Narrative.id).where(
            Narrative.record_id.in_(ordered[start : start + _BATCH])
        )
        found.update(
            {record_id: narrative_id for record_id, narrative_id in session.execute(query)}
        )
    return found


def _existing_sets(
    session: Session, narrative_ids: set[int], models: set[str]
) -> dict[tuple[int, str], int]:
    ordered = sorted(narrative_ids)
    found: dict[tuple[int, str], int] = {}
    for start in range(0, len(ordered), _BATCH):
        query = select(SuggestionSet.narrative_id, SuggestionSet.model, SuggestionSet.id).where(
            SuggestionSet.narrative_id.in_(ordered[start : start + _BATCH]),
            SuggestionSet.model.in_(sorted(models)),
        )
        found.update(
            {
                (narrative_id, model): set_id
                for narrative_id, model, set_id in session.execute(query)
            }
        )
    return found


def _parse(line: Mapping[str, Any], number: int) -> _SuggestionsLine:
    try:
        return _SuggestionsLine.model_validate(line)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InputError(
            f"Suggestions line {number} (id {line.get('id')!r}) is not in the suggestions shape: "
            f"{where}: {first['msg']}; write it with `nearmiss suggest`"
        ) from None


def _bundle_named(session: Session, name: str) -> int | None:
    ids = session.scalars(select(Bundle.id).where(Bundle.name == name)).all()
    return ids[0] if len(ids) == 1 else None


def latest_suggestion_set(session: Session, narrative_id: int) -> SuggestionSet | None:
    """Return the narrative's most recently stored suggestion set, or ``None`` if it has none."""
    query = (
        select(SuggestionSet)
        .where(SuggestionSet.narrative_id == narrative_id)
        .order_by(SuggestionSet.id.desc())
        .limit(1)
        .options(selectinload(SuggestionSet.suggestions))
    )
    return session.scalar(query)


def selected_codes(suggestion_set: SuggestionSet) -> dict[str, list[str]]:
    """Return the model's selected codes per scheme (``[]`` for a scheme with none selected)."""
    codes: dict[str, list[str]] = {}
    for suggestion in suggestion_set.suggestions:
        scheme_codes = codes.setdefault(suggestion.scheme, [])
        if suggestion.selected:
            scheme_codes.append(suggestion.code)
    return codes
