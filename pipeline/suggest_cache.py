"""A persistent cache of redacted records and of whole suggestion lines, beside the vector cache.

Re-coding an unchanged corpus should cost close to nothing. The embedding cache
(:mod:`pipeline.embed_cache`) already spares the model; this cache spares the rest, in the same
directory (``NEARMISS_CACHE_DIR``), in its own SQLite file :data:`CACHE_FILE`:

* **prepared records**: a record's redacted text and sections and its labelled sentences (what
  :func:`pipeline.sentences.prepare_records` returns), keyed by a hash of the *raw* text and
  sections, the redaction flag and :func:`source_version`. A run that finds every record here
  never imports spaCy.
* **suggestion lines**: the ``suggestions`` object of a line of the suggestions file (scores,
  decisions, evidence), keyed by the record's key and :func:`bundle_fingerprint`: the bundle's
  ``metadata.json`` and the actual content of every file it lists, the taxonomy file in force and
  the local embedding model's identity. Everything loading a bundle checks is in the key, so a
  changed bundle, taxonomy or model finds nothing here and is loaded, and refused, as before. A
  run that finds every line here loads no bundle and imports neither scikit-learn nor spaCy.
* **bundles**: a bundle's name, scheme order and cold-start schemes, for the run summary.

:func:`source_version` hashes every source and data file of the ``pipeline`` package (the
redactor, sentence splitting, scoring and evidence among them) with the versions of the libraries
they use, so any change to redaction or coding invalidates every entry.

The cache holds redacted text and scores only, never raw text (raw text appears only hashed, in
keys). It is personal data all the same: :func:`clear_caches` deletes it, with the vectors.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.cache_file import CacheFile
from pipeline.errors import EmbedderError

if TYPE_CHECKING:
    from pipeline.record import Record
    from pipeline.sentences import PreparedRecord

__all__ = [
    "CACHE_FILE",
    "BundleInfo",
    "SuggestCache",
    "bundle_fingerprint",
    "clear_caches",
    "line_key",
    "prepare_cached",
    "record_key",
    "source_version",
]

logger = logging.getLogger(__name__)

#: The cache file inside the cache directory (``NEARMISS_CACHE_DIR``).
CACHE_FILE = "suggestions.sqlite3"
SCHEMA_VERSION = 1
#: Keys per ``IN (...)`` query, well under SQLite's variable limit.
_CHUNK = 500
#: Libraries whose behaviour the cached values depend on (tokenization, TF-IDF, linear algebra).
_LIBRARIES = ("spacy", "numpy", "scipy", "scikit-learn", "sentence-transformers")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS prepared (key BLOB PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS lines (
    key BLOB PRIMARY KEY,
    suggestions TEXT NOT NULL,
    selected TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bundles (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class BundleInfo:
    """What a run summary says about a bundle, kept so that a fully cached run loads none.

    Attributes
    ----------
    name : str
        The bundle's name (the ``model`` of its lines).
    schemes : tuple of str
        Scheme ids in taxonomy order.
    cold_start : tuple of str
        Schemes without a trained head.
    """

    name: str
    schemes: tuple[str, ...]
    cold_start: tuple[str, ...]


@lru_cache(maxsize=1)
def source_version() -> str:
    """Return a hash of the ``pipeline`` package's sources and data and of its libraries' versions.

    Computed once per process (a few tens of milliseconds). Any edit to the redactor, its word
    lists, sentence splitting, scoring or evidence, or another version of spaCy, NumPy, SciPy,
    scikit-learn or sentence-transformers, gives another version, and so other cache keys.

    Returns
    -------
    str
        A SHA-256 hex digest.
    """
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")
    )
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for name in _LIBRARIES:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "-"
        digest.update(f"{name}={version}\0".encode())
    return digest.hexdigest()


def record_key(record: Record, redact: bool) -> bytes:
    """Return the cache key of a record's raw text and sections (its other fields do not count).

    Parameters
    ----------
    record : Record
        The record as read, before redaction.
    redact : bool
        Whether it is to be redacted (an already redacted record is only split).

    Returns
    -------
    bytes
        A SHA-256 digest of :func:`source_version`, the flag, the text and the sections.
    """
    content = json.dumps([record.text, record.sections], ensure_ascii=False)
    digest = hashlib.sha256(f"record\0{source_version()}\0{int(redact)}\0".encode())
    digest.update(content.encode("utf-8", "surrogatepass"))
    return digest.digest()


def line_key(fingerprint: str, key: bytes) -> bytes:
    """Return the cache key of a record's suggestion line with one bundle (see the module doc)."""
    return hashlib.sha256(b"line\0" + fingerprint.encode() + b"\0" + key).digest()


