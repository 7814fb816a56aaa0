from __future__ import annotations

import numpy as np
import pytest

from pipeline.errors import InputError
from training.features import Corpus, make_vectorizer, pool_sentences, view_estimator, view_matrix


def test_corpus_views_and_take():
    corpus = Corpus(("a b", "c d", "e f"), embeddings=np.arange(6.0).reshape(3, 2))
    assert corpus.views == ("tfidf", "embedding", "nb_tfidf")
    assert len(corpus) == 3
    part = corpus.take([2, 0])
    assert part.texts == ("e f", "a b")
    assert part.embeddings is not None and part.embeddings.tolist() == [[4.0, 5.0], [0.0, 1.0]]
    assert part.sentence_features is None


def test_corpus_rejects_misaligned_arrays():
    with pytest.raises(InputError, match="one row per narrative"):
        Corpus(("a", "b"), embeddings=np.zeros((3, 4)))


def test_pool_sentences_mean_then_max():
    pooled = pool_sentences([np.array([[1.0, -1.0], [3.0, 0.0]]), np.array([[0.0, 2.0]])])
    assert pooled.tolist() == [[2.0, -0.5, 3.0, 0.0], [0.0, 2.0, 0.0, 2.0]]
    assert pooled.dtype == np.float64  # as pipeline.head.pool_sentence_vectors pools for bundles


@pytest.mark.parametrize("groups", [[], [np.zeros((0, 2))], [np.zeros((1, 2)), np.zeros((1, 3))]])
def test_pool_sentences_bad_input(groups):
    with pytest.raises(InputError):
        pool_sentences(groups)


def test_view_matrix_needs_what_the_view_needs():
    corpus = Corpus(("rota gap", "alert missed"))
    vectorizer = make_vectorizer().set_params(min_df=1).fit(corpus.texts)
    assert view_matrix("tfidf", corpus, vectorizer).shape[0] == 2
    # The NB-weighted view reads the same TF-IDF features; its classifier weights them.
    assert (
        view_matrix("nb_tfidf", corpus, vectorizer) != view_matrix("tfidf", corpus, vectorizer)
    ).nnz == 0
    assert type(view_estimator("nb_tfidf")).__name__ == "NBLogisticRegression"
    with pytest.raises(InputError, match="nb_tfidf view needs a fitted vectorizer"):
        view_matrix("nb_tfidf", corpus, None)
    with pytest.raises(InputError, match="needs embeddings"):
        view_matrix("embedding", corpus, vectorizer)
    with pytest.raises(InputError, match="fitted vectorizer"):
        view_matrix("tfidf", corpus, None)
    with pytest.raises(InputError, match="unknown"):
        view_estimator("bag")
