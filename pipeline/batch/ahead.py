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

While it ingests, the process reports each full chunk as soon as its records are written and
split into sentences, when more records follow (:func:`early_chunk`, an
:class:`~pipeline.batch.prepare.EarlyChunk`), so that the flow stores and codes it while the rest
is still being redacted, rather than wait for the whole ingest with a core idle. After
ingesting, the process splits the other narratives into sentences for coding, chunk by chunk,
into the suggestion cache (:func:`wait_for_sentences`). Coding uses both cores too: chunks the
flow hands over (:func:`code_chunk`) are coded here and in a second coder, whichever is free. The
second coder is a copy of this process forked once it has loaded the suggester
(:func:`fork_coder`, :mod:`pipeline.batch.forked`), or else the ingest process itself, which
loads the bundle once told which one codes the run (:func:`start_helping`).
Each chunk is coded by :func:`~pipeline.batch.coding.code_stored` in one process or the other,
with the same transactions; a chunk whose second coder dies is coded here instead.

>>> request = IngestRequest.of([Path("exports")], work_dir=Path("work"))
>>> request.columns
()
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline import LOG_FORMAT, collector
from pipeline.batch.chunks import DEFAULT_CHUNK_SIZE
from pipeline.batch.prepare import (
    EarlyChunk,
    PreparedBatch,
    default_work_dir,
    prepare_batch,
    split_ahead,
    split_early,
)
from pipeline.errors import InputError, NearMissError

if TYPE_CHECKING:
    from pipeline.batch.coding import CodedChunk
    from pipeline.batch.forked import ForkedCoder

__all__ = [
    "IngestProcess",
    "IngestRequest",
    "cancel_ingest",
    "code_chunk",
    "early_chunk",
    "finish_ingest",
    "fork_coder",
    "run_ingest",
    "start_helping",
    "start_ingest",
    "wait_for_sentences",
]

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

    def ingest(self, on_early_chunk: Callable[[EarlyChunk], None] | None = None) -> PreparedBatch:
        """Hash the input files, then ingest them, in this process (no sentence splitting).

        The files are hashed before ingest reads them, so that a file replaced during the run is
        never recorded as finished under the new content. ``on_early_chunk`` is called with each
        full chunk as soon as it is written, when more records follow (see
        :func:`~pipeline.batch.prepare.prepare_batch`).
        """
        from pipeline.batch.finished import hash_inputs

        inputs = tuple(hash_inputs(self.paths))
        prepared = prepare_batch(
            self.paths,
            self.work_dir,
            quarantine=self.quarantine,
            chunk_size=self.chunk_size,
            columns=dict(self.columns),
            on_early_chunk=on_early_chunk,
        )
        return replace(prepared, inputs=inputs)

    def split_early(self, chunk: EarlyChunk) -> bool:
        """Split an early chunk into sentences, if the request asks for it; return whether done."""
        if not self.sentences:
            return False
        from pipeline.config import get_settings

        split_early(chunk, get_settings().cache_dir)
        return True

    def split(self, prepared: PreparedBatch, on_chunk: Callable[[int], None] | None = None) -> None:
        """Split the ingested records into sentences, if the request asks for it."""
        if self.sentences:
            from pipeline.config import get_settings

            split_ahead(prepared, get_settings().cache_dir, on_chunk)

    def run(self) -> PreparedBatch:
        """Ingest, then split sentences if asked, in this process."""
        prepared = self.ingest()
        self.split(prepared)
        return prepared


