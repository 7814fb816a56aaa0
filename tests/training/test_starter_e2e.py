"""The starter bundle from the shipped sample with the real default model (slow: e2e).

Runs ``nearmiss train`` as a user does, twice, into temporary folders (never into ``models/``), and
checks that the heads are byte-identical and the metadata and card say what they must. Then
builds the starter itself (sample plus concept set) under a temporary project root. Vectors
come from the configured embedding cache, so a warm cache makes this quick.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from pipeline.bundle import CARD_FILE, HEADS_ARRAYS, HEADS_PARAMS, load_bundle, read_metadata
from pipeline.config import Settings
from pipeline.embed import Embedder
from pipeline.starter import (
    CONCEPT_DATA,
    CONCEPT_SCHEMES,
    SAMPLE_DATA,
    STARTER_TAXONOMY,
    STARTER_TRAINING_NAME,
    build_starter_bundle,
    starter_staleness,
    starter_training_data,
)

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
NEARMISS = ROOT / ".venv" / "bin" / "nearmiss"


def _train(out: Path) -> dict[str, object]:
    command = [str(NEARMISS), "train", "--data", str(ROOT / SAMPLE_DATA)]
    command += ["--taxonomy", str(ROOT / STARTER_TAXONOMY), "--out", str(out), "--json"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEARMISS_MODEL")}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    summary: dict[str, object] = json.loads(lines[0])
    return summary


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, object]]:
    root = tmp_path_factory.mktemp("starter")
    summary = _train(root / "first")
    _train(root / "second")
    return root / "first", root / "second", summary


def test_building_twice_gives_identical_heads(
    two_builds: tuple[Path, Path, dict[str, object]],
) -> None:
    first, second, _ = two_builds
    for name in (HEADS_ARRAYS, HEADS_PARAMS):
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_every_scheme_is_trained_and_scored(
    two_builds: tuple[Path, Path, dict[str, object]],
) -> None:
    first, _, summary = two_builds
    schemes = summary["schemes"]
    assert isinstance(schemes, dict)
    assert list(schemes) == ["outcome", "process", "contributory", "recovery", "recovery_agent"]
    for entry in schemes.values():
        assert entry["cold_start"] is False and entry["records"] == 477
        assert 0.4 < entry["macro_f1"] <= 1.0
    meta = read_metadata(first)
    assert meta.embedder is not None
    assert meta.embedder.identity == Embedder.from_settings().spec.identity  # the default
    assert meta.training_data.synthetic and meta.training_data.n_records == 477
    assert meta.schemes["recovery_agent"].text_view == "recovery"
    calibration = meta.training["cold_start"]  # fitted on the sample, not the fallback table
    assert calibration["fitted_on"]["records"] == 477 and calibration["slope"] > 0
    assert summary["cold_start_calibration"] == {
        key: calibration[key] for key in ("center", "slope", "threshold")
    }
    bundle = load_bundle(first)
    assert set(bundle.heads) == set(schemes)


def test_the_card_says_synthetic_and_unvalidated(
    two_builds: tuple[Path, Path, dict[str, object]],
) -> None:
    card = (two_builds[0] / CARD_FILE).read_text(encoding="utf-8")
    assert "Trained on synthetic data" in card
    assert "Unvalidated on real GP narratives" in card
    assert "Confidence bands are not calibrated for local data" in card


def test_evaluate_runs_on_the_sample(two_builds: tuple[Path, Path, dict[str, object]]) -> None:
    command = [str(NEARMISS), "evaluate", "--model", str(two_builds[0])]
    command += ["--data", str(ROOT / SAMPLE_DATA), "--json"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    payload = json.loads(lines[0])
    assert payload["on_training_data"] is True
    assert payload["data"]["records"] == 477
    for scheme in payload["schemes"].values():
        assert scheme["micro"]["f1"] > 0.5 and scheme["calibration"]["brier"] < 0.25


@pytest.fixture(scope="module")
def starter(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Settings]:
    """The starter built under a temporary project root that links to the shipped files."""
    root = tmp_path_factory.mktemp("project")
    for name in ("data", "taxonomies"):
        (root / name).symlink_to(ROOT / name)
    (root / "models").mkdir()
    (root / "models" / "embedders").symlink_to(ROOT / "models" / "embedders")
    settings = Settings(project_root=root)
    return build_starter_bundle(settings), settings


def test_the_starter_learns_the_recovery_schemes_from_the_concept_set_too(
    starter: tuple[Path, Settings],
) -> None:
    path, settings = starter
    meta = read_metadata(path)
    data = meta.training_data
    assert data.path_name == STARTER_TRAINING_NAME and data.synthetic
    assert data.sha256 == hashlib.sha256(starter_training_data(settings)).hexdigest()
    n_concepts = len((ROOT / CONCEPT_DATA).read_text(encoding="utf-8").splitlines())
    assert data.n_records == 477 + n_concepts
    for scheme, info in meta.schemes.items():
        assert not info.cold_start
        assert info.n_records == (477 + n_concepts if scheme in CONCEPT_SCHEMES else 477), scheme
    assert meta.schemes["recovery_agent"].cv_metrics is not None
    assert meta.schemes["recovery_agent"].cv_metrics["macro"]["f1"] > 0.75
    assert STARTER_TRAINING_NAME in (path / CARD_FILE).read_text(encoding="utf-8")
    assert starter_staleness(settings) is None
