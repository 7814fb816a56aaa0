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
    "Segment",
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


def _check_view(text_view: str) -> None:
    if text_view not in TEXT_VIEWS:
        raise InputError(f"text view {text_view!r} is unknown; use one of {TEXT_VIEWS}")


def _sections(record: Record) -> dict[str, str] | None:
    """Return the record's known sections in reading order, or None without headings."""
    given = record.sections or {}
    if any(key in SECTION_TITLES for key in given):
        return _ordered({k: v for k, v in given.items() if k in SECTION_TITLES and v})
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
