"""Fixtures for training tests: small synthetic narratives, labels and a fake embedder."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from training.features import Corpus, pool_sentences

CODES = ("staffing", "it_design", "handover")
KEYWORDS = {
    "staffing": ["locum", "short-staffed", "rota", "sickness"],
    "it_design": ["dropdown", "alert", "template", "screen"],
    "handover": ["handover", "message", "task", "note"],
}
FILLER = [
    "patient",
    "surgery",
    "practice",
    "result",
    "prescription",
    "review",
    "called",
    "rang",
    "checked",
    "the",
    "a",
    "of",
]


class FakeEmbedder:
    """Deterministic, offline stand-in for the sentence-transformers embedder.

    Each word maps to a fixed pseudo-random unit vector (seeded by its hash); a text is the
    normalised mean of its words' vectors.
    """

    def __init__(self, dim: int = 16) -> None:
        self.dim = dim

    def _word(self, word: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "little")
        return np.random.default_rng(seed).normal(size=self.dim)

    def encode(self, texts: list[str]) -> np.ndarray:
        rows = []
        for text in texts:
            words = text.lower().split() or [""]
            vector = np.mean([self._word(w) for w in words], axis=0)
            rows.append(vector / (np.linalg.norm(vector) or 1.0))
        return np.asarray(rows, dtype=np.float32)

    def encode_sentences(self, groups: list[list[str]]) -> list[np.ndarray]:
        return [self.encode(group) for group in groups]


def make_narratives(n: int, seed: int = 0, rare_positives: int = 8) -> tuple[list[str], np.ndarray]:
    """Texts whose words hint at their codes; the last code is rare (``rare_positives``)."""
    rng = np.random.default_rng(seed)
    y = np.zeros((n, len(CODES)), dtype=np.int64)
    y[:, 0] = rng.random(n) < 0.45
    y[:, 1] = rng.random(n) < 0.35
    y[rng.choice(n, size=rare_positives, replace=False), 2] = 1
    texts = []
    for row in y:
        words = list(rng.choice(FILLER, size=12))
        for j, code in enumerate(CODES):
            # Signal with noise: a true code usually shows a keyword, a false one sometimes does.
            if rng.random() < (0.8 if row[j] else 0.1):
                words.append(str(rng.choice(KEYWORDS[code])))
        rng.shuffle(words)
        sentences = [" ".join(words[i : i + 5]) + "." for i in range(0, len(words), 5)]
        texts.append(" ".join(sentences))
    return texts, y


@pytest.fixture(scope="session")
def embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def narratives() -> tuple[list[str], np.ndarray]:
    return make_narratives(150)


@pytest.fixture
def corpus(narratives: tuple[list[str], np.ndarray], embedder: FakeEmbedder) -> Corpus:
    texts, _ = narratives
    groups = [[s for s in text.split(".") if s.strip()] for text in texts]
    return Corpus(
        tuple(texts),
        embeddings=embedder.encode(texts),
        sentence_features=pool_sentences(embedder.encode_sentences(groups)),
    )


@pytest.fixture
def labels(narratives: tuple[list[str], np.ndarray]) -> np.ndarray:
    return narratives[1].copy()