def bundle_fingerprint(
    bundle_dir: Path, taxonomy_path: Path | None, embedder_identity: str | None = None
) -> str | None:
    """Return what a bundle's suggestions depend on, hashed; None when it cannot be read.

    Parameters
    ----------
    bundle_dir : Path
        The bundle directory.
    taxonomy_path : Path or None
        The taxonomy file in force (``NEARMISS_TAXONOMY``); None when the bundle's copy is used.
    embedder_identity : str or None
        The identity of the local embedding model the bundle is used with; None resolves the
        model the bundle records (as loading it does).

    Returns
    -------
    str or None
        A SHA-256 hex digest of ``metadata.json``, the actual content of every file it lists, the
        taxonomy file and the embedding model identity; None if any of them cannot be read
        (then the bundle is loaded, which says what is wrong).
    """
    try:
        raw = (bundle_dir / "metadata.json").read_bytes()
        recorded = json.loads(raw)
        digest = hashlib.sha256(b"bundle\0" + hashlib.sha256(raw).digest())
        for name in sorted(recorded.get("files") or {}):
            digest.update(name.encode() + b"\0" + _file_digest(bundle_dir / name))
        if taxonomy_path is not None:
            digest.update(b"taxonomy\0" + _file_digest(taxonomy_path))
        if embedder_identity is None:
            embedder = recorded.get("embedder")
            if embedder:
                from pipeline.embed_spec import EmbedderSpec

                embedder_identity = EmbedderSpec.from_model(str(embedder["model"])).identity
        digest.update(b"embedder\0" + (embedder_identity or "").encode())
    except (OSError, ValueError, TypeError, KeyError, AttributeError, EmbedderError):
        return None
    return digest.hexdigest()


