"""Suggesting codes: the suggestions contract, redaction, the recovery rule, files, the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import get_settings
from pipeline.errors import BundleError, InputError
from pipeline.record import Record
from pipeline.sentences import redact_records
from pipeline.suggest import (
    Suggester,
    SuggestionSet,
    apply_recovery_rule,
    load_suggester,
)
from pipeline.suggest_file import is_records_file, suggest_file
from tests.bundle_fixtures import write_labelled
from tests.pipeline.suggest_fixtures import (
    build_mini_bundle,
    fake_encoder,
    load_mini,
    mini_labelled,
    mini_taxonomy,
)

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_mini_bundle(tmp_path_factory.mktemp("suggest"))


@pytest.fixture
def suggester(bundle_dir: Path, tmp_path: Path) -> Suggester:
    return load_mini(bundle_dir, tmp_path / "cache")


@pytest.fixture
def settings_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings away from the user's; any model folder loads the hash encoder."""
    monkeypatch.setattr("pipeline.embed.load_encoder", lambda path, device=None: fake_encoder())
    monkeypatch.setenv("NEARMISS_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("NEARMISS_MODEL", "NEARMISS_DB", "NEARMISS_TAXONOMY"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _records(n: int = 9, seed: int = 3) -> list[Record]:
    return [
        Record.model_validate({k: v for k, v in line.items() if k != "codes"})
        for line in mini_labelled(n, seed=seed)
    ]


def _write_records(path: Path, records: list[Record]) -> Path:
    lines = [json.dumps(r.model_dump(mode="json", exclude_none=True)) + "\n" for r in records]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _check_contract(line: dict[str, Any], suggester: Suggester) -> None:
    assert set(line) == {"id", "model", "suggestions"}
    assert line["model"] == suggester.name
    taxonomy = suggester.bundle.taxonomy
    assert list(line["suggestions"]) == list(taxonomy.scheme_ids)
    for scheme, codes in line["suggestions"].items():
        assert [c["code"] for c in codes] == list(taxonomy.scheme(scheme).leaf_ids)
        for code in codes:
            assert set(code) == {"code", "score", "selected", "evidence"}
            assert isinstance(code["score"], float) and 0.0 <= code["score"] <= 1.0
            assert isinstance(code["selected"], bool)
            assert all(set(e) == {"text", "section"} for e in code["evidence"])


def test_one_set_per_record_in_order_with_every_code(suggester: Suggester) -> None:
    records = _records()
    records.insert(4, records[1])  # a repeated id still gets its own line
    sets = suggester.suggest(records)
    assert [s.id for s in sets] == [r.id for r in records]
    for line in sets:
        _check_contract(line.to_dict(), suggester)
    assert suggester.suggest([]) == []


def test_single_label_scheme_selects_exactly_one(suggester: Suggester) -> None:
    for line in suggester.suggest(_records()):
        assert sum(code.selected for code in line.suggestions["outcome"]) == 1


def test_text_is_redacted_before_anything(suggester: Suggester) -> None:
    records = [Record(id="r", text="Mrs Jones rang 07700 900123 about a locum rota gap.")]
    encoder = suggester.embedder.encoder
    payload = json.dumps(suggester.suggest(records)[0].to_dict())
    assert "Jones" not in payload and "07700" not in payload
    seen = [text for call in getattr(encoder, "calls", []) for text in call]
    assert seen and not any("Jones" in text or "07700" in text for text in seen)


def test_redact_records_redacts_sections_once_and_rejoins_the_text() -> None:
    sections = {"what_happened": "Mrs Jones rang.", "changes": "Call Dr Patel first."}
    from pipeline.ingest.sections import join_sections

    record = Record(id="s", text=join_sections(sections), sections=sections)
    (out,) = redact_records([record])
    assert out.sections == {"what_happened": "Mrs [NAME] rang.", "changes": "Call Dr [NAME] first."}
    assert out.text == join_sections(out.sections)
    (other,) = redact_records([Record(id="t", text="Dr Patel", sections={"why": "Mrs Jones"})])
    assert (other.text, other.sections) == ("Dr [NAME]", {"why": "Mrs [NAME]"})


def test_recovery_rule_unselects_recovery_unless_near_miss() -> None:
    codes = {"outcome": ["near_miss", "incident"], "recovery": ["a"], "recovery_agent": ["h"]}
    proba = {"outcome": np.array([[0.7, 0.3], [0.4, 0.6]])}
    selected = {
        "outcome": np.array([[True, False], [False, True]]),
        "recovery": np.array([[True], [True]]),
        "recovery_agent": np.array([[True], [True]]),
    }
    out = apply_recovery_rule(codes, proba, selected)
    assert out["recovery"].tolist() == [[True], [False]]
    assert out["recovery_agent"].tolist() == [[True], [False]]
    assert out["outcome"] is selected["outcome"]
    # No outcome scheme (or no near_miss code): nothing changes.
    assert apply_recovery_rule({"recovery": ["a"]}, {}, selected)["recovery"].all()


def test_recovery_codes_only_for_near_misses_scores_kept(suggester: Suggester) -> None:
    sets = suggester.suggest(_records(30, seed=11))
    incidents = 0
    for line in sets:
        top = max(line.suggestions["outcome"], key=lambda c: c.score).code
        agent = line.suggestions["recovery_agent"]
        if top != "near_miss":
            incidents += 1
            assert not any(c.selected or c.evidence for c in agent)
            assert any(c.score > 0 for c in agent)
    assert incidents > 0


def test_recovery_scheme_reads_the_recovery_view(suggester: Suggester) -> None:
    assert suggester.scorers["recovery_agent"].text_view == "recovery"
    assert suggester.scorers["cause"].text_view == "full"


def test_suggester_is_loaded_once_per_bundle(bundle_dir: Path, settings_env: None) -> None:
    first = Suggester.load(bundle_dir)
    assert Suggester.load(bundle_dir) is first


def test_suggest_file_writes_one_line_per_record(suggester: Suggester, tmp_path: Path) -> None:
    records = _records(7)
    source = _write_records(tmp_path / "records.jsonl", records)
    summary = suggest_file(source, tmp_path / "out" / "s.jsonl", suggester=suggester, chunk_size=3)
    lines = [json.loads(line) for line in (tmp_path / "out" / "s.jsonl").read_text().splitlines()]
    assert [line["id"] for line in lines] == [r.id for r in records]
    assert summary.records == 7 and summary.ingest is None and summary.model == suggester.name
    assert summary.selected["outcome"] == 7
    assert not (tmp_path / "out" / "s.jsonl.part").exists()


def test_suggest_file_streams_in_chunks(suggester: Suggester, tmp_path: Path) -> None:
    source = _write_records(tmp_path / "records.jsonl", _records(10))
    output = tmp_path / "s.jsonl"
    part = output.with_name("s.jsonl.part")
    calls: list[tuple[int, int]] = []

    class Spy:
        name, scorers = suggester.name, suggester.scorers

        def suggest(self, chunk: list[Record], *, redact: bool = True) -> list[SuggestionSet]:
            calls.append((len(chunk), len(part.read_text().splitlines())))
            return suggester.suggest(chunk, redact=redact)

    suggest_file(source, output, suggester=Spy(), chunk_size=4)  # type: ignore[arg-type]
    assert calls == [(4, 0), (4, 4), (2, 8)]  # each chunk is written before the next is read


def test_suggest_file_ingests_exports_and_quarantines(suggester: Suggester, tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text(
        "ID,Description\n1,Locum rota gap; spotted before issue.\n2,\n3,Dropdown slip.\n",
        encoding="utf-8",
    )
    output = tmp_path / "s.jsonl"
    summary = suggest_file(export, output, suggester=suggester)
    assert [json.loads(x)["id"] for x in output.read_text().splitlines()] == ["1", "3"]
    assert summary.ingest is not None
    assert (summary.ingest["read"], summary.ingest["quarantined"]) == (3, 1)
    assert Path(summary.ingest["quarantine"]).read_text().count("\n") == 1
    assert not list(tmp_path.glob(".nearmiss-suggest-*"))  # ingested records are deleted


def test_records_file_detection(tmp_path: Path) -> None:
    records = _write_records(tmp_path / "r.jsonl", _records(1))
    export = tmp_path / "e.jsonl"
    export.write_text('{"ref": "1", "description": "x"}\n', encoding="utf-8")
    assert is_records_file(records) and not is_records_file(export)
    assert not is_records_file(tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": "a", "text": "x"}\n{"id": "b"}\n', "line 2: field 'text' field required"),
        ('{"id": "a", "text": "x"}\nnot json\n', "line 2: not valid JSON"),
    ],
)
def test_bad_record_lines_name_the_line(
    suggester: Suggester, tmp_path: Path, content: str, message: str
) -> None:
    source = tmp_path / "r.jsonl"
    source.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        suggest_file(source, tmp_path / "s.jsonl", suggester=suggester)
    assert not (tmp_path / "s.jsonl").exists() and not (tmp_path / "s.jsonl.part").exists()


def test_output_must_differ_from_input(suggester: Suggester, tmp_path: Path) -> None:
    source = _write_records(tmp_path / "r.jsonl", _records(1))
    with pytest.raises(InputError, match="also the input"):
        suggest_file(source, source, suggester=suggester)
    with pytest.raises(InputError, match="no such file"):
        suggest_file(tmp_path / "missing.jsonl", tmp_path / "s.jsonl", suggester=suggester)


def test_model_resolution_order(
    bundle_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings_env: None
) -> None:
    from pipeline.store import promote_bundle, register_bundle, session_scope

    loaded: list[Path] = []
    monkeypatch.setattr(Suggester, "load", classmethod(lambda cls, p, **k: loaded.append(p)))
    starter = tmp_path / "starter"
    monkeypatch.setattr("pipeline.starter.ensure_starter_bundle", lambda settings=None: starter)
    promoted = tmp_path / "promoted"
    shutil.copytree(bundle_dir, promoted)
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    with session_scope(url, write=True) as session:
        promote_bundle(session, register_bundle(session, promoted, actor="test").id, actor="test")

    load_suggester()
    assert loaded[-1] == starter  # no store configured: the starter bundle
    load_suggester(None, url)
    assert loaded[-1] == promoted
    monkeypatch.setenv("NEARMISS_DB", url)
    get_settings.cache_clear()
    load_suggester()
    assert loaded[-1] == promoted
    monkeypatch.setenv("NEARMISS_MODEL", str(bundle_dir))
    get_settings.cache_clear()
    load_suggester()
    assert loaded[-1] == bundle_dir
    load_suggester(tmp_path / "explicit")
    assert loaded[-1] == tmp_path / "explicit"


def test_tampered_promoted_bundle_is_refused(
    bundle_dir: Path, tmp_path: Path, settings_env: None
) -> None:
    from pipeline.store import promote_bundle, register_bundle, session_scope

    promoted = tmp_path / "promoted"
    shutil.copytree(bundle_dir, promoted)
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    with session_scope(url, write=True) as session:
        promote_bundle(session, register_bundle(session, promoted, actor="test").id, actor="test")
    (promoted / "CARD.md").write_text("changed\n", encoding="utf-8")
    with pytest.raises(BundleError, match="differs from the bundle"):
        load_suggester(None, url)


def test_cli_suggest_json_is_one_line(bundle_dir: Path, tmp_path: Path, settings_env: None) -> None:
    source = _write_records(tmp_path / "records.jsonl", _records(5))
    output = tmp_path / "s.jsonl"
    args = ["suggest", "--input", str(source), "--output", str(output), "--model", str(bundle_dir)]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert summary["records"] == 5 and summary["model"] == "bundle"
    assert summary["cold_start"] == [] and set(summary["selected"]) == {
        "outcome",
        "cause",
        "recovery_agent",
    }
    assert len(output.read_text().splitlines()) == 5
    text = runner.invoke(app, args)
    assert text.exit_code == 0 and "Suggested codes for 5 records with bundle" in text.stdout


def test_cli_suggest_bad_input_is_one_line(tmp_path: Path, settings_env: None) -> None:
    result = runner.invoke(
        app, ["suggest", "--input", str(tmp_path / "nope.jsonl"), "--output", str(tmp_path / "o")]
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("Error:") and "Traceback" not in result.output


def test_cli_suggest_with_a_taxonomy_other_than_the_bundles(
    bundle_dir: Path, tmp_path: Path, tiny_taxonomy_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEARMISS_TAXONOMY", str(tiny_taxonomy_file))
    get_settings.cache_clear()
    try:
        source = _write_records(tmp_path / "records.jsonl", _records(1))
        args = ["suggest", "-i", str(source), "-o", str(tmp_path / "s.jsonl")]
        result = runner.invoke(app, [*args, "--model", str(bundle_dir)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "was trained on mini v1 but tiny v2 is loaded" in result.stderr


def test_mini_taxonomy_fixture_is_valid(tmp_path: Path) -> None:
    from pipeline.taxonomy import load_taxonomy

    taxonomy = load_taxonomy(mini_taxonomy(tmp_path))
    assert taxonomy.scheme_ids == ("outcome", "cause", "recovery_agent")
    labelled = write_labelled(tmp_path / "l.jsonl", mini_labelled(3))
    assert labelled.read_text().count("\n") == 3


@pytest.mark.e2e
def test_real_cli_on_the_sample_exports_with_the_starter_bundle(tmp_path: Path) -> None:
    """The installed command, the real default model and the starter bundle (built if missing)."""
    output = tmp_path / "suggestions.jsonl"
    env = {k: v for k, v in os.environ.items() if k not in ("NEARMISS_MODEL", "NEARMISS_DB")}
    env["NEARMISS_CACHE_DIR"] = str(tmp_path / "cache")
    command = [
        str(Path(sys.executable).with_name("nearmiss")),
        "suggest",
        "--input",
        str(ROOT / "data" / "sample" / "exports"),
        "--output",
        str(output),
        "--json",
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["model"] == "starter-gp-near-miss-v1"
    assert summary["ingest"]["ingested"] == summary["records"] > 0
    lines = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == summary["records"]
    recovery_sections = {None, "what_happened", "action_taken", "went_well"}
    for line in lines:
        assert list(line["suggestions"]) == [
            "outcome",
            "process",
            "contributory",
            "recovery",
            "recovery_agent",
        ]
        top = max(line["suggestions"]["outcome"], key=lambda c: c["score"])["code"]
        for scheme, codes in line["suggestions"].items():
            for code in codes:
                assert 0.0 <= code["score"] <= 1.0
                assert bool(code["evidence"]) == code["selected"], (line["id"], code)
                if code["selected"] and scheme in ("recovery", "recovery_agent"):
                    assert top == "near_miss"
                    assert {e["section"] for e in code["evidence"]} <= recovery_sections


def test_schemes_trained_on_the_same_texts_share_one_tfidf_transform(
    suggester: Suggester,
) -> None:
    from pipeline.scorer import share_vectorizers

    heads = suggester.bundle.heads
    shared = share_vectorizers(heads)
    assert shared["outcome"].vectorizer is shared["cause"].vectorizer
    assert shared["recovery_agent"].vectorizer is not shared["cause"].vectorizer  # other view
    texts = [r.text for r in _records(6)]
    texts.append(texts[0])  # a repeated text is transformed once
    for scheme, head in heads.items():
        assert head.vectorizer is not None and shared[scheme].vectorizer is not None
        expected = head.vectorizer.transform(texts)
        for _ in range(2):  # the second call reuses the first transform
            got = shared[scheme].vectorizer.transform(texts)
            assert (got != expected).nnz == 0 and got.has_sorted_indices
