"""Readers: each format streams rows; encodings never crash; malformed rows are flagged."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from pipeline.errors import InputError
from pipeline.ingest import Reason, open_source
from pipeline.ingest.encoding import detect_encoding, open_text
from pipeline.ingest.reader import find_inputs
from tests.pipeline.ingest_fixtures import minimal_pdf, write_docx, write_xlsx

# --- encodings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"ID,Description\n1,plain ascii\n", "utf-8"),
        ("ID,Description\n1,café – £5\n".encode(), "utf-8"),
        ("\ufeffID,Description\n1,café\n".encode(), "utf-8-sig"),
        ("ID,Description\n1,café – £5\n".encode("cp1252"), "cp1252"),
        ("ID,Description\n1,café\n".encode("utf-16"), "utf-16"),
    ],
)
def test_detect_encoding(tmp_path: Path, data: bytes, expected: str) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    assert detect_encoding(path) == expected


def test_bad_byte_past_the_sample_decodes_as_cp1252_instead_of_crashing(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    good = b"ID,Description\n" + b"".join(b"%d,fine row\n" % i for i in range(2_000))
    path.write_bytes(good + b"2001,charged \xa35 \x96 late byte\n2002,after \x81 undefined\n")
    encoding = detect_encoding(path, sample_bytes=1_000)
    assert encoding == "utf-8"
    rows = list(open_source(path, encoding).rows)
    assert len(rows) == 2_002
    assert rows[-2].fields["Description"] == "charged £5 – late byte"
    assert rows[-1].fields["Description"] == "after \ufffd undefined"


def test_split_multibyte_character_at_sample_edge_is_still_utf8(tmp_path: Path) -> None:
    path = tmp_path / "edge.csv"
    path.write_bytes(b"ID,Description\n1," + "£".encode() * 600)
    assert detect_encoding(path, sample_bytes=20) == "utf-8"


def test_unknown_encoding_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a\n")
    with pytest.raises(InputError, match="unknown encoding"):
        open_text(path, "no-such-codec")


# --- CSV ---------------------------------------------------------------------------------------


def test_cp1252_csv_with_pound_sign_en_dash_and_quoted_newlines(tmp_path: Path) -> None:
    path = tmp_path / "datix.csv"
    text = 'ID,Description\r\n1,"Charged £9.90 – wrongly\r\nsecond line"\r\n'
    text += '2,"He said ""stop"""\r\n'
    path.write_bytes(text.encode("cp1252"))
    source = open_source(path)
    assert (source.format, source.encoding, source.headers) == (
        "csv",
        "cp1252",
        ("ID", "Description"),
    )
    rows = list(source.rows)
    assert rows[0].fields == {"ID": "1", "Description": "Charged £9.90 – wrongly\r\nsecond line"}
    assert rows[1].fields["Description"] == 'He said "stop"'


@pytest.mark.parametrize(("name", "delimiter"), [("x.csv", ";"), ("x.csv", "\t"), ("x.tsv", "\t")])
def test_delimiter_is_sniffed_from_the_header(tmp_path: Path, name: str, delimiter: str) -> None:
    path = tmp_path / name
    path.write_text(f"ID{delimiter}Description\n1{delimiter}a, b and c\n", encoding="utf-8")
    assert list(open_source(path).rows)[0].fields == {"ID": "1", "Description": "a, b and c"}


