"""Engines and transactions for the review store: SQLite by default, PostgreSQL by URL.

The store URL is, in order: the ``--db`` option, ``NEARMISS_DB``, then a SQLite file in the
per-user data directory. SQLite runs in WAL mode with foreign keys on and a busy timeout; write
transactions start with ``BEGIN IMMEDIATE`` so that there is one writer at a time and a second
writer waits for the first instead of failing half-way. Plain ``postgresql://`` URLs use psycopg 3.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from pipeline.config import get_settings
from pipeline.errors import InputError, StoreError

__all__ = [
    "BUSY_TIMEOUT_MS",
    "DEFAULT_DB_FILE",
    "db_url",
    "describe_url",
    "dispose_engines",
    "get_engine",
    "normalise_url",
    "session_scope",
    "store_error",
]

logger = logging.getLogger(__name__)

#: File name of the default SQLite store inside ``Settings.data_dir``.
DEFAULT_DB_FILE = "store.sqlite3"
#: How long a SQLite writer waits for another writer before giving up, in milliseconds.
BUSY_TIMEOUT_MS = 30_000

# Execution option that marks a connection as a writer (SQLite: BEGIN IMMEDIATE).
WRITE_OPTION = "nearmiss_write"

_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}
_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def normalise_url(url: str) -> str:
    """Return a SQLAlchemy URL for a store given as a URL or a SQLite file path.

    Parameters
    ----------
    url : str
        ``sqlite:///PATH``, ``postgresql://...`` (psycopg 3 is used) or a plain file path.

    Returns
    -------
    str
        The URL with its driver made explicit.

    Raises
    ------
    InputError
        If the URL cannot be parsed or names a database other than SQLite or PostgreSQL.

    Examples
    --------
    >>> normalise_url("postgresql://u:p@127.0.0.1/nearmiss")
    'postgresql+psycopg://u:p@127.0.0.1/nearmiss'
    >>> normalise_url("sqlite:///store.sqlite3")
    'sqlite:///store.sqlite3'
    """
    text = url.strip()
    if "://" not in text:
        return f"sqlite:///{Path(text).expanduser().resolve()}"
    scheme, rest = text.split("://", 1)
    text = f"{_DRIVERS.get(scheme, scheme)}://{rest}"
    try:
        parsed = make_url(text)
    except (ArgumentError, ValueError) as error:
        raise InputError(
            f"Store URL {describe_url(url)} cannot be parsed ({error}); {_URL_HELP}"
        ) from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise InputError(f"Store URL {describe_url(text)} is not SQLite or PostgreSQL; {_URL_HELP}")
    return text


_URL_HELP = "use sqlite:///PATH, a file path, or postgresql://USER:PASSWORD@HOST:PORT/DATABASE"


def db_url(url: str | None = None) -> str:
    """Return the store URL in force: ``url``, else ``NEARMISS_DB``, else the default file.

    Parameters
    ----------
    url : str or None
        The ``--db`` option, if given.

    Returns
    -------
    str
        A normalised SQLAlchemy URL.
    """
    settings = get_settings()
    chosen = url or settings.db
    if not chosen:
        return f"sqlite:///{settings.data_dir / DEFAULT_DB_FILE}"
    return normalise_url(chosen)


def describe_url(url: str | URL) -> str:
    """Return ``url`` as text with any password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return f"{str(url).split('://', 1)[0]}://..."


def get_engine(url: str | None = None) -> Engine:
    """Return the process-wide engine for a store URL, creating it on first use.

    Parameters
    ----------
    url : str or None
        Store URL or SQLite path; ``None`` means :func:`db_url`'s default.

    Returns
    -------
    Engine
        For SQLite, every connection has WAL, foreign keys and a busy timeout; connections opened
        with the ``nearmiss_write`` execution option begin with ``BEGIN IMMEDIATE``.
    """
    resolved = db_url(url)
    with _ENGINES_LOCK:
        engine = _ENGINES.get(resolved)
        if engine is None:
            engine = _create_engine(resolved)
            _ENGINES[resolved] = engine
    return engine


def dispose_engines() -> None:
    """Close every pooled connection and forget the engines (tests, forked workers)."""
    with _ENGINES_LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    # hide_parameters: errors and logs never show bound values, which include narrative text.
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True, hide_parameters=True)
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, hide_parameters=True)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    """Set the store's pragmas and let SQLAlchemy, not sqlite3, emit BEGIN."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")  # first: WAL may need to wait
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    """Begin IMMEDIATE for writers (take the write lock up front), DEFERRED for readers."""
    mode = "IMMEDIATE" if connection.get_execution_options().get(WRITE_OPTION) else "DEFERRED"
    connection.exec_driver_sql(f"BEGIN {mode}")


def store_error(error: DBAPIError, url: str | URL, doing: str) -> StoreError:
    """Turn a driver error into a one-line :class:`StoreError` that says what to do.

    Parameters
    ----------
    error : DBAPIError
        The error SQLAlchemy raised.
    url : str or URL
        The store's URL (shown with its password masked).
    doing : str
        What was being done, e.g. ``"during a transaction"``.

    Returns
    -------
    StoreError
        The error to raise (``from error``).
    """
    reason = str(error.orig).strip().splitlines()[0] if error.orig is not None else str(error)
    where = describe_url(url)
    if error.connection_invalidated:
        return StoreError(
            f"The store at {where} went away {doing} ({reason}); the transaction was rolled back "
            "and nothing from it was saved. Check that the database is running, then re-run"
        )
    if "locked" in reason or "busy" in reason:
        return StoreError(
            f"The store at {where} is busy {doing} ({reason}); another process held the write "
            f"lock for more than {BUSY_TIMEOUT_MS / 1000:g} s. Nothing was saved; re-run when it "
            "is done"
        )
    return StoreError(
        f"The store at {where} failed {doing} ({reason}); nothing was saved. Check --db or "
        "NEARMISS_DB and that the database is reachable"
    )


@contextmanager
def session_scope(url: str | None = None, *, write: bool = False) -> Iterator[Session]:
    """Open a session on an up-to-date store inside one transaction.

    The transaction commits when the block ends and rolls back on any exception. A fresh
    database is created and an old one migrated on first use in the process.

    Parameters
    ----------
    url : str or None
        Store URL or SQLite path; ``None`` means :func:`db_url`'s default.
    write : bool
        Take SQLite's write lock at the start (``BEGIN IMMEDIATE``): use it for every
        transaction that writes, so that concurrent writers queue instead of failing.

    Yields
    ------
    Session
        The session; objects stay usable after the block (``expire_on_commit=False``).

    Raises
    ------
    StoreError
        If the database cannot be reached, stays locked, or goes away mid-transaction; the
        transaction is rolled back.

    Examples
    --------
    >>> from pipeline.store import add_narratives, session_scope
    >>> with session_scope("sqlite:///store.sqlite3", write=True) as session:  # doctest: +SKIP
    ...     inserted, present = add_narratives(session, records)
    """
    from pipeline.store.migration import open_store

    engine = open_store(url)
    bind = engine.execution_options(**{WRITE_OPTION: True}) if write else engine
    session = Session(bind=bind, expire_on_commit=False)
    try:
        with session.begin():
            if write:
                session.connection()  # take the write lock now, not at the first write
            yield session
    except (OperationalError, InterfaceError) as error:
        raise store_error(error, engine.url, "during a transaction") from error
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
        raise store_error(error, engine.url, "during a transaction") from error
    finally:
        session.close()
