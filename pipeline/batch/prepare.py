"""Prepare a batch: ingest the exports into a records file in a work folder and cut it into chunks.

The work folder (by default ``<data dir>/batch/<key>``, the key a hash of the input paths, so that
re-running the same export uses the same folder) holds the de-identified records of the run in
progress and the quarantine file. The records file is deleted when the run finishes; the quarantine
file stays for people to read.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from pipeline.batch.chunks import DEFAULT_CHUNK_SIZE, Span, plan_spans
from pipeline.config import get_settings
from pipeline.errors import InputError
from pipeline.ingest import IngestSummary, Redactor, ingest_files

if TYPE_CHECKING:
    from pipeline.store.inputs import InputKey

__all__ = [
    "DEFAULT_SUGGESTER_FACTORY",
    "RECORDS_FILE",
    "EarlyChunk",
    "PreparedBatch",
    "clear_early_quarantine",
    "default_work_dir",
    "discard_records",
    "distributed_notice",
    "merge_quarantine",
    "prepare_batch",
    "split_ahead",
    "split_early",
]

logger = logging.getLogger(__name__)

#: The suggester factory used unless another is named (pipeline.batch.coding): resolves the bundle
#: and builds its suggester, whose sentences the ingest can split ahead (:func:`split_ahead`).
DEFAULT_SUGGESTER_FACTORY = "pipeline.suggest:load_suggester"
#: The de-identified records of the run in progress, inside the work folder.
RECORDS_FILE = "records.jsonl"
#: Quarantined rows, inside the work folder unless another path is given.
QUARANTINE_FILE = "quarantine.jsonl"
#: An early chunk's records, copied out while ingest goes on (:class:`EarlyChunk`); by index.
EARLY_RECORDS_FILE = "records.early-{}.jsonl"
#: An early chunk's id conflicts, until the ingest's quarantine file is there to take them.
EARLY_QUARANTINE_FILE = "quarantine.early-{}.jsonl"


@dataclass(frozen=True, slots=True)
class EarlyChunk:
    """A chunk of a batch, ready while ingest goes on with the rest of the exports.

    Ingest writes its records file under another name and renames it at the end, so each full
    chunk's records are copied to a file of their own as soon as they are written, when more
    records follow: the same lines as ``span`` of the finished records file. A batch stores and
    codes these chunks while the rest is still being redacted.

    Attributes
    ----------
    records : Path
        The chunk's records (``records.early-<index>.jsonl`` in the work folder).
    span : Span
        The chunk in the finished records file (its index is the chunk's).
    quarantine : Path
        Where storing the chunk writes records whose id is stored with other content, until
        :func:`merge_quarantine` adds them to the ingest's quarantine file (the batch empties it
        before storing the chunk).
    """

    records: Path
    span: Span
    quarantine: Path

    @property
    def own_span(self) -> Span:
        """The chunk in its own file, :attr:`records` (all of it)."""
        return Span(self.span.index, 0, self.span.stop - self.span.start, self.span.lines)


class _EarlyChunkWriter:
    """Take record lines as ingest writes them; report each full chunk once more records follow.

    Reports only when more records follow, so a batch that fits in one chunk is left to go as
    before (one chunk, once ingest is done), and the last records are cut once ingest is done.
    """

    def __init__(self, work_dir: Path, size: int, report: Callable[[EarlyChunk], None]) -> None:
        self.work_dir = work_dir
        self.size = size
        self.report = report
        self.chunks: list[EarlyChunk] = []
        self._lines: list[str] = []
        self._offset = 0  # where the next chunk starts in the records file

    def __call__(self, lines: list[str]) -> None:
        self._lines += lines
        while len(self._lines) > self.size:
            taken, self._lines = self._lines[: self.size], self._lines[self.size :]
            index = len(self.chunks)
            records = self.work_dir / EARLY_RECORDS_FILE.format(index)
            part = records.with_name(records.name + ".part")
            with part.open("w", encoding="utf-8", newline="\n") as handle:
                handle.writelines(taken)
            os.replace(part, records)  # whole or not at all, for a reader of an earlier one
            stop = self._offset + records.stat().st_size
            span = Span(index, self._offset, stop, len(taken))
            self._offset = stop
            quarantine = self.work_dir / EARLY_QUARANTINE_FILE.format(index)
            self.chunks.append(EarlyChunk(records, span, quarantine))
            self.report(self.chunks[-1])


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    """An ingested batch, ready to be stored chunk by chunk.

    Attributes
    ----------
    ingest : IngestSummary
        What ingest did (counts, per file, paths).
    records : Path
        The de-identified records file.
    spans : tuple of Span
        Its chunks.
    inputs : tuple of InputKey
        The input files' content hashes, taken before ingest read them (empty when not taken;
        see :meth:`pipeline.batch.ahead.IngestRequest.run`).
    early : tuple of EarlyChunk
        The chunks reported during ingest, in order (their spans are the first of ``spans``).
    """

    ingest: IngestSummary
    records: Path
    spans: tuple[Span, ...]
    inputs: tuple[InputKey, ...] = ()
    early: tuple[EarlyChunk, ...] = ()


def default_work_dir(paths: Sequence[Path]) -> Path:
    """Return the work folder of a batch over ``paths``: the same for the same inputs.

    Parameters
    ----------
    paths : sequence of Path
        The files and folders given to the batch.

    Returns
    -------
    Path
        ``<data dir>/batch/<16 hex digits>``.
    """
    names = "\n".join(sorted(str(path.expanduser().resolve()) for path in paths))
    key = hashlib.sha256(names.encode("utf-8")).hexdigest()[:16]
    return get_settings().data_dir / "batch" / key


def prepare_batch(
    paths: Sequence[Path],
    work_dir: Path,
    *,
    quarantine: Path | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    columns: Mapping[str, str] | None = None,
    redact: Redactor | None = None,
    on_early_chunk: Callable[[EarlyChunk], None] | None = None,
) -> PreparedBatch:
    """Ingest exports (read, check, deduplicate, redact) into the work folder, and plan chunks.

    Parameters
    ----------
    paths : sequence of Path
        Export files or folders of them.
    work_dir : Path
        Where the records file (and by default the quarantine file) are written.
    quarantine : Path, optional
        The quarantine file; ``work_dir / "quarantine.jsonl"`` by default.
    chunk_size : int, default=DEFAULT_CHUNK_SIZE
        Narratives per chunk.
    columns : mapping of str to str, optional
        Explicit target-to-column mapping (as ``nearmiss ingest --column``).
    redact : Redactor, optional
        The redactor; :func:`pipeline.redact.redact_texts` by default.
    on_early_chunk : callable, optional
        Called with an :class:`EarlyChunk` for each full chunk as soon as its records are
        written, while ingest goes on, when more records follow; their spans are then the first
        of the returned spans, and the records after them are cut once ingest is done.

    Returns
    -------
    PreparedBatch
        The ingest summary, the records file and its chunks.

    Raises
    ------
    InputError
        If an input is missing or the work folder cannot be written.
    """
    if chunk_size < 1:
        raise InputError(f"--chunk-size {chunk_size} is not positive; use a few thousand")
    records = work_dir / RECORDS_FILE
    early = None
    if on_early_chunk is not None:
        for stale in work_dir.glob(EARLY_RECORDS_FILE.format("*") + "*"):  # .part files too
            stale.unlink(missing_ok=True)  # an interrupted run's
        early = _EarlyChunkWriter(work_dir, chunk_size, on_early_chunk)
    summary = ingest_files(
        paths,
        records,
        quarantine or work_dir / QUARANTINE_FILE,
        columns=columns,
        redact=redact,
        on_records=early,
    )
    taken = tuple(early.chunks) if early is not None else ()
    spans = tuple(plan_spans(records, chunk_size, after=[chunk.span for chunk in taken]))
    logger.info("batch: %d records in %d chunks of %d", summary.ingested, len(spans), chunk_size)
    return PreparedBatch(summary, records, spans, early=taken)


def split_ahead(
    prepared: PreparedBatch, cache_dir: Path, on_chunk: Callable[[int], None] | None = None
) -> int:
    """Split a batch's records into sentences ahead of coding, into the suggestion cache.

    Coding reads each stored narrative back and splits its (already redacted) text into labelled
    sentences before embedding it. This does that work here instead, chunk by chunk, through the
    same function and cache (:func:`pipeline.suggest_cache.prepare_cached` with ``redact=False``),
    so that coding finds every narrative prepared. Run in the ingest process, it moves the
    sentence splitting off the process that codes, onto the second core; the cached values are
    exactly those coding would compute, so the suggestions do not change. The chunks reported
    during ingest (:attr:`PreparedBatch.early`) are skipped: each was split before it was
    reported (:func:`split_early`).

    Parameters
    ----------
    prepared : PreparedBatch
        An ingested batch.
    cache_dir : Path
        The suggestion cache's directory (the suggester's, ``NEARMISS_CACHE_DIR``).
    on_chunk : callable, optional
        Called with each chunk's index once its records are in the cache.

    Returns
    -------
    int
        Records prepared (those already in the cache included; not those of early chunks).
    """
    started = time.perf_counter()
    spans = prepared.spans[len(prepared.early) :]
    done = _split_spans(prepared.records, spans, cache_dir, on_chunk)
    logger.info(
        "batch: %d records split into sentences in %.1f s", done, time.perf_counter() - started
    )
    return done


def split_early(chunk: EarlyChunk, cache_dir: Path) -> int:
    """Split an early chunk's records into sentences, into the suggestion cache.

    As :func:`split_ahead` does for the other chunks; the ingest process calls this before it
    reports the chunk, so that the process that codes it never loads spaCy to split it.

    Returns
    -------
    int
        Records prepared.
    """
    return _split_spans(chunk.records, (chunk.own_span,), cache_dir)


def _split_spans(
    records: Path,
    spans: Sequence[Span],
    cache_dir: Path,
    on_chunk: Callable[[int], None] | None = None,
) -> int:
    """Prepare the spans' records into the suggestion cache, as coding would; count them."""
    from pipeline.batch.chunks import read_span
    from pipeline.suggest_cache import SuggestCache, prepare_cached

    cache = SuggestCache(cache_dir)
    done = 0
    for span in spans:
        done += len(prepare_cached(read_span(records, span), redact=False, cache=cache))
        if on_chunk is not None:
            on_chunk(span.index)
    return done


