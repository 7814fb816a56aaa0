"""Record identity: ids derived from where a row came from, and duplicate and conflict detection.

Decisions: a row is an *exact duplicate* when every mapped field (id, sections, practice, event
date; not the source file or row) equals one already ingested: it is counted and not written
again. A row whose id was already ingested with *different* content is an *id conflict*, never
merged: it is quarantined, or (on request) ingested under a derived id ``<id>~<hash>``. Rows
without an id column get the id ``<file name>#<row>`` and are duplicates when their content repeats.

Only two 64-bit hashes per ingested row are kept (of its id and of its content; no text), and
they live in a private temporary SQLite database on disk (a couple of MiB of page cache), so
memory stays flat however many rows a run ingests.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from enum import StrEnum

__all__ = ["IdentityIndex", "Verdict", "derive_id", "fingerprint"]


class Verdict(StrEnum):
    """What a row's identity means for it."""

    NEW = "new"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"


def fingerprint(values: Iterable[str | None]) -> int:
    """Hash field values to 64 bits (order matters; ``None`` differs from ``""``).

    Parameters
    ----------
    values : iterable of str or None
        The mapped fields, in a fixed order.

    Returns
    -------
    int
        A BLAKE2b digest as a signed 64-bit integer.

    Examples
    --------
    >>> fingerprint(["a", None]) == fingerprint(["a", None]) != fingerprint(["a", ""])
    True
    """
    digest = hashlib.blake2b(digest_size=8)
    for value in values:
        digest.update(b"\x00" if value is None else b"\x01" + value.encode("utf-8", "replace"))
        digest.update(b"\x1f")
    return int.from_bytes(digest.digest(), signed=True)


def _id_key(record_id: str) -> int:
    """Hash an id to 64 bits (the index keeps hashes, not the id strings)."""
    digest = hashlib.blake2b(record_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, signed=True)


def derive_id(source: str, row: int) -> str:
    """Derive the id of a row that has none from its file name and data row.

    Parameters
    ----------
    source : str
        The file name.
    row : int
        The 1-based data row.

    Returns
    -------
    str
        ``"<source>#<row>"``.

    Examples
    --------
    >>> derive_id("datix.csv", 12)
    'datix.csv#12'
    """
    return f"{source}#{row}"


class IdentityIndex:
    """The ids and contents ingested so far in one run, kept on disk so memory stays flat.

    Examples
    --------
    >>> index = IdentityIndex()
    >>> index.check("7", 1), index.add("7", 1)
    (<Verdict.NEW: 'new'>, None)
    >>> index.check("7", 1), index.check("7", 2)
    (<Verdict.DUPLICATE: 'duplicate'>, <Verdict.CONFLICT: 'conflict'>)
    >>> index.close()
    """

    def __init__(self) -> None:
        # An empty name is a private temporary database that SQLite deletes on close.
        self._db = sqlite3.connect("")
        self._db.executescript(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
            "CREATE TABLE ids (id INTEGER PRIMARY KEY, content INTEGER NOT NULL);"
            "CREATE TABLE anonymous (content INTEGER PRIMARY KEY);"
        )

    def check(self, record_id: str, content: int, *, derived: bool = False) -> Verdict:
        """Classify a row by its id and content fingerprint.

        Parameters
        ----------
        record_id : str
            The row's id (its own, or derived by :func:`derive_id`).
        content : int
            :func:`fingerprint` of the row's mapped fields.
        derived : bool, default=False
            True if the id was derived: the row is then a duplicate when its content was seen
            before in any row that had no id of its own.

        Returns
        -------
        Verdict
            ``NEW``; ``DUPLICATE`` (same id and content, or a derived id and content seen before);
            or ``CONFLICT`` (same id, different content).
        """
        if (
            derived
            and self._db.execute("SELECT 1 FROM anonymous WHERE content = ?", (content,)).fetchone()
        ):
            return Verdict.DUPLICATE
        seen = self._db.execute(
            "SELECT content FROM ids WHERE id = ?", (_id_key(record_id),)
        ).fetchone()
        if seen is None:
            return Verdict.NEW
        return Verdict.DUPLICATE if seen[0] == content else Verdict.CONFLICT

    def add(self, record_id: str, content: int, *, derived: bool = False) -> None:
        """Remember an ingested row.

        Parameters
        ----------
        record_id : str
            The id it was ingested under.
        content : int
            :func:`fingerprint` of the row's mapped fields.
        derived : bool, default=False
            True if the id was derived rather than the row's own.
        """
        self._db.execute(
            "INSERT OR REPLACE INTO ids (id, content) VALUES (?, ?)",
            (_id_key(record_id), content),
        )
        if derived:
            self._db.execute("INSERT OR IGNORE INTO anonymous (content) VALUES (?)", (content,))

    def close(self) -> None:
        """Delete the index (its temporary database)."""
        self._db.close()
