"""Build a static embedding model from the packaged MiniLM, reproducibly and offline.

The method is model2vec's (see :mod:`training.distill_vectors`), written here because
``model2vec[distill]`` pins an older transformers. The result is a sentence-transformers model
folder, a ``StaticEmbedding`` module (MiniLM's tokenizer, one 256-d vector per token) followed by
``Normalize``, that loads with ``SentenceTransformer(path, local_files_only=True)``. It encodes
with a token lookup and a mean: no transformer, no 256-token limit.

A build is deterministic (fixed thread counts, deterministic torch, the exact PCA solver): the
same source files, parameters and library versions give byte-identical files, all recorded in
``metadata.json`` (see :mod:`training.distill_metadata`). Run it as::

    python -m training.distill --out models/embedders/minilm-static-256
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from pipeline.embed_spec import (
    MINILM_EMBEDDING_MODEL,
    MINILM_MODEL_PACKAGE,
    STATIC_EMBEDDER_DIR,
    resolve_model_path,
)
from pipeline.errors import EmbedderError, NearMissError
from training.distill_metadata import (
    METADATA_FILE,
    StaticEmbedderMetadata,
    hash_tree,
    library_versions,
    read_static_metadata,
    sha256_file,
    write_static_metadata,
)
from training.distill_vectors import (
    UNUSED_TOKEN_PATTERN,
    embed_tokens,
    reduce_dimensions,
    sif_weights,
    special_token_ids,
    tokens_to_embed,
)

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = [
    "DEFAULT_STATIC_EMBEDDER",
    "METADATA_FILE",
    "WEIGHTS_FILE",
    "StaticEmbedderMetadata",
    "build_static_embedder",
    "main",
    "read_static_metadata",
]

logger = logging.getLogger(__name__)

#: Where the default static embedder is built, relative to the project root (the default
#: embedding model resolves there).
DEFAULT_STATIC_EMBEDDER = STATIC_EMBEDDER_DIR
#: The weights inside the model folder (``StaticEmbedding`` is its first module, at the root).
WEIGHTS_FILE = "model.safetensors"


def build_static_embedder(
    out_dir: Path,
    dims: int = 256,
    *,
    source: str = MINILM_EMBEDDING_MODEL,
    sif_coefficient: float = 1e-4,
    vocabulary_limit: int | None = None,
    batch_size: int = 1024,
    threads: int = 2,
    random_state: int = 0,
) -> Path:
    """Distil a static sentence-transformers model from ``source`` into ``out_dir``.

    Parameters
    ----------
    out_dir : Path
        The model folder to create; an earlier build there is replaced once the new one is
        complete.
    dims : int, default=256
        Vector length after PCA.
    source : str, default="all-MiniLM-L6-v2"
        The packaged default or a local sentence-transformers folder with a ``tokenizer.json``.
    sif_coefficient : float, default=1e-4
        The SIF constant of the frequency weighting.
    vocabulary_limit : int or None, default=None
        Distil only the first tokens of the vocabulary, the others being zero (tiny test models).
    batch_size : int, default=1024
        Tokens per forward pass.
    threads : int, default=2
        Torch threads for the forward passes: part of the recipe, as the thread count may
        change the order of floating-point sums. The PCA runs on one BLAS thread (faster here
        than two, and one less thing to record).
    random_state : int, default=0
        PCA seed.

    Returns
    -------
    Path
        ``out_dir``.

    Raises
    ------
    EmbedderError
        If the source cannot be loaded, or ``out_dir`` holds something other than an earlier build.
    """
    _check_replaceable(out_dir)
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
        os.environ.setdefault(name, "1")
    started = time.perf_counter()
    source_dir = resolve_model_path(source)
    with _deterministic(threads):
        tokenizer, model = _load_source(source_dir)
        ids = tokens_to_embed(tokenizer, limit=vocabulary_limit)
        prefix, suffix = special_token_ids(tokenizer)
        logger.info("Embedding %d tokens of %s with %d threads", ids.size, source, threads)
        vectors = embed_tokens(model, ids, prefix, suffix, batch_size=batch_size)
        logger.info("Forward passes done at %.1f s", time.perf_counter() - started)
        reduced = reduce_dimensions(vectors, dims, random_state)
        logger.info("PCA done at %.1f s", time.perf_counter() - started)
        reduced *= sif_weights(ids.size, sif_coefficient)[:, None]
    weights = np.zeros((tokenizer.get_vocab_size(with_added_tokens=True), dims), np.float32)
    weights[ids] = reduced.astype(np.float32)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        _save_model(staging, tokenizer, weights)
        record = StaticEmbedderMetadata(
            source_model=source,
            source_files=hash_tree(source_dir),
            params={
                "dims": dims,
                "sif_coefficient": sif_coefficient,
                "vocabulary_limit": vocabulary_limit,
                "batch_size": batch_size,
                "threads": threads,
                "blas_threads": 1,
                "random_state": random_state,
                "token_remove_pattern": UNUSED_TOKEN_PATTERN,
                "pca_solver": "full",
                "dtype": "float32",
            },
            versions=library_versions(),
            vocabulary_size=int(weights.shape[0]),
            embedded_tokens=int(ids.size),
            dims=dims,
            weights_sha256=sha256_file(staging / WEIGHTS_FILE),
            files=hash_tree(staging),
        )
        write_static_metadata(staging, record)
        _make_readable(staging)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    logger.info(
        "Built static embedder %s (%d x %d, weights %s) in %.1f s",
        *(out_dir, weights.shape[0], dims, record.weights_sha256[:12]),
        time.perf_counter() - started,
    )
    return out_dir


def _check_replaceable(out_dir: Path) -> None:
    """Refuse to replace a folder that is not an earlier build (a typo must not delete data)."""
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / METADATA_FILE).is_file():
        raise EmbedderError(
            f"{out_dir} exists and is not a static embedder built by nearmiss (it has no "
            f"{METADATA_FILE}); choose an empty or new --out folder"
        )


@contextmanager
def _deterministic(threads: int) -> Iterator[None]:
    """Fix torch's thread count and deterministic mode, and BLAS to one thread; restore after."""
    import torch
    from threadpoolctl import threadpool_limits

    old_threads = torch.get_num_threads()
    old_mode = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        # Two OpenBLAS threads made the SVD 6x slower than one on the shared 2-core machine.
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_mode)


