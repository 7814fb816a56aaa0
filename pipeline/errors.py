"""Exceptions raised by nearmiss.

Every message names what happened, the offending value and the fix. The CLI maps
:class:`NearMissError` to exit code 1 with a one-line reason.
"""

from __future__ import annotations

__all__ = [
    "BundleError",
    "EmbedderError",
    "InputError",
    "NearMissError",
    "StoreError",
    "TaxonomyError",
]


class NearMissError(Exception):
    """Base class for errors that nearmiss reports to the user without a traceback."""


class TaxonomyError(NearMissError):
    """A taxonomy file is missing, malformed or inconsistent."""


class BundleError(NearMissError):
    """A model bundle is missing, untrusted or does not match the taxonomy."""


class EmbedderError(NearMissError):
    """The embedding model is missing or unusable, or the embedding cache cannot be used."""


class InputError(NearMissError, ValueError):
    """Input data (a file, a row, a field or an option) is unusable as given."""


class StoreError(NearMissError):
    """The review store is unreachable, busy or went away; its transaction was rolled back."""
