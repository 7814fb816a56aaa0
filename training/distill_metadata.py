"""The ``metadata.json`` of a static embedder: how it was made, from what, and its hashes.

The record holds no timestamp or duration, so rebuilding with the same inputs writes the same
bytes, and the folder's content hash (the embedding cache's model identity) stays the same.
"""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from pipeline.embed_spec import MINILM_MODEL_PACKAGE
from pipeline.errors import EmbedderError

__all__ = [
    "CARD_FILE",
    "METADATA_FILE",
    "METHOD",
    "StaticEmbedderMetadata",
    "hash_tree",
    "library_versions",
    "read_static_metadata",
    "sha256_file",
    "write_static_metadata",
]

METADATA_FILE = "metadata.json"
CARD_FILE = "CARD.md"
METHOD = (
    "model2vec-style distillation: each vocabulary token (except [unused*]) embedded alone as "
    "[CLS] token [SEP], hidden states mean-pooled; PCA (exact solver) to `dims`; SIF weights "
    "a/(a+p) with p from Zipf's law on the token's vocabulary rank; unembedded tokens get zero "
    "vectors. Inference: mean of token vectors, L2-normalised; no truncation."
)
_VERSIONED = (
    "numpy",
    "scipy",
    "scikit-learn",
    "threadpoolctl",
    "torch",
    "transformers",
    "tokenizers",
    "safetensors",
    "sentence-transformers",
    MINILM_MODEL_PACKAGE,
)


class StaticEmbedderMetadata(BaseModel):
    """What ``metadata.json`` of a static embedder records: enough to rebuild and identify it.

    Attributes
    ----------
    format : int
        Version of this record.
    method : str
        The distillation method in words.
    source_model : str
        The source as configured (``"all-MiniLM-L6-v2"`` or a path).
    source_files : dict of str to str
        SHA-256 of every file of the source model folder, by relative path.
    params : dict
        Build parameters (``dims``, ``sif_coefficient``, ``threads``...).
    versions : dict of str to str
        Python and library versions.
    vocabulary_size : int
        Rows of the matrix (the tokenizer's vocabulary).
    embedded_tokens : int
        Rows that were distilled; the others are zero vectors.
    dims : int
        Columns of the matrix.
    weights_sha256 : str
        SHA-256 of the weights file.
    files : dict of str to str
        SHA-256 of every model file (this record and the card aside).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: int = 1
    method: str = METHOD
    source_model: str
    source_files: dict[str, str]
    params: dict[str, Any]
    versions: dict[str, str]
    vocabulary_size: int
    embedded_tokens: int
    dims: int
    weights_sha256: str
    files: dict[str, str]


def write_static_metadata(folder: Path, record: StaticEmbedderMetadata) -> None:
    """Write ``metadata.json`` (sorted keys) and a short ``CARD.md`` into a model folder.

    Parameters
    ----------
    folder : Path
        The model folder.
    record : StaticEmbedderMetadata
        The record.
    """
    text = json.dumps(record.model_dump(), indent=2, sort_keys=True) + "\n"
    (folder / METADATA_FILE).write_text(text, encoding="utf-8")
    card = (
        f"# Static embedder distilled from {record.source_model}\n\n"
        f"{record.method}\n\n"
        f"- {record.vocabulary_size} tokens x {record.dims} dimensions "
        f"({record.embedded_tokens} distilled), float32\n"
        f"- weights sha256 {record.weights_sha256}\n"
        "- Built by `python -m training.distill`; rebuild rather than copy. Load with "
        "`SentenceTransformer(path, local_files_only=True)`.\n"
        "- Made from the vocabulary alone: it holds no narrative text.\n"
    )
    (folder / CARD_FILE).write_text(card, encoding="utf-8")


def read_static_metadata(model_dir: Path) -> StaticEmbedderMetadata:
    """Read and validate the ``metadata.json`` of a built static embedder.

    Parameters
    ----------
    model_dir : Path
        A folder made by :func:`training.distill.build_static_embedder`.

    Returns
    -------
    StaticEmbedderMetadata
        The record.

    Raises
    ------
    EmbedderError
        If the file is missing or invalid.
    """
    path = model_dir / METADATA_FILE
    try:
        return StaticEmbedderMetadata.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EmbedderError(
            f"{path} is missing or invalid ({exc}); rebuild the static embedder with "
            f"python -m training.distill --out {model_dir}"
        ) from exc


def hash_tree(folder: Path) -> dict[str, str]:
    """Return the SHA-256 of each file under ``folder``, by relative path.

    Hidden files, ``metadata.json`` and ``CARD.md`` are left out.

    Parameters
    ----------
    folder : Path
        A model folder.

    Returns
    -------
    dict of str to str
        Hex digests, sorted by path.
    """
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.name not in {METADATA_FILE, CARD_FILE}
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    return {p.relative_to(folder).as_posix(): sha256_file(p) for p in files}


def sha256_file(path: Path) -> str:
    """Return the SHA-256 hex digest of one file.

    Parameters
    ----------
    path : Path
        The file.

    Returns
    -------
    str
        The digest.
    """
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def library_versions() -> dict[str, str]:
    """Return the Python and library versions that determine a build's bytes.

    Returns
    -------
    dict of str to str
        Version by distribution name (``"none"`` when not installed).
    """
    versions = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "none"
    return versions
