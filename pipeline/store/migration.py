"""Create or migrate the store schema with Alembic, programmatically.

The migrations ship inside the package (``pipeline/store/migrations``), so an installed
``nearmiss`` finds them without an ``alembic.ini``. Every command that touches the store calls
:func:`open_store`, which upgrades the database to the latest revision once per process.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, inspect
from sqlalchemy.exc import DBAPIError

from pipeline.errors import StoreError
from pipeline.store.engine import WRITE_OPTION, db_url, describe_url, get_engine, store_error

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["MIGRATIONS_DIR", "alembic_config", "current_revision", "ensure_schema", "open_store"]

logger = logging.getLogger(__name__)

#: The Alembic environment (``env.py`` and ``versions/``), shipped as package data.
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: The latest revision in :data:`MIGRATIONS_DIR` (a test checks that it is Alembic's head): a store
#: already there is opened without importing Alembic or reading the migration scripts, about
#: 0.3 s of every command that opens a store.
SCHEMA_HEAD = "0003"

# Serialises concurrent first-use migrations of one PostgreSQL database (any constant will do).
_PG_MIGRATION_LOCK = 7_240_311_001
_READY: set[str] = set()
_READY_LOCK = threading.Lock()


def alembic_config(url: str | None = None) -> Config:
    """Return an Alembic configuration for the store, without any ini file.

    Parameters
    ----------
    url : str or None
        Store URL or SQLite path; ``None`` means the default store.

    Returns
    -------
    Config
        With ``script_location`` set to :data:`MIGRATIONS_DIR` and ``sqlalchemy.url`` to the
        store. Developers use it to write a new revision, e.g.
        ``command.revision(alembic_config(url), "add x", autogenerate=True)``.
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolates '%': escape it (URL-encoded passwords contain it).
    config.set_main_option("sqlalchemy.url", db_url(url).replace("%", "%%"))
    return config


def head_revision() -> str:
    """Return the latest revision shipped with this version of nearmiss, from the scripts."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:  # pragma: no cover - the package always ships a revision
        raise StoreError(f"No migrations found in {MIGRATIONS_DIR}; reinstall nearmiss")
    return head


def current_revision(url: str | None = None) -> str | None:
    """Return the revision a store database is at, or ``None`` when it has no schema yet.

    Read from Alembic's version table without importing Alembic.

    Raises
    ------
    StoreError
        If the database cannot be reached.
    """
    engine = get_engine(url)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            row = connection.exec_driver_sql("SELECT version_num FROM alembic_version").first()
    except DBAPIError as error:
        raise store_error(error, engine.url, "while reading its schema version") from error
    return None if row is None else str(row[0])


def ensure_schema(url: str | None = None) -> str:
    """Create or upgrade the store schema to the latest revision.

    Safe to call from several processes at once: SQLite's write lock or a PostgreSQL advisory
    lock makes the second wait and then find the schema up to date.

    Parameters
    ----------
    url : str or None
        Store URL or SQLite path; ``None`` means the default store.

    Returns
    -------
    str
        The revision the database is at afterwards.

    Raises
    ------
    StoreError
        If the database cannot be reached or a migration fails (nothing is changed), or the
        database is at a revision newer than this version of nearmiss knows.
    """
    if current_revision(url) == SCHEMA_HEAD:
        return SCHEMA_HEAD
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    engine = get_engine(url)
    config = alembic_config(url)
    head = head_revision()
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            driver: Any = connection.connection.driver_connection
            if sqlite:
                # Batch migrations copy and drop tables: with foreign keys on, dropping a parent
                # would cascade. The pragma is a no-op inside a transaction, so set it before.
                driver.execute("PRAGMA foreign_keys=OFF")
            connection.execution_options(**{WRITE_OPTION: True})
            try:
                with connection.begin():
                    if connection.dialect.name == "postgresql":
                        lock = f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})"
                        connection.exec_driver_sql(lock)
                    before = MigrationContext.configure(connection).get_current_revision()
                    _check_known(before, url)
                    if before != head:
                        config.attributes["connection"] = connection
                        command.upgrade(config, "head")
                        where = describe_url(engine.url)
                        logger.info("Store %s migrated from %s to %s", where, before, head)
                        if sqlite:
                            _check_foreign_keys(driver)
            finally:
                if sqlite:
                    driver.execute("PRAGMA foreign_keys=ON")
    except DBAPIError as error:
        raise store_error(error, engine.url, "while creating or migrating its schema") from error
    return head


def _check_known(revision: str | None, url: str | None) -> None:
    if revision is None:
        return
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(url))
    if revision not in {rev.revision for rev in script.walk_revisions()}:
        raise StoreError(
            f"The store at {describe_url(db_url(url))} is at schema revision {revision}, which "
            "this version of nearmiss does not know; upgrade nearmiss or use another --db"
        )


def _check_foreign_keys(driver_connection: object) -> None:
    rows = driver_connection.execute("PRAGMA foreign_key_check").fetchall()  # type: ignore[attr-defined]
    if rows:
        raise StoreError(
            f"A migration broke {len(rows)} foreign keys (first: {rows[0]}); it was rolled back"
        )


def open_store(url: str | None = None) -> Engine:
    """Return the engine for a store, creating or migrating its schema on first use.

    Parameters
    ----------
    url : str or None
        Store URL or SQLite path; ``None`` means the default store.

    Returns
    -------
    Engine
        The process-wide engine; the schema is checked once per process and URL.
    """
    resolved = db_url(url)
    with _READY_LOCK:
        if resolved not in _READY:
            ensure_schema(resolved)
            _READY.add(resolved)
    return get_engine(resolved)


def forget_schemas() -> None:
    """Forget which stores were checked this process (tests that recreate databases)."""
    with _READY_LOCK:
        _READY.clear()
