"""Which bundle codes: the one named, or promoted in the store, before the starter bundle.

Kept apart from :mod:`pipeline.suggest` (NumPy, the embedders, the cache) so that a command that
only needs the bundle's name, such as the check for unchanged inputs before a batch, reads it
without importing them.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["chosen_bundle"]


def chosen_bundle(
    model: Path | None = None, db_url: str | None = None, *, verify: bool = True
) -> Path | None:
    """Return the bundle chosen ahead of the starter, or None when the starter bundle is next.

    In order: ``model``; ``NEARMISS_MODEL``; the bundle promoted in the store, when a store is
    given (``db_url``) or configured (``NEARMISS_DB``).

    Parameters
    ----------
    model : Path or None
        A bundle directory (``--model``).
    db_url : str or None
        The store (``--db``).
    verify : bool, default=True
        Check the promoted bundle's files against the hashes registered in the store (pass False
        only to read its name, never to code with it).

    Returns
    -------
    Path or None
        The bundle directory, or None: no bundle named and none promoted.

    Raises
    ------
    BundleError
        If ``verify`` and the promoted bundle fails the store's registered hashes.
    """
    from pipeline.config import get_settings

    settings = get_settings()
    chosen = model or settings.model
    if chosen is None and (db_url or settings.db):
        chosen = _promoted_bundle(db_url or settings.db or "", verify=verify)
    return Path(chosen) if chosen is not None else None


def _promoted_bundle(url: str, *, verify: bool = True) -> Path | None:
    """Return the promoted bundle's directory (verified against the store), or None."""
    from pipeline.store import normalise_url, promoted_bundle, session_scope, verify_bundle

    with session_scope(normalise_url(url)) as session:
        bundle = promoted_bundle(session)
        if bundle is None:
            return None
        path = Path(bundle.path)
        if verify:
            verify_bundle(session, path)
    return path
