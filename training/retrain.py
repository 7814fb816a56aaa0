"""Retrain from reviewed codes: a new bundle, compared with the one in use, promoted only if better.

The dataset holds the current codes of each reviewed narrative and scheme, taken from the latest
decision when people made it: ``individual`` reviews and ``import``-ed codes. Bulk-accepted
decisions mostly echo the model that suggested them, so they are left out unless asked for.
A fixed fifth of the reviewed narratives (by a hash of their id, so the slice is stable as
reviews accumulate) is held out; the new bundle is trained on the rest, and both it and the
baseline (the promoted bundle, else the starter bundle) are scored on the held-out slice. The
decision, promoted or not, is recorded in the store with its metrics. Nothing is overwritten:
each run writes a new bundle directory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.config import get_settings
from pipeline.embed import Embedder
from pipeline.errors import InputError
from pipeline.jsonl import write_jsonl
from pipeline.record import LabelledRecord
from pipeline.store import (
    Decision,
    Narrative,
    promote_bundle,
    promoted_bundle,
    register_bundle,
    session_scope,
    verify_bundle,
)
from pipeline.store.models import RetrainRun
from training.bundle import train_bundle
from training.evaluate_bundle import BundleEvaluation, evaluate_bundle

if TYPE_CHECKING:
    from pipeline.suggest import Suggester

__all__ = ["METRICS", "RetrainReport", "retrain", "reviewed_records"]

logger = logging.getLogger(__name__)

#: How two bundles are compared on the held-out slice (averaged over the schemes both score).
METRICS = ("macro_f1", "micro_f1")
HUMAN_METHODS = frozenset({"individual", "import"})
MIN_TRAIN = 20
MIN_HELDOUT = 5
ACTOR = "retrain"


@dataclass(frozen=True, slots=True)
class RetrainReport:
    """What a retrain run did (ids, names, paths and figures; never narrative text)."""

    bundle: str
    bundle_dir: str
    baseline: str
    metric: str
    new_score: float
    baseline_score: float | None
    promoted: bool
    forced: bool
    reason: str
    n_train: int
    n_heldout: int
    per_scheme: dict[str, dict[str, float | None]]

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dictionary."""
        return asdict(self)

    def format(self) -> str:
        """Return a short human-readable summary."""
        verdict = "Promoted" if self.promoted else "Not promoted"
        lines = [
            f"Trained {self.bundle} on {self.n_train} reviewed narratives ({self.bundle_dir}).",
            f"{verdict}: {self.reason}",
            f"Held-out reviewed slice: {self.n_heldout} narratives; {self.metric} per scheme "
            "(new / baseline):",
        ]
        for scheme, scores in self.per_scheme.items():
            old = scores["baseline"]
            lines.append(
                f"  {scheme:<16} {scores['new']:.3f} / {'-' if old is None else f'{old:.3f}'}"
            )
        return "\n".join(lines)


def reviewed_records(session: Session, *, include_bulk: bool = False) -> list[LabelledRecord]:
    """Return reviewed narratives with their current human-decided codes.

    Parameters
    ----------
    session : Session
        An open store session.
    include_bulk : bool
        Also take codes whose latest decision was a bulk accept.

    Returns
    -------
    list of LabelledRecord
        One per narrative with at least one qualifying scheme, in store order; a scheme whose
        latest decision does not qualify is left out (not labelled), never guessed.
    """
    methods = HUMAN_METHODS | ({"bulk"} if include_bulk else set())
    latest: dict[tuple[int, str], Decision] = {}
    query = select(Decision).order_by(Decision.narrative_id, Decision.scheme, Decision.id)
    for decision in session.scalars(query):
        latest[(decision.narrative_id, decision.scheme)] = decision
    codes: dict[int, dict[str, list[str]]] = {}
    for (narrative_id, scheme), decision in latest.items():
        if decision.method in methods:
            codes.setdefault(narrative_id, {})[scheme] = list(decision.codes)
    records = []
    for narrative in session.scalars(
        select(Narrative).where(Narrative.id.in_(sorted(codes))).order_by(Narrative.id)
    ):
        records.append(
            LabelledRecord(
                id=narrative.record_id,
                text=narrative.text,
                sections=narrative.sections or None,
                practice=narrative.practice,
                event_date=narrative.event_date,
                source=narrative.source,
                codes=codes[narrative.id],
            )
        )
    return records