def test_short_long_and_blank_rows(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text(
        "ID,Description,Action taken\n"
        "1,ok,done\n"
        "2,short\n"
        "\n"
        ",,\n"
        "5,long,done,extra\n"
        "6,trailing blanks are fine,done,,\n",
        encoding="utf-8",
    )
    rows = list(open_source(path).rows)
    assert [(r.row, r.problem) for r in rows] == [
        (1, None),
        (2, Reason.SHORT_ROW),
        (5, Reason.LONG_ROW),
        (6, None),
    ]
    assert rows[1].fields == {"ID": "2", "Description": "short"}
    assert "2 fields, the header has 3" in rows[1].detail


def test_excel_unicode_text_export_utf16_tab_separated(tmp_path: Path) -> None:
    path = tmp_path / "export.txt.csv"
    path.write_bytes("ID\tDescription\r\n1\tcafé – £5\r\n".encode("utf-16"))
    source = open_source(path)
    assert source.encoding == "utf-16"
    assert list(source.rows)[0].fields == {"ID": "1", "Description": "café – £5"}


def test_duplicate_and_blank_headers_are_made_unique(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("ID,Description,,Description\n1,a,b,c\n", encoding="utf-8")
    source = open_source(path)
    assert source.headers == ("ID", "Description", "column 3", "Description (2)")


def test_csv_without_header_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(InputError, match="no header row"):
        open_source(path)


def test_oversized_field_is_a_malformed_row_and_reading_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    huge = "x" * 10_000_001
    path.write_text(f'ID,Description\n1,"{huge}"\n2,after\n', encoding="utf-8")
    rows = list(open_source(path).rows)
    assert rows[0].problem is Reason.MALFORMED_ROW
    assert rows[-1].fields == {"ID": "2", "Description": "after"}


# --- XLSX --------------------------------------------------------------------------------------


def test_xlsx_streams_rows_with_dates_numbers_and_literal_formulas(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "export.xlsx",
        [
            [None, None, None],
            ["ID", "Incident date", "Description"],
            [101, dt.datetime(2024, 3, 12, 9, 30), "Wrong patient_x000D_\nopened"],
            [None, None, None],
            [103, "13/03/2024", '=HYPERLINK("http://example.invalid","x")'],
        ],
    )
    source = open_source(path)
    assert source.format == "xlsx"
    assert source.headers == ("ID", "Incident date", "Description")
    rows = list(source.rows)
    assert [r.row for r in rows] == [1, 3]
    assert rows[0].fields == {
        "ID": 101,
        "Incident date": dt.datetime(2024, 3, 12, 9, 30),
        "Description": "Wrong patient\nopened",
    }
    assert rows[1].fields["Description"] == '=HYPERLINK("http://example.invalid","x")'


# --- JSONL -------------------------------------------------------------------------------------


def test_jsonl_rows_flatten_sections_and_flag_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    lines = [
        json.dumps({"id": "a", "text": "t", "sections": {"what_happened": "w", "why": "y"}}),
        "",
        "{not json",
        "[1, 2]",
        json.dumps({"id": 7, "text": "plain", "tags": ["x"], "score": 1.5}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = list(open_source(path).rows)
    assert [(r.row, r.problem) for r in rows] == [
        (1, None),
        (3, Reason.MALFORMED_ROW),
        (4, Reason.MALFORMED_ROW),
        (5, None),
    ]
    assert rows[0].fields == {"id": "a", "text": "t", "what_happened": "w", "why": "y"}
    assert rows[3].fields == {"id": 7, "text": "plain", "tags": '["x"]', "score": 1.5}


# --- documents ---------------------------------------------------------------------------------


def test_docx_paragraph_headings(tmp_path: Path) -> None:
    path = write_docx(
        tmp_path / "sea.docx",
        [
            ("heading", "Significant event analysis"),
            ("body", "Practice: Example Surgery"),
            ("heading", "What happened?"),
            ("body", "Wrong strength keyed."),
            ("heading", "Why did it happen?"),
            ("body", "Look-alike names."),
        ],
    )
    source = open_source(path)
    assert source.is_document and source.format == "docx"
    (row,) = list(source.rows)
    assert row.row == 1
    assert row.fields == {
        "Practice": "Example Surgery",
        "what_happened": "Wrong strength keyed.",
        "why": "Look-alike names.",
    }


def test_docx_table_template(tmp_path: Path) -> None:
    path = write_docx(
        tmp_path / "sea.docx",
        [
            ("table", "What happened?|Results filed without action."),
            ("table", "What has been learned?|Inbox cover matters."),
            ("table", "What has been changed?|Named deputy for the inbox."),
        ],
    )
    (row,) = list(open_source(path).rows)
    assert row.fields == {
        "what_happened": "Results filed without action.",
        "learning": "Inbox cover matters.",
        "changes": "Named deputy for the inbox.",
    }


def test_pdf_text_layer_is_split_into_sections(tmp_path: Path) -> None:
    path = tmp_path / "sea.pdf"
    path.write_bytes(
        minimal_pdf(
            [
                "Ref: SEA-9",
                "1. What happened",
                "Insulin 400 units typed (for 40).",
                "2. Why did it happen",
                "No maximum dose alert (fixed).",
            ]
        )
    )
    (row,) = list(open_source(path).rows)
    assert row.fields["Ref"] == "SEA-9"
    assert row.fields["what_happened"] == "Insulin 400 units typed (for 40)."
    assert row.fields["why"] == "No maximum dose alert (fixed)."


def test_text_document_without_headings_is_one_narrative(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_bytes(
        "Receptionist noticed the £ charge was wrong.\nShe stopped it.".encode("cp1252")
    )
    source = open_source(path)
    assert source.encoding == "cp1252"
    (row,) = list(source.rows)
    assert row.fields == {
        "what_happened": "Receptionist noticed the £ charge was wrong.\nShe stopped it."
    }


# --- dispatch ----------------------------------------------------------------------------------


def test_unsupported_extension_names_a_fix(tmp_path: Path) -> None:
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(InputError, match=r"save it as \.xlsx or CSV"):
        open_source(path)


def test_find_inputs_expands_folders_and_rejects_missing_paths(tmp_path: Path) -> None:
    (tmp_path / "b.csv").write_text("x\n")
    (tmp_path / "a.txt").write_text("x\n")
    (tmp_path / "README.md").write_text("x\n")
    (tmp_path / ".hidden.csv").write_text("x\n")
    assert [p.name for p in find_inputs([tmp_path])] == ["a.txt", "b.csv"]
    assert find_inputs([tmp_path / "README.md"]) == [tmp_path / "README.md"]
    with pytest.raises(InputError, match="no such file"):
        find_inputs([tmp_path / "missing.csv"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no export files"):
        find_inputs([empty])
