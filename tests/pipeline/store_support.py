"""Helpers for the store tests: the PostgreSQL test server and small records.

PostgreSQL comes from ``NEARMISS_TEST_PG_URL`` (``.ci/postgres.sh`` starts one and prints it).
Without it the PostgreSQL tests skip locally, and fail when ``CI`` is set: in CI a skipped
PostgreSQL test is a failure. The fixtures are in ``store_fixtures.py``.
"""

from __future__ import annotations

import os

import psycopg
import pytest

from pipeline.record import Record

PG_ENV = "NEARMISS_TEST_PG_URL"


def pg_base_url() -> str:
    """Return the test server's URL, or skip (fail in CI) when there is none."""
    url = os.environ.get(PG_ENV)
    if url:
        return url
    message = f"{PG_ENV} is not set; start PostgreSQL with `bash .ci/postgres.sh`"
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL store tests cannot be skipped in CI: {message}")
    pytest.skip(message)


def libpq_url(url: str) -> str:
    """Return ``url`` as psycopg itself wants it (no SQLAlchemy driver suffix)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def terminate_backend(pid: int) -> None:
    """End a PostgreSQL server process, as a server restart or network loss would."""
    with psycopg.connect(libpq_url(pg_base_url()), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def make_records(count: int, *, practice: str = "Y00001", prefix: str = "r") -> list[Record]:
    """Return ``count`` distinct small records of one practice."""
    return [
        Record(
            id=f"{prefix}-{i:04d}",
            text=f"Near miss {i}: wrong dose on the repeat template, caught by the pharmacist.",
            practice=practice,
            event_date=f"2021-03-{1 + i % 28:02d}",
            source="export.csv",
            row=i + 2,
        )
        for i in range(count)
    ]
