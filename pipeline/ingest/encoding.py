"""Choose a text file's encoding from a sample, and open it so that no byte can crash a read.

Practice exports arrive as UTF-8, UTF-8 with a byte-order mark (Excel's "CSV UTF-8"), Windows-1252
(Datix and older Excel "CSV") and now and then UTF-16 (Excel's "Unicode text"). Decisions:

- A byte-order mark decides (``utf-8-sig`` or ``utf-16``).
- Otherwise the first :data:`SAMPLE_BYTES` are tried as UTF-8: if they decode, the file is read as
  UTF-8, else as ``cp1252``. The whole file is never read to decide.
- Reading never raises on a bad byte. Read as UTF-8, a byte that is not valid UTF-8 (a stray
  Windows-1252 ``£`` deep in a big file, say) is decoded as Windows-1252 instead, so concatenated
  exports of mixed encodings still come out right. The five bytes Windows-1252 leaves undefined
  become U+FFFD; ingest keeps such rows and counts a ``replacement_character`` warning.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import TextIO

from pipeline.errors import InputError

__all__ = ["REPLACEMENT_CHARACTER", "SAMPLE_BYTES", "detect_encoding", "open_text"]

#: How much of a file is sampled to choose its encoding.
SAMPLE_BYTES = 1 << 20

#: What an undecodable byte becomes.
REPLACEMENT_CHARACTER = "\ufffd"

_FALLBACK_HANDLER = "nearmiss_cp1252_fallback"


def _cp1252_fallback(error: UnicodeError) -> tuple[str, int]:
    """Decode the bytes a codec rejected as Windows-1252 (undefined bytes become U+FFFD)."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return bytes(bad).decode("cp1252", errors="replace"), error.end


def _register_handler() -> str:
    """Register the fallback error handler once (lookup first: registering is process-global)."""
    try:
        codecs.lookup_error(_FALLBACK_HANDLER)
    except LookupError:
        codecs.register_error(_FALLBACK_HANDLER, _cp1252_fallback)
    return _FALLBACK_HANDLER


def detect_encoding(path: Path, sample_bytes: int = SAMPLE_BYTES) -> str:
    """Choose the encoding of a text file from its byte-order mark or a sample of its start.

    Parameters
    ----------
    path : Path
        The file to inspect.
    sample_bytes : int, default=SAMPLE_BYTES
        How many bytes from the start of the file to sample.

    Returns
    -------
    str
        ``"utf-8-sig"``, ``"utf-16"``, ``"utf-8"`` or ``"cp1252"``.

    Raises
    ------
    InputError
        If the file cannot be opened.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> (folder / "a.csv").write_bytes("Cost £5".encode("cp1252"))
    7
    >>> detect_encoding(folder / "a.csv")
    'cp1252'
    """
    try:
        with path.open("rb") as handle:
            sample = handle.read(sample_bytes)
    except OSError as error:
        raise InputError(
            f"{path.name}: cannot be read ({error.strerror}); check the file"
        ) from None
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        # final=False: a multi-byte character cut off by the end of the sample is not an error.
        decoder.decode(sample, final=len(sample) < sample_bytes)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def open_text(path: Path, encoding: str) -> TextIO:
    """Open a text file for reading so that undecodable bytes never raise.

    Parameters
    ----------
    path : Path
        The file to open.
    encoding : str
        A Python codec name, usually from :func:`detect_encoding`.

    Returns
    -------
    TextIO
        A text handle with universal newlines off (``newline=""``, as the csv module wants).
        UTF-8 falls back to Windows-1252 byte by byte; other codecs replace bad bytes with U+FFFD.

    Raises
    ------
    InputError
        If the encoding is unknown or the file cannot be opened.
    """
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise InputError(
            f"unknown encoding {encoding!r}; use a Python codec name such as utf-8 or cp1252"
        ) from None
    errors = _register_handler() if name in {"utf-8", "utf-8-sig"} else "replace"
    try:
        return path.open(encoding=encoding, errors=errors, newline="")
    except OSError as error:
        raise InputError(
            f"{path.name}: cannot be read ({error.strerror}); check the file"
        ) from None
