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
from pipeline.suggest import Suggester, redact_records
from pipeline.views import Segment
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
    views = [
        [
            Segment("what_happened", "Dose keyed wrong. Pharmacist rang."),
            Segment("changes", "Alert."),
        ],
        [],
        [Segment(None, "One line only")],
    ]
    sentences = view_sentences(views)
    assert sentences.texts == ("Dose keyed wrong.", "Pharmacist rang.", "Alert.", "One line only")
    assert sentences.sections == ("what_happened", "what_happened", "changes", None)
    assert sentences.bounds == (0, 3, 3, 4)
    groups = sentences.groups(np.arange(8.0).reshape(4, 2))
    assert [len(group) for group in groups] == [3, 0, 1]


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
