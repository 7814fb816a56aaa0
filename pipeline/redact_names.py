"""Token rules for personal names and initials, run on a spaCy ``Doc``.

A token becomes (part of) a NAME when:

1. it follows a title: "Mrs Jones", "Dr S Patel", "dr patel", "mr j smith" ("Dr AB" is INITIALS);
2. it is a first name from the gazetteer (``data/first_names.txt``), in title, upper or lower case;
   names that are also English words or months ("Will", "Grace", "June") need context: a title,
   a role or kin word, a role after them, a surname after them, or a cue such as "spoke to";
3. it is a capitalised word that is no dictionary, clinical or drug word, in a name context:
   after a role or kin word ("receptionist Olumide", "son Vida"), before a role ("Ayo on
   reception", "Ayo, the practice nurse") or a verb ("Adeyemi rang"), after a cue ("asked Ayo",
   "spoke to Ayo"), or next to another such word ("Dainis Palmisano");
4. it is a lower-case non-dictionary word right after a role or kin word ("receptionist ayo").

A name extends over a following surname, middle initial or hyphenated part ("Sarah J Smith-Jones").
INITIALS are dotted ("J.S.", "J. S.") or two or three capitals after a cue ("HCA JT", "checked by
AB", "(RS)", "KD actioned"); known abbreviations ("pt AF", "by GP") are not initials. Eponyms
("Parkinson's", "Bell's palsy") and hospitals named after people ("John Radcliffe Hospital",
"St George's") are not names. Typos of dictionary words ("queired") are not names either, nor
are capitalised verbs ("Pharmacist Queried the dose", "Daughter Rang back"): cue verbs and past
tenses of dictionary words. HTML tags, character references and extra spaces between words are
skipped ("Mr <i>Joe</i>&nbsp;Smith" is one name).
"""

from __future__ import annotations

from spacy.tokens import Doc

from pipeline import redact_lexicon as lx
from pipeline.redact_lexicon import Lexicon, load_lexicon
from pipeline.redact_patterns import Identifier
from pipeline.redact_tokens import (
    ANY_INITIAL,
    INITIAL,
    INITIALS,
    MAX_WORD,
    TokenView,
    is_lowerish,
    is_titleish,
)

__all__ = ["find_names"]


