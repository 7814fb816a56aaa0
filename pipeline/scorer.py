"""Score one scheme: its trained head blended with cold start, for narratives and for sentences.

A scheme with no trained head is scored by its :class:`~pipeline.head.ColdStartHead` alone. A
trained scheme blends the two per code, ``p = w * p_head + (1 - w) * p_cold`` with
``w = n_pos / (n_pos + 20)`` (:func:`~pipeline.head.blend_weights`), so cold start fades out as
a code gains labels. Multi-label thresholds blend the same way (a narrative at both heads'
thresholds is at the blended one); single-label schemes' blended rows are renormalised to sum
to 1 and the best code is selected.

Examples
--------
>>> import numpy as np
>>> from pipeline.head import ColdStartHead
>>> cold = ColdStartHead("agent", ("human", "designed"), True, np.eye(2))
>>> scorer = SchemeScorer(cold)
>>> scorer.cold_only, scorer.codes
(True, ('human', 'designed'))
>>> scorer.decide(scorer.proba([""], None, [np.array([[1.0, 0.0]])])).tolist()
[[True, False]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from sklearn.feature_extraction.text import TfidfVectorizer

from pipeline.errors import BundleError
from pipeline.head import ColdStartHead, SchemeHead, blend_weights, pool_sentence_vectors

if TYPE_CHECKING:
    from scipy.sparse import spmatrix

__all__ = ["SchemeScorer", "share_vectorizers"]

#: n-gram ranges whose counting :class:`_SharedTfidf` speeds up.
_NGRAMS = ((1, 1), (1, 2), [1, 1], [1, 2])


@dataclass(frozen=True, eq=False)
class SchemeScorer:
    """A scheme's cold-start head and, once trained, its head, blended per code.

    Parameters
    ----------
    cold : ColdStartHead
        Scores codes from their definitions and examples.
    head : SchemeHead or None
        The trained head; None for a cold-start scheme.

    Raises
    ------
    BundleError
        If the two heads disagree on the scheme's codes, kind or text view.
    """

    cold: ColdStartHead
    head: SchemeHead | None = None

    def __post_init__(self) -> None:
        head = self.head
        if head is not None and (head.codes, head.multi_label, head.text_view) != (
            self.cold.codes,
            self.cold.multi_label,
            self.cold.text_view,
        ):
            raise BundleError(
                f"Scheme '{self.cold.scheme}': the trained head's codes, kind or text view "
                "differ from the bundle's taxonomy; rebuild the bundle with nearmiss train"
            )

    @property
    def scheme(self) -> str:
        """The scheme id."""
        return self.cold.scheme

    @property
    def codes(self) -> tuple[str, ...]:
        """Code ids, the column order of every output."""
        return self.cold.codes

    @property
    def text_view(self) -> str:
        """Which part of a narrative the scheme reads (see :mod:`pipeline.views`)."""
        return self.cold.text_view

    @property
    def cold_only(self) -> bool:
        """Whether the scheme has no trained head."""
        return self.head is None

    @property
    def uses_embeddings(self) -> bool:
        """Whether the trained head needs the embedding of each narrative's view text."""
        return self.head is not None and self.head.uses_embeddings

    @cached_property
    def weights(self) -> NDArray[np.float64]:
        """Each code's weight on the trained head (0 for a cold-start scheme)."""
        if self.head is None:
            return np.zeros(len(self.codes))
        positives = self.head.n_positives or (0,) * len(self.codes)
        return blend_weights(positives)

    def score(
        self,
        texts: Sequence[str],
        embeddings: NDArray[np.floating[Any]] | None,
        sentences: Sequence[str],
        sentence_vectors: NDArray[np.floating[Any]],
        bounds: Sequence[int],
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Score narratives and, alone, their sentences (one pass through the trained head).

        Parameters
        ----------
        texts : sequence of str
            Each narrative's view text (redacted).
        embeddings : ndarray of shape (n, d) or None
            Their embeddings; needed when :attr:`uses_embeddings`.
        sentences : sequence of str
            Every narrative's view sentences, flat (redacted).
        sentence_vectors : ndarray of shape (m, d)
            Their embeddings, row for row.
        bounds : sequence of int
            Narrative ``i`` owns sentences ``bounds[i]:bounds[i + 1]`` (length n + 1).

        Returns
        -------
        proba : ndarray of shape (n, k)
            The narratives' scores in [0, 1].
        sentence_proba : ndarray of shape (m, k)
            Each sentence's scores, scored as if it were a narrative of its own.
        """
        cold_sentences = self.cold.sentence_proba(sentence_vectors)
        cold = self._cold_proba(sentence_vectors, cold_sentences, bounds)
        if self.head is None:
            return cold, cold_sentences
        both = [*texts, *sentences]
        vectors = None
        if self.head.uses_embeddings:
            assert embeddings is not None
            vectors = np.concatenate([embeddings, sentence_vectors])
        pooled = None
        if self.head.uses_sentences:
            # A sentence scored alone is a narrative of one sentence: its mean and max are itself.
            pooled = np.concatenate(
                [
                    pool_sentence_vectors(sentence_vectors, bounds),
                    np.hstack([sentence_vectors, sentence_vectors]),
                ]
            )
        head = (
            self.head.predict_proba(both, vectors, pooled)
            if both
            else np.empty((0, len(self.codes)))
        )
        n = len(texts)
        return self._blend(head[:n], cold), self._blend(head[n:], cold_sentences)

    def _cold_proba(
        self,
        vectors: NDArray[np.floating[Any]],
        sentence_proba: NDArray[np.float64],
        bounds: Sequence[int],
    ) -> NDArray[np.float64]:
        """Cold-start scores of narratives, from their sentences' scores, for all at once.

        Equal to :meth:`ColdStartHead.predict_proba` of each narrative's sentences: before a
        single-label row is normalised, a score is an increasing function of the best
        sentence's cosine, so the narrative's score is its best sentence's (a decreasing
        calibration, never fitted in practice, takes the slow path).
        """
        edges = np.asarray(bounds, dtype=np.intp)
        if self.cold.calibration.slope <= 0:
            groups = [vectors[a:b] for a, b in zip(edges[:-1], edges[1:], strict=True)]
            return self.cold.predict_proba(groups)
        per_code = self._cold_per_code
        if not self.cold.multi_label:
            sentence_proba = per_code.sentence_proba(vectors)
        n, k = len(edges) - 1, len(self.codes)
        none = per_code.predict_proba([np.zeros((0, vectors.shape[1]))])[0]
        proba = np.broadcast_to(none, (n, k)).copy()
        filled = edges[1:] > edges[:-1]
        if filled.any():
            proba[filled] = np.maximum.reduceat(sentence_proba, edges[:-1][filled], axis=0)
        if self.cold.multi_label or not n:
            return proba
        return np.asarray(proba / proba.sum(axis=1, keepdims=True), dtype=np.float64)

    @cached_property
    def _cold_per_code(self) -> ColdStartHead:
        """Return the cold-start head scoring each code alone (single-label rows unnormalised)."""
        return self.cold if self.cold.multi_label else replace(self.cold, multi_label=True)

    def proba(
        self,
        texts: Sequence[str],
        embeddings: NDArray[np.floating[Any]] | None,
        sentence_groups: Sequence[NDArray[np.floating[Any]]],
    ) -> NDArray[np.float64]:
        """Score narratives.

        Parameters
        ----------
        texts : sequence of str
            Each narrative's view text (redacted).
        embeddings : ndarray of shape (n, d) or None
            Their embeddings; needed when :attr:`uses_embeddings`.
        sentence_groups : sequence of ndarray of shape (m_i, d)
            The embeddings of each narrative's view sentences.

        Returns
        -------
        ndarray of shape (n, k)
            Scores in [0, 1].
        """
        cold = self.cold.predict_proba(sentence_groups)
        if self.head is None:
            return cold
        pooled = None
        if self.head.uses_sentences:
            width = self.head.views["sentences"].coef.shape[1] // 2
            bounds = np.cumsum([0, *(len(group) for group in sentence_groups)]).tolist()
            flat = [np.asarray(group).reshape(len(group), width) for group in sentence_groups]
            stacked = np.concatenate(flat) if flat else np.zeros((0, width))
            pooled = pool_sentence_vectors(stacked, bounds)
        return self._blend(self.head.predict_proba(texts, embeddings, pooled), cold)

    def decide(self, proba: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Select codes: blended thresholds (multi-label) or the best code (single-label)."""
        if self.head is None:
            return self.cold.decide(proba)
        if not self.cold.multi_label:
            return self.cold.decide(proba)
        assert self.head.thresholds is not None and self.cold.thresholds is not None
        thresholds = self.weights * self.head.thresholds + (1 - self.weights) * self.cold.thresholds
        return np.asarray(proba >= thresholds, dtype=bool)

    def _blend(self, head: NDArray[np.float64], cold: NDArray[np.float64]) -> NDArray[np.float64]:
        blended = np.asarray(self.weights * head + (1 - self.weights) * cold, dtype=np.float64)
        if self.cold.multi_label or not blended.size:
            return blended
        # Per-code weights differ, so exclusive codes' blended scores are renormalised to sum to 1.
        return np.asarray(blended / blended.sum(axis=1, keepdims=True), dtype=np.float64)


