"""Ingest end to end: records, quarantine, duplicates, reconciliation, redaction and the CLI."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.errors import InputError
from pipeline.ingest import MAX_TEXT_CHARS, IdConflict, IngestSummary, ingest_files
from pipeline.ingest.row import RawRow, Source
from pipeline.record import Record
from tests.pipeline.ingest_fixtures import FakeRedactor, minimal_pdf, read_jsonl, write_docx

ROOT = Path(__file__).resolve().parents[2]
EXPORTS = ROOT / "data" / "sample" / "exports"
runner = CliRunner()


def _ingest(
    tmp_path: Path, *paths: Path, **options: Any
) -> tuple[IngestSummary, list[dict[str, Any]], list[dict[str, Any]]]:
    options.setdefault("redact", FakeRedactor())
    out, rejected = tmp_path / "out" / "records.jsonl", tmp_path / "out" / "quarantine.jsonl"
    summary = ingest_files(list(paths), out, rejected, **options)
    assert summary.reconciles
    for file in summary.files:
        assert file.read == file.ingested + file.quarantined + file.duplicates
    records = read_jsonl(out)
    for record in records:
        Record.model_validate(record)
    quarantined = read_jsonl(rejected)
    for line in quarantined:
        assert set(line) == {"source", "row", "reason", "record"}
    assert len(records) == summary.ingested and len(quarantined) == summary.quarantined
    return summary, records, quarantined


def _csv(tmp_path: Path, text: str, name: str = "export.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


# --- the shipped sample exports --------------------------------------------------------------


def test_sample_exports_reconcile(tmp_path: Path) -> None:
    summary, records, quarantined = _ingest(tmp_path, EXPORTS)
    assert (summary.read, summary.ingested, summary.quarantined, summary.duplicates) == (
        52,
        47,
        4,
        1,
    )
    assert summary.reasons == {"blank_text": 1, "id_conflict": 1, "long_row": 1, "short_row": 1}
    assert summary.warnings == {"unparseable_date": 1}
    by_source = {f.source: f for f in summary.files}
    assert by_source["datix_gp_incidents.csv"].encoding == "cp1252"
    assert by_source["datix_gp_incidents.csv"].ingested == 40
    assert by_source["bad_rows.csv"].encoding == "utf-8-sig"
    assert {f.format for f in summary.files} == {"csv", "docx", "text"}

    by_id = {r["id"]: r for r in records}
    datix = by_id["10232"]
    assert datix["practice"] == "Synthetic Practice A"
    assert datix["event_date"] == "2024-03-15"
    assert "[NAME]" in datix["text"] and "[NHS_NUMBER]" in datix["text"]
    assert "999 398 2598" not in json.dumps(records)
    assert set(datix["sections"]) == {"what_happened", "action_taken"}
    assert "Reported by" not in json.dumps(datix) and "Dr A. Patel" not in json.dumps(records)
    assert by_id["10235"]["event_date"] == "2024-04-05"  # "05/04/24 14:30", day first
    assert "–" in by_id["10235"]["text"] and "’" in by_id["10235"]["text"]

    docx = by_id["SEA-2024-03"]
    assert docx["source"] == "sea_apixaban_dose.docx" and docx["row"] == 1
    assert set(docx["sections"]) == {"what_happened", "why", "went_well", "learning", "changes"}
    assert docx["text"].startswith("What happened: [NAME] (NHS [NHS_NUMBER])")
    assert (docx["practice"], docx["event_date"]) == ("Synthetic Practice B", "2024-02-14")
    text_sea = by_id["SEA-2024-01"]
    assert text_sea["event_date"] == "2024-01-09"
    assert set(text_sea["sections"]) == {"what_happened", "why", "learning", "changes"}

    assert by_id["BAD-004"]["sections"]["what_happened"].startswith("=HYPERLINK(")
    assert "<script>alert(1)</script>" in by_id["BAD-005"]["text"]
    assert "event_date" not in by_id["BAD-008"]
    assert "£10" in by_id["BAD-010"]["text"]
    assert [(q["row"], q["reason"].split(":")[0]) for q in quarantined] == [
        (2, "blank_text"),
        (3, "short_row"),
        (7, "id_conflict"),
        (9, "long_row"),
    ]


def test_sample_exports_with_the_real_redactor(tmp_path: Path) -> None:
    summary, records, _ = _ingest(tmp_path, EXPORTS, redact=None)
    assert summary.ingested == 47
    dumped = json.dumps(records)
    for identifier in ("999 398 2598", "999 483 3782", "07700 900123", "Mrs Jane Doe"):
        assert identifier not in dumped


# --- bad input ---------------------------------------------------------------------------------


def test_blank_short_long_and_whitespace_rows_are_quarantined_with_row_numbers(
    tmp_path: Path,
) -> None:
    path = _csv(tmp_path, "ID,Description\n1,ok\n2,\n3\n4,  \n5,a,b\n")
    summary, records, quarantined = _ingest(tmp_path, path)
    assert [r["id"] for r in records] == ["1"]
    assert [(q["row"], q["reason"].split(":")[0]) for q in quarantined] == [
        (2, "blank_text"),
        (3, "short_row"),
        (4, "blank_text"),
        (5, "long_row"),
    ]
    assert summary.read == 5


def test_text_over_the_limit_is_quarantined_and_cut(tmp_path: Path) -> None:
    long = "word " * (MAX_TEXT_CHARS // 5 + 10)
    path = _csv(tmp_path, f'ID,Description\n1,"{long}"\n2,fine\n')
    summary, records, quarantined = _ingest(tmp_path, path)
    assert summary.reasons == {"too_long": 1}
    assert [r["id"] for r in records] == ["2"]
    (line,) = quarantined
    assert line["reason"].startswith(f"too_long: {len(long.strip())} characters")
    assert line["record"]["text"].endswith(" more]")
    assert len(line["record"]["text"]) < MAX_TEXT_CHARS + 50


def test_markup_and_formulas_stay_literal(tmp_path: Path) -> None:
    formula = '=HYPERLINK("http://example.invalid","x")'
    markup = "<b>bold</b> &amp; <script>x()</script>"
    path = _csv(
        tmp_path, f'ID,Description\n1,"{formula.replace(chr(34), chr(34) * 2)}"\n2,{markup}\n'
    )
    _, records, _ = _ingest(tmp_path, path)
    assert [r["text"] for r in records] == [formula, markup]


def test_unreadable_and_unsupported_files_are_quarantined_and_others_go_on(tmp_path: Path) -> None:
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"this is not a zip file")
    scanned = tmp_path / "scan.pdf"
    scanned.write_bytes(b"%PDF-1.4 garbage")
    legacy = tmp_path / "legacy.xls"
    legacy.write_bytes(b"\xd0\xcf\x11\xe0")
    good = _csv(tmp_path, "ID,Description\n1,ok\n")
    summary, records, quarantined = _ingest(tmp_path, broken, scanned, legacy, good)
    assert len(records) == 1
    assert summary.reasons == {"unreadable_file": 2, "unsupported_format": 1}
    assert all(q["row"] is None and q["record"] is None for q in quarantined)
    assert "save it as .xlsx or CSV" in quarantined[2]["reason"]
    assert summary.read == 4


def test_encrypted_pdf_is_quarantined_with_a_fix(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    plain = tmp_path / "plain.pdf"
    plain.write_bytes(minimal_pdf(["What happened", "Something."]))
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt("secret", algorithm="RC4-128")
    locked = tmp_path / "locked.pdf"
    with locked.open("wb") as handle:
        writer.write(handle)
    _, _, quarantined = _ingest(tmp_path, locked)
    assert "password-protected" in quarantined[0]["reason"]


def test_pdf_without_text_is_blank(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(minimal_pdf([]))
    _, _, quarantined = _ingest(tmp_path, path)
    assert quarantined[0]["reason"].startswith("blank_text: no narrative text")


def test_a_parser_failing_mid_file_keeps_earlier_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def rows() -> Iterator[RawRow]:
        yield RawRow(1, {"Description": "first"})
        yield RawRow(2, {"Description": "second"})
        raise KeyError("broken part")

    def fake_open(path: Path, encoding: str | None = None) -> Source:
        return Source("xlsx", rows(), headers=("Description",))

    monkeypatch.setattr("pipeline.ingest.ingester.open_source", fake_open)
    path = tmp_path / "half.xlsx"
    path.write_bytes(b"")
    summary, records, quarantined = _ingest(tmp_path, path)
    assert len(records) == 2
    assert quarantined[0]["reason"].startswith(
        "unreadable_file: stopped after data row 2: KeyError"
    )
    assert summary.read == 3


def test_no_text_column_quarantines_the_file_and_an_explicit_mapping_fixes_it(
    tmp_path: Path,
) -> None:
    path = _csv(tmp_path, "Ref,Summary of concern\n1,Wrong dose\n")
    summary, _, quarantined = _ingest(tmp_path, path)
    assert summary.reasons == {"no_text_column": 1}
    assert "--column text=COLUMN" in quarantined[0]["reason"]
    summary, records, _ = _ingest(tmp_path, path, columns={"what_happened": "Summary of concern"})
    assert records[0]["text"] == "Wrong dose" and records[0]["id"] == "1"
    summary, _, quarantined = _ingest(tmp_path, path, columns={"what_happened": "Nope"})
    assert summary.reasons == {"missing_column": 1}


def test_unparseable_dates_are_dropped_with_a_warning(tmp_path: Path) -> None:
    path = _csv(tmp_path, "ID,Incident date,Description\n1,31/02/2024,a\n2,01/02/2024,b\n3,,c\n")
    summary, records, _ = _ingest(tmp_path, path)
    assert [r.get("event_date") for r in records] == [None, "2024-02-01", None]
    assert summary.warnings == {"unparseable_date": 1}


def test_replacement_characters_are_kept_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"ID,Description\n1,caf\xe9 \x81 undefined byte\n")
    summary, records, _ = _ingest(tmp_path, path)
    assert records[0]["text"] == "café \ufffd undefined byte"
    assert summary.warnings == {"replacement_character": 1}


# --- identity ----------------------------------------------------------------------------------


def test_exact_duplicates_and_id_conflicts(tmp_path: Path) -> None:
    rows = "ID,Description,Practice\n1,a,P\n1,a,P\n1,a,Q\n2,b,P\n"
    first = _csv(tmp_path, rows, "first.csv")
    second = _csv(tmp_path, "ID,Description,Practice\n2,b,P\n", "second.csv")
    summary, records, quarantined = _ingest(tmp_path, first, second)
    assert [r["id"] for r in records] == ["1", "2"]
    assert summary.duplicates == 2  # row 2 of first.csv, and second.csv repeats first.csv
    assert quarantined[0]["row"] == 3 and quarantined[0]["reason"].startswith("id_conflict")
    assert quarantined[0]["record"]["practice"] == "Q"


def test_id_conflicts_can_get_derived_ids(tmp_path: Path) -> None:
    path = _csv(tmp_path, "ID,Description\n1,a\n1,b\n1,b\n")
    summary, records, _ = _ingest(tmp_path, path, on_id_conflict=IdConflict.DERIVE)
    assert records[0]["id"] == "1" and records[1]["id"].startswith("1~")
    assert (summary.ingested, summary.duplicates) == (2, 1)
    assert summary.warnings == {"derived_id": 1}


def test_rows_without_ids_get_deterministic_ids_and_dedupe_by_content(tmp_path: Path) -> None:
    path = _csv(tmp_path, "Description,Incident date\na,01/02/2024\nb,01/02/2024\na,01/02/2024\n")
    summary, records, _ = _ingest(tmp_path, path)
    assert [r["id"] for r in records] == ["export.csv#1", "export.csv#2"]
    assert summary.duplicates == 1
    _, again, _ = _ingest(tmp_path, path)
    assert [r["id"] for r in again] == ["export.csv#1", "export.csv#2"]


def test_blank_id_cell_gets_a_derived_id_with_a_warning(tmp_path: Path) -> None:
    path = _csv(tmp_path, "ID,Description\n,a\n")
    summary, records, _ = _ingest(tmp_path, path)
    assert records[0]["id"] == "export.csv#1"
    assert summary.warnings == {"missing_id": 1}


def test_jsonl_records_round_trip(tmp_path: Path) -> None:
    path = _csv(tmp_path, "ID,Description,Action taken,Incident date\n1,a,b,03/04/2024\n")
    _, records, _ = _ingest(tmp_path, path)
    jsonl = tmp_path / "again.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    _, again, _ = _ingest(tmp_path, jsonl)
    assert [{k: v for k, v in r.items() if k not in {"source", "row"}} for r in again] == [
        {k: v for k, v in r.items() if k not in {"source", "row"}} for r in records
    ]


# --- redaction, batching, outputs --------------------------------------------------------------


def test_text_sections_practice_and_quarantine_are_redacted_unless_keep_raw(
    tmp_path: Path,
) -> None:
    path = _csv(
        tmp_path,
        "ID,Description,Action taken,Practice\n"
        "1,Mrs Jane Doe 999 398 2598 was called,Told Dr Who,Dr Khan's surgery\n"
        "2,,Mrs Jane Doe rang,P\n",
    )
    _, records, quarantined = _ingest(tmp_path, path)
    assert records[0]["sections"] == {
        "what_happened": "[NAME] [NHS_NUMBER] was called",
        "action_taken": "Told [NAME]",
    }
    assert records[0]["practice"] == "[NAME]'s surgery"
    assert quarantined[0]["record"]["sections"] == {"action_taken": "[NAME] rang"}
    _, _, raw = _ingest(tmp_path, path, keep_raw=True)
    assert raw[0]["record"]["sections"] == {"action_taken": "Mrs Jane Doe rang"}


def test_source_file_names_are_redacted(tmp_path: Path) -> None:
    path = _csv(tmp_path, "Description\nsomething\n", name="SEA Mrs Jones.csv")
    summary, records, _ = _ingest(tmp_path, path)
    assert records[0]["source"] == "SEA [NAME].csv"
    assert records[0]["id"] == "SEA [NAME].csv#1"
    assert summary.files[0].source == "SEA [NAME].csv"


def test_redaction_runs_in_batches(tmp_path: Path) -> None:
    body = "".join(f"{i},narrative {i}\n" for i in range(1, 1001))
    path = _csv(tmp_path, "ID,Description\n" + body)
    redactor = FakeRedactor()
    _ingest(tmp_path, path, redact=redactor, batch_size=256)
    assert redactor.calls == [1, 256, 256, 256, 232]  # the file name, then four batches


def test_missing_input_or_clashing_outputs_fail_before_writing(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with pytest.raises(InputError, match="no such file"):
        ingest_files([tmp_path / "missing.csv"], out, redact=FakeRedactor())
    path = _csv(tmp_path, "ID,Description\n1,a\n")
    with pytest.raises(InputError, match="also an input"):
        ingest_files([path], path, redact=FakeRedactor())
    with pytest.raises(InputError, match="unknown encoding"):
        ingest_files([path], out, encoding="klingon", redact=FakeRedactor())
    with pytest.raises(InputError, match="is a folder"):
        ingest_files([path], tmp_path, redact=FakeRedactor())
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(InputError, match="cannot write"):
        ingest_files([path], blocker / "out.jsonl", redact=FakeRedactor())
    assert not out.exists()


def test_a_failing_redactor_leaves_no_partial_output(tmp_path: Path) -> None:
    def broken(texts: object) -> list[str]:
        raise RuntimeError("boom")

    path = _csv(tmp_path, "ID,Description\n1,a\n")
    with pytest.raises(RuntimeError):
        ingest_files([path], tmp_path / "out.jsonl", redact=broken)
    assert list(tmp_path.glob("out*")) == []


def test_default_quarantine_path_and_forced_encoding(tmp_path: Path) -> None:
    path = _csv(tmp_path, "ID,Description\n1,caf\u00e9\n", encoding="latin-1")
    summary = ingest_files([path], tmp_path / "records.jsonl", encoding="latin-1", redact=list)
    assert summary.quarantine == str(tmp_path / "records.quarantine.jsonl")
    assert (tmp_path / "records.quarantine.jsonl").read_text() == ""
    assert read_jsonl(tmp_path / "records.jsonl")[0]["text"] == "café"
    assert summary.files[0].encoding == "latin-1"


def test_docx_and_xlsx_sources_together(tmp_path: Path) -> None:
    from tests.pipeline.ingest_fixtures import write_xlsx

    docx = write_docx(
        tmp_path / "sea.docx",
        [("body", "Ref: SEA-1"), ("heading", "What happened?"), ("body", "Caught by pharmacist.")],
    )
    xlsx = write_xlsx(tmp_path / "x.xlsx", [["ID", "Description"], [7, "Caught by alert."]])
    summary, records, _ = _ingest(tmp_path, docx, xlsx, columns={"what_happened": "Description"})
    assert [(r["id"], r["text"]) for r in records] == [
        ("SEA-1", "Caught by pharmacist."),
        ("7", "Caught by alert."),
    ]


# --- the CLI -----------------------------------------------------------------------------------


def test_cli_json_summary_is_one_line(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    shutil.copytree(EXPORTS, exports)
    out = tmp_path / "records.jsonl"
    result = runner.invoke(app, ["ingest", str(exports), "--output", str(out), "--json"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert summary["read"] == summary["ingested"] + summary["quarantined"] + summary["duplicates"]
    assert summary["reasons"]["short_row"] == 1
    assert {f["source"] for f in summary["files"]} >= {"datix_gp_incidents.csv"}
    assert "999 398 2598" not in out.read_text(encoding="utf-8")


def test_cli_human_summary_and_options(tmp_path: Path) -> None:
    path = _csv(tmp_path, "Ref,Summary of concern\n1,a\n1,b\n")
    out, rejected = tmp_path / "r.jsonl", tmp_path / "q.jsonl"
    result = runner.invoke(
        app,
        [
            "ingest",
            str(path),
            "-o",
            str(out),
            "--quarantine",
            str(rejected),
            "--column",
            "text=Summary of concern",
            "--on-id-conflict",
            "derive",
            "--keep-raw",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Read 2 rows from 1 files: 2 ingested, 0 quarantined, 0 duplicates" in result.stdout
    assert len(read_jsonl(out)) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.csv"], "no such file"),
        (["export.csv", "--column", "bogus"], "is not TARGET=COLUMN"),
        (["export.csv", "--on-id-conflict", "merge"], "is not a policy"),
        (["export.csv", "--encoding", "klingon"], "unknown encoding"),
    ],
)
def test_cli_errors_are_one_line_without_traceback(
    tmp_path: Path, args: list[str], message: str
) -> None:
    _csv(tmp_path, "ID,Description\n1,a\n")
    argv = ["ingest", *[str(tmp_path / a) if a.endswith(".csv") else a for a in args]]
    result = runner.invoke(app, [*argv, "--output", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr.startswith("Error:") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
