"""Make text safe to write into CSV or XLSX cells (no formula injection).

Narratives are kept as literal text everywhere: a description that starts with ``=HYPERLINK(...)``
is stored as those characters. Spreadsheet programs would run such a cell as a formula when a CSV
or XLSX file is opened, so every writer of CSV or XLSX passes text cells through
:func:`neutralise_formula`, which prefixes them with an apostrophe as OWASP advises.
"""

from __future__ import annotations

__all__ = ["FORMULA_PREFIXES", "is_formula", "neutralise_formula"]

#: First characters that make a spreadsheet treat a cell as a formula (or a DDE payload).
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r", "\n")


def is_formula(value: str) -> bool:
    """Tell whether a spreadsheet would treat ``value`` as a formula.

    Parameters
    ----------
    value : str
        A cell's text.

    Returns
    -------
    bool
        True if it starts with one of :data:`FORMULA_PREFIXES`.

    Examples
    --------
    >>> is_formula('=HYPERLINK("http://example.invalid")'), is_formula("INR 5.9")
    (True, False)
    """
    return value.startswith(FORMULA_PREFIXES)


def neutralise_formula(value: str) -> str:
    """Return ``value`` so that a spreadsheet shows it as text, never runs it.

    Parameters
    ----------
    value : str
        A cell's text.

    Returns
    -------
    str
        ``value`` prefixed with ``'`` if it would start a formula, else ``value`` unchanged.

    Examples
    --------
    >>> neutralise_formula("=1+1")
    "'=1+1"
    >>> neutralise_formula("Wrong dose keyed")
    'Wrong dose keyed'
    """
    return f"'{value}" if is_formula(value) else value
