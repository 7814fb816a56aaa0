r"""Ingest: read practice exports into validated, de-identified, deduplicated records.

Formats: CSV/TSV (UTF-8, UTF-8 with BOM, Windows-1252, UTF-16; see :mod:`.encoding`), XLSX, JSONL,
and SEA documents in DOCX, PDF and plain text (split into sections, see :mod:`.sections`). Columns
are found by name or mapped explicitly (:mod:`.columns`); event dates are parsed day first
(:mod:`.dates`); identity and duplicates are decided by :mod:`.identity`; :func:`ingest_files` runs
it all and returns an :class:`IngestSummary` whose counts reconcile.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> folder = Path(tempfile.mkdtemp())
>>> _ = (folder / "export.csv").write_text("ID,Description\n1,Wrong patient's results opened.\n")
>>> summary = ingest_files([folder / "export.csv"], folder / "records.jsonl", redact=list)
>>> summary.read, summary.ingested, summary.quarantined, summary.duplicates
(1, 1, 0, 0)
"""

from __future__ import annotations

from pipeline.ingest.columns import ColumnMapping, detect_columns, parse_column_options
from pipeline.ingest.dates import parse_event_date
from pipeline.ingest.ingestion import (
    MAX_TEXT_CHARS,
    IdConflict,
    default_quarantine_path,
    ingest_files,
)
from pipeline.ingest.reader import SUPPORTED_SUFFIXES, find_inputs, open_source
from pipeline.ingest.row import RawRow, Reason, RowWarning, Source
from pipeline.ingest.sections import join_sections, split_sections
from pipeline.ingest.summary import FileSummary, IngestSummary
from pipeline.ingest.writer import Redactor

__all__ = [
    "MAX_TEXT_CHARS",
    "SUPPORTED_SUFFIXES",
    "ColumnMapping",
    "FileSummary",
    "IdConflict",
    "IngestSummary",
    "RawRow",
    "Reason",
    "Redactor",
    "RowWarning",
    "Source",
    "default_quarantine_path",
    "detect_columns",
    "find_inputs",
    "ingest_files",
    "join_sections",
    "open_source",
    "parse_column_options",
    "parse_event_date",
    "split_sections",
]
