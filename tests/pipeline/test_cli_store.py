"""The store commands as a user runs them: review import, status and purge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.record import Record
from pipeline.store import add_narratives, session_scope

runner = CliRunner()


def _narrative(number: int, date: str, practice: str) -> dict[str, object]:
    return {
        "id": f"n{number}",
        "text": f"Near miss number {number}: the pharmacist queried a dose of {number} mg.",
        "practice": practice,
        "event_date": date,
    }


@pytest.fixture
def store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    rows = [
        _narrative(1, "2017-03-01", "Y001"),
        _narrative(2, "2019-05-01", "Y001"),
        _narrative(3, "2021-07-01", "Y002"),
    ]
    with session_scope(url, write=True) as session:
        add_narratives(session, [Record.model_validate(row) for row in rows])
    return url


def _labelled(tmp_path: Path, lines: list[dict[str, object]]) -> Path:
    path = tmp_path / "labelled.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def _status(url: str) -> dict[str, object]:
    result = runner.invoke(app, ["status", "--db", url, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_review_import_records_decisions_and_reports_unknowns(tmp_path: Path, store: str) -> None:
    path = _labelled(
        tmp_path,
        [
            {"id": "n1", "text": "x", "codes": {"outcome": ["near_miss"], "process": []}},
            {"id": "n2", "text": "x", "codes": {"outcome": ["probably"]}},
            {"id": "zz", "text": "x", "codes": {"outcome": ["near_miss"]}},
        ],
    )
    args = ["review", "import", str(path), "--reviewer", "Dr A", "--db", store, "--json"]
    first = json.loads(runner.invoke(app, args).stdout)
    assert (first["narratives"], first["decisions"]) == (1, 2)
    assert first["unknown_ids"] == ["zz"]
    assert "code 'probably' in scheme 'outcome' is unknown" in first["rejected"][0]
    assert _status(store)["by_status"] == {"pending": 2, "reviewed": 1}
    again = json.loads(runner.invoke(app, args).stdout)
    assert (again["decisions"], again["unchanged"]) == (0, 2)


def test_review_import_rejects_malformed_lines_before_writing(tmp_path: Path, store: str) -> None:
    path = _labelled(
        tmp_path,
        [
            {"id": "n1", "text": "x", "codes": {"outcome": ["near_miss"]}},
            {"id": "n1", "text": "y", "codes": {"outcome": ["near_miss"]}},
        ],
    )
    result = runner.invoke(app, ["review", "import", str(path), "--reviewer", "A", "--db", store])
    assert result.exit_code == 1
    assert "line 2: id 'n1' is already on line 1" in result.stderr
    assert _status(store)["by_status"] == {"pending": 3, "reviewed": 0}
    (tmp_path / "bad.jsonl").write_text('{"id": "n1", "text": "x"}\n', encoding="utf-8")
    result = runner.invoke(
        app, ["review", "import", str(tmp_path / "bad.jsonl"), "--reviewer", "A", "--db", store]
    )
    assert result.exit_code == 1
    assert "line 1: field 'codes'" in result.stderr


def test_status_counts_by_practice(store: str) -> None:
    summary = _status(store)
    assert summary["total"] == 3
    assert summary["by_practice"] == {
        "Y001": {"pending": 2, "reviewed": 0},
        "Y002": {"pending": 1, "reviewed": 0},
    }
    assert summary["promoted_bundle"] is None
    text = runner.invoke(app, ["status", "--db", store]).stdout
    assert "Narratives: 3 (3 pending, 0 reviewed)" in text


def test_purge_deletes_before_date_and_clears_cache(
    tmp_path: Path, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    from pipeline.config import get_settings
    from pipeline.embed_cache import EmbeddingCache

    monkeypatch.setenv("NEARMISS_CACHE_DIR", str(tmp_path / "cache"))
    get_settings.cache_clear()
    cache = EmbeddingCache(tmp_path / "cache")
    cache.put("model", [b"k"], np.ones((1, 4), dtype=np.float32))
    result = runner.invoke(
        app, ["purge", "--before", "2020-01-01", "--practice", "Y001", "--db", store, "--json"]
    )
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["narratives"] == 2
    assert json.loads(result.stdout)["cache_cleared"] is True
    assert cache.count() == 0
    assert _status(store)["total"] == 1


def test_purge_rejects_a_bad_date(store: str) -> None:
    result = runner.invoke(app, ["purge", "--before", "last year", "--db", store])
    assert result.exit_code == 1
    assert "--before 'last year' is not a date; use YYYY-MM-DD" in result.stderr