def _file_digest(path: Path) -> bytes:
    """SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.digest()


def prepare_cached(
    records: Sequence[Record], *, redact: bool, cache: SuggestCache | None
) -> list[PreparedRecord]:
    """Redact and split records (:func:`~pipeline.sentences.prepare_records`), through the cache.

    Parameters
    ----------
    records : sequence of Record
        Records as read.
    redact : bool
        Redact them (False only for records that are already redacted).
    cache : SuggestCache or None
        Where prepared records persist; None prepares every record.

    Returns
    -------
    list of PreparedRecord
        One per record, in order, equal to what ``prepare_records`` returns.
    """
    from pipeline.sentences import PreparedRecord, prepare_records

    if cache is None:
        return prepare_records(records, redact=redact)
    keys = [record_key(record, redact) for record in records]
    found = cache.get_prepared(keys)
    missing = [i for i, key in enumerate(keys) if key not in found]
    if missing:
        fresh = prepare_records([records[i] for i in missing], redact=redact)
        cache.put_prepared({keys[i]: ready for i, ready in zip(missing, fresh, strict=True)})
        for i, ready in zip(missing, fresh, strict=True):
            found[keys[i]] = _prepared_value(ready)
    out: list[PreparedRecord] = []
    for record, key in zip(records, keys, strict=True):
        value = found[key]
        redacted = record.model_copy(update={"text": value["t"], "sections": value["s"]})
        out.append(PreparedRecord(redacted, tuple(value["x"]), tuple(value["l"])))
    return out


def _prepared_value(ready: PreparedRecord) -> dict[str, Any]:
    """Return the cached form of a prepared record: redacted text, sections and sentences."""
    return {
        "t": ready.record.text,
        "s": ready.record.sections,
        "x": list(ready.sentences),
        "l": list(ready.sections),
    }


class SuggestCache(CacheFile):
    """Prepared records, suggestion lines and bundle summaries on disk (see the module doc).

    Parameters
    ----------
    directory : Path
        The cache directory (created on first use, readable by its owner only).

    Examples
    --------
    >>> import tempfile
    >>> cache = SuggestCache(Path(tempfile.mkdtemp()))
    >>> cache.put_lines({b"k": ('{"outcome":[]}', ())})
    >>> cache.get_lines([b"k", b"other"])
    {b'k': ('{"outcome":[]}', ())}
    """

    file_name = CACHE_FILE
    kind = "suggestion cache"
    schema = _SCHEMA
    schema_version = SCHEMA_VERSION

    def get_prepared(self, keys: Sequence[bytes]) -> dict[bytes, dict[str, Any]]:
        """Return the cached prepared records (as stored) of the keys found."""
        return {key: json.loads(value) for key, value in self._get("prepared", "value", keys)}

    def put_prepared(self, items: dict[bytes, PreparedRecord]) -> None:
        """Store prepared records by key (existing keys are left as they are)."""
        rows = [
            (key, json.dumps(_prepared_value(ready), ensure_ascii=False))
            for key, ready in items.items()
        ]
        self._put("INSERT OR IGNORE INTO prepared (key, value) VALUES (?, ?)", rows)

    def get_lines(self, keys: Sequence[bytes]) -> dict[bytes, tuple[str, tuple[str, ...]]]:
        """Return, per key found, the ``suggestions`` JSON and the schemes with a selected code."""
        return {
            key: (suggestions, tuple(json.loads(selected)))
            for key, suggestions, selected in self._get("lines", "suggestions, selected", keys)
        }

    def put_lines(self, items: dict[bytes, tuple[str, tuple[str, ...]]]) -> None:
        """Store suggestion lines by key: ``(suggestions JSON, schemes with a selected code)``."""
        rows = [(key, text, json.dumps(list(selected))) for key, (text, selected) in items.items()]
        self._put("INSERT OR IGNORE INTO lines (key, suggestions, selected) VALUES (?, ?, ?)", rows)

    def get_bundle(self, fingerprint: str) -> BundleInfo | None:
        """Return the summary of a bundle by fingerprint, or None."""
        with self._connect() as con:
            row = con.execute("SELECT value FROM bundles WHERE key = ?", (fingerprint,)).fetchone()
        if row is None:
            return None
        value = json.loads(row[0])
        return BundleInfo(value["name"], tuple(value["schemes"]), tuple(value["cold_start"]))

    def put_bundle(self, fingerprint: str, info: BundleInfo) -> None:
        """Store the summary of a bundle by fingerprint."""
        value = {"name": info.name, "schemes": info.schemes, "cold_start": info.cold_start}
        self._put(
            "INSERT OR REPLACE INTO bundles (key, value) VALUES (?, ?)",
            [(fingerprint, json.dumps(value))],
        )

    def count(self) -> dict[str, int]:
        """Return how many prepared records, lines and bundles are cached."""
        with self._connect() as con:
            return {
                table: int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
                for table in ("prepared", "lines", "bundles")
            }

    def clear(self) -> None:
        """Delete every entry, then compact the file and empty its write-ahead log."""
        if not self.path.exists():
            return
        with self._connect() as con:
            with con:
                for table in ("prepared", "lines", "bundles"):
                    con.execute(f"DELETE FROM {table}")
            con.execute("VACUUM")
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        logger.info("Cleared the suggestion cache at %s", self.path)

    def _get(self, table: str, columns: str, keys: Sequence[bytes]) -> Iterator[tuple[Any, ...]]:
        """Yield ``(key, *columns)`` rows of the keys found, querying in batches."""
        if not keys:
            return
        with self._connect() as con:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = con.execute(
                    f"SELECT key, {columns} FROM {table} WHERE key IN ({marks})", chunk
                ).fetchall()
                for key, *values in rows:
                    yield (bytes(key), *values)

    def _put(self, sql: str, rows: Iterable[tuple[Any, ...]]) -> None:
        """Run one insert for many rows in one transaction."""
        rows = list(rows)
        if rows:
            with self._connect() as con, con:
                con.executemany(sql, rows)


def clear_caches(directory: Path) -> None:
    """Delete everything cached in a cache directory: vectors, prepared records and lines.

    What ``nearmiss purge`` calls: cache keys are hashes, so clearing everything is the one way
    to be sure nothing derived from a purged narrative survives.

    Parameters
    ----------
    directory : Path
        The cache directory (``NEARMISS_CACHE_DIR``).
    """
    from pipeline.embed_cache import EmbeddingCache

    EmbeddingCache(directory).clear()  # and, through it, the suggestion cache beside it
