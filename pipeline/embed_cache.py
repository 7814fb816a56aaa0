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
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from pipeline.cache_file import CacheFile

__all__ = ["CACHE_FILE", "EmbeddingCache"]

logger = logging.getLogger(__name__)

#: The cache file inside the cache directory (``NEARMISS_CACHE_DIR``).
CACHE_FILE = "embeddings.sqlite3"
SCHEMA_VERSION = 1
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


class EmbeddingCache(CacheFile):
    """Vectors on disk, keyed by a hash of the model identity and the (redacted) text.

    Parameters
    ----------
    directory : Path
        The cache directory (created on first use, readable by its owner only); the vectors live
        in ``directory / CACHE_FILE``.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> cache = EmbeddingCache(Path(tempfile.mkdtemp()))
    >>> cache.put("model-a", [b"k1"], np.ones((1, 3), dtype=np.float32))
    1
    >>> cache.get([b"k1", b"k2"])[b"k1"]
    array([1., 1., 1.], dtype=float32)
    """

    file_name = CACHE_FILE
    kind = "embedding cache"
    schema = _SCHEMA
    schema_version = SCHEMA_VERSION

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
