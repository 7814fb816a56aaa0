"""Records: one narrative with its metadata, the shape ingest writes and labelled data extends."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SECTION_KEYS", "LabelledRecord", "Record"]

#: Section keys of an SEA write-up, in reading order. Sources may add others.
SECTION_KEYS: tuple[str, ...] = ("what_happened", "why", "learning", "changes", "action_taken")


class Record(BaseModel):
    """A de-identified narrative and its metadata (the records contract in DESIGN.md).

    Unknown keys are kept (``extra="allow"``) so that teams' own files keep working.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    id: str = Field(min_length=1)
    text: str
    sections: dict[str, str] | None = None
    practice: str | None = None
    event_date: dt.date | None = None
    source: str | None = None
    row: int | None = None


class LabelledRecord(Record):
    """A record with codes: ``{scheme_id: [code_id, ...]}``.

    A scheme present with ``[]`` means "reviewed: none apply"; a scheme absent means "not labelled
    for this scheme".
    """

    codes: dict[str, list[str]]
