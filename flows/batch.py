"""``code_batch``: ingest exports, store them as pending narratives and code them, chunk by chunk.

A thin Prefect shell over :mod:`pipeline.batch`. Tasks pass paths, byte ranges and store ids, never
narrative text, and return counts, so nothing personal reaches Prefect's logs or result storage
(results are not persisted at all). Idempotency and resumption live in the store, not in Prefect's
cache: a re-run stores nothing twice and codes only what is not coded yet.

Ingest (read, check, deduplicate, redact) runs in a separate process on another core while the
flow's process loads the suggester (``ingest_process``); the CLI starts that process even earlier,
beside Prefect's server, and the ingest task adopts it. Chunks are stored one after another in the
flow's own process (one writer; the records file is local) and coded by a task runner: a thread on
this machine by default, or a Dask cluster (``dask_address``, or ``dask_workers`` local
processes), so a national backlog can spread over many machines with the same flow. At most a few
chunks are stored ahead of coding, so an interrupted run leaves little stored-but-uncoded work.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun
from prefect.futures import PrefectFuture
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from pydantic import SecretStr

from pipeline import batch
from pipeline.config import get_settings
from pipeline.errors import InputError, StoreError
from pipeline.store import InputKey, describe_url
from pipeline.store import db_url as resolve_db_url

__all__ = ["code_batch", "task_runner_for"]

#: Seconds between retries of a failed read or store write.
RETRY_DELAYS: list[float] = [2, 10, 30]


def _failure(state: State[Any]) -> BaseException | None:
    data = state.data
    if isinstance(data, BaseException):
        return data
    try:
        state.result()
    except BaseException as error:  # the state holds the task's exception; inspect it
        return error
    return None


def _is_io_failure(task: Any, task_run: TaskRun, state: State[Any]) -> bool:
    """Retry reads and store writes that failed for I/O reasons, never deterministic errors."""
    return isinstance(_failure(state), OSError | StoreError)


def _is_store_failure(task: Any, task_run: TaskRun, state: State[Any]) -> bool:
    """Retry coding only when the store failed (the suggester is deterministic)."""
    return isinstance(_failure(state), StoreError)


def _library_milestones() -> None:
    """Let the library's INFO milestones (counts, never text) reach Prefect's log handler.

    ``PREFECT_LOGGING_EXTRA_LOGGERS=pipeline,training`` attaches Prefect's API handler to these
    loggers, but they inherit the root logger's WARNING level unless given their own.
    """
    for name in ("pipeline", "training"):
        library = logging.getLogger(name)
        if library.level == logging.NOTSET:
            library.setLevel(logging.INFO)


_TASK_OPTIONS: dict[str, Any] = {"persist_result": False, "cache_policy": NO_CACHE}


@task(name="ingest", retry_condition_fn=_is_io_failure, **_TASK_OPTIONS)
def ingest(request: batch.IngestRequest, separate_process: bool) -> batch.PreparedBatch:
    """Hash the exports, ingest them into a records file and cut it into chunks."""
    return batch.run_ingest(request, separate_process=separate_process)


@task(name="record-finished", retry_condition_fn=_is_io_failure, **_TASK_OPTIONS)
def record_finished(
    keys: list[InputKey], summary: batch.BatchSummary, db_url: str, columns: dict[str, str]
) -> int:
    """Record the inputs as finished by this bundle, so that an unchanged re-run stops early."""
    return batch.record_finished(keys, summary, db_url=db_url, columns=columns)


@task(name="resolve-bundle", **_TASK_OPTIONS)
def resolve_bundle(
    factory: str, model: Path | None, db_url: str, split_ahead: bool = False
) -> batch.BundleRef:
    """Resolve and load the bundle that codes this run (fails before anything is stored)."""
    return batch.warm_up(factory, model, db_url, split_ahead=split_ahead)


@task(
    name="store-chunk",
    task_run_name="store-chunk-{span.index}",
    retry_condition_fn=_is_io_failure,
    **_TASK_OPTIONS,
)
def store_chunk(
    records: Path, span: batch.Span, db_url: str, model: str, quarantine: Path
) -> batch.StoredChunk:
    """Store one chunk as pending narratives in one transaction; return ids to code."""
    return batch.store_chunk(records, span, db_url, model=model, quarantine=quarantine)


@task(
    name="code-chunk",
    task_run_name="code-chunk-{index}",
    retry_condition_fn=_is_store_failure,
    **_TASK_OPTIONS,
)
def code_chunk(
    index: int, ids: list[int], db_url: str, bundle_dir: Path, factory: str, work_dir: Path
) -> batch.CodedChunk:
    """Suggest codes for stored narratives and store them in one transaction.

    On this machine the chunk is coded in this process or in the run's ingest process, whichever
    is free (:func:`pipeline.batch.code_chunk`); on a Dask worker, in the worker.
    """
    return batch.code_chunk(work_dir, ids, db_url, bundle_dir=bundle_dir, factory=factory)


def task_runner_for(
    dask_address: str | None, dask_workers: int | None, coders: int = 1
) -> TaskRunner[Any]:
    """Return the task runner that codes chunks.

    Parameters
    ----------
    dask_address : str or None
        A Dask scheduler to send chunks to (``tcp://HOST:8786``).
    dask_workers : int or None
        Start a local Dask cluster with this many single-threaded worker processes.
    coders : int, default=1
        Processes on this machine that code chunks (this one, and the ingest process once it is
        done ingesting): one thread each, since each thread waits on its own process.

    Returns
    -------
    TaskRunner
        A Dask task runner when either is given, else ``coders`` threads on this machine.
    """
    if dask_address is None and dask_workers is None:
        return ThreadPoolTaskRunner(max_workers=coders)
    from prefect_dask.task_runners import DaskTaskRunner

    if dask_address is not None:
        return DaskTaskRunner(address=dask_address)
    return DaskTaskRunner(
        cluster_kwargs={"n_workers": dask_workers, "threads_per_worker": 1, "processes": True}
    )


def _in_flight(runner: TaskRunner[Any], coders: int) -> int:
    """How many chunks may wait for coding: enough to keep every worker busy, and no more."""
    client = getattr(runner, "client", None)  # a Dask runner, once entered
    if client is None:
        return 2 * coders
    threads: int = sum(client.nthreads().values())
    return max(2, 2 * threads)


@flow(name="code-batch", persist_result=False, log_prints=False)
def code_batch(
    paths: list[Path],
    db: SecretStr | None = None,
    model: Path | None = None,
    chunk_size: int = batch.DEFAULT_CHUNK_SIZE,
    quarantine: Path | None = None,
    work_dir: Path | None = None,
    columns: dict[str, str] | None = None,
    dask_address: str | None = None,
    dask_workers: int | None = None,
    retries: int = 3,
    suggester_factory: str = batch.DEFAULT_SUGGESTER_FACTORY,
    ingest_process: bool = True,
) -> batch.BatchSummary:
    """Ingest exports, store them as pending narratives and code them, chunk by chunk.

    Parameters
    ----------
    paths : list of Path
        Export files or folders of them.
    db : SecretStr or None
        Store URL (masked in Prefect); ``None`` means ``NEARMISS_DB`` or the default SQLite file.
    model : Path or None
        Bundle directory; ``None`` means ``NEARMISS_MODEL``, the promoted or the starter bundle.
    chunk_size : int
        Narratives per chunk (thousands; never one task per narrative).
    quarantine : Path or None
        Quarantine file; by default ``quarantine.jsonl`` in the work folder.
    work_dir : Path or None
        Work folder; by default one per set of inputs under the data directory.
    columns : dict of str to str or None
        Explicit column mapping, as ``nearmiss ingest --column``.
    dask_address : str or None
        Code chunks on this Dask cluster.
    dask_workers : int or None
        Code chunks on a local Dask cluster of this many processes.
    retries : int
        Retries of a read or store write that fails for I/O reasons (after :data:`RETRY_DELAYS`
        seconds); deterministic errors are never retried.
    suggester_factory : str
        ``module:function`` that builds the suggester.
    ingest_process : bool
        Ingest (read and redact) in a separate process, on another core, while this one loads the
        suggester; that process then splits sentences for coding and, unless
        ``NEARMISS_BATCH_CODERS=1``, codes chunks beside this one. ``False`` ingests and codes in
        this process only.

    Returns
    -------
    BatchSummary
        Counts that reconcile: ``read == ingested + quarantined + duplicates`` and
        ``ingested == coded + already_coded``.
    """
    started = time.perf_counter()
    _library_milestones()
    logger = get_run_logger()
    url = resolve_db_url(db.get_secret_value() if db is not None else None)
    retrying: dict[str, Any] = {"retries": retries, "retry_delay_seconds": RETRY_DELAYS}
    # The default suggester finds its sentences split by the ingest, on the other core.
    request = batch.IngestRequest.of(
        paths,
        work_dir=work_dir,
        quarantine=quarantine,
        chunk_size=chunk_size,
        columns=columns,
        sentences=suggester_factory == batch.DEFAULT_SUGGESTER_FACTORY,
    )
    # Ingest on another core (or adopt the CLI's ingest, already running) while the model loads.
    if ingest_process:
        batch.start_ingest(request)  # here, not in the task's thread, to await its chunks
    ingesting = ingest.with_options(**retrying).submit(request, ingest_process)
    try:
        bundle = resolve_bundle(suggester_factory, model, url, request.sentences)
        # The ingest process reports each full chunk as soon as it is written: store and code
        # it here while the rest is still being redacted, rather than wait with a core idle.
        first = batch.early_chunk(request, 0)
        prepared = None if first is not None else ingesting.result()
    except BaseException:
        batch.cancel_ingest()
        raise
    several = first is not None or (prepared is not None and len(prepared.spans) > 1)
    # Chunks are coded two at a time: here and in a second coder, the command forked or the
    # ingest process (unless the model already uses every core, or there is one chunk only).
    helping = (
        dask_address is None
        and dask_workers is None
        and get_settings().batch_coders > 1
        and several
        and batch.codes_on_one_core(suggester_factory, bundle.bundle_dir, url)
        and batch.start_helping(request.work_dir, suggester_factory, bundle.bundle_dir, url)
    )
    coders = 2 if helping else 1
    store = store_chunk.with_options(**retrying)
    code = code_chunk.with_options(**retrying)
    progress = batch.current_progress()
    pending: deque[tuple[PrefectFuture[batch.CodedChunk], int]] = deque()
    # Chunks stored or coded before the ingest's summary came, counted once it has.
    waiting: list[batch.StoredChunk | tuple[batch.CodedChunk, int]] = []
    tally: batch.BatchTally | None = None

    def submit_coding(runner: TaskRunner[Any], stored: batch.StoredChunk) -> None:
        parameters = {
            "index": stored.index,
            "ids": list(stored.uncoded),
            "db_url": url,
            "bundle_dir": bundle.bundle_dir,
            "factory": suggester_factory,
            "work_dir": request.work_dir,
        }
        pending.append((runner.submit(code, parameters), len(stored.ids)))

    def count(done: batch.StoredChunk | tuple[batch.CodedChunk, int]) -> None:
        if isinstance(done, batch.StoredChunk):
            if not done.uncoded:  # nothing to code: done now
                progress.advance(len(done.ids))
        else:
            progress.advance(done[1])
        if tally is None:
            waiting.append(done)
        else:
            add_to(tally, done)

    def add_to(
        tally: batch.BatchTally, done: batch.StoredChunk | tuple[batch.CodedChunk, int]
    ) -> None:
        if isinstance(done, batch.StoredChunk):
            tally.add_stored(done)
        else:
            tally.add_coded(done[0])

    def finish_oldest() -> None:
        future, size = pending.popleft()
        coded = future.result()
        count((coded, size))
        logger.info(
            "coded %d narratives (%d already coded) in %.1f s",
            coded.coded,
            coded.already_coded,
            coded.seconds,
        )

    with task_runner_for(dask_address, dask_workers, coders) as runner:
        limit = _in_flight(runner, coders)
        try:
            early: list[batch.EarlyChunk] = []  # stored and coded before the ingest ended
            chunk = first
            if chunk is not None:
                batch.clear_early_quarantine(request.work_dir)  # an earlier run's, never merged
                progress.start(None)  # the total comes with the ingest's summary
            while chunk is not None:
                while len(pending) >= limit:
                    finish_oldest()
                stored = store(chunk.records, chunk.own_span, url, bundle.name, chunk.quarantine)
                count(stored)
                if stored.uncoded:  # split into sentences before it was reported
                    batch.wait_for_sentences(request.work_dir, chunk.span.index)
                    submit_coding(runner, stored)
                early.append(chunk)
                chunk = batch.early_chunk(request, len(early))
            if prepared is None:
                prepared = ingesting.result()
            summary = prepared.ingest
            logger.info(
                "ingest: %d read, %d ingested, %d quarantined, %d duplicates in %.1f s; %d chunks",
                *(summary.read, summary.ingested, summary.quarantined, summary.duplicates),
                summary.seconds,
                len(prepared.spans),
            )
            if prepared.early != tuple(early):  # only if a retried ingest read changed exports
                raise InputError(
                    "the exports changed during the batch (chunks were stored while it was "
                    "ingested, then ingest read other records); run the batch again"
                )
            for chunk in early:
                batch.merge_quarantine(chunk, Path(summary.quarantine))
            tally = batch.BatchTally(summary)
            progress.start(summary.ingested)
            for done in waiting:
                add_to(tally, done)
            for span in prepared.spans[len(early) :]:
                while len(pending) >= limit:
                    finish_oldest()
                stored = store(prepared.records, span, url, bundle.name, Path(summary.quarantine))
                count(stored)
                if not stored.uncoded:
                    continue
                # Sentences are split in the ingest process, chunk by chunk, while this one
                # stores and codes: code a chunk once its sentences are in the cache.
                batch.wait_for_sentences(request.work_dir, span.index)
                submit_coding(runner, stored)
            while pending:
                finish_oldest()
            batch.finish_ingest(request.work_dir)
        except BaseException:
            batch.cancel_ingest()  # the ingest process, splitting or coding for this run
            for future, _ in pending:  # do not start chunks that can no longer be reported
                wrapped = getattr(future, "wrapped_future", None)
                if wrapped is not None:
                    wrapped.cancel()
            raise
    assert tally is not None  # set once the ingest's summary came
    batch.discard_records(prepared)
    result = tally.summary(
        model=bundle.name, store=describe_url(url), seconds=time.perf_counter() - started
    )
    record_finished.with_options(**retrying)(list(prepared.inputs), result, url, columns or {})
    logger.info(
        "batch: %d ingested, %d quarantined, %d duplicates; %d coded, %d already coded; "
        "%d new narratives; %.1f s",
        *(result.ingested, result.quarantined, result.duplicates, result.coded),
        result.already_coded,
        result.stored,
        result.seconds,
    )
    return result
