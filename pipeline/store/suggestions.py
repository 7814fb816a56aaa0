"""Suggestion sets in the store: one per narrative and model, in the suggestions JSONL shape."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session, selectinload

from pipeline.errors import InputError
from pipeline.store.models import Bundle, Narrative, Suggestion, SuggestionSet

__all__ = [
    "ScoredCode",
    "StoredSuggestions",
    "SuggestionLine",
    "add_suggestion_sets",
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


class _EvidenceLike(Protocol):
    @property
    def text(self) -> str: ...
    @property
    def section(self) -> str | None: ...


class ScoredCode(Protocol):
    """One code of a suggestion set: what :func:`add_suggestion_sets` reads of it."""

    @property
    def code(self) -> str:
        """The code id."""
        ...

    @property
    def score(self) -> float:
        """The score, in [0, 1]."""
        ...

    @property
    def selected(self) -> bool:
        """Whether the model selects the code."""
        ...

    @property
    def evidence(self) -> Sequence[_EvidenceLike]:
        """Evidence sentences, each with ``text`` and ``section``."""
        ...


class SuggestionLine(Protocol):
    """A suggestion set as objects (:class:`pipeline.suggestion.SuggestionSet` is one)."""

    @property
    def id(self) -> str:
        """The record id of a stored narrative."""
        ...

    @property
    def model(self) -> str:
        """The bundle's name."""
        ...

    @property
    def suggestions(self) -> Mapping[str, Sequence[ScoredCode]]:
        """Scored codes per scheme."""
        ...


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
    return add_suggestion_sets(session, parsed, bundle_id=bundle_id)


def add_suggestion_sets(
    session: Session, sets: Sequence[SuggestionLine], *, bundle_id: int | None = None
) -> StoredSuggestions:
    """Store suggestion sets given as objects, trusted to have the suggestions shape.

    The fast path of :func:`add_suggestions` for sets a suggester has just made in this process
    (:class:`pipeline.suggestion.SuggestionSet`): no JSON-shaped dicts are built or validated.
    The store still refuses a score outside [0, 1] (a check constraint).

    Parameters
    ----------
    session : Session
        A session inside a write transaction.
    sets : sequence of SuggestionLine
        One per narrative; ``id`` is the record id of a stored narrative.
    bundle_id : int or None
        As in :func:`add_suggestions`.

    Returns
    -------
    StoredSuggestions
        Set ids stored and already present, and unknown record ids.

    Raises
    ------
    InputError
        If ``bundle_id`` is not registered.
    """
    if bundle_id is not None and session.get(Bundle, bundle_id) is None:
        raise InputError(f"No bundle with id {bundle_id} is registered; register it first")
    narratives = _narrative_ids(session, {line.id for line in sets})
    existing = _existing_sets(session, set(narratives.values()), {line.model for line in sets})
    # Each line found in the store is either already present (its set id is known) or new; new
    # sets are inserted in a few multi-row statements (a chunk holds thousands of sets and each
    # set dozens of suggestions, far too many for one ORM object each).
    outcomes: list[tuple[bool, tuple[int, str]]] = []
    unknown: list[str] = []
    new: dict[tuple[int, str], SuggestionLine] = {}
    bundles: dict[str, int | None] = {}
    for line in sets:
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
    lines: Mapping[tuple[int, str], SuggestionLine],
    bundles: Mapping[str, int | None],
) -> dict[tuple[int, str], int]:
    """Insert new suggestion sets and their suggestions; return set ids by (narrative, model)."""
    ids: dict[tuple[int, str], int] = {}
    keys = list(lines)
    now = dt.datetime.now(dt.UTC)
    # Core inserts on the tables, not the ORM classes: an ORM bulk insert of ~50 rows a narrative
    # spends more time collecting parameters than the database spends writing them.
    set_table = cast(Table, SuggestionSet.__table__)
    suggestion_table = cast(Table, Suggestion.__table__)
    for start in range(0, len(keys), _BATCH):
        batch = keys[start : start + _BATCH]
        rows = [
            {"narrative_id": nid, "model": model, "bundle_id": bundles[model], "created_at": now}
            for nid, model in batch
        ]
        statement = insert(set_table).returning(
            set_table.c.id, set_table.c.narrative_id, set_table.c.model
        )
        for set_id, nid, model in session.execute(statement, rows):
            ids[(nid, model)] = set_id
        suggestions = [
            (
                ids[key],
                scheme,
                scored.code,
                float(scored.score),
                bool(scored.selected),
                _evidence_json(scored.evidence),
            )
            for key in batch
            for scheme, codes in lines[key].suggestions.items()
            for scored in codes
        ]
        if suggestions:
            _insert_many(session, suggestion_table, _SUGGESTION_COLUMNS, suggestions)
    return ids


_SUGGESTION_COLUMNS = ("set_id", "scheme", "code", "score", "selected", "evidence")


def _evidence_json(evidence: Sequence[_EvidenceLike]) -> str:
    """Serialise evidence as the JSON column would (its default ``json.dumps``)."""
    if not evidence:
        return "[]"
    return json.dumps([{"text": item.text, "section": item.section} for item in evidence])


def _insert_many(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert many rows of plain driver values with one ``executemany``.

    Suggestions are ~50 rows a narrative: SQLAlchemy's per-row parameter processing costs more
    than the database's write, so rows arrive already in the driver's types (JSON as text, which
    PostgreSQL casts to ``jsonb`` on insert) and go straight to the driver. Errors still pass
    through SQLAlchemy, which hides the parameters (they may hold narrative text).
    """
    connection = session.connection()
    statement = insert(table).inline()  # inline: no RETURNING of the new ids
    compiled = statement.compile(dialect=connection.dialect, column_keys=list(columns))
    parameters: Sequence[Any] = rows
    if compiled.positiontup is not None:  # qmark or format: values in placeholder order
        order = [columns.index(name) for name in compiled.positiontup]
        if order != list(range(len(columns))):
            parameters = [tuple(row[i] for i in order) for row in rows]
    else:  # named or pyformat: bind names are the column names
        parameters = [dict(zip(columns, row, strict=True)) for row in rows]
    connection.exec_driver_sql(str(compiled), parameters)


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
