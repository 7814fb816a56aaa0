"""Redact rows in batches and write records and quarantined rows as JSON Lines, in input order.

Rows are held only until a batch is full (:data:`BATCH_SIZE`), then every free-text value of the
batch (sections and practice) goes through the redactor in one call, and the lines are written.
Records are validated by :class:`~pipeline.record.Record` on the way out. Quarantined rows are
written as ``{"source", "row", "reason", "record"}``, their record redacted the same way unless
``keep_raw`` is set.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from pipeline.ingest.draft import Draft
from pipeline.ingest.sections import join_sections
from pipeline.record import Record

__all__ = ["BATCH_SIZE", "BatchWriter", "Redactor"]

#: Rows redacted and written per batch.
BATCH_SIZE = 256

#: A redactor: texts in, redacted texts out, same length and order
#: (``pipeline.redact.redact_texts``).
Redactor = Callable[[Sequence[str]], list[str]]

#: Longest string kept in a quarantined record (longer ones are cut and marked).
QUARANTINE_FIELD_CHARS = 100_000


@dataclass(slots=True)
class _Item:
    """One line waiting for its batch: a record (``reason`` is None) or a quarantined row."""

    source: str
    row: int | None
    draft: Draft | None
    reason: str | None = None


def _dumps(payload: dict[str, Any]) -> str:
    """One compact JSON line (non-ASCII kept as is)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n"


def _shows_raw_date(item: _Item) -> bool:
    """Whether the date as exported is written (only quarantined rows whose date did not parse)."""
    draft = item.draft
    return (
        item.reason is not None
        and draft is not None
        and draft.event_date is None
        and draft.raw_date is not None
    )


def _free_text(item: _Item) -> list[str]:
    """List the free-text values of an item that the redactor sees, in a fixed order."""
    assert item.draft is not None
    draft = item.draft
    values = list(draft.sections.values())
    if draft.practice is not None:
        values.append(draft.practice)
    if _shows_raw_date(item) and draft.raw_date is not None:
        values.append(draft.raw_date)
    return values


def _replace_free_text(item: _Item, redacted: Sequence[str], position: int) -> int:
    """Put redacted values back in :func:`_free_text` order; return the next position."""
    assert item.draft is not None
    draft = item.draft
    for key in draft.sections:
        draft.sections[key] = redacted[position]
        position += 1
    if draft.practice is not None:
        draft.practice = redacted[position]
        position += 1
    if _shows_raw_date(item):
        draft.raw_date = redacted[position]
        position += 1
    return position


def _cut(text: str) -> str:
    """Cut a quarantined string to :data:`QUARANTINE_FIELD_CHARS`, saying how much was cut."""
    if len(text) <= QUARANTINE_FIELD_CHARS:
        return text
    return f"{text[:QUARANTINE_FIELD_CHARS]} [cut: {len(text) - QUARANTINE_FIELD_CHARS} more]"


class BatchWriter:
    """Collect records and quarantined rows, redact them a batch at a time, write them in order.

    Parameters
    ----------
    records : TextIO
        Where records go (one JSON object a line).
    quarantine : TextIO
        Where quarantined rows go.
    redact : Redactor
        The redactor; called once per batch with every free-text value of the batch.
    batch_size : int, default=BATCH_SIZE
        Rows per batch.
    keep_raw : bool, default=False
        Write quarantined records unredacted (they are then personal data in the clear).
    on_records : callable, optional
        Called after each batch with the record lines it wrote (redacted JSON lines, in order):
        a batch can start on the first records while the rest are still being read.
    """

    def __init__(
        self,
        records: TextIO,
        quarantine: TextIO,
        redact: Redactor,
        *,
        batch_size: int = BATCH_SIZE,
        keep_raw: bool = False,
        on_records: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.records = records
        self.quarantine = quarantine
        self.redact = redact
        self.batch_size = batch_size
        self.keep_raw = keep_raw
        self.on_records = on_records
        self._items: list[_Item] = []

    def add_record(self, draft: Draft, source: str, row: int) -> None:
        """Queue a record for writing.

        Parameters
        ----------
        draft : Draft
            The record's values; ``id`` and a what-happened section must be set.
        source : str
            The (redacted) source file name.
        row : int
            The 1-based data row.
        """
        self._add(_Item(source, row, draft))

    def add_quarantined(
        self, source: str, row: int | None, reason: str, draft: Draft | None
    ) -> None:
        """Queue a quarantined row for writing.

        Parameters
        ----------
        source : str
            The (redacted) source file name.
        row : int or None
            The 1-based data row; ``None`` for a whole file.
        reason : str
            ``"<kind>: <detail>"``.
        draft : Draft or None
            What could be read of the row, or ``None``.
        """
        self._add(_Item(source, row, draft, reason))

    def _add(self, item: _Item) -> None:
        self._items.append(item)
        if len(self._items) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Redact and write everything queued.

        Raises
        ------
        RuntimeError
            If the redactor does not return one text for each text it was given.
        """
        items, self._items = self._items, []
        texts: list[str] = []
        for item in items:
            if self._redacts(item):
                texts += _free_text(item)
        redacted = self.redact(texts) if texts else []
        if len(redacted) != len(texts):
            raise RuntimeError(f"the redactor returned {len(redacted)} texts for {len(texts)}")
        position = 0
        written: list[str] = []
        for item in items:
            if self._redacts(item):
                position = _replace_free_text(item, redacted, position)
            if item.reason is None:
                line = self._record_line(item)
                self.records.write(line)
                written.append(line)
            else:
                self.quarantine.write(self._quarantine_line(item))
        if written and self.on_records is not None:
            self.on_records(written)

    def _redacts(self, item: _Item) -> bool:
        """Whether an item's free text is redacted (always, but quarantine with keep_raw)."""
        return item.draft is not None and (item.reason is None or not self.keep_raw)

    @staticmethod
    def _record_line(item: _Item) -> str:
        """Build a record's JSON line, validated by :class:`Record`."""
        assert item.draft is not None and item.draft.id is not None
        draft = item.draft
        record = Record(
            id=draft.id,
            text=join_sections(draft.sections),
            sections=None if set(draft.sections) <= {"what_happened"} else draft.sections,
            practice=draft.practice,
            event_date=draft.event_date,
            source=item.source,
            row=item.row,
        )
        return _dumps(record.model_dump(mode="json", exclude_none=True))

    @staticmethod
    def _quarantine_line(item: _Item) -> str:
        """Build a quarantined row's JSON line; its record need not be valid."""
        record: dict[str, Any] | None = None
        if item.draft is not None:
            draft = item.draft
            record = {"id": draft.id, "text": _cut(join_sections(draft.sections)) or None}
            if not set(draft.sections) <= {"what_happened"}:
                record["sections"] = {key: _cut(text) for key, text in draft.sections.items()}
            record["practice"] = draft.practice
            record["event_date"] = (
                draft.event_date.isoformat() if draft.event_date else draft.raw_date
            )
            record = {key: value for key, value in record.items() if value is not None}
        payload = {"source": item.source, "row": item.row, "reason": item.reason, "record": record}
        return _dumps(payload)