class _SharedTfidf(TfidfVectorizer):  # type: ignore[misc]
    """A fitted vectorizer that several schemes share: the last transform is reused.

    Heads trained on the same texts (the schemes of one text view) learn the same vocabulary
    and weights; sharing one transform per view instead of one per scheme saves most of the
    TF-IDF time. The reuse is keyed on the exact documents asked for.
    """

    _last: tuple[list[str], spmatrix] | None = None

    def transform(self, raw_documents: Any) -> spmatrix:
        """Return the TF-IDF matrix of the documents (the previous call's if they are the same).

        Each distinct document is transformed once (sentences such as "No harm." recur across
        narratives); rows do not depend on one another, so the matrix is the same.
        """
        documents = list(raw_documents)
        last = self._last
        if last is not None and last[0] == documents:
            return last[1]
        index: dict[str, int] = {}
        rows = [index.setdefault(document, len(index)) for document in documents]
        matrix = super().transform(list(index))
        if len(index) < len(documents):
            matrix = matrix[np.asarray(rows, dtype=np.intp)]
        self._last = (documents, matrix)
        return matrix

    def _count_vocab(self, raw_documents: Any, fixed_vocab: bool) -> tuple[Any, spmatrix]:
        """Count the vocabulary's terms per document: scikit-learn's matrix, built faster.

        For a fitted word vectorizer of unigrams (and bigrams), terms are looked up with
        ``map`` over the tokens and counted by SciPy, not one dictionary update per term in
        Python; the matrix (float counts, sorted indices) is the one scikit-learn builds. Any
        other configuration, and fitting, use scikit-learn's own code.
        """
        if not fixed_vocab or self.analyzer != "word" or self.ngram_range not in _NGRAMS:
            counted: tuple[Any, spmatrix] = super()._count_vocab(raw_documents, fixed_vocab)
            return counted
        vocabulary, empty = super()._count_vocab([], fixed_vocab)
        get = vocabulary.get
        decode, preprocess = self.decode, self.build_preprocessor()
        tokenize, stop_words = self.build_tokenizer(), self.get_stop_words()
        bigrams = tuple(self.ngram_range) == (1, 2)
        indices: list[int] = []
        indptr = [0]
        for document in raw_documents:
            tokens = tokenize(preprocess(decode(document)))
            if stop_words is not None:
                tokens = [token for token in tokens if token not in stop_words]
            indices += [i for i in map(get, tokens) if i is not None]
            if bigrams:
                pairs = map(" ".join, zip(tokens, tokens[1:], strict=False))
                indices += [i for i in map(get, pairs) if i is not None]
            indptr.append(len(indices))
        counts = type(empty)(
            (np.ones(len(indices)), np.asarray(indices, dtype=np.int32), np.asarray(indptr)),
            shape=(len(indptr) - 1, len(vocabulary)),
            dtype=self.dtype,
        )
        counts.sum_duplicates()  # sums repeated terms and sorts each row's indices
        return vocabulary, counts


