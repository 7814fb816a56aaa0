"""Ingest exports into de-identified records: read, map, check, deduplicate, redact, write.

Every row read ends *ingested*, *duplicate* or *quarantined* (with a reason), so
``read == ingested + quarantined + duplicates``. A file that cannot be read at all (corrupt,
unsupported, no narrative column) is one quarantined entry with ``row`` null, and is counted as one
row read. Rows stream through: readers are generators, redaction runs a batch at a time, output is
written as it goes and the identity index (two 64-bit hashes a row) lives in a temporary SQLite
file, so memory stays flat however big the export. Outputs are written to ``*.part`` files and
renamed at the end, so a failed run leaves no half-written records file.
"""

from __future__ import annotations

import codecs
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import TextIO

from pipeline.errors import InputError
from pipeline.ingest.identity import IdentityIndex
from pipeline.ingest.ingester import MAX_TEXT_CHARS, FileIngester, IdConflict
from pipeline.ingest.reader import find_inputs
from pipeline.ingest.summary import IngestSummary, Tally
from pipeline.ingest.writer import BATCH_SIZE, BatchWriter, Redactor

__all__ = ["MAX_TEXT_CHARS", "IdConflict", "default_quarantine_path", "ingest_files"]

logger = logging.getLogger(__name__)


def default_quarantine_path(output: Path) -> Path:
    """Where quarantined rows go when no path is given: beside the records file.

    Parameters
    ----------
    output : Path
        The records file.

    Returns
    -------
    Path
        ``<output stem>.quarantine.jsonl`` in the same folder.

    Examples
    --------
    >>> default_quarantine_path(Path("out/records.jsonl")).as_posix()
    'out/records.quarantine.jsonl'
    """
    return output.with_name(f"{output.stem}.quarantine.jsonl")


def _default_redactor() -> Redactor:
    """Import the project's redactor (only when needed)."""
    from pipeline.redact import redact_texts

    return redact_texts


def ingest_files(
    paths: Sequence[Path],
    output: Path,
    quarantine: Path | None = None,
    *,
    columns: Mapping[str, str] | None = None,
    encoding: str | None = None,
    keep_raw: bool = False,
    on_id_conflict: IdConflict = IdConflict.QUARANTINE,
    redact: Redactor | None = None,
    batch_size: int = BATCH_SIZE,
    on_records: Callable[[list[str]], None] | None = None,
) -> IngestSummary:
    """Read exports and write de-identified records and quarantined rows as JSON Lines.

    Parameters
    ----------
    paths : sequence of Path
        Export files, or directories of them (see :func:`~pipeline.ingest.reader.find_inputs`).
    output : Path
        The records file to write (replaced if it exists).
    quarantine : Path, optional
        The quarantine file; by default :func:`default_quarantine_path` of ``output``.
    columns : mapping of str to str, optional
        Explicit target-to-column mapping for tables (see
        :func:`~pipeline.ingest.columns.parse_column_options`).
    encoding : str, optional
        Force the encoding of CSV and text files instead of detecting it.
    keep_raw : bool, default=False
        Write quarantined records unredacted.
    on_id_conflict : IdConflict, default=IdConflict.QUARANTINE
        Quarantine a row whose id was ingested with different content, or give it a derived id.
    redact : Redactor, optional
        The redactor; by default :func:`pipeline.redact.redact_texts`.
    batch_size : int, default=BATCH_SIZE
        Rows redacted and written per batch.
    on_records : callable, optional
        Called with the record lines of each batch as they are written (see
        :class:`~pipeline.ingest.writer.BatchWriter`); they are final (a later row is a duplicate
        of an earlier one, never the other way round) but the records file is not there until the
        end.

    Returns
    -------
    IngestSummary
        Counts that reconcile, per run and per file.

    Raises
    ------
    InputError
        Before anything is written: if a path does not exist, the encoding is unknown, or an
        output path is also an input.
    """
    files = find_inputs(paths)
    quarantine = quarantine or default_quarantine_path(output)
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InputError(
                f"unknown encoding {encoding!r}; use a Python codec name such as utf-8 or cp1252"
            ) from None
    inputs = {file.resolve() for file in files}
    for target in (output, quarantine):
        if target.resolve() in inputs:
            raise InputError(f"{target} is also an input; write the output somewhere else")
    if output.resolve() == quarantine.resolve():
        raise InputError(f"--output and --quarantine are both {output}; give two paths")
    for target in (output, quarantine):
        if target.is_dir():
            raise InputError(f"{target} is a folder; give a file name such as records.jsonl")
    redactor = redact or _default_redactor()
    started = time.perf_counter()
    tallies: list[Tally] = []
    parts = [path.with_name(path.name + ".part") for path in (output, quarantine)]
    try:
        with ExitStack() as stack:
            records = stack.enter_context(_open_for_writing(parts[0]))
            rejected = stack.enter_context(_open_for_writing(parts[1]))
            writer = BatchWriter(
                records,
                rejected,
                redactor,
                batch_size=batch_size,
                keep_raw=keep_raw,
                on_records=on_records,
            )
            index = IdentityIndex()
            stack.callback(index.close)
            for path in files:
                source = redactor([path.name])[0]
                logger.info("reading %s", source)
                ingest = FileIngester(
                    path,
                    source,
                    writer,
                    index,
                    explicit=columns or {},
                    encoding=encoding,
                    on_id_conflict=on_id_conflict,
                )
                tallies.append(ingest.run())
            writer.flush()
        for part, final in zip(parts, (output, quarantine), strict=True):
            os.replace(part, final)
    finally:
        for part in parts:
            with suppress(OSError):  # nothing to clean up, or the folder was never made
                part.unlink(missing_ok=True)
    return _summarise(tallies, output, quarantine, time.perf_counter() - started)


def _open_for_writing(path: Path) -> TextIO:
    """Open an output file (creating its folder), or raise an InputError that names the fix."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("w", encoding="utf-8", newline="\n")
    except OSError as error:
        raise InputError(
            f"cannot write {path} ({error.strerror}); choose a folder you can write to"
        ) from None


def _summarise(
    tallies: list[Tally], output: Path, quarantine: Path, seconds: float
) -> IngestSummary:
    """Add up per-file tallies into the run's summary."""
    reasons: Counter[str] = Counter()
    warnings: Counter[str] = Counter()
    for tally in tallies:
        reasons.update({str(k): v for k, v in tally.reasons.items()})
        warnings.update({str(k): v for k, v in tally.warnings.items() if v})
    summary = IngestSummary(
        read=sum(t.read for t in tallies),
        ingested=sum(t.ingested for t in tallies),
        quarantined=sum(t.quarantined for t in tallies),
        duplicates=sum(t.duplicates for t in tallies),
        reasons=dict(sorted(reasons.items())),
        warnings=dict(sorted(warnings.items())),
        files=tuple(t.freeze() for t in tallies),
        output=str(output),
        quarantine=str(quarantine),
        seconds=seconds,
    )
    logger.info(
        "ingest: %d read, %d ingested, %d quarantined, %d duplicates",
        summary.read,
        summary.ingested,
        summary.quarantined,
        summary.duplicates,
    )
    return summary
