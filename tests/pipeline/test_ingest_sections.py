"""SEA section splitting and joining."""

from __future__ import annotations

import pytest

from pipeline.ingest import join_sections, split_sections

RCGP = """\
Significant Event Analysis
Practice: Example Surgery
Date of event: 14/02/2024
What happened?
Apixaban 5 mg keyed instead of 2.5 mg.

Pharmacist queried it.
Why did it happen?
Old template reused.
What went well?
The Discharge Medicines Service check.
What has been learned?
Transcription is not a clinical check.
What has been changed?
Pharmacist reconciles all anticoagulant changes.
"""


def test_rcgp_headings_and_preamble_metadata() -> None:
    fields = split_sections(RCGP.splitlines())
    assert fields == {
        "Practice": "Example Surgery",
        "Date of event": "14/02/2024",
        "what_happened": "Apixaban 5 mg keyed instead of 2.5 mg.\n\nPharmacist queried it.",
        "why": "Old template reused.",
        "went_well": "The Discharge Medicines Service check.",
        "learning": "Transcription is not a clinical check.",
        "changes": "Pharmacist reconciles all anticoagulant changes.",
    }


@pytest.mark.parametrize(
    "heading",
    [
        "What happened",
        "1. What happened?",
        "2) WHAT HAPPENED:",
        "## What happened",
        "**What happened?**",
        "Q1. What happened?",
        "a) Description of the event",
    ],
)
def test_heading_variants(heading: str) -> None:
    assert split_sections([heading, "Body."]) == {"what_happened": "Body."}


def test_inline_headings_and_action_taken() -> None:
    lines = [
        "What happened: Results given to the wrong Mr Smith.",
        "Immediate action taken: Call ended; no details disclosed.",
        "Root causes: Search by surname.",
        "Lessons learnt: Search by date of birth.",
        "Action plan: Update the reception protocol.",
    ]
    assert split_sections(lines) == {
        "what_happened": "Results given to the wrong Mr Smith.",
        "action_taken": "Call ended; no details disclosed.",
        "why": "Search by surname.",
        "learning": "Search by date of birth.",
        "changes": "Update the reception protocol.",
    }


def test_repeated_heading_is_joined_and_unknown_lines_stay_in_their_section() -> None:
    lines = ["What happened", "Part one.", "Comment: not a heading", "What happened", "Part two."]
    assert split_sections(lines) == {
        "what_happened": "Part one.\nComment: not a heading\n\nPart two."
    }


def test_no_headings_means_one_narrative_and_preamble_fills_a_missing_what_happened() -> None:
    assert split_sections(["Just a story.", "Two lines."]) == {
        "what_happened": "Just a story.\nTwo lines."
    }
    fields = split_sections(["Ref: 12", "The story first.", "Why did it happen?", "Because."])
    assert fields == {"Ref": "12", "what_happened": "The story first.", "why": "Because."}


def test_empty_headings_leave_no_section() -> None:
    assert split_sections(["What happened?", "", "Why did it happen?", "Because."]) == {
        "why": "Because."
    }


def test_join_sections_orders_known_keys_and_titles_them() -> None:
    text = join_sections({"changes": "C.", "what_happened": "W.", "extra_note": "E.", "why": ""})
    assert text == "What happened: W.\n\nWhat has been changed: C.\n\nExtra note: E."
    assert join_sections({"what_happened": "Only."}) == "Only."
