"""Ingest in another process: redaction on a second core while this one loads the model.

A batch starts with two jobs that need nothing from each other: ingesting the exports (read,
check, deduplicate, redact) and loading the suggester (importing torch and sentence-transformers,
reading the bundle). Both are CPU-bound Python, so threads would take turns on one core. An
:class:`IngestProcess` runs the ingest in a child Python process instead; its result, a
:class:`~pipeline.batch.prepare.PreparedBatch`, is small (counts, a path, byte ranges), and the
narratives travel through the work folder's records file as they always do, never through a pipe.

The CLI starts the ingest of a run before Prefect (:func:`start_ingest`), beside Prefect's
temporary server and the model load; the flow's ingest task then adopts that process when it asks
for the same :class:`IngestRequest` (:func:`run_ingest`), or starts its own. A process that ends
without a result (killed, out of memory) is an :class:`~pipeline.errors.InputError` naming its exit
code; nothing half-written reaches the store, which only reads the records file after ingest.

>>> request = IngestRequest.of([Path("exports")], work_dir=Path("work"))
>>> request.columns
()
"""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pipeline import LOG_FORMAT
from pipeline.batch.chunks import DEFAULT_CHUNK_SIZE
from pipeline.batch.prepare import PreparedBatch, default_work_dir, prepare_batch, split_ahead
from pipeline.errors import InputError, NearMissError

