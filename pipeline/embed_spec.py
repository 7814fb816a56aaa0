"""Which embedding model is in force and the identity its vectors carry.

An :class:`EmbedderSpec` is read from a model folder's small files only (see
:mod:`pipeline.embed_folder`): no torch, no sentence-transformers, so a run whose vectors are all
cached never imports them. The identity holds a content hash of the model's files and says how
long texts are windowed, so a changed model never reuses cached vectors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Literal

from pipeline.embed_folder import (
    DEFAULT_EMBEDDING_MODEL,
    MINILM_EMBEDDING_MODEL,
    MINILM_MODEL_PACKAGE,
    STATIC_EMBEDDER_DIR,
    STATIC_EMBEDDING_MODEL,
    model_revision,
    read_dim,
    read_window_tokens,
    resolve_model_path,
)

# The folder names are re-exported: callers find the model names beside the spec.
__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "IDENTITY_VERSION",
    "MINILM_EMBEDDING_MODEL",
    "MINILM_MODEL_PACKAGE",
    "STATIC_EMBEDDER_DIR",
    "STATIC_EMBEDDING_MODEL",
    "EmbedderSpec",
    "model_revision",
    "resolve_model_path",
]

#: Bump when windowing or pooling changes meaning, so that no cached vector is reused.
IDENTITY_VERSION = 1


@dataclass(frozen=True, slots=True)
class EmbedderSpec:
    """What determines an embedding: the model's files and how long texts are pooled.

    Parameters
    ----------
    model : str
        The model as configured (``"minilm-static-256"``, ``"all-MiniLM-L6-v2"`` or a path); for
        display and metadata.
    path : Path
        The local model directory.
    revision : str
        Content hash of the model's files (see :func:`model_revision`).
    window_tokens : int or None, default=256
        Tokens per window, special tokens included (the model's ``max_seq_length``); ``None``
        for a model that reads texts of any length (a static embedder), which embeds each text
        whole, as one window.
    overlap_tokens : int, default=0
        Tokens that consecutive windows of a long text share (0 when ``window_tokens`` is None).
    normalize_embeddings : bool, default=True
        Whether vectors have unit length (window vectors, and again after pooling).
    pooling : {"mean"}, default="mean"
        How the window vectors of a long text become one vector.
    dim : int or None, default=None
        Vector length, when the model's configuration tells it without loading the model.
    """

    model: str
    path: Path
    revision: str
    window_tokens: int | None = 256
    overlap_tokens: int = 0
    normalize_embeddings: bool = True
    pooling: Literal["mean"] = "mean"
    dim: int | None = None

    def __post_init__(self) -> None:
        if self.window_tokens is None:
            if self.overlap_tokens != 0:
                raise ValueError(
                    f"overlap_tokens must be 0 for a model without a window, got "
                    f"{self.overlap_tokens}"
                )
            return
        if self.window_tokens < 8:
            raise ValueError(f"window_tokens must be at least 8, got {self.window_tokens}")
        if not 0 <= self.overlap_tokens <= self.window_tokens // 4:
            most = self.window_tokens // 4
            raise ValueError(f"overlap_tokens must be in [0, {most}], got {self.overlap_tokens}")

    @classmethod
    def from_model(
        cls,
        model: str = DEFAULT_EMBEDDING_MODEL,
        overlap_tokens: int = 0,
        *,
        project_root: Path | None = None,
    ) -> EmbedderSpec:
        """Resolve a configured model to a spec, reading only its small configuration files.

        Parameters
        ----------
        model : str, default="minilm-static-256"
            ``"minilm-static-256"``, ``"all-MiniLM-L6-v2"`` or a local model directory (see
            :func:`resolve_model_path`).
        overlap_tokens : int, default=0
            Tokens that consecutive windows of a long text share; ignored for a model that
            reads texts of any length, which has no windows.
        project_root : Path or None, default=None
            Where ``models/`` is looked up for the static embedder; ``None`` takes the settings'.

        Returns
        -------
        EmbedderSpec
            The spec, with the content hash of the model's files as its revision.

        Raises
        ------
        EmbedderError
            If the model cannot be found (see :func:`resolve_model_path`).
        """
        path = resolve_model_path(model, project_root)
        window = read_window_tokens(path)
        return cls(
            model=model,
            path=path,
            revision=model_revision(path),
            window_tokens=window,
            overlap_tokens=overlap_tokens if window is not None else 0,
            dim=read_dim(path),
        )

    @property
    def is_unbounded(self) -> bool:
        """Whether the model reads texts of any length, so that each text is one window."""
        return self.window_tokens is None

    @property
    def identity(self) -> str:
        """Everything that changes a vector, as one string; cache keys are derived from it."""
        window = "unbounded" if self.window_tokens is None else self.window_tokens
        return (
            f"nearmiss-embed/{IDENTITY_VERSION};rev={self.revision};window={window};"
            f"overlap={self.overlap_tokens};pool={self.pooling};"
            f"norm={int(self.normalize_embeddings)};st={_sentence_transformers_major()}"
        )

    def keys(self, texts: Sequence[str]) -> list[bytes]:
        """Return the cache key of each text: the SHA-256 of the identity, a NUL byte and the text.

        Parameters
        ----------
        texts : sequence of str
            Texts (redacted).

        Returns
        -------
        list of bytes
            32-byte digests, one per text.
        """
        prefix = hashlib.sha256(self.identity.encode() + b"\0")
        keys = []
        for text in texts:
            digest = prefix.copy()
            digest.update(text.encode("utf-8", "surrogatepass"))
            keys.append(digest.digest())
        return keys


@lru_cache(maxsize=1)
def _sentence_transformers_major() -> str:
    """Major version of sentence-transformers, read from package metadata (no import)."""
    try:
        return metadata.version("sentence-transformers").split(".")[0]
    except metadata.PackageNotFoundError:
        return "none"
