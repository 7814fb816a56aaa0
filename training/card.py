"""The model card (``CARD.md``) of a bundle: what it was trained on, how well it did, its limits."""

from __future__ import annotations

from pipeline.bundle_metadata import BundleMetadata, SchemeInfo

__all__ = ["model_card"]

_SYNTHETIC = """\
## Read this first

- **Trained on synthetic data.** Every narrative it learnt from was written for nearmiss and
  describes no real patient, member of staff or practice.
- **Unvalidated on real GP narratives.** Its cross-validated scores below are measured on the
  same synthetic set and say nothing about how it codes real reports.
- **Confidence bands are not calibrated for local data** until the model is retrained on
  reviewed local codes (`nearmiss train` on your reviewed decisions). Treat every suggestion as
  a prompt for a reviewer, never as a code.
"""

_REAL = """\
## Read this first

- **Personal data.** This bundle was trained on real narratives (redacted before training). Its
  TF-IDF vocabulary is learnt from them and may hold words that identify people the redactor
  missed: keep it where the narratives may be kept, do not share it outside that boundary, and
  delete it with them (see the README's data section).
- Scores below are cross-validated on the training data; check them on held-out reviewed codes
  (`nearmiss evaluate`) before promoting the bundle.
"""


def model_card(metadata: BundleMetadata) -> str:
    """Render a bundle's model card from its metadata.

    Parameters
    ----------
    metadata : BundleMetadata
        The bundle's metadata (files need not be filled in).

    Returns
    -------
    str
        Markdown.
    """
    data = metadata.training_data
    embedder = metadata.embedder
    lines = [
        f"# Model card: {metadata.name}",
        "",
        _SYNTHETIC if data.synthetic else _REAL,
        "## Intended use",
        "",
        "Suggest codes for NHS general-practice near-miss narratives (significant event analyses "
        "and incident reports) for a person to accept, reject or edit in review. Not for coding "
        "without review, not for judging individuals, and not for any other kind of text.",
        "",
        "## Training",
        "",
        f"- Taxonomy: {metadata.taxonomy.name} v{metadata.taxonomy.version} "
        f"(copy in `taxonomy.yaml`)",
        f"- Data: `{data.path_name}`, {data.n_records} records, SHA-256 `{data.sha256}`"
        f"{' (synthetic)' if data.synthetic else ''}; texts redacted before training",
        f"- Embedding model: {embedder.model} (revision {embedder.revision[:12]})"
        if embedder
        else "- Embedding model: none",
        f"- Seed {metadata.seed}; created {metadata.created_at}",
        "- Heads: one-vs-rest logistic regression per view (TF-IDF, embedding, pooled sentence "
        "vectors, Naive-Bayes-weighted TF-IDF), calibrated "
        "(Platt) on out-of-fold scores, views chosen and averaged by cross-validated macro-F1; "
        "per-code thresholds learnt out of fold",
        "",
        "## Cross-validated scores",
        "",
        "| scheme | text | records | features | micro-F1 | macro-F1 | Brier | ECE |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [_scheme_row(scheme_id, info) for scheme_id, info in metadata.schemes.items()]
    lines += _per_code(metadata)
    cold = [(s, i) for s, i in metadata.schemes.items() if i.cold_start]
    lines += ["", "## Cold start", "", _cold_start_line(metadata)]
    lines += [
        f"- `{scheme_id}` is scored from its code definitions and examples only: "
        f"{info.cold_start_reason}."
        for scheme_id, info in cold
    ]
    lines += [
        "",
        "## Limits",
        "",
        "- Scores are out-of-fold on the training set, not on independent data.",
        "- Per-code scores for codes with few examples are noisy; `metadata.json` "
        "(`schemes.<id>.cv_metrics`) also holds the reliability bins.",
        "- The recovery schemes read only the what-happened, action-taken and what-went-well "
        "parts of a narrative, never its 'what has been changed' section.",
        "",
    ]
    return "\n".join(lines)


def _cold_start_line(metadata: BundleMetadata) -> str:
    """Say how cold-start cosines become scores: fitted on this bundle's data, or the table's."""
    recorded = metadata.training.get("cold_start")
    if not recorded:
        return (
            "- Cold-start scores (codes scored from their definitions and examples, blended out "
            "as codes gain labels) use the embedding model's default calibration: the training "
            "data had too few labelled code pairs to fit one."
        )
    fitted = recorded.get("fitted_on", {})
    return (
        "- Cold-start scores (codes scored from their definitions and examples, blended out as "
        "codes gain labels) are calibrated on this bundle's training data: "
        f"`expit({recorded['slope']:.2f} * (cosine - {recorded['center']:.3f}))`, selected at "
        f"{recorded['threshold']:.3f}, fitted on {fitted.get('pairs', '?')} labelled "
        f"(narrative, code) pairs of {fitted.get('records', '?')} records "
        f"(out-of-fold pooled F1 {fitted.get('oof_f1', float('nan')):.3f})."
    )


def _scheme_row(scheme_id: str, info: SchemeInfo) -> str:
    """Return the table row of a scheme's scores."""
    if info.cold_start or info.cv_metrics is None:
        return f"| {scheme_id} | {info.text_view} | {info.n_records} | cold start | - | - | - | - |"
    metrics = info.cv_metrics
    calibration = metrics.get("calibration") or {}
    return (
        f"| {scheme_id} | {info.text_view} | {info.n_records} | {info.features} "
        f"| {metrics['micro']['f1']:.3f} | {metrics['macro']['f1']:.3f} "
        f"| {calibration.get('brier', float('nan')):.3f} "
        f"| {calibration.get('ece', float('nan')):.3f} |"
    )


def _per_code(metadata: BundleMetadata) -> list[str]:
    """Return table rows of every trained code's cross-validated precision, recall and F1."""
    rows = [
        f"| {scheme_id} | {code['code']} | {code['precision']:.2f} | {code['recall']:.2f} "
        f"| {code['f1']:.2f} | {code['support']} |"
        for scheme_id, info in metadata.schemes.items()
        if info.cv_metrics is not None
        for code in info.cv_metrics["codes"]
    ]
    if not rows:
        return []
    header = ["", "### Per code", "", "| scheme | code | precision | recall | F1 | support |"]
    return [*header, "|---|---|---|---|---|---|", *rows]
