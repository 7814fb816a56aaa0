"""Names marked by layout rather than by words: cells, lists and repeats.

Run on a :class:`pipeline.redact_tokens.TokenView` before and after the word rules of
:mod:`pipeline.redact_names`:

* :func:`find_fields`: a table cell, XML element or attribute value that holds nothing but one
  to four name-like words is a name (``<td>Adeyemi</td>``, ``<surname>Smith</surname>``,
  ``<img alt="Olumide Adeyemi">``), unless a word is a dictionary, clinical, drug, place or
  heading word (``<td>Warfarin</td>``, ``<td>Reading</td>``, ``<th>Forename</th>``);
* :func:`find_lists`: "Surname, Firstname" items that fill a line or list slot ("Attendees:
  Smith, John; Adeyemi, Olumide", "Re: Adeyemi, Olumide" at the end of a text);
* :func:`find_repeats`: a word found in a name elsewhere in the same text is a name wherever it
  is capitalised ("Mrs Wells ... <td>Wells</td>"), unless it names a disease or an institution
  there ("Parkinson's", "Wells Hospital").
"""

from __future__ import annotations

from pipeline import redact_lexicon as lx
from pipeline.redact_tokens import TokenView, is_lowerish, is_titleish

__all__ = ["find_fields", "find_lists", "find_repeats"]

#: Longest field read as a name, in tokens ("Mary Anne Smith - Jones" is five).
_FIELD_TOKENS = 5
_HYPHENS = frozenset({"-", "–"})
_POSSESSIVE = frozenset({"'s", "'", "’s", "’"})
#: List closers that also join place and thing lists: the item needs a gazetteer first name.
_WEAK_CLOSERS = frozenset({",", "and", "&"})


def _capital(w: str) -> bool:
    """Tell whether ``w`` is capitalised or an all-capitals word ("Smith", "SMITH")."""
    return is_titleish(w) or (len(w) > 1 and w.isupper() and w.isalpha())


def _word(view: TokenView, k: int, first: bool, place: bool = False) -> bool:
    """Tell whether token ``k`` may be a name with no cue: no common, clinical or place word.

    With ``first``, a gazetteer first name (not an ambiguous one) passes even if common, and
    with ``place`` too even if a place ("Beverley").
    """
    w, low = view.words[k], view.lows[k]
    lex = view.lex
    if view.taken[k] or low in lex.blocked or (low in lex.places and not place):
        return False
    if first and low in lex.first_names and low not in lex.ambiguous:
        return _capital(w) or is_lowerish(w)
    if low in lex.places:
        return False
    if is_lowerish(w):
        return view.lower_name(k)
    return _capital(w) and low not in lex.common and _plausible(view, low)


def _plausible(view: TokenView, low: str) -> bool:
    """Tell whether a capitalised word in a list or field may be a name: no drug or eponym.

    Unlike free text, a near-miss of a common word passes ("SHERE", "Kenes"): the layout vouches
    for it. A near-miss of a clinical, role or heading word does not ("Apiaxban", "Pharmcay").
    """
    lex = view.lex
    if low in lex.eponyms or low.endswith(lx.DRUG_ENDINGS):
        return False
    swaps = (low[:k] + low[k + 1] + low[k] + low[k + 2 :] for k in range(len(low) - 1))
    return len(low) < 5 or not any(w in lex.blocked for w in swaps)


def find_fields(view: TokenView) -> None:
    """Redact the cells, elements and attribute values that hold only a name."""
    edges = sorted(view.edges)
    for a, b in zip(edges, edges[1:], strict=False):
        if not 1 < b - a <= _FIELD_TOKENS + 1:
            continue
        groups = _hyphenated(view, a + 1, b)
        if not groups:
            continue
        if view.edges[a] in lx.NAME_FIELDS:  # "<surname>Young</surname>": any word is a name
            ok = all(_wordish(view.words[k]) for group in groups for k in group)
        elif any(view.words[k].isupper() for group in groups for k in group):
            ok = False  # "<td>DNA</td>": capitals are an abbreviation
        else:
            passed = [any(_word(view, k, True) for k in group) for group in groups]
            # An ambiguous first name ("<td>Dawn</td>") passes only beside another name word.
            ambiguous = [view.lows[group[0]] in view.lex.ambiguous for group in groups]
            ok = any(passed) and all(p or amb for p, amb in zip(passed, ambiguous, strict=True))
            ok = ok and all(_common(view, k) or _word(view, k, True) for g in groups for k in g)
        if ok:
            view.add(a + 1, b, sure=True)


