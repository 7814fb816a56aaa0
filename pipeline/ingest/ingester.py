"""Ingest one export file: check each row, decide its identity, and route it to the writer.

Order of checks for a row: a problem the reader found (``short_row``, ``long_row``,
``malformed_row``); a usable column mapping (``missing_column``, ``no_text_column``); a non-blank
what-happened field (``blank_text``); the length of the joined text (``too_long``); then identity
(duplicate, ``id_conflict``). Rows that pass are ingested; an unparseable date, a missing id or a
replacement character only adds a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path

from pipeline.errors import InputError
from pipeline.ingest.columns import ColumnMapping, detect_columns
from pipeline.ingest.draft import Draft, draft_from_row, section_order, try_date
from pipeline.ingest.encoding import REPLACEMENT_CHARACTER
from pipeline.ingest.identity import IdentityIndex, Verdict, derive_id, fingerprint
from pipeline.ingest.reader import is_supported, open_source
from pipeline.ingest.row import RawRow, Reason, RowWarning, Source
from pipeline.ingest.sections import join_sections
from pipeline.ingest.summary import Tally
from pipeline.ingest.writer import BatchWriter

__all__ = ["MAX_TEXT_CHARS", "FileIngester", "IdConflict"]

logger = logging.getLogger(__name__)

#: Longest narrative accepted (characters of the joined text); longer rows are quarantined.
MAX_TEXT_CHARS = 100_000

_PROGRESS_EVERY = 10_000


class IdConflict(StrEnum):
    """What to do with a row whose id was already ingested with different content."""

    QUARANTINE = "quarantine"
    DERIVE = "derive"

    @classmethod
    def parse(cls, value: str) -> IdConflict:
        """Parse an option value.

        Parameters
        ----------
        value : str
            ``"quarantine"`` or ``"derive"``.

        Returns
        -------
        IdConflict
            The policy.

        Raises
        ------
        InputError
            If the value is neither.
        """
        try:
            return cls(value.strip().lower())
        except ValueError:
            raise InputError(
                f"--on-id-conflict {value!r} is not a policy; use quarantine or derive"
            ) from None


class FileIngester:
    """Ingest one file into a writer and an identity index shared by the run."""

    def __init__(
        self,
        path: Path,
        source: str,
        writer: BatchWriter,
        index: IdentityIndex,
        *,
        explicit: Mapping[str, str],
        encoding: str | None,
        on_id_conflict: IdConflict,
    ) -> None:
        self.path = path
        self.source = source
        self.writer = writer
        self.index = index
        self.explicit = explicit
        self.encoding = encoding
        self.on_id_conflict = on_id_conflict
        self.tally = Tally(source, path.suffix.lower().lstrip(".") or "unknown")
        self._mappings: dict[tuple[str, ...], ColumnMapping] = {}

    def run(self) -> Tally:
        """Read every row of the file; return its counts."""
        if not is_supported(self.path):
            self.tally.format = "unsupported"
        try:
            opened = open_source(self.path, self.encoding)
        except InputError as error:
            kind = Reason.UNREADABLE_FILE if is_supported(self.path) else Reason.UNSUPPORTED_FORMAT
            return self._reject_file(kind, str(error))
        except Exception as error:  # a corrupt file can make a parser raise anything
            return self._reject_file(Reason.UNREADABLE_FILE, _describe(error))
        self.tally.format, self.tally.encoding = opened.format, opened.encoding
        if opened.headers is not None:
            mapping = detect_columns(opened.headers, self.explicit)
            problem = self._mapping_problem(mapping, opened)
            if problem is not None:
                return self._reject_file(*problem)
            self._mappings[opened.headers] = mapping
        self._read_rows(opened)
        return self.tally

    def _read_rows(self, opened: Source) -> None:
        rows = iter(opened.rows)
        while True:
            try:
                raw = next(rows)
            except StopIteration:
                return
            except Exception as error:  # a parser failing mid-file: keep what was read
                detail = f"stopped after data row {self.tally.read}: {_describe(error)}"
                self._reject_file(Reason.UNREADABLE_FILE, detail)
                return
            self._row(raw, opened)
            if self.tally.read % _PROGRESS_EVERY == 0:
                logger.info("%s: %d rows read", self.source, self.tally.read)

    def _mapping_problem(self, mapping: ColumnMapping, opened: Source) -> tuple[Reason, str] | None:
        """Say why a column mapping cannot be used, or return ``None``."""
        if mapping.missing:
            names = ", ".join(repr(c) for c in mapping.missing)
            return Reason.MISSING_COLUMN, f"no column {names}; check --column"
        if not mapping.has_text:
            if opened.is_document:
                return Reason.BLANK_TEXT, "no narrative text found in the document"
            return Reason.NO_TEXT_COLUMN, (
                "no narrative column found; name it with --column text=COLUMN"
            )
        return None

    def _mapping(self, raw: RawRow, opened: Source) -> ColumnMapping:
        """Get the mapping for a row's keys (fixed per table, cached per key set otherwise)."""
        keys = opened.headers if opened.headers is not None else tuple(raw.fields)
        mapping = self._mappings.get(keys)
        if mapping is None:
            if len(self._mappings) > 1_000:
                self._mappings.clear()
            explicit = {} if opened.is_document else self.explicit
            mapping = self._mappings[keys] = detect_columns(keys, explicit)
        return mapping

    def _row(self, raw: RawRow, opened: Source) -> None:
        self.tally.read += 1
        mapping = self._mapping(raw, opened)
        draft = draft_from_row(raw, mapping) if raw.fields else None
        if raw.problem is not None:
            self._quarantine(raw.row, raw.problem, raw.detail, draft)
            return
        problem = self._mapping_problem(mapping, opened)
        if problem is not None:
            self._quarantine(raw.row, *problem, draft)
            return
        if draft is None or not draft.sections.get("what_happened"):
            self._quarantine(raw.row, Reason.BLANK_TEXT, "the what-happened field is blank", draft)
            return
        length = len(join_sections(draft.sections))
        if length > MAX_TEXT_CHARS:
            detail = f"{length} characters, the limit is {MAX_TEXT_CHARS}"
            self._quarantine(raw.row, Reason.TOO_LONG, detail, draft)
            return
        self._identify(raw.row, draft, has_id_column="id" in mapping.columns)

    def _identify(self, row: int, draft: Draft, *, has_id_column: bool) -> None:
        """Decide new, duplicate or conflict; ingest or count accordingly."""
        derived = draft.id is None
        if draft.id is None and has_id_column:
            self.tally.warnings[RowWarning.MISSING_ID] += 1
        record_id = draft.id or derive_id(self.source, row)
        draft.id = record_id
        values = [*(draft.sections.get(key) for key in section_order(draft)), draft.practice]
        content = fingerprint([*values, draft.raw_date])
        verdict = self.index.check(record_id, content, derived=derived)
        if verdict is Verdict.CONFLICT:
            if self.on_id_conflict is IdConflict.QUARANTINE:
                detail = f"id {record_id!r} was already ingested with different content"
                self._quarantine(row, Reason.ID_CONFLICT, detail, draft)
                return
            record_id = draft.id = f"{record_id}~{content & 0xFFFFFFFF:08x}"
            derived = False
            verdict = self.index.check(record_id, content)
            if verdict is Verdict.NEW:
                self.tally.warnings[RowWarning.DERIVED_ID] += 1
        if verdict is not Verdict.NEW:
            self.tally.duplicates += 1
            return
        self.index.add(record_id, content, derived=derived)
        if draft.raw_date is not None:
            draft.event_date = try_date(draft.raw_date)
            if draft.event_date is None:
                self.tally.warnings[RowWarning.UNPARSEABLE_DATE] += 1
        if any(REPLACEMENT_CHARACTER in value for value in values if value):
            self.tally.warnings[RowWarning.REPLACEMENT_CHARACTER] += 1
        self.writer.add_record(draft, self.source, row)
        self.tally.ingested += 1

    def _quarantine(self, row: int | None, kind: Reason, detail: str, draft: Draft | None) -> None:
        if draft is not None and draft.raw_date is not None:
            draft.event_date = try_date(draft.raw_date)
        self.tally.quarantined += 1
        self.tally.reasons[kind] += 1
        self.writer.add_quarantined(self.source, row, f"{kind}: {detail}", draft)

    def _reject_file(self, kind: Reason, detail: str) -> Tally:
        """Quarantine the whole file (or the rest of it) as one entry counted as one row read."""
        logger.warning("%s quarantined: %s", self.source, kind)
        self.tally.read += 1
        self._quarantine(None, kind, detail, None)
        return self.tally


def _describe(error: Exception) -> str:
    """Describe a library error briefly (its type and the start of its message)."""
    message = str(error).splitlines()[0][:160] if str(error) else ""
    return f"{type(error).__name__}: {message}" if message else type(error).__name__
