"""A static embedding model read with numpy alone: a token look-up and a mean, without torch.

A sentence-transformers folder whose modules are a ``StaticEmbedding`` (a ``tokenizers``
tokenizer and one vector per token, ``embedding.weight`` in ``model.safetensors``), optionally
followed by ``Normalize``, computes a text's vector as the mean of its tokens' vectors. Loading it
through ``SentenceTransformer`` imports torch, transformers and sentence-transformers (seconds);
:class:`StaticEncoder` reads the same two files with ``tokenizers``, ``safetensors`` and numpy and
gives the same vectors as sentence-transformers 6.2: texts are tokenized without special tokens
and without padding (any truncation the ``tokenizer.json`` states is kept), a text without tokens
gets a zero vector, and ``Normalize`` divides by ``max(norm, 1e-12)``. Token vectors are summed
one after another and norms in torch's order, so on x86-64 the vectors are torch's bit for bit
(elsewhere, to float32 rounding).
:func:`is_static_folder` says whether a folder is exactly such a model, with nothing else that
changes its vectors (a prompt, a truncated dimension, another module).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from pipeline.errors import EmbedderError

if TYPE_CHECKING:
    from tokenizers import Encoding, Tokenizer

__all__ = ["StaticEncoder", "is_static_folder"]

logger = logging.getLogger(__name__)

#: The tensor that ``StaticEmbedding`` saves its token vectors under.
WEIGHTS_KEY = "embedding.weight"
#: Token vectors gathered at once: bounds memory (``TOKEN_CHUNK * dim * 4`` bytes) for long texts.
TOKEN_CHUNK = 32_768
#: What ``torch.nn.functional.normalize`` divides by at least (its ``eps``).
_NORM_EPS = 1e-12
#: Below this many texts with tokens left, each is finished alone (cheaper than by position).
_FEW_TEXTS = 4
#: Lanes of torch's vectorised float32 norm on CPU (eight floats to a vector).
_LANES = 8
_STATIC_SUFFIX = ".StaticEmbedding"
_NORMALIZE_SUFFIX = ".Normalize"
_SENTENCE_EMBEDDING = "sentence_embedding"


def is_static_folder(path: Path) -> bool:
    """Whether a model folder is a static model that :class:`StaticEncoder` reads exactly.

    That is: ``modules.json`` lists sentence-transformers' ``StaticEmbedding`` alone or followed
    by its default ``Normalize``; the module folder holds ``tokenizer.json`` and a
    ``model.safetensors`` whose ``embedding.weight`` is a float32 matrix; and
    ``config_sentence_transformers.json`` sets no default prompt and no ``truncate_dim``. Only
    small files and the safetensors header are read.

    Parameters
    ----------
    path : Path
        A model directory.

    Returns
    -------
    bool
        ``False`` for anything else (a transformer such as MiniLM, a model2vec layout, a
        prompt), which sentence-transformers loads instead.
    """
    modules = _read_json(path / "modules.json")
    if not isinstance(modules, list) or not 1 <= len(modules) <= 2:
        return False
    if not all(isinstance(module, dict) for module in modules):
        return False
    if not _is_module(modules[0], _STATIC_SUFFIX):
        return False
    if len(modules) == 2 and not _is_default_normalize(path, modules[1]):
        return False
    folder = path / str(modules[0].get("path", ""))
    if not (folder / "tokenizer.json").is_file() or _weights_header(folder) is None:
        return False
    config = _read_json(path / "config_sentence_transformers.json")
    if not isinstance(config, dict):
        return True
    prompts = config.get("prompts") or {}
    default = config.get("default_prompt_name")
    if default is not None and (not isinstance(prompts, dict) or prompts.get(default)):
        return False
    return config.get("truncate_dim") is None


class StaticEncoder:
    """:class:`~pipeline.embed_model.TextEncoder` over a static model, with numpy (no torch).

    Build it with :meth:`load`. Each text's vector is the mean of its tokens' rows of the weight
    matrix (zero for a text without tokens), L2-normalised when the folder has a ``Normalize``
    module. ``tokenizers`` tokenizes a batch on several threads (``RAYON_NUM_THREADS`` and
    ``TOKENIZERS_PARALLELISM`` apply, as they do under sentence-transformers).

    Parameters
    ----------
    tokenizer : tokenizers.Tokenizer
        The model's tokenizer (padding off).
    weights : ndarray of shape (vocabulary, dim)
        float32 token vectors.
    normalize : bool
        Whether the model ends in ``Normalize``.
    """

    def __init__(self, tokenizer: Tokenizer, weights: NDArray[np.float32], normalize: bool) -> None:
        self.tokenizer = tokenizer
        self.weights = weights
        self.normalize = normalize

    @classmethod
    def load(cls, path: Path) -> StaticEncoder:
        """Read a static model folder (see :func:`is_static_folder`).

        Parameters
        ----------
        path : Path
            The model directory.

        Returns
        -------
        StaticEncoder
            The loaded model.

        Raises
        ------
        EmbedderError
            If the tokenizer or the weights cannot be read, or the tokenizer has more tokens
            than the weights have rows.
        """
        from safetensors import SafetensorError
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        started = time.perf_counter()
        if not is_static_folder(path):
            raise EmbedderError(
                f"The embedding model at {path} is not a static model (a StaticEmbedding module "
                "with float32 embedding.weight, optionally followed by Normalize); load it with "
                "pipeline.embed_model.load_encoder"
            )
        folder = path / str(_read_json(path / "modules.json")[0].get("path", ""))
        try:
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as exc:  # tokenizers raises a bare Exception for a malformed file
            raise EmbedderError(
                f"Could not read the tokenizer of the static embedding model at {path} ({exc}); "
                "rebuild it with `make models`, or set NEARMISS_EMBEDDING_MODEL to another model"
            ) from exc
        try:
            weights = load_file(str(folder / "model.safetensors"))[WEIGHTS_KEY]
        except (OSError, KeyError, SafetensorError) as exc:
            raise EmbedderError(
                f"Could not read the weights of the static embedding model at {path} ({exc}); "
                "rebuild it with `make models`, or set NEARMISS_EMBEDDING_MODEL to another model"
            ) from exc
        tokenizer.no_padding()  # as StaticEmbedding does: each text keeps its own tokens
        vocabulary = tokenizer.get_vocab_size(with_added_tokens=True)
        if weights.ndim != 2 or weights.shape[0] < vocabulary:
            raise EmbedderError(
                f"The static embedding model at {path} has weights of shape {weights.shape} "
                f"for a tokenizer of {vocabulary} tokens; rebuild it with `make models`"
            )
        normalize = len(_read_json(path / "modules.json")) == 2  # checked: the 2nd is Normalize
        encoder = cls(tokenizer, np.ascontiguousarray(weights, dtype=np.float32), normalize)
        logger.info(
            "Loaded static embedding model %s (%d tokens x %d, numpy) in %.2f s",
            path,
            weights.shape[0],
            weights.shape[1],
            time.perf_counter() - started,
        )
        return encoder

    @property
    def dim(self) -> int:
        """Length of the vectors."""
        return int(self.weights.shape[1])

    @property
    def max_seq_length(self) -> int | None:
        """Most tokens read: the ``tokenizer.json`` truncation, else ``None`` (texts whole)."""
        truncation = self.tokenizer.truncation
        return int(truncation["max_length"]) if truncation else None

    @property
    def special_tokens(self) -> int:
        """Special tokens added to a text: none (``StaticEmbedding`` adds none)."""
        return 0

    def token_offsets(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        """Return the character span of each token of each text.

        Parameters
        ----------
        texts : sequence of str
            Texts.

        Returns
        -------
        list of list of (int, int)
            ``(start, end)`` character offsets per token, per text.
        """
        return [[(int(a), int(b)) for a, b in e.offsets] for e in self._tokenize(texts)]

    def encode(
        self, texts: Sequence[str], batch_size: int, normalize_embeddings: bool
    ) -> NDArray[np.float32]:
        """Embed texts as the mean of their token vectors.

        Parameters
        ----------
        texts : sequence of str
            Texts of any length.
        batch_size : int
            Texts tokenized at once (memory stays flat: token vectors are summed in chunks of
            :data:`TOKEN_CHUNK`).
        normalize_embeddings : bool
            Whether to return unit vectors (as ``SentenceTransformer.encode`` does, on top of
            the model's own ``Normalize``).

        Returns
        -------
        ndarray of shape (n, dim)
            float32 vectors; a text without tokens gets a zero vector.
        """
        result = np.empty((len(texts), self.dim), dtype=np.float32)
        step = max(1, batch_size)
        for start in range(0, len(texts), step):
            vectors = self._mean(self._tokenize(texts[start : start + step]))
            if self.normalize:
                vectors = _l2_normalize(vectors)
            if normalize_embeddings:
                vectors = _l2_normalize(vectors)
            result[start : start + len(vectors)] = vectors
        return result

    def _tokenize(self, texts: Sequence[str]) -> list[Encoding]:
        """Tokenize texts as ``StaticEmbedding.preprocess`` does."""
        return list(self.tokenizer.encode_batch(list(texts), add_special_tokens=False))

    def _mean(self, encodings: Sequence[Encoding]) -> NDArray[np.float32]:
        """Return the mean token vector of each encoding, zero for one without tokens.

        Each text's token vectors are added one after another in float32, as torch's
        ``EmbeddingBag`` adds them, so the sums are torch's bit for bit (numpy's pairwise sums
        would differ in the last bits). While many texts still have tokens, their next tokens
        are added together, position by position; the few longest then finish alone.
        """
        count = len(encodings)
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=count)
        order = np.argsort(-lengths, kind="stable")
        lengths = lengths[order]
        ids = np.fromiter(
            (token for i in order for token in encodings[i].ids),
            dtype=np.int64,
            count=int(lengths.sum()),
        )
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
        longest = int(lengths[0]) if count else 0
        # active[k]: the texts (a prefix, longest first) that have a token at position k
        active = np.searchsorted(-lengths, -np.arange(longest), side="left")
        sums = np.zeros((count, self.dim), dtype=np.float32)
        position = 0
        while position < longest and active[position] > _FEW_TEXTS:
            rows = int(active[position])
            sums[:rows] += self.weights[ids[starts[:rows] + position]]
            position += 1
        for row in range(int(active[position]) if position < longest else 0):
            tail = ids[starts[row] + position : starts[row] + lengths[row]]
            sums[row] = self._add_in_order(sums[row], tail)
        means = np.zeros_like(sums)
        means[order] = sums / np.maximum(lengths, 1)[:, None].astype(np.float32)
        return means  # a text without tokens: 0 / 1, a zero vector as EmbeddingBag gives

    def _add_in_order(
        self, total: NDArray[np.float32], ids: NDArray[np.int64]
    ) -> NDArray[np.float32]:
        """Add the vectors of ``ids`` to ``total`` one by one, :data:`TOKEN_CHUNK` at a time."""
        for start in range(0, len(ids), TOKEN_CHUNK):
            vectors = self.weights[ids[start : start + TOKEN_CHUNK]]
            vectors[0] += total
            total = np.cumsum(vectors, axis=0, out=vectors)[-1].copy()
        return total


def _l2_normalize(vectors: NDArray[np.float32]) -> NDArray[np.float32]:
    """Divide each row by its L2 norm, at least ``1e-12``, as ``torch.nn.functional.normalize``."""
    denominators = np.maximum(_norms(vectors), np.float32(_NORM_EPS))[:, None]
    return (vectors / denominators).astype(np.float32, copy=False)


def _norms(vectors: NDArray[np.float32]) -> NDArray[np.float32]:
    """Return each row's L2 norm, summed in the order of torch's vectorised CPU kernel.

    Squares are added in :data:`_LANES` running float32 sums (lane ``j`` takes the elements
    ``j, j + 8, ...``), the lanes are then added in order, and any elements past the last full
    group one by one. On x86-64 this gives torch's norms bit for bit (numpy's own sum differs
    from it in the last bit of about one row in three); anywhere else it is one rounding order
    among others.
    """
    rows, dim = vectors.shape
    squares = vectors * vectors
    whole = dim - dim % _LANES
    lanes = np.zeros((rows, _LANES), dtype=np.float32)
    if whole:
        grouped = squares[:, :whole].reshape(rows, whole // _LANES, _LANES)
        lanes = np.cumsum(grouped, axis=1)[:, -1, :]
    total = np.cumsum(lanes, axis=1)[:, -1]
    for column in range(whole, dim):
        total = total + squares[:, column]
    return np.sqrt(total).astype(np.float32, copy=False)


def _is_module(module: dict[str, Any], suffix: str) -> bool:
    """Whether a ``modules.json`` entry is sentence-transformers' own class of that name."""
    kind = str(module.get("type", ""))
    return kind.startswith("sentence_transformers.") and kind.endswith(suffix)


