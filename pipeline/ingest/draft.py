"""A row's mapped values before redaction, and how they are taken from a raw row."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pipeline.errors import InputError
from pipeline.ingest.columns import SECTION_TARGETS, ColumnMapping
from pipeline.ingest.dates import parse_event_date
from pipeline.ingest.row import RawRow

__all__ = ["Draft", "draft_from_row", "section_order", "try_date"]


@dataclass(slots=True)
class Draft:
    """A row's mapped values before redaction.

    Attributes
    ----------
    id : str or None
        The record id (``None`` only in quarantined rows without one).
    sections : dict of str to str
        Section key to text (non-empty texts only).
    practice : str or None
        The practice, as exported.
    event_date : datetime.date or None
        The parsed event date.
    raw_date : str or None
        The event date as exported (kept in quarantined rows, where it may not parse).
    """

    id: str | None
    sections: dict[str, str] = field(default_factory=dict)
    practice: str | None = None
    event_date: dt.date | None = None
    raw_date: str | None = None


def _text(value: object) -> str | None:
    """Turn a cell value into stripped text with newline line ends; ``None`` if blank."""
    if value is None:
        return None
    if isinstance(value, dt.datetime | dt.date):
        text = value.isoformat()
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = str(value)
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    return text or None


def try_date(text: str) -> dt.date | None:
    """Parse an event date, or return ``None`` if it does not parse (the caller counts that)."""
    try:
        return parse_event_date(text)
    except InputError:
        return None


def section_order(draft: Draft) -> list[str]:
    """List section keys in a fixed order (known ones first), so equal rows hash equally."""
    return [k for k in SECTION_TARGETS if k in draft.sections] + sorted(
        k for k in draft.sections if k not in SECTION_TARGETS
    )


def draft_from_row(raw: RawRow, mapping: ColumnMapping) -> Draft:
    """Map a row's values (texts stripped, blanks dropped; the date left unparsed)."""
    fields, columns = raw.fields, mapping.columns
    sections: dict[str, str] = {}
    for key in SECTION_TARGETS:
        text = _text(fields.get(columns[key])) if key in columns else None
        if text is not None:
            sections[key] = text
    values = {
        key: _text(fields.get(columns[key])) if key in columns else None
        for key in ("id", "practice", "event_date")
    }
    return Draft(values["id"], sections, values["practice"], raw_date=values["event_date"])