class _Finder(TokenView):
    """The name and initials rules, applied token by token (see the module docstring)."""

    def title(self, i: int) -> bool:
        w, low = self.words[i], self.lows[i].rstrip(".")
        if low not in lx.TITLES or (low in lx.TITLECASE_ONLY and not w[0].isupper()):
            return False
        j = i + 2 if self.low(i + 1) == "." else i + 1
        if j >= self.n:
            return False
        nxt = self.words[j]
        if INITIALS.fullmatch(nxt) and not INITIAL.fullmatch(nxt):
            block = (
                lx.DOTTED_ABBREVIATIONS if "." in nxt else lx.CORE_ABBREVIATIONS | self.lex.clinical
            )
            return nxt.replace(".", "").lower() not in block and self.add(j, j + 1, "INITIALS")
        k = j
        initial = INITIAL if w[0].isupper() else ANY_INITIAL
        while k < min(self.n, j + 2) and initial.fullmatch(self.words[k]):
            k += 1
        if k >= self.n:
            return False
        cand, clow = self.words[k], self.lows[k]
        if is_titleish(cand) and clow not in self.lex.title_blocked:
            return self.add(j, self.extend(k + 1, lower=False))
        lower_ok = low in lx.HONORIFICS or clow not in self.lex.common
        lower_ok = lower_ok and not clow.endswith(lx.LOWER_WORD_ENDINGS)
        if is_lowerish(cand) and clow not in self.lex.title_blocked and lower_ok:
            return self.add(j, self.extend(k + 1, lower=True))
        if cand.isupper() and len(cand) > 2 and cand.isalpha() and clow not in self.lex.clinical:
            return self.add(j, k + 1)
        return False

    def gazetteer(self, i: int) -> bool:
        w, low = self.words[i], self.lows[i]
        if low not in self.lex.first_names or low in self.lex.clinical:
            return False
        lower, upper = is_lowerish(w), w.isupper() and len(w) > 3 and w.isalpha()
        if not (is_titleish(w) or lower or upper) or self.eponym(i) or self.institution(i):
            return False
        if low in self.lex.ambiguous:
            kind, comma = self.prev_cue(i)
            strong = (kind in {"kin", "strong"} and not comma) or self.next_cue(i + 1) == "strong"
            if lower or upper:
                ok = strong
            else:
                surname = self.surname(i + 1, False) and self.low(i + 1) not in self.lex.common
                weak = kind == "weak" and not self.sent_start[i] and low not in lx.MONTHS
                ok = strong or surname or weak
            if not ok:
                return False
        return self.add(i, self.extend(i + 1, lower))

    def context(self, i: int) -> bool:
        w, low = self.words[i], self.lows[i]
        kind, comma = self.prev_cue(i)
        if is_titleish(w):
            if self.verb(low):  # "Pharmacist Queried the dose", "Daughter Rang back"
                return False
            kin = kind == "kin" and self.plausible(low) and not low.endswith(lx.LOWER_WORD_ENDINGS)
            if not (self.unknown(i) or kin) or self.institution(i):
                return False
            end = self.extend(i + 1, lower=False)
            if not (kind or self.next_cue(end) or (end > i + 1 and self.unknown(i + 1))):
                return False
            back = i > 0 and not self.taken[i - 1] and is_titleish(self.words[i - 1])
            back = back and self.lows[i - 1] not in self.lex.blocked and not kind
            return self.add(i - 1 if back else i, end)
        if self.lower_name(i):
            end = self.extend(i + 1, lower=True)
            nxt = self.next_cue(end)
            if (
                (kind in {"kin", "strong"} and not comma)
                or nxt == "strong"
                or (nxt and end > i + 1)
            ):
                back = i > 0 and not self.taken[i - 1] and self.lower_name(i - 1)
                return self.add(i - 1 if back else i, end)
        return False

    def initials(self, i: int) -> bool:
        w = self.words[i]
        if not INITIALS.fullmatch(w) or self.low(i - 1) == "[":
            return False
        bare, prev = w.replace(".", "").lower(), self.low(i - 1).rstrip(".")
        if "." in w:
            ok = bare not in lx.DOTTED_ABBREVIATIONS
        elif (
            prev in lx.INITIALS_STRONG
            or (prev == "by" and self.low(i - 2) in lx.BY_VERBS)
            or self.low(i + 1) in lx.INITIALS_ACTION_AFTER
        ):
            ok = bare not in lx.CORE_ABBREVIATIONS
        else:
            ok = bare not in self.lex.clinical and (
                prev in lx.INITIALS_WEAK
                or (prev == "(" and self.low(i + 1) == ")")
                or self.low(i + 1) in lx.INITIALS_VERB_AFTER
            )
        return ok and self.add(i, i + 1, "INITIALS")

    def dotted_pair(self, i: int) -> bool:
        """Spaced dotted initials: "J. S."."""
        pair = i + 1 < self.n and INITIAL.fullmatch(self.words[i]) and "." in self.words[i]
        pair = (
            pair and INITIAL.fullmatch(self.words[i + 1]) is not None and "." in self.words[i + 1]
        )
        return bool(pair) and self.add(i, i + 2, "INITIALS")


def find_names(doc: Doc, lex: Lexicon | None = None, text: str | None = None) -> list[Identifier]:
    """Return NAME and INITIALS spans in ``doc`` (character offsets, in text order).

    Parameters
    ----------
    doc : Doc
        A tokenised narrative (sentence boundaries are used when set).
    lex : Lexicon, optional
        Word lists; defaults to :func:`pipeline.redact_lexicon.load_lexicon`.
    text : str, optional
        ``doc.text``, when the caller has it already (rebuilding it costs a pass over the doc).

    Returns
    -------
    list of Identifier
        Spans labelled ``NAME`` or ``INITIALS``.
    """
    lex = lex or load_lexicon()
    f = _Finder(doc, lex, doc.text if text is None else text)
    for i in range(f.n):
        w = f.words[i]
        if f.taken[i] or not w[0].isalpha() or len(w) > MAX_WORD:
            continue
        # Dictionary words are skipped unless capitalised after a kin or role word ("Son Vida").
        plain = f.lows[i] in lex.skip and not w.isupper()
        if plain and not (is_titleish(w) and f.prev_cue(i)[0] == "kin"):
            continue
        if f.title(i) or f.gazetteer(i) or f.dotted_pair(i) or f.initials(i):
            continue
        f.context(i)
    return f.found
