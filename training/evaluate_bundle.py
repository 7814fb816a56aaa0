"""Evaluate a bundle on labelled data: per-code precision, recall and F1, averages, calibration.

The bundle is scored the way ``nearmiss suggest`` scores narratives (its trained heads, blended
with cold start where the suggester blends, cold start alone for untrained schemes), and the
suggestions are compared with the labels through :func:`training.evaluate.evaluate_codes`. Only
records labelled for a scheme count for it (a scheme absent from ``codes`` is not labelled).
Evaluating on the data a bundle was trained on is flagged: such scores are optimistic.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from pipeline.bundle import read_metadata
from pipeline.errors import InputError
from pipeline.record import Record
from pipeline.taxonomy import Taxonomy, load_taxonomy
from training.dataset import Dataset, load_dataset
from training.evaluate import SchemeEvaluation, evaluate_codes, format_evaluation

__all__ = ["BundleEvaluation", "SuggesterLike", "evaluate_bundle", "evaluate_suggestions"]

logger = logging.getLogger(__name__)


class _SuggestionSetLike(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


class SuggesterLike(Protocol):
    """What evaluation needs of a suggester: a name and ``suggest(records)``."""

    @property
    def name(self) -> str:
        """The bundle's name."""
        ...

    def suggest(self, records: Sequence[Record]) -> Sequence[_SuggestionSetLike]:
        """Return one suggestion set per record, in order."""
        ...


@dataclass(frozen=True)
class BundleEvaluation:
    """The evaluation of one bundle on one labelled file.

    Attributes
    ----------
    model : str
        The bundle's name.
    data : str
        The labelled file's name.
    data_sha256 : str
        SHA-256 of the labelled file.
    n_records : int
        Records in the file.
    on_training_data : bool
        Whether the file is the one the bundle was trained on (scores are then optimistic).
    schemes : dict of str to SchemeEvaluation
        Per scheme with labelled records.
    cold_start : dict of str to bool
        Whether each evaluated scheme is scored by cold start alone.
    """

    model: str
    data: str
    data_sha256: str
    n_records: int
    on_training_data: bool
    schemes: dict[str, SchemeEvaluation]
    cold_start: dict[str, bool] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return every figure as a JSON-serialisable dictionary."""
        return {
            "model": self.model,
            "data": {"name": self.data, "sha256": self.data_sha256, "records": self.n_records},
            "on_training_data": self.on_training_data,
            "schemes": {
                scheme: {"cold_start": self.cold_start.get(scheme, False), **result.to_dict()}
                for scheme, result in self.schemes.items()
            },
        }

    def format(self) -> str:
        """Render the evaluation as plain-text tables, one per scheme."""
        lines = [f"Bundle {self.model} on {self.data} ({self.n_records} records)"]
        if self.on_training_data:
            lines.append(
                "Warning: this is the data the bundle was trained on; scores are optimistic. "
                "Evaluate on held-out reviewed codes."
            )
        for scheme, result in self.schemes.items():
            how = "cold start" if self.cold_start.get(scheme) else "trained"
            lines += ["", format_evaluation(result, title=f"{scheme} ({how})")]
        return "\n".join(lines)


def evaluate_bundle(
    bundle_dir: Path,
    data_path: Path,
    *,
    taxonomy_path: Path | None = None,
    suggester: SuggesterLike | None = None,
) -> BundleEvaluation:
    """Suggest codes for labelled narratives with a bundle and score them against the labels.

    Parameters
    ----------
    bundle_dir : Path
        The bundle.
    data_path : Path
        Labelled JSONL; its codes must come from the bundle's taxonomy.
    taxonomy_path : Path or None
        The taxonomy in force; refused when it is not the bundle's. None uses the bundle's copy.
    suggester : SuggesterLike or None
        Scores the records; None loads ``pipeline.suggest.Suggester`` for ``bundle_dir``.

    Returns
    -------
    BundleEvaluation
        Per-scheme, per-code scores and calibration.

    Raises
    ------
    BundleError
        If the bundle is missing, damaged, or trained on another taxonomy than ``taxonomy_path``.
    InputError
        On bad labelled data (unknown codes name the line and code) or no labelled scheme.
    """
    from pipeline.bundle import TAXONOMY_FILE, load_bundle

    taxonomy = load_taxonomy(taxonomy_path) if taxonomy_path is not None else None
    bundle = load_bundle(bundle_dir, taxonomy, check_embedder=False)
    dataset = load_dataset(data_path, load_taxonomy(bundle_dir / TAXONOMY_FILE))
    if suggester is None:
        from pipeline.suggest import Suggester

        suggester = Suggester.load(bundle_dir)
    suggestions = [s.to_dict() for s in suggester.suggest(list(dataset.records))]
    result = evaluate_suggestions(dataset, suggestions, bundle.taxonomy)
    metadata = read_metadata(bundle_dir)
    return BundleEvaluation(
        model=suggester.name,
        data=data_path.name,
        data_sha256=dataset.sha256,
        n_records=len(dataset.records),
        on_training_data=metadata.training_data.includes(dataset.sha256),
        schemes=result,
        cold_start={s: s not in bundle.heads for s in result},
    )


def evaluate_suggestions(
    dataset: Dataset, suggestions: Sequence[Mapping[str, Any]], taxonomy: Taxonomy
) -> dict[str, SchemeEvaluation]:
    """Score suggestion lines (the suggestions JSONL contract) against a dataset's labels.

    Parameters
    ----------
    dataset : Dataset
        The labelled records.
    suggestions : sequence of mapping
        One suggestion line per record, in the same order and with the same ids.
    taxonomy : Taxonomy
        Gives each scheme's codes.

    Returns
    -------
    dict of str to SchemeEvaluation
        Per scheme with at least one labelled record.

    Raises
    ------
    InputError
        If the suggestions do not line up with the records, miss a scheme or a code, or no
        scheme is labelled.
    """
    if len(suggestions) != len(dataset.records):
        raise InputError(
            f"{len(suggestions)} suggestion lines for {len(dataset.records)} records; "
            "expected one per record"
        )
    results: dict[str, SchemeEvaluation] = {}
    for scheme_id, data in dataset.schemes.items():
        if len(data.rows) == 0:
            continue
        codes = taxonomy.scheme(scheme_id).leaf_ids
        proba = np.zeros(data.y.shape)
        selected = np.zeros(data.y.shape, dtype=np.int64)
        for i, row in enumerate(data.rows):
            line = suggestions[row]
            record_id = dataset.records[row].id
            if line.get("id") != record_id:
                raise InputError(
                    f"suggestion line {row + 1} is for {line.get('id')!r}, not {record_id!r}"
                )
            by_code = {s["code"]: s for s in line.get("suggestions", {}).get(scheme_id, [])}
            missing = [code for code in codes if code not in by_code]
            if missing:
                raise InputError(f"suggestions for {record_id!r} lack {scheme_id} codes {missing}")
            proba[i] = [float(by_code[code]["score"]) for code in codes]
            selected[i] = [int(bool(by_code[code]["selected"])) for code in codes]
        results[scheme_id] = evaluate_codes(data.y, selected, codes, np.clip(proba, 0.0, 1.0))
        logger.info(
            "Scheme %s: %d records, micro-F1 %.3f, macro-F1 %.3f",
            *(scheme_id, len(data.rows), results[scheme_id].micro.f1, results[scheme_id].macro.f1),
        )
    if not results:
        raise InputError(f"{dataset.path}: no record is labelled for any scheme; nothing to score")
    return results
