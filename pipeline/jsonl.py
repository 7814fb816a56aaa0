"""Read and write JSON Lines files, with errors that name the file and line."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pipeline.errors import InputError

__all__ = ["iter_jsonl", "write_jsonl"]


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line of a JSONL file.

    Parameters
    ----------
    path : Path
        The file to read (UTF-8, a byte-order mark is tolerated).

    Yields
    ------
    tuple of (int, dict)
        The 1-based line number and the parsed JSON object.

    Raises
    ------
    InputError
        If the file is missing, a line is not valid JSON, or a line is not a JSON object.
    """
    if not path.is_file():
        raise InputError(f"{path}: no such file; check the path")
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                raise InputError(
                    f"{path}, line {number}: not valid JSON ({error.msg}); fix or remove the line"
                ) from None
            if not isinstance(value, dict):
                raise InputError(
                    f"{path}, line {number}: expected a JSON object, got {type(value).__name__}"
                )
            yield number, value


def write_jsonl(path: Path, objects: Iterable[dict[str, Any]]) -> int:
    """Write objects to ``path``, one compact JSON line each, and return how many were written.

    Parameters
    ----------
    path : Path
        Output file; parent directories are created.
    objects : iterable of dict
        JSON-serialisable objects.

    Returns
    -------
    int
        The number of lines written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for obj in objects:
            handle.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str))
            handle.write("\n")
            count += 1
    return count
