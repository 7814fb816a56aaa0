r"""Token rules for personal names and initials, run on a spaCy ``Doc``.

A token becomes (part of) a NAME when:

1. it follows a title: "Mrs Jones", "Dr S Patel", "dr patel", "mr j smith" ("Dr AB" is INITIALS),
   or opens the next line after a title ending one, if it is no common word ("seen by Dr\nPatel",
   not "the Nurse\nPlan:");
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
AB", "(RS)", "KD actioned"); known abbreviations ("pt AF", "by GP") are not initials, unless the
context settles it: "initials GP", "Amy Morris (AM)" (the letters of the name before),
"Pt (AF) attended", "re pt HB (84F)". Layout rules (lists, cells, tags, repeats) live in
:mod:`pipeline.redact_layout`. Eponyms
("Parkinson's", "Bell's palsy") and hospitals named after people ("John Radcliffe Hospital",
"St George's") are not names. Typos of dictionary words ("queired") are not names either, nor
are capitalised verbs ("Pharmacist Queried the dose", "Daughter Rang back"): cue verbs and past
tenses of dictionary words. HTML tags, character references and extra spaces between words are
skipped ("Mr <i>Joe</i>&nbsp;Smith" is one name).

Reports of other safety domains name people by role. Role words (``data/roles.txt``: "Captain",
"Packer", "roofer", "ODP") and safety terms (``data/safety_terms.txt``: "Defib", "handover",
"ATC", "CHK") are never names, and never initials without a strong cue ("per ATC", "ODP
confirmed"); the word after a role is a name only if it looks like one ("Captain Okafor", not
"Pharmacist overrode": lower-case words made of common words, "over" + "rode", are no names).
A word opening a sentence with only a verb after it ("Householder rang") is no name when it is
made of common words. "Near miss" holds no title. On lines typed in capitals (see
:func:`pipeline.redact_tokens.caps_lines`) capitals are no cue: the words are read in lower case,
and two or three capitals are initials only after a strong cue ("CHECKED BY JT"), never when
they spell a word or a known abbreviation ("CALLED FO TO CHK").
"""

from __future__ import annotations

from spacy.lang.en.stop_words import STOP_WORDS
from spacy.tokens import Doc

from pipeline import redact_lexicon as lx
from pipeline.redact_layout import find_fields, find_lists, find_repeats
from pipeline.redact_lexicon import Lexicon, load_lexicon
from pipeline.redact_patterns import Identifier
from pipeline.redact_tokens import (
    AGE_SEX,
    ANY_INITIAL,
    INITIAL,
    INITIALS,
    INITIALS_DOT,
    MAX_WORD,
    TokenView,
    is_lowerish,
    is_titleish,
)

__all__ = ["find_names"]

#: Plural noun endings: "miss transmissions", "miss appointments" are no names.
_PLURAL_NOUN_ENDINGS = ("ions", "ments", "ings", "nesses")