__all__ = ["IngestProcess", "IngestRequest", "cancel_ingest", "run_ingest", "start_ingest"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IngestRequest:
    """What to ingest and where: the arguments of :func:`prepare_batch`, hashable.

    Attributes
    ----------
    paths : tuple of Path
        Export files or folders, as given to the batch.
    work_dir : Path
        The work folder of the run.
    quarantine : Path or None
        The quarantine file, or ``None`` for the work folder's.
    chunk_size : int
        Narratives per chunk.
    columns : tuple of (str, str)
        Explicit column mapping, sorted by target.
    sentences : bool
        Also split the records into sentences for the default suggester, into its cache
        (:func:`~pipeline.batch.prepare.split_ahead`), so that coding does not.
    """

    paths: tuple[Path, ...]
    work_dir: Path
    quarantine: Path | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE
    columns: tuple[tuple[str, str], ...] = ()
    sentences: bool = False

    @classmethod
    def of(
        cls,
        paths: Sequence[Path],
        *,
        work_dir: Path | None = None,
        quarantine: Path | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        columns: Mapping[str, str] | None = None,
        sentences: bool = False,
    ) -> IngestRequest:
        """Build a request, with the default work folder of ``paths`` when none is given."""
        return cls(
            paths=tuple(paths),
            work_dir=work_dir if work_dir is not None else default_work_dir(paths),
            quarantine=quarantine,
            chunk_size=chunk_size,
            columns=tuple(sorted((columns or {}).items())),
            sentences=sentences,
        )

    def run(self) -> PreparedBatch:
        """Hash the input files, then ingest them, in this process.

        The files are hashed before ingest reads them, so that a file replaced during the run is
        never recorded as finished under the new content.
        """
        from pipeline.batch.finished import hash_inputs

        inputs = tuple(hash_inputs(self.paths))
        prepared = prepare_batch(
            self.paths,
            self.work_dir,
            quarantine=self.quarantine,
            chunk_size=self.chunk_size,
            columns=dict(self.columns),
        )
        if self.sentences:
            from pipeline.config import get_settings

            split_ahead(prepared, get_settings().cache_dir)
        return replace(prepared, inputs=inputs)


def _child_main() -> None:
    """Run a request in the child process :class:`IngestProcess` starts.

    Reads a pickled :class:`IngestRequest` on stdin; writes a pickled ``("result",
    PreparedBatch)`` or ``("error", exception)`` on stdout.
    """
    channel = sys.stdout.buffer
    sys.stdout = sys.stderr  # stdout carries the outcome alone
    logging.basicConfig(level=int(sys.argv[1]), format=LOG_FORMAT)  # the parent's level
    request: IngestRequest = pickle.loads(sys.stdin.buffer.read())
    try:
        outcome: tuple[str, Any] = ("result", request.run())
    except BaseException as error:  # noqa: BLE001 - every failure goes back to the parent
        outcome = ("error", error)
    try:
        payload = pickle.dumps(outcome)
    except Exception:  # noqa: BLE001 - an error that cannot be pickled goes back as its text
        kind, failure = outcome
        payload = pickle.dumps((kind, NearMissError(f"{type(failure).__name__}: {failure}")))
    channel.write(payload)
    channel.flush()


#: What the child process runs.
_CHILD = "from pipeline.batch.ahead import _child_main; _child_main()"


class IngestProcess:
    """An :class:`IngestRequest` running in a child Python process.

    Parameters
    ----------
    request : IngestRequest
        What to ingest.

    Notes
    -----
    The request and the outcome travel pickled through the child's stdin and stdout: a process
    this one started, running this package, so the pickle is trusted. The child is in this
    process's group: killing the group stops both.
    """

    def __init__(self, request: IngestRequest) -> None:
        self.request = request
        self._process = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(logging.getLogger().getEffectiveLevel())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._process.stdin is not None
        self._process.stdin.write(pickle.dumps(request))
        self._process.stdin.close()
        logger.debug("ingest started in process %s", self._process.pid)

    def result(self) -> PreparedBatch:
        """Wait for the ingest; return its prepared batch or raise its error.

        Raises
        ------
        InputError
            If an input is missing or unreadable (as :func:`prepare_batch`), or if the process
            ended without a result.
        """
        assert self._process.stdout is not None
        with self._process.stdout as channel:
            payload = channel.read()
        code = self._process.wait()
        if not payload:
            raise InputError(
                f"the ingest process ended without a result (exit code {code}); check memory "
                "and disk space, then run the batch again"
            )
        kind, value = pickle.loads(payload)  # noqa: S301 - from our own child process
        if kind == "error":
            raise value
        prepared: PreparedBatch = value
        return prepared

    def cancel(self) -> None:
        """Stop the process if it is still running."""
        if self._process.poll() is None:
            self._process.terminate()
        self._process.wait()


_LOCK = threading.Lock()
#: Ingest processes started and not yet adopted, by work folder (one writer per folder).
_STARTED: dict[Path, IngestProcess] = {}


def _running_for(request: IngestRequest) -> IngestProcess | None:
    """Return the process started for ``request``, if any.

    One started for another request in the same work folder is stopped: two ingests must never
    write one folder.
    """
    with _LOCK:
        started = _STARTED.get(request.work_dir)
        if started is None or started.request == request:
            return started
        del _STARTED[request.work_dir]
    started.cancel()
    return None


def start_ingest(request: IngestRequest) -> IngestProcess:
    """Start ingesting ``request`` in another process, for :func:`run_ingest` to adopt later."""
    started = _running_for(request)
    if started is None:
        started = IngestProcess(request)
        with _LOCK:
            _STARTED[request.work_dir] = started
    return started


def run_ingest(request: IngestRequest, *, separate_process: bool = True) -> PreparedBatch:
    """Ingest ``request``: adopt the process :func:`start_ingest` started for it, or run it now.

    Parameters
    ----------
    request : IngestRequest
        What to ingest.
    separate_process : bool, default=True
        Without a started process: run in a new process (True) or in this one (False).

    Returns
    -------
    PreparedBatch
        The ingest summary, the records file, its chunks and the inputs' hashes.
    """
    started = _running_for(request)
    if started is None:
        if not separate_process:
            return request.run()
        started = start_ingest(request)
    try:
        return started.result()
    finally:  # registered while it runs, so that cancel_ingest can stop it
        with _LOCK:
            if _STARTED.get(request.work_dir) is started:
                del _STARTED[request.work_dir]


def cancel_ingest() -> None:
    """Stop every ingest process that is still running (when a run fails or ends early)."""
    with _LOCK:
        started = list(_STARTED.values())
        _STARTED.clear()
    for process in started:
        process.cancel()
