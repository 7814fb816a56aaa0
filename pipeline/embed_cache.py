"""A persistent embedding cache: one SQLite file of float32 vectors keyed by content hash.

A key is the SHA-256 of the model identity, a NUL byte and the text (see
:meth:`EmbedderSpec.keys`), so the same redacted text embedded by the same model is computed
once, and a changed model never finds a stale vector. The cache holds vectors of redacted text
only, never the text itself; still, they are derived from narratives, so they are personal data:
:meth:`EmbeddingCache.delete`, :meth:`EmbeddingCache.delete_model` and
:meth:`EmbeddingCache.clear` remove them (with SQLite's ``secure_delete``, so freed pages are
zeroed).

Each thread keeps one connection to the file (WAL mode, a busy timeout), so threads and processes
can share one cache; a key is written once and never changes. The connection stays open because
closing the last one checkpoints the log and syncs the disk, which would cost every small write
(coding one narrative) about 20 ms.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from pipeline.errors import EmbedderError

__all__ = ["CACHE_FILE", "EmbeddingCache", "thread_connection"]

logger = logging.getLogger(__name__)

#: The cache file inside the cache directory (``NEARMISS_CACHE_DIR``).
CACHE_FILE = "embeddings.sqlite3"
SCHEMA_VERSION = 1
#: Seconds a writer waits for another process's transaction before failing.
BUSY_TIMEOUT_S = 60.0
#: Keys per ``IN (...)`` query, well under SQLite's variable limit.
_CHUNK = 500
_DTYPE = np.dtype("<f4")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    id INTEGER PRIMARY KEY,
    identity TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS vectors (
    key BLOB PRIMARY KEY,
    model INTEGER NOT NULL REFERENCES models(id),
    vector BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS vectors_model ON vectors(model);
"""


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
    if con is not None and (local.pid != os.getpid() or not path.exists()):
        if local.pid == os.getpid():
            con.close()
        con = None
    if con is None:
        con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)
        con.execute("PRAGMA synchronous = NORMAL")
        con.execute("PRAGMA secure_delete = ON")
        local.con, local.pid = con, os.getpid()
    return con