def _child_main() -> None:
    """Run a request in the child process :class:`IngestProcess` starts.

    Reads a pickled :class:`IngestRequest` on stdin. Writes pickled messages on stdout: ``("early",
    EarlyChunk)`` when a full chunk is written and more records follow, after ``("split", index)``
    when its sentences were split (coding splits them if that failed); ``("result",
    PreparedBatch)`` or ``("error", exception)`` once ingested; then (when the request splits
    sentences) ``("split", index)`` as each chunk's sentences reach the cache, or ``("split-error",
    exception)`` if splitting fails (coding then splits those chunks itself); then ``("split-end",
    None)``. It then serves coding commands from stdin until the parent closes it
    (:func:`_serve_coding`).
    """
    channel = sys.stdout.buffer
    sys.stdout = sys.stderr  # stdout carries the messages alone
    logging.basicConfig(level=int(sys.argv[1]), format=LOG_FORMAT)  # the parent's level
    commands = sys.stdin.buffer
    request: IngestRequest = pickle.load(commands)  # noqa: S301 - from our own parent

    def send(kind: str, value: Any) -> None:
        try:
            payload = pickle.dumps((kind, value))
        except Exception:  # noqa: BLE001 - an error that cannot be pickled goes back as its text
            payload = pickle.dumps((kind, NearMissError(f"{type(value).__name__}: {value}")))
        channel.write(payload)
        channel.flush()

    def report_early(chunk: EarlyChunk) -> None:
        try:
            if request.split_early(chunk):
                send("split", chunk.span.index)
        except Exception as error:  # noqa: BLE001 - coding splits the chunk itself
            logger.warning(
                "splitting chunk %d ahead failed (%s); coding splits it instead",
                chunk.span.index,
                type(error).__name__,
            )
        send("early", chunk)

    try:
        # Collection has been paused since the interpreter started (_CHILD): load the redactor
        # (spaCy), then leave what start-up built out of later collections (pipeline.collector).
        from pipeline.redact import redact_texts

        redact_texts(["start-up"])
        collector.settle()
        prepared = request.ingest(report_early)
    except BaseException as error:  # noqa: BLE001 - every failure goes back to the parent
        send("error", error)
        return
    send("result", prepared)
    try:
        request.split(prepared, lambda index: send("split", index))
    except BaseException as error:  # noqa: BLE001 - coding splits what is missing itself
        send("split-error", error)
    send("split-end", None)
    _serve_coding(commands, send)


def _serve_coding(commands: Any, send: Callable[[str, Any], None]) -> None:
    """Load a bundle and code chunks as the parent asks, until it closes our stdin.

    Commands are ``("load", (factory, bundle_dir, db_url))``, answered ``("loaded", None)``, and
    ``("code", (ids, db_url, bundle_dir, factory))``, answered ``("coded", CodedChunk)``; a failure
    is answered ``("code-error", exception)``, and the parent codes that chunk itself.
    """
    from pipeline.batch.coding import code_stored, get_suggester

    while True:
        try:
            kind, arguments = pickle.load(commands)  # noqa: S301 - from our own parent
        except EOFError:
            return
        try:
            if kind == "load":
                factory, bundle_dir, db_url = arguments
                get_suggester(factory, bundle_dir, db_url)
                collector.settle()  # the model lives as long as the process
                send("loaded", None)
            else:
                ids, db_url, bundle_dir, factory = arguments
                send("coded", code_stored(ids, db_url, bundle_dir=bundle_dir, factory=factory))
        except BaseException as error:  # noqa: BLE001 - the parent codes the chunk instead
            send("code-error", error)


#: What the child process runs.
_CHILD = (
    "from pipeline import collector; collector.own_process(); collector.pause(); "
    "from pipeline.batch.ahead import _child_main; _child_main()"
)