def clear_early_quarantine(work_dir: Path) -> None:
    """Delete the early chunks' id conflicts an interrupted run left unmerged in ``work_dir``.

    Call before a run stores its first early chunk: from then on these files are the run's own
    until :func:`merge_quarantine` moves them, which is why the ingest (retried within a run, it
    may be) leaves them alone.
    """
    for stale in work_dir.glob(EARLY_QUARANTINE_FILE.format("*")):
        stale.unlink(missing_ok=True)


def merge_quarantine(chunk: EarlyChunk, quarantine: Path) -> None:
    """Append an early chunk's quarantined rows to the batch's quarantine file, once it exists.

    Ingest replaces its quarantine file when it finishes, so rows quarantined while storing an
    early chunk wait in :attr:`EarlyChunk.quarantine` until then.
    """
    try:
        rows = chunk.quarantine.read_bytes()
    except FileNotFoundError:
        return
    with quarantine.open("ab") as handle:
        handle.write(rows)
    chunk.quarantine.unlink()


def discard_records(prepared: PreparedBatch) -> None:
    """Delete a finished run's records files (their narratives are in the store now)."""
    files = [prepared.records]
    for chunk in prepared.early:
        files += [chunk.records, chunk.quarantine]
    for path in files:
        with suppress(FileNotFoundError):
            path.unlink()


