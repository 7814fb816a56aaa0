"""Column detection, explicit mappings and day-first event dates."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.errors import InputError
from pipeline.ingest import detect_columns, parse_column_options, parse_event_date


def test_datix_display_labels() -> None:
    headers = [
        "ID",
        "Ref",
        "Incident date",
        "Practice",
        "Location (exact)",
        "Reported by",
        "Description",
        "Action taken",
    ]
    assert dict(detect_columns(headers).columns) == {
        "what_happened": "Description",
        "action_taken": "Action taken",
        "id": "ID",
        "practice": "Practice",
        "event_date": "Incident date",
    }


def test_datix_field_names() -> None:
    headers = ["recordid", "inc_dincident", "inc_locactual", "inc_notes", "inc_actiontaken"]
    assert dict(detect_columns(headers).columns) == {
        "what_happened": "inc_notes",
        "action_taken": "inc_actiontaken",
        "id": "recordid",
        "practice": "inc_locactual",
        "event_date": "inc_dincident",
    }


def test_lfpse_style_questions_match_by_phrase() -> None:
    headers = [
        "Incident reference",
        "Date of incident",
        "Practice name",
        "Describe what happened (do not include names)",
        "Immediate action taken to reduce harm",
    ]
    columns = detect_columns(headers).columns
    assert columns["what_happened"] == "Describe what happened (do not include names)"
    assert columns["action_taken"] == "Immediate action taken to reduce harm"
    assert columns["id"] == "Incident reference"
    assert columns["event_date"] == "Date of incident"
    assert columns["practice"] == "Practice name"


@pytest.mark.parametrize("name", ["text", "Narrative", "DESCRIPTION", "what_happened"])
def test_generic_text_columns(name: str) -> None:
    assert detect_columns(["id", name]).columns["what_happened"] == name


def test_more_specific_name_wins_and_a_column_is_used_once() -> None:
    columns = detect_columns(["Details", "Incident description", "Description"]).columns
    assert columns["what_happened"] == "Incident description"
    assert set(columns) == {"what_happened"}


def test_no_text_column() -> None:
    mapping = detect_columns(["ID", "Severity"])
    assert not mapping.has_text


def test_explicit_mapping_overrides_and_reports_missing_columns() -> None:
    explicit = parse_column_options(["text=Summary of concern", "practice=site code"])
    mapping = detect_columns(["Description", "Summary of concern", "Site Code"], explicit)
    assert mapping.columns["what_happened"] == "Summary of concern"
    assert mapping.columns["practice"] == "Site Code"
    assert mapping.missing == ()
    missing = detect_columns(["Description"], {"what_happened": "Nope"})
    assert missing.missing == ("Nope",)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["text"], "is not TARGET=COLUMN"),
        (["text="], "is not TARGET=COLUMN"),
        (["colour=Description"], "unknown target"),
        (["text=A", "narrative=B"], "given twice"),
    ],
)
def test_bad_column_options(options: list[str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_column_options(options)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("03/04/2024", dt.date(2024, 4, 3)),
        ("3/4/24", dt.date(2024, 4, 3)),
        ("03-04-2024", dt.date(2024, 4, 3)),
        ("03.04.2024", dt.date(2024, 4, 3)),
        ("03/04/2024 14:30", dt.date(2024, 4, 3)),
        ("03/04/2024 2:30 pm", dt.date(2024, 4, 3)),
        ("2024-04-03", dt.date(2024, 4, 3)),
        ("2024-04-03T14:30:00Z", dt.date(2024, 4, 3)),
        ("2024-04-03 14:30:00", dt.date(2024, 4, 3)),
        ("3 Apr 2024", dt.date(2024, 4, 3)),
        ("3rd April 2024", dt.date(2024, 4, 3)),
        ("Wed 3 April 2024", dt.date(2024, 4, 3)),
        ("03-Apr-24", dt.date(2024, 4, 3)),
        ("3 Sept 1999", dt.date(1999, 9, 3)),
        ("1/1/75", dt.date(1975, 1, 1)),
        (dt.datetime(2024, 4, 3, 9, 0), dt.date(2024, 4, 3)),
        (dt.date(2024, 4, 3), dt.date(2024, 4, 3)),
    ],
)
def test_event_dates_parse_day_first(value: object, expected: dt.date) -> None:
    assert parse_event_date(value) == expected


@pytest.mark.parametrize(
    "value", ["31/02/2024", "13/13/2024", "45363", "last Tuesday", "04/2024", "3 Foo 2024", ""]
)
def test_unparseable_dates(value: str) -> None:
    with pytest.raises(InputError, match="not a day-first date"):
        parse_event_date(value)
