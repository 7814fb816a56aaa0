"""The schema of a bundle's ``metadata.json``: what a bundle was trained on, how, and how well.

Validated with pydantic (frozen, unknown keys refused) because a bundle directory crosses a trust
boundary: it may come from another machine. :func:`taxonomy_fingerprint` identifies a taxonomy's
content (schemes, codes, labels, definitions, examples), so an edited file with an unchanged
version number is caught while a re-indented or re-commented one is not.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.taxonomy import Taxonomy

__all__ = [
    "FORMAT_VERSION",
    "BundleMetadata",
    "CandidateInfo",
    "EmbedderInfo",
    "SchemeInfo",
    "TaxonomyInfo",
    "TrainingDataInfo",
    "taxonomy_fingerprint",
]

#: Bumped when the bundle layout changes meaning; older bundles are refused with a clear message.
FORMAT_VERSION = 1


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TaxonomyInfo(_Frozen):
    """The taxonomy a bundle was trained on."""

    name: str
    version: int
    sha256: str = Field(description="SHA-256 of the bundle's taxonomy.yaml bytes")
    fingerprint: str = Field(description="taxonomy_fingerprint of its content")


class EmbedderInfo(_Frozen):
    """The embedding model whose vectors the heads (and cold start) read."""

    model: str = Field(description="as configured: the packaged default's name or a path")
    revision: str
    identity: str
    dim: int | None


class TrainingDataInfo(_Frozen):
    """The labelled file a bundle was trained on."""

    sha256: str = Field(description="SHA-256 of the labelled JSONL file's bytes")
    n_records: int
    path_name: str = Field(description="the file's name only: paths may say whose data it is")
    synthetic: bool
    part_sha256: list[str] = Field(
        default_factory=list,
        description="SHA-256 of each file joined into the training data (the starter's sample "
        "and concept set), so evaluating on one of them is recognised as training data",
    )

    def includes(self, sha256: str) -> bool:
        """Tell whether a file with this SHA-256 is the training data or one of its parts."""
        return sha256 == self.sha256 or sha256 in self.part_sha256


class CandidateInfo(_Frozen):
    """Cross-validated scores of one candidate feature set (views joined by ``+``)."""

    features: str
    micro_f1: float
    macro_f1: float
    brier: float
    ece: float
    thresholds: list[float] | None


class SchemeInfo(_Frozen):
    """How one scheme was trained, or why it was not (``cold_start``)."""

    codes: list[str]
    multi_label: bool
    text_view: Literal["full", "recovery"]
    n_records: int = Field(description="records labelled for this scheme and used")
    n_positives: dict[str, int]
    cold_start: bool
    cold_start_reason: str | None = None
    features: str | None = None
    candidates: dict[str, CandidateInfo] = Field(default_factory=dict)
    thresholds: dict[str, float] | None = None
    scheme_threshold: float | None = None
    cv_metrics: dict[str, Any] | None = None


class BundleMetadata(_Frozen):
    """Everything ``metadata.json`` holds (see the bundle section of the design)."""

    format_version: int
    name: str
    created_at: str
    taxonomy: TaxonomyInfo
    embedder: EmbedderInfo | None
    libraries: dict[str, str]
    training_data: TrainingDataInfo
    seed: int
    training: dict[str, Any] = Field(description="hyper-parameters (cv, views, calibration...)")
    schemes: dict[str, SchemeInfo]
    files: dict[str, str] = Field(default_factory=dict, description="relative path -> SHA-256")

    def to_json(self) -> str:
        """Return the metadata as indented JSON text, schemes in taxonomy order."""
        data = self.model_dump(mode="json")
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def taxonomy_fingerprint(taxonomy: Taxonomy) -> str:
    """Return a SHA-256 of a taxonomy's content, independent of layout and comments.

    Parameters
    ----------
    taxonomy : Taxonomy
        A loaded taxonomy.

    Returns
    -------
    str
        The hex digest over name, version, and every scheme's id, kind and codes (id, label,
        definition, parent, examples).
    """
    content = {
        "name": taxonomy.name,
        "version": taxonomy.version,
        "schemes": [
            {
                "id": scheme.id,
                "multi_label": scheme.multi_label,
                "codes": [
                    [c.id, c.label, c.definition, c.parent, list(c.examples)] for c in scheme.codes
                ],
            }
            for scheme in taxonomy.schemes
        ],
    }
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
