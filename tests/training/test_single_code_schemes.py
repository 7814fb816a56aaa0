"""A team's taxonomy with one-code schemes: `nearmiss train`, `suggest`, `evaluate` (fake model)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pipeline.bundle import load_bundle, read_metadata
from pipeline.cli import app
from pipeline.config import get_settings
from pipeline.embed import Embedder
from tests.bundle_fixtures import fake_embedder, write_labelled
from tests.training.team_fixtures import team_labelled, team_taxonomy

runner = CliRunner()


@pytest.fixture(autouse=True)
def fake_default_embedder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Embedder]:
    """Make every embedder the hash-based fake; keep settings away from the user's."""
    embedder = fake_embedder(tmp_path)
    monkeypatch.setattr(Embedder, "from_settings", classmethod(lambda cls, *a, **k: embedder))
    monkeypatch.setattr("pipeline.embed.load_encoder", lambda path, device=None: embedder.encoder)
    monkeypatch.setenv("NEARMISS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NEARMISS_EMBEDDING_MODEL", str(embedder.spec.path))
    monkeypatch.delenv("NEARMISS_TAXONOMY", raising=False)
    monkeypatch.delenv("NEARMISS_MODEL", raising=False)
    get_settings.cache_clear()
    yield embedder
    get_settings.cache_clear()


def _json(*args: str) -> Any:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])


@pytest.fixture
def trained(tmp_path: Path) -> tuple[Path, Path, dict[str, Any]]:
    data = write_labelled(tmp_path / "team.jsonl", team_labelled())
    taxonomy = team_taxonomy(tmp_path)
    out = tmp_path / "bundle"
    summary = _json("train", "--data", str(data), "--taxonomy", str(taxonomy), "--out", str(out))
    return out, data, summary


def test_train_fits_a_one_code_multi_label_scheme(
    trained: tuple[Path, Path, dict[str, Any]],
) -> None:
    out, _, summary = trained
    schemes = summary["schemes"]
    assert schemes["escalated"]["cold_start"] is False
    assert schemes["escalated"]["macro_f1"] > 0.8  # "escalated to the consultant" is telling
    assert schemes["setting"] == {
        "records": 45,
        "cold_start": True,
        "reason": "a single-label scheme with one code: every narrative gets it, nothing to learn",
    }
    assert schemes["equipment"]["cold_start"] is True
    assert "training needs at least 10" in schemes["equipment"]["reason"]
    head = load_bundle(out).heads["escalated"]
    assert head.codes == ("escalated",) and head.thresholds is not None
    assert head.thresholds.shape == (1,) and head.n_positives == (15,)
    info = read_metadata(out).schemes["escalated"]
    assert info.thresholds is not None and list(info.thresholds) == ["escalated"]
    assert info.cv_metrics is not None
    assert [code["code"] for code in info.cv_metrics["codes"]] == ["escalated"]


def test_suggest_scores_one_code_schemes(
    trained: tuple[Path, Path, dict[str, Any]], tmp_path: Path
) -> None:
    out, _, _ = trained
    records = [
        {
            "id": "a",
            "text": "Serious risk nearly reached the patient. Escalated to the consultant.",
        },
        {"id": "b", "text": "Caught early on the drug round."},
    ]
    source = write_labelled(tmp_path / "new.jsonl", records)
    output = tmp_path / "suggestions.jsonl"
    _json("suggest", "--input", str(source), "--output", str(output), "--model", str(out))
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["id"] for line in lines] == ["a", "b"]
    for line in lines:
        assert list(line["suggestions"]) == ["severity", "escalated", "setting", "equipment"]
        (ward,) = line["suggestions"]["setting"]
        assert (ward["code"], ward["score"], ward["selected"]) == ("ward", 1.0, True)
        (pump,) = line["suggestions"]["equipment"]
        assert 0.0 <= pump["score"] <= 1.0
    escalated = [line["suggestions"]["escalated"][0] for line in lines]
    assert escalated[0]["selected"] and not escalated[1]["selected"]
    assert escalated[0]["score"] > escalated[1]["score"]
    assert escalated[0]["evidence"][0]["text"] == "Escalated to the consultant."


def test_evaluate_scores_one_code_schemes(trained: tuple[Path, Path, dict[str, Any]]) -> None:
    out, data, _ = trained
    payload = _json("evaluate", "--model", str(out), "--data", str(data))
    schemes = payload["schemes"]
    assert set(schemes) == {"severity", "escalated", "setting", "equipment"}
    assert [c["code"] for c in schemes["escalated"]["codes"]] == ["escalated"]
    assert schemes["escalated"]["codes"][0]["support"] == 15
    assert schemes["setting"]["cold_start"] is True
    assert schemes["setting"]["micro"]["f1"] == 1.0  # one code, always right
    assert schemes["equipment"]["codes"][0]["support"] == 3
