"""Character-level patterns for structured identifiers (numbers, dates, contacts, addresses).

These run as compiled regular expressions over the whole text: the identifiers they find cross
token boundaries ("07700 900 123", "12 High Street"), so hand regex is both faster and clearer
than token patterns here. Names and initials, which need word context, live in
:mod:`pipeline.redact_names`.

Decisions (see also :mod:`pipeline.redact`):

* a DATE has at least two of day, month and year ("12/03/2024", "3rd June", "June 2024", "14/03");
  a month alone ("in March") or a year alone ("in 2019") is kept, except a year after "DOB"/"born";
* GP shorthand survives: "x/7", "x/12", "x/52", "24/7", "28/40" and fractions such as "1/2" are not
  dates; a two-part date needs a day above 12 or a zero-padded part ("14/3", "05/11");
* any 3-3-4 or unbroken 10-digit run is an NHS number, check digit or not; 11-digit numbers
  starting 0 (or +44 numbers) are phone numbers;
* a POSTCODE has Royal Mail's format (whose inward letters leave out C, I, K, M, O and V, so
  "B12 1mg" is a dose), or is an NHS pseudo-postcode ("ZZ99 3VZ") or an overseas one.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass

from pipeline.markup import is_block_tag, markup_spans

__all__ = ["LABELS", "Identifier", "find_structured"]

#: Labels in priority order: when two candidates overlap equally, the earlier label wins.
LABELS: tuple[str, ...] = (
    "EMAIL", "PHONE", "NHS_NUMBER", "DATE", "POSTCODE", "ADDRESS", "HOSPITAL_NUMBER", "NAME",
    "INITIALS",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Identifier:
    """One identifier found in a text: character offsets ``[start, end)`` and its label."""

    start: int
    end: int
    label: str


_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_WEEKDAY = (
    r"(?:(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day|nesday|rsday|urday)?\.?,?\s+)?"
)
_DAY = r"(?:3[01]|[12]\d|0?[1-9])(?:st|nd|rd|th)?"
_YEAR_TAIL = r"(?:,?\s*(?:(?:19|20)\d{2}|'\d{2}|\d{2}(?![\w/.])))"
_UNITS = r"\s*(?:units?|iu|mg|mcg|micrograms?|ml|mls|g|kg|mmol|tabs?|tablets?|caps?|%)\b"
_SUFFIX = (
    "Road|Rd|Street|St|Lane|Ln|Avenue|Ave|Close|Drive|Way|Crescent|Cres|Court|Ct|Gardens|Gdns"
    "|Grove|Place|Pl|Terrace|Mews|Rise|Walk|Hill|Park|Square|Sq|View|Vale|Row|Green|Parade|Gate"
    "|Wharf|Yard|Croft|Meadow|Meadows|Fields|Field|Villas|Cottages|Heights|Brow|Chase|Lea|Wynd"
    # USPS Publication 28 suffixes also seen in exports and in Faker's en_GB addresses:
    "|Alley|Branch|Bridge|Brooks?|Burgs?|Bypass|Camp|Canyon|Cape|Causeway|Centers?|Circles?"
    "|Cliffs?|Club|Common|Corners?|Course|Courts|Coves?|Creek|Crest|Crossing|Crossroad|Curve|Dale"
    "|Dam|Divide|Drives|Estates?|Expressway|Extensions?|Falls?|Ferry|Flats|Fords?|Forest|Forges?"
    "|Forks?|Fort|Freeway|Garden|Gateway|Glens?|Greens|Groves|Harbors?|Haven|Highway|Hills|Hollow"
    "|Inlet|Islands?|Isle|Junctions?|Keys?|Knolls?|Lakes?|Land|Landing|Light|Lights|Loaf|Locks?"
    "|Lodge|Loop|Mall|Manors?|Mill|Mills|Mission|Motorway|Mount|Mountains?|Neck|Orchard|Oval"
    "|Overpass|Parks|Parkways?|Pass|Passage|Path|Pike|Pines?|Plains?|Plaza|Points?|Ports?|Prairie"
    "|Radial|Ramp|Ranch|Rapids?|Rest|Ridges?|River|Roads|Route|Rue|Run|Shoals?|Shores?|Skyway"
    "|Springs?|Spurs?|Squares|Station|Stravenue|Stream|Streets|Summit|Trace|Track|Trafficway"
    "|Trail|Throughway|Tunnel|Turnpike|Underpass|Unions?|Valleys?|Via|Viaduct|Views|Villages?|Ville|Vista"
    "|Walks|Wall|Ways|Wells?|Flat"
)
# Lower-case addresses ("12 acacia avenue"): suffixes that are rarely ordinary words after a number.
_LOWER_SUFFIX = (
    "road|rd|street|lane|avenue|ave|crescent|gardens|garden|gdns|terrace|grove|mews|rise|walk"
    "|walks|parade|fields|freeway|expressway|highway|motorway|turnpike|throughway|parkway|skyway"
    "|stravenue|trafficway|viaduct|underpass|overpass|crossroad|junction|plaza|prairie|canyon"
    "|village|villages|ville|estates?|heights|meadows|orchard|ports|shores|shoals|rapids|ranch"
    "|manors|lodge|hollow|harbou?rs?|knolls|islands|isle|lakes|centers|circles|crossing|coves"
    "|creek|inlet|ridges?|pines?|flats|cottages|villas|wharf|croft"
)
_STREET_WORD = r"[A-Z][A-Za-z'-]*\.?"
_STREET_END = rf"(?:(?:St|Rd|Ave|Ln|Cres|Ct|Gdns|Pl|Sq)\.|(?:{_SUFFIX})\b)"
# Royal Mail's format; NHS pseudo-postcodes ("ZZ99 3VZ", no fixed abode), whose inward letters
# break its rules; British Overseas Territories ("STHL 1ZZ"); forces addresses ("BFPO 123").
_POSTCODE = (
    r"(?:(?:[A-Z]{1,2}\d[A-Z\d]?|GIR)\s*\d[ABD-HJLNP-UW-Z]{2}|ZZ99\s*\d[A-Z]{2}"
    r"|(?:ASCN|BBND|BIQQ|FIQQ|PCRN|SIQQ|STHL|TDCU|TKCA)\s*1ZZ|BFPO\s*\d{1,4})"
)

_MONTH_GATE = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_FLAT_GATE = ("flat", "apartment", "apt", "studio", "unit")

# Each pattern opens with a look-ahead for its possible first characters ("(?=\d)"): it changes
# no match but lets the regex engine skip ahead, which halves the time these patterns take.
_MONTH_FIRST = "(?=[adfjmnos])"  # the first letters of the months (the patterns ignore case)

# (label, pattern, group, flags, gate): group 1 is a value captured after a cue, else the whole
# match; a pattern runs only when the lower-cased text contains one of its gate strings (cheap
# substring tests that skip most patterns on most texts).
_RAW: tuple[tuple[str, str, int, int, tuple[str, ...]], ...] = (
    ("EMAIL", r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+", 0, 0, ("@",)),
    ("PHONE", r"(?=[+(0])(?<![\w+])(?:\+\s?44\s?(?:\(0\)\s?)?\(?\d{2,5}\)?|\(?0\d{2,5}\)?)"
              r"[\s-]?\d{3,4}[\s-]?\d{3,4}(?![\d/])", 0, 0, ()),
    ("NHS_NUMBER", r"(?=\d)(?<![\d/])\d{3}[\s-]?\d{3}[\s-]?\d{4}(?![\d/]|\.\d)", 0, 0, ()),
    ("DATE", r"(?=\d)(?<![\d/.-])(?:3[01]|[12]\d|0?[1-9])([/.-])(?:1[0-2]|0?[1-9])\1(?:19|20)?\d{2}"
             r"(?![\d/]|\.\d)", 0, 0, ()),
    ("DATE", r"(?=[12])(?<!\d)(?:19|20)\d{2}-(?:1[0-2]|0[1-9])-(?:3[01]|[12]\d|0[1-9])(?!\d)", 0, 0,
     ("-",)),
    ("DATE", r"(?=\d)(?<![\d/.])(?!24/7(?!\d))(?:(?:1[3-9]|2\d|3[01])/(?:1[0-2]|0?[1-9])"
             r"|0[1-9]/(?:1[0-2]|0[1-9])|(?:1\d|2\d|3[01])/0[1-9])(?![\d/]|\.\d)", 0, 0, ("/",)),
    ("DATE", rf"(?=\d)\b{_DAY}(?:\s+of)?[\s-]+{_MONTH}\b\.?{_YEAR_TAIL}?", 0, re.I, _MONTH_GATE),
    ("DATE", rf"{_MONTH_FIRST}\b(?!(?-i:may)\s){_MONTH}\.?\s+{_DAY}(?![\w/:.]){_YEAR_TAIL}?", 0,
     re.I, _MONTH_GATE),
    ("DATE", rf"{_MONTH_FIRST}\b{_MONTH}\.?,?\s+(?:of\s+)?(?:19|20)\d{{2}}\b", 0, re.I,
     _MONTH_GATE),
    ("DATE", r"(?=[db])\b(?:d\.?o\.?b\.?|date of birth|born(?:\s+in)?)[:\s]+((?:19|20)\d{2})\b", 1,
     re.I, ("dob", "d.o.b", "birth", "born")),
    ("POSTCODE", rf"(?=[A-Z])\b{_POSTCODE}\b", 0, re.I, ()),
    ("ADDRESS", rf"(?=\d)\b\d{{1,4}}[A-Za-z]?,?\s+(?:{_STREET_WORD}\s+){{1,3}}{_STREET_END}", 0, 0,
     ()),
    ("ADDRESS", rf"(?=[FASU])\b(?:Flat|Apartment|Apt|Studio|Unit)\s+\d+[A-Za-z]?,?\s+"
                rf"(?:\d{{1,4}}[A-Za-z]?,?\s+)?(?:{_STREET_WORD}\s+){{1,3}}{_STREET_END}", 0, 0,
     _FLAT_GATE),
    ("ADDRESS", rf"(?=\d)\b\d{{1,4}}[a-z]?,?\s+(?:[a-z][a-z'-]+\s+){{1,3}}(?:{_LOWER_SUFFIX})\b", 0,
     0, ()),
    ("ADDRESS", rf"(?=[fsau])\b(?:flat|studio|apartment|apt|unit)\s+\d+[a-z]?,?\s+"
                rf"(?:\d{{1,4}}[a-z]?,?\s+)?(?:[a-z][a-z'-]+\s+){{1,3}}(?:{_LOWER_SUFFIX})\b", 0, 0,
     _FLAT_GATE),
    ("HOSPITAL_NUMBER", r"(?=[A-Z])(?<![\w/.-])[A-Z]{1,3}-?\d{6,9}[A-Z]?(?![\w/])", 0, 0, ()),
    ("HOSPITAL_NUMBER", rf"(?=\d)(?<![\w/.,£$-])\d{{6,9}}(?![\w/,]|\.\d|{_UNITS})", 0, 0, ()),
)  # fmt: skip
_COMPILED: tuple[tuple[str, re.Pattern[str], int, tuple[str, ...]], ...] = tuple(
    (label, re.compile(pattern, flags), group, gate) for label, pattern, group, flags, gate in _RAW
)
# Hospital, lab and system numbers after a cue: found number-first (4-10 digits), then the cue is
# looked for just before the number, which is much faster than scanning for every cue word.
_DIGITS = re.compile(r"(?=\d)(?<!\d)\d{4,10}(?!\d)")
_ID_CUE_BEFORE = re.compile(
    r"\b(?:hosp(?:ital)?\.?\s*(?:no|number|num|ref|id)|mrn|unit\s*(?:no|number)"
    r"|(?:emis|systm\s?one|s1|vision|patient|pt|lab|specimen|sample|case|rx[a-z]?)"
    r"\s*(?:no|number|num|id|ref)|ref(?:erence)?(?:\s*(?:no|number))?|id)\b\.?\s*[:#]?\s*"
    r"([a-z\d]{0,4}[-\s]?)$",
    re.I,
)
_WEEKDAY_BEFORE = re.compile(
    r"\b(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day|nesday|rsday|urday)?\.?,?\s+$", re.I
)
_PHONE_DIGITS = {(True, 11), (True, 12), (False, 10), (False, 11)}
_TOWN = re.compile(r",\s*((?:[A-Z][a-z'-]+)(?:\s+[A-Z][a-z'-]+){0,2})(?=\s*(?:[,.;\n)]|$|\s+\S))")
_TOWN_LOWER = re.compile(
    rf",?\s*([a-z][\w'-]+(?:\s+[a-z][\w'-]+){{0,2}})(?=,?\s*{_POSTCODE}\b)", re.I
)
_NOT_TOWN_WORDS = (
    "the and but or to for with on at in by of from who which pt patient dr mr mrs ms miss tel"
    " phone mob email nhs dob"
)
_NOT_TOWN = frozenset(_NOT_TOWN_WORDS.split())


def _valid(label: str, text: str) -> bool:
    if label == "PHONE":
        digits = sum(ch.isdigit() for ch in text)
        intl = text.lstrip().startswith("+")
        return (intl, digits - (1 if "(0)" in text else 0)) in _PHONE_DIGITS
    return True


def _town_end(text: str, end: int) -> int:
    """Extend an address over a following ", Town" (title case, or lower case before a postcode)."""
    for pattern in (_TOWN, _TOWN_LOWER):
        m = pattern.match(text, end)
        if m and not any(w.lower() in _NOT_TOWN for w in m.group(1).split()):
            return m.end(1)
    return end


def find_structured(text: str) -> Iterator[Identifier]:
    """Yield every candidate structured identifier in ``text`` (candidates may overlap).

    Text with HTML markup is searched twice: as it is (an e-mail address inside a tag) and with
    the markup read as spaces and characters ("07700&nbsp;900123").

    Parameters
    ----------
    text : str
        The narrative.

    Yields
    ------
    Identifier
        Candidate spans; :func:`pipeline.redact.resolve_overlaps` picks among overlapping ones.
    """
    yield from _find(text)
    spans = markup_spans(text)
    if spans:
        plain, starts, ends = _unmarked(text, spans)
        for ident in _find(plain):
            yield Identifier(starts[ident.start], ends[ident.end - 1], ident.label)


def _unmarked(text: str, spans: list[tuple[int, int]]) -> tuple[str, list[int], list[int]]:
    """Return ``text`` with markup replaced, and each character's start and end in ``text``.

    A tag becomes a space (a line break if it ends a line), a character reference its character.
    """
    parts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    for start, end in spans:
        parts.append(text[pos:start])
        starts.extend(range(pos, start))
        ends.extend(range(pos + 1, start + 1))
        markup = text[start:end]
        char = html.unescape(markup) if markup.startswith("&") else " "
        if len(char) != 1 or char.isspace():
            char = "\n" if is_block_tag(markup) else " "
        parts.append(char)
        starts.append(start)
        ends.append(end)
        pos = end
    parts.append(text[pos:])
    starts.extend(range(pos, len(text)))
    ends.extend(range(pos + 1, len(text) + 1))
    return "".join(parts), starts, ends


def _find(text: str) -> Iterator[Identifier]:
    lowered = text.lower()
    for label, pattern, group, gate in _COMPILED:
        if gate and not any(g in lowered for g in gate):
            continue
        for m in pattern.finditer(text):
            start, end = m.span(group)
            if start < 0 or not _valid(label, m.group(group)):
                continue
            if label == "ADDRESS":
                end = _town_end(text, end)
            elif label == "DATE" and group == 0:
                weekday = _WEEKDAY_BEFORE.search(text, max(0, start - 14), start)
                start = weekday.start() if weekday else start
            yield Identifier(start, end, label)
    for m in _DIGITS.finditer(text):
        start, end = m.span()
        cue = _ID_CUE_BEFORE.search(text, max(0, start - 40), start)
        if cue:
            if end < len(text) and text[end].isalpha() and not text[end + 1 : end + 2].isalnum():
                end += 1
            yield Identifier(cue.start(1), end, "HOSPITAL_NUMBER")
