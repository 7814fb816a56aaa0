"""Suggestions, review decisions, label import, users and the model registry, on both backends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from pipeline.errors import BundleError, InputError
from pipeline.record import LabelledRecord
from pipeline.store import (
    Decision,
    Narrative,
    User,
    UserPractice,
    add_narratives,
    add_suggestions,
    current_codes,
    import_labels,
    promote_bundle,
    promoted_bundle,
    record_decision,
    register_bundle,
    session_scope,
    verify_bundle,
)
from pipeline.taxonomy import load_taxonomy
from tests.pipeline.store_support import make_records

# The store fixtures (`store_url`, `backend`), parametrised over SQLite and PostgreSQL.
pytest_plugins = ("tests.pipeline.store_fixtures",)


def _line(record_id: str, model: str = "m1", selected: tuple[str, ...] = ("near_miss",)) -> Any:
    return {
        "id": record_id,
        "model": model,
        "suggestions": {
            "outcome": [
                {
                    "code": code,
                    "score": 0.8 if code in selected else 0.1,
                    "selected": code in selected,
                    "evidence": [{"text": "caught by the pharmacist", "section": None}],
                }
                for code in ("near_miss", "incident")
            ],
            "cause": [{"code": "staffing", "score": 0.2, "selected": False, "evidence": []}],
        },
    }


@pytest.fixture
def narrative_ids(store_url: str) -> list[int]:
    with session_scope(store_url, write=True) as session:
        ids, _ = add_narratives(session, make_records(3))
    return ids


def test_add_suggestions(store_url: str, narrative_ids: list[int]) -> None:
    lines = [_line("r-0000"), _line("r-0001"), _line("nobody")]
    with session_scope(store_url, write=True) as session:
        first = add_suggestions(session, lines)
    assert len(first.stored) == 2
    assert first.unknown_ids == ("nobody",)
    with session_scope(store_url, write=True) as session:
        again = add_suggestions(session, lines)
        newer = add_suggestions(session, [_line("r-0000", model="m2")])
    assert again.stored == ()
    assert again.already_present == first.stored
    assert len(newer.stored) == 1
    with session_scope(store_url) as session:
        narrative = session.get_one(Narrative, narrative_ids[0])
        assert [s.model for s in narrative.suggestion_sets] == ["m1", "m2"]
        suggestion = narrative.suggestion_sets[0].suggestions[0]
        assert (suggestion.scheme, suggestion.code, suggestion.selected) == (
            "outcome",
            "near_miss",
            True,
        )
        assert suggestion.evidence == [{"text": "caught by the pharmacist", "section": None}]
        assert narrative.status == "pending"


@pytest.mark.parametrize(
    "broken",
    [{"id": "r-0000", "model": "m"}, {**_line("r-0000"), "extra": 1}],
    ids=["no-suggestions", "unknown-key"],
)
def test_malformed_suggestions_are_input_errors(store_url: str, broken: Any) -> None:
    with pytest.raises(InputError, match="line 1"), session_scope(store_url, write=True) as s:
        add_suggestions(s, [broken])


def test_scores_out_of_range_are_input_errors(store_url: str) -> None:
    line = _line("r-0000")
    line["suggestions"]["outcome"][0]["score"] = 1.5
    with pytest.raises(InputError, match="score"), session_scope(store_url, write=True) as s:
        add_suggestions(s, [line])


def test_decisions_keep_full_history(store_url: str, narrative_ids: list[int]) -> None:
    narrative_id = narrative_ids[0]
    with session_scope(store_url, write=True) as session:
        add_suggestions(session, [_line("r-0000")])
        record_decision(session, narrative_id, {"outcome": ["near_miss"], "cause": []}, actor="ann")
    with session_scope(store_url, write=True) as session:
        record_decision(
            session,
            narrative_id,
            {"outcome": ["incident"]},
            actor="bob",
            note="it reached the patient",
        )
    with session_scope(store_url) as session:
        narrative = session.get_one(Narrative, narrative_id)
        assert narrative.status == "reviewed"
        history = [
            (d.actor, d.scheme, d.codes, d.suggested_codes, d.previous_codes)
            for d in narrative.decisions
        ]
        assert history == [
            ("ann", "outcome", ["near_miss"], ["near_miss"], None),
            ("ann", "cause", [], [], None),
            ("bob", "outcome", ["incident"], ["near_miss"], ["near_miss"]),
        ]
        assert {d.method for d in narrative.decisions} == {"individual"}
        assert narrative.decisions[0].suggestion_set_id is not None
        assert narrative.decisions[0].batch_id == narrative.decisions[1].batch_id
        assert narrative.decisions[2].note == "it reached the patient"
        assert current_codes(session, narrative_id) == {"outcome": ["incident"], "cause": []}
        assert session.get_one(Narrative, narrative_ids[1]).status == "pending"


@pytest.mark.parametrize(
    ("narrative", "codes", "method", "match"),
    [
        (99_999, {"outcome": ["near_miss"]}, "individual", "No narrative"),
        (None, {}, "individual", "nothing to decide"),
        (None, {"outcome": ["near_miss"]}, "guessed", "Unknown decision method"),
    ],
)
def test_bad_decisions_are_input_errors(
    store_url: str,
    narrative_ids: list[int],
    narrative: int | None,
    codes: Any,
    method: str,
    match: str,
) -> None:
    with pytest.raises(InputError, match=match), session_scope(store_url, write=True) as session:
        record_decision(session, narrative or narrative_ids[0], codes, actor="ann", method=method)


def test_import_labels(store_url: str, narrative_ids: list[int], tiny_taxonomy_file: Path) -> None:
    taxonomy = load_taxonomy(tiny_taxonomy_file)
    labelled = [
        LabelledRecord(
            id="r-0000", text="", codes={"outcome": ["near_miss"], "cause": ["staffing"]}
        ),
        LabelledRecord(id="r-0001", text="", codes={"outcome": ["made_up"], "cause": []}),
        LabelledRecord(id="r-0002", text="", codes={"nonsense": ["x"]}),
        LabelledRecord(id="missing", text="", codes={"outcome": ["incident"]}),
    ]
    with session_scope(store_url, write=True) as session:
        report = import_labels(session, labelled, taxonomy, actor="import:labels.jsonl")
    assert (report.narratives, report.decisions, report.unchanged) == (2, 3, 0)
    assert report.unknown_ids == ("missing",)
    assert len(report.rejected) == 2
    assert "made_up" in report.rejected[0]
    assert "nonsense" in report.rejected[1]
    with session_scope(store_url) as session:
        assert current_codes(session, narrative_ids[1]) == {"cause": []}
        assert session.get_one(Narrative, narrative_ids[2]).status == "pending"
        assert {d.method for d in session.scalars(select(Decision))} == {"import"}
    with session_scope(store_url, write=True) as session:
        again = import_labels(session, labelled, taxonomy, actor="import:labels.jsonl")
    assert (again.decisions, again.unchanged) == (0, 3)


def test_users_roles_and_practice_scope(store_url: str) -> None:
    with session_scope(store_url, write=True) as session:
        user = User(
            username="ann", role="investigator", practices=[UserPractice(practice="Y02417")]
        )
        session.add(user)
    with session_scope(store_url) as session:
        stored = session.scalars(select(User)).one()
        assert stored.is_active
        assert [p.practice for p in stored.practices] == ["Y02417"]
    with pytest.raises(IntegrityError), session_scope(store_url, write=True) as session:
        session.add(User(username="eve", role="superuser"))


def _bundle(directory: Path) -> Path:
    directory.mkdir()
    (directory / "classifier.joblib").write_bytes(b"not really a pickle")
    metadata = {"taxonomy": {"name": "tiny", "version": 2}, "embedder": "all-MiniLM-L6-v2"}
    (directory / "metadata.json").write_text(json.dumps(metadata), encoding="utf-8")
    (directory / "taxonomy").mkdir()
    (directory / "taxonomy" / "v2.yaml").write_text("name: tiny\n", encoding="utf-8")
    return directory


def test_model_registry(store_url: str, tmp_path: Path) -> None:
    first = _bundle(tmp_path / "b1")
    second = _bundle(tmp_path / "b2")
    (second / "classifier.joblib").write_bytes(b"another model")
    with session_scope(store_url, write=True) as session:
        assert promoted_bundle(session) is None
        one = register_bundle(session, first, actor="ds")
        assert register_bundle(session, first, actor="ds").id == one.id  # idempotent
        two = register_bundle(session, second, actor="ds", name="starter")
        assert (one.name, one.taxonomy_name, one.taxonomy_version) == ("b1", "tiny", 2)
        assert sorted(f.path for f in one.files) == [
            "classifier.joblib",
            "metadata.json",
            "taxonomy/v2.yaml",
        ]
        promote_bundle(session, one.id, actor="ds", reason="first", metrics={"macro_f1": 0.6})
        promote_bundle(session, two.id, actor="retrain", reason="better")
    with session_scope(store_url) as session:
        promoted = promoted_bundle(session)
        assert promoted is not None
        assert promoted.name == "starter"
        assert verify_bundle(session, first).id == one.id
        (first / "classifier.joblib").write_bytes(b"tampered")
        with pytest.raises(BundleError, match=r"changed: classifier\.joblib"):
            verify_bundle(session, first)
        unknown = _bundle(tmp_path / "b3")
        (unknown / "classifier.joblib").write_bytes(b"from somewhere else")
        with pytest.raises(BundleError, match="not registered"):
            verify_bundle(session, unknown)
        assert verify_bundle(session, _bundle(tmp_path / "copy-of-b1")).id == one.id  # moved
    with pytest.raises(InputError, match="No bundle"), session_scope(store_url, write=True) as s:
        promote_bundle(s, 12345, actor="ds")


def test_suggestions_link_to_the_bundle_named_by_their_model(
    store_url: str, tmp_path: Path
) -> None:
    with session_scope(store_url, write=True) as session:
        add_narratives(session, make_records(1))
        bundle = register_bundle(session, _bundle(tmp_path / "m1"), actor="ds")
        add_suggestions(
            session, [_line("r-0000", model="m1"), _line("r-0000", model="unregistered")]
        )
        sets = session.scalars(select(Narrative)).one().suggestion_sets
        assert [s.bundle_id for s in sets] == [bundle.id, None]