def is_heldout(record_id: str) -> bool:
    """Whether a reviewed narrative belongs to the fixed held-out fifth (by a hash of its id)."""
    return int(hashlib.sha1(record_id.encode("utf-8")).hexdigest(), 16) % 5 == 0


def retrain(
    *,
    db_url: str | None = None,
    include_bulk: bool = False,
    force: bool = False,
    metric: str = "macro_f1",
    taxonomy_path: Path | None = None,
    out_root: Path | None = None,
    embedder: Embedder | None = None,
) -> RetrainReport:
    """Train a bundle on reviewed codes, compare it with the bundle in use, maybe promote it.

    Parameters
    ----------
    db_url : str or None
        Store URL; None means ``NEARMISS_DB`` or the default SQLite file.
    include_bulk : bool
        Also learn from bulk-accepted decisions.
    force : bool
        Promote the new bundle even when it does not beat the baseline.
    metric : {"macro_f1", "micro_f1"}
        The comparison, averaged over the schemes both bundles score.
    taxonomy_path : Path or None
        The taxonomy of the reviewed codes; default: the configured one.
    out_root : Path or None
        Where new bundles go; default ``<data dir>/bundles`` (they hold vocabulary learnt from
        real narratives: personal data, kept out of the checkout).
    embedder : Embedder or None
        Default: ``Embedder.from_settings()``.

    Returns
    -------
    RetrainReport
        The new bundle, both scores, and whether and why it was promoted.

    Raises
    ------
    InputError
        If ``metric`` is unknown or too few narratives were reviewed to train and compare.
    """
    if metric not in METRICS:
        raise InputError(f"--metric {metric!r} is unknown; use one of {', '.join(METRICS)}")
    settings = get_settings()
    taxonomy_path = taxonomy_path or settings.taxonomy_path
    with session_scope(db_url) as session:
        records = reviewed_records(session, include_bulk=include_bulk)
        current = promoted_bundle(session)
        baseline_dir = Path(current.path) if current is not None else None
        if baseline_dir is not None:
            verify_bundle(session, baseline_dir)
    train = [r for r in records if not is_heldout(r.id)]
    heldout = [r for r in records if is_heldout(r.id)]
    if len(train) < MIN_TRAIN or len(heldout) < MIN_HELDOUT:
        hint = "" if include_bulk else ", or pass --include-bulk to learn from bulk accepts too"
        raise InputError(
            f"Only {len(records)} narratives have individually reviewed codes "
            f"({len(train)} to train, {len(heldout)} held out); retraining needs at least "
            f"{MIN_TRAIN} and {MIN_HELDOUT}. Review more narratives{hint}"
        )
    if baseline_dir is None:
        from pipeline.starter import ensure_starter_bundle

        baseline_dir = ensure_starter_bundle()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    root = out_root or settings.data_dir / "bundles"
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="retrain-", dir=root))
    try:
        train_path, heldout_path = work / "train.jsonl", work / "heldout.jsonl"
        write_jsonl(train_path, (r.model_dump(mode="json") for r in train))
        write_jsonl(heldout_path, (r.model_dump(mode="json") for r in heldout))
        digest = hashlib.sha256(train_path.read_bytes()).hexdigest()[:8]
        out_dir = _new_dir(root, f"retrain-{stamp}-{digest}")
        train_bundle(train_path, taxonomy_path, out_dir, embedder=embedder, synthetic=False)
        new_eval, old_eval = (
            evaluate_bundle(
                bundle_dir,
                heldout_path,
                taxonomy_path=taxonomy_path,
                suggester=_suggester(bundle_dir, embedder),
            )
            for bundle_dir in (out_dir, baseline_dir)
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    per_scheme, new_score, old_score = _compare(new_eval, old_eval, metric)
    better = old_score is None or new_score > old_score
    promoted = better or force
    reason = _reason(metric, new_score, old_score, better, force, baseline_dir.name)
    with session_scope(db_url, write=True) as session:
        bundle = register_bundle(session, out_dir, actor=ACTOR)
        baseline = promoted_bundle(session)
        metrics = {
            "per_scheme": per_scheme,
            "new": new_eval.to_dict(),
            "baseline": old_eval.to_dict(),
        }
        if promoted:
            promote_bundle(session, bundle.id, actor=ACTOR, reason=reason, metrics=metrics)
        session.add(
            RetrainRun(
                bundle_id=bundle.id,
                baseline_bundle_id=baseline.id
                if baseline is not None and baseline.id != bundle.id
                else None,
                baseline_name=baseline_dir.name,
                metric=metric,
                new_score=new_score,
                baseline_score=old_score,
                promoted=promoted,
                forced=force and not better,
                include_bulk=include_bulk,
                n_train=len(train),
                n_heldout=len(heldout),
                reason=reason,
                metrics=metrics,
                actor=ACTOR,
            )
        )
    logger.info("Retrained %s: %s %.3f vs %s", out_dir.name, metric, new_score, old_score)
    return RetrainReport(
        bundle=out_dir.name,
        bundle_dir=str(out_dir),
        baseline=baseline_dir.name,
        metric=metric,
        new_score=new_score,
        baseline_score=old_score,
        promoted=promoted,
        forced=force and not better,
        reason=reason,
        n_train=len(train),
        n_heldout=len(heldout),
        per_scheme=per_scheme,
    )


def _suggester(bundle_dir: Path, embedder: Embedder | None) -> Suggester | None:
    """Return a suggester sharing the caller's model; None lets evaluation load the bundle's."""
    if embedder is None:
        return None
    from pipeline.suggest import Suggester

    return Suggester.load(bundle_dir, encoder=embedder.encoder)


def _new_dir(root: Path, name: str) -> Path:
    path, suffix = root / name, 1
    while path.exists():
        suffix += 1
        path = root / f"{name}-{suffix}"
    return path


def _score(evaluation: BundleEvaluation, scheme: str, metric: str) -> float:
    result = evaluation.schemes[scheme]
    return float(result.macro.f1 if metric == "macro_f1" else result.micro.f1)


def _compare(
    new: BundleEvaluation, old: BundleEvaluation, metric: str
) -> tuple[dict[str, dict[str, float | None]], float, float | None]:
    schemes: Sequence[str] = sorted(new.schemes)
    shared = [s for s in schemes if s in old.schemes]
    per_scheme: dict[str, dict[str, float | None]] = {
        s: {
            "new": _score(new, s, metric),
            "baseline": _score(old, s, metric) if s in old.schemes else None,
        }
        for s in schemes
    }
    if not shared:
        return per_scheme, sum(_score(new, s, metric) for s in schemes) / len(schemes), None
    new_score = sum(_score(new, s, metric) for s in shared) / len(shared)
    old_score = sum(_score(old, s, metric) for s in shared) / len(shared)
    return per_scheme, new_score, old_score


def _reason(
    metric: str, new: float, old: float | None, better: bool, force: bool, baseline: str
) -> str:
    if old is None:
        return f"{baseline} scores none of the reviewed schemes; the new bundle is the first"
    comparison = f"{metric} {new:.3f} {'>' if better else '<='} {old:.3f} ({baseline})"
    if better:
        return f"{comparison} on the same held-out reviewed slice"
    if force:
        return f"{comparison}, promoted anyway (--force)"
    return f"{comparison} on the same held-out reviewed slice; {baseline} stays in use"
