"""What a reader yields for each row of an export, and the kinds of problem a row can have."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["RawRow", "Reason", "RowWarning", "Source"]


class Reason(StrEnum):
    """Why a row or a file was quarantined (the kind; a quarantine line adds detail after ``:``)."""

    UNREADABLE_FILE = "unreadable_file"
    UNSUPPORTED_FORMAT = "unsupported_format"
    NO_TEXT_COLUMN = "no_text_column"
    MISSING_COLUMN = "missing_column"
    SHORT_ROW = "short_row"
    LONG_ROW = "long_row"
    MALFORMED_ROW = "malformed_row"
    BLANK_TEXT = "blank_text"
    TOO_LONG = "too_long"
    ID_CONFLICT = "id_conflict"


class RowWarning(StrEnum):
    """Something odd about a row that was still ingested (counted in the summary)."""

    UNPARSEABLE_DATE = "unparseable_date"
    REPLACEMENT_CHARACTER = "replacement_character"
    MISSING_ID = "missing_id"
    DERIVED_ID = "derived_id"


@dataclass(frozen=True, slots=True)
class RawRow:
    """One data row as read, before column mapping.

    Attributes
    ----------
    row : int
        1-based data row (the header is not counted; a document is row 1). Readers skip rows
        with every field blank but still count them, so numbers match positions in the file.
    fields : Mapping[str, object]
        Column name to value as read (``str``, ``None``, or a ``datetime``/number from XLSX or
        JSONL). Empty for a row the reader could not parse.
    problem : Reason or None
        Set when the reader already knows the row is unusable (wrong number of fields, bad JSON).
    detail : str
        Explanation for ``problem``, without narrative text.
    """

    row: int
    fields: Mapping[str, object]
    problem: Reason | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Source:
    """An opened export: its rows (a lazy iterator) and what is known about it up front.

    Attributes
    ----------
    format : str
        ``"csv"``, ``"xlsx"``, ``"jsonl"``, ``"docx"``, ``"pdf"`` or ``"text"``.
    rows : Iterator[RawRow]
        The data rows, read lazily; the file is opened when iteration starts.
    headers : tuple of str or None
        The column names of a table with fixed columns (CSV, XLSX); ``None`` when the keys are
        per row (JSONL) or come from a document's headings.
    encoding : str or None
        The text encoding used, for text formats.
    is_document : bool
        True for SEA documents, whose keys are section keys and preamble labels; explicit column
        mappings do not apply to them.
    """

    format: str
    rows: Iterator[RawRow]
    headers: tuple[str, ...] | None = None
    encoding: str | None = None
    is_document: bool = False
