"""`nearmiss train` and `nearmiss evaluate` as a user runs them (fake embedder, tiny taxonomy)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pipeline.bundle import HEADS_ARRAYS, read_metadata
from pipeline.cli import app
from pipeline.config import get_settings
from pipeline.embed import Embedder
from tests.bundle_fixtures import (
    fake_embedder,
    tiny_labelled,
    write_labelled,
    write_starter_project,
)

runner = CliRunner()


@pytest.fixture(autouse=True)
def fake_default_embedder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Embedder:
    """Make ``Embedder.from_settings`` give the fake embedder; keep settings away from the user."""
    embedder = fake_embedder(tmp_path)
    monkeypatch.setattr(Embedder, "from_settings", classmethod(lambda cls, *a, **k: embedder))
    # Any embedder built from the fake model's folder (a bundle's) gets the hash encoder too.
    monkeypatch.setattr("pipeline.embed.load_encoder", lambda path, device=None: embedder.encoder)
    monkeypatch.setenv("NEARMISS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NEARMISS_EMBEDDING_MODEL", str(embedder.spec.path))
    monkeypatch.delenv("NEARMISS_TAXONOMY", raising=False)
    get_settings.cache_clear()
    yield embedder
    get_settings.cache_clear()


def _train(*args: str) -> Any:
    return runner.invoke(app, ["train", *args])


def test_train_prints_per_scheme_scores(tmp_path: Path, tiny_taxonomy_file: Path) -> None:
    data = write_labelled(tmp_path / "labelled.jsonl", tiny_labelled(40))
    out = tmp_path / "bundle"
    result = _train("--data", str(data), "--taxonomy", str(tiny_taxonomy_file), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"Trained bundle bundle in {out} on 40 records (tiny v2, synthetic)" in result.stdout
    assert "outcome" in result.stdout and "micro-F1" in result.stdout and "ECE" in result.stdout
    assert (out / HEADS_ARRAYS).is_file()
    assert read_metadata(out).taxonomy.name == "tiny"


def test_train_json_is_one_line_and_names_cold_start(
    tmp_path: Path, tiny_taxonomy_file: Path
) -> None:
    records = tiny_labelled(30)
    for record in records[4:]:
        del record["codes"]["cause"]
    data = write_labelled(tmp_path / "labelled.jsonl", records)
    out = tmp_path / "bundle"
    result = _train(
        "--data", str(data), "--taxonomy", str(tiny_taxonomy_file), "--out", str(out), "--json"
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert summary["schemes"]["cause"] == {
        "records": 4,
        "cold_start": True,
        "reason": "only 4 labelled records; training needs at least 10",
    }
    assert summary["schemes"]["outcome"]["cold_start"] is False
    assert 0 <= summary["schemes"]["outcome"]["macro_f1"] <= 1
    text = _train(
        "--data", str(data), "--taxonomy", str(tiny_taxonomy_file), "--out", str(out), "--force"
    )
    assert "cause    cold start: only 4 labelled records" in text.stdout


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r[2]["codes"].update(cause=["rota"]), "line 3: code 'rota' in scheme 'cause'"),
        (lambda r: r[7].update(id="r001"), "line 8: id 'r001' is already on line 2"),
        (lambda r: r[0].update(text=""), "line 1: record 'r000' has an empty text"),
        (lambda r: r[0]["codes"].update(harm=[]), "line 1: unknown scheme 'harm'"),
    ],
)
def test_bad_data_exits_1_with_one_line(
    tmp_path: Path, tiny_taxonomy_file: Path, change: Any, message: str
) -> None:
    records = tiny_labelled(20)
    change(records)
    data = write_labelled(tmp_path / "labelled.jsonl", records)
    result = _train(
        "--data", str(data), "--taxonomy", str(tiny_taxonomy_file), "--out", str(tmp_path / "b")
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "b").exists()


def test_train_keeps_an_existing_bundle(tmp_path: Path, tiny_taxonomy_file: Path) -> None:
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    data = write_labelled(tmp_path / "labelled.jsonl", tiny_labelled(20))
    result = _train("--data", str(data), "--taxonomy", str(tiny_taxonomy_file), "--out", str(out))
    assert result.exit_code == 1 and "not empty" in result.stderr and "--force" in result.stderr
    assert (out / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "x.jsonl"], "give --data LABELLED.jsonl and --out DIR"),
        (["--starter", "--out", "x"], "--starter builds from the shipped sample"),
        (["--data", "missing.jsonl", "--out", "o"], "missing.jsonl: no such file"),
        (["--data", "x.jsonl", "--out", "o", "--taxonomy", "nope.yaml"], "no such taxonomy file"),
    ],
)
def test_bad_options_exit_1(args: list[str], message: str) -> None:
    result = _train(*args)
    assert result.exit_code == 1
    assert message in result.stderr


def test_train_starter_rebuilds_the_starter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_starter_project(tmp_path / "project")
    monkeypatch.setenv("NEARMISS_PROJECT_ROOT", str(root))
    get_settings.cache_clear()
    result = _train("--starter", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["name"] == "starter-gp-near-miss-v1"
    assert Path(summary["bundle"]) == root / "models" / "starter-gp-near-miss-v1"
    first = (Path(summary["bundle"]) / HEADS_ARRAYS).read_bytes()
    assert _train("--starter").exit_code == 0
    assert (Path(summary["bundle"]) / HEADS_ARRAYS).read_bytes() == first


def _bundle(tmp_path: Path, taxonomy: Path) -> tuple[Path, Path]:
    data = write_labelled(tmp_path / "labelled.jsonl", tiny_labelled(30))
    out = tmp_path / "bundle"
    result = _train("--data", str(data), "--taxonomy", str(taxonomy), "--out", str(out))
    assert result.exit_code == 0, result.output
    return out, data


def test_evaluate_refuses_another_taxonomy(
    tmp_path: Path, tiny_taxonomy_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, data = _bundle(tmp_path, tiny_taxonomy_file)
    other = tmp_path / "v3.yaml"
    other.write_text(tiny_taxonomy_file.read_text().replace("version: 2", "version: 3"))
    args = ["evaluate", "--model", str(out), "--data", str(data)]
    result = runner.invoke(app, [*args, "--taxonomy", str(other)])
    assert result.exit_code == 1
    assert "trained on tiny v2 but tiny v3 is loaded; retrain" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    monkeypatch.setenv("NEARMISS_TAXONOMY", str(other))
    get_settings.cache_clear()
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "tiny v3 is loaded" in result.stderr


def test_evaluate_without_a_bundle_says_how_to_make_one(tmp_path: Path) -> None:
    data = write_labelled(tmp_path / "labelled.jsonl", tiny_labelled(3))
    result = runner.invoke(
        app, ["evaluate", "--model", str(tmp_path / "none"), "--data", str(data)]
    )
    assert result.exit_code == 1
    assert "No bundle at" in result.stderr and "nearmiss train --out" in result.stderr


def test_evaluate_names_a_bad_code(tmp_path: Path, tiny_taxonomy_file: Path) -> None:
    out, _ = _bundle(tmp_path, tiny_taxonomy_file)
    records = tiny_labelled(4)
    records[1]["codes"]["outcome"] = ["harm"]
    held = write_labelled(tmp_path / "held.jsonl", records)
    result = runner.invoke(app, ["evaluate", "--model", str(out), "--data", str(held)])
    assert result.exit_code == 1
    assert "held.jsonl, line 2: code 'harm' in scheme 'outcome' is unknown" in result.stderr


def test_evaluate_prints_per_code_scores_and_json(tmp_path: Path, tiny_taxonomy_file: Path) -> None:
    out, data = _bundle(tmp_path, tiny_taxonomy_file)
    held = write_labelled(tmp_path / "held.jsonl", tiny_labelled(20, seed=5))
    result = runner.invoke(app, ["evaluate", "--model", str(out), "--data", str(held)])
    assert result.exit_code == 0, result.output
    assert "Bundle bundle on held.jsonl (20 records)" in result.stdout
    assert "outcome (trained)" in result.stdout and "near_miss" in result.stdout
    assert "macro avg" in result.stdout and "calibration: Brier" in result.stdout
    assert "optimistic" not in result.stdout
    result = runner.invoke(app, ["evaluate", "--model", str(out), "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    payload = json.loads(lines[0])
    assert payload["model"] == "bundle" and payload["on_training_data"] is True
    assert list(payload["schemes"]) == ["outcome", "cause"]
    cause = payload["schemes"]["cause"]
    assert [c["code"] for c in cause["codes"]] == ["staffing", "it_design"]
    assert {"precision", "recall", "f1"} <= set(cause["micro"]) and "ece" in cause["calibration"]
