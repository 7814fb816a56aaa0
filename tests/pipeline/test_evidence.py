"""Evidence: redacted sentences supporting each selected code, with their section."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.evidence import (
    MAX_EVIDENCE,
    RUNNER_UP_RATIO,
    ViewSentences,
    pick_evidence,
    view_sentences,
)
from pipeline.record import Record
from pipeline.sentences import PreparedRecord, prepare_records, redact_records
from pipeline.suggest import Suggester
from tests.pipeline.suggest_fixtures import build_mini_bundle, load_mini, mini_labelled


@pytest.fixture(scope="module")
def suggester(tmp_path_factory: pytest.TempPathFactory) -> Suggester:
    root = tmp_path_factory.mktemp("evidence")
    return load_mini(build_mini_bundle(root), root / "cache")


def _records(n: int = 12) -> list[Record]:
    return [
        Record.model_validate({k: v for k, v in line.items() if k != "codes"})
        for line in mini_labelled(n, seed=7)
    ]


def test_view_sentences_keep_sections_and_bounds() -> None:
    prepared = [
        PreparedRecord(
            Record(id="a", text="x"),
            ("Keyed wrong.", "Rang.", "Alert."),
            ("what_happened", "action_taken", "changes"),
        ),
        PreparedRecord(Record(id="b", text=""), (), ()),
        PreparedRecord(Record(id="c", text="x"), ("One line only",), (None,)),
    ]
    full = view_sentences(prepared, "full")
    assert full.texts == ("Keyed wrong.", "Rang.", "Alert.", "One line only")
    assert full.sections == ("what_happened", "action_taken", "changes", None)
    assert full.bounds == (0, 3, 3, 4)
    assert [len(group) for group in full.groups(np.arange(8.0).reshape(4, 2))] == [3, 0, 1]
    recovery = view_sentences(prepared, "recovery")
    assert recovery.texts == ("Keyed wrong.", "Rang.", "One line only")
    assert recovery.bounds == (0, 2, 2, 3)


def _sentences(*texts: str) -> ViewSentences:
    return ViewSentences(texts, (None,) * len(texts), (0, len(texts)))


def test_best_sentence_and_a_close_runner_up() -> None:
    sentences = _sentences("a", "b", "c")
    close = np.array([[0.5], [0.9], [0.9 * RUNNER_UP_RATIO]])
    far = np.array([[0.5], [0.9], [0.9 * RUNNER_UP_RATIO - 0.01]])
    selected = np.array([[True]])
    assert [e.text for e in pick_evidence(sentences, close, selected)[0][0]] == ["b", "c"]
    assert [e.text for e in pick_evidence(sentences, far, selected)[0][0]] == ["b"]


def test_evidence_is_capped_and_skips_repeated_sentences() -> None:
    sentences = _sentences("same", "same", "other", "third")
    scores = np.array([[0.9], [0.9], [0.89], [0.88]])
    evidence = pick_evidence(sentences, scores, np.array([[True]]))[0][0]
    assert [e.text for e in evidence] == ["same", "other"]
    assert len(evidence) == MAX_EVIDENCE


def test_only_selected_codes_get_evidence_and_no_sentence_gives_none() -> None:
    sentences = ViewSentences(("a",), (None,), (0, 1, 1))
    picked = pick_evidence(
        sentences, np.array([[0.2, 0.9]]), np.array([[False, True], [True, False]])
    )
    assert list(picked[0]) == [1]
    assert picked[1] == {0: ()}


def test_every_selected_code_has_redacted_evidence_from_the_text(suggester: Suggester) -> None:
    records = _records()
    redacted = redact_records(records)
    for record, line in zip(redacted, suggester.suggest(records), strict=True):
        payload = json.dumps(line.to_dict())
        assert "Jones" not in payload and "07700" not in payload
        for codes in line.suggestions.values():
            for code in codes:
                assert bool(code.evidence) == code.selected
                for item in code.evidence:
                    assert item.text in record.text
                    assert item.section in {"what_happened", "action_taken", "changes"}


def test_recovery_evidence_never_comes_from_what_has_been_changed(suggester: Suggester) -> None:
    records = _records(30)
    sections = {
        item.section
        for line in suggester.suggest(records)
        for code in line.suggestions["recovery_agent"]
        for item in code.evidence
    }
    assert sections and sections <= {"what_happened", "action_taken"}


def test_evidence_sections_come_from_record_sections(suggester: Suggester) -> None:
    record = Record(
        id="s",
        text="ignored when sections are given",
        sections={
            "what_happened": "Locum short-staffed, caught before it reached the patient.",
            "action_taken": "Receptionist noticed by chance.",
        },
    )
    line = suggester.suggest([record])[0]
    chosen = [item for codes in line.suggestions.values() for c in codes for item in c.evidence]
    assert chosen and {item.section for item in chosen} <= {"what_happened", "action_taken"}


@pytest.mark.parametrize(
    "record",
    [
        Record(id="u", text="Details: Mrs Jones rang.", sections={"details": "Mrs Jones rang."}),
        Record(id="e", text="", sections={}),
        Record(id="n", text="Mrs Jones rang.\nWhat has been changed: Call Dr Patel."),
    ],
    ids=["unknown-sections", "empty", "no-sections"],
)
def test_prepared_sentences_are_cut_from_the_redacted_text(record: Record) -> None:
    (ready,) = prepare_records([record])
    assert "Jones" not in ready.record.text and "Patel" not in ready.record.text
    for sentence in ready.sentences:
        assert sentence in ready.record.text
    if record.sections is None:
        assert ready.record.sections is None
    else:
        assert ready.record.sections is not None
        assert list(ready.record.sections) == list(record.sections)
        assert "Jones" not in "".join(ready.record.sections.values())


def test_sentences_around_identifiers_keep_whole_placeholders() -> None:
    (ready,) = prepare_records(
        [Record(id="p", text="Seen by Dr Patel on 12/03/2024. NHS 943 476 5919 checked.")]
    )
    assert ready.sentences == ("Seen by Dr [NAME] on [DATE].", "NHS [NHS_NUMBER] checked.")