def distributed_notice(db_url: str, address: str | None) -> str:
    """Check that a store suits a Dask cluster, and say what workers need.

    Parameters
    ----------
    db_url : str
        The normalised store URL.
    address : str or None
        The Dask scheduler's address; ``None`` for a local cluster on this machine.

    Returns
    -------
    str
        A note on what every worker must see: the store, the embedding cache and the bundle.

    Raises
    ------
    InputError
        If the scheduler is on another machine and the store is a SQLite file, which workers
        elsewhere cannot reach.
    """
    cache = get_settings().cache_dir
    if address is None:
        return (
            "Dask: a local cluster on this machine; each worker process loads its own model, so "
            "memory grows with --dask-workers."
        )
    is_sqlite = make_url(db_url).get_backend_name() == "sqlite"
    if is_sqlite and not _is_loopback(address):
        raise InputError(
            f"--dask-address {address} runs tasks on other machines, which cannot reach a SQLite "
            "store; use --db postgresql://USER@HOST/DB (password in PGPASSWORD or ~/.pgpass), "
            "reachable from every worker"
        )
    return (
        f"Dask workers at {address} must reach the store, see the bundle at the same path, and "
        f"share the embedding cache: set NEARMISS_CACHE_DIR (here {cache}) to a folder every "
        "worker mounts, and install the same nearmiss on every worker."
    )


def _is_loopback(address: str) -> bool:
    """Whether a Dask address (``tcp://host:port`` or ``host:port``) is on this machine."""
    host = urlsplit(address if "://" in address else f"tcp://{address}").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
