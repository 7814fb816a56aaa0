"""A token view of a spaCy ``Doc`` with the look-arounds the name rules need.

Tokens are read once into plain lists (``Doc.to_array``), which is several times faster than
creating spaCy ``Token`` objects for every look-around. The rules themselves live in
:mod:`pipeline.redact_names`.
"""

from __future__ import annotations

import re

from spacy.attrs import IDX, IS_SPACE, LENGTH, SENT_START
from spacy.tokens import Doc

from pipeline import redact_lexicon as lx
from pipeline.redact_lexicon import Lexicon
from pipeline.redact_patterns import Identifier
from pipeline.text import is_block_tag, markup_tokens

__all__ = ["TokenView", "is_lowerish", "is_titleish"]

INITIALS = re.compile(r"[A-Z]{2,3}|(?:[A-Z]\.){1,2}[A-Z]\.?")
INITIAL = re.compile(r"[A-Z]\.?")
ANY_INITIAL = re.compile(r"[A-Za-z]\.?")
#: Longer tokens are never names (and would make the typo test slow).
MAX_WORD = 40
#: Invisible format characters (zero-width space, soft hyphen...) ignored when reading a word.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_POSSESSIVE = frozenset({"'s", "'", "’s", "’"})
_CUE_SKIP = frozenset({",", ":", "'s", "’s", "-"})


def is_titleish(w: str) -> bool:
    """Tell whether ``w`` is a capitalised word ("Sarah", "McDonald", "O'Brien"; not "EMIS")."""
    return (
        len(w) > 1
        and w[0].isupper()
        and w[1:] != w[1:].upper()
        and w.replace("'", "").replace("’", "").isalpha()
    )


def is_lowerish(w: str) -> bool:
    """Tell whether ``w`` is a lower-case alphabetic word of three letters or more."""
    return len(w) > 2 and w.islower() and w.isalpha()


def _without_markup(
    rows: list[list[int]], words: list[str], markup: tuple[int, ...]
) -> tuple[list[list[int]], list[str]]:
    """Drop inline tags, character references and spaces; a line-ending tag reads as a line break.

    The rules then see "Mr <i>Joe</i>&nbsp;Smith" as "Mr Joe Smith" (a name span covers any tag
    inside it), and "Smith<br>Plan" as two lines. A sentence start on a dropped token moves to
    the next token kept.
    """
    tags = frozenset(markup)
    kept_rows: list[list[int]] = []
    kept_words: list[str] = []
    starts = False
    for k, (row, word) in enumerate(zip(rows, words, strict=True)):
        if k in tags and is_block_tag(word):
            word = "\n"
        elif k in tags or (word.isspace() and "\n" not in word):
            starts = starts or row[2] == 1
            continue
        kept_rows.append([row[0], row[1], 1 if starts else row[2]])
        kept_words.append(word)
        starts = False
    return kept_rows, kept_words


