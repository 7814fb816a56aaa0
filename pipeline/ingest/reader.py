"""Choose a reader by file extension, and expand the paths a user gives into export files."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from pipeline.errors import InputError
from pipeline.ingest.documents import open_docx, open_pdf, open_text_document
from pipeline.ingest.row import Source
from pipeline.ingest.tables import open_csv, open_jsonl, open_xlsx

__all__ = ["SUPPORTED_SUFFIXES", "find_inputs", "is_supported", "open_source"]

_OPENERS: dict[str, Callable[[Path, str | None], Source]] = {
    ".csv": open_csv,
    ".tsv": open_csv,
    ".txt": open_text_document,
    ".text": open_text_document,
    ".xlsx": lambda path, _encoding: open_xlsx(path),
    ".xlsm": lambda path, _encoding: open_xlsx(path),
    ".jsonl": lambda path, _encoding: open_jsonl(path),
    ".ndjson": lambda path, _encoding: open_jsonl(path),
    ".docx": lambda path, _encoding: open_docx(path),
    ".pdf": lambda path, _encoding: open_pdf(path),
}

#: File extensions ingest reads.
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(_OPENERS)

_HINTS = {
    ".xls": "save it as .xlsx or CSV",
    ".doc": "save it as .docx",
    ".json": "write one JSON object per line as .jsonl",
}


def is_supported(path: Path) -> bool:
    """Whether ingest has a reader for this file's extension.

    Parameters
    ----------
    path : Path
        A file path.

    Returns
    -------
    bool
        True if the extension (any case) is in :data:`SUPPORTED_SUFFIXES`.
    """
    return path.suffix.lower() in _OPENERS


def open_source(path: Path, encoding: str | None = None) -> Source:
    """Open an export with the reader for its extension.

    Parameters
    ----------
    path : Path
        The export file.
    encoding : str, optional
        Force a text encoding (CSV, TSV and text files only).

    Returns
    -------
    Source
        The opened export; its rows are read lazily.

    Raises
    ------
    InputError
        If the extension is not supported (with a hint where there is one) or the file has no
        usable header.
    """
    suffix = path.suffix.lower()
    opener = _OPENERS.get(suffix)
    if opener is None:
        hint = _HINTS.get(suffix, f"use one of {', '.join(SUPPORTED_SUFFIXES)}")
        raise InputError(f"{path.name}: unsupported file type {suffix or '(none)'!r}; {hint}")
    return opener(path, encoding)


def find_inputs(paths: Sequence[Path]) -> list[Path]:
    """Expand the paths given on the command line into export files.

    A directory stands for the supported files directly inside it, in name order (hidden files
    and unsupported ones such as a README are left out). A file is kept whatever its extension, so
    an unsupported file named explicitly is reported rather than silently skipped.

    Parameters
    ----------
    paths : sequence of Path
        Files and directories.

    Returns
    -------
    list of Path
        The files, in the order given, each once.

    Raises
    ------
    InputError
        If a path does not exist, or nothing is left to read.
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(
                child
                for child in path.iterdir()
                if child.is_file() and not child.name.startswith(".") and is_supported(child)
            )
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"{path}: no such file or directory; check the path")
    unique = list(dict.fromkeys(files))
    if not unique:
        raise InputError(
            f"no export files found in {', '.join(map(str, paths))}; "
            f"ingest reads {', '.join(SUPPORTED_SUFFIXES)}"
        )
    return unique
