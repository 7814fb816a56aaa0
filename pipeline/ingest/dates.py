"""Parse event dates as UK exports write them: day first, with or without a time.

Decisions: numeric dates are read day first (``03/04/2024`` is 3 April), except ISO 8601 year-first
dates; two-digit years fall in 1950-2049; month names may be short or long, with or without an
ordinal suffix or a weekday; a time after the date is ignored. Anything else (an impossible date
such as 31/02/2024, an Excel serial number, free text) is unparseable: ingest keeps the record,
drops the date and counts an ``unparseable_date`` warning.
"""

from __future__ import annotations

import datetime as dt
import re

from pipeline.errors import InputError

__all__ = ["parse_event_date"]

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}

_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*[ap]m)?(?:Z|[+-]\d{2}:?\d{2})?)?"
_ISO = re.compile(rf"^(\d{{4}})[-/.](\d{{1,2}})[-/.](\d{{1,2}}){_TIME}$", re.I)
_DAY_FIRST = re.compile(rf"^(\d{{1,2}})[-/.](\d{{1,2}})[-/.](\d{{2}}|\d{{4}}){_TIME}$", re.I)
_NAMED = re.compile(
    rf"^(?:[a-z]{{3,9}},?\s+)?(\d{{1,2}})(?:st|nd|rd|th)?[-\s]+([a-z]{{3,9}})\.?,?[-\s]+"
    rf"(\d{{2}}|\d{{4}}){_TIME}$",
    re.I,
)


def _year(text: str) -> int:
    """Expand a two- or four-digit year (two digits fall in 1950-2049)."""
    year = int(text)
    if len(text) == 2:
        year += 2000 if year < 50 else 1900
    return year


def parse_event_date(value: object) -> dt.date:
    """Parse an event date from a cell value, day first.

    Parameters
    ----------
    value : object
        A ``str`` as exported, or a ``datetime``/``date`` (XLSX cells).

    Returns
    -------
    datetime.date
        The date.

    Raises
    ------
    InputError
        If the value is not a date in a recognised form, or is an impossible date.

    Examples
    --------
    >>> parse_event_date("03/04/2024")
    datetime.date(2024, 4, 3)
    >>> parse_event_date("2024-04-03T09:30:00")
    datetime.date(2024, 4, 3)
    >>> parse_event_date("Tue 3rd April 24")
    datetime.date(2024, 4, 3)
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        if match := _ISO.match(text):
            year, month, day = (int(part) for part in match.groups())
            return dt.date(year, month, day)
        if match := _DAY_FIRST.match(text):
            day, month = int(match.group(1)), int(match.group(2))
            return dt.date(_year(match.group(3)), month, day)
        if (match := _NAMED.match(text)) and match.group(2).casefold() in _MONTHS:
            month = _MONTHS[match.group(2).casefold()]
            return dt.date(_year(match.group(3)), month, int(match.group(1)))
    except ValueError:
        pass
    raise InputError(
        f"event date {text[:40]!r} is not a day-first date such as 03/04/2024 or 2024-04-03"
    )
