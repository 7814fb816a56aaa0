"""Bundle files: names, hashes, verification and reproducible writing.

A bundle directory holds ``metadata.json`` plus the files it lists with their SHA-256:
``heads.npz`` (arrays, read with ``allow_pickle=False``), ``heads.json``, ``taxonomy.yaml`` and
``CARD.md``. :func:`write_bundle` builds the directory beside its destination and moves it into
place, so a reader never sees half a bundle; ``heads.npz`` members carry a fixed timestamp, so
equal arrays give equal bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
import uuid
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pipeline.bundle_metadata import BundleMetadata
from pipeline.errors import BundleError

__all__ = [
    "CARD_FILE",
    "HEADS_ARRAYS",
    "HEADS_PARAMS",
    "METADATA_FILE",
    "REQUIRED_FILES",
    "TAXONOMY_FILE",
    "file_sha256",
    "verify_files",
    "write_bundle",
]

logger = logging.getLogger(__name__)

METADATA_FILE = "metadata.json"
HEADS_ARRAYS = "heads.npz"
HEADS_PARAMS = "heads.json"
TAXONOMY_FILE = "taxonomy.yaml"
CARD_FILE = "CARD.md"
#: Every file a bundle holds besides its metadata.
REQUIRED_FILES = (HEADS_ARRAYS, HEADS_PARAMS, TAXONOMY_FILE, CARD_FILE)
#: A fixed timestamp for every member of heads.npz, so equal arrays give equal bytes.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def file_sha256(path: Path) -> str:
    """Return the SHA-256 hex digest of a file's bytes."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def write_bundle(
    bundle_dir: Path,
    heads_arrays: Mapping[str, NDArray[Any]],
    heads_json: Mapping[str, Any],
    metadata: BundleMetadata,
    taxonomy_path: Path,
    card: str,
    *,
    force: bool = False,
) -> BundleMetadata:
    """Write a bundle: build it in a temporary sibling directory, then move it into place.

    Parameters
    ----------
    bundle_dir : Path
        Where the bundle goes.
    heads_arrays : mapping of str to ndarray
        Every head's arrays (``heads.npz``), written with fixed member timestamps.
    heads_json : mapping
        Every head's other parameters (``heads.json``, key-sorted).
    metadata : BundleMetadata
        The metadata; its ``files`` are filled in here.
    taxonomy_path : Path
        The taxonomy file trained on (copied byte for byte).
    card : str
        The model card (Markdown).
    force : bool
        Replace an existing non-empty ``bundle_dir``.

    Returns
    -------
    BundleMetadata
        The metadata as written, with file hashes.

    Raises
    ------
    BundleError
        If ``bundle_dir`` exists, is not empty and ``force`` is false.
    """
    if bundle_dir.exists() and any(bundle_dir.iterdir()) and not force:
        raise BundleError(
            f"{bundle_dir} exists and is not empty; choose a new --out or pass --force to "
            "replace it"
        )
    bundle_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = bundle_dir.parent / f".{bundle_dir.name}-{uuid.uuid4().hex[:12]}.partial"
    staging.mkdir()  # not mkdtemp: the bundle gets the usual permissions (umask)
    try:
        _write_npz(staging / HEADS_ARRAYS, heads_arrays)
        text = json.dumps(heads_json, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        (staging / HEADS_PARAMS).write_text(text + "\n", encoding="utf-8")
        shutil.copyfile(taxonomy_path, staging / TAXONOMY_FILE)
        (staging / CARD_FILE).write_text(card, encoding="utf-8")
        files = {name: file_sha256(staging / name) for name in REQUIRED_FILES}
        metadata = metadata.model_copy(update={"files": files})
        (staging / METADATA_FILE).write_text(metadata.to_json(), encoding="utf-8")
        if bundle_dir.exists():
            shutil.rmtree(bundle_dir)
        try:
            staging.rename(bundle_dir)
        except OSError as error:  # another process wrote it meanwhile
            raise BundleError(f"Cannot move the new bundle into {bundle_dir}: {error}") from None
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    logger.info("Wrote bundle %s to %s", metadata.name, bundle_dir)
    return metadata


def _write_npz(path: Path, arrays: Mapping[str, NDArray[Any]]) -> None:
    """Write arrays as an ``.npz`` that ``np.load(allow_pickle=False)`` reads, byte-reproducibly."""
    with zipfile.ZipFile(path, "w") as archive:
        for key in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, buffer.getvalue())


def verify_files(bundle_dir: Path, metadata: BundleMetadata) -> None:
    """Check that every bundle file exists and hashes to what the metadata records.

    Raises
    ------
    BundleError
        Naming the first missing or altered file.
    """
    for name in REQUIRED_FILES:
        if name not in metadata.files:
            raise BundleError(f"Bundle {bundle_dir}: metadata lists no {name}; rebuild it")
    for name, expected in sorted(metadata.files.items()):
        path = bundle_dir / name
        if not path.is_file():
            raise BundleError(
                f"Bundle {bundle_dir} is missing {name}; rebuild it with nearmiss train"
            )
        if file_sha256(path) != expected:
            raise BundleError(
                f"Bundle {bundle_dir}: {name} does not match its recorded SHA-256 (altered or "
                "truncated); rebuild the bundle with nearmiss train or restore the file"
            )