class EmbeddingCache:
    """Vectors on disk, keyed by a hash of the model identity and the (redacted) text.

    Parameters
    ----------
    directory : Path
        The cache directory (created on first use, readable by its owner only); the vectors live
        in ``directory / CACHE_FILE``.

    Examples
    --------
    >>> import tempfile
    >>> cache = EmbeddingCache(Path(tempfile.mkdtemp()))
    >>> cache.put("model-a", [b"k1"], np.ones((1, 3), dtype=np.float32))
    1
    >>> cache.get([b"k1", b"k2"])[b"k1"]
    array([1., 1., 1.], dtype=float32)
    """

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
        """The SQLite file that holds the vectors."""
        return self.directory / CACHE_FILE

    def get(self, keys: Sequence[bytes]) -> dict[bytes, NDArray[np.float32]]:
        """Look keys up in batches; missing keys are simply absent from the result.

        Parameters
        ----------
        keys : sequence of bytes
            Cache keys (see :meth:`EmbedderSpec.keys`).

        Returns
        -------
        dict of bytes to ndarray of shape (d,)
            The cached vector of each key found (read-only float32 arrays).
        """
        found: dict[bytes, NDArray[np.float32]] = {}
        if not keys:
            return found
        with self._connect() as con:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = con.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({marks})", chunk
                ).fetchall()
                for key, blob in rows:
                    found[bytes(key)] = np.frombuffer(blob, dtype=_DTYPE)
        return found

    def put(self, identity: str, keys: Sequence[bytes], vectors: NDArray[np.floating]) -> int:
        """Store vectors in one transaction; keys already present are left as they are.

        Parameters
        ----------
        identity : str
            The model identity the vectors were computed with (see ``EmbedderSpec.identity``).
        keys : sequence of bytes
            One cache key per row of ``vectors``.
        vectors : ndarray of shape (n, d)
            The vectors, stored as little-endian float32.

        Returns
        -------
        int
            The number of vectors written.

        Raises
        ------
        ValueError
            If ``keys`` and ``vectors`` differ in length.
        """
        if len(keys) != len(vectors):
            raise ValueError(f"{len(keys)} keys but {len(vectors)} vectors")
        if not keys:
            return 0
        rows = np.ascontiguousarray(vectors, dtype=_DTYPE)
        with self._connect() as con, con:
            con.execute("INSERT OR IGNORE INTO models (identity) VALUES (?)", (identity,))
            (model,) = con.execute(
                "SELECT id FROM models WHERE identity = ?", (identity,)
            ).fetchone()
            before = con.total_changes
            con.executemany(
                "INSERT OR IGNORE INTO vectors (key, model, vector) VALUES (?, ?, ?)",
                ((key, model, row.tobytes()) for key, row in zip(keys, rows, strict=True)),
            )
            return con.total_changes - before

    def delete(self, keys: Sequence[bytes]) -> int:
        """Delete the vectors of some keys (for instance when narratives are purged).

        Parameters
        ----------
        keys : sequence of bytes
            Cache keys (see :meth:`EmbedderSpec.keys`).

        Returns
        -------
        int
            The number of vectors deleted.
        """
        deleted = 0
        with self._connect() as con, con:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                deleted += con.execute(
                    f"DELETE FROM vectors WHERE key IN ({marks})", chunk
                ).rowcount
        return deleted

    def delete_model(self, identity: str) -> int:
        """Delete every vector computed with one model identity (a model no longer used).

        Parameters
        ----------
        identity : str
            The model identity.

        Returns
        -------
        int
            The number of vectors deleted.
        """
        with self._connect() as con, con:
            deleted = con.execute(
                "DELETE FROM vectors WHERE model IN (SELECT id FROM models WHERE identity = ?)",
                (identity,),
            ).rowcount
            con.execute("DELETE FROM models WHERE identity = ?", (identity,))
        return int(deleted)

    def clear(self) -> None:
        """Delete every vector, and everything the suggestion cache beside it holds.

        Both files are compacted and their write-ahead logs emptied. The suggestion cache
        (:mod:`pipeline.suggest_cache`: redacted records and suggestion lines) is cleared too,
        so that a purge that clears this cache leaves nothing derived from narratives behind.
        """
        with self._connect() as con:
            with con:
                con.execute("DELETE FROM vectors")
                con.execute("DELETE FROM models")
            con.execute("VACUUM")
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        logger.info("Cleared the embedding cache at %s", self.path)
        from pipeline.suggest_cache import SuggestCache

        SuggestCache(self.directory).clear()

    def count(self, identity: str | None = None) -> int:
        """Return how many vectors are cached, for one model identity or in all.

        Parameters
        ----------
        identity : str or None, default=None
            Count only this model's vectors.

        Returns
        -------
        int
            The number of vectors.
        """
        with self._connect() as con:
            if identity is None:
                (count,) = con.execute("SELECT count(*) FROM vectors").fetchone()
            else:
                (count,) = con.execute(
                    "SELECT count(*) FROM vectors JOIN models ON models.id = vectors.model "
                    "WHERE models.identity = ?",
                    (identity,),
                ).fetchone()
        return int(count)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """Yield this thread's connection (creating the cache on first use or when deleted)."""
        if not self._ready or not self.path.exists():
            self._create()
        try:
            yield thread_connection(self._local, self.path)
        except sqlite3.OperationalError as exc:
            raise EmbedderError(
                f"The embedding cache {self.path} could not be used ({exc}); if another nearmiss "
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
                if version not in (0, SCHEMA_VERSION):
                    raise EmbedderError(
                        f"The embedding cache {self.path} has schema version {version}, but this "
                        f"nearmiss uses {SCHEMA_VERSION}; delete the file (it is only a cache) "
                        "or set NEARMISS_CACHE_DIR to another directory"
                    )
                con.execute("PRAGMA journal_mode = WAL")
                with con:
                    con.executescript(_SCHEMA)
                    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            if is_new:
                os.chmod(self.path, 0o600)
        except sqlite3.DatabaseError as exc:
            raise EmbedderError(
                f"The embedding cache {self.path} is unreadable ({exc}); delete the file (it is "
                "only a cache) or set NEARMISS_CACHE_DIR to another directory"
            ) from exc
        self._ready = True
