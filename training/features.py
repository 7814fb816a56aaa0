"""Feature views of narratives, one scheme head per view.

A :class:`Corpus` holds the narratives of a data set row by row: their text and, when the caller
has them, their embeddings. Embeddings come from the caller (the cached
:class:`pipeline.embed.Embedder` in production, a fake in tests), so nothing here loads a model
and cross-validation never re-embeds. Four views:

``"tfidf"``
    Word 1-2 gram TF-IDF (sublinear term frequency), fitted on the training texts only.
``"embedding"``
    One sentence-transformers vector per narrative (long texts as pooled windows).
``"sentences"``
    Sentence vectors pooled per narrative, mean and maximum side by side
    (:func:`pool_sentences`), so a single telling sentence is not averaged away. Bundles pool
    with :func:`pipeline.head.pool_sentence_vectors`, as the suggester does.
``"nb_tfidf"``
    The same TF-IDF features, each code's classifier weighting them by their Naive-Bayes
    log-count ratio for the code (:class:`~training.nb_logistic.NBLogisticRegression`, learned
    from each fold's training rows only). It adds no input of its own, so a bundle head reads it
    through the tfidf view's vectorizer.

Which views a scheme uses, alone or averaged (late fusion), is measured by cross-validation in
:func:`training.scheme.fit_scheme`.

Examples
--------
>>> import numpy as np
>>> corpus = Corpus(("rang the surgery", "no result filed"), embeddings=np.eye(2))
>>> corpus.views
('tfidf', 'embedding', 'nb_tfidf')
>>> pool_sentences([np.array([[1.0, 0.0], [0.0, 1.0]])]).tolist()
[[0.5, 0.5, 1.0, 1.0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from pipeline.errors import InputError
from pipeline.head import TFIDF_VIEWS, pool_sentence_vectors
from training.head import default_estimator
from training.nb_logistic import NBLogisticRegression

__all__ = [
    "TFIDF_VIEWS",
    "VIEWS",
    "Corpus",
    "make_vectorizer",
    "pool_sentences",
    "view_estimator",
    "view_matrix",
]

#: Every view, in the order candidates are built and reported. ``nb_tfidf`` comes last, so
#: that a candidate with it wins only when its out-of-fold score is strictly higher (ties go to
#: the candidate built first).
VIEWS = ("tfidf", "embedding", "sentences", "nb_tfidf")


@dataclass(frozen=True, eq=False)
class Corpus:
    """Narratives of one data set, aligned row by row.

    Parameters
    ----------
    texts : tuple of str
        The (redacted) narratives.
    embeddings : ndarray of shape (n, d) or None
        One vector per narrative.
    sentence_features : ndarray of shape (n, d2) or None
        Pooled sentence vectors per narrative (see :func:`pool_sentences`).

    Raises
    ------
    InputError
        If the arrays do not have one row per text.
    """

    texts: tuple[str, ...]
    embeddings: NDArray[np.floating[Any]] | None = None
    sentence_features: NDArray[np.floating[Any]] | None = None

    def __post_init__(self) -> None:
        for name in ("embeddings", "sentence_features"):
            array = getattr(self, name)
            if array is not None and (array.ndim != 2 or len(array) != len(self.texts)):
                raise InputError(
                    f"{name} has shape {array.shape} but there are {len(self.texts)} texts; "
                    "pass one row per narrative, in the same order"
                )

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def views(self) -> tuple[str, ...]:
        """The views this corpus can feed, in :data:`VIEWS` order."""
        present = {
            "tfidf": True,
            "embedding": self.embeddings is not None,
            "sentences": self.sentence_features is not None,
            "nb_tfidf": True,
        }
        return tuple(view for view in VIEWS if present[view])

    def take(self, rows: Sequence[int]) -> Corpus:
        """Return the corpus restricted to ``rows``, in that order."""
        index = np.asarray(rows, dtype=np.intp)
        return Corpus(
            texts=tuple(self.texts[i] for i in index),
            embeddings=None if self.embeddings is None else self.embeddings[index],
            sentence_features=(
                None if self.sentence_features is None else self.sentence_features[index]
            ),
        )


def make_vectorizer() -> TfidfVectorizer:
    """Return the unfitted TF-IDF vectorizer of the ``"tfidf"`` view."""
    return TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, dtype=np.float64)


def view_estimator(view: str) -> LogisticRegression | NBLogisticRegression:
    """Return the binary classifier each code of ``view`` is fitted with.

    Parameters
    ----------
    view : str
        One of :data:`VIEWS`.

    Returns
    -------
    LogisticRegression or NBLogisticRegression
        :class:`~training.nb_logistic.NBLogisticRegression` (``alpha=1``, ``C=4``, ratios from
        binary occurrence) for ``"nb_tfidf"``: the setting measured out of fold on SAFENET's
        training split (issue #3), where C=1 and C=4 tied on ``contributing`` and TF-IDF
        inputs beat binary-count inputs by about 0.02 macro-F1.
        :func:`training.head.default_estimator` for every other view. On SAFENET's training split
        (out of fold, static embedder), C from 0.25 to 16, balanced or (``contributing``)
        unweighted, never beat C=1 balanced by more than 0.006 macro-F1 (TF-IDF of both
        schemes; embedding and sentences views of ``contributing``), so a per-view C grid
        would cost one more out-of-fold pass per value for a gain within noise.
    """
    if view not in VIEWS:
        raise InputError(f"view {view!r} is unknown; use one of {VIEWS}")
    if view == "nb_tfidf":
        return NBLogisticRegression(alpha=1.0, C=4.0)
    return default_estimator()


def view_matrix(view: str, corpus: Corpus, vectorizer: TfidfVectorizer | None) -> Any:
    """Return the feature matrix of ``view`` for ``corpus``.

    Parameters
    ----------
    view : str
        One of :data:`VIEWS`.
    corpus : Corpus
        The narratives.
    vectorizer : TfidfVectorizer or None
        The fitted vectorizer; needed for the :data:`TFIDF_VIEWS` only.

    Returns
    -------
    ndarray or sparse matrix of shape (n, d)
        The features.

    Raises
    ------
    InputError
        If the corpus lacks what the view needs.
    """
    if view in TFIDF_VIEWS:
        if vectorizer is None:
            raise InputError(f"the {view} view needs a fitted vectorizer")
        return vectorizer.transform(corpus.texts)
    if view not in corpus.views:
        raise InputError(
            f"the {view} view needs {'embeddings' if view == 'embedding' else 'sentence_features'}"
            " in the corpus; embed the narratives first or leave the view out"
        )
    return corpus.embeddings if view == "embedding" else corpus.sentence_features


def pool_sentences(groups: Sequence[NDArray[np.floating[Any]]]) -> NDArray[np.float64]:
    """Pool each narrative's sentence vectors into one row: their mean, then their maximum.

    Parameters
    ----------
    groups : sequence of ndarray of shape (k_i, d)
        For each narrative, one vector per sentence (``k_i >= 1``).

    Returns
    -------
    ndarray of shape (n, 2 * d)
        Mean-pooled then max-pooled vectors.

    Raises
    ------
    InputError
        If there are no groups, a group is empty, or the groups differ in width.
    """
    if not groups or any(len(group) == 0 for group in groups):
        raise InputError("pool_sentences needs at least one sentence vector per narrative")
    if len({group.shape[1] for group in groups}) != 1:
        raise InputError("sentence vectors differ in width; embed them with one model")
    bounds = np.cumsum([0, *(len(group) for group in groups)]).tolist()
    return pool_sentence_vectors(np.concatenate(groups), bounds)
