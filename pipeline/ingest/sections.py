"""Split significant event analysis (SEA) write-ups into sections, and join sections into one text.

An SEA follows headings such as *What happened?*, *Why did it happen?*, *What has been learned?*
and *What has been changed?* (the RCGP/NPSA template), often numbered, in bold, in a table, or with
the answer on the same line after a colon. :func:`split_sections` recognises those headings line by
line; unrecognised lines belong to the section above them. Lines before the first heading are the
preamble: ``Key: value`` lines there (``Practice: ...``, ``Date of event: ...``, ``Ref: ...``)
become metadata fields for column detection, and other preamble text (a title, say) becomes the
what-happened section only when the document has no such heading. A document with no headings at
all is one what-happened narrative.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from pipeline.ingest.columns import SECTION_TARGETS, normalise_name

__all__ = ["SECTION_TITLES", "join_sections", "split_sections"]

#: The heading each section is given when sections are joined into one text.
SECTION_TITLES: dict[str, str] = {
    "what_happened": "What happened",
    "action_taken": "Action taken",
    "why": "Why did it happen",
    "went_well": "What went well",
    "learning": "What has been learned",
    "changes": "What has been changed",
}

# Normalised heading text (numbering, markup and final punctuation removed) to section key.
_HEADINGS: dict[str, str] = {
    heading: key
    for key, headings in {
        "what_happened": (
            "what happened",
            "what happened exactly",
            "what was the event",
            "describe what happened",
            "description",
            "description of event",
            "description of the event",
            "event description",
            "details of the event",
            "summary of event",
            "summary of the event",
        ),
        "action_taken": (
            "action taken",
            "actions taken",
            "immediate action",
            "immediate actions",
            "immediate action taken",
            "what action was taken",
            "what was done at the time",
        ),
        "why": (
            "why did it happen",
            "why did this happen",
            "why it happened",
            "why",
            "root cause",
            "root causes",
            "root cause analysis",
            "contributory factors",
            "analysis",
        ),
        "went_well": ("what went well", "good practice", "notable practice"),
        "learning": (
            "what has been learned",
            "what has been learnt",
            "what have we learned",
            "what have we learnt",
            "what was learned",
            "what was learnt",
            "learning",
            "learning points",
            "lessons learned",
            "lessons learnt",
            "key learning",
        ),
        "changes": (
            "what has been changed",
            "what has changed",
            "what have we changed",
            "what will be changed",
            "what changes have been made",
            "changes made",
            "changes",
            "action plan",
            "agreed actions",
        ),
    }.items()
    for heading in headings
}

_NUMBERING = re.compile(r"^\s*(?:#+|\*+|q?\d{1,2}[.):]?|[a-h][.)]|section \d+[.:]?)\s+", re.I)
_METADATA_LINE = re.compile(r"^\s*([A-Za-z][A-Za-z ()/_.'-]{0,38}?)\s*:\s*(\S.*)$")
_INLINE_HEADING = re.compile(r"^(.{2,60}?)\s*[:?]\s+(\S.*)$")


def _heading_key(line: str) -> str | None:
    """Return the section key if ``line`` is a heading on its own, else ``None``."""
    text = _NUMBERING.sub("", line.strip().strip("*_"))
    return _HEADINGS.get(normalise_name(text))


def _inline_heading(line: str) -> tuple[str, str] | None:
    """``(key, body)`` if ``line`` is ``Heading: body`` (or ``Heading? body``), else ``None``."""
    match = _INLINE_HEADING.match(_NUMBERING.sub("", line.strip().strip("*_")))
    if match is None:
        return None
    key = _HEADINGS.get(normalise_name(match.group(1).strip("*_")))
    return None if key is None else (key, match.group(2).strip())


def split_sections(lines: Iterable[str]) -> dict[str, str]:
    r"""Split a document's lines into section fields and preamble metadata fields.

    Parameters
    ----------
    lines : iterable of str
        The document text, one paragraph or line each.

    Returns
    -------
    dict of str to str
        Section key (``what_happened``, ``why``, ``went_well``, ``learning``, ``changes``,
        ``action_taken``) to its text, plus preamble ``Key: value`` pairs under their own key
        (``"Practice"``, ``"Date of event"``). Repeated headings are joined with a blank line.

    Examples
    --------
    >>> split_sections(["Practice: Example Surgery", "1. What happened?", "A script was",
    ...                 "nearly issued.", "Why did it happen: two similar names."])
    {'Practice': 'Example Surgery', 'what_happened': 'A script was\nnearly issued.', 'why': 'two similar names.'}
    """  # noqa: E501 - a doctest line
    metadata: dict[str, str] = {}
    preamble: list[str] = []
    parts: dict[str, list[str]] = {}
    current: str | None = None
    for raw in lines:
        line = raw.strip()
        if not line:
            if current is not None and parts[current] and parts[current][-1]:
                parts[current].append("")
            continue
        key = _heading_key(line)
        body = None
        if key is None:
            inline = _inline_heading(line)
            if inline is not None:
                key, body = inline
        if key is not None:
            if key in parts and parts[key]:
                parts[key].append("")
            current = key
            parts.setdefault(key, [])
            if body:
                parts[key].append(body)
            continue
        if current is not None:
            parts[current].append(line)
            continue
        match = _METADATA_LINE.match(line)
        if match is not None and match.group(1).strip() not in metadata:
            metadata[match.group(1).strip()] = match.group(2).strip()
        else:
            preamble.append(line)
    sections = {key: "\n".join(body).strip() for key, body in parts.items()}
    if not sections.get("what_happened") and preamble:
        sections["what_happened"] = "\n".join(preamble)
    fields: dict[str, str] = dict(metadata)
    fields.update((key, text) for key, text in sections.items() if text)
    return fields


def join_sections(sections: Mapping[str, str]) -> str:
    """Join sections into one narrative text, each after its heading.

    Parameters
    ----------
    sections : mapping of str to str
        Section key to text. Known keys come first in :data:`SECTION_TARGETS` order, then others.

    Returns
    -------
    str
        The what-happened text alone if it is the only section; otherwise every non-empty section
        as ``"Heading: text"``, separated by blank lines.

    Examples
    --------
    >>> join_sections({"what_happened": "Wrong dose keyed."})
    'Wrong dose keyed.'
    >>> print(join_sections({"action_taken": "Corrected.", "what_happened": "Wrong dose keyed."}))
    What happened: Wrong dose keyed.
    <BLANKLINE>
    Action taken: Corrected.
    """
    present = {key: text for key, text in sections.items() if text}
    if set(present) <= {"what_happened"}:
        return present.get("what_happened", "")
    order = [key for key in SECTION_TARGETS if key in present]
    order += [key for key in present if key not in SECTION_TARGETS]
    return "\n\n".join(
        f"{SECTION_TITLES.get(key, key.replace('_', ' ').capitalize())}: {present[key]}"
        for key in order
    )
