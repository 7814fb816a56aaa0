"""The numeric steps of static-embedding distillation, after model2vec (Tulkens and van Dongen).

A sentence-transformer is turned into one vector per vocabulary token: each token is passed
through the transformer alone, between the tokenizer's own special tokens (``[CLS] token
[SEP]``), and the hidden states of the three positions are averaged. The token vectors are
reduced with PCA and down-weighted by an estimate of how frequent each token is (SIF weighting,
with frequencies from Zipf's law on the token's rank in the vocabulary). A text's vector is then
the mean of its token vectors, which needs no transformer and has no length limit.

These functions are pure apart from the forward passes; :mod:`training.distill` wires them into a
reproducible build.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from sklearn.decomposition import PCA

if TYPE_CHECKING:
    from tokenizers import Tokenizer
    from torch.nn import Module

__all__ = [
    "UNUSED_TOKEN_PATTERN",
    "embed_tokens",
    "reduce_dimensions",
    "sif_weights",
    "special_token_ids",
    "tokens_to_embed",
]

#: Placeholder tokens of BERT vocabularies that no text ever produces; model2vec drops them too.
UNUSED_TOKEN_PATTERN = r"\[unused\d+\]"


def tokens_to_embed(
    tokenizer: Tokenizer, remove_pattern: str = UNUSED_TOKEN_PATTERN, limit: int | None = None
) -> NDArray[np.int64]:
    r"""Return the ids of the vocabulary tokens to embed, in id order.

    Parameters
    ----------
    tokenizer : tokenizers.Tokenizer
        The source model's fast tokenizer.
    remove_pattern : str, default=r"\[unused\d+\]"
        Tokens that fully match this regular expression are skipped.
    limit : int or None, default=None
        Keep only the first ``limit`` tokens (a tiny model for tests); ``None`` keeps all.

    Returns
    -------
    ndarray of shape (n_tokens,)
        Token ids, increasing. Their order is the rank that :func:`sif_weights` uses: BERT
        WordPiece vocabularies list frequent pieces first.

    Raises
    ------
    ValueError
        If no token is left to embed.
    """
    pattern = re.compile(remove_pattern)
    vocabulary = tokenizer.get_vocab(with_added_tokens=True)
    ids = np.asarray(
        sorted(i for token, i in vocabulary.items() if not pattern.fullmatch(token)),
        dtype=np.int64,
    )
    if limit is not None:
        ids = ids[:limit]
    if ids.size == 0:
        raise ValueError(
            f"No vocabulary token is left to embed (pattern {remove_pattern!r}, limit {limit}); "
            "loosen the pattern or raise the limit"
        )
    return ids


def special_token_ids(tokenizer: Tokenizer) -> tuple[list[int], list[int]]:
    """Return the ids the tokenizer puts before and after a single text (``[CLS]``, ``[SEP]``).

    Parameters
    ----------
    tokenizer : tokenizers.Tokenizer
        A fast tokenizer whose post-processor adds special tokens.

    Returns
    -------
    tuple of (list of int, list of int)
        The prefix and suffix ids.
    """
    bare = tokenizer.encode("a", add_special_tokens=False).ids
    full = tokenizer.encode("a", add_special_tokens=True).ids
    start = next(i for i in range(len(full)) if full[i : i + len(bare)] == bare)
    return full[:start], full[start + len(bare) :]


def embed_tokens(
    model: Module,
    token_ids: NDArray[np.int64],
    prefix: Sequence[int],
    suffix: Sequence[int],
    batch_size: int = 1024,
) -> NDArray[np.float32]:
    """Embed each token alone, between the special tokens, as the mean of the hidden states.

    Every input has the same length, so there is no padding and the result of one token does not
    depend on its neighbours in the batch.

    Parameters
    ----------
    model : torch.nn.Module
        A transformers encoder (``AutoModel``) in eval mode.
    token_ids : ndarray of shape (n_tokens,)
        The tokens to embed.
    prefix, suffix : sequence of int
        Special token ids around each token (see :func:`special_token_ids`).
    batch_size : int, default=1024
        Tokens per forward pass.

    Returns
    -------
    ndarray of shape (n_tokens, hidden_size)
        float32 token vectors, in the order of ``token_ids``.
    """
    import torch

    takes_types = "token_type_ids" in inspect.signature(model.forward).parameters
    head = torch.tensor(list(prefix), dtype=torch.long)
    tail = torch.tensor(list(suffix), dtype=torch.long)
    chunks: list[NDArray[np.float32]] = []
    with torch.inference_mode():
        for start in range(0, len(token_ids), batch_size):
            ids = torch.from_numpy(token_ids[start : start + batch_size]).unsqueeze(1)
            batch = torch.cat(
                [head.expand(len(ids), -1), ids, tail.expand(len(ids), -1)], dim=1
            ).contiguous()
            inputs = {"input_ids": batch, "attention_mask": torch.ones_like(batch)}
            if takes_types:
                inputs["token_type_ids"] = torch.zeros_like(batch)
            hidden = model(**inputs).last_hidden_state.float()
            chunks.append(hidden.mean(dim=1).numpy())
    return np.concatenate(chunks).astype(np.float32, copy=False)


def reduce_dimensions(
    embeddings: NDArray[np.float32], dims: int, random_state: int = 0
) -> NDArray[np.float64]:
    """Project token vectors on their first ``dims`` principal components (centred).

    Parameters
    ----------
    embeddings : ndarray of shape (n_tokens, hidden_size)
        Token vectors.
    dims : int
        Output dimensions; at most ``min(n_tokens, hidden_size)``.
    random_state : int, default=0
        Passed to PCA (the exact LAPACK solver does not use it; recorded for the record).

    Returns
    -------
    ndarray of shape (n_tokens, dims)
        float64 projections.

    Raises
    ------
    ValueError
        If ``dims`` is out of range.
    """
    most = min(embeddings.shape)
    if not 1 <= dims <= most:
        raise ValueError(
            f"dims must be in [1, {most}] for {embeddings.shape[0]} tokens of "
            f"{embeddings.shape[1]} dimensions, got {dims}; choose fewer dimensions"
        )
    pca = PCA(n_components=dims, svd_solver="full", random_state=random_state)
    return np.asarray(pca.fit_transform(embeddings.astype(np.float64)), dtype=np.float64)


def sif_weights(n_tokens: int, sif_coefficient: float = 1e-4) -> NDArray[np.float64]:
    """Return SIF weights ``a / (a + p(w))`` with ``p`` estimated by Zipf's law from the rank.

    The token at rank ``r`` (0-based, in vocabulary order) gets probability proportional to
    ``1 / (r + 2)``, as in model2vec: frequent tokens (``the``, ``##s``) are damped, rare and
    informative ones keep almost their full weight.

    Parameters
    ----------
    n_tokens : int
        Number of embedded tokens.
    sif_coefficient : float, default=1e-4
        The SIF constant ``a``, in (0, 1).

    Returns
    -------
    ndarray of shape (n_tokens,)
        Weights in (0, 1), increasing with rank.

    Raises
    ------
    ValueError
        If ``sif_coefficient`` is not in (0, 1).

    Examples
    --------
    >>> w = sif_weights(4, 0.1)
    >>> bool(np.all(np.diff(w) > 0)) and bool(np.all((w > 0) & (w < 1)))
    True
    """
    if not 0.0 < sif_coefficient < 1.0:
        raise ValueError(f"sif_coefficient must be in (0, 1), got {sif_coefficient}")
    inverse_rank = 1.0 / np.arange(2, n_tokens + 2, dtype=np.float64)
    probability = inverse_rank / inverse_rank.sum()
    return np.asarray(sif_coefficient / (sif_coefficient + probability), dtype=np.float64)
