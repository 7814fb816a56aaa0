"""A team's own taxonomy with one-code schemes, and labelled lines for it.

``ward-team`` v1 has a two-code single-label scheme (``severity``), a one-code multi-label scheme
(``escalated``: the code applies or not), a one-code single-label scheme (``setting``: every
narrative gets it) and a one-code multi-label scheme with too few labels to train
(``equipment``). No scheme is called outcome, recovery or recovery_agent, so the GP recovery
rule must leave every decision alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

TEAM_TAXONOMY = """\
name: ward-team
version: 1
schemes:
  - id: severity
    title: Severity
    multi_label: false
    codes:
      - {id: low, label: Low, definition: Little risk to the patient and caught early.}
      - {id: high, label: High, definition: Serious risk that nearly reached the patient.}
  - id: escalated
    title: Escalated
    multi_label: true
    codes:
      - id: escalated
        label: Escalated to a senior
        definition: The event was escalated to the consultant or the nurse in charge.
        examples: [told the consultant, escalated to the nurse in charge]
  - id: setting
    title: Setting
    multi_label: false
    codes:
      - {id: ward, label: Ward, definition: It happened on the ward.}
  - id: equipment
    title: Equipment
    multi_label: true
    codes:
      - {id: pump, label: Infusion pump, definition: An infusion pump was involved.}
"""

_FILLER = ["drug round", "bed four", "handover", "night shift", "bay two", "side room"]


def team_taxonomy(root: Path) -> Path:
    """Write the team taxonomy under ``root`` and return its path."""
    path = root / "ward-team" / "v1.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TEAM_TAXONOMY, encoding="utf-8")
    return path


def team_labelled(n: int = 45, seed: int = 0) -> list[dict[str, Any]]:
    """Labelled lines whose words hint at their codes; ``equipment`` labelled on 6 only."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        severity = "high" if i % 2 else "low"
        escalated = i % 3 == 0
        words = [
            "serious risk nearly reached the patient" if severity == "high" else "caught early",
            *(["escalated to the consultant"] if escalated else []),
            str(rng.choice(_FILLER)),
        ]
        codes: dict[str, list[str]] = {
            "severity": [severity],
            "escalated": ["escalated"] if escalated else [],
            "setting": ["ward"],
        }
        if i < 6:
            codes["equipment"] = ["pump"] if i % 2 else []
        text = ". ".join(words) + ". Sister Jones rang 07700 900123."
        records.append({"id": f"w{i:03d}", "text": text, "source": "synthetic", "codes": codes})
    return records
