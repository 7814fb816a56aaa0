"""Code stored narratives with a suggester and store the suggestions, a chunk at a time.

The suggester comes from one swappable *factory*, named by an import path (``module:function``) so
that it can be named in a flow parameter and resolved again in any worker process. The default is
:func:`pipeline.suggest.load_suggester`, which picks ``--model``, ``NEARMISS_MODEL``, the promoted
bundle or the starter bundle. A factory is called once per process and bundle (loading a model is
the expensive part), and tasks pass the resolved bundle directory so that every chunk of a run is
coded by the same bundle even if another is promoted meanwhile.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.batch.prepare import DEFAULT_SUGGESTER_FACTORY
from pipeline.batch.storing import coded_ids
from pipeline.errors import BundleError, InputError
from pipeline.record import Record
from pipeline.store import (
    Narrative,
    StoredSuggestions,
    add_suggestion_sets,
    add_suggestions,
    session_scope,
)

__all__ = [
    "DEFAULT_SUGGESTER_FACTORY",
    "BatchSuggester",
    "BundleRef",
    "CodedChunk",
    "SuggesterFactory",
    "code_stored",
    "get_suggester",
    "resolve_bundle",
    "warm_up",
]

logger = logging.getLogger(__name__)

# Ids per IN (...) list, well under SQLite's variable limit.
_IN_BATCH = 500


class _SuggestionLine(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


class BatchSuggester(Protocol):
    """What a batch needs of a suggester (:class:`pipeline.suggest.Suggester` provides it).

    Attributes
    ----------
    name : str
        The bundle's name, written as ``model`` on every suggestion set.
    bundle_dir : Path
        The bundle directory; passing it back to the factory gives the same suggester.
    """

    name: str
    bundle_dir: Path

    def suggest(
        self, records: Sequence[Record], *, redact: bool = True
    ) -> Sequence[_SuggestionLine]:
        """Return one suggestion set per record, in order (see the suggestions contract).

        ``redact=False`` skips redaction, for records that ingest redacted already.
        """
        ...


#: ``factory(model, db_url)``: a bundle directory or ``None`` (resolve the default), and the store.
SuggesterFactory = Callable[[Path | None, str | None], BatchSuggester]


@dataclass(frozen=True, slots=True)
class BundleRef:
    """The bundle a run codes with: what tasks pass instead of a loaded model.

    Attributes
    ----------
    name : str
        Written as ``model`` on suggestion sets.
    bundle_dir : Path
        Where the bundle lives (workers must see the same path).
    """

    name: str
    bundle_dir: Path


@dataclass(frozen=True, slots=True)
class CodedChunk:
    """What coding one chunk did.

    Attributes
    ----------
    coded : int
        Narratives that received a suggestion set in this call.
    already_coded : int
        Ids asked for that already had one from the same bundle.
    seconds : float
        Wall time, suggester included.
    """

    coded: int
    already_coded: int
    seconds: float


_SUGGESTERS: dict[tuple[str, str | None, str | None], BatchSuggester] = {}
_LOCK = threading.Lock()


def load_factory(spec: str) -> SuggesterFactory:
    """Import a suggester factory named ``module:function``.

    Raises
    ------
    InputError
        If ``spec`` is not of that form.
    BundleError
        If the module or function cannot be imported.
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise InputError(f"suggester factory {spec!r} is not module:function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise BundleError(
            f"cannot import the suggester factory {spec!r} ({error}); check that the module "
            "exists and nearmiss is installed in this environment"
        ) from None
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise BundleError(f"{module_name} has no function {attribute!r}; check the factory name")
    return factory  # type: ignore[no-any-return]


def get_suggester(factory: str, model: Path | None, db_url: str | None) -> BatchSuggester:
    """Return the suggester for a bundle, built once per process.

    Parameters
    ----------
    factory : str
        ``module:function`` of the factory.
    model : Path or None
        A bundle directory, or ``None`` to let the factory choose.
    db_url : str or None
        The store (the factory may look up the promoted bundle there).

    Returns
    -------
    BatchSuggester
        The same object for the same arguments within a process.
    """
    key = (factory, str(model) if model is not None else None, db_url)
    with _LOCK:
        suggester = _SUGGESTERS.get(key)
        if suggester is None:
            started = time.perf_counter()
            suggester = load_factory(factory)(model, db_url)
            _SUGGESTERS[key] = suggester
            # The same suggester serves tasks that name its bundle directory explicitly.
            _SUGGESTERS.setdefault((factory, str(suggester.bundle_dir), db_url), suggester)
            logger.info(
                "suggester %s loaded in %.2f s", suggester.name, time.perf_counter() - started
            )
    return suggester


def resolve_bundle(factory: str, model: Path | None, db_url: str | None) -> BundleRef:
    """Resolve the bundle a run will code with (loading its suggester in this process).

    Parameters
    ----------
    factory : str
        ``module:function`` of the factory.
    model : Path or None
        ``--model``, or ``None`` for ``NEARMISS_MODEL``, the promoted or the starter bundle.
    db_url : str or None
        The store.

    Returns
    -------
    BundleRef
        Its name and directory.
    """
    suggester = get_suggester(factory, model, db_url)
    return BundleRef(suggester.name, Path(suggester.bundle_dir))


