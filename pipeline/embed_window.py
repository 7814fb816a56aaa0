"""Split a long text into token windows that a length-limited embedding model sees whole.

MiniLM reads at most 256 tokens and silently drops the rest, yet an SEA often describes the
recovery last. A text longer than one window is cut into windows of about equal length, each cut
falling where possible after a sentence, otherwise between words, so that every token of the
text is embedded. The windows are character spans of the original text, so they tokenize again
to (nearly) the same tokens.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["split_windows"]

#: Characters that end a sentence (or a clause) when whitespace follows them.
_SENTENCE_END = frozenset(".!?;:")


def split_windows(
    text: str, offsets: Sequence[tuple[int, int]], max_tokens: int, overlap: int = 0
) -> list[tuple[int, int]]:
    """Cut a text into windows of at most ``max_tokens`` tokens that together cover every token.

    Parameters
    ----------
    text : str
        The text.
    offsets : sequence of (int, int)
        Character ``(start, end)`` of each token of ``text``, without special tokens, as a
        fast tokenizer's ``offset_mapping`` gives them.
    max_tokens : int
        Most tokens in one window, not counting the special tokens the model adds.
    overlap : int, default=0
        Tokens that consecutive windows share (moved forward to the next word start).

    Returns
    -------
    list of (int, int)
        Character spans ``(start, end)`` of the windows, in order; ``[(0, len(text))]`` when the
        text fits in one window.

    Raises
    ------
    ValueError
        If ``max_tokens`` is below 1 or ``overlap`` is not in ``[0, max_tokens // 2]``.

    Examples
    --------
    >>> text = "One two. Three four five."
    >>> offsets = [(0, 3), (4, 7), (7, 8), (9, 14), (15, 19), (20, 24), (24, 25)]
    >>> [text[a:b] for a, b in split_windows(text, offsets, max_tokens=4)]
    ['One two.', 'Three four five.']
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    if not 0 <= overlap <= max_tokens // 2:
        raise ValueError(f"overlap must be in [0, {max_tokens // 2}], got {overlap}")
    n = len(offsets)
    if n <= max_tokens:
        return [(0, len(text))]
    stride = max_tokens - overlap
    count = math.ceil((n - overlap) / stride)
    target = math.ceil((n + (count - 1) * overlap) / count)

    spans: list[tuple[int, int]] = []
    start = 0
    while True:
        if n - start <= max_tokens:
            spans.append((offsets[start][0], offsets[n - 1][1]))
            return spans
        end = _best_cut(text, offsets, start, target, max_tokens)
        spans.append((offsets[start][0], offsets[end - 1][1]))
        next_start = max(end - overlap, start + 1)
        while next_start < end and not _is_word_start(offsets, next_start):
            next_start += 1
        start = next_start


def _best_cut(
    text: str, offsets: Sequence[tuple[int, int]], start: int, target: int, max_tokens: int
) -> int:
    """Index of the first token after the window that starts at ``start``."""
    ideal = start + target
    low = start + max(1, target // 2)
    high = start + max_tokens  # exclusive end: at most max_tokens tokens
    best_word: int | None = None
    best_sentence: int | None = None
    for cut in range(low, high + 1):
        if not _is_word_start(offsets, cut):
            continue
        if best_word is None or abs(cut - ideal) < abs(best_word - ideal):
            best_word = cut
        if _is_sentence_start(text, offsets, cut) and (
            best_sentence is None or abs(cut - ideal) < abs(best_sentence - ideal)
        ):
            best_sentence = cut
    if best_sentence is not None:
        return best_sentence
    if best_word is not None:
        return best_word
    return high  # one "word" longer than a window (a pasted URL, say): cut it


def _is_word_start(offsets: Sequence[tuple[int, int]], index: int) -> bool:
    """Whether whitespace separates token ``index`` from the token before it."""
    return offsets[index][0] > offsets[index - 1][1]


def _is_sentence_start(text: str, offsets: Sequence[tuple[int, int]], index: int) -> bool:
    """Whether token ``index`` starts a sentence (or a line)."""
    previous_end = offsets[index - 1][1]
    gap = text[previous_end : offsets[index][0]]
    return text[previous_end - 1] in _SENTENCE_END or "\n" in gap
