"""The SAFENET benchmark script, on a tiny synthetic file in its format (no real data)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from .conftest import make_narratives

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def safenet():
    spec = importlib.util.spec_from_file_location(
        "safenet_benchmark", ROOT / "benchmarks" / "safenet.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["safenet_benchmark"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    yield module
    del sys.modules["safenet_benchmark"]


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    texts, y = make_narratives(160, seed=2, rare_positives=20)
    names = ["Human Factors", "Equipment", "Fire Behavior"]
    rows = []
    for i, (text, row) in enumerate(zip(texts, y, strict=True)):
        labels = [name for name, flag in zip(names, row, strict=True) if flag]
        hf = ["Fatigue"] if i % 3 else ["Decision Making", "Fatigue"]
        rows.append(
            {"id": f"S-{i}", "text": text, "labels": {"contributing": labels, "human_factors": hf}}
        )
    path = tmp_path / "safenet.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    return path


def test_convert_and_split(safenet, data_file):
    assert safenet.code_id("Fire Behavior") == "fire_behavior"
    records = safenet.convert(data_file)
    assert records[0].codes["human_factors"] == ["decision_making", "fatigue"]
    split = safenet.split_scheme(records, "contributing")
    assert all(safenet.is_test(records[i].id) for i in split.test)
    assert not any(safenet.is_test(records[i].id) for i in split.train)
    assert all(records[i].codes["contributing"] for i in split.train + split.test)
    assert split.y_train.shape == (len(split.train), len(split.codes))
    # fatigue is on every row: it has 5+ examples; so does decision_making
    assert safenet.split_scheme(records, "human_factors").codes == ("decision_making", "fatigue")


def test_main_runs_tfidf_only(safenet, data_file, capsys):
    # human_factors has a code on every row here, which one-vs-rest cannot learn: skip it.
    argv = ["--data", str(data_file), "--embedder", "none", "--scheme", "contributing"]
    assert safenet.main(argv) == 0
    out = capsys.readouterr().out
    assert "baseline tfidf+ovr-lr @0.5" in out
    for name in ("tfidf", "nb_tfidf", "tfidf+nb_tfidf"):  # every candidate is listed
        assert f"\nours {name} " in out
    chosen = out.split("chosen by CV: ")[1].split(";")[0]
    assert chosen in ("tfidf", "nb_tfidf", "tfidf+nb_tfidf")
    assert out.count("(chosen)") == 1 and f"ours {chosen} (chosen)" in out
    assert np.isfinite(float(out.split("test macro-F1 ")[1].split()[0]))
