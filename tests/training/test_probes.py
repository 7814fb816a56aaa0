"""The out-of-domain recovery_agent probe set follows the labelled-data contract and is balanced."""

from __future__ import annotations

from collections import Counter

from pipeline.config import PROJECT_ROOT
from pipeline.taxonomy import load_taxonomy
from training.dataset import load_dataset

PROBES = PROJECT_ROOT / "data" / "probes" / "recovery-agent-out-of-domain.jsonl"
GP = PROJECT_ROOT / "taxonomies" / "gp-near-miss" / "v1.yaml"


def test_the_probe_set_is_valid_and_balanced() -> None:
    dataset = load_dataset(PROBES, load_taxonomy(GP))  # unknown codes or ids would raise
    records = dataset.records
    assert len(records) == 48
    agents = Counter(tuple(r.codes["recovery_agent"]) for r in records)
    assert agents == {("human",): 24, ("designed",): 24}
    domains = Counter(
        ((r.model_extra or {})["domain"], r.codes["recovery_agent"][0]) for r in records
    )
    assert len({domain for domain, _ in domains}) == 6
    assert set(domains.values()) == {4}  # 4 human and 4 designed per domain
    assert all(r.codes["outcome"] == ["near_miss"] and r.source == "probe" for r in records)
