"""Shared fixtures: a tiny taxonomy file and paths into the checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

TINY_TAXONOMY = """\
name: tiny
version: 2
schemes:
  - id: outcome
    title: Outcome
    multi_label: false
    codes:
      - {id: near_miss, label: Near miss, definition: Caught before it reached the patient.}
      - {id: incident, label: Incident, definition: Reached the patient.}
  - id: cause
    title: Causes
    multi_label: true
    codes:
      - {id: people, label: People, definition: Grouping code for people factors.}
      - id: staffing
        label: Staffing
        parent: people
        definition: Too few staff for the work.
        examples: [short-staffed on reception]
      - {id: it_design, label: IT design, definition: The clinical system made it easy to slip.}
"""


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


@pytest.fixture
def tiny_taxonomy_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny" / "v2.yaml"
    path.parent.mkdir()
    path.write_text(TINY_TAXONOMY, encoding="utf-8")
    return path
