"""Evaluating a bundle on labelled data (with a heads-only stand-in for the suggester)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipeline.bundle import Bundle, load_bundle
from pipeline.embed import Embedder
from pipeline.errors import BundleError, InputError
from pipeline.record import Record
from pipeline.views import scheme_text
from tests.bundle_fixtures import fake_embedder, tiny_labelled, write_labelled
from training.bundle import train_bundle
from training.evaluate_bundle import evaluate_bundle


class _Line:
    def __init__(self, line: dict[str, Any]) -> None:
        self.line = line

    def to_dict(self) -> dict[str, Any]:
        return self.line


class HeadsOnly:
    """Scores with the trained heads alone; cold-start schemes score 0 (stands in for Suggester)."""

    def __init__(self, bundle: Bundle, embedder: Embedder) -> None:
        self.bundle = bundle
        self.embedder = embedder
        self.name = bundle.name

    def suggest(self, records: Sequence[Record]) -> list[_Line]:
        lines: list[dict[str, Any]] = [
            {"id": r.id, "model": self.name, "suggestions": {}} for r in records
        ]
        for scheme in self.bundle.taxonomy.schemes:
            head = self.bundle.heads.get(scheme.id)
            if head is None:
                proba = np.zeros((len(records), len(scheme.leaf_ids)))
                chosen = proba > 0
            else:
                texts = [scheme_text(r, head.text_view) for r in records]
                proba = head.predict_proba(texts, self.embedder.encode(texts))
                chosen = head.decide(proba)
            for line, p, c in zip(lines, proba, chosen, strict=True):
                line["suggestions"][scheme.id] = [
                    {"code": code, "score": float(p[j]), "selected": bool(c[j]), "evidence": []}
                    for j, code in enumerate(scheme.leaf_ids)
                ]
        return [_Line(line) for line in lines]


@pytest.fixture
def trained(tmp_path: Path, tiny_taxonomy_file: Path) -> tuple[Path, Path]:
    records = tiny_labelled(40)
    for record in records[:34]:
        del record["codes"]["cause"]  # 6 labelled: cold start
    data = write_labelled(tmp_path / "train.jsonl", records)
    out = train_bundle(
        data, tiny_taxonomy_file, tmp_path / "bundle", embedder=fake_embedder(tmp_path)
    )
    return out, data


def _suggester(bundle_dir: Path, tmp_path: Path) -> HeadsOnly:
    return HeadsOnly(load_bundle(bundle_dir), fake_embedder(tmp_path))


def test_evaluation_scores_each_labelled_scheme(trained: tuple[Path, Path], tmp_path: Path) -> None:
    bundle_dir, _ = trained
    held_out = write_labelled(tmp_path / "held.jsonl", tiny_labelled(30, seed=7))
    result = evaluate_bundle(bundle_dir, held_out, suggester=_suggester(bundle_dir, tmp_path))
    assert list(result.schemes) == ["outcome", "cause"]
    assert result.cold_start == {"outcome": False, "cause": True}
    assert not result.on_training_data
    outcome = result.schemes["outcome"]
    assert outcome.n_narratives == 30 and [c.code for c in outcome.codes] == [
        "near_miss",
        "incident",
    ]
    assert outcome.micro.f1 > 0.7 and outcome.calibration is not None
    assert result.schemes["cause"].micro.f1 == 0.0  # the stand-in scores cold start as 0
    text = result.format()
    assert "outcome (trained)" in text and "cause (cold start)" in text
    assert "macro avg" in text and "calibration: Brier" in text
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["data"] == {"name": "held.jsonl", "sha256": result.data_sha256, "records": 30}
    assert payload["schemes"]["cause"]["cold_start"] is True
    assert {"micro", "macro", "codes", "calibration"} <= set(payload["schemes"]["outcome"])


def test_only_records_labelled_for_a_scheme_count(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    bundle_dir, _ = trained
    records = tiny_labelled(12, seed=3)
    for record in records[:5]:
        del record["codes"]["outcome"]
    held_out = write_labelled(tmp_path / "held.jsonl", records)
    result = evaluate_bundle(bundle_dir, held_out, suggester=_suggester(bundle_dir, tmp_path))
    assert result.schemes["outcome"].n_narratives == 7
    assert result.schemes["cause"].n_narratives == 12


def test_the_training_data_is_flagged(trained: tuple[Path, Path], tmp_path: Path) -> None:
    bundle_dir, data = trained
    result = evaluate_bundle(bundle_dir, data, suggester=_suggester(bundle_dir, tmp_path))
    assert result.on_training_data
    assert "scores are optimistic" in result.format()


def test_unknown_codes_name_the_line(trained: tuple[Path, Path], tmp_path: Path) -> None:
    bundle_dir, _ = trained
    records = tiny_labelled(5)
    records[3]["codes"]["cause"] = ["rota"]
    held_out = write_labelled(tmp_path / "held.jsonl", records)
    with pytest.raises(InputError, match="held.jsonl, line 4: code 'rota' in scheme 'cause'"):
        evaluate_bundle(bundle_dir, held_out, suggester=_suggester(bundle_dir, tmp_path))


def test_another_taxonomy_is_refused(
    trained: tuple[Path, Path], tmp_path: Path, tiny_taxonomy_file: Path
) -> None:
    bundle_dir, data = trained
    other = tmp_path / "v3.yaml"
    other.write_text(tiny_taxonomy_file.read_text().replace("version: 2", "version: 3"))
    with pytest.raises(BundleError, match="trained on tiny v2 but tiny v3 is loaded"):
        evaluate_bundle(bundle_dir, data, taxonomy_path=other, suggester=None)


def test_suggestions_must_line_up_with_records(trained: tuple[Path, Path], tmp_path: Path) -> None:
    bundle_dir, data = trained
    suggester = _suggester(bundle_dir, tmp_path)
    original = suggester.suggest
    suggester.suggest = lambda records: original(records)[::-1]  # type: ignore[method-assign]
    with pytest.raises(InputError, match="is for 'r039', not 'r000'"):
        evaluate_bundle(bundle_dir, data, suggester=suggester)


def test_a_part_of_joined_training_data_is_flagged() -> None:
    from pipeline.bundle_metadata import TrainingDataInfo

    info = TrainingDataInfo(
        sha256="a" * 64, n_records=3, path_name="x.jsonl", synthetic=True, part_sha256=["b" * 64]
    )
    assert info.includes("a" * 64) and info.includes("b" * 64)
    assert not info.includes("c" * 64)
    legacy = TrainingDataInfo.model_validate(
        {"sha256": "a" * 64, "n_records": 3, "path_name": "x.jsonl", "synthetic": True}
    )
    assert legacy.part_sha256 == [] and not legacy.includes("b" * 64)
