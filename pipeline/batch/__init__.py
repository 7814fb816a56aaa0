"""Batch coding as plain functions: ingest into the store in chunks, then code each chunk.

The Prefect flow ``flows/batch.py:code_batch`` is a thin shell over these functions, which pass
ids, byte ranges and paths between steps, never narrative text:

1. :func:`prepare_batch` ingests the exports (read, check, deduplicate, redact) into a records file
   in a work folder and cuts it into :class:`Span` chunks (:func:`run_ingest` runs it in another
   process, on a second core, while this one loads the model);
2. :func:`store_chunk` stores one chunk as ``pending`` narratives in one transaction and returns
   their store ids and those not yet coded by the bundle;
3. :func:`code_stored` suggests codes for those ids and stores the suggestion sets in one
   transaction.

Running the same export again stores and codes nothing: narratives are keyed by content hash and
suggestion sets by narrative and bundle. An interrupted run is finished by running it again. A run
that finishes records its input files by content (:func:`record_finished`), so that re-running
them unchanged is answered from the store alone (:func:`unchanged_summary`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.batch.ahead import (
        IngestProcess,
        IngestRequest,
        cancel_ingest,
        code_chunk,
        early_chunk,
        finish_ingest,
        fork_coder,
        run_ingest,
        start_helping,
        start_ingest,
        wait_for_sentences,
    )
    from pipeline.batch.chunks import DEFAULT_CHUNK_SIZE, Span, plan_spans, read_span
    from pipeline.batch.coding import (
        BatchSuggester,
        BundleRef,
        CodedChunk,
        SuggesterFactory,
        code_stored,
        codes_on_one_core,
        get_suggester,
        load_factory,
        resolve_bundle,
        warm_up,
    )
    from pipeline.batch.finished import (
        bundle_name,
        hash_inputs,
        ingest_options,
        record_finished,
        unchanged_summary,
    )
    from pipeline.batch.prepare import (
        DEFAULT_SUGGESTER_FACTORY,
        RECORDS_FILE,
        EarlyChunk,
        PreparedBatch,
        clear_early_quarantine,
        default_work_dir,
        discard_records,
        distributed_notice,
        merge_quarantine,
        prepare_batch,
        split_ahead,
        split_early,
    )
    from pipeline.batch.progress import (
        NullProgress,
        ProgressBar,
        ProgressReporter,
        current_progress,
        reporting,
    )
    from pipeline.batch.storing import StoredChunk, coded_ids, store_chunk
    from pipeline.batch.summary import BatchSummary, BatchTally

#: Where each name lives. The submodules are imported on first use (PEP 562), so that a process
#: that only ingests (the batch's ingest process) or only checks for unchanged inputs does not pay
#: for importing the store, the coding and Prefect-facing parts.
_SUBMODULES = {
    "ahead": (
        "IngestProcess",
        "IngestRequest",
        "cancel_ingest",
        "code_chunk",
        "finish_ingest",
        "early_chunk",
        "fork_coder",
        "run_ingest",
        "start_helping",
        "start_ingest",
        "wait_for_sentences",
    ),
    "chunks": (
        "DEFAULT_CHUNK_SIZE",
        "Span",
        "plan_spans",
        "read_span",
    ),
    "coding": (
        "BatchSuggester",
        "BundleRef",
        "CodedChunk",
        "SuggesterFactory",
        "code_stored",
        "codes_on_one_core",
        "get_suggester",
        "load_factory",
        "resolve_bundle",
        "warm_up",
    ),
    "finished": (
        "bundle_name",
        "hash_inputs",
        "ingest_options",
        "record_finished",
        "unchanged_summary",
    ),
    "prepare": (
        "DEFAULT_SUGGESTER_FACTORY",
        "EarlyChunk",
        "PreparedBatch",
        "clear_early_quarantine",
        "RECORDS_FILE",
        "default_work_dir",
        "discard_records",
        "distributed_notice",
        "merge_quarantine",
        "prepare_batch",
        "split_ahead",
        "split_early",
    ),
    "progress": (
        "NullProgress",
        "ProgressBar",
        "ProgressReporter",
        "current_progress",
        "reporting",
    ),
    "storing": (
        "StoredChunk",
        "coded_ids",
        "store_chunk",
    ),
    "summary": (
        "BatchSummary",
        "BatchTally",
    ),
}
_WHERE = {name: module for module, names in _SUBMODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_SUGGESTER_FACTORY",
    "RECORDS_FILE",
    "BatchSummary",
    "BatchSuggester",
    "BatchTally",
    "BundleRef",
    "CodedChunk",
    "EarlyChunk",
    "IngestProcess",
    "IngestRequest",
    "NullProgress",
    "PreparedBatch",
    "ProgressBar",
    "ProgressReporter",
    "Span",
    "StoredChunk",
    "SuggesterFactory",
    "bundle_name",
    "cancel_ingest",
    "clear_early_quarantine",
    "code_chunk",
    "code_stored",
    "codes_on_one_core",
    "coded_ids",
    "current_progress",
    "default_work_dir",
    "discard_records",
    "finish_ingest",
    "early_chunk",
    "fork_coder",
    "distributed_notice",
    "get_suggester",
    "hash_inputs",
    "ingest_options",
    "load_factory",
    "merge_quarantine",
    "plan_spans",
    "prepare_batch",
    "split_ahead",
    "split_early",
    "read_span",
    "record_finished",
    "reporting",
    "resolve_bundle",
    "run_ingest",
    "start_helping",
    "wait_for_sentences",
    "start_ingest",
    "store_chunk",
    "unchanged_summary",
    "warm_up",
]
