"""The model registry: bundles with the SHA-256 of every file, and which bundle is promoted.

Loading a bundle unpickles its classifier, which runs code, so a bundle is trusted only when
every file in it hashes to what was registered: :func:`verify_bundle` is what bundle loading
calls before ``joblib.load``. A bundle's ``digest`` (SHA-256 over its sorted file hashes)
identifies its content wherever the directory is moved.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from pipeline.errors import BundleError, InputError
from pipeline.store.models import Bundle, BundleFile, Promotion

__all__ = [
    "METADATA_FILE",
    "bundle_digest",
    "hash_bundle_files",
    "promote_bundle",
    "promoted_bundle",
    "register_bundle",
    "verify_bundle",
]

logger = logging.getLogger(__name__)

#: The bundle's metadata; ``{"taxonomy": {"name": ..., "version": ...}}`` is read from it.
METADATA_FILE = "metadata.json"
_CHUNK = 1 << 20


def hash_bundle_files(bundle_dir: Path) -> dict[str, str]:
    """Return the SHA-256 of every file in a bundle directory, by relative POSIX path.

    Raises
    ------
    BundleError
        If the directory is missing or empty, or holds a symbolic link (a bundle holds its own
        files only).
    """
    if not bundle_dir.is_dir():
        raise BundleError(f"Bundle directory {bundle_dir} does not exist; check the path")
    hashes: dict[str, str] = {}
    for path in sorted(bundle_dir.rglob("*")):
        if path.is_symlink():
            raise BundleError(f"Bundle {bundle_dir} holds a symbolic link {path}; copy the file in")
        if path.is_file():
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                while block := handle.read(_CHUNK):
                    digest.update(block)
            hashes[path.relative_to(bundle_dir).as_posix()] = digest.hexdigest()
    if not hashes:
        raise BundleError(f"Bundle directory {bundle_dir} is empty; train a bundle into it")
    return hashes


def bundle_digest(hashes: Mapping[str, str]) -> str:
    """Return the SHA-256 identifying a bundle's content, from its file hashes."""
    lines = "".join(f"{sha}  {path}\n" for path, sha in sorted(hashes.items()))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def register_bundle(
    session: Session, bundle_dir: Path, *, actor: str, name: str | None = None
) -> Bundle:
    """Register a bundle with the hash of each of its files; registering it again is a no-op.

    Parameters
    ----------
    session : Session
        A session inside a write transaction.
    bundle_dir : Path
        The bundle directory.
    actor : str
        Who registered it.
    name : str or None
        A name for people and for suggestion files' ``model``; the directory name by default.

    Returns
    -------
    Bundle
        The new or already registered bundle (same content digest).

    Raises
    ------
    BundleError
        If the directory cannot be hashed or its ``metadata.json`` is not a JSON object.
    """
    hashes = hash_bundle_files(bundle_dir)
    digest = bundle_digest(hashes)
    existing = session.scalar(select(Bundle).where(Bundle.digest == digest))
    if existing is not None:
        return existing
    metadata = _read_metadata(bundle_dir) if METADATA_FILE in hashes else None
    taxonomy = metadata.get("taxonomy") if metadata else None
    bundle = Bundle(
        name=name or bundle_dir.resolve().name,
        digest=digest,
        path=str(bundle_dir.resolve()),
        taxonomy_name=taxonomy.get("name") if isinstance(taxonomy, dict) else None,
        taxonomy_version=taxonomy.get("version") if isinstance(taxonomy, dict) else None,
        bundle_metadata=metadata,
        registered_by=actor,
        files=[
            BundleFile(path=path, sha256=sha, size=(bundle_dir / path).stat().st_size)
            for path, sha in hashes.items()
        ],
    )
    session.add(bundle)
    session.flush()
    logger.info("Registered bundle %s (%s, %d files)", bundle.name, digest[:12], len(hashes))
    return bundle


def _read_metadata(bundle_dir: Path) -> dict[str, Any]:
    path = bundle_dir / METADATA_FILE
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BundleError(f"{path} is not readable JSON ({error}); rebuild the bundle") from None
    if not isinstance(value, dict):
        raise BundleError(f"{path} holds a JSON {type(value).__name__}, not an object")
    return value


def promote_bundle(
    session: Session,
    bundle_id: int,
    *,
    actor: str,
    reason: str | None = None,
    metrics: Mapping[str, Any] | None = None,
) -> Promotion:
    """Make a registered bundle the promoted one, keeping every earlier promotion on record.

    Parameters
    ----------
    session : Session
        A session inside a write transaction.
    bundle_id : int
        Store id of a registered bundle.
    actor : str
        Who promoted it (a user, or the retrain flow).
    reason : str or None
        Why, e.g. "macro-F1 0.71 > 0.66 on the same held-out reviewed slice".
    metrics : mapping or None
        The evaluation that justified it.

    Returns
    -------
    Promotion
        The new promotion record.

    Raises
    ------
    InputError
        If no bundle has that id.
    """
    if session.get(Bundle, bundle_id) is None:
        raise InputError(f"No bundle with id {bundle_id} is registered; register it first")
    promotion = Promotion(
        bundle_id=bundle_id,
        actor=actor,
        reason=reason,
        metrics=dict(metrics) if metrics is not None else None,
    )
    session.add(promotion)
    session.flush()
    logger.info("Promoted bundle %d", bundle_id)
    return promotion


def promoted_bundle(session: Session) -> Bundle | None:
    """Return the bundle promoted last, or ``None`` when none was (use the starter bundle)."""
    query = (
        select(Bundle)
        .join(Promotion, Promotion.bundle_id == Bundle.id)
        .order_by(Promotion.id.desc())
        .limit(1)
        .options(selectinload(Bundle.files))
    )
    return session.scalar(query)


def verify_bundle(session: Session, bundle_dir: Path) -> Bundle:
    """Check that every file of a bundle directory hashes to a registered bundle's hashes.

    Call this before unpickling anything from the bundle.

    Parameters
    ----------
    session : Session
        An open session.
    bundle_dir : Path
        The bundle directory about to be loaded.

    Returns
    -------
    Bundle
        The registered bundle with exactly this content.

    Raises
    ------
    BundleError
        If the content matches no registered bundle; the message names the files that differ
        from the bundle registered at the same path, when there is one.
    """
    hashes = hash_bundle_files(bundle_dir)
    bundle = session.scalar(
        select(Bundle)
        .where(Bundle.digest == bundle_digest(hashes))
        .options(selectinload(Bundle.files))
    )
    if bundle is not None:
        return bundle
    same_path = session.scalars(
        select(Bundle)
        .where(Bundle.path == str(bundle_dir.resolve()))
        .order_by(Bundle.id.desc())
        .options(selectinload(Bundle.files))
    ).first()
    if same_path is None:
        raise BundleError(
            f"Bundle {bundle_dir} is not registered in the store; register it only if you trust "
            "where it came from, or use a registered bundle"
        )
    registered = {file.path: file.sha256 for file in same_path.files}
    changed = sorted(
        path for path in hashes.keys() & registered.keys() if hashes[path] != registered[path]
    )
    added = sorted(hashes.keys() - registered.keys())
    missing = sorted(registered.keys() - hashes.keys())
    details = "; ".join(
        f"{label}: {', '.join(paths)}"
        for label, paths in (("changed", changed), ("added", added), ("missing", missing))
        if paths
    )
    raise BundleError(
        f"Bundle {bundle_dir} differs from the bundle {same_path.name} registered there "
        f"({details}); it may have been tampered with: rebuild it, or register it again only if "
        "you trust it"
    )
