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
from pipeline.head import ColdStartHead, SchemeHead, blend_weights

if TYPE_CHECKING:
    from scipy.sparse import spmatrix

__all__ = ["SchemeScorer", "share_vectorizers"]


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
        sentence_groups: Sequence[NDArray[np.floating[Any]]],
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
        sentence_groups : sequence of ndarray of shape (m_i, d)
            The same vectors split per narrative.

        Returns
        -------
        proba : ndarray of shape (n, k)
            The narratives' scores in [0, 1].
        sentence_proba : ndarray of shape (m, k)
            Each sentence's scores, scored as if it were a narrative of its own.
        """
        cold = self.cold.predict_proba(sentence_groups)
        cold_sentences = self.cold.sentence_proba(sentence_vectors)
        if self.head is None:
            return cold, cold_sentences
        both = [*texts, *sentences]
        vectors = None
        if self.head.uses_embeddings:
            assert embeddings is not None
            vectors = np.concatenate([embeddings, sentence_vectors])
        head = self.head.predict_proba(both, vectors) if both else np.empty((0, len(self.codes)))
        n = len(texts)
        return self._blend(head[:n], cold), self._blend(head[n:], cold_sentences)

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
        return self._blend(self.head.predict_proba(texts, embeddings), cold)

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
        """Return the TF-IDF matrix of the documents (the previous call's if they are the same)."""
        documents = list(raw_documents)
        last = self._last
        if last is not None and last[0] == documents:
            return last[1]
        matrix = super().transform(documents)
        self._last = (documents, matrix)
        return matrix


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