def codes_on_one_core(factory: str, bundle_dir: Path, db_url: str | None) -> bool:
    """Whether a run's suggester codes on one core, so that a second coder can use another.

    True for the static embedding model (read with numpy; coding is single-threaded Python) and
    for suggesters without an embedding model of ours; False for a model that runs through torch
    (MiniLM), which already uses every core and would hold a second copy of itself in memory.

    Parameters
    ----------
    factory : str
        ``module:function`` of the suggester factory.
    bundle_dir : Path
        The run's bundle.
    db_url : str or None
        The store.

    Returns
    -------
    bool
        Whether a second coding process would add a core's worth of work.
    """
    from pipeline.embed_static import is_static_folder

    suggester = get_suggester(factory, bundle_dir, db_url)
    spec = getattr(getattr(suggester, "embedder", None), "spec", None)
    path = getattr(spec, "path", None)
    return path is None or is_static_folder(Path(path))


def warm_up(
    factory: str, model: Path | None, db_url: str | None, *, split_ahead: bool = False
) -> BundleRef:
    """Load what coding needs before the first chunk: the suggester and the spaCy pipeline.

    Coding splits narratives into sentences with the same spaCy pipeline that redacts (imported
    and built on first use, a second or two), unless the ingest split them ahead into the cache
    (:func:`pipeline.batch.prepare.split_ahead`). The CLI calls this while Prefect's server
    starts, so that neither the first chunk nor the flow pays for it, and a missing bundle fails
    at once. Both are cached per process.

    Parameters
    ----------
    factory : str
        ``module:function`` of the suggester factory.
    model : Path or None
        A bundle directory, or ``None`` to let the factory choose.
    db_url : str or None
        The store.
    split_ahead : bool, default=False
        The ingest splits the sentences: do not load spaCy here (coding still loads it, should
        a narrative be missing from the cache).

    Returns
    -------
    BundleRef
        The bundle the batch will code with.

    Raises
    ------
    BundleError
        If no suggester can be built (before anything is stored).
    """
    if not split_ahead:
        from pipeline.redact import redact_texts

        redact_texts(["warm-up"])
    return resolve_bundle(factory, model, db_url)


def code_stored(
    ids: Sequence[int], db_url: str, *, bundle_dir: Path, factory: str = DEFAULT_SUGGESTER_FACTORY
) -> CodedChunk:
    """Suggest codes for stored narratives and store them, skipping those already coded.

    The narratives are read from the store (text never travels with the ids); the suggestions of
    the chunk are stored in one transaction, so a narrative has all of its suggestion set or none.

    Parameters
    ----------
    ids : sequence of int
        Store ids of narratives.
    db_url : str
        Store URL.
    bundle_dir : Path
        The bundle to code with (see :func:`resolve_bundle`).
    factory : str, default=DEFAULT_SUGGESTER_FACTORY
        ``module:function`` of the suggester factory.

    Returns
    -------
    CodedChunk
        How many were coded now and how many already were.

    Raises
    ------
    StoreError
        If the store is unreachable or goes away; no suggestion of the chunk is kept.
    BundleError
        If the suggester returns a set per record that does not match the records.
    """
    started = time.perf_counter()
    suggester = get_suggester(factory, bundle_dir, db_url)
    unique = list(dict.fromkeys(ids))
    with session_scope(db_url) as session:
        done = coded_ids(session, unique, suggester.name)
        records = _records(session, [i for i in unique if i not in done])
    # Stored narratives were redacted by ingest: what is stored is exactly what is coded.
    suggested = list(suggester.suggest(records, redact=False)) if records else []
    stored = 0
    if records:
        with session_scope(db_url, write=True) as session:
            stored = len(_store_sets(session, suggested, records, suggester.name).stored)
    chunk = CodedChunk(stored, len(ids) - stored, time.perf_counter() - started)
    logger.info(
        "coded %d narratives with %s (%d already coded) in %.2f s",
        chunk.coded,
        suggester.name,
        chunk.already_coded,
        chunk.seconds,
    )
    return chunk


def _store_sets(
    session: Session, suggested: Sequence[_SuggestionLine], records: Sequence[Record], name: str
) -> StoredSuggestions:
    """Store one suggestion set per record, checking that the suggester kept their order.

    Sets made by :class:`pipeline.suggest.Suggester` in this process are stored as they are
    (:func:`~pipeline.store.add_suggestion_sets`); any other suggester's sets go through the
    suggestions contract (``to_dict`` and validation) first.
    """
    from pipeline.suggestion import SuggestionSet  # loaded with the suggester already

    ids: list[Any]
    if all(isinstance(line, SuggestionSet) for line in suggested):
        sets = cast("list[SuggestionSet]", suggested)
        ids = [line.id for line in sets]
        if ids == [record.id for record in records]:
            return add_suggestion_sets(session, sets)
    else:
        lines = [line.to_dict() for line in suggested]
        ids = [line.get("id") for line in lines]
        if ids == [record.id for record in records]:
            return add_suggestions(session, lines)
    raise BundleError(
        f"suggester {name} returned {len(ids)} suggestion sets for {len(records)} records, or "
        "not in their order; it must return one per record"
    )


def _records(session: Session, ids: Sequence[int]) -> list[Record]:
    """Load narratives as records, in id order."""
    records: list[Record] = []
    ordered = sorted(ids)
    for start in range(0, len(ordered), _IN_BATCH):
        rows = session.scalars(
            select(Narrative)
            .where(Narrative.id.in_(ordered[start : start + _IN_BATCH]))
            .order_by(Narrative.id)
        )
        records += [
            Record(
                id=row.record_id,
                text=row.text,
                sections=row.sections,
                practice=row.practice,
                event_date=row.event_date,
                source=row.source,
                row=row.source_row,
            )
            for row in rows
        ]
    return records
