"""Labelled data for training: read, validate against a taxonomy, redact, and split by scheme.

Everything a model learns from passes through :func:`load_dataset`, which redacts every text and
section first, so a bundle's vocabulary never holds an identifier the redactor knows. Labels
follow the labelled-data contract: a scheme present with ``[]`` means "reviewed: none apply"; a
scheme absent means "not labelled for this scheme". A scheme with too little data to fit (fewer
than :data:`MIN_RECORDS` labelled records, or a code with fewer than :data:`MIN_POSITIVES`) is
not trained: it falls back to cold start, and :attr:`SchemeData.cold_start_reason` says why.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from pipeline.errors import InputError
from pipeline.record import LabelledRecord, iter_labelled
from pipeline.redact import redact_texts
from pipeline.taxonomy import Scheme, Taxonomy

__all__ = ["MIN_POSITIVES", "MIN_RECORDS", "Dataset", "SchemeData", "load_dataset"]

logger = logging.getLogger(__name__)

#: Fewer labelled records than this and a scheme is not trained (cold start instead).
MIN_RECORDS = 10
#: A code with fewer positive narratives than this sends its scheme to cold start.
MIN_POSITIVES = 3


@dataclass(frozen=True, eq=False)
class SchemeData:
    """The records labelled for one scheme and their label matrix.

    Attributes
    ----------
    scheme : Scheme
        The taxonomy's scheme.
    rows : ndarray of shape (n,)
        Indices into :attr:`Dataset.records` of the records used for this scheme.
    y : ndarray of shape (n, k)
        Label indicators, columns in ``scheme.leaf_ids`` order.
    skipped : int
        Records labelled ``[]`` for a single-label scheme (which needs one code): left out.
    cold_start_reason : str or None
        Why the scheme is not trained, or None when it is.
    """

    scheme: Scheme
    rows: NDArray[np.intp]
    y: NDArray[np.int64]
    skipped: int = 0
    cold_start_reason: str | None = None

    @property
    def codes(self) -> tuple[str, ...]:
        """Code ids, the column order of :attr:`y`."""
        return self.scheme.leaf_ids

    @property
    def n_positives(self) -> dict[str, int]:
        """Positive narratives per code."""
        return {code: int(n) for code, n in zip(self.codes, self.y.sum(axis=0), strict=True)}


@dataclass(frozen=True, eq=False)
class Dataset:
    """A validated, redacted labelled data set.

    Attributes
    ----------
    path : Path
        The labelled JSONL file.
    sha256 : str
        SHA-256 of the file's bytes (recorded in bundle metadata).
    records : tuple of LabelledRecord
        The records, text and sections redacted, in file order.
    taxonomy : Taxonomy
        The taxonomy the codes were checked against.
    schemes : dict of str to SchemeData
        Every scheme of the taxonomy, in taxonomy order.
    """

    path: Path
    sha256: str
    records: tuple[LabelledRecord, ...]
    taxonomy: Taxonomy
    schemes: dict[str, SchemeData]

    @property
    def trainable(self) -> tuple[str, ...]:
        """Scheme ids with enough labels to train."""
        return tuple(s for s, data in self.schemes.items() if data.cold_start_reason is None)


def load_dataset(path: Path, taxonomy: Taxonomy) -> Dataset:
    """Read labelled JSONL, check it against a taxonomy, redact it and build per-scheme labels.

    Parameters
    ----------
    path : Path
        Labelled data (records with ``codes``).
    taxonomy : Taxonomy
        The taxonomy the codes must come from.

    Returns
    -------
    Dataset
        The redacted records and, per scheme, the label matrix or why it falls back to cold
        start.

    Raises
    ------
    InputError
        On a missing file, a line that is not a labelled record, an empty text, a repeated id
        (naming both lines), an unknown scheme or code (naming the line and code), or a file with
        no records. The message names the file and line.
    """
    raw = _read_records(path, taxonomy)
    records = _redact(raw)
    schemes = {s.id: _scheme_data(s, records) for s in taxonomy.schemes}
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    logger.info("Loaded %d labelled records from %s", len(records), path.name)
    return Dataset(path, digest, tuple(records), taxonomy, schemes)


def _read_records(path: Path, taxonomy: Taxonomy) -> list[LabelledRecord]:
    """Validate every line; fail on the first bad one, naming the file and line."""
    records: list[LabelledRecord] = []
    for number, record in iter_labelled(path):
        where = f"{path}, line {number}"
        if not record.text.strip():
            raise InputError(f"{where}: record '{record.id}' has an empty text; remove the line")
        taxonomy.check_codes(record.codes, where)
        records.append(record)
    if not records:
        raise InputError(f"{path}: no labelled records; nothing to train on")
    return records


def _redact(records: list[LabelledRecord]) -> list[LabelledRecord]:
    """Redact every text and section in one batch; return records carrying the redacted text."""
    pieces = [r.text for r in records]
    for record in records:
        pieces.extend((record.sections or {}).values())
    redacted = iter(redact_texts(pieces))
    texts = [next(redacted) for _ in records]
    out = []
    for record, text in zip(records, texts, strict=True):
        sections = None
        if record.sections is not None:
            sections = {key: next(redacted) for key in record.sections}
        out.append(record.model_copy(update={"text": text, "sections": sections}))
    return out


def _scheme_data(scheme: Scheme, records: list[LabelledRecord]) -> SchemeData:
    """Collect the records labelled for ``scheme`` and decide whether it can be trained."""
    codes = scheme.leaf_ids
    rows: list[int] = []
    skipped = 0
    for index, record in enumerate(records):
        labels = record.codes.get(scheme.id)
        if labels is None:
            continue
        if not scheme.multi_label and not labels:
            skipped += 1
            continue
        rows.append(index)
    y = np.zeros((len(rows), len(codes)), dtype=np.int64)
    for i, index in enumerate(rows):
        for code in records[index].codes[scheme.id]:
            y[i, codes.index(code)] = 1
    data = SchemeData(scheme, np.asarray(rows, dtype=np.intp), y, skipped)
    reason = _cold_start_reason(data)
    return SchemeData(data.scheme, data.rows, data.y, skipped, reason)


def _cold_start_reason(data: SchemeData) -> str | None:
    """Say why a scheme cannot be trained, or return None."""
    n = len(data.rows)
    if n == 0:
        return "no records are labelled for it"
    if not data.scheme.multi_label and len(data.codes) == 1:
        return "a single-label scheme with one code: every narrative gets it, nothing to learn"
    if n < MIN_RECORDS:
        return f"only {n} labelled records; training needs at least {MIN_RECORDS}"
    rare = [
        f"{code} ({count})" for code, count in data.n_positives.items() if count < MIN_POSITIVES
    ]
    if rare:
        return (
            f"codes with fewer than {MIN_POSITIVES} positive narratives: {', '.join(rare)}; "
            "label more examples of them"
        )
    if data.scheme.multi_label:
        always = [code for code, count in data.n_positives.items() if count == n]
        if always:
            return (
                f"codes on every labelled narrative: {', '.join(always)}; label narratives "
                "without them"
            )
    return None
