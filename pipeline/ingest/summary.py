"""The ingest summary: counts that reconcile, per run and per file, and how they are shown."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["FileSummary", "IngestSummary", "Tally", "format_details"]


@dataclass(frozen=True, slots=True)
class FileSummary:
    """Counts for one export file.

    Attributes
    ----------
    source : str
        The file name as written into records (redacted like every other field).
    format : str
        The reader used (``csv``, ``xlsx``, ``jsonl``, ``docx``, ``pdf``, ``text``), or
        ``"unsupported"``.
    encoding : str or None
        The text encoding used, for text formats.
    read, ingested, quarantined, duplicates : int
        Rows read and what became of them; ``read == ingested + quarantined + duplicates``. A file
        that cannot be read at all counts as one row read and quarantined.
    """

    source: str
    format: str
    encoding: str | None
    read: int
    ingested: int
    quarantined: int
    duplicates: int

    def to_dict(self) -> dict[str, Any]:
        """Return the counts as a JSON-ready dict."""
        return asdict(self)

    def line(self) -> str:
        """Format the counts as one indented line of a summary."""
        kind = self.format if self.encoding is None else f"{self.format}, {self.encoding}"
        return (
            f"  {self.source} ({kind}): {self.read} read, {self.ingested} ingested, "
            f"{self.quarantined} quarantined, {self.duplicates} duplicates"
        )


def format_details(
    files: Sequence[FileSummary], reasons: Mapping[str, int], warnings: Mapping[str, int]
) -> list[str]:
    """Return a summary's per-file lines, then its quarantine reasons and warnings, if any.

    Parameters
    ----------
    files : sequence of FileSummary
        Per-file counts, in the order read.
    reasons, warnings : mapping of str to int
        Quarantined rows by reason, and kept rows with something odd, by kind.

    Returns
    -------
    list of str
        Lines of plain text.
    """
    lines = [f.line() for f in files]
    if reasons:
        lines.append(
            f"Quarantine reasons: {', '.join(f'{k} {v}' for k, v in sorted(reasons.items()))}"
        )
    if warnings:
        lines.append(
            f"Warnings (rows kept): {', '.join(f'{k} {v}' for k, v in sorted(warnings.items()))}"
        )
    return lines


@dataclass(frozen=True, slots=True)
class IngestSummary:
    """What one ingest run did.

    Attributes
    ----------
    read, ingested, quarantined, duplicates : int
        Totals over all files; ``read == ingested + quarantined + duplicates``.
    reasons : Mapping[str, int]
        Quarantined rows by reason kind.
    warnings : Mapping[str, int]
        Ingested rows with something odd, by kind (e.g. ``unparseable_date``).
    files : tuple of FileSummary
        Per-file counts, in the order read.
    output, quarantine : str
        Where records and quarantined rows were written.
    seconds : float
        Wall-clock time of the run.
    """

    read: int
    ingested: int
    quarantined: int
    duplicates: int
    reasons: Mapping[str, int]
    warnings: Mapping[str, int]
    files: tuple[FileSummary, ...]
    output: str
    quarantine: str
    seconds: float

    @property
    def reconciles(self) -> bool:
        """Whether every row read is accounted for."""
        return self.read == self.ingested + self.quarantined + self.duplicates

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as a JSON-ready dict (what ``nearmiss ingest --json`` prints).

        Returns
        -------
        dict
            Totals, ``reasons``, ``warnings``, ``files`` (one dict each), paths and seconds.
        """
        return {
            "read": self.read,
            "ingested": self.ingested,
            "quarantined": self.quarantined,
            "duplicates": self.duplicates,
            "reasons": dict(self.reasons),
            "warnings": dict(self.warnings),
            "files": [f.to_dict() for f in self.files],
            "output": self.output,
            "quarantine": self.quarantine,
            "seconds": round(self.seconds, 3),
        }

    def format(self) -> str:
        """Format the summary as a few lines of plain text for a person.

        Returns
        -------
        str
            Totals, one line per file, reasons and warnings.
        """
        lines = [
            f"Read {self.read} rows from {len(self.files)} files: {self.ingested} ingested, "
            f"{self.quarantined} quarantined, {self.duplicates} duplicates "
            f"({self.seconds:.1f} s)."
        ]
        lines += format_details(self.files, self.reasons, self.warnings)
        lines.append(f"Records: {self.output}")
        lines.append(f"Quarantine: {self.quarantine}")
        return "\n".join(lines)


@dataclass(slots=True)
class Tally:
    """Running counts for one file while it is read (mutable; frozen into a FileSummary).

    Attributes
    ----------
    source, format, encoding
        As in :class:`FileSummary`.
    read, ingested, quarantined, duplicates : int
        Counts so far.
    reasons, warnings : Counter
        Counts by kind so far.
    """

    source: str
    format: str
    encoding: str | None = None
    read: int = 0
    ingested: int = 0
    quarantined: int = 0
    duplicates: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)

    def freeze(self) -> FileSummary:
        """Freeze the counts into a :class:`FileSummary`.

        Returns
        -------
        FileSummary
            The frozen counts.
        """
        return FileSummary(
            self.source,
            self.format,
            self.encoding,
            self.read,
            self.ingested,
            self.quarantined,
            self.duplicates,
        )