def _is_default_normalize(path: Path, module: dict[str, Any]) -> bool:
    """Whether an entry is a ``Normalize`` of the sentence embedding (its default)."""
    if not _is_module(module, _NORMALIZE_SUFFIX):
        return False
    config = _read_json(path / str(module.get("path", "")) / "config.json")
    if not isinstance(config, dict):
        return True  # no config: the defaults
    source = config.get("module_input_name") or _SENTENCE_EMBEDDING
    target = config.get("module_output_name") or source
    return bool(source == target == _SENTENCE_EMBEDDING)


def _weights_header(folder: Path) -> dict[str, Any] | None:
    """Return the safetensors header entry of a float32 ``embedding.weight`` matrix, or ``None``."""
    try:
        with open(folder / "model.safetensors", "rb") as handle:
            size = int.from_bytes(handle.read(8), "little")
            header = json.loads(handle.read(min(size, 1 << 20)))
    except (OSError, ValueError):
        return None
    entry = header.get(WEIGHTS_KEY) if isinstance(header, dict) else None
    if not isinstance(entry, dict) or entry.get("dtype") != "F32":
        return None
    shape = entry.get("shape")
    return entry if isinstance(shape, list) and len(shape) == 2 else None


def _read_json(path: Path) -> Any:
    """Parse a JSON file; ``None`` when it is missing or malformed."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
