"""Formula neutralisation for CSV and XLSX writers."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.spreadsheet import is_formula, neutralise_formula


@pytest.mark.parametrize(
    "value",
    ['=HYPERLINK("http://example.invalid","x")', "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"],
)
def test_formulas_are_prefixed(value: str) -> None:
    assert is_formula(value)
    assert neutralise_formula(value) == "'" + value


@pytest.mark.parametrize("value", ["INR 5.9", "<b>markup</b>", "", "a = b"])
def test_plain_text_is_unchanged(value: str) -> None:
    assert neutralise_formula(value) == value


def test_xlsx_cell_holds_text_not_a_formula(tmp_path: Path) -> None:
    from openpyxl import Workbook, load_workbook

    workbook = Workbook()
    workbook.active.append([neutralise_formula('=HYPERLINK("http://example.invalid","x")')])
    workbook.save(tmp_path / "x.xlsx")
    cell = load_workbook(tmp_path / "x.xlsx").active["A1"]
    assert cell.data_type == "s"
