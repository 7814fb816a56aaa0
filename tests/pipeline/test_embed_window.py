from __future__ import annotations

import random
import re

import pytest

from pipeline.embed_window import split_windows

TOKEN = re.compile(r"\w+|[^\w\s]")


def offsets(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in TOKEN.finditer(text)]


def tokens_in(spans: list[tuple[int, int]], window: tuple[int, int]) -> list[int]:
    start, end = window
    return [i for i, (a, b) in enumerate(spans) if a >= start and b <= end]


def check_cover(text: str, max_tokens: int, overlap: int = 0) -> list[tuple[int, int]]:
    spans = offsets(text)
    windows = split_windows(text, spans, max_tokens, overlap)
    covered: set[int] = set()
    previous_start = -1
    for window in windows:
        inside = tokens_in(spans, window)
        assert 1 <= len(inside) <= max_tokens
        assert window[0] > previous_start
        previous_start = window[0]
        covered.update(inside)
    assert covered == set(range(len(spans)))
    return windows


def test_a_text_that_fits_is_one_window_of_the_whole_text() -> None:
    text = "  Short text, with spaces.  "
    assert split_windows(text, offsets(text), max_tokens=10) == [(0, len(text))]


def test_an_empty_text_is_one_empty_window() -> None:
    assert split_windows("", [], max_tokens=5) == [(0, 0)]


def test_windows_cover_every_token_and_respect_the_limit() -> None:
    text = " ".join(f"word{i}" for i in range(101))
    windows = check_cover(text, max_tokens=20)
    assert len(windows) == 6  # ceil(101 / 20)
    sizes = [len(tokens_in(offsets(text), w)) for w in windows]
    assert max(sizes) - min(sizes) <= 3  # about equal lengths, no stub at the end


def test_cuts_fall_after_sentences_when_there_are_any() -> None:
    sentences = [f"Sentence {i} has some words in it." for i in range(12)]
    text = " ".join(sentences)
    for a, b in check_cover(text, max_tokens=30):
        assert text[a:b].startswith("Sentence") and text[a:b].endswith(".")


def test_a_new_line_counts_as_a_sentence_break() -> None:
    text = "\n".join(f"line {i} of the list" for i in range(20))
    for a, b in check_cover(text, max_tokens=17):
        assert text[a:b].startswith("line")


def test_cuts_fall_between_words_when_there_is_no_sentence_break() -> None:
    text = " ".join(["alpha-beta"] * 40)  # hyphen tokens: no whitespace inside a word
    for a, b in check_cover(text, max_tokens=25):
        assert text[a:b].startswith("alpha") and text[a:b].endswith("beta")


def test_a_word_longer_than_a_window_is_cut_hard() -> None:
    text = "see " + "-".join(["x"] * 60) + " end"
    check_cover(text, max_tokens=16)


def test_overlap_makes_consecutive_windows_share_tokens() -> None:
    text = " ".join(f"w{i}" for i in range(60))
    spans = offsets(text)
    windows = check_cover(text, max_tokens=20, overlap=5)
    for first, second in zip(windows, windows[1:], strict=False):
        shared = set(tokens_in(spans, first)) & set(tokens_in(spans, second))
        assert len(shared) == 5


@pytest.mark.parametrize("seed", range(25))
def test_random_texts_are_always_covered(seed: int) -> None:
    rng = random.Random(seed)
    words = ["the", "GP", "rang", "pharmacy", ".", ",", "Dr", "warfarin", "\n", "x" * 30]
    text = " ".join(rng.choice(words) for _ in range(rng.randint(0, 400)))
    check_cover(text, max_tokens=rng.randint(8, 64), overlap=rng.choice([0, 0, 2, 4]))


@pytest.mark.parametrize(("max_tokens", "overlap"), [(0, 0), (10, -1), (10, 6)])
def test_bad_parameters_are_refused(max_tokens: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        split_windows("a b c", offsets("a b c"), max_tokens, overlap)
