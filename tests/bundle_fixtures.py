"""Helpers for bundle and training tests: a resolvable fake embedding model, tiny labelled data.

The fake model is a directory with a ``config.json`` (so ``EmbedderSpec.from_model`` resolves it
and a bundle can check its identity) and a hash-based encoder (no torch, no weights). Labelled
lines use the tiny taxonomy of ``tests/conftest.py``: ``outcome`` (near_miss, incident) and
``cause`` (staffing, it_design).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.embed import Embedder, EmbedderSpec
from pipeline.starter import CONCEPT_DATA, SAMPLE_DATA, STARTER_TAXONOMY
from tests.conftest import TINY_TAXONOMY
from tests.pipeline.test_embed import HashEncoder

FAKE_DIM = 16
FAKE_WINDOW = 64

_SIGNALS = {
    "staffing": ["short-staffed", "locum", "rota gap", "sickness on reception"],
    "it_design": ["dropdown", "template", "screen layout", "alert wording"],
    "near_miss": ["caught before it reached the patient", "spotted before issue"],
    "incident": ["the patient took it", "dose was given"],
}
_FILLER = ["patient", "surgery", "result", "prescription", "review", "rang", "checked", "the"]


def fake_model_dir(root: Path) -> Path:
    """Create (once) a directory that resolves as an embedding model with a known window."""
    path = root / "fake-model"
    path.mkdir(parents=True, exist_ok=True)
    config = {"max_position_embeddings": FAKE_WINDOW, "hidden_size": FAKE_DIM}
    (path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return path


def fake_embedder(root: Path) -> Embedder:
    """An embedder over :func:`fake_model_dir` with a hash-based encoder and no cache."""
    spec = EmbedderSpec.from_model(str(fake_model_dir(root)))
    return Embedder(spec, None, encoder=HashEncoder(dim=FAKE_DIM, max_seq_length=FAKE_WINDOW))


def tiny_labelled(n: int = 40, seed: int = 0) -> list[dict[str, Any]]:
    """Labelled records for the tiny taxonomy whose words hint at their codes."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        outcome = "near_miss" if i % 3 else "incident"
        causes = [code for j, code in enumerate(("staffing", "it_design")) if (i >> j) % 2]
        words = list(rng.choice(_FILLER, size=6))
        for code in [outcome, *causes]:
            words.append(str(rng.choice(_SIGNALS[code])))
        rng.shuffle(words)
        text = " ".join(words) + ". Mrs Jones was told on 07700 900123."
        records.append(
            {
                "id": f"r{i:03d}",
                "text": text,
                "source": "synthetic",
                "codes": {"outcome": [outcome], "cause": causes},
            }
        )
    return records


def write_labelled(path: Path, records: list[dict[str, Any]]) -> Path:
    """Write records as JSONL and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


#: The tiny taxonomy plus a ``recovery_agent`` scheme, the scheme a tiny concept set labels.
STARTER_TAXONOMY_TEXT = (
    TINY_TAXONOMY
    + """\
  - id: recovery_agent
    title: Recovery agent
    multi_label: true
    codes:
      - {id: human, label: Relied on someone, definition: Someone noticed by luck or initiative.}
      - {id: designed, label: Designed defence, definition: A check that happens every time.}
"""
)
_AGENT_SIGNALS = {
    "human": ("luckily", "happened to notice", "remembered", "thought it looked odd"),
    "designed": ("the interlock blocked it", "alarm", "mandatory checklist", "inspection"),
}


def tiny_concepts(n: int = 24) -> list[dict[str, Any]]:
    """Concept records labelled for outcome (the starter drops it) and recovery_agent."""
    records = []
    for i in range(n):
        agent = "human" if i % 2 else "designed"
        text = f"Near miss at the works: {_AGENT_SIGNALS[agent][i % 4]}, stopped in time ({i})."
        codes = {"outcome": ["near_miss"], "recovery_agent": [agent]}
        records.append({"id": f"c{i:03d}", "text": text, "domain": "works", "codes": codes})
    return records


def write_starter_project(root: Path, n_sample: int = 30, n_concepts: int = 24) -> Path:
    """Write a project root whose shipped sample, concept set and taxonomy are tiny; return it."""
    write_labelled(root / SAMPLE_DATA, tiny_labelled(n_sample))
    write_labelled(root / CONCEPT_DATA, tiny_concepts(n_concepts))
    (root / STARTER_TAXONOMY).parent.mkdir(parents=True, exist_ok=True)
    (root / STARTER_TAXONOMY).write_text(STARTER_TAXONOMY_TEXT, encoding="utf-8")
    return root
