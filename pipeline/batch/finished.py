"""Skip unchanged exports: record the input files a run finished, and find them on a re-run.

When a batch run finishes, each input file is recorded in the store by content (SHA-256 and size),
with the ingest options, the bundle's name and the file's counts (:mod:`pipeline.store.inputs`).
:func:`unchanged_summary` lets ``nearmiss batch`` answer a re-run of unchanged files from those
records alone, before it imports Prefect or loads a model: it resolves the bundle's *name* from
its ``metadata.json`` (not the model), hashes the inputs, and returns the usual summary, with
every narrative already coded. A changed file, another bundle, other column options, a run that
did not finish, or a purge since (which forgets every record) all mean the full run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from pipeline.batch.coding import DEFAULT_SUGGESTER_FACTORY, get_suggester
from pipeline.batch.summary import BatchSummary
from pipeline.ingest import find_inputs
from pipeline.store import (
    FileCounts,
    InputKey,
    describe_url,
    finished_inputs,
    hash_input,
    record_finished_inputs,
    session_scope,
)

__all__ = [
    "bundle_name",
    "hash_inputs",
    "ingest_options",
    "record_finished",
    "unchanged_summary",
]

logger = logging.getLogger(__name__)


def ingest_options(columns: Mapping[str, str]) -> str:
    """Return a digest of the ingest options that shape records (the column mapping).

    Examples
    --------
    >>> ingest_options({"text": "Description"}) == ingest_options({"text": "Description"})
    True
    >>> ingest_options({}) == ingest_options({"text": "Description"})
    False
    """
    canonical = json.dumps(sorted(columns.items()), separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def hash_inputs(paths: Sequence[Path]) -> list[InputKey]:
    """Hash the export files that ``paths`` stand for, in the order ingest reads them.

    Parameters
    ----------
    paths : sequence of Path
        Files and folders, as given to the batch.

    Returns
    -------
    list of InputKey
        One per file (folders expand to their supported files).

    Raises
    ------
    InputError
        If a path does not exist.
    """
    return [hash_input(path) for path in find_inputs(paths)]


def bundle_name(factory: str, model: Path | None, db_url: str) -> str | None:
    """Return the name of the bundle a batch would code with, without loading it if possible.

    For the default factory the bundle is chosen as :func:`pipeline.suggest.load_suggester` does
    (``model``, ``NEARMISS_MODEL``, the promoted bundle, the starter bundle) and its name read
    from its ``metadata.json``. Another factory is asked for its suggester, once per process (what
    that costs is up to the factory; the batch then reuses it).

    Parameters
    ----------
    factory : str
        ``module:function`` of the suggester factory.
    model : Path or None
        ``--model``.
    db_url : str
        The store.

    Returns
    -------
    str or None
        The name, or ``None`` when it cannot be read cheaply (the full run will find out).
    """
    if factory != DEFAULT_SUGGESTER_FACTORY:
        return get_suggester(factory, model, db_url).name
    from pipeline.bundle_choice import chosen_bundle
    from pipeline.starter import starter_dir

    directory = chosen_bundle(model, db_url, verify=False) or starter_dir()
    try:
        metadata = json.loads((directory / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) and name else None


def unchanged_summary(
    paths: Sequence[Path],
    *,
    db_url: str,
    model: Path | None = None,
    columns: Mapping[str, str] | None = None,
    factory: str = DEFAULT_SUGGESTER_FACTORY,
) -> BatchSummary | None:
    """Return the summary of a batch whose every input was finished before by the same bundle.

    Parameters
    ----------
    paths : sequence of Path
        Files and folders, as given to the batch.
    db_url : str
        The store.
    model : Path or None
        ``--model``.
    columns : mapping of str to str or None
        ``--column`` options.
    factory : str
        ``module:function`` of the suggester factory.

    Returns
    -------
    BatchSummary or None
        Counts as recorded when each file was finished, with nothing stored or coded now
        (``ingested == already_coded``); ``None`` when any input is not recorded as finished
        with this bundle and these options, which calls for the full run.
    """
    started = time.perf_counter()
    keys = hash_inputs(paths)
    name = bundle_name(factory, model, db_url)
    if name is None:
        return None
    with session_scope(db_url) as session:
        found = finished_inputs(session, keys, options=ingest_options(columns or {}), model=name)
    if any(key not in found for key in keys):
        logger.info("batch: %d of %d inputs finished before; full run", len(found), len(keys))
        return None
    counts = [found[key] for key in keys]
    files = tuple(c.file for c in counts)
    ingested = sum(f.ingested for f in files)
    seconds = time.perf_counter() - started
    logger.info("batch: all %d inputs finished before by %s (%.2f s)", len(keys), name, seconds)
    return BatchSummary(
        read=sum(f.read for f in files),
        ingested=ingested,
        quarantined=sum(f.quarantined for f in files),
        duplicates=sum(f.duplicates for f in files),
        stored=0,
        coded=0,
        already_coded=ingested,
        model=name,
        chunks=0,
        reasons={},
        warnings={},
        files=files,
        quarantine=counts[-1].quarantine,
        store=describe_url(db_url),
        seconds=seconds,
        ingest_seconds=0.0,
        code_seconds=0.0,
    )


def record_finished(
    keys: Sequence[InputKey],
    summary: BatchSummary,
    *,
    db_url: str,
    columns: Mapping[str, str] | None = None,
) -> int:
    """Record a finished run's input files, so that re-running them unchanged stops early.

    Parameters
    ----------
    keys : sequence of InputKey
        The inputs, hashed before ingest read them (:func:`hash_inputs`).
    summary : BatchSummary
        The run's summary: its per-file counts line up with ``keys``.
    db_url : str
        The store.
    columns : mapping of str to str or None
        ``--column`` options.

    Returns
    -------
    int
        Files recorded: none when the summary does not reconcile or its files do not line up
        with ``keys`` (the next run then takes the full path, which is always safe).
    """
    if not summary.reconciles or len(summary.files) != len(keys):
        logger.warning("batch: inputs not recorded as finished (counts do not line up)")
        return 0
    files = [
        (
            key,
            FileCounts(f, summary.quarantine),
        )
        for key, f in zip(keys, summary.files, strict=True)
    ]
    with session_scope(db_url, write=True) as session:
        record_finished_inputs(
            session, files, options=ingest_options(columns or {}), model=summary.model
        )
    return len(files)
