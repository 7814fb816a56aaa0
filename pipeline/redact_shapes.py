"""Word and line shapes for the name rules: lines typed in capitals, words derived from others.

Reports from aviation (ASRS) and other domains are often typed in capitals ("CAPT NOTICED THE
ALT ALERT AND CALLED FO TO CHK"), where a capital says nothing about a name:
:func:`caps_lines` finds such lines so that :class:`pipeline.redact_tokens.TokenView` reads
them in lower case. Role words and verbs the word lists lack ("overrode", "roofer",
"householder") are told from names by :func:`is_derived`.
"""

from __future__ import annotations

import re
from collections.abc import Container

__all__ = ["caps_lines", "is_derived"]

#: A line is ALL CAPS when at least this share of its cased letters is upper case...
CAPS_SHARE = 0.8
#: ... and it has this many words or more (or the whole text is ALL CAPS): "SMITH, John" is
#: a heading, not a report typed in capitals.
CAPS_WORDS = 4
_CAPS_WORD = re.compile(r"[A-Za-z]{2,}")
#: Prefixes of derived words ("overrode", "rechecked", "misread"): prefix + common word.
_PREFIXES = (
    "over", "under", "out", "re", "mis", "pre", "un", "dis", "up", "down", "back", "fore",
    "counter", "co", "inter", "cross", "double", "self", "non", "sub", "super",
)  # fmt: skip
#: Suffixes of agent nouns and other derived words ("roofer", "packer"): common word + suffix.
_SUFFIXES = ("er", "ers", "or", "ors", "ist", "ists", "man", "men", "s", "es")


def caps_lines(text: str) -> list[tuple[int, int]]:
    r"""Return the ``[start, end)`` character ranges of the lines of ``text`` typed in capitals.

    A line counts when most of its cased letters are upper case (:data:`CAPS_SHARE`) and it has
    :data:`CAPS_WORDS` words or more, or when the whole text is so: "CAPT NOTICED THE ALT
    ALERT", not "SMITH, John" or "INR 4.2 on Monday".

    Examples
    --------
    >>> caps_lines("Seen today.\nCAPT NOTICED THE ALT ALERT\nok")
    [(12, 38)]
    """
    upper = sum(map(str.isupper, text))
    if not upper:
        return []
    lower = sum(map(str.islower, text))
    if upper >= CAPS_SHARE * (upper + lower):
        return [(0, len(text))]
    if upper < 3 * CAPS_WORDS:
        return []
    out: list[tuple[int, int]] = []
    start = 0
    for line in text.split("\n"):
        end = start + len(line)
        up = sum(map(str.isupper, line))
        if up >= 2 * CAPS_WORDS:
            low = sum(map(str.islower, line))
            if up >= CAPS_SHARE * (up + low) and len(_CAPS_WORD.findall(line)) >= CAPS_WORDS:
                out.append((start, end))
        start = end + 1
    return out


def is_derived(low: str, common: Container[str], roles: Container[str]) -> bool:
    """Tell whether ``low`` is a common word with a prefix or a suffix.

    "overrode" (over + rode), "roofer" (roof + er), "householder", "rechecked", "humidities"
    are ordinary words even when the word list lacks them; "olumide", "okafor", "siper" (sip +
    er) and "unwin" (un + win) are not: the common word has four letters or more.

    Parameters
    ----------
    low : str
        A lower-case word.
    common : container of str
        Common lower-case English words.
    roles : container of str
        Role words ("pack" is not one, but "packer" is derived from the common word "pack").

    Returns
    -------
    bool
        True when the word is made of a common word (or role) and a prefix or suffix.

    Examples
    --------
    >>> is_derived("overrode", {"rode"}, set()), is_derived("okafor", {"oka"}, set())
    (True, False)
    """
    if len(low) < 5:
        return False
    for prefix in _PREFIXES:
        if low.startswith(prefix) and len(low) - len(prefix) > 3 and low[len(prefix) :] in common:
            return True
    for suffix in _SUFFIXES:
        if low.endswith(suffix) and len(low) - len(suffix) > 3:
            stem = low[: -len(suffix)]
            if stem in common or stem + "e" in common or stem in roles:
                return True
    return low.endswith("ies") and low[:-3] + "y" in common
