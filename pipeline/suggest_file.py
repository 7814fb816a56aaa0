"""Suggest codes for a whole file, streaming: what ``nearmiss suggest`` runs.

The input is a records JSONL file (lines with ``id`` and ``text``) or anything ingest reads
(CSV, XLSX, JSONL exports, DOCX, PDF, text, or a folder of them). Exports are first ingested into
de-identified records in a temporary folder beside the output (rejected rows go to the quarantine
file with a reason), and that folder is deleted at the end. Records are then coded
:data:`CHUNK_SIZE` at a time and each chunk's lines are written before the next is read, so
memory stays flat however long the input. The output is written to ``<output>.part`` and renamed
when complete: a failed run leaves no half-written suggestions file.

Lines come from the suggestion cache (:mod:`pipeline.suggest_cache`) when an unchanged record was
coded before with the same bundle, taxonomy, embedding model and code; the bundle is loaded only
for the records not found there. Re-running an unchanged corpus so loads no bundle, no spaCy and
no scikit-learn, and writes the same bytes.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from pipeline.errors import InputError
from pipeline.jsonl import iter_jsonl
from pipeline.record import Record
from pipeline.suggest_cache import (
    BundleInfo,
    SuggestCache,
    bundle_fingerprint,
    line_key,
    record_key,
)

if TYPE_CHECKING:
    from pipeline.suggest import Suggester

__all__ = ["CHUNK_SIZE", "SuggestSummary", "is_records_file", "iter_records", "suggest_file"]

logger = logging.getLogger(__name__)

#: Records coded (and lines written) per step.
CHUNK_SIZE = 512
_RECORDS_SUFFIXES = (".jsonl", ".ndjson")


@dataclass(frozen=True, slots=True)
class SuggestSummary:
    """What one ``nearmiss suggest`` run did.

    Attributes
    ----------
    input : str
        The input path.
    output : str
        The suggestions file written.
    model : str
        The bundle's name.
    records : int
        Records coded: lines written.
    selected : dict of str to int
        Per scheme, records with at least one selected code.
    cold_start : list of str
        Schemes scored by cold start alone (no trained head).
    ingest : dict or None
        Ingest counts (``read``, ``ingested``, ``quarantined``, ``duplicates``, ``quarantine``)
        when the input was an export; None for a records file.
    seconds : float
        Wall time.
    """

    input: str
    output: str
    model: str
    records: int
    selected: dict[str, int]
    cold_start: list[str]
    ingest: dict[str, Any] | None
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as a JSON-serialisable dictionary."""
        return asdict(self)

    def format(self) -> str:
        """Return the summary as a few lines of text for people."""
        lines = []
        if self.ingest is not None:
            lines.append(
                f"Ingested {self.ingest['ingested']} of {self.ingest['read']} rows "
                f"({self.ingest['quarantined']} quarantined to {self.ingest['quarantine']}, "
                f"{self.ingest['duplicates']} duplicates)."
            )
        lines.append(
            f"Suggested codes for {self.records} records with {self.model} -> {self.output} "
            f"in {self.seconds:.1f} s."
        )
        if self.cold_start:
            lines.append(
                "Cold start (code definitions only, no trained head): "
                f"{', '.join(self.cold_start)}."
            )
        lines += [
            f"  {scheme}: {n} records with a selected code" for scheme, n in self.selected.items()
        ]
        return "\n".join(lines)


def is_records_file(path: Path) -> bool:
    """Whether ``path`` is a records JSONL file: its first line is an object with id and text.

    Parameters
    ----------
    path : Path
        The input.

    Returns
    -------
    bool
        False for folders, other formats, and JSONL exports with other field names (those go
        through ingest, which maps columns).
    """
    if not path.is_file() or path.suffix.lower() not in _RECORDS_SUFFIXES:
        return False
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        for line in handle:
            if line.strip():
                try:
                    first = json.loads(line)
                except ValueError:
                    return False
                return isinstance(first, dict) and {"id", "text"} <= first.keys()
    return False


