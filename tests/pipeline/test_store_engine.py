"""Store engines, URLs, migrations, locking and failures, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text, update
from sqlalchemy.exc import DBAPIError

from pipeline.config import get_settings
from pipeline.errors import InputError, StoreError
from pipeline.store import (
    Decision,
    Narrative,
    add_narratives,
    alembic_config,
    current_revision,
    db_url,
    ensure_schema,
    get_engine,
    normalise_url,
    record_decision,
    session_scope,
)
from pipeline.store import engine as store_engine
from pipeline.store.migration import SCHEMA_HEAD, forget_schemas, head_revision
from pipeline.store.models import Base
from tests.pipeline.store_support import make_records, terminate_backend

# The store fixtures (`store_url`, `backend`), parametrised over SQLite and PostgreSQL.
pytest_plugins = ("tests.pipeline.store_fixtures",)

TABLES = {
    "narratives",
    "suggestion_sets",
    "suggestions",
    "decisions",
    "bundles",
    "bundle_files",
    "promotions",
    "retrain_runs",
    "finished_inputs",
    "users",
    "user_practices",
    "purges",
    "alembic_version",
}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@127.0.0.1:5432/db", "postgresql+psycopg://u:p@127.0.0.1:5432/db"),
        ("postgres://u@localhost/db", "postgresql+psycopg://u@localhost/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///relative.sqlite3", "sqlite:///relative.sqlite3"),
    ],
)
def test_normalise_url(given: str, expected: str) -> None:
    assert normalise_url(given) == expected


def test_a_plain_path_is_a_sqlite_file(tmp_path: Path) -> None:
    assert normalise_url(str(tmp_path / "s.db")) == f"sqlite:///{tmp_path / 's.db'}"


@pytest.mark.parametrize("url", ["mysql://u@h/db", "postgresql://u@h:notaport/db"])
def test_unsupported_or_broken_urls_are_input_errors(url: str) -> None:
    with pytest.raises(InputError, match="sqlite:///PATH"):
        normalise_url(url)


def test_db_url_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEARMISS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("NEARMISS_DB", raising=False)
    get_settings.cache_clear()
    try:
        assert db_url() == f"sqlite:///{tmp_path / 'data' / 'store.sqlite3'}"
        monkeypatch.setenv("NEARMISS_DB", "postgresql://env@h/db")
        get_settings.cache_clear()
        assert db_url() == "postgresql+psycopg://env@h/db"
        assert db_url("sqlite:///option.db") == "sqlite:///option.db"
    finally:
        get_settings.cache_clear()


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = get_engine(f"sqlite:///{tmp_path / 'nested' / 'dir' / 's.sqlite3'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        busy = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
        assert busy == store_engine.BUSY_TIMEOUT_MS
    assert (tmp_path / "nested" / "dir").is_dir()


def test_fresh_database_is_created_on_first_use(empty_store_url: str) -> None:
    with session_scope(empty_store_url) as session:
        assert session.scalar(select(Narrative.id)) is None
    assert set(inspect(get_engine(empty_store_url)).get_table_names()) == TABLES
    assert current_revision(empty_store_url) == head_revision()


def test_models_match_the_migrations(empty_store_url: str) -> None:
    ensure_schema(empty_store_url)
    with get_engine(empty_store_url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_migrations_downgrade_and_upgrade_again(empty_store_url: str) -> None:
    assert ensure_schema(empty_store_url) == head_revision()
    assert ensure_schema(empty_store_url) == head_revision()  # idempotent
    command.downgrade(alembic_config(empty_store_url), "base")
    assert set(inspect(get_engine(empty_store_url)).get_table_names()) <= {"alembic_version"}
    assert current_revision(empty_store_url) is None
    assert ensure_schema(empty_store_url) == head_revision()


def test_a_newer_schema_than_this_version_is_refused(empty_store_url: str) -> None:
    ensure_schema(empty_store_url)
    with get_engine(empty_store_url).begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'ffff9999'"))
    forget_schemas()
    with pytest.raises(StoreError, match="ffff9999.*upgrade nearmiss"):
        ensure_schema(empty_store_url)


def test_the_schema_head_is_alembics_head() -> None:
    assert head_revision() == SCHEMA_HEAD  # bump SCHEMA_HEAD with every new migration


def test_a_store_at_the_head_opens_without_alembic(tmp_path: Path) -> None:
    url = str(tmp_path / "store.sqlite3")
    ensure_schema(url)
    code = (
        "import sys\n"
        "from pipeline.store import open_store\n"
        f"open_store({url!r})\n"
        "print('alembic' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False"]


def test_decisions_are_never_updated(store_url: str) -> None:
    with session_scope(store_url, write=True) as session:
        (narrative_id,), _ = add_narratives(session, make_records(1))
        record_decision(session, narrative_id, {"outcome": ["near_miss"]}, actor="ann")
    with (
        pytest.raises(DBAPIError, match="never updated"),
        session_scope(store_url, write=True) as s,
    ):
        s.execute(update(Decision).values(codes=["incident"]))
    with session_scope(store_url) as session:
        assert session.scalars(select(Decision.codes)).one() == ["near_miss"]


def test_unreachable_server_is_a_store_error() -> None:
    url = "postgresql://nearmiss:secret@127.0.0.1:1/nowhere"
    with pytest.raises(StoreError, match=r"127\.0\.0\.1:1/nowhere") as caught:
        ensure_schema(url)
    assert "secret" not in str(caught.value)


def _kill_connection(backend: str, session: object) -> None:
    connection = session.connection()  # type: ignore[attr-defined]
    if backend == "sqlite":
        connection.connection.driver_connection.close()
    else:
        terminate_backend(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar())


def test_database_going_away_mid_transaction_rolls_back(store_url: str, backend: str) -> None:
    with (
        pytest.raises(StoreError, match="went away during a transaction.*rolled back"),
        session_scope(store_url, write=True) as session,
    ):
        add_narratives(session, make_records(3))
        _kill_connection(backend, session)
        add_narratives(session, make_records(2, prefix="later"))
    with session_scope(store_url) as session:
        assert session.scalar(select(Narrative.id)) is None


def test_sqlite_has_one_writer_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_engine, "BUSY_TIMEOUT_MS", 200)
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    with session_scope(url, write=True) as writer:
        add_narratives(writer, make_records(2))
        with session_scope(url) as reader:  # WAL: readers are not blocked by the writer
            assert reader.scalar(select(Narrative.id)) is None
        with pytest.raises(StoreError, match="busy"), session_scope(url, write=True):
            pass
    with session_scope(url) as reader:
        assert len(reader.scalars(select(Narrative.id)).all()) == 2
