"""Tiny bundles for suggester tests: a taxonomy with outcome, cause and recovery_agent schemes.

Bundles are trained for real (``training.bundle.train_bundle``) on synthetic lines whose words hint
at their codes, with the hash-based fake embedder of ``tests/bundle_fixtures.py``: no torch, no
weights. Every narrative is an SEA write-up whose "what has been changed" section names a
designed defence, so a recovery scheme that read it would learn the wrong thing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pipeline.suggest import Suggester
from tests.bundle_fixtures import FAKE_DIM, FAKE_WINDOW, fake_embedder, write_labelled
from tests.pipeline.test_embed import HashEncoder

MINI_TAXONOMY = """\
name: mini
version: 1
schemes:
  - id: outcome
    title: Outcome
    multi_label: false
    codes:
      - id: near_miss
        label: Near miss
        definition: Caught before it reached the patient.
        examples: [spotted before issue]
      - {id: incident, label: Incident, definition: The patient took it or the dose was given.}
  - id: cause
    title: Causes
    multi_label: true
    codes:
      - {id: people, label: People, definition: Grouping code for people factors.}
      - id: staffing
        label: Staffing
        parent: people
        definition: Too few staff for the work, a locum or a rota gap.
        examples: [short-staffed on reception]
      - {id: it_design, label: IT design, definition: A dropdown or template made it easy to slip.}
  - id: recovery_agent
    title: Recovery agent
    multi_label: true
    codes:
      - id: human
        label: Relied on someone
        definition: A receptionist or the patient noticed by chance.
        examples: [patient queried the tablets]
      - id: designed
        label: Designed defence
        definition: An alert fired or a mandated pharmacist screen caught it.
        examples: [interaction alert fired]
"""

_WORDS = {
    "staffing": ["short-staffed", "locum", "rota gap"],
    "it_design": ["dropdown", "template", "screen layout"],
    "near_miss": ["caught before it reached the patient", "spotted before issue"],
    "incident": ["the patient took it", "dose was given"],
    "human": ["receptionist noticed by chance", "patient queried the tablets"],
    "designed": ["interaction alert fired", "pharmacist screen caught it"],
}
_FILLER = ["patient", "surgery", "result", "prescription", "review", "rang", "checked"]


def mini_taxonomy(root: Path) -> Path:
    """Write the mini taxonomy under ``root`` and return its path."""
    path = root / "mini" / "v1.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(MINI_TAXONOMY, encoding="utf-8")
    return path


def mini_labelled(n: int = 60, seed: int = 0, recovery: bool = True) -> list[dict[str, Any]]:
    """Labelled SEA records; without ``recovery`` the recovery_agent scheme is left unlabelled."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        outcome = "near_miss" if i % 3 else "incident"
        causes = [code for j, code in enumerate(("staffing", "it_design")) if (i >> j) % 2]
        agents = [("human", "designed")[(i // 3) % 2]] if outcome == "near_miss" else []
        happened = [*rng.choice(_FILLER, size=4), *(rng.choice(_WORDS[c]) for c in causes)]
        happened.append(rng.choice(_WORDS[outcome]))
        action = [*rng.choice(_FILLER, size=3), *(rng.choice(_WORDS[a]) for a in agents)]
        text = (
            f"What happened: Mrs Jones rang 07700 900123. {' '.join(map(str, happened))}.\n"
            f"Action taken: {' '.join(map(str, action))}.\n"
            "What has been changed: a new interaction alert fired and pharmacist screen added."
        )
        codes: dict[str, list[str]] = {"outcome": [outcome], "cause": causes}
        if recovery:
            codes["recovery_agent"] = agents
        records.append({"id": f"m{i:03d}", "text": text, "source": "synthetic", "codes": codes})
    return records


def build_mini_bundle(root: Path, *, recovery: bool = True, n: int = 60) -> Path:
    """Train a mini bundle under ``root`` with the fake embedder and return its directory."""
    from training.bundle import train_bundle

    taxonomy = mini_taxonomy(root)
    data = write_labelled(root / "labelled.jsonl", mini_labelled(n, recovery=recovery))
    return train_bundle(data, taxonomy, root / "bundle", embedder=fake_embedder(root), cv=3)


def fake_encoder() -> HashEncoder:
    """The hash encoder the fake model dir stands for."""
    return HashEncoder(dim=FAKE_DIM, max_seq_length=FAKE_WINDOW)


def load_mini(bundle_dir: Path, cache_dir: Path) -> Suggester:
    """A suggester over a mini bundle with the fake encoder (never cached per process)."""
    return Suggester.load(bundle_dir, encoder=fake_encoder(), cache_dir=cache_dir)
