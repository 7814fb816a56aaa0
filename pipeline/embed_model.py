"""The model side of embedding: a small encoder protocol, its adapters, and the loader.

This module and :mod:`pipeline.embed_static` are the only nearmiss modules that load a model's
files, and they import their libraries lazily inside :func:`load_encoder`, so that a run whose
vectors are all cached never pays for them. Models load from local files only: nothing is ever
downloaded. A static model (a ``StaticEmbedding`` module, optionally followed by ``Normalize``,
such as the default ``minilm-static-256``) is read with ``tokenizers``, ``safetensors`` and numpy
(:class:`~pipeline.embed_static.StaticEncoder`: no torch, the same vectors); any other model, such
as MiniLM, whose tokenizer is a ``transformers`` fast tokenizer and which truncates at
``max_seq_length`` tokens, loads through sentence-transformers (torch).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import NDArray

from pipeline.embed_static import StaticEncoder, is_static_folder
from pipeline.errors import EmbedderError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["SentenceTransformerEncoder", "StaticEncoder", "TextEncoder", "load_encoder"]

logger = logging.getLogger(__name__)


class TextEncoder(Protocol):
    """What :class:`~pipeline.embed.Embedder` needs from a model (tests supply a fake)."""

    @property
    def dim(self) -> int:
        """Length of the vectors."""
        ...

    @property
    def max_seq_length(self) -> int | None:
        """Most tokens the model reads, special tokens included (``None``: no limit)."""
        ...

    @property
    def special_tokens(self) -> int:
        """Special tokens the model adds to a single text (``[CLS]`` and ``[SEP]``: 2)."""
        ...

    def token_offsets(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        """Return the character span of each token of each text, without special tokens."""
        ...

    def encode(
        self, texts: Sequence[str], batch_size: int, normalize_embeddings: bool
    ) -> NDArray[np.float32]:
        """Embed texts that each fit in ``max_seq_length`` tokens: an ``(n, dim)`` array."""
        ...


class SentenceTransformerEncoder:
    """:class:`TextEncoder` over a loaded ``SentenceTransformer`` with a fast tokenizer.

    The tokenizer is either a ``transformers`` fast tokenizer (a transformer model) or a plain
    ``tokenizers.Tokenizer``, which a ``StaticEmbedding`` module holds and calls without
    special tokens.

    Parameters
    ----------
    model : SentenceTransformer
        The loaded model.
    """

    def __init__(self, model: SentenceTransformer) -> None:
        self.model = model

    @property
    def dim(self) -> int:
        """Length of the vectors."""
        dim = self.model.get_embedding_dimension()
        if dim is None:
            raise EmbedderError(
                "The embedding model does not state its output dimension; use a "
                "sentence-transformers model folder with a Pooling module"
            )
        return int(dim)

    @property
    def max_seq_length(self) -> int | None:
        """Most tokens the model reads, special tokens included; ``None`` for a static model."""
        limit = self.model.max_seq_length
        if limit is None:
            limit = getattr(self.model.tokenizer, "model_max_length", None)
        if limit is None or (isinstance(limit, float) and math.isinf(limit)):
            # StaticEmbedding states math.inf: it averages every token its tokenizer gives.
            truncation = getattr(self.model.tokenizer, "truncation", None)
            return int(truncation["max_length"]) if truncation else None
        return int(limit)

    @property
    def special_tokens(self) -> int:
        """Special tokens the model adds to a single text (none for a static model)."""
        tokenizer = self.model.tokenizer
        if _is_plain_tokenizer(tokenizer):
            return 0  # StaticEmbedding tokenizes with add_special_tokens=False
        return int(tokenizer.num_special_tokens_to_add(pair=False))

    def token_offsets(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        """Return the character span of each token of each text, without special tokens.

        Parameters
        ----------
        texts : sequence of str
            Texts of any length (nothing is truncated here).

        Returns
        -------
        list of list of (int, int)
            ``(start, end)`` character offsets per token, per text.

        Raises
        ------
        EmbedderError
            If the model has a slow (pure Python) tokenizer, which gives no offsets.
        """
        tokenizer = self.model.tokenizer
        if _is_plain_tokenizer(tokenizer):
            encodings = tokenizer.encode_batch(list(texts), add_special_tokens=False)
            return [[(int(a), int(b)) for a, b in encoding.offsets] for encoding in encodings]
        if not getattr(tokenizer, "is_fast", False):
            raise EmbedderError(
                "The embedding model's tokenizer gives no character offsets, which long texts "
                "need to be split into windows; use a model folder with a tokenizer.json"
            )
        encoded = tokenizer(
            list(texts),
            add_special_tokens=False,
            return_offsets_mapping=True,
            return_attention_mask=False,
            return_token_type_ids=False,
            verbose=False,  # long texts are expected here: they are windowed afterwards
        )
        return [[(int(a), int(b)) for a, b in spans] for spans in encoded["offset_mapping"]]

    def encode(
        self, texts: Sequence[str], batch_size: int, normalize_embeddings: bool
    ) -> NDArray[np.float32]:
        """Embed texts with ``SentenceTransformer.encode``.

        Parameters
        ----------
        texts : sequence of str
            Texts that fit in ``max_seq_length`` tokens.
        batch_size : int
            Texts per forward pass.
        normalize_embeddings : bool
            Whether to return unit vectors.

        Returns
        -------
        ndarray of shape (n, dim)
            float32 vectors.
        """
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=normalize_embeddings,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return np.asarray(vectors, dtype=np.float32)


def _is_plain_tokenizer(tokenizer: object) -> bool:
    """Whether a model's tokenizer is a bare ``tokenizers.Tokenizer`` (a static model's)."""
    from tokenizers import Tokenizer

    return isinstance(tokenizer, Tokenizer)


@lru_cache(maxsize=2)
def load_encoder(path: Path, device: str | None = None) -> TextEncoder:
    """Load an embedding model from a local folder, once per process.

    A static model (see :func:`~pipeline.embed_static.is_static_folder`) is read with numpy in a
    fraction of a second, without torch. Any other model loads through sentence-transformers,
    which imports torch (several seconds, on the first call only); the hub is switched off
    (``HF_HUB_OFFLINE``, ``local_files_only``): nothing is downloaded, and remote code is never
    trusted.

    Parameters
    ----------
    path : Path
        A local model directory (see :func:`~pipeline.embed_spec.resolve_model_path`).
    device : str or None, default=None
        Torch device (``"cpu"``, ``"cuda"``); ``None`` lets sentence-transformers choose. A static
        model always runs on the CPU.

    Returns
    -------
    TextEncoder
        A :class:`~pipeline.embed_static.StaticEncoder` or a :class:`SentenceTransformerEncoder`.

    Raises
    ------
    EmbedderError
        If the folder does not hold a loadable model, or sentence-transformers is needed but
        missing.
    """
    if is_static_folder(path):
        return StaticEncoder.load(path)
    return _load_sentence_transformer(path, device)


def _load_sentence_transformer(path: Path, device: str | None) -> SentenceTransformerEncoder:
    """Load a model with sentence-transformers (imports torch)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    started = time.perf_counter()
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging
    except ImportError as exc:
        raise EmbedderError(
            f"Embedding needs sentence-transformers, which cannot be imported ({exc}); "
            "reinstall nearmiss with its dependencies (make install)"
        ) from exc
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        model = SentenceTransformer(
            str(path), device=device, local_files_only=True, trust_remote_code=False
        )
    except (OSError, ValueError, RuntimeError) as exc:
        raise EmbedderError(
            f"Could not load the embedding model at {path} ({exc}); set "
            "NEARMISS_EMBEDDING_MODEL to a sentence-transformers model folder"
        ) from exc
    finally:
        if bars:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]
    model.eval()
    logger.info(
        "Loaded embedding model %s on %s in %.2f s",
        path,
        model.device,
        time.perf_counter() - started,
    )
    return SentenceTransformerEncoder(model)
