"""Find which columns of an export hold the narrative, its sections and its metadata.

Columns are matched by name after normalising (case, punctuation and spacing ignored): Datix field
names and display labels (``inc_notes``/Description, ``inc_actiontaken``/Action taken,
``inc_dincident``/Incident date, ``recordid``/ID, Ref), LFPSE-style questions ("Describe what
happened"), SEA headings and generic names (text, narrative, description). A target takes the first
candidate present, in priority order; if none is present, a header that *contains* one of a few
distinctive phrases ("what happened", "incident date") is used. An explicit mapping
(``--column text=Incident description``) overrides detection for its targets.

Targets are record keys: the section keys ``what_happened`` (alias ``text``), ``why``,
``went_well``, ``learning``, ``changes``, ``action_taken``, and the metadata ``id``, ``practice``
and ``event_date``. Columns that map to no target are not carried into records.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pipeline.errors import InputError

__all__ = [
    "METADATA_TARGETS",
    "SECTION_TARGETS",
    "TARGETS",
    "ColumnMapping",
    "detect_columns",
    "normalise_name",
    "parse_column_options",
]

#: Targets that are sections of the narrative, in the order their text is joined.
SECTION_TARGETS: tuple[str, ...] = (
    "what_happened",
    "action_taken",
    "why",
    "went_well",
    "learning",
    "changes",
)
#: Metadata targets.
METADATA_TARGETS: tuple[str, ...] = ("id", "practice", "event_date")
#: Every target, in the order columns are claimed.
TARGETS: tuple[str, ...] = SECTION_TARGETS + METADATA_TARGETS

_ALIASES = {"text": "what_happened", "narrative": "what_happened", "date": "event_date"}

# Normalised column names, best first. The target's own name (normalised) comes first, so records
# JSONL and SEA documents map onto themselves.
_CANDIDATES: dict[str, tuple[str, ...]] = {
    "what_happened": (
        "what happened",
        "describe what happened",
        "description of what happened",
        "incident description",
        "description of incident",
        "description of the incident",
        "event description",
        "description of event",
        "inc notes",
        "description",
        "incident details",
        "details of incident",
        "details",
        "narrative",
        "free text",
        "text",
    ),
    "action_taken": (
        "action taken",
        "actions taken",
        "inc actiontaken",
        "immediate action taken",
        "immediate action",
        "immediate actions",
        "what action was taken",
        "action",
    ),
    "why": ("why", "why did it happen", "why did this happen", "root cause", "root causes"),
    "went_well": ("went well", "what went well"),
    "learning": (
        "learning",
        "what has been learned",
        "what has been learnt",
        "lessons learned",
        "lessons learnt",
        "learning points",
    ),
    "changes": ("changes", "what has been changed", "changes made", "what has changed"),
    "id": (
        "id",
        "recordid",
        "record id",
        "incident id",
        "event id",
        "ref",
        "reference",
        "incident reference",
        "incident ref",
        "reference number",
        "ref no",
        "inc ourref",
        "our ref",
    ),
    "practice": (
        "practice",
        "practice name",
        "practice code",
        "gp practice",
        "practice ods code",
        "ods code",
        "organisation",
        "organisation name",
        "inc organisation",
        "location exact",
        "inc locactual",
        "site",
    ),
    "event_date": (
        "event date",
        "incident date",
        "date of incident",
        "date of event",
        "inc dincident",
        "date incident occurred",
        "date of occurrence",
        "occurred",
        "date",
    ),
}

# Distinctive phrases for the second pass (a header that contains one of them).
_CONTAINS: dict[str, tuple[str, ...]] = {
    "what_happened": (
        "what happened",
        "incident description",
        "description of incident",
        "description of event",
        "event description",
    ),
    "action_taken": ("action taken", "actions taken", "immediate action"),
    "event_date": ("incident date", "event date", "date of incident", "date of event"),
    "practice": ("practice name", "practice code", "gp practice"),
    "id": ("incident reference", "incident id", "reference number"),
}

_NON_WORD = re.compile(r"[^0-9a-z]+")


def normalise_name(name: str) -> str:
    """Normalise a column name or heading for matching: lower case, words separated by one space.

    Parameters
    ----------
    name : str
        A column name as written in the export.

    Returns
    -------
    str
        The normalised name.

    Examples
    --------
    >>> normalise_name(" Location (exact) ")
    'location exact'
    >>> normalise_name("inc_actiontaken")
    'inc actiontaken'
    """
    return _NON_WORD.sub(" ", name.casefold()).strip()


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """Which column feeds each target, for one layout of columns.

    Attributes
    ----------
    columns : Mapping[str, str]
        Target to column name, for the targets found.
    missing : tuple of str
        Columns named in the explicit mapping that the export does not have.
    """

    columns: Mapping[str, str] = field(default_factory=dict)
    missing: tuple[str, ...] = ()

    @property
    def has_text(self) -> bool:
        """Whether a what-happened column was found."""
        return "what_happened" in self.columns


def parse_column_options(options: Sequence[str]) -> dict[str, str]:
    """Parse ``TARGET=COLUMN`` options into an explicit mapping.

    Parameters
    ----------
    options : sequence of str
        Options such as ``"text=Incident description"``. ``text`` and ``narrative`` mean
        ``what_happened``; ``date`` means ``event_date``.

    Returns
    -------
    dict of str to str
        Target to column name.

    Raises
    ------
    InputError
        If an option has no ``=``, names an unknown target, or repeats a target.

    Examples
    --------
    >>> parse_column_options(["text=Incident description", "action_taken=Action taken"])
    {'what_happened': 'Incident description', 'action_taken': 'Action taken'}
    """
    mapping: dict[str, str] = {}
    for option in options:
        target, sep, column = option.partition("=")
        target = _ALIASES.get(target.strip(), target.strip())
        if not sep or not column.strip():
            raise InputError(
                f"column option {option!r} is not TARGET=COLUMN; "
                "write e.g. --column 'text=Incident description'"
            )
        if target not in TARGETS:
            raise InputError(
                f"column option {option!r} names unknown target {target!r}; "
                f"use one of text, {', '.join(TARGETS)}"
            )
        if target in mapping:
            raise InputError(f"column option for {target!r} given twice; give it once")
        mapping[target] = column.strip()
    return mapping


def _find_explicit(column: str, headers: Sequence[str]) -> str | None:
    """Find the header an explicit column name means: exact match first, then normalised."""
    if column in headers:
        return column
    wanted = normalise_name(column)
    return next((h for h in headers if normalise_name(h) == wanted), None)


def detect_columns(
    headers: Sequence[str], explicit: Mapping[str, str] | None = None
) -> ColumnMapping:
    """Map an export's columns to record targets.

    Parameters
    ----------
    headers : sequence of str
        The export's column names, in file order.
    explicit : mapping of str to str, optional
        Target to column name, from :func:`parse_column_options`; overrides detection.

    Returns
    -------
    ColumnMapping
        The columns found; ``missing`` lists explicit columns absent from ``headers``.

    Examples
    --------
    >>> mapping = detect_columns(["ID", "Incident date", "Description", "Action taken"])
    >>> dict(mapping.columns)
    {'what_happened': 'Description', 'action_taken': 'Action taken', 'id': 'ID', 'event_date': 'Incident date'}
    """  # noqa: E501 - a doctest line
    columns: dict[str, str] = {}
    missing: list[str] = []
    for target, column in (explicit or {}).items():
        found = _find_explicit(column, headers)
        if found is None:
            missing.append(column)
        else:
            columns[target] = found
    used = set(columns.values())
    by_name: dict[str, str] = {}
    for header in headers:
        by_name.setdefault(normalise_name(header), header)
    for target in TARGETS:
        if target in columns:
            continue
        found = _claim(target, by_name, used)
        if found is not None:
            columns[target] = found
            used.add(found)
    return ColumnMapping(columns=columns, missing=tuple(missing))


def _claim(target: str, by_name: Mapping[str, str], used: set[str]) -> str | None:
    """Pick the best unused header for ``target``: an exact candidate, else a containing one."""
    for candidate in _CANDIDATES[target]:
        header = by_name.get(candidate)
        if header is not None and header not in used:
            return header
    for phrase in _CONTAINS.get(target, ()):
        for name, header in by_name.items():
            if header not in used and f" {phrase} " in f" {name} ":
                return header
    return None
