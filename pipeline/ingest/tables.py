"""Streaming readers for tabular exports: CSV (and TSV), XLSX and JSONL.

Each ``open_*`` function reads only what it must up front (encoding sample, header row) and returns
a :class:`~pipeline.ingest.row.Source` whose rows are a generator, so memory stays flat however big
the export. Rows whose fields are all blank are skipped (their numbers are still counted).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Generator, Iterator, Sequence
from contextlib import closing
from pathlib import Path

from pipeline.errors import InputError
from pipeline.ingest.encoding import detect_encoding, open_text
from pipeline.ingest.row import RawRow, Reason, Source

__all__ = ["FIELD_SIZE_LIMIT", "open_csv", "open_jsonl", "open_xlsx"]

#: Largest CSV field accepted (characters). Far above the 100,000-character narrative limit, so a
#: long narrative is quarantined as too long while a runaway quote cannot eat a whole file.
FIELD_SIZE_LIMIT = 10_000_000

_DELIMITERS = (",", "\t", ";", "|")


def _is_blank(value: object) -> bool:
    """Whether a cell holds nothing (``None`` or whitespace)."""
    return value is None or (isinstance(value, str) and not value.strip())


def _unique_headers(values: Sequence[object]) -> tuple[str, ...]:
    """Header names, stripped, with blanks named ``column N`` and repeats suffixed `` (2)``."""
    headers: list[str] = []
    seen: dict[str, int] = {}
    for index, value in enumerate(values, start=1):
        name = str(value).strip() if not _is_blank(value) else f"column {index}"
        seen[name] = seen.get(name, 0) + 1
        headers.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return tuple(headers)


def _sniff_delimiter(first_line: str, suffix: str) -> str:
    """Guess a header line's delimiter: the most frequent of comma, tab, semicolon and bar."""
    if suffix == ".tsv":
        return "\t"
    counts = {delimiter: first_line.count(delimiter) for delimiter in _DELIMITERS}
    best = max(counts, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _csv_reader(
    path: Path, encoding: str, delimiter: str
) -> Generator[list[str] | csv.Error, None, None]:
    """Yield each CSV record's fields, or the ``csv.Error`` that record raised (reading goes on)."""
    csv.field_size_limit(max(csv.field_size_limit(), FIELD_SIZE_LIMIT))
    with open_text(path, encoding) as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        while True:
            try:
                yield next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                yield error


def open_csv(path: Path, encoding: str | None = None) -> Source:
    """Open a CSV or TSV export.

    Parameters
    ----------
    path : Path
        The export.
    encoding : str, optional
        Force an encoding; by default it is chosen by
        :func:`~pipeline.ingest.encoding.detect_encoding`.

    Returns
    -------
    Source
        Rows keyed by header. A row with fewer fields than the header is a ``short_row``, one with
        extra non-blank fields a ``long_row``, one the csv module rejects a ``malformed_row``.

    Raises
    ------
    InputError
        If the file has no header row.
    """
    chosen = encoding or detect_encoding(path)
    with open_text(path, chosen) as handle:
        first_line = handle.readline(1 << 16)
    delimiter = _sniff_delimiter(first_line, path.suffix.lower())
    header: list[str] | None = None
    with closing(_csv_reader(path, chosen, delimiter)) as records:
        for record in records:
            if isinstance(record, list) and any(not _is_blank(v) for v in record):
                header = record
                break
    if header is None:
        raise InputError(f"{path.name}: no header row; the first line should name the columns")
    return Source("csv", _csv_rows(path, chosen, delimiter), _unique_headers(header), chosen)


def _csv_rows(path: Path, encoding: str, delimiter: str) -> Iterator[RawRow]:
    """Yield the data rows of a CSV file, after its first non-blank record (the header)."""
    headers: tuple[str, ...] | None = None
    number = 0
    for record in _csv_reader(path, encoding, delimiter):
        if headers is None:
            if isinstance(record, list) and any(not _is_blank(v) for v in record):
                headers = _unique_headers(record)
            continue
        number += 1
        if isinstance(record, csv.Error):
            yield RawRow(number, {}, Reason.MALFORMED_ROW, f"CSV parse error ({record})")
            continue
        if all(_is_blank(value) for value in record):
            continue
        fields = dict(zip(headers, record, strict=False))
        if len(record) < len(headers):
            detail = f"{len(record)} fields, the header has {len(headers)}"
            yield RawRow(number, fields, Reason.SHORT_ROW, detail)
        elif len(record) > len(headers) and any(not _is_blank(v) for v in record[len(headers) :]):
            detail = f"{len(record)} fields, the header has {len(headers)}"
            yield RawRow(number, fields, Reason.LONG_ROW, detail)
        else:
            yield RawRow(number, fields)


def _cell(value: object) -> object:
    """Remove Excel's escaped carriage returns from a cell value."""
    if isinstance(value, str):
        return value.replace("_x000D_", "")
    return value


def open_xlsx(path: Path) -> Source:
    """Open the first worksheet of an XLSX workbook (read-only, streamed).

    Formula cells are read as their formula text (``=HYPERLINK(...)``), never evaluated; dates come
    as ``datetime`` values.

    Parameters
    ----------
    path : Path
        The workbook.

    Returns
    -------
    Source
        Rows keyed by the first non-blank row of the sheet.

    Raises
    ------
    InputError
        If the sheet has no header row.
    """
    header: tuple[object, ...] | None = None
    with closing(_xlsx_values(path)) as rows:
        for values in rows:
            if any(not _is_blank(value) for value in values):
                header = values
                break
    if header is None:
        raise InputError(f"{path.name}: the first worksheet is empty; put the export on it")
    return Source("xlsx", _xlsx_rows(path), _unique_headers(header))


def _xlsx_values(path: Path) -> Generator[tuple[object, ...], None, None]:
    """Yield each row's cell values from the first worksheet, closing the workbook at the end."""
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=False)
    try:
        sheet = workbook.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield tuple(_cell(value) for value in values)
    finally:
        workbook.close()


