r"""Text views: which part of a narrative each scheme reads.

``"full"``
    The whole narrative (``record.text``).
``"recovery"``
    Only what tells how the event was caught: the *what happened*, *action taken* and *what went
    well* sections. Never *what has been changed* (defences added afterwards are not the
    recovery, see the recovery rule in DESIGN.md), nor *why*, *learning* or any other section.

Sections come from ``record.sections`` when it holds known section keys; otherwise the text is
split with the same splitter ingest uses (:func:`pipeline.ingest.sections.split_sections`). When
nothing would be dropped (no headings, or only kept sections), the recovery view is
``record.text`` itself, byte for byte, so that both views share one embedding in the cache.
Preamble ``Key: value`` lines (``Practice: ...``) are not narrative and are left out of a
recovery view that drops a section.

Training and inference call the same functions, so a head always reads at inference the text
it was trained on. :func:`scheme_segments` also says which section each part of a view comes
from, for evidence.

Examples
--------
>>> from pipeline.record import Record
>>> sea = Record(id="1", text="What happened: Wrong dose keyed. Pharmacist queried it.\n"
...              "What has been changed: Dose alert added.")
>>> scheme_text(sea, "recovery")
'Wrong dose keyed. Pharmacist queried it.'
>>> [(s.section, s.text) for s in scheme_segments(sea, "full")]
[('what_happened', 'Wrong dose keyed. Pharmacist queried it.'), ('changes', 'Dose alert added.')]
>>> plain = Record(id="2", text="Wrong dose keyed; pharmacist queried it.")
>>> scheme_text(plain, "recovery") == plain.text, scheme_segments(plain, "recovery")[0].section
(True, None)
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.errors import InputError
from pipeline.ingest.sections import SECTION_TITLES, join_sections, split_sections
from pipeline.record import Record

__all__ = [
    "RECOVERY_SECTIONS",
    "TEXT_VIEWS",
    "Line",
    "Segment",
    "known_sections",
    "line_sections",
    "scheme_segments",
    "scheme_text",
]

#: The views a scheme can read.
TEXT_VIEWS: tuple[str, ...] = ("full", "recovery")
#: The sections the recovery view keeps, in reading order.
RECOVERY_SECTIONS: tuple[str, ...] = ("what_happened", "action_taken", "went_well")


@dataclass(frozen=True, slots=True)
class Segment:
    """A part of a view: text from one section.

    Attributes
    ----------
    section : str or None
        The section key (``"what_happened"``, ``"action_taken"``...), or None when the narrative
        has no headings and the section is unknown.
    text : str
        The section's text (without its heading).
    """

    section: str | None
    text: str


def scheme_text(record: Record, text_view: str) -> str:
    """Return the text a scheme with this text view reads.

    Parameters
    ----------
    record : Record
        The (redacted) record.
    text_view : {"full", "recovery"}
        The scheme's text view.

    Returns
    -------
    str
        ``record.text`` for ``"full"``; for ``"recovery"``, the kept sections joined under their
        headings (:func:`~pipeline.ingest.sections.join_sections`), or ``record.text`` when
        nothing is dropped. May be empty (an SEA with only a *what has been changed* section).

    Raises
    ------
    InputError
        If ``text_view`` is unknown.
    """
    _check_view(text_view)
    if text_view == "full":
        return record.text
    sections = _sections(record)
    if sections is None or set(sections) <= set(RECOVERY_SECTIONS):
        return record.text
    return join_sections({key: sections[key] for key in RECOVERY_SECTIONS if key in sections})


def scheme_segments(record: Record, text_view: str) -> tuple[Segment, ...]:
    """Return the parts of a scheme's view with the section each comes from.

    Parameters
    ----------
    record : Record
        The (redacted) record.
    text_view : {"full", "recovery"}
        The scheme's text view.

    Returns
    -------
    tuple of Segment
        Non-empty segments in reading order; one segment with section None when the narrative
        has no headings. Every segment's text is part of :func:`scheme_text` for the same view.

    Raises
    ------
    InputError
        If ``text_view`` is unknown.
    """
    _check_view(text_view)
    sections = _sections(record)
    if sections is None:
        return (Segment(None, record.text),) if record.text.strip() else ()
    keys = [key for key in sections if text_view == "full" or key in RECOVERY_SECTIONS]
    return tuple(Segment(key, sections[key]) for key in keys if sections[key].strip())


@dataclass(frozen=True, slots=True)
class Line:
    """One non-blank line of a narrative and the section it belongs to.

    Attributes
    ----------
    start, end : int
        Character offsets of the line in the text (``end`` past its line break).
    body_start : int
        Where its narrative text starts: after an inline heading ("Action taken: ..."), else
        ``start``.
    section : str or None
        Its section key; None when the narrative has no headings.
    narrative : bool
        False for a heading alone and for preamble lines the splitter does not keep as narrative
        (``Key: value`` metadata, or a title when a what-happened heading follows).
    """

    start: int
    end: int
    body_start: int
    section: str | None
    narrative: bool


def known_sections(sections: dict[str, str]) -> dict[str, str] | None:
    """Return the known, non-empty sections in reading order, or None when none is known.

    Examples
    --------
    >>> known_sections({"changes": "Alert added.", "what_happened": "Dose wrong.", "x": "y"})
    {'what_happened': 'Dose wrong.', 'changes': 'Alert added.'}
    >>> known_sections({"details": "Dose wrong."}) is None
    True
    """
    if not any(key in SECTION_TITLES for key in sections):
        return None
    return _ordered({k: v for k, v in sections.items() if k in SECTION_TITLES and v})


def line_sections(text: str) -> list[Line]:
    r"""Read a narrative line by line as the splitter does, and say each line's section.

    Lines before the first heading are the preamble: ``Key: value`` lines are metadata; other
    lines are the what-happened text unless a what-happened heading has text of its own. When
    the narrative has no headings, every line has section None.

    Parameters
    ----------
    text : str
        A narrative (record text).

    Returns
    -------
    list of Line
        Its non-blank lines, in order.

    Examples
    --------
    >>> [(x.section, x.narrative) for x in line_sections("Title\nWhat happened?\nDose wrong.")]
    [('what_happened', False), ('what_happened', False), ('what_happened', True)]
    """
    lines: list[Line] = []
    preamble: list[int] = []
    current: str | None = None
    has_headings = explicit_what_happened = False
    position = 0
    for raw in text.splitlines(keepends=True):
        start, position = position, position + len(raw)
        stripped = raw.strip()
        if not stripped:
            continue
        key, body = _classify(stripped)
        if key is not None and key in SECTION_TITLES:
            has_headings, current = True, key
            body_start = start + max(raw.rfind(body), 0) if body else position
            explicit_what_happened |= key == "what_happened" and bool(body)
            lines.append(Line(start, position, body_start, key, bool(body)))
        elif current is not None:
            explicit_what_happened |= current == "what_happened"
            lines.append(Line(start, position, start, current, True))
        else:
            preamble.append(len(lines))
            lines.append(Line(start, position, start, None, key is None))
    if not has_headings:
        return lines
    for k in preamble:  # the splitter's rule: preamble text is what happened, unless written
        line = lines[k]
        keep = line.narrative and not explicit_what_happened
        lines[k] = Line(line.start, line.end, line.body_start, "what_happened", keep)
    return lines


def _classify(line: str) -> tuple[str | None, str]:
    """Ask the splitter what a line is: (section, body), (metadata key, value) or (None, line).

    A heading alone gives no section on its own, so a stand-in body line follows it.
    """
    parts = split_sections([line, _STAND_IN])
    for key, value in parts.items():
        if key in SECTION_TITLES:
            body = value.removesuffix(_STAND_IN).strip()
            if body != line:
                return key, body
        else:
            return key, value
    return None, line


#: A line no splitter rule matches: what follows a heading alone shows which heading it is.
_STAND_IN = "\x00"


def _check_view(text_view: str) -> None:
    if text_view not in TEXT_VIEWS:
        raise InputError(f"text view {text_view!r} is unknown; use one of {TEXT_VIEWS}")


def _sections(record: Record) -> dict[str, str] | None:
    """Return the record's known sections in reading order, or None without headings."""
    known = known_sections(record.sections or {})
    if known is not None:
        return known
    lines = record.text.splitlines()
    found = {k: v for k, v in split_sections(lines).items() if k in SECTION_TITLES}
    if set(found) <= {"what_happened"} and not any(_is_heading(line) for line in lines):
        return None
    return _ordered(found)


def _ordered(sections: dict[str, str]) -> dict[str, str]:
    """Sections in the order ingest joins them (the SEA template's order)."""
    return {key: sections[key] for key in SECTION_TITLES if key in sections}


def _is_heading(line: str) -> bool:
    """Whether the splitter reads ``line`` as a section heading (alone or with its answer)."""
    stripped = line.strip()
    if not stripped:
        return False
    parts = split_sections([stripped])
    if not parts:
        return True  # a heading with no text after it
    return any(key in SECTION_TITLES and text != stripped for key, text in parts.items())
