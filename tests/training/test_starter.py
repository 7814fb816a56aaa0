"""The starter bundle: built from the shipped sample and concept set, reused, rebuilt when stale."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.neighbors import NearestNeighbors

from pipeline.bundle import CARD_FILE, HEADS_ARRAYS, HEADS_PARAMS, read_metadata
from pipeline.config import Settings
from pipeline.errors import InputError, NearMissError
from pipeline.record import LabelledRecord, iter_labelled
from pipeline.starter import (
    CONCEPT_DATA,
    CONCEPT_SCHEMES,
    SAMPLE_DATA,
    STARTER_NAME,
    STARTER_TAXONOMY,
    STARTER_TRAINING_NAME,
    ensure_starter_bundle,
    starter_staleness,
    starter_training_data,
)
from pipeline.taxonomy import load_taxonomy
from tests.bundle_fixtures import (
    fake_embedder,
    fake_model_dir,
    tiny_concepts,
    write_labelled,
    write_starter_project,
)
from tests.conftest import ROOT

PROBES = ROOT / "data" / "probes" / "recovery-agent-out-of-domain.jsonl"
PROBE_DOMAINS = {"aviation", "rail", "hospital pharmacy", "laboratory", "wildland fire", "maritime"}
DESIGNED_PARENTS = {"designed_technical", "designed_procedural"}


@pytest.fixture
def project(tmp_path: Path) -> Settings:
    """A project root whose shipped sample, concept set and taxonomy are tiny ones."""
    return Settings(
        project_root=write_starter_project(tmp_path / "project"),
        cache_dir=tmp_path / "cache",
        embedding_model=str(fake_model_dir(tmp_path)),
    )


def test_the_starter_is_built_on_first_use_then_reused(project: Settings, tmp_path: Path) -> None:
    embedder = fake_embedder(tmp_path)
    assert starter_staleness(project, embedder.spec) == "it is missing or unreadable"
    path = ensure_starter_bundle(project, embedder=embedder)
    assert path == project.project_root / "models" / STARTER_NAME
    assert read_metadata(path).name == STARTER_NAME
    assert starter_staleness(project, embedder.spec) is None
    assert starter_staleness(project) is None  # the settings' model is the same fake
    stamp = (path / HEADS_ARRAYS).stat().st_mtime_ns
    assert ensure_starter_bundle(project, embedder=embedder) == path
    assert (path / HEADS_ARRAYS).stat().st_mtime_ns == stamp
    card = (path / CARD_FILE).read_text()
    assert "Trained on synthetic data" in card
    assert STARTER_TRAINING_NAME in card


def test_the_recovery_agent_head_learns_from_the_concept_set_and_the_rest_ignore_it(
    project: Settings, tmp_path: Path
) -> None:
    path = ensure_starter_bundle(project, embedder=fake_embedder(tmp_path))
    meta = read_metadata(path)
    data = meta.training_data
    assert (data.path_name, data.n_records, data.synthetic) == (STARTER_TRAINING_NAME, 54, True)
    assert data.sha256 == hashlib.sha256(starter_training_data(project)).hexdigest()
    # The concept set's outcome labels are dropped: the outcome head sees the sample only.
    assert meta.schemes["outcome"].n_records == 30
    assert meta.schemes["cause"].n_records == 30
    agent = meta.schemes["recovery_agent"]
    assert not agent.cold_start and agent.n_records == 24
    assert agent.n_positives == {"human": 12, "designed": 12}


def test_training_data_is_the_sample_then_the_concept_schemes(project: Settings) -> None:
    data = starter_training_data(project)
    sample = (project.project_root / SAMPLE_DATA).read_bytes()
    assert data.startswith(sample)
    rows = [json.loads(line) for line in data[len(sample) :].decode().splitlines()]
    assert [row["id"] for row in rows] == [f"c{i:03d}" for i in range(24)]
    assert all(set(row["codes"]) == {"recovery_agent"} for row in rows)
    assert rows[1]["domain"] == "works" and rows[1]["codes"]["recovery_agent"] == ["human"]
    assert starter_training_data(project) == data


def test_the_starter_is_rebuilt_identically_when_its_sample_changes(
    project: Settings, tmp_path: Path
) -> None:
    embedder = fake_embedder(tmp_path)
    path = ensure_starter_bundle(project, embedder=embedder)
    heads = {name: (path / name).read_bytes() for name in (HEADS_ARRAYS, HEADS_PARAMS)}
    sample = project.project_root / SAMPLE_DATA
    sample.write_text(sample.read_text() + "\n")  # same records, new bytes
    assert starter_staleness(project, embedder.spec) == "the shipped sample or concept set changed"
    ensure_starter_bundle(project, embedder=embedder)
    assert starter_staleness(project, embedder.spec) is None
    for name, content in heads.items():
        assert (path / name).read_bytes() == content


def test_only_the_concept_sets_records_count(project: Settings, tmp_path: Path) -> None:
    embedder = fake_embedder(tmp_path)
    ensure_starter_bundle(project, embedder=embedder)
    concepts = project.project_root / CONCEPT_DATA
    concepts.write_text(concepts.read_text() + "\n")  # a blank line: the same records
    assert starter_staleness(project, embedder.spec) is None


def test_a_changed_concept_label_makes_it_stale(project: Settings, tmp_path: Path) -> None:
    embedder = fake_embedder(tmp_path)
    ensure_starter_bundle(project, embedder=embedder)
    records = tiny_concepts(24)
    records[0]["codes"] = {"recovery_agent": ["human"]}
    write_labelled(project.project_root / CONCEPT_DATA, records)
    assert starter_staleness(project, embedder.spec) == "the shipped sample or concept set changed"


@pytest.mark.parametrize("missing", [SAMPLE_DATA, CONCEPT_DATA])
def test_a_missing_shipped_file_says_what_to_restore(
    project: Settings, tmp_path: Path, missing: Path
) -> None:
    (project.project_root / missing).unlink()
    with pytest.raises(NearMissError, match=f"Cannot build the starter bundle: .*{missing.name}"):
        ensure_starter_bundle(project, embedder=fake_embedder(tmp_path))


def test_a_concept_record_without_the_concept_schemes_is_refused(project: Settings) -> None:
    records = tiny_concepts(5)
    records[2]["codes"] = {"outcome": ["near_miss"]}
    write_labelled(project.project_root / CONCEPT_DATA, records)
    with pytest.raises(InputError, match=r"line 3: record 'c002' labels none of recovery"):
        starter_training_data(project)


# The shipped concept set ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def concepts() -> list[LabelledRecord]:
    return [record for _, record in iter_labelled(ROOT / CONCEPT_DATA)]


def test_the_concept_set_labels_only_outcome_and_the_recovery_schemes(
    concepts: list[LabelledRecord],
) -> None:
    taxonomy = load_taxonomy(ROOT / STARTER_TAXONOMY)
    assert 200 <= len(concepts) <= 400
    assert set(CONCEPT_SCHEMES) == {"recovery", "recovery_agent"}
    for number, record in enumerate(concepts, 1):
        assert set(record.codes) == {"outcome", "recovery", "recovery_agent"}, record.id
        taxonomy.check_codes(record.codes, f"line {number}")
        assert record.source == "synthetic"


def test_the_concept_set_follows_the_recovery_rule(concepts: list[LabelledRecord]) -> None:
    recovery = load_taxonomy(ROOT / STARTER_TAXONOMY).scheme("recovery")
    for record in concepts:
        codes, agents = record.codes, set(record.codes["recovery_agent"])
        if codes["outcome"] != ["near_miss"]:
            assert codes["recovery"] == [] and not agents, record.id
            continue
        parents = {recovery.code(code).parent for code in codes["recovery"]}
        assert ("designed" in agents) == bool(parents & DESIGNED_PARENTS), record.id
        assert ("human" in agents) == ("unplanned" in parents), record.id


def test_the_concept_set_is_balanced_and_spread_over_domains(
    concepts: list[LabelledRecord],
) -> None:
    agents = Counter("+".join(r.codes["recovery_agent"]) for r in concepts)
    assert abs(agents["human"] - agents["designed"]) <= 0.1 * agents["designed"]
    assert agents["human+designed"] >= 5
    recovery = Counter(code for r in concepts for code in r.codes["recovery"])
    hard_cases = ("defence_overridden", "safety_net_prompt", "planned_check", "chance")
    assert all(recovery[code] >= 10 for code in hard_cases), recovery
    domains = Counter(str(getattr(r, "domain", "")) for r in concepts)
    assert len(domains) >= 20 and max(domains.values()) <= 0.1 * len(concepts)
    assert not {d.replace("_", " ") for d in domains} & (PROBE_DOMAINS | {"general practice"})


def test_the_concept_set_has_no_near_duplicates(concepts: list[LabelledRecord]) -> None:
    texts = [r.text for r in concepts]
    matrix = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform(texts)
    distances, _ = NearestNeighbors(n_neighbors=2, metric="cosine").fit(matrix).kneighbors(matrix)
    assert np.mean(1.0 - distances[:, 1] > 0.8) < 0.01


def test_the_concept_set_shares_no_phrase_with_the_probes(concepts: list[LabelledRecord]) -> None:
    def shingles(text: str) -> set[tuple[str, ...]]:
        words = re.findall(r"[a-z0-9]+", text.lower())
        return {tuple(words[i : i + 8]) for i in range(len(words) - 7)}

    probes = set().union(*(shingles(r.text) for _, r in iter_labelled(PROBES)))
    copied = [r.id for r in concepts if shingles(r.text) & probes]
    assert not copied, f"concept records sharing 8 words with a probe: {copied}"