class TokenView:
    """A doc's tokens as lists, the spans found so far, and context tests on them.

    Parameters
    ----------
    doc : Doc
        The tokenised text.
    lex : Lexicon
        The word lists.
    text : str
        ``doc.text``.

    Attributes
    ----------
    words, lows : list of str
        Token texts (invisible format characters removed) and their lower-case forms.
    taken : list of bool
        Tokens already inside a found span.
    found : list of Identifier
        Spans found so far.
    """

    def __init__(self, doc: Doc, lex: Lexicon, text: str) -> None:
        array = doc.to_array([IDX, LENGTH, SENT_START, IS_SPACE]) if len(doc) else None
        rows = array[:, :3].tolist() if array is not None else []
        words = [text[r[0] : r[0] + r[1]] for r in rows]
        markup = markup_tokens(doc)
        if markup or (array is not None and array[:, 3].any()):
            rows, words = _without_markup(rows, words, markup)
        self.lex, self.n = lex, len(rows)
        self.starts = [r[0] for r in rows]
        self.ends = [r[0] + r[1] for r in rows]
        self.words = words
        if any(chr(c) in text for c in _INVISIBLE):
            self.words = [w.translate(_INVISIBLE) or "\u200b" for w in self.words]
        self.lows = [w.lower() for w in self.words]
        self.sent_start = [r[2] == 1 for r in rows]
        self.taken = [False] * self.n
        self.found: list[Identifier] = []

    def add(self, i: int, j: int, label: str = "NAME") -> bool:
        """Record tokens ``[i, j)`` as a span (taking in a "Surname," before a NAME)."""
        if label == "NAME" and i >= 2 and self.words[i - 1] == "," and self.inverted(i - 2):
            i -= 2
        self.found.append(Identifier(self.starts[i], self.ends[j - 1], label))
        for k in range(i, j):
            self.taken[k] = True
        return True

    def inverted(self, k: int) -> bool:
        """Tell whether token ``k`` opens a "Surname, Firstname" heading ("Adeyemi, Olumide")."""
        w = self.words[k]
        opening = k == 0 or self.sent_start[k] or self.words[k - 1] in {":", "-", "(", "\n"}
        name = (is_titleish(w) or (w.isupper() and len(w) > 2)) and self.lows[
            k
        ] not in self.lex.blocked
        return opening and name and not self.taken[k]

    def low(self, i: int) -> str:
        """Return the lower-case form of token ``i``, or "" outside the doc."""
        return self.lows[i] if 0 <= i < self.n else ""

    def typo(self, low: str) -> bool:
        """Tell whether swapping two neighbouring letters gives a common word ("queired")."""
        words = self.lex.dictionary
        if not 5 <= len(low) <= MAX_WORD:
            return False
        return any(
            low[:k] + low[k + 1] + low[k] + low[k + 2 :] in words for k in range(len(low) - 1)
        )

    def plausible(self, low: str) -> bool:
        """Tell whether ``low`` may be a name: no blocked word, eponym, drug or typo."""
        lex = self.lex
        return not (
            low in lex.blocked
            or low in lex.eponyms
            or low.endswith(lx.DRUG_ENDINGS)
            or self.typo(low)
        )

    def verb(self, low: str) -> bool:
        """Tell whether ``low`` reads as a verb: a cue verb or a common word's past tense.

        "queried" (query), "booked", "noted", "stopped", "rebooked" (booked) are verbs; "reed"
        and "harding" are not.
        """
        if low in lx.VERBS:
            return True
        if len(low) < 5 or not low.endswith("ed"):
            return False
        common = self.lex.common
        stems = [low[:-1], low[:-2]]
        if low.endswith("ied"):
            stems.append(low[:-3] + "y")
        elif low[-3] == low[-4]:
            stems.append(low[:-3])
        return any(len(s) > 2 and s in common for s in stems) or (
            low.startswith("re") and low[2:] in common
        )

    def unknown(self, i: int) -> bool:
        """Tell whether token ``i`` is capitalised and no dictionary, clinical or drug word."""
        low = self.low(i)
        return is_titleish(self.words[i]) and low not in self.lex.common and self.plausible(low)

    def lower_name(self, i: int) -> bool:
        """Tell whether token ``i`` is a lower-case word that may be a name."""
        low = self.low(i)
        return (
            is_lowerish(self.words[i])
            and low not in self.lex.common
            and not low.endswith(lx.LOWER_WORD_ENDINGS)
            and self.plausible(low)
        )

    def surname(self, i: int, lower: bool) -> bool:
        """Tell whether token ``i`` may continue a name as a surname."""
        if i >= self.n or self.taken[i]:
            return False
        low = self.lows[i]
        if lower:
            return self.lower_name(i)
        return is_titleish(self.words[i]) and low not in self.lex.title_blocked

    def extend(self, j: int, lower: bool) -> int:
        """Extend a name ending before token ``j`` over surnames, middle initials and hyphens."""
        for step in range(3):
            if (
                j + 1 < self.n
                and self.words[j] in {"-", "–"}
                and self.surname(j + 1, lower)
                or (
                    j + 1 < self.n
                    and ANY_INITIAL.fullmatch(self.words[j])
                    and self.surname(j + 1, lower)
                )
            ):
                j += 2
            elif self.surname(j, lower) or (lower and step == 0 and self.lower_surname(j)):
                j += 1
            else:
                break
        return j

    def prev_cue(self, i: int) -> tuple[str, bool]:
        """Return the cue before token ``i`` ("kin", "strong", "weak", "") and any comma."""
        k, comma = i - 1, False
        while k >= 0 and self.words[k] in _CUE_SKIP:
            comma = comma or self.words[k] == ","
            k -= 1
        low = self.low(k).rstrip(".")
        if low in lx.KIN_ROLE:
            return "kin", comma
        if low in lx.ROLE_BEFORE:
            return "strong", comma
        before = self.low(k - 1)
        weak = low in lx.WEAK_BEFORE or (
            (low == "to" and before in lx.TO_VERBS)
            or (low == "from" and before in lx.FROM_NOUNS)
            or (low == "with" and before in lx.WITH_VERBS)
            or (low == "by" and before in lx.BY_VERBS)
        )
        return ("weak" if weak else ""), comma

    def next_cue(self, j: int) -> str:
        """Return the cue starting at token ``j``: "strong" (a role), "weak" (a verb) or ""."""
        k = j
        for _ in range(5):
            low = self.low(k)
            if low in lx.ROLE_AFTER:
                return "strong"
            if low not in lx.ROLE_AFTER_SKIP:
                break
            k += 1
        return "weak" if self.low(j) in lx.VERB_AFTER else ""

    def eponym(self, i: int) -> bool:
        """Tell whether token ``i`` names a disease or sign ("Parkinson's", "Bell's palsy")."""
        low, nxt = self.low(i), self.low(i + 1)
        if low in self.lex.eponyms and (nxt in _POSSESSIVE or low.endswith("s")):
            return True
        return nxt in lx.DISEASE or (nxt in _POSSESSIVE and self.low(i + 2) in lx.DISEASE)

    def institution(self, i: int) -> bool:
        """Tell whether token ``i`` is part of an institution's name ("St George's")."""
        if self.low(i - 1) in lx.INSTITUTION_BEFORE:
            return True
        k = i + 1
        while k < min(self.n, i + 4) and (
            is_titleish(self.words[k]) or self.lows[k] in _POSSESSIVE
        ):
            if self.lows[k] in lx.INSTITUTION:
                return True
            k += 1
        return self.low(k) in lx.INSTITUTION

    def lower_surname(self, i: int) -> bool:
        """Tell whether lower-case token ``i`` may be the surname after a lower-case first name."""
        if i >= self.n or self.taken[i] or not is_lowerish(self.words[i]):
            return False
        low = self.lows[i]
        return not (
            low in self.lex.blocked
            or low in lx.NAME_STOP_AFTER
            or low.endswith(lx.LOWER_WORD_ENDINGS)
            or low.endswith(lx.DRUG_ENDINGS)
        )
