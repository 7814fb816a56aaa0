"""Every CLI command has help and an entry in the README (the sqlite-utils habit)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from pipeline.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _command_paths(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            paths += _command_paths(command, (*prefix, name))
        else:
            paths.append((*prefix, name))
    return paths


COMMANDS = _command_paths(typer.main.get_command(app))


def test_there_are_commands() -> None:
    assert ("taxonomy", "check") in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_command_has_help_and_readme_entry(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"nearmiss {' '.join(path)}" in readme


def test_taxonomy_check_reports_schemes(tiny_taxonomy_file: Path) -> None:
    result = runner.invoke(app, ["taxonomy", "check", str(tiny_taxonomy_file)])
    assert result.exit_code == 0, result.output
    assert "taxonomy tiny v2" in result.output
    assert "cause: 2 codes (multi-label)" in result.output


def test_taxonomy_check_json_is_one_line(tiny_taxonomy_file: Path) -> None:
    result = runner.invoke(app, ["taxonomy", "check", str(tiny_taxonomy_file), "--json"])
    assert result.exit_code == 0
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["schemes"] == {"outcome": 2, "cause": 2}


def test_bad_taxonomy_exits_1_with_one_line_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nversion: 1\nschemes: []\n", encoding="utf-8")
    result = runner.invoke(app, ["taxonomy", "check", str(bad)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr.strip().startswith("Error:") and str(bad) in result.stderr


def test_taxonomy_show_prints_tree(tiny_taxonomy_file: Path) -> None:
    result = runner.invoke(app, ["taxonomy", "show", str(tiny_taxonomy_file)])
    assert result.exit_code == 0
    assert "- staffing: Staffing" in result.output
