"""Chunks of a records file: byte ranges that tasks pass around instead of narrative text.

A batch cuts the de-identified records file that ingest writes into :class:`Span` objects of a few
thousand lines each. A span is two byte offsets and a line count, so a task that receives one
reads exactly its lines with one ``seek`` (memory stays flat however long the file), and nothing
but offsets and paths travels through the orchestrator.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from pipeline.errors import InputError
from pipeline.record import Record

__all__ = ["DEFAULT_CHUNK_SIZE", "Span", "plan_spans", "read_span"]

#: Narratives per chunk: large enough that orchestration costs nothing per narrative, small
#: enough that an interrupted run loses little work and memory stays bounded.
DEFAULT_CHUNK_SIZE = 2000


@dataclass(frozen=True, slots=True)
class Span:
    """A run of whole lines of a records file.

    Attributes
    ----------
    index : int
        0-based position of the chunk in the file.
    start, stop : int
        Byte offsets: the chunk is ``file[start:stop]``.
    lines : int
        Records in the chunk.
    """

    index: int
    start: int
    stop: int
    lines: int


def plan_spans(
    path: Path, size: int = DEFAULT_CHUNK_SIZE, *, after: Sequence[Span] = ()
) -> list[Span]:
    r"""Cut a JSON Lines file into spans of at most ``size`` non-blank lines, as even as possible.

    As few spans as that size allows, whose line counts differ by one at most: 5,000 lines in
    spans of at most 2,000 are cut 1,667 + 1,667 + 1,666, not 2,000 + 2,000 + 1,000, so that
    the processes coding them finish together.

    Parameters
    ----------
    path : Path
        The records file (one JSON object a line).
    size : int, default=DEFAULT_CHUNK_SIZE
        Most lines per span.
    after : sequence of Span, optional
        The first spans, already cut (their records taken while the file was being written):
        they are kept as spans 0, 1... and the rest of the file is cut after them.

    Returns
    -------
    list of Span
        In file order; empty for an empty file.

    Raises
    ------
    InputError
        If ``size`` is not positive, or if the last of ``after`` does not end on a line end of
        the file after as many records as they hold.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "records.jsonl"
    >>> _ = path.write_text("".join(f'{{"id": "{n}", "text": "x"}}\n' for n in range(5)))
    >>> [(s.index, s.lines) for s in plan_spans(path, size=2)]
    [(0, 2), (1, 2), (2, 1)]
    >>> [(s.index, s.lines) for s in plan_spans(path, size=4)]
    [(0, 3), (1, 2)]
    >>> first = plan_spans(path, size=1)[:1]
    >>> [(s.index, s.lines) for s in plan_spans(path, size=3, after=first)]
    [(0, 1), (1, 2), (2, 2)]
    """
    if size < 1:
        raise InputError(f"chunk size {size} is not positive; use a few thousand")
    spans: list[Span] = list(after)
    start = 0
    if spans:
        lines, stop = sum(span.lines for span in spans), spans[-1].stop
        if _count_lines(path, 0, stop) != lines:
            raise InputError(
                f"{path}: its first {lines} records do not end at byte {stop}; the file changed "
                "during the run: run the batch again"
            )
        start = stop
    total = _count_lines(path, start)
    if not total:
        return spans
    count = -(-total // size)  # spans needed
    base, longer = divmod(total, count)  # the first ``longer`` spans take one line more
    first = len(spans)
    offset, lines = start, 0
    with path.open("rb") as handle:
        handle.seek(start)
        for line in handle:
            offset += len(line)
            if not line.strip():
                continue
            lines += 1
            if lines == base + (len(spans) - first < longer):
                spans.append(Span(len(spans), start, offset, lines))
                start, lines = offset, 0
    return spans


def _count_lines(path: Path, start: int, stop: int | None = None) -> int:
    """Count the non-blank lines of ``path[start:stop]`` (to the end when ``stop`` is None)."""
    with path.open("rb") as handle:
        handle.seek(start)
        if stop is None:
            return sum(1 for line in handle if line.strip())
        block = handle.read(stop - start)
    if block and not block.endswith(b"\n"):
        return -1  # not on a line end
    return sum(1 for line in block.split(b"\n") if line.strip())


def _lines(path: Path, span: Span) -> Iterator[bytes]:
    with path.open("rb") as handle:
        handle.seek(span.start)
        remaining = span.stop - span.start
        while remaining > 0:
            line = handle.readline(remaining)
            if not line:
                break
            remaining -= len(line)
            if line.strip():
                yield line


def read_span(path: Path, span: Span) -> list[Record]:
    """Read and validate the records of one span.

    Parameters
    ----------
    path : Path
        The records file the span was planned on.
    span : Span
        Which lines.

    Returns
    -------
    list of Record
        In file order.

    Raises
    ------
    InputError
        If a line is not a valid record, or the file changed since the span was planned.
    """
    records: list[Record] = []
    for number, line in enumerate(_lines(path, span), start=1):
        try:
            records.append(Record.model_validate(json.loads(line)))
        except ValidationError as error:  # never str(error): it quotes the input, i.e. text
            first = error.errors()[0]
            reason = f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
            raise InputError(
                f"{path}: record {number} of chunk {span.index} is not a valid record ({reason}); "
                "the file changed during the run: run the batch again"
            ) from None
        except ValueError as error:
            reason = type(error).__name__
            raise InputError(
                f"{path}: record {number} of chunk {span.index} is not a valid record ({reason}); "
                "the file changed during the run: run the batch again"
            ) from None
    if len(records) != span.lines:
        raise InputError(
            f"{path}: chunk {span.index} holds {len(records)} records, {span.lines} were planned; "
            "the file changed during the run: run the batch again"
        )
    return records
