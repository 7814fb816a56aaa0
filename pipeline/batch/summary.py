"""The batch summary: counts that reconcile, from ingest through storing to coding.

Every row read is *ingested* (stored in the review store), *quarantined* (with a reason) or a
*duplicate*: ``read == ingested + quarantined + duplicates``. Every ingested narrative is *coded* in
this run or was *already coded* by the same bundle: ``ingested == coded + already_coded``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pipeline.batch.coding import CodedChunk
from pipeline.batch.storing import StoredChunk
from pipeline.ingest import FileSummary, IngestSummary
from pipeline.ingest.row import Reason
from pipeline.ingest.summary import format_details

__all__ = ["BatchSummary", "BatchTally"]


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """What one batch run did (counts, names and timings; never narrative text).

    Attributes
    ----------
    read, ingested, quarantined, duplicates : int
        Rows read and what became of them; ``read == ingested + quarantined + duplicates``.
        ``ingested`` counts rows stored in the review store.
    stored : int
        Narratives new to the store (the others were stored by an earlier run).
    coded, already_coded : int
        Ingested narratives coded in this run, and those the same bundle had coded before;
        ``ingested == coded + already_coded``.
    model : str
        The bundle that coded them.
    chunks : int
        Chunks the records were cut into.
    reasons, warnings : Mapping[str, int]
        Quarantined rows by reason; ingested rows with something odd, by kind.
    files : tuple of FileSummary
        Per-file counts.
    quarantine : str
        Where quarantined rows were written.
    store : str
        The store (password masked).
    seconds : float
        Wall time of the run; ``ingest_seconds`` (read and redact), ``store_seconds`` (store
        narratives) and ``code_seconds`` (suggest and store suggestions) are its main parts, each
        summed over chunks (coding overlaps storing, and several workers overlap each other).
    """

    read: int
    ingested: int
    quarantined: int
    duplicates: int
    stored: int
    coded: int
    already_coded: int
    model: str
    chunks: int
    reasons: Mapping[str, int]
    warnings: Mapping[str, int]
    files: tuple[FileSummary, ...]
    quarantine: str
    store: str
    seconds: float
    ingest_seconds: float
    code_seconds: float
    store_seconds: float = 0.0

    @property
    def reconciles(self) -> bool:
        """Whether every row read is accounted for and every ingested narrative is coded."""
        return (
            self.read == self.ingested + self.quarantined + self.duplicates
            and self.ingested == self.coded + self.already_coded
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as a JSON-ready dict (what ``nearmiss batch --json`` prints)."""
        return {
            "read": self.read,
            "ingested": self.ingested,
            "quarantined": self.quarantined,
            "duplicates": self.duplicates,
            "stored": self.stored,
            "coded": self.coded,
            "already_coded": self.already_coded,
            "model": self.model,
            "chunks": self.chunks,
            "reasons": dict(self.reasons),
            "warnings": dict(self.warnings),
            "files": [f.to_dict() for f in self.files],
            "quarantine": self.quarantine,
            "store": self.store,
            "seconds": round(self.seconds, 3),
            "ingest_seconds": round(self.ingest_seconds, 3),
            "store_seconds": round(self.store_seconds, 3),
            "code_seconds": round(self.code_seconds, 3),
        }

    def format(self) -> str:
        """Format the summary as a few lines of plain text for a person."""
        lines = [
            f"Read {self.read} rows from {len(self.files)} files: {self.ingested} ingested, "
            f"{self.quarantined} quarantined, {self.duplicates} duplicates."
        ]
        if self.stored == 0 and self.coded == 0:
            lines.append(
                f"Nothing new: all {self.ingested} narratives were already in the store and coded "
                f"by {self.model}."
            )
        else:
            lines.append(
                f"Coded {self.coded} narratives with {self.model} ({self.already_coded} already "
                f"coded); {self.stored} narratives new to the store, pending review."
            )
        lines += format_details(self.files, self.reasons, self.warnings)
        lines.append(f"Quarantine: {self.quarantine}")
        lines.append(
            f"Store: {self.store} ({self.chunks} chunks, {self.seconds:.1f} s: ingest "
            f"{self.ingest_seconds:.1f} s, coding {self.code_seconds:.1f} s)"
        )
        return "\n".join(lines)


@dataclass(slots=True)
class BatchTally:
    """Running totals of a batch while its chunks are stored and coded (mutable).

    Parameters
    ----------
    ingest : IngestSummary
        What ingest did.
    """

    ingest: IngestSummary
    chunks: int = 0
    ingested: int = 0
    stored: int = 0
    coded: int = 0
    conflicts: Counter[str] = field(default_factory=Counter)
    code_seconds: float = 0.0
    store_seconds: float = 0.0

    def add_stored(self, chunk: StoredChunk) -> None:
        """Count a stored chunk (all its narratives count as already coded until coded)."""
        self.chunks += 1
        self.ingested += len(chunk.ids)
        self.stored += chunk.inserted
        self.conflicts.update(dict(chunk.conflict_sources))
        self.store_seconds += chunk.seconds

    def add_coded(self, chunk: CodedChunk) -> None:
        """Count a coded chunk."""
        self.coded += chunk.coded
        self.code_seconds += chunk.seconds

    def summary(self, *, model: str, store: str, seconds: float) -> BatchSummary:
        """Freeze the totals into a summary.

        Parameters
        ----------
        model : str
            The bundle's name.
        store : str
            The store URL, password masked.
        seconds : float
            Wall time of the run.

        Returns
        -------
        BatchSummary
            Ingest counts with id conflicts found in the store moved from ingested to quarantined.
        """
        ingest = self.ingest
        conflicts = sum(self.conflicts.values())
        reasons = Counter(ingest.reasons)
        if conflicts:
            reasons[str(Reason.ID_CONFLICT)] += conflicts
        files = tuple(
            replace(
                f,
                ingested=f.ingested - self.conflicts.get(f.source, 0),
                quarantined=f.quarantined + self.conflicts.get(f.source, 0),
            )
            for f in ingest.files
        )
        return BatchSummary(
            read=ingest.read,
            ingested=ingest.ingested - conflicts,
            quarantined=ingest.quarantined + conflicts,
            duplicates=ingest.duplicates,
            stored=self.stored,
            coded=self.coded,
            already_coded=self.ingested - self.coded,
            model=model,
            chunks=self.chunks,
            reasons=dict(sorted(reasons.items())),
            warnings=dict(ingest.warnings),
            files=files,
            quarantine=ingest.quarantine,
            store=store,
            seconds=seconds,
            ingest_seconds=ingest.seconds,
            code_seconds=self.code_seconds,
            store_seconds=self.store_seconds,
        )