def iter_records(path: Path) -> Iterator[Record]:
    """Read a records JSONL file lazily, validating each line.

    Parameters
    ----------
    path : Path
        Records JSONL (the records contract; labelled records are fine).

    Yields
    ------
    Record
        One per non-blank line, in file order.

    Raises
    ------
    InputError
        Naming the file and line of a line that is not a valid record.
    """
    for number, value in iter_jsonl(path):
        try:
            yield Record.model_validate(value)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "record"
            raise InputError(
                f"{path}, line {number}: field '{where}' {first['msg'].lower()}; every record "
                "needs a non-empty string id and a text"
            ) from None


def suggest_file(
    input_path: Path,
    output: Path,
    *,
    suggester: Suggester | None = None,
    model: Path | None = None,
    db_url: str | None = None,
    quarantine: Path | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> SuggestSummary:
    """Suggest codes for every record of a file and write one suggestions line per record.

    Parameters
    ----------
    input_path : Path
        Records JSONL, or an export file or folder that ingest reads.
    output : Path
        The suggestions JSONL to write (replaced if it exists).
    suggester : Suggester or None
        The suggester; None resolves the bundle with :func:`pipeline.suggest.resolve_bundle`
        and loads it (:func:`pipeline.suggest.load_suggester`) only if some line is not cached.
    model : Path or None
        ``--model`` (when ``suggester`` is None).
    db_url : str or None
        ``--db`` (when ``suggester`` is None): its promoted bundle may be used.
    quarantine : Path or None
        Where an export's rejected rows go; default ``<output stem>.quarantine.jsonl``.
    chunk_size : int
        Records coded per step.

    Returns
    -------
    SuggestSummary
        Counts and timing.

    Raises
    ------
    InputError
        If the input is missing or unreadable, a record is invalid, or the output is unusable.
    """
    started = time.perf_counter()
    if not input_path.exists():
        raise InputError(f"{input_path}: no such file or folder; check --input")
    if output.is_dir():
        raise InputError(f"{output} is a folder; give a file name such as suggestions.jsonl")
    if input_path.is_file() and output.resolve() == input_path.resolve():
        raise InputError(f"--output {output} is also the input; write somewhere else")
    if chunk_size < 1:
        raise InputError(f"chunk size {chunk_size} is not positive")
    coder = _LineCoder.for_suggester(suggester) if suggester else _LineCoder.lazy(model, db_url)
    part = output.with_name(output.name + ".part")
    selected: Counter[str] = Counter()
    count = 0
    try:
        with ExitStack() as stack:
            records, ingest = _open_input(input_path, output, quarantine, stack)
            # Records from an export were redacted by ingest a moment ago; a records file is
            # redacted here, before anything else happens to it.
            redact = ingest is None
            output.parent.mkdir(parents=True, exist_ok=True)
            handle = stack.enter_context(part.open("w", encoding="utf-8", newline="\n"))
            head = None
            for chunk in _chunks(records, chunk_size):
                lines = coder.lines(chunk, redact)
                head = head or f',"model":{_json(coder.info.name)},"suggestions":'
                for record, (suggestions, chosen) in zip(chunk, lines, strict=True):
                    # The line json.dumps(set.to_dict(), ...) gives, from its cached part.
                    handle.write(f'{{"id":{_json(record.id)}{head}{suggestions}}}\n')
                    selected.update(chosen)
                handle.flush()  # each chunk is on disk before the next is read
                count += len(chunk)
                logger.info("Coded %d records (%d from the cache)", count, coder.cached)
        os.replace(part, output)
    finally:
        with suppress(OSError):
            part.unlink(missing_ok=True)
    info = coder.info
    return SuggestSummary(
        input=str(input_path),
        output=str(output),
        model=info.name,
        records=count,
        selected={scheme: selected[scheme] for scheme in info.schemes},
        cold_start=list(info.cold_start),
        ingest=ingest,
        seconds=round(time.perf_counter() - started, 3),
    )


def _json(value: str) -> str:
    """Return a string as JSON, as the suggestions file writes it."""
    return json.dumps(value, ensure_ascii=False)


class _LineCoder:
    """Suggestion lines for records: from the suggestion cache, else from the suggester.

    The suggester is loaded on the first record the cache does not have (never, when it has
    them all and knows the bundle).
    """

    def __init__(
        self,
        load: Callable[[], Suggester],
        cache: SuggestCache | None,
        fingerprint: str | None,
    ) -> None:
        self._load = load
        self._suggester: Suggester | None = None
        self._info: BundleInfo | None = None
        self.cache = cache if fingerprint is not None else None
        self.fingerprint = fingerprint or ""
        self.cached = 0

    @classmethod
    def for_suggester(cls, suggester: Suggester) -> _LineCoder:
        """Code with a loaded suggester, through its cache if it has one."""
        coder = cls(
            lambda: suggester,
            getattr(suggester, "cache", None),
            getattr(suggester, "fingerprint", None),
        )
        coder._suggester = suggester
        return coder

    @classmethod
    def lazy(cls, model: Path | None, db_url: str | None) -> _LineCoder:
        """Resolve the bundle now; load it only when a line is not in the cache."""
        from pipeline.config import get_settings
        from pipeline.suggest import load_suggester, resolve_bundle

        settings = get_settings()
        bundle_dir = resolve_bundle(model, db_url)
        fingerprint = bundle_fingerprint(bundle_dir, settings.taxonomy)
        cache = SuggestCache(settings.cache_dir)
        return cls(lambda: load_suggester(bundle_dir), cache, fingerprint)

    @property
    def suggester(self) -> Suggester:
        """The suggester, loaded on first use."""
        if self._suggester is None:
            self._suggester = self._load()
        return self._suggester

    @property
    def info(self) -> BundleInfo:
        """The bundle's name, schemes and cold-start schemes (cached, or from the suggester)."""
        if self._info is None and self.cache is not None:
            self._info = self.cache.get_bundle(self.fingerprint)
        if self._info is None:
            scorers = self.suggester.scorers
            self._info = BundleInfo(
                self.suggester.name,
                tuple(scorers),
                tuple(scheme for scheme, scorer in scorers.items() if scorer.cold_only),
            )
            if self.cache is not None:
                self.cache.put_bundle(self.fingerprint, self._info)
        return self._info

    def lines(self, records: Sequence[Record], redact: bool) -> list[tuple[str, tuple[str, ...]]]:
        """Return, per record, its ``suggestions`` JSON and the schemes with a selected code."""
        keys: list[bytes] = []
        found: dict[bytes, tuple[str, tuple[str, ...]]] = {}
        if self.cache is not None:
            keys = [line_key(self.fingerprint, record_key(r, redact)) for r in records]
            found = self.cache.get_lines(keys)
        missing = [i for i in range(len(records)) if not keys or keys[i] not in found]
        self.cached += len(records) - len(missing)
        out: list[tuple[str, tuple[str, ...]]] = [("", ())] * len(records)
        if missing:
            sets = self.suggester.suggest([records[i] for i in missing], redact=redact)
            fresh: dict[bytes, tuple[str, tuple[str, ...]]] = {}
            for i, suggestion in zip(missing, sets, strict=True):
                codes = suggestion.to_dict()["suggestions"]
                text = json.dumps(codes, ensure_ascii=False, separators=(",", ":"))
                chosen = tuple(s for s, c in codes.items() if any(x["selected"] for x in c))
                out[i] = (text, chosen)
                if keys:
                    fresh[keys[i]] = out[i]
            if self.cache is not None and fresh:
                self.cache.put_lines(fresh)
        for i, key in enumerate(keys):
            if key in found:
                out[i] = found[key]
        return out


def _open_input(
    input_path: Path, output: Path, quarantine: Path | None, stack: ExitStack
) -> tuple[Iterator[Record], dict[str, Any] | None]:
    """Return the records to code, and ingest counts when the input is an export."""
    if is_records_file(input_path):
        return iter_records(input_path), None
    from pipeline.ingest import default_quarantine_path, ingest_files

    # Ingested records are personal data: they stay beside the output and are deleted after.
    output.parent.mkdir(parents=True, exist_ok=True)
    work = Path(
        stack.enter_context(
            tempfile.TemporaryDirectory(prefix=".nearmiss-suggest-", dir=output.parent)
        )
    )
    quarantine = quarantine or default_quarantine_path(output)
    summary = ingest_files([input_path], work / "records.jsonl", quarantine)
    counts = {
        "read": summary.read,
        "ingested": summary.ingested,
        "quarantined": summary.quarantined,
        "duplicates": summary.duplicates,
        "quarantine": str(quarantine),
    }
    return iter_records(work / "records.jsonl"), counts


def _chunks(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    """Group records into lists of ``size`` (the last may be shorter)."""
    chunk: list[Record] = []
    for record in records:
        chunk.append(record)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
