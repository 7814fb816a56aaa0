"""What ``nearmiss train`` reports: per scheme, trained or cold start, and its CV scores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.bundle_metadata import BundleMetadata

__all__ = ["format_training", "training_summary"]


def training_summary(bundle_dir: Path, metadata: BundleMetadata, seconds: float) -> dict[str, Any]:
    """Summarise a freshly written bundle for the command line.

    Parameters
    ----------
    bundle_dir : Path
        The bundle directory.
    metadata : BundleMetadata
        Its metadata.
    seconds : float
        Wall time of the training run.

    Returns
    -------
    dict
        JSON-serialisable: bundle, name, taxonomy, records, embedder, seconds, per scheme
        either its cross-validated scores or why it falls back to cold start, and the cold-start
        calibration fitted on the data (None when the fallback table is used).
    """
    schemes: dict[str, Any] = {}
    for scheme_id, info in metadata.schemes.items():
        entry: dict[str, Any] = {"records": info.n_records, "cold_start": info.cold_start}
        if info.cold_start:
            entry["reason"] = info.cold_start_reason
        elif info.cv_metrics is not None:
            calibration = info.cv_metrics.get("calibration") or {}
            entry.update(
                features=info.features,
                text_view=info.text_view,
                micro_f1=round(info.cv_metrics["micro"]["f1"], 4),
                macro_f1=round(info.cv_metrics["macro"]["f1"], 4),
                brier=round(calibration.get("brier", float("nan")), 4),
                ece=round(calibration.get("ece", float("nan")), 4),
            )
        schemes[scheme_id] = entry
    return {
        "bundle": str(bundle_dir),
        "name": metadata.name,
        "taxonomy": f"{metadata.taxonomy.name} v{metadata.taxonomy.version}",
        "records": metadata.training_data.n_records,
        "synthetic": metadata.training_data.synthetic,
        "embedder": metadata.embedder.model if metadata.embedder else None,
        "seconds": round(seconds, 1),
        "schemes": schemes,
        "cold_start_calibration": _calibration(metadata),
    }


def _calibration(metadata: BundleMetadata) -> dict[str, Any] | None:
    """Return the cold-start calibration fitted on the training data, or None (table fallback)."""
    recorded = metadata.training.get("cold_start")
    if not recorded:
        return None
    return {key: recorded[key] for key in ("center", "slope", "threshold")}


def format_training(summary: dict[str, Any]) -> str:
    """Render :func:`training_summary` output as a few lines of text."""
    lines = [
        f"Trained bundle {summary['name']} in {summary['bundle']} on {summary['records']} records "
        f"({summary['taxonomy']}{', synthetic' if summary['synthetic'] else ''}) "
        f"in {summary['seconds']:.1f} s",
        "Cross-validated (out-of-fold) scores:",
    ]
    width = max(len(scheme) for scheme in summary["schemes"])
    for scheme, entry in summary["schemes"].items():
        if entry["cold_start"]:
            lines.append(f"  {scheme:<{width}}  cold start: {entry['reason']}")
            continue
        lines.append(
            f"  {scheme:<{width}}  {entry['records']:5d} records  {entry['features']:<15}"
            f"  micro-F1 {entry['micro_f1']:.3f}  macro-F1 {entry['macro_f1']:.3f}"
            f"  Brier {entry['brier']:.3f}  ECE {entry['ece']:.3f}"
        )
    calibration = summary.get("cold_start_calibration")
    if calibration:
        lines.append(
            f"Cold-start calibration fitted on this data: center {calibration['center']:.3f}, "
            f"slope {calibration['slope']:.2f}, threshold {calibration['threshold']:.3f}"
        )
    else:
        lines.append(
            "Cold-start calibration: too few labelled code pairs to fit one; the embedding "
            "model's default is used"
        )
    lines.append(f"Model card: {Path(summary['bundle']) / 'CARD.md'}")
    return "\n".join(lines)