def _load_source(source_dir: Path) -> tuple[Tokenizer, Any]:
    """Load the source's fast tokenizer and transformer from local files only."""
    from tokenizers import Tokenizer
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    folder = source_dir / _transformer_path(source_dir)
    try:
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        model = AutoModel.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError, RuntimeError) as exc:
        raise EmbedderError(
            f"Could not load the source model at {folder} ({exc}); distil from a "
            "sentence-transformers folder with a tokenizer.json, or reinstall "
            f"{MINILM_MODEL_PACKAGE}"
        ) from exc
    # MiniLM's tokenizer.json pads and truncates to 128 tokens; a static model needs neither.
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer, model.eval()


def _transformer_path(source_dir: Path) -> str:
    """Relative folder of the source's Transformer module (``""`` when it is the root)."""
    try:
        modules = json.loads((source_dir / "modules.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    for module in modules if isinstance(modules, list) else []:
        if isinstance(module, dict) and str(module.get("type", "")).endswith("Transformer"):
            return str(module.get("path", ""))
    return ""


def _save_model(folder: Path, tokenizer: Tokenizer, weights: NDArray[np.float32]) -> None:
    """Save ``StaticEmbedding`` + ``Normalize`` as a sentence-transformers folder."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding

    static = StaticEmbedding(tokenizer, embedding_weights=torch.from_numpy(weights))
    model = SentenceTransformer(modules=[static, Normalize()], device="cpu")
    model.save(str(folder), create_model_card=False)


def _make_readable(folder: Path) -> None:
    """Give the staged folder (``mkdtemp`` makes it private) the modes of ordinary files."""
    umask = os.umask(0)
    os.umask(umask)
    for path in [folder, *folder.rglob("*")]:
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the build from the command line.

    Parameters
    ----------
    argv : sequence of str or None, default=None
        Arguments; ``None`` reads ``sys.argv``.

    Returns
    -------
    int
        The exit code: 0 on success, 1 with a one-line reason on failure.
    """
    parser = argparse.ArgumentParser(
        prog="python -m training.distill",
        description="Distil a static embedding model from the packaged MiniLM (offline).",
    )
    parser.add_argument(
        "--out", type=Path, help=f"model folder (default: <project root>/{DEFAULT_STATIC_EMBEDDER})"
    )
    parser.add_argument("--dims", type=int, default=256, help="dimensions after PCA")
    parser.add_argument("--source", default=MINILM_EMBEDDING_MODEL, help="model to distil")
    parser.add_argument("--sif-coefficient", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, default=2, help="threads (part of the recipe)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        if args.out is None:
            from pipeline.config import get_settings

            args.out = get_settings().project_root / DEFAULT_STATIC_EMBEDDER
        build_static_embedder(
            args.out,
            args.dims,
            source=args.source,
            sif_coefficient=args.sif_coefficient,
            threads=args.threads,
        )
    except (NearMissError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
