"""Finished inputs: export files a batch run has stored and coded completely, by content.

``nearmiss batch`` records each of its input files here when a run finishes, keyed by the file's
SHA-256 and size, the ingest options and the bundle's name. A later run over the same unchanged
files, with the same bundle, finds them all here and stops before ingesting or loading a model.
A purge forgets every finished input (:func:`forget_finished_inputs`), since it may have deleted
narratives those files hold.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from pipeline.ingest.summary import FileSummary
from pipeline.store.models import FinishedInput

__all__ = [
    "FileCounts",
    "InputKey",
    "finished_inputs",
    "forget_finished_inputs",
    "hash_input",
    "record_finished_inputs",
]

logger = logging.getLogger(__name__)

_READ_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class InputKey:
    """An input file's identity by content: its SHA-256 and size in bytes."""

    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class FileCounts:
    """One finished file's counts (as in a batch summary's per-file lines).

    Attributes
    ----------
    file : FileSummary
        The file's name, format, encoding, rows read and what became of them.
    quarantine : str
        Where its quarantined rows were written.
    """

    file: FileSummary
    quarantine: str


def hash_input(path: Path) -> InputKey:
    """Return a file's SHA-256 and size, reading it in 1 MiB blocks.

    Raises
    ------
    OSError
        If the file cannot be read.
    """
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(_READ_BYTES):
            digest.update(block)
            size += len(block)
    return InputKey(digest.hexdigest(), size)


def finished_inputs(
    session: Session, keys: Sequence[InputKey], *, options: str, model: str
) -> dict[InputKey, FileCounts]:
    """Return the finished records of those ``keys`` that ``model`` finished with ``options``.

    Parameters
    ----------
    session : Session
        An open session.
    keys : sequence of InputKey
        Input files by content.
    options : str
        Digest of the ingest options.
    model : str
        The bundle's name.

    Returns
    -------
    dict of InputKey to FileCounts
        Only the keys found.
    """
    wanted = sorted({(key.sha256, key.size) for key in keys})
    query = select(FinishedInput).where(
        FinishedInput.model == model,
        FinishedInput.options == options,
        tuple_(FinishedInput.sha256, FinishedInput.size).in_(wanted),
    )
    return {
        InputKey(row.sha256, row.size): FileCounts(
            FileSummary(**{field.name: getattr(row, field.name) for field in fields(FileSummary)}),
            row.quarantine,
        )
        for row in session.scalars(query)
    }


def record_finished_inputs(
    session: Session,
    files: Sequence[tuple[InputKey, FileCounts]],
    *,
    options: str,
    model: str,
) -> None:
    """Record files as finished by ``model`` (replacing earlier records of the same key).

    Parameters
    ----------
    session : Session
        A session inside a write transaction.
    files : sequence of (InputKey, FileCounts)
        Each finished file and its counts.
    options : str
        Digest of the ingest options.
    model : str
        The bundle's name.
    """
    latest = dict(files)  # a file given twice is one input
    if not latest:
        return
    keys = [(key.sha256, key.size) for key in latest]
    session.execute(
        delete(FinishedInput).where(
            FinishedInput.model == model,
            FinishedInput.options == options,
            tuple_(FinishedInput.sha256, FinishedInput.size).in_(keys),
        )
    )
    session.add_all(
        FinishedInput(
            sha256=key.sha256,
            size=key.size,
            options=options,
            model=model,
            quarantine=counts.quarantine,
            **asdict(counts.file),
        )
        for key, counts in latest.items()
    )
    session.flush()
    logger.info("Recorded %d finished inputs for %s", len(latest), model)


def forget_finished_inputs(session: Session) -> int:
    """Forget every finished input, so that the next batch over any file takes the full path.

    Returns
    -------
    int
        How many records were deleted.
    """
    result = session.execute(delete(FinishedInput))
    count = int(getattr(result, "rowcount", 0) or 0)
    logger.info("Forgot %d finished inputs", count)
    return count
