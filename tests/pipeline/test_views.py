"""Text views: the recovery view reads what happened and action taken, never what was changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.errors import InputError
from pipeline.ingest.sections import join_sections
from pipeline.record import Record
from pipeline.sentences import prepare_records
from pipeline.views import (
    RECOVERY_SECTIONS,
    TEXT_VIEWS,
    line_sections,
    scheme_segments,
    scheme_text,
)

SECTIONS = {
    "what_happened": "Warfarin 5mg keyed instead of 0.5mg. Pharmacist queried the dose.",
    "action_taken": "Script cancelled and reissued.",
    "why": "Two similar entries in the picking list.",
    "learning": "Check the strength on screen.",
    "changes": "A dose-range alert now fires for warfarin.",
}


def _sea(**kwargs: object) -> Record:
    return Record(id="sea-1", text=join_sections(SECTIONS), **kwargs)  # type: ignore[arg-type]


def test_full_view_is_the_text() -> None:
    record = _sea(sections=SECTIONS)
    assert scheme_text(record, "full") == record.text


@pytest.mark.parametrize("with_sections", [True, False], ids=["sections", "split-from-text"])
def test_recovery_view_keeps_what_happened_and_action_taken_only(with_sections: bool) -> None:
    record = _sea(sections=SECTIONS) if with_sections else _sea()
    text = scheme_text(record, "recovery")
    assert "Pharmacist queried the dose." in text
    assert "Script cancelled and reissued." in text
    for dropped in ("changes", "why", "learning"):
        assert SECTIONS[dropped] not in text
    assert "alert" not in text


def test_recovery_view_is_the_same_from_sections_and_from_their_joined_text() -> None:
    # Ingest writes text = join_sections(sections): both routes must give the same view.
    assert scheme_text(_sea(sections=SECTIONS), "recovery") == scheme_text(_sea(), "recovery")


def test_recovery_view_is_the_text_itself_when_nothing_is_dropped() -> None:
    plain = Record(id="p", text="Wrong dose keyed.\nPharmacist queried it.")
    kept = Record(id="k", text="What happened: Wrong dose keyed.\nAction taken: Cancelled.")
    assert scheme_text(plain, "recovery") is plain.text
    assert scheme_text(kept, "recovery") is kept.text


def test_inline_heading_in_a_plain_report_is_a_section() -> None:
    record = Record(
        id="r", text="Rota gap on the day.\n\nImmediate action taken: Reviewed the rota."
    )
    segments = scheme_segments(record, "recovery")
    assert [(s.section, s.text) for s in segments] == [
        ("what_happened", "Rota gap on the day."),
        ("action_taken", "Reviewed the rota."),
    ]


def test_segments_without_headings_have_no_section() -> None:
    record = Record(id="n", text="Pt queried new tablets at the counter, none taken.")
    assert [(s.section, s.text) for s in scheme_segments(record, "full")] == [(None, record.text)]


def test_recovery_segments_never_come_from_changes() -> None:
    for record in (_sea(sections=SECTIONS), _sea()):
        sections = {s.section for s in scheme_segments(record, "recovery")}
        assert sections == {"what_happened", "action_taken"}
        assert sections <= set(RECOVERY_SECTIONS)
        full = {s.section for s in scheme_segments(record, "full")}
        assert "changes" in full


def test_only_changes_gives_an_empty_recovery_view() -> None:
    record = Record(id="c", text="x", sections={"changes": "A new alert."})
    assert scheme_text(record, "recovery") == ""
    assert scheme_segments(record, "recovery") == ()


def test_preamble_metadata_is_left_out_when_a_section_is_dropped() -> None:
    record = Record(
        id="m",
        text="Practice: Example Surgery\nWhat happened: Dose keyed wrong.\n"
        "What has been changed: New alert.",
    )
    assert scheme_text(record, "recovery") == "Dose keyed wrong."


def test_unknown_section_keys_fall_back_to_the_text() -> None:
    record = Record(id="u", text="Dose keyed wrong.", sections={"details": "Dose keyed wrong."})
    assert scheme_text(record, "recovery") == record.text
    assert scheme_segments(record, "full")[0].section is None


def test_unknown_view_is_an_input_error() -> None:
    with pytest.raises(InputError, match="text view 'sentences' is unknown"):
        scheme_text(_sea(), "sentences")


def test_line_sections_follow_the_splitter() -> None:
    text = (
        "Practice: Example Surgery\n"
        "Significant event analysis\n"
        "1. What happened?\n"
        "Dose keyed wrong.\n"
        "Action taken: Script cancelled.\n"
        "\n"
        "What has been changed: New alert."
    )
    lines = line_sections(text)
    assert [(line.section, line.narrative) for line in lines] == [
        ("what_happened", False),  # preamble metadata
        ("what_happened", False),  # a title: what happened has its own heading and text
        ("what_happened", False),  # the heading alone
        ("what_happened", True),
        ("action_taken", True),
        ("changes", True),
    ]
    action = lines[4]
    assert text[action.body_start : action.end].strip() == "Script cancelled."


def test_line_sections_without_headings_have_no_section() -> None:
    lines = line_sections("Dose keyed wrong.\nPharmacist rang.")
    assert [(line.section, line.narrative) for line in lines] == [(None, True), (None, True)]


def test_preamble_is_what_happened_when_no_heading_says_it() -> None:
    lines = line_sections("Rota gap on the day.\n\nImmediate action taken: Reviewed the rota.")
    assert [(line.section, line.narrative) for line in lines] == [
        ("what_happened", True),
        ("action_taken", True),
    ]


def test_labelled_sentences_lie_in_the_segments_of_their_section(project_root: Path) -> None:
    lines = (project_root / "data" / "sample" / "gp-near-miss-sample.jsonl").read_text()
    records = [
        Record.model_validate({k: v for k, v in json.loads(line).items() if k != "codes"})
        for line in lines.splitlines()[:150]
    ]
    records += [
        Record(id="h", text=join_sections(SECTIONS)),
        Record(id="i", text="Rota gap on the day.\n\nImmediate action taken: Reviewed the rota."),
    ]
    for ready in prepare_records(records, redact=False):
        for view in TEXT_VIEWS:
            segments = scheme_segments(ready.record, view)
            for sentence, section in zip(*ready.view(view), strict=True):
                assert any(s.section == section and sentence in s.text for s in segments), (
                    ready.record.id,
                    view,
                    sentence,
                    section,
                )