class IngestProcess:
    """An :class:`IngestRequest` running in a child Python process.

    Parameters
    ----------
    request : IngestRequest
        What to ingest.

    Notes
    -----
    The request and the messages travel pickled through the child's stdin and stdout: a process
    this one started, running this package, so the pickle is trusted. A thread reads the messages
    as they come. The child is in this process's group: killing the group stops both.
    """

    def __init__(self, request: IngestRequest) -> None:
        self.request = request
        self._process = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(logging.getLogger().getEffectiveLevel())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._process.stdin is not None
        self._commands = self._process.stdin  # open until :meth:`cancel`: coding commands follow
        self._send(request)
        logger.debug("ingest started in process %s", self._process.pid)
        self._result: Future[PreparedBatch] = Future()
        self._changed = threading.Condition()
        self._early: list[EarlyChunk] = []  # reported while ingesting, in order
        self._ingesting = True  # early chunks may still come
        self._split: set[int] = set()
        self._unsplit: set[int] = set()  # chunks it will split no more (early chunks)
        self._over = False  # no more chunks will be split (all done, failed, or the child ended)
        self._alive = True
        self._loaded = False  # a bundle is loaded there: chunks may be coded there
        self._forked: ForkedCoder | None = None  # codes "there" instead, once helping
        self._helping: tuple[str, Path, str] | None = None  # what start_helping named
        self._busy = {"here": False, "there": False}
        self._replies: queue.SimpleQueue[tuple[str, Any] | None] = queue.SimpleQueue()
        self._reader = threading.Thread(target=self._read, name="ingest-messages", daemon=True)
        self._reader.start()

    def _send(self, message: Any) -> None:
        self._commands.write(pickle.dumps(message))
        self._commands.flush()

    def _read(self) -> None:
        assert self._process.stdout is not None
        try:
            with self._process.stdout as channel:
                while True:
                    try:
                        kind, value = pickle.load(channel)  # noqa: S301 - our own child
                    except EOFError:
                        break
                    if kind == "early":
                        with self._changed:
                            self._unsplit.add(value.span.index)
                            self._early.append(value)
                            self._changed.notify_all()
                    elif kind == "result":
                        self._no_more_early()
                        self._result.set_result(value)
                    elif kind == "error":
                        self._no_more_early()
                        self._result.set_exception(value)
                    elif kind == "split":
                        with self._changed:
                            self._split.add(value)
                            self._changed.notify_all()
                    elif kind in ("split-end", "split-error"):
                        if kind == "split-error":
                            logger.warning(
                                "splitting sentences ahead failed (%s); coding splits them instead",
                                type(value).__name__,
                            )
                        with self._changed:
                            self._over = True
                            self._changed.notify_all()
                    elif kind == "loaded":
                        with self._changed:
                            self._loaded = True
                            self._changed.notify_all()
                    else:  # "coded" or "code-error"
                        self._replies.put((kind, value))
        except Exception as error:  # noqa: BLE001 - a torn message: the child died mid-write
            logger.debug("ingest messages ended: %s", type(error).__name__)
        finally:
            code = self._process.wait()
            self._no_more_early()
            if not self._result.done():
                self._result.set_exception(
                    InputError(
                        f"the ingest process ended without a result (exit code {code}); check "
                        "memory and disk space, then run the batch again"
                    )
                )
            with self._changed:
                self._over = True
                self._alive = False
                self._changed.notify_all()
            self._replies.put(None)  # a chunk being coded there is coded here instead

    def _no_more_early(self) -> None:
        with self._changed:
            self._ingesting = False
            self._changed.notify_all()

    def early_chunk(self, index: int) -> EarlyChunk | None:
        """Wait for early chunk ``index``, or for the ingest to end without it; return it or None.

        None when the records after the previous early chunk fit in one chunk, when ingest
        failed (see :meth:`result`) or when the process ended.
        """
        with self._changed:
            self._changed.wait_for(lambda: len(self._early) > index or not self._ingesting)
            return self._early[index] if len(self._early) > index else None

    def result(self) -> PreparedBatch:
        """Wait for the ingest; return its prepared batch or raise its error.

        Sentences may still be being split: see :meth:`wait_split`.

        Raises
        ------
        InputError
            If an input is missing or unreadable (as :func:`prepare_batch`), or if the process
            ended without a result.
        """
        return self._result.result()

    def wait_split(self, index: int) -> bool:
        """Wait until chunk ``index`` is split, or will not be; return whether it is."""
        with self._changed:
            self._changed.wait_for(
                lambda: index in self._split or index in self._unsplit or self._over
            )
            return index in self._split

    def fork_coder(self, factory: str, bundle_dir: Path, db_url: str) -> bool:
        """Fork this process as the second coder, now that it has loaded this suggester.

        The forked copy codes instead of the ingest process, which then never loads the bundle
        (:mod:`pipeline.batch.forked`). Returns whether a copy was forked: not if this process
        may not fork now (other threads running, say), nor if one was forked already.
        """
        from pipeline.batch.forked import fork_coder

        with self._changed:
            if self._forked is None:
                self._forked = fork_coder((factory, bundle_dir, db_url), (self._reader.name,))
            return self._forked is not None

    def start_helping(self, factory: str, bundle_dir: Path, db_url: str) -> None:
        """Have a second process code chunks too: the forked copy, or this process after splitting.

        The copy forked for this suggester (:meth:`fork_coder`) codes at once; otherwise the
        ingest process loads the bundle once it has split the sentences.
        """
        with self._changed:
            self._helping = (factory, bundle_dir, db_url)
            if self._forked is not None and self._forked.serves(factory, bundle_dir, db_url):
                self._changed.notify_all()
                return
            self._load_there()

    def _load_there(self) -> None:
        """Ask the ingest process to load the bundle start_helping named (hold ``_changed``)."""
        if self._alive and self._helping is not None:
            with contextlib.suppress(OSError):
                self._send(("load", self._helping))

    def _forked_helps(self) -> bool:
        forked = self._forked
        return forked is not None and self._helping is not None and forked.serves(*self._helping)

    def code(
        self, ids: Sequence[int], db_url: str, *, bundle_dir: Path, factory: str
    ) -> CodedChunk:
        """Code a chunk here or there, whichever is free first (here when both are).

        Parameters are those of :func:`~pipeline.batch.coding.code_stored`.
        """
        from pipeline.batch.coding import code_stored

        while True:
            with self._changed:
                self._changed.wait_for(self._free_slot)
                slot = self._free_slot()
                assert slot is not None
                self._busy[slot] = True
            try:
                if slot == "here":
                    return code_stored(ids, db_url, bundle_dir=bundle_dir, factory=factory)
                coded = self._code_there(list(ids), db_url, bundle_dir, factory)
                if coded is not None:
                    return coded
            finally:
                with self._changed:
                    self._busy[slot] = False
                    self._changed.notify_all()

    def _free_slot(self) -> str | None:
        if not self._busy["here"]:
            return "here"
        there = self._forked_helps() or (self._alive and self._loaded)
        if there and not self._busy["there"]:
            return "there"
        return None

    def _code_there(
        self, ids: list[int], db_url: str, bundle_dir: Path, factory: str
    ) -> CodedChunk | None:
        """Code a chunk in the other process; None if it could not (the caller codes it here)."""
        forked = self._forked
        if forked is not None and self._forked_helps():
            by_copy = forked.code(ids, db_url, bundle_dir, factory)
            if by_copy is None:  # the copy failed: the ingest process helps from now on
                with self._changed:
                    self._load_there()
            return by_copy
        try:
            self._send(("code", (ids, db_url, bundle_dir, factory)))
        except OSError:
            reply = None
        else:
            reply = self._replies.get()
        if reply is not None and reply[0] == "coded":
            coded: CodedChunk = reply[1]
            return coded
        what = "it ended" if reply is None else type(reply[1]).__name__
        logger.warning("the second coding process failed (%s); coding its chunk here", what)
        with self._changed:
            self._loaded = False  # code every later chunk here
        return None

    def cancel(self) -> None:
        """Stop the process, and the forked coder, if they are still running."""
        if self._process.poll() is None:
            self._process.terminate()
        with contextlib.suppress(OSError):
            self._commands.close()
        if self._forked is not None:
            self._forked.close()
        self._reader.join()