def share_vectorizers(heads: dict[str, SchemeHead]) -> dict[str, SchemeHead]:
    """Give heads with identical fitted TF-IDF vectorizers one shared, reusing vectorizer.

    Parameters
    ----------
    heads : dict of str to SchemeHead
        Trained heads by scheme id.

    Returns
    -------
    dict of str to SchemeHead
        The same heads, those with equal vectorizers (parameters, vocabulary and weights)
        holding one :class:`_SharedTfidf`; predictions are unchanged.
    """
    shared: list[_SharedTfidf] = []
    out: dict[str, SchemeHead] = {}
    for scheme, head in heads.items():
        vectorizer = head.vectorizer
        if vectorizer is None:
            out[scheme] = head
            continue
        match = next((v for v in shared if _same_vectorizer(v, vectorizer)), None)
        if match is None:
            match = _SharedTfidf.__new__(_SharedTfidf)
            match.__dict__.update(vectorizer.__dict__)
            shared.append(match)
        out[scheme] = replace(head, vectorizer=match)
    return out


def _same_vectorizer(a: TfidfVectorizer, b: TfidfVectorizer) -> bool:
    """Whether two fitted vectorizers turn every text into the same row."""
    params = [{k: v for k, v in x.get_params().items() if k != "vocabulary"} for x in (a, b)]
    return (
        params[0] == params[1] and a.vocabulary_ == b.vocabulary_ and np.array_equal(a.idf_, b.idf_)
    )
