"""Store fixtures, loaded with ``pytest_plugins``: every store test runs on SQLite and PostgreSQL.

``store_url`` is a migrated, empty store. The schema is migrated once per session: SQLite tests
get a copy of a migrated template file; PostgreSQL tests share one migrated schema (through
``search_path``), emptied before each test. ``empty_store_url`` is a database with no schema at
all, for the tests of creation and migration; its PostgreSQL schema is dropped afterwards.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pipeline.store import dispose_engines, ensure_schema, normalise_url
from pipeline.store.migration import forget_schemas
from pipeline.store.models import Base
from tests.pipeline.store_support import libpq_url, pg_base_url

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _create_schema() -> tuple[str, str]:
    base = pg_base_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(libpq_url(base), autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in base else "?"
    return schema, normalise_url(f"{base}{separator}options=-csearch_path%3D{schema}")


def _drop_schema(schema: str) -> None:
    with psycopg.connect(libpq_url(pg_base_url()), autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def empty_store_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL to a fresh database with no schema yet, on each backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        dispose_engines()
        forget_schemas()
        return
    schema, url = _create_schema()
    yield url
    dispose_engines()
    forget_schemas()
    _drop_schema(schema)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("store-template") / "store.sqlite3"
    ensure_schema(f"sqlite:///{path}")
    dispose_engines()  # closing the last connection checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def _pg_migrated() -> Iterator[str]:
    schema, url = _create_schema()
    ensure_schema(url)
    yield url
    dispose_engines()
    _drop_schema(schema)


@pytest.fixture
def store_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A URL to a migrated, empty store on each backend."""
    if backend == "sqlite":
        path = tmp_path / "store.sqlite3"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        yield f"sqlite:///{path}"
        dispose_engines()
        forget_schemas()
        return
    url = request.getfixturevalue("_pg_migrated")
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        connection.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    yield url