_LOCK = threading.Lock()
#: Ingest processes started and not yet adopted, by work folder (one writer per folder).
_STARTED: dict[Path, IngestProcess] = {}
#: Adopted ingest processes, splitting sentences and coding, by work folder.
_ADOPTED: dict[Path, IngestProcess] = {}


def _running_for(request: IngestRequest) -> IngestProcess | None:
    """Return the process started for ``request``, if any.

    One started for another request in the same work folder is stopped: two ingests must never
    write one folder. So is one still splitting sentences for an earlier run in that folder.
    """
    with _LOCK:
        stale = _ADOPTED.pop(request.work_dir, None)
        started = _STARTED.get(request.work_dir)
        if started is not None and started.request != request:
            del _STARTED[request.work_dir]
            stale, started = started, None
    if stale is not None:
        stale.cancel()
    return started


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

    A process that splits sentences goes on after returning the batch, chunk by chunk: wait for a
    chunk with :func:`wait_for_sentences` before coding it, and call :func:`finish_ingest` at the
    end.

    Parameters
    ----------
    request : IngestRequest
        What to ingest.
    separate_process : bool, default=True
        Without a started process: run in a new process (True) or in this one (False, splitting
        every chunk before returning).

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
        prepared = started.result()
    except BaseException:
        with _LOCK:
            if _STARTED.get(request.work_dir) is started:
                del _STARTED[request.work_dir]
        raise
    with _LOCK:  # adopted: it splits and codes on (registered, so that cancel_ingest stops it)
        if _STARTED.get(request.work_dir) is started:
            del _STARTED[request.work_dir]
            _ADOPTED[request.work_dir] = started
    return prepared