def _xlsx_rows(path: Path) -> Iterator[RawRow]:
    """Yield the data rows of the first worksheet, after its header row."""
    headers: tuple[str, ...] | None = None
    number = 0
    for values in _xlsx_values(path):
        if headers is None:
            if any(not _is_blank(value) for value in values):
                headers = _unique_headers(values)
            continue
        number += 1
        if all(_is_blank(value) for value in values):
            continue
        yield RawRow(number, dict(zip(headers, values, strict=False)))


def open_jsonl(path: Path) -> Source:
    """Open a JSON Lines export (one JSON object a line, UTF-8).

    A ``sections`` object is flattened into its keys, so records written by ingest can be read back.

    Parameters
    ----------
    path : Path
        The export.

    Returns
    -------
    Source
        Rows keyed per line; a line that is not a JSON object is a ``malformed_row``.
    """
    return Source("jsonl", _jsonl_rows(path), encoding="utf-8")


def _jsonl_rows(path: Path) -> Iterator[RawRow]:
    """Parse each non-blank line of a JSONL file."""
    with open_text(path, "utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                detail = f"not valid JSON ({error.msg} at column {error.colno})"
                yield RawRow(number, {}, Reason.MALFORMED_ROW, detail)
                continue
            if not isinstance(value, dict):
                detail = f"a JSON {type(value).__name__}, not an object"
                yield RawRow(number, {}, Reason.MALFORMED_ROW, detail)
                continue
            sections = value.pop("sections", None)
            if isinstance(sections, dict):
                value = {**value, **sections}
            yield RawRow(number, {str(k): _json_value(v) for k, v in value.items()})


def _json_value(value: object) -> object:
    """Turn a JSON value into a cell: scalars as they are, lists and objects as JSON text."""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool | int | float | str | dt.date) or value is None:
        return value
    return str(value)
