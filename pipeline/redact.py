r"""De-identification: find personal identifiers and replace them with typed placeholders.

Everything is rule-based and runs in a ``spacy.blank("en")`` pipeline (see
:func:`pipeline.text.load_nlp`), so it works offline with no statistical model. Redaction happens
before anything is stored, embedded or shown.

Placeholders (one per label):

``[NHS_NUMBER]``
    Any 3-3-4 or unbroken 10-digit number ("943 476 5919"), valid check digit or not.
``[DATE]``
    Dates with at least two of day, month and year, in any common form ("12/03/1956",
    "3rd June 2024", "14/03", "June 2024"), and a year after "DOB" or "born". A month alone
    ("in March"), a year alone, weekdays, times ("10:30", "3pm") and GP shorthand ("3/7", "1/52",
    "2/12") are kept: they carry clinical or seasonal meaning and identify no one.
``[PHONE]``
    UK phone numbers (10-11 digits from 0, or +44), any grouping or brackets.
``[EMAIL]``
    E-mail addresses.
``[POSTCODE]``
    UK postcodes, any case, with or without the space, NHS pseudo-postcodes ("ZZ99 3VZ", no
    fixed abode), British Overseas Territory postcodes ("STHL 1ZZ") and "BFPO" numbers.
``[ADDRESS]``
    Street addresses ("Flat 3, 12 High Street", "77 Hobbs Gardens, Leeds").
``[HOSPITAL_NUMBER]``
    Hospital, lab and clinical-system numbers after a cue ("MRN", "hosp no", "EMIS no") and bare
    letter-and-digit or 6-9 digit identifiers ("RX1234567").
``[NAME]``
    Names after titles and roles (also a title ending a line: "Dr\nPatel"), gazetteer first
    names, unknown capitalised words in name contexts (see :mod:`pipeline.redact_names`), and
    names marked by layout: "Surname, Firstname" lists, table cells, XML elements and attribute
    values that hold only a name, and other mentions of a name found so (see
    :mod:`pipeline.redact_layout`). Titles stay: "Mrs [NAME]".
``[INITIALS]``
    Initials with a cue ("HCA [INITIALS]", "checked by [INITIALS]", "initials [INITIALS]"),
    dotted ("J.S."), after a name they abbreviate ("Amy Morris ([INITIALS])") or a patient
    ("Pt ([INITIALS])", "pt [INITIALS] (84F)"); abbreviations elsewhere stay ("AM appt", "DN to
    visit").

Clinical content survives: drugs and doses, test values ("INR 4.2", "BP 140/90"), eponyms
("Parkinson's", "Bell's palsy"), roles, clinical systems (EMIS, SystmOne, Docman), services
(NHS 111, A&E) and hospitals named after people. So do the roles, verbs and abbreviations of
other safety domains ("Captain noticed", "Packer noticed", "ODP confirmed"), and reports typed
in capitals ("CAPT NOTICED THE ALT ALERT AND CALLED FO TO CHK"), where capitals are no name
cue. Redacting redacted text changes nothing.

Markup (HTML tags, paired XML tags, comments, character references such as ``&nbsp;``; see
:mod:`pipeline.markup`) is kept as it is, and does not hide identifiers: "<i>Mr Joe Smith</i>"
gives "<i>Mr [NAME]</i>", ``<img alt="John Smith">`` gives ``<img alt="[NAME]">``,
"<patient>Jane Doe</patient>" gives "<patient>[NAME]</patient>", "07700&nbsp;900123" gives
"[PHONE]". Memory stays flat however many texts are redacted (see
:func:`pipeline.text.map_docs`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence

from spacy.language import Language
from spacy.tokens import Doc

from pipeline.markup import doc_text
from pipeline.redact_lexicon import load_lexicon
from pipeline.redact_names import find_names
from pipeline.redact_patterns import LABELS, Identifier, find_structured
from pipeline.text import map_docs, prime_tokenizer

__all__ = [
    "Identifier",
    "NearmissRedactor",
    "apply_redactions",
    "find_identifiers",
    "redact_texts",
    "resolve_overlaps",
]

logger = logging.getLogger(__name__)

#: The Doc extension holding a doc's identifiers (a list of :class:`Identifier`).
EXTENSION = "nearmiss_identifiers"
_PRIORITY = {label: rank for rank, label in enumerate(LABELS)}


def resolve_overlaps(candidates: Iterable[Identifier]) -> list[Identifier]:
    """Merge overlapping candidates into one span each, labelled by the longest member.

    Overlaps are merged (their union is redacted) rather than dropped, so that no part of an
    identifier leaks when two rules disagree about its extent.

    Parameters
    ----------
    candidates : iterable of Identifier
        Spans, in any order, possibly overlapping.

    Returns
    -------
    list of Identifier
        Disjoint spans in text order.

    Examples
    --------
    >>> resolve_overlaps([Identifier(0, 4, "NAME"), Identifier(2, 9, "ADDRESS")])
    [Identifier(start=0, end=9, label='ADDRESS')]
    """
    out: list[Identifier] = []
    best: Identifier | None = None
    ordered = sorted(candidates, key=lambda c: (c.start, -c.end))
    for cand in ordered:
        if cand.end <= cand.start:
            continue
        if out and cand.start < out[-1].end:
            last = out[-1]
            assert best is not None
            if (cand.end - cand.start, -_PRIORITY[cand.label]) > (
                best.end - best.start,
                -_PRIORITY[best.label],
            ):
                best = cand
            out[-1] = Identifier(last.start, max(last.end, cand.end), best.label)
        else:
            best = cand
            out.append(cand)
    return out


def apply_redactions(text: str, identifiers: Sequence[Identifier]) -> str:
    """Replace each identifier span of ``text`` with its placeholder, e.g. ``[NAME]``.

    Parameters
    ----------
    text : str
        The original text.
    identifiers : sequence of Identifier
        Disjoint spans in text order (as :func:`resolve_overlaps` returns).

    Returns
    -------
    str
        The redacted text.

    Examples
    --------
    >>> apply_redactions("Mrs Jones rang", [Identifier(4, 9, "NAME")])
    'Mrs [NAME] rang'
    """
    parts: list[str] = []
    pos = 0
    for ident in identifiers:
        parts.append(text[pos : ident.start])
        parts.append(f"[{ident.label}]")
        pos = ident.end
    parts.append(text[pos:])
    return "".join(parts)


class NearmissRedactor:
    """spaCy component: finds identifiers and stores them on ``doc._.nearmiss_identifiers``.

    The text itself is never changed (spaCy docs are immutable); ``doc._.nearmiss_redacted``
    gives the redacted string.
    """

    def __init__(self) -> None:
        self.lexicon = load_lexicon()
        if not Doc.has_extension(EXTENSION):
            Doc.set_extension(EXTENSION, default=None)
        if not Doc.has_extension("nearmiss_redacted"):
            Doc.set_extension("nearmiss_redacted", getter=_redacted)

    def __call__(self, doc: Doc) -> Doc:
        """Find the identifiers of ``doc`` and store them on it."""
        text = doc_text(doc)
        candidates = list(find_structured(text))
        candidates.extend(find_names(doc, self.lexicon, text))
        doc._.set(EXTENSION, resolve_overlaps(candidates))
        return doc


def _identifiers(doc: Doc) -> list[Identifier]:
    return list(doc._.get(EXTENSION) or [])


def _redacted(doc: Doc) -> str:
    identifiers = doc._.get(EXTENSION)
    return apply_redactions(doc_text(doc), identifiers or [])


@Language.factory("nearmiss_redactor")
def make_redactor(nlp: Language, name: str) -> NearmissRedactor:
    """Build the :class:`NearmissRedactor` component (spaCy factory ``nearmiss_redactor``)."""
    return NearmissRedactor()


_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean(texts: Sequence[str]) -> list[str]:
    """Coerce to ``str`` (``None`` is empty) and replace lone surrogates, which spaCy rejects."""
    out = [t if isinstance(t, str) else "" if t is None else str(t) for t in texts]
    return [_SURROGATE.sub("\ufffd", t) if _SURROGATE.search(t) else t for t in out]


def find_identifiers(texts: Sequence[str], batch_size: int = 64) -> list[list[Identifier]]:
    """Find the personal identifiers in each text.

    Parameters
    ----------
    texts : sequence of str
        Narratives. ``None`` counts as an empty string.
    batch_size : int, default=64
        Texts per spaCy batch.

    Returns
    -------
    list of list of Identifier
        For each text, its disjoint identifier spans in text order.

    Examples
    --------
    >>> find_identifiers(["Seen by Dr Patel, INR 4.2"])
    [[Identifier(start=11, end=16, label='NAME')]]
    """
    return _find(_clean(texts), batch_size)[1]


def redact_texts(texts: Sequence[str], batch_size: int = 64) -> list[str]:
    """Replace personal identifiers in each text with typed placeholders such as ``[NAME]``.

    Parameters
    ----------
    texts : sequence of str
        Narratives to redact. ``None`` counts as an empty string. Any length or content is
        accepted (empty strings, control characters, emoji, 100,000 characters).
    batch_size : int, default=64
        Texts per spaCy batch.

    Returns
    -------
    list of str
        The redacted texts, in input order.

    Examples
    --------
    >>> redact_texts(["Mrs Jones (NHS 943 476 5919) rang 07700 900123 re amlodipine 5mg"])
    ['Mrs [NAME] (NHS [NHS_NUMBER]) rang [PHONE] re amlodipine 5mg']
    """
    out = _find(_clean(texts), batch_size)[0]
    logger.debug("redacted %d texts", len(out))
    return out


def _find(texts: list[str], batch_size: int) -> tuple[list[str], list[list[Identifier]]]:
    """Return the redacted texts and their identifiers; prime the tokenizer with the former."""
    found = map_docs(texts, _identifiers, batch_size=batch_size)
    redacted = [apply_redactions(text, spans) for text, spans in zip(texts, found, strict=True)]
    prime_tokenizer(redacted)
    return redacted, found