class _Finder(TokenView):
    """The name and initials rules, applied token by token (see the module docstring)."""

    def title(self, i: int) -> bool:
        w, low = self.words[i], self.lows[i].rstrip(".")
        if low not in lx.TITLES or (low in lx.TITLECASE_ONLY and not w[0].isupper()):
            return False
        if self.low(i - 1) in lx.INITIALS_CUE:  # "initials MS." are no title
            return False
        if low == "miss" and self.low(i - 2 if self.low(i - 1) == "-" else i - 1) == "near":
            return False  # "Near Miss Entrapment", "Near-Miss Report"
        j = i + 2 if self.low(i + 1) == "." else i + 1
        if j >= self.n or (w.isupper() and len(w) > 1 and not self.words[j][:1].isupper()):
            return False  # "MS abbreviations", "DR appt": capitals are an abbreviation here
        if self.line_break(j) and self.words[j].count("\n") == 1:
            return self.next_line(j + 1)
        nxt = self.words[j]
        if self.caps[j] and self.lows[j] not in self.lex.skip:
            nxt = self.raw(j)  # "DR AB REVIEWED"
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
            return self.add(j, self.extend(k + 1, lower=False), sure=True)
        # "mrs reed", "mr donnelly"; but "near miss reported", "dr noted" are no names.
        verb_like = clow.endswith(lx.LOWER_WORD_ENDINGS)
        honorific = low in lx.HONORIFICS
        lower_ok = (honorific and low != "miss" and not self.verb(clow)) or (
            (honorific or clow not in self.lex.common) and not verb_like
        )
        if (
            is_lowerish(cand)
            and clow not in self.lex.title_blocked
            and lower_ok
            and not (low == "miss" and self.missed(k, j))
        ):
            return self.add(j, self.extend(k + 1, lower=True), sure=True)
        if cand.isupper() and len(cand) > 2 and cand.isalpha() and clow not in self.lex.clinical:
            return self.add(j, k + 1)
        return False

    def missed(self, k: int, j: int) -> bool:
        """Tell whether lower-case "miss" before token ``k`` is the verb or the noun.

        "miss a call", "miss the turn", "miss transmissions"; not "miss booth", "miss p little",
        "miss a ngonini".
        """
        clow = self.lows[k]
        return (
            (k > j and self.lows[j] in {"a", "i"} and clow in self.lex.skip)
            or clow in STOP_WORDS
            or clow.endswith(_PLURAL_NOUN_ENDINGS)
        )

    def next_line(self, k: int) -> bool:
        """Tell whether the line after a title opens with a name ("seen by Dr", "Patel").

        The word must be no common word: "Nurse", "O'Brien" on two lines is a name; "the
        Nurse", "Plan: ..." is not.
        """
        if k >= self.n or self.taken[k]:
            return False
        w, low = self.words[k], self.lows[k]
        if is_lowerish(w):
            ok, lower = self.lower_name(k) and low not in self.lex.places, True
        else:
            first = low in self.lex.first_names and low not in self.lex.ambiguous
            ok = is_titleish(w) and (first or self.unknown(k) and low not in self.lex.places)
            lower = False
            if not ok and is_titleish(w) and low not in self.lex.blocked and self.unknown(k + 1):
                ok = low not in self.lex.places  # "Dr\nJail Basu": the surname vouches
        return ok and self.add(k, self.extend(k + 1, lower), sure=True)

    def gazetteer(self, i: int) -> bool:
        w, low = self.words[i], self.lows[i]
        if low not in self.lex.first_names or low in self.lex.clinical:
            return False
        lower, upper = is_lowerish(w), w.isupper() and len(w) > 3 and w.isalpha()
        if not (is_titleish(w) or lower or upper) or self.eponym(i) or self.institution(i):
            return False
        if low in self.lex.ambiguous or low in self.lex.places:
            kind, comma = self.prev_cue(i)
            strong = (kind in {"kin", "strong"} and not comma) or self.next_cue(i + 1) == "strong"
            if lower or upper:
                ok = strong
            else:
                surname = self.surname(i + 1, False) and self.low(i + 1) not in self.lex.common
                weak = kind in {"weak", "role"} and not self.sent_start[i]
                weak = weak and low not in lx.MONTHS
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
            nxt = self.next_cue(end)
            if not (
                kind or nxt or (end > i + 1 and self.unknown(i + 1)) or self.initials_after(i, end)
            ):
                return False
            if (
                not kind
                and nxt == "weak"
                and end == i + 1
                and self.opening(i)
                and self.derived(low)
            ):
                # "Householder rang", "Helibase reported": opening a sentence, a word made of
                # common words needs a better cue than a verb ("Okafor noticed" keeps its).
                return False
            back = i > 0 and not self.taken[i - 1] and is_titleish(self.words[i - 1])
            back = back and self.lows[i - 1] not in self.lex.blocked and not kind
            back = back and self.lows[i - 1] not in self.lex.not_names
            return self.add(i - 1 if back else i, end)
        if self.lower_name(i) and not self.derived(low):  # "Pharmacist overrode", "roofer"
            end = self.extend(i + 1, lower=True)
            nxt = self.next_cue(end)
            if (
                (kind in {"kin", "strong", "role"} and not comma)
                or nxt == "strong"
                or (nxt and end > i + 1 and not self.caps[i])  # "CTG SOFTWARE FLAGGED"
                or self.initials_after(i, end)
            ):
                back = i > 0 and not self.taken[i - 1] and self.lower_name(i - 1)
                return self.add(i - 1 if back else i, end)
        return False

    def initials(self, i: int) -> bool:
        w = self.raw(i)
        if self.low(i - 1) in lx.INITIALS_CUE and INITIALS_DOT.fullmatch(w):  # "initials AM."
            self.add(i, i + 1, "INITIALS")
            self.found[-1] = Identifier(self.starts[i], self.ends[i] - 1, "INITIALS")
            return True
        if not INITIALS.fullmatch(w) or self.low(i - 1) == "[":
            return False
        bare, prev = w.replace(".", "").lower(), self.low(i - 1).rstrip(".")
        strong = (
            (prev in lx.INITIALS_STRONG and not (prev == "per" and self.low(i - 2) == "as"))
            or (prev == "by" and self.low(i - 2) in lx.BY_VERBS)
            or self.low(i + 1) in lx.INITIALS_ACTION_AFTER
        )
        if (
            prev in lx.INITIALS_CUE
            or self.named_initials(i, bare)
            or self.patient_initials(i, prev)
        ):
            ok = True  # the cue overrides abbreviations: "initials GP", "Amy Morris (AM)"
        elif "." in w:
            # Dots mark initials ("J.S.") or an abbreviation ("N.F.", "A.T.V."): a cue decides.
            ok = strong or (
                bare not in lx.DOTTED_ABBREVIATIONS
                and bare not in self.lex.terms
                and (
                    prev in lx.INITIALS_WEAK
                    or prev in lx.ROLE_BEFORE
                    or prev in {"(", "-", ",", ":"}
                    or self.low(i + 1) in lx.INITIALS_VERB_AFTER
                    or self.low(i + 1) in {"(", ")", ","}
                    or self.opening(i)
                )
            )
        elif strong:
            ok = bare not in lx.CORE_ABBREVIATIONS and bare not in lx.SAFETY_CORE_ABBREVIATIONS
            # In capitals every word is upper case: "CALLED BY THE CAPT" holds no initials.
            ok = ok and not (self.caps[i] and (bare in self.lex.skip or bare in self.lex.terms))
        elif self.caps[i]:
            ok = False  # "CALLED FO TO CHK": without a strong cue capitals are no initials
        else:
            # A word is no initials without a strong cue: "by NO means", "it did NOT".
            ok = bare not in self.lex.not_initials and bare not in self.lex.skip
            ok = ok and (
                prev in lx.INITIALS_WEAK
                or (prev == "(" and self.low(i + 1) == ")")
                or self.low(i + 1) in lx.INITIALS_VERB_AFTER
            )
        return ok and self.add(i, i + 1, "INITIALS")

    def initials_after(self, i: int, end: int) -> bool:
        """Tell whether tokens ``[i, end)`` are followed by their initials: "Amy Morris (AM)"."""
        if end - i < 2 or self.low(end) != "(" or self.low(end + 2) != ")":
            return False
        words = self.words[i:end]
        if any(low in self.lex.common or low in self.lex.places for low in self.lows[i:end]):
            return False  # "Alaska State Troopers (AST)", "Bendix King (BK)": organisations
        letters = "".join(w[0] for w in words if w[0].isalpha()).upper()
        return self.words[end + 1].replace(".", "") in {letters, letters[0] + letters[-1]}

    def named_initials(self, i: int, bare: str) -> bool:
        """Tell whether token ``i`` is "(XX)" right after a name with those initials."""
        if self.low(i - 1) != "(" or self.low(i + 1) != ")" or i < 2:
            return False
        letters = self.name_ends.get(i - 2, "").upper()
        want = bare.upper()
        return len(letters) > 1 and want in {letters, letters[0] + letters[-1]}

    def patient_initials(self, i: int, prev: str) -> bool:
        """Tell whether token ``i`` is a patient's initials: "Pt (AF)", "re pt HB (84F)"."""
        if prev == "(" and self.low(i + 1) == ")":
            # "Pt (HV)" is a patient's initials; "wrong record (ED)" may be the ED's record.
            cue = self.low(i - 2)
            core = self.lows[i].replace(".", "") in lx.CORE_ABBREVIATIONS
            return cue in lx.INITIALS_PATIENT and (cue in {"pt", "patient"} or not core)
        return (
            prev in lx.INITIALS_PATIENT
            and self.low(i + 1) == "("
            and AGE_SEX.fullmatch(self.low(i + 2)) is not None
        )

    def dotted_pair(self, i: int) -> bool:
        """Spaced dotted initials: "J. S."."""
        pair = i + 1 < self.n and INITIAL.fullmatch(self.raw(i)) and "." in self.words[i]
        pair = pair and INITIAL.fullmatch(self.raw(i + 1)) is not None and "." in self.words[i + 1]
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
    if f.edges:
        find_fields(f)
    if "," in f.words:
        find_lists(f)
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
    if f.sure:
        find_repeats(f)
    return f.found
