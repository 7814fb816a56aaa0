"""Cold-start calibration fitted per bundle: recorded at training time, used at suggest time."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit

from pipeline.bundle import CARD_FILE, load_bundle, read_metadata
from pipeline.head import COLD_START_CALIBRATIONS, DEFAULT_COLD_START, ColdStartCalibration
from pipeline.suggest import Suggester
from pipeline.taxonomy import load_taxonomy
from tests.bundle_fixtures import fake_embedder, write_labelled
from tests.pipeline.suggest_fixtures import (
    build_mini_bundle,
    fake_encoder,
    load_mini,
    mini_labelled,
    mini_taxonomy,
)
from training.bundle import default_text_view, train_bundle
from training.cold_start import fit_calibration, fit_cold_start
from training.dataset import load_dataset
from training.summary import format_training, training_summary


def _pairs(n: int, slope: float, center: float, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    cosines = rng.uniform(0.3, 0.9, n)
    y = (rng.random(n) < expit(slope * (cosines - center))).astype(np.int64)
    return cosines, y, np.arange(n) // 4, np.ones(n, dtype=bool)


def test_fit_recovers_the_cosine_to_probability_map() -> None:
    cosines, y, groups, multi = _pairs(4000, slope=12.0, center=0.75)
    fit = fit_calibration(cosines, y, groups, multi_label=multi)
    assert fit is not None
    assert fit.calibration.slope == pytest.approx(12.0, rel=0.2)
    assert fit.calibration.center == pytest.approx(0.75, abs=0.02)
    assert 0 < fit.calibration.threshold < 1 and 0 < fit.oof_f1 <= 1
    assert (fit.n_pairs, fit.n_positives) == (4000, int(y.sum()))
    # Another embedding model spreads cosines elsewhere: the fit follows it.
    shifted = fit_calibration(cosines - 0.3, y, groups, multi_label=multi)
    assert shifted is not None
    assert shifted.calibration.center == pytest.approx(fit.calibration.center - 0.3, abs=1e-3)


def test_no_calibration_from_too_few_pairs_or_unrelated_cosines() -> None:
    cosines, y, groups, multi = _pairs(200, slope=12.0, center=0.75)
    few = np.zeros_like(y)
    few[:3] = 1
    assert fit_calibration(cosines, few, groups, multi_label=multi) is None
    reversed_y = (cosines < 0.5).astype(np.int64)  # labels fall as cosines rise
    assert fit_calibration(cosines, reversed_y, groups, multi_label=multi) is None


def test_only_multi_label_pairs_set_the_threshold() -> None:
    cosines, y, groups, _ = _pairs(2000, slope=12.0, center=0.75)
    multi = np.arange(2000) < 1000
    fit = fit_calibration(cosines, y, groups, multi_label=multi)
    alone = fit_calibration(cosines, y, groups, multi_label=np.ones(2000, dtype=bool))
    assert fit is not None and alone is not None
    assert fit.calibration.slope == alone.calibration.slope  # the regression pools every pair


def test_a_bundle_records_its_calibration_and_suggest_uses_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bundle_dir = build_mini_bundle(tmp_path)
    recorded = read_metadata(bundle_dir).training["cold_start"]
    assert recorded["slope"] > 0 and 0 < recorded["threshold"] < 1
    assert recorded["fitted_on"]["records"] == 60
    assert recorded["fitted_on"]["schemes"] == ["cause", "recovery_agent"]  # multi-label ones
    # Reproducible from the data, the taxonomy and the embedder alone.
    taxonomy = load_taxonomy(mini_taxonomy(tmp_path))
    dataset = load_dataset(tmp_path / "labelled.jsonl", taxonomy)
    views = {s: default_text_view(s) for s in taxonomy.scheme_ids}
    fit = fit_cold_start(dataset, fake_embedder(tmp_path), views)
    assert fit is not None and fit.to_dict() == recorded
    assert "calibrated on this bundle's training data" in (bundle_dir / CARD_FILE).read_text()
    with caplog.at_level(logging.INFO, logger="pipeline.suggest"):
        suggester = load_mini(bundle_dir, tmp_path / "cache")
    expected = ColdStartCalibration(recorded["center"], recorded["slope"], recorded["threshold"])
    assert expected not in COLD_START_CALIBRATIONS.values()
    assert {s.cold.calibration for s in suggester.scorers.values()} == {expected}
    assert "fitted on bundle bundle's training data" in caplog.text


def test_a_team_with_few_labels_gets_calibrated_cold_start(tmp_path: Path) -> None:
    data = write_labelled(tmp_path / "few.jsonl", mini_labelled(9))
    out = train_bundle(
        data, mini_taxonomy(tmp_path), tmp_path / "few", embedder=fake_embedder(tmp_path)
    )
    meta = read_metadata(out)
    assert all(info.cold_start for info in meta.schemes.values())  # too few to train any head
    recorded = meta.training["cold_start"]
    suggester = load_mini(out, tmp_path / "cache")
    assert all(s.cold_only for s in suggester.scorers.values())
    assert suggester.scorers["cause"].cold.calibration.threshold == recorded["threshold"]
    summary = training_summary(out, meta, 1.0)
    assert summary["cold_start_calibration"] == {
        key: recorded[key] for key in ("center", "slope", "threshold")
    }
    assert "Cold-start calibration fitted on this data" in format_training(summary)


def test_too_few_pairs_record_none_and_suggest_falls_back_with_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = write_labelled(tmp_path / "three.jsonl", mini_labelled(3))
    with caplog.at_level(logging.WARNING, logger="training.bundle"):
        out = train_bundle(
            data, mini_taxonomy(tmp_path), tmp_path / "three", embedder=fake_embedder(tmp_path)
        )
    assert "Cold-start calibration not fitted" in caplog.text
    meta = read_metadata(out)
    assert "cold_start" not in meta.training
    assert "default calibration" in (out / CARD_FILE).read_text()
    assert training_summary(out, meta, 1.0)["cold_start_calibration"] is None
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="pipeline.suggest"):
        suggester = load_mini(out, tmp_path / "cache")
    # The fake model has no table entry: the default, with a warning naming the fix.
    assert suggester.scorers["cause"].cold.calibration == DEFAULT_COLD_START
    assert "records none and embedding model" in caplog.text and "retrain" in caplog.text
    # A model the table knows: its entry, logged as the fallback.
    bundle = load_bundle(out)
    assert bundle.metadata.embedder is not None
    embedder_info = bundle.metadata.embedder.model_copy(update={"model": "x/minilm-static-256"})
    known = dataclasses.replace(
        bundle, metadata=bundle.metadata.model_copy(update={"embedder": embedder_info})
    )
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="pipeline.suggest"):
        table = Suggester(known, bundle.make_embedder(tmp_path / "cache", fake_encoder()))
    assert table.scorers["cause"].cold.calibration == COLD_START_CALIBRATIONS["minilm-static-256"]
    assert "using the table's for embedding model x/minilm-static-256" in caplog.text
