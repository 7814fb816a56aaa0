"""Retraining from reviewed codes: dataset rules, held-out comparison, promotion and its record."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline.errors import InputError
from pipeline.record import Record
from pipeline.store import (
    add_narratives,
    promote_bundle,
    promoted_bundle,
    record_decision,
    register_bundle,
    session_scope,
)
from pipeline.store.models import RetrainRun
from tests.bundle_fixtures import fake_embedder, tiny_labelled, write_labelled
from training.bundle import train_bundle
from training.retrain import is_heldout, retrain, reviewed_records


@pytest.fixture
def reviewed_store(tmp_path: Path) -> tuple[str, list[dict]]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    labelled = tiny_labelled(n=60)
    with session_scope(url, write=True) as session:
        ids, _ = add_narratives(
            session,
            [Record.model_validate({k: v for k, v in r.items() if k != "codes"}) for r in labelled],
        )
        for narrative_id, record in zip(ids, labelled, strict=True):
            method = "bulk" if record["id"].endswith("7") else "individual"
            record_decision(session, narrative_id, record["codes"], actor="dr", method=method)
    return url, labelled


def test_dataset_leaves_bulk_accepts_out_unless_asked(reviewed_store) -> None:
    url, labelled = reviewed_store
    with session_scope(url) as session:
        human = reviewed_records(session)
        everything = reviewed_records(session, include_bulk=True)
    assert len(everything) == len(labelled)
    assert {r.id for r in everything} - {r.id for r in human} == {
        r["id"] for r in labelled if r["id"].endswith("7")
    }
    first = next(r for r in human if r.id == "r001")
    assert first.codes == labelled[1]["codes"]


def test_retrain_promotes_a_better_bundle_and_records_the_decision(
    reviewed_store, tmp_path: Path, tiny_taxonomy_file: Path
) -> None:
    url, labelled = reviewed_store
    embedder = fake_embedder(tmp_path)
    # A weak baseline: trained on records whose codes are shuffled, then promoted.
    shuffled = [
        dict(r, codes=labelled[(i + 7) % len(labelled)]["codes"]) for i, r in enumerate(labelled)
    ]
    weak = train_bundle(
        write_labelled(tmp_path / "weak.jsonl", shuffled),
        tiny_taxonomy_file,
        tmp_path / "weak-bundle",
        embedder=embedder,
    )
    with session_scope(url, write=True) as session:
        promote_bundle(session, register_bundle(session, weak, actor="t").id, actor="t")
    report = retrain(
        db_url=url,
        taxonomy_path=tiny_taxonomy_file,
        out_root=tmp_path / "bundles",
        embedder=embedder,
    )
    assert report.n_heldout == sum(
        is_heldout(r["id"]) for r in labelled if not r["id"].endswith("7")
    )
    assert report.baseline == "weak-bundle"
    assert report.new_score > report.baseline_score
    assert report.promoted and not report.forced
    with session_scope(url) as session:
        assert promoted_bundle(session).name == report.bundle
        run = session.scalars(select(RetrainRun)).one()
        assert (run.promoted, run.baseline_name, run.metric) == (True, "weak-bundle", "macro_f1")
    # The next run cannot beat an equal bundle: not promoted, old bundle kept, both recorded.
    again = retrain(
        db_url=url,
        taxonomy_path=tiny_taxonomy_file,
        out_root=tmp_path / "bundles",
        embedder=embedder,
    )
    assert not again.promoted
    assert again.bundle != report.bundle
    assert Path(report.bundle_dir).is_dir() and Path(again.bundle_dir).is_dir()
    with session_scope(url) as session:
        assert promoted_bundle(session).name == report.bundle
        assert len(session.scalars(select(RetrainRun)).all()) == 2


def test_retrain_refuses_too_few_reviews(tmp_path: Path, tiny_taxonomy_file: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with pytest.raises(InputError, match="retraining needs at least"):
        retrain(db_url=url, taxonomy_path=tiny_taxonomy_file, out_root=tmp_path / "b")


def test_unknown_metric_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--metric 'auc' is unknown"):
        retrain(db_url=f"sqlite:///{tmp_path / 's.db'}", metric="auc")
