"""The shipped synthetic GP sample: valid, fully labelled, varied, true to the recovery rule."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.neighbors import NearestNeighbors

from pipeline.jsonl import iter_jsonl
from pipeline.record import LabelledRecord
from pipeline.taxonomy import Taxonomy, load_taxonomy

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "gp-near-miss-sample.jsonl"
TAXONOMY = ROOT / "taxonomies" / "gp-near-miss" / "v1.yaml"
DESIGNED_PARENTS = {"designed_technical", "designed_procedural"}


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy(TAXONOMY)


@pytest.fixture(scope="module")
def records(taxonomy: Taxonomy) -> list[LabelledRecord]:
    out = []
    for number, raw in iter_jsonl(SAMPLE):
        record = LabelledRecord.model_validate(raw)
        taxonomy.check_codes(record.codes, where=f"{SAMPLE.name}, line {number}")
        out.append(record)
    return out


def test_size_ids_and_synthetic_marking(records: list[LabelledRecord]) -> None:
    assert len(records) >= 400
    assert len({r.id for r in records}) == len(records)
    assert all(r.source == "synthetic" for r in records)
    assert all(r.text.strip() for r in records)


def test_every_scheme_labelled(records: list[LabelledRecord], taxonomy: Taxonomy) -> None:
    for record in records:
        assert set(record.codes) == set(taxonomy.scheme_ids), record.id
        assert len(record.codes["outcome"]) == 1, record.id


def test_every_leaf_code_has_ten_examples(
    records: list[LabelledRecord], taxonomy: Taxonomy
) -> None:
    for scheme in taxonomy.schemes:
        counts = Counter(code for r in records for code in r.codes[scheme.id])
        thin = {code: counts[code] for code in scheme.leaf_ids if counts[code] < 10}
        assert not thin, f"{scheme.id}: codes with fewer than 10 examples: {thin}"


def test_outcome_mix_is_realistic(records: list[LabelledRecord]) -> None:
    share = Counter(r.codes["outcome"][0] for r in records)
    total = len(records)
    assert share["near_miss"] / total > 0.5
    for outcome in ("no_harm_incident", "harm_incident", "not_safety_event"):
        assert 0.04 < share[outcome] / total < 0.25, outcome


def test_recovery_rule_is_respected(records: list[LabelledRecord], taxonomy: Taxonomy) -> None:
    recovery = taxonomy.scheme("recovery")
    for record in records:
        codes = record.codes
        agents = set(codes["recovery_agent"])
        if codes["outcome"] != ["near_miss"]:
            assert codes["recovery"] == [] and not agents, record.id
            continue
        parents = {recovery.code(code).parent for code in codes["recovery"]}
        assert ("designed" in agents) == bool(parents & DESIGNED_PARENTS), record.id
        assert ("human" in agents) == ("unplanned" in parents), record.id
        if "no_recovery_described" in codes["recovery"]:
            assert codes["recovery"] == ["no_recovery_described"], record.id


def test_sea_write_ups_have_sections_including_changes(records: list[LabelledRecord]) -> None:
    sectioned = [r for r in records if r.sections]
    assert len(sectioned) >= 60
    assert sum("changes" in r.sections for r in sectioned if r.sections) >= 40
    for record in sectioned:
        assert record.sections is not None
        for body in record.sections.values():
            assert body.strip()[:40] in record.text, record.id


def test_narratives_are_not_near_duplicates(records: list[LabelledRecord]) -> None:
    texts = [r.text for r in records]
    matrix = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform(texts)
    distances, _ = NearestNeighbors(n_neighbors=2, metric="cosine").fit(matrix).kneighbors(matrix)
    nearest_similarity = 1.0 - distances[:, 1]
    assert np.mean(nearest_similarity > 0.8) < 0.01
    assert np.median(nearest_similarity) < 0.35


def test_lengths_vary_from_terse_notes_to_long_write_ups(records: list[LabelledRecord]) -> None:
    words = np.array([len(r.text.split()) for r in records])
    assert (words < 40).sum() >= 40
    assert (words > 250).sum() >= 30