def _process_of(work_dir: Path) -> IngestProcess | None:
    """Return the ingest process of ``work_dir``, adopted or still ingesting, if any."""
    with _LOCK:
        return _ADOPTED.get(work_dir) or _STARTED.get(work_dir)


def early_chunk(request: IngestRequest, index: int) -> EarlyChunk | None:
    """Wait for early chunk ``index`` of the process ingesting ``request``, or for the ingest's end.

    Each full chunk is reported as soon as its records are written (and split into sentences,
    when the request asks for it), when more records follow: store and code chunks 0, 1... as
    they come, then wait for the ingest (:func:`run_ingest`) and go on from the span after them.

    Returns
    -------
    EarlyChunk or None
        None at once when no process ingests ``request``; None when its ingest ended without
        reporting that chunk (the rest fitted in one chunk, or it failed: :func:`run_ingest`
        then says why).
    """
    process = _process_of(request.work_dir)
    if process is None or process.request != request:
        return None
    return process.early_chunk(index)


def wait_for_sentences(work_dir: Path, index: int) -> bool:
    """Wait until the ingest process of ``work_dir`` has split chunk ``index`` into the cache.

    Returns at once when no process splits for that folder (the ingest ran here, or it has ended).

    Returns
    -------
    bool
        Whether the chunk was split ahead (if not, coding splits it).
    """
    splitting = _process_of(work_dir)
    return splitting is not None and splitting.wait_split(index)


def start_helping(work_dir: Path, factory: str, bundle_dir: Path, db_url: str) -> bool:
    """Have the ingest process of ``work_dir`` code chunks too, with this bundle.

    Returns
    -------
    bool
        Whether there is such a process (chunks may then be coded two at a time, through
        :func:`code_chunk`).
    """
    process = _process_of(work_dir)
    if process is None:
        return False
    process.start_helping(factory, bundle_dir, db_url)
    return True


def fork_coder(work_dir: Path, factory: str, bundle_dir: Path, db_url: str) -> bool:
    """Fork this process as the second coder of the run ingesting into ``work_dir``.

    Call once this process has loaded the run's suggester, before Prefect runs anything (it
    forks only with no other thread running but the ingest's message reader): the copy then
    codes chunks with the model already in memory, and the ingest process does not load it
    again (:mod:`pipeline.batch.forked`).

    Returns
    -------
    bool
        Whether a copy was forked (if not, the ingest process codes, as without this).
    """
    from pipeline.batch.coding import codes_on_one_core
    from pipeline.config import get_settings

    process = _process_of(work_dir)
    return (
        process is not None
        and get_settings().batch_coders > 1
        and codes_on_one_core(factory, bundle_dir, db_url)  # not beside a model using both
        and process.fork_coder(factory, bundle_dir, db_url)
    )


def code_chunk(
    work_dir: Path, ids: Sequence[int], db_url: str, *, bundle_dir: Path, factory: str
) -> CodedChunk:
    """Code a chunk in this process or in the ingest process of ``work_dir``, whichever is free.

    Without such a process, this is :func:`~pipeline.batch.coding.code_stored`.
    """
    process = _process_of(work_dir)
    if process is None:
        from pipeline.batch.coding import code_stored

        return code_stored(ids, db_url, bundle_dir=bundle_dir, factory=factory)
    return process.code(ids, db_url, bundle_dir=bundle_dir, factory=factory)


def finish_ingest(work_dir: Path) -> None:
    """Stop the ingest process of ``work_dir`` and forget it, once its run has coded every chunk.

    Whatever it may still be doing (splitting chunks that were already coded, loading a model
    that no chunk is left for) is only ever a head start; the cache keeps whole entries only.
    """
    with _LOCK:
        adopted = _ADOPTED.pop(work_dir, None)
    if adopted is not None:
        adopted.cancel()


def cancel_ingest() -> None:
    """Stop every ingest process that is still running (when a run fails or ends early)."""
    with _LOCK:
        started = [*_STARTED.values(), *_ADOPTED.values()]
        _STARTED.clear()
        _ADOPTED.clear()
    for process in started:
        process.cancel()
