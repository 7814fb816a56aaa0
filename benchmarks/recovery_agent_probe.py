"""Does the starter model tell human from designed recoveries outside general practice?

Reads the out-of-domain probe set (``data/probes/recovery-agent-out-of-domain.jsonl`` by default:
48 short near misses from aviation, rail, hospital pharmacy, laboratory, wildland fire and
maritime work, each labelled with one ``recovery_agent`` code, 24 human and 24 designed; never
used for training) and prints, for the starter bundle (``--model`` for another):

* the full suggester (trained head blended with cold start): accuracy and macro-F1 of the more
  probable of ``human`` and ``designed``, and the share of narratives whose *selected* agents
  are exactly the label (after the recovery rule, which also needs the outcome to be near miss);
* cold start alone (the recovery_agent prototypes and the bundle's calibration): the same
  accuracy and macro-F1;
* per domain, the full suggester's accuracy.

    .venv/bin/python benchmarks/recovery_agent_probe.py [--data FILE] [--model DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PROBES = ROOT / "data" / "probes" / "recovery-agent-out-of-domain.jsonl"
AGENTS = ("human", "designed")


def macro_f1(truth: list[str], predicted: list[str]) -> float:
    """Return the mean F1 of the two agent classes."""
    scores = []
    for code in AGENTS:
        tp = sum(t == code and p == code for t, p in zip(truth, predicted, strict=True))
        fp = sum(t != code and p == code for t, p in zip(truth, predicted, strict=True))
        fn = sum(t == code and p != code for t, p in zip(truth, predicted, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(scores))


def accuracy(truth: list[str], predicted: list[str]) -> float:
    """Return the share of narratives whose predicted agent is the label."""
    return float(np.mean([t == p for t, p in zip(truth, predicted, strict=True)]))


def run(data: Path, model: Path | None) -> dict[str, Any]:
    """Score the bundle on the probes; return every figure."""
    from pipeline.evidence import view_sentences
    from pipeline.sentences import prepare_records
    from pipeline.suggest import Suggester, load_suggester
    from pipeline.taxonomy import load_taxonomy
    from training.dataset import load_dataset

    suggester = Suggester.load(model) if model is not None else load_suggester()
    dataset = load_dataset(data, load_taxonomy(suggester.bundle_dir / "taxonomy.yaml"))
    records = list(dataset.records)
    truth = [r.codes["recovery_agent"][0] for r in records]
    domains = [str(getattr(r, "domain", "?")) for r in records]
    lines = [s.to_dict()["suggestions"]["recovery_agent"] for s in suggester.suggest(records)]
    scores = np.array([[c["score"] for c in line] for line in lines])
    selected = [[c["code"] for c in line if c["selected"]] for line in lines]
    codes = [c["code"] for c in lines[0]]
    full = [codes[i] for i in scores.argmax(axis=1)]
    scorer = suggester.scorers["recovery_agent"]
    sentences = view_sentences(prepare_records(records, redact=False), scorer.text_view)
    vectors = suggester.embedder.encode(list(sentences.texts))
    cold_scores = scorer.cold.predict_proba(sentences.groups(vectors))
    cold = [scorer.codes[i] for i in cold_scores.argmax(axis=1)]
    by_domain: dict[str, list[bool]] = defaultdict(list)
    for domain, t, p in zip(domains, truth, full, strict=True):
        by_domain[domain].append(t == p)
    return {
        "model": suggester.name,
        "probes": len(records),
        "full": {"accuracy": accuracy(truth, full), "macro_f1": macro_f1(truth, full)},
        "selected_exact": float(np.mean([s == [t] for s, t in zip(selected, truth, strict=True)])),
        "cold_start": {"accuracy": accuracy(truth, cold), "macro_f1": macro_f1(truth, cold)},
        "per_domain": {d: float(np.mean(v)) for d, v in sorted(by_domain.items())},
    }


def main() -> None:
    """Parse arguments, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=PROBES)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.data, args.model)
    if args.json:
        print(json.dumps(result, separators=(",", ":")))
        return
    print(f"recovery_agent on {result['probes']} out-of-domain probes, bundle {result['model']}")
    for name in ("full", "cold_start"):
        figures = result[name]
        print(
            f"  {name:<11} accuracy {figures['accuracy']:.3f}  macro-F1 {figures['macro_f1']:.3f}"
        )
    print(f"  selected agents exactly the label: {result['selected_exact']:.3f}")
    for domain, value in result["per_domain"].items():
        print(f"  {domain:<18} accuracy {value:.3f}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
