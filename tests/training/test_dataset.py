"""Labelled data sets: validation, redaction, per-scheme labels and the cold-start fallback."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import InputError
from pipeline.taxonomy import Taxonomy, load_taxonomy
from tests.bundle_fixtures import tiny_labelled, write_labelled
from training.dataset import MIN_POSITIVES, MIN_RECORDS, load_dataset


@pytest.fixture
def taxonomy(tiny_taxonomy_file: Path) -> Taxonomy:
    return load_taxonomy(tiny_taxonomy_file)


def _load(tmp_path: Path, taxonomy: Taxonomy, records: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    return load_dataset(write_labelled(tmp_path / "labelled.jsonl", records), taxonomy)


def test_labels_become_indicator_matrices(tmp_path: Path, taxonomy: Taxonomy) -> None:
    records = tiny_labelled(20)
    dataset = _load(tmp_path, taxonomy, records)
    assert len(dataset.records) == 20
    assert list(dataset.schemes) == ["outcome", "cause"]
    cause = dataset.schemes["cause"]
    assert cause.codes == ("staffing", "it_design")
    assert cause.y.shape == (20, 2)
    expected = [[int(c in r["codes"]["cause"]) for c in cause.codes] for r in records]
    assert cause.y.tolist() == expected
    outcome = dataset.schemes["outcome"]
    assert (outcome.y.sum(axis=1) == 1).all()
    assert dataset.trainable == ("outcome", "cause")
    path = tmp_path / "labelled.jsonl"
    assert dataset.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_texts_and_sections_are_redacted(tmp_path: Path, taxonomy: Taxonomy) -> None:
    records = tiny_labelled(12)
    records[0]["sections"] = {"what_happened": "Mrs Jones rang on 07700 900123", "changes": "none"}
    dataset = _load(tmp_path, taxonomy, records)
    assert all("Jones" not in r.text and "900123" not in r.text for r in dataset.records)
    assert dataset.records[0].sections is not None
    assert "Jones" not in dataset.records[0].sections["what_happened"]
    assert dataset.records[0].sections["changes"] == "none"


def test_an_absent_scheme_is_not_labelled_and_empty_means_none_apply(
    tmp_path: Path, taxonomy: Taxonomy
) -> None:
    records = tiny_labelled(15)
    for record in records[:5]:
        del record["codes"]["cause"]
    records[5]["codes"]["cause"] = []
    dataset = _load(tmp_path, taxonomy, records)
    cause = dataset.schemes["cause"]
    assert cause.rows.tolist() == list(range(5, 15))
    assert cause.y[0].tolist() == [0, 0]


def test_records_labelling_some_schemes_join_only_those(tmp_path: Path, taxonomy: Taxonomy) -> None:
    # As the starter's concept set is appended to its sample: labelled for one scheme only.
    records = tiny_labelled(24)
    for record in records[12:]:
        del record["codes"]["outcome"]
    dataset = _load(tmp_path, taxonomy, records)
    outcome, cause = dataset.schemes["outcome"], dataset.schemes["cause"]
    assert outcome.rows.tolist() == list(range(12)) and outcome.skipped == 0
    assert len(outcome.y) == 12
    assert cause.rows.tolist() == list(range(24))
    assert dataset.trainable == ("outcome", "cause")


def test_single_label_records_labelled_empty_are_left_out(
    tmp_path: Path, taxonomy: Taxonomy
) -> None:
    records = tiny_labelled(15)
    records[0]["codes"]["outcome"] = []
    outcome = _load(tmp_path, taxonomy, records).schemes["outcome"]
    assert outcome.skipped == 1 and 0 not in outcome.rows.tolist()


def test_too_few_records_fall_back_to_cold_start(tmp_path: Path, taxonomy: Taxonomy) -> None:
    records = tiny_labelled(MIN_RECORDS + 5)
    for record in records[MIN_RECORDS - 1 :]:
        del record["codes"]["cause"]
    dataset = _load(tmp_path, taxonomy, records)
    reason = dataset.schemes["cause"].cold_start_reason
    assert reason == f"only {MIN_RECORDS - 1} labelled records; training needs at least 10"
    assert dataset.trainable == ("outcome",)


def test_a_rare_code_sends_its_scheme_to_cold_start(tmp_path: Path, taxonomy: Taxonomy) -> None:
    records = tiny_labelled(20)
    seen = 0
    for record in records:
        if "it_design" in record["codes"]["cause"]:
            seen += 1
            if seen >= MIN_POSITIVES:
                record["codes"]["cause"].remove("it_design")
    reason = _load(tmp_path, taxonomy, records).schemes["cause"].cold_start_reason
    assert reason is not None and f"it_design ({MIN_POSITIVES - 1})" in reason


def test_an_unlabelled_scheme_is_cold_start(tmp_path: Path, taxonomy: Taxonomy) -> None:
    records = tiny_labelled(12)
    for record in records:
        del record["codes"]["cause"]
    reason = _load(tmp_path, taxonomy, records).schemes["cause"].cold_start_reason
    assert reason == "no records are labelled for it"


def test_a_code_on_every_narrative_is_cold_start(tmp_path: Path, taxonomy: Taxonomy) -> None:
    records = tiny_labelled(12)
    for record in records:
        record["codes"]["cause"] = ["staffing", *(["it_design"] if record["id"] < "r004" else [])]
    reason = _load(tmp_path, taxonomy, records).schemes["cause"].cold_start_reason
    assert reason is not None and "on every labelled narrative: staffing" in reason


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda r: r[3]["codes"].update(cause=["staffing", "rota"]),
            r"line 4: code 'rota' in scheme 'cause' is unknown",
        ),
        (
            lambda r: r[3]["codes"].update(cause=["people"]),
            r"line 4: code 'people' in scheme 'cause' is a grouping code",
        ),
        (
            lambda r: r[2]["codes"].update(recovery=["chance"]),
            r"line 3: unknown scheme 'recovery'",
        ),
        (
            lambda r: r[5].update(id=r[1]["id"]),
            r"line 6: id 'r001' is already on line 2",
        ),
        (lambda r: r[4].update(text="   "), r"line 5: record 'r004' has an empty text"),
        (lambda r: r[4].pop("codes"), r"line 5: field 'codes' field required"),
        (
            lambda r: r[0]["codes"].update(outcome=["near_miss", "incident"]),
            r"line 1: scheme 'outcome' is single-label",
        ),
    ],
)
def test_bad_lines_are_one_line_errors_naming_the_line(
    tmp_path: Path, taxonomy: Taxonomy, change: Any, message: str
) -> None:
    records = tiny_labelled(12)
    change(records)
    with pytest.raises(InputError, match=message) as caught:
        _load(tmp_path, taxonomy, records)
    assert "\n" not in str(caught.value)
    assert "labelled.jsonl" in str(caught.value)


def test_bad_json_and_empty_files(tmp_path: Path, taxonomy: Taxonomy) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(tiny_labelled(1)[0]) + "\n{not json\n")
    with pytest.raises(InputError, match="line 2: not valid JSON"):
        load_dataset(path, taxonomy)
    path.write_text("\n")
    with pytest.raises(InputError, match="no labelled records"):
        load_dataset(path, taxonomy)
    with pytest.raises(InputError, match="no such file"):
        load_dataset(tmp_path / "missing.jsonl", taxonomy)
