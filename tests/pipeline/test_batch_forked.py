"""When the command may fork its second coder, and when it must not."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pipeline.batch.forked import fork_coder, why_not_fork
from pipeline.cache_file import close_connections
from pipeline.embed_cache import EmbeddingCache


@pytest.fixture
def other_thread() -> Iterator[threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, name="someone-elses")
    thread.start()
    yield thread
    stop.set()
    thread.join()


def test_no_fork_while_an_unknown_thread_runs(
    other_thread: threading.Thread, caplog: pytest.LogCaptureFixture
) -> None:
    others = {thread.name for thread in threading.enumerate()} - {other_thread.name}
    assert why_not_fork(others) == "1 other threads are running"
    assert why_not_fork(others | {other_thread.name}) is None
    with caplog.at_level(logging.DEBUG, logger="pipeline.batch.forked"):
        assert fork_coder(("factory", Path("bundle"), "sqlite://"), others) is None
    assert "no forked coder: 1 other threads are running" in caplog.text


def test_no_fork_while_a_database_file_is_open(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    known = {thread.name for thread in threading.enumerate()}
    con = sqlite3.connect(tmp_path / "other.sqlite3")  # not ours: nothing closes it
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE t (x)")
        with caplog.at_level(logging.DEBUG, logger="pipeline.batch.forked"):
            assert fork_coder(("factory", Path("bundle"), "sqlite://"), known) is None
    finally:
        con.close()
    assert "no forked coder: a database is still open (other.sqlite3-" in caplog.text


def test_closing_cache_connections_reopens_them_on_next_use(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    cache.put("model-a", [b"k1"], np.ones((1, 3), dtype=np.float32))
    old = cache._local.con
    close_connections()
    with pytest.raises(sqlite3.ProgrammingError):  # closed
        old.execute("SELECT 1")
    assert set(cache.get([b"k1"])) == {b"k1"}  # a new connection, same data
    assert cache._local.con is not old
