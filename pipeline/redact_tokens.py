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
from pipeline.markup import is_block_tag, is_field_edge, markup_tokens, tag_name
from pipeline.redact_lexicon import Lexicon
from pipeline.redact_patterns import Identifier
from pipeline.redact_shapes import caps_lines, is_derived

__all__ = ["TokenView", "is_lowerish", "is_titleish"]

INITIALS = re.compile(r"[A-Z]{2,3}|(?:[A-Z]\.){1,2}[A-Z]\.?")
INITIAL = re.compile(r"[A-Z]\.?")
#: Initials that end a sentence, the full stop in the same token ("initials AM.").
INITIALS_DOT = re.compile(r"[A-Z]{2,3}\.")
ANY_INITIAL = re.compile(r"[A-Za-z]\.?")
#: An age and sex after initials, lower-cased: "84f", "84", "84yo" ("SEA re pt HB (84F)").
AGE_SEX = re.compile(r"\d{1,3}(?:yo|y)?[mf]?")
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
) -> tuple[list[list[int]], list[str], dict[int, str]]:
    """Drop inline tags, character references and spaces; a line-ending tag reads as a line break.

    The rules then see "Mr <i>Joe</i>&nbsp;Smith" as "Mr Joe Smith" (a name span covers any tag
    inside it), and "Smith<br>Plan" as two lines. The edges of an attribute's text
    (``<img alt="``, ``">``) read as line breaks too. A sentence start on a dropped token moves
    to the next token kept. Also returns the line breaks that are markup, by index among the
    kept tokens, with their tag names ("td", "surname", "" after an attribute's text): a table
    cell, XML element or attribute value lies between two of them.
    """
    tags = frozenset(markup)
    kept_rows: list[list[int]] = []
    kept_words: list[str] = []
    edges: dict[int, str] = {}
    starts = False
    for k, (row, word) in enumerate(zip(rows, words, strict=True)):
        if k in tags and (is_block_tag(word) or is_field_edge(word)):
            edges[len(kept_words)] = tag_name(word)
            word = "\n"
        elif k in tags or (word.isspace() and "\n" not in word):
            starts = starts or row[2] == 1
            continue
        kept_rows.append([row[0], row[1], 1 if starts else row[2]])
        kept_words.append(word)
        starts = False
    return kept_rows, kept_words, edges


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
    edges : dict of int to str
        Tokens that are markup read as a line break (a cell's, element's or attribute's edge),
        with their tag names.
    name_ends : dict of int to str
        For each NAME found, its last token and the initials of its words ("Amy Morris": "AM").
    sure : list of tuple of int
        The token spans of the NAMEs found by a title or by layout.
    caps : list of bool
        Tokens on a line typed in capitals (see :func:`caps_lines`). Their ``words`` are lower
        case, so that capitals are no name cue there ("CAPT NOTICED THE ALT ALERT" reads as
        "capt noticed the alt alert"); :meth:`raw` gives the word as written.
    """

    def __init__(self, doc: Doc, lex: Lexicon, text: str) -> None:
        array = doc.to_array([IDX, LENGTH, SENT_START, IS_SPACE]) if len(doc) else None
        rows = array[:, :3].tolist() if array is not None else []
        words = [text[r[0] : r[0] + r[1]] for r in rows]
        markup = markup_tokens(doc)
        self.edges: dict[int, str] = {}
        if markup or (array is not None and array[:, 3].any()):
            rows, words, self.edges = _without_markup(rows, words, markup)
        self.lex, self.n = lex, len(rows)
        self.starts = [r[0] for r in rows]
        self.ends = [r[0] + r[1] for r in rows]
        self.words = words
        if any(chr(c) in text for c in _INVISIBLE):
            self.words = [w.translate(_INVISIBLE) or "\u200b" for w in self.words]
        self.caps = [False] * len(rows)
        lines = caps_lines(text)
        if lines:
            self._lower_caps(lines)
        self.lows = [w.lower() for w in self.words]
        self.sent_start = [r[2] == 1 for r in rows]
        self.taken = [False] * self.n
        self.found: list[Identifier] = []
        self.name_ends: dict[int, str] = {}
        self.sure: list[tuple[int, int]] = []

    def _lower_caps(self, lines: list[tuple[int, int]]) -> None:
        """Lower-case the words on lines typed in capitals and mark them in ``caps``."""
        k = 0
        for start, end in lines:
            while k < len(self.starts) and self.starts[k] < start:
                k += 1
            while k < len(self.starts) and self.starts[k] < end:
                w = self.words[k]
                low = w.lower()
                if len(low) == len(w):  # "İ" lowers to two characters: keep it as written
                    self.words[k], self.caps[k] = low, True
                k += 1

    def raw(self, i: int) -> str:
        """Return token ``i`` as written (upper case on a line typed in capitals)."""
        return self.words[i].upper() if self.caps[i] else self.words[i]

    def add(self, i: int, j: int, label: str = "NAME", sure: bool = False) -> bool:
        """Record tokens ``[i, j)`` as a span (taking in a "Surname," before a NAME).

        ``sure`` marks a NAME found by a title or by layout, whose words
        :func:`pipeline.redact_layout.find_repeats` looks for elsewhere in the text.
        """
        if label == "NAME" and i >= 2 and self.words[i - 1] == "," and self.inverted(i - 2):
            i -= 2
        self.found.append(Identifier(self.starts[i], self.ends[j - 1], label))
        for k in range(i, j):
            self.taken[k] = True
        if label == "NAME":
            self.name_ends[j - 1] = "".join(w[0] for w in self.words[i:j] if w[0].isalpha())
            if sure:
                self.sure.append((i, j))
        return True

    def opening(self, k: int) -> bool:
        """Tell whether token ``k`` starts a line, sentence, field or list item."""
        if k == 0 or self.sent_start[k] or self.line_break(k - 1):
            return True
        # A hyphen touching the word is part of it ("C-Faller"), not a dash opening an item.
        dash = self.words[k - 1] in {"-", "–"} and self.ends[k - 1] == self.starts[k]
        return self.lows[k - 1].rstrip(".") in lx.LIST_OPENERS and not dash

    def inverted(self, k: int) -> bool:
        """Tell whether token ``k`` opens a "Surname, Firstname" heading ("Adeyemi, Olumide")."""
        w = self.words[k]
        low = self.lows[k]
        name = (is_titleish(w) or (w.isupper() and len(w) > 2)) and low not in self.lex.blocked
        # "Captain, Okafor noticed": a role opening the sentence stays.
        return self.opening(k) and name and not self.taken[k] and low not in self.lex.not_names

    def line_break(self, i: int) -> bool:
        """Tell whether token ``i`` is a line break (or markup read as one)."""
        return 0 <= i < self.n and "\n" in self.words[i] and self.words[i].isspace()

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
        return (
            is_titleish(self.words[i])
            and low not in self.lex.common
            and low not in self.lex.not_names
            and self.plausible(low)
        )

    def lower_name(self, i: int) -> bool:
        """Tell whether token ``i`` is a lower-case word that may be a name."""
        low = self.low(i)
        return (
            is_lowerish(self.words[i])
            and low not in self.lex.common
            and not low.endswith(lx.LOWER_WORD_ENDINGS)
            and low not in self.lex.not_names
            and self.plausible(low)
        )

    def derived(self, low: str) -> bool:
        """Tell whether ``low`` is a common word with a prefix or suffix (:func:`is_derived`)."""
        return is_derived(low, self.lex.common, self.lex.roles)

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
        """Return the cue before token ``i`` and any comma.

        The cue is "kin" (kin and staff: "Son Vida"), "strong" ("pt Olumide"), "role" (another
        occupation: "Captain Okafor"), "weak" ("asked Olumide") or "".
        """
        k, comma = i - 1, False
        while k >= 0 and self.words[k] in _CUE_SKIP:
            comma = comma or self.words[k] == ","
            k -= 1
        low = self.low(k).rstrip(".")
        if low in lx.KIN_ROLE:
            return "kin", comma
        if low in lx.ROLE_BEFORE:
            return "strong", comma
        if low in self.lex.role_cues:
            return "role", comma
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
        if i > 0 and self.lows[i - 1] in lx.PLACE_BEFORE and is_titleish(self.words[i - 1]):
            return True  # "Fort Wainwright", "San Carlos"; not "north josephine" in an address
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
