"""Records: one narrative with its metadata, the shape ingest writes and labelled data extends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.errors import InputError
from pipeline.jsonl import iter_jsonl

__all__ = ["SECTION_KEYS", "LabelledRecord", "Record", "iter_labelled"]

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


def iter_labelled(path: Path) -> Iterator[tuple[int, LabelledRecord]]:
    """Yield ``(line_number, record)`` for each line of a labelled JSONL file.

    Parameters
    ----------
    path : Path
        Labelled data: records with ``codes``.

    Yields
    ------
    tuple of (int, LabelledRecord)
        The 1-based line number and the validated record.

    Raises
    ------
    InputError
        On a line that is not JSON, lacks ``id``, ``text`` or ``codes``, has badly typed fields
        or repeats an earlier line's id; the message names the file, line and field.
    """
    first_line: dict[str, int] = {}
    for number, raw in iter_jsonl(path):
        try:
            record = LabelledRecord.model_validate(raw)
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "record"
            raise InputError(
                f"{path}, line {number}: field '{field}' {first['msg'].lower()}; "
                "labelled data needs id, text and codes ({scheme: [code, ...]})"
            ) from None
        if record.id in first_line:
            raise InputError(
                f"{path}, line {number}: id '{record.id}' is already on line "
                f"{first_line[record.id]}; keep one line per record"
            )
        first_line[record.id] = number
        yield number, record
