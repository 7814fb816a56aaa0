"""One SQLite file in the cache directory, shared by the embedding and the suggestion caches.

A :class:`CacheFile` is created on first use (the directory and the file readable by their owner
only), carries a schema version (``PRAGMA user_version``; a file of another version is refused
with a message saying it may be deleted), runs in WAL mode, and keeps one open connection per
thread (:func:`thread_connection`): closing the last connection checkpoints the log and syncs the
disk, which would cost every small write about 20 ms.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from pathlib import Path
from typing import ClassVar

from pipeline.errors import EmbedderError

__all__ = ["BUSY_TIMEOUT_S", "CacheFile", "close_connections", "thread_connection"]

#: Seconds a writer waits for another process's transaction before failing.
BUSY_TIMEOUT_S = 60.0

#: The connections :func:`thread_connection` opened and that are still open, by id, with the
#: process that opened each.
_OPEN: dict[int, tuple[int, sqlite3.Connection]] = {}
_OPEN_LOCK = threading.Lock()
#: Bumped by :func:`close_connections`: a thread's connection of an older generation is closed.
_generation = 0


def close_connections() -> None:
    """Close every cache connection this process opened (before it forks a coder).

    Each thread opens a new one on its next use. One opened by another thread that is still
    running cannot be closed here and stays open.
    """
    global _generation  # noqa: PLW0603 - a counter the connections compare against
    with _OPEN_LOCK:
        # A connection inherited through a fork belongs to the parent: left alone.
        connections = [con for pid, con in _OPEN.values() if pid == os.getpid()]
        _OPEN.clear()
        _generation += 1
    for con in connections:
        with suppress(sqlite3.ProgrammingError):  # another thread's: it stays open
            con.close()


def thread_connection(local: threading.local, path: Path) -> sqlite3.Connection:
    """Return this thread's open connection to a cache file, opening one if needed.

    A connection is not reused in a forked process, nor once its file was deleted.

    Parameters
    ----------
    local : threading.local
        Where the cache object keeps its connections.
    path : Path
        The SQLite file (it exists).

    Returns
    -------
    sqlite3.Connection
        A connection with ``synchronous = NORMAL`` and ``secure_delete`` on.
    """
    con: sqlite3.Connection | None = getattr(local, "con", None)
    if con is not None and (
        local.pid != os.getpid() or local.generation != _generation or not path.exists()
    ):
        if local.pid == os.getpid():
            _forget(con)
            con.close()
        con = None
    if con is None:
        con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)
        con.execute("PRAGMA synchronous = NORMAL")
        con.execute("PRAGMA secure_delete = ON")
        local.con, local.pid, local.generation = con, os.getpid(), _generation
        with _OPEN_LOCK:
            _OPEN[id(con)] = (os.getpid(), con)
    return con


def _forget(con: sqlite3.Connection) -> None:
    with _OPEN_LOCK:
        _OPEN.pop(id(con), None)


class CacheFile:
    """A schema-versioned SQLite file in a cache directory, one connection per thread.

    Subclasses set :attr:`file_name`, :attr:`kind` (named in error messages), :attr:`schema`
    (idempotent DDL) and :attr:`schema_version`.

    Parameters
    ----------
    directory : Path
        The cache directory (created on first use, readable by its owner only).
    """

    file_name: ClassVar[str]
    kind: ClassVar[str]
    schema: ClassVar[str]
    schema_version: ClassVar[int] = 1

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._ready = False
        self._local = threading.local()

    def __getstate__(self) -> dict[str, object]:
        """Pickle the directory only (connections stay with their process)."""
        return {"directory": self.directory}

    def __setstate__(self, state: dict[str, object]) -> None:
        """Rebuild from the directory."""
        self.__init__(Path(str(state["directory"])))  # type: ignore[misc]

    @property
    def path(self) -> Path:
        """The SQLite file."""
        return self.directory / self.file_name

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """Yield this thread's connection (creating the cache on first use or when deleted)."""
        if not self._ready or not self.path.exists():
            self._create()
        try:
            yield thread_connection(self._local, self.path)
        except sqlite3.OperationalError as exc:
            raise EmbedderError(
                f"The {self.kind} {self.path} could not be used ({exc}); if another nearmiss "
                "process holds it, wait and retry, or point NEARMISS_CACHE_DIR elsewhere"
            ) from exc

    def _create(self) -> None:
        """Create the directory and schema, or check the schema version of an existing file."""
        if not self.directory.exists():
            self.directory.mkdir(parents=True, mode=0o700)
        is_new = not self.path.exists()
        try:
            with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)) as con:
                (version,) = con.execute("PRAGMA user_version").fetchone()
                if version not in (0, self.schema_version):
                    raise EmbedderError(
                        f"The {self.kind} {self.path} has schema version {version}, but this "
                        f"nearmiss uses {self.schema_version}; delete the file (it is only a "
                        "cache) or set NEARMISS_CACHE_DIR to another directory"
                    )
                con.execute("PRAGMA journal_mode = WAL")
                with con:
                    con.executescript(self.schema)
                    con.execute(f"PRAGMA user_version = {self.schema_version}")
            if is_new:
                os.chmod(self.path, 0o600)
        except sqlite3.DatabaseError as exc:
            raise EmbedderError(
                f"The {self.kind} {self.path} is unreadable ({exc}); delete the file (it is "
                "only a cache) or set NEARMISS_CACHE_DIR to another directory"
            ) from exc
        self._ready = True
