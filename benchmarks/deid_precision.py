"""De-identification precision on real safety narratives that hold (almost) no personal identifiers.

The synthetic GP set (``benchmarks/deid.py``) measures recall; this script measures what the
redactor takes away from narratives of other safety domains (wildland fire, aviation, rail,
maritime, nuclear, hospital), where nearly every placeholder is a false positive: a role word,
a verb or an abbreviation the coder needs ("Pharmacist [NAME] the alert", "CALLED FO TO
[INITIALS]"). For each JSONL file (a ``text`` field per row), as written and upper-cased (ASRS
reports are often ALL CAPS), it prints:

* placeholders inserted per 1,000 words, by label, and the share of narratives touched;
* the most frequent redacted surfaces per label (``--show N``), so that a rule change can be
  judged by what it stops eating.

Data files are read where they are (pass ``/work/shared/benchmarks/safenet.jsonl`` by path; it
is never copied into the repository). With no file given, the two in-repository sets are used::

    .venv/bin/python benchmarks/deid_precision.py /work/shared/benchmarks/safenet.jsonl \
        data/concepts/recovery-agent-multidomain.jsonl \
        data/probes/recovery-agent-out-of-domain.jsonl

``--max-rate R`` makes the script exit 1 when any set's rate of placeholders per 1,000 words
is above ``R`` (a regression guard for CI); by default it only reports.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

from pipeline.redact import find_identifiers
from pipeline.redact_patterns import LABELS

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILES = (
    ROOT / "data" / "concepts" / "recovery-agent-multidomain.jsonl",
    ROOT / "data" / "probes" / "recovery-agent-out-of-domain.jsonl",
)
_WORD = re.compile(r"[^\W_]+(?:['’.-][^\W_]+)*")


def read_texts(path: Path) -> list[str]:
    """Return the ``text`` field of every row of a JSONL file, naming any bad row."""
    texts: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise SystemExit(f"{path}:{n}: not JSON ({err.msg}); fix or drop the row") from err
            text = row.get("text") if isinstance(row, dict) else None
            if not isinstance(text, str):
                raise SystemExit(f"{path}:{n}: no string field 'text'; every row needs one")
            texts.append(text)
    if not texts:
        raise SystemExit(f"{path}: no rows; pass a JSONL file with a 'text' field per row")
    return texts


def measure(texts: list[str], show: int) -> tuple[dict[str, float], str]:
    """Redact ``texts`` and return the headline figures and a printable report."""
    t0 = time.process_time()
    found = find_identifiers(texts)
    cpu = time.process_time() - t0
    words = sum(len(_WORD.findall(t)) for t in texts)
    per_label: Counter[str] = Counter()
    surfaces: dict[str, Counter[str]] = {label: Counter() for label in LABELS}
    touched = 0
    for text, spans in zip(texts, found, strict=True):
        touched += bool(spans)
        for span in spans:
            per_label[span.label] += 1
            surfaces[span.label][" ".join(text[span.start : span.end].split())] += 1
    total = sum(per_label.values())
    rate = 1000 * total / max(words, 1)
    lines = [
        f"  {len(texts)} narratives, {words:,} words, {len(texts) / max(cpu, 1e-9):,.0f} per "
        f"CPU-second; {touched} touched ({touched / len(texts):.1%})",
        f"  placeholders: {total} = {rate:.2f} per 1,000 words"
        + "".join(
            f"; {label} {n} ({1000 * n / max(words, 1):.2f})"
            for label, n in sorted(per_label.items(), key=lambda kv: -kv[1])
        ),
    ]
    if show:
        for label in LABELS:
            if surfaces[label]:
                common = ", ".join(f"{s!r}x{n}" for s, n in surfaces[label].most_common(show))
                lines.append(f"  top {label}: {common}")
    figures = {"rate": rate, "touched": touched / len(texts)}
    figures.update({label: 1000 * n / max(words, 1) for label, n in per_label.items()})
    return figures, "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description="De-identification precision on non-GP narratives")
    ap.add_argument("files", nargs="*", type=Path, help="JSONL files with a 'text' field per row")
    ap.add_argument("--show", type=int, default=12, help="top redacted surfaces per label")
    ap.add_argument("--limit", type=int, default=0, help="use the first N rows of each file")
    ap.add_argument("--no-upper", action="store_true", help="skip the upper-cased copies")
    ap.add_argument("--max-rate", type=float, default=0.0, help="fail above this rate (0: off)")
    args = ap.parse_args()
    files = args.files or list(DEFAULT_FILES)
    find_identifiers(["warm-up: Mrs Jones rang"])
    worst = 0.0
    summary: list[str] = []
    for path in files:
        texts = read_texts(path)
        if args.limit:
            texts = texts[: args.limit]
        variants = [("as written", texts)]
        if not args.no_upper:
            variants.append(("UPPER-CASED", [t.upper() for t in texts]))
        for variant, batch in variants:
            figures, report = measure(batch, args.show)
            print(f"\n{path.name} ({variant})\n{report}")
            worst = max(worst, figures["rate"])
            summary.append(
                f"{path.name + ' (' + variant + ')':<55}{figures['rate']:>8.2f}"
                f"{figures.get('NAME', 0.0):>8.2f}{figures.get('INITIALS', 0.0):>10.2f}"
                f"{figures['touched']:>9.1%}"
            )
    print(f"\n{'set':<55}{'per 1k':>8}{'NAME':>8}{'INITIALS':>10}{'touched':>9}")
    print("\n".join(summary))
    if args.max_rate and worst > args.max_rate:
        print(f"\nworst rate {worst:.2f} per 1,000 words > {args.max_rate}: FAIL")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