def _hyphenated(view: TokenView, start: int, end: int) -> list[list[int]]:
    """Return tokens ``[start, end)`` as hyphenated groups of words, or [] if they are not so."""
    groups: list[list[int]] = []
    k = start
    while k < end:
        if view.words[k] in _HYPHENS:
            return []
        group = [k]
        while k + 2 < end and view.words[k + 1] in _HYPHENS:
            k += 2
            group.append(k)
        groups.append(group)
        k += 1
    return groups


def find_lists(view: TokenView) -> None:
    """Redact "Surname, Firstname" items that fill a line or a list slot."""
    n, words = view.n, view.words
    for c in [k for k, w in enumerate(words) if w == ","]:
        if not 0 < c < n - 1 or view.taken[c - 1] or view.taken[c + 1]:
            continue
        if not (_wordish(words[c - 1]) and _wordish(words[c + 1])):
            continue
        start = c - 1
        while start >= 2 and view.words[start - 1] in _HYPHENS and _wordish(view.words[start - 2]):
            start -= 2
        if not view.opening(start):
            continue
        end = c + 2
        while end < n and end < c + 4 and _word(view, end, True) and not view.line_break(end):
            end += 1
        if not _closed(view, end):
            continue
        lower = is_lowerish(view.words[c + 1])
        if lower != is_lowerish(view.words[c - 1]) or view.words[c + 1].isupper():
            continue  # "serviceberry, Sagebrush"; "AFS, NPS" are no names
        firsts = range(c + 1, end)
        if any(view.words[k].isupper() for k in firsts):
            continue
        first = all(_word(view, k, True, place=True) for k in firsts)
        surnames = [_word(view, k, False) for k in range(start, c, 2)]
        # One passing part is enough in a hyphenated surname ("Hayer-Sarna").
        surname = all(surnames) or (len(surnames) > 1 and any(surnames))
        common = [_word(view, k, True) or _common(view, k) for k in range(start, c, 2)]
        # A common word ("Brown, James", "SAMA, Akinlabi", "CAVALCANTI, Made") is enough
        # beside a gazetteer first name, or beside an unknown name inside a list ("...; X, Y;").
        listed = view.low(start - 1) == ";" or view.low(end) == ";"
        given = view.lows[c + 1] in view.lex.first_names
        if (lower or view.low(end) in _WEAK_CLOSERS) and not (given or listed):
            continue  # "(serviceberry, sagebrush)", "Ortiz, Boundry, and Lookout"
        if (
            (first and surname)
            or (first and all(common) and (given or listed))
            or (listed and surname and all(_common(view, k) for k in firsts))
        ):
            view.add(start, end, sure=True)


def _wordish(w: str) -> bool:
    """Tell whether ``w`` is a capitalised or lower-case word (a part of a hyphenated name)."""
    return _capital(w) or is_lowerish(w)


def _common(view: TokenView, k: int) -> bool:
    """Tell whether token ``k`` is a common word that may still be a surname ("Brown", "SAMA")."""
    low = view.lows[k]
    lex = view.lex
    return (
        _wordish(view.words[k])
        and low in lex.common
        and low not in lex.blocked
        and low not in lex.places
        and view.plausible(low)
    )


def _closed(view: TokenView, end: int) -> bool:
    """Tell whether a list item may end before token ``end``."""
    return end >= view.n or view.line_break(end) or view.lows[end] in lx.LIST_CLOSERS


def find_repeats(view: TokenView) -> None:
    """Redact the other mentions of words found in names after a title or in a list or field.

    A mention counts when it is capitalised (or in lower case, if the name was) and does not
    read as part of a longer proper noun ("Wells Fargo", "the Bonneville crew").
    """
    lex = view.lex
    names: set[str] = set()
    lower: set[str] = set()  # names found in lower case match lower-case mentions too
    for i, j in view.sure:
        for k in range(i, j):
            low = view.lows[k]
            if (
                len(low) > 2
                and low.isalpha()
                and low not in lex.common
                and low not in lex.blocked
                and low not in lex.ambiguous
            ):
                names.add(low)
                if is_lowerish(view.words[k]):
                    lower.add(low)
    for i in range(view.n):
        low = view.lows[i]
        if view.taken[i] or low not in names:
            continue
        w = view.words[i]
        if not (is_titleish(w) or (low in lower and is_lowerish(w))):
            continue
        nxt = view.words[i + 1] if i + 1 < view.n else ""
        proper_noun = (_capital(nxt) and not view.taken[i + 1]) or view.low(i - 1) == "the"
        if not (proper_noun or _disease(view, i) or view.institution(i)):
            view.add(i, i + 1)


def _disease(view: TokenView, i: int) -> bool:
    """Tell whether a disease word follows token ``i`` ("Wells score", "Turner's syndrome")."""
    nxt = view.low(i + 1)
    return nxt in lx.DISEASE or (nxt in _POSSESSIVE and view.low(i + 2) in lx.DISEASE)
