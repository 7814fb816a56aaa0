"""Batch coding as plain functions (no Prefect): chunks, storing, coding, summary, Dask checks."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from pipeline.batch import (
    RECORDS_FILE,
    BatchTally,
    EarlyChunk,
    Span,
    clear_early_quarantine,
    code_stored,
    default_work_dir,
    discard_records,
    distributed_notice,
    get_suggester,
    load_factory,
    merge_quarantine,
    plan_spans,
    prepare_batch,
    read_span,
    resolve_bundle,
    store_chunk,
)
from pipeline.batch.progress import NullProgress, current_progress, reporting
from pipeline.errors import BundleError, InputError, StoreError
from pipeline.record import Record
from pipeline.store import Narrative, Suggestion, SuggestionSet, dispose_engines, session_scope
from tests.flows.conftest import write_export
from tests.flows.fakes import FACTORY, FakeSuggester, FakeSuggestionSet
from tests.pipeline.store_support import make_records

pytest_plugins = ("tests.pipeline.store_fixtures",)


def _write_records(path: Path, records: Sequence[Record], blank_every: int = 0) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for number, record in enumerate(records, start=1):
            handle.write(record.model_dump_json(exclude_none=True) + "\n")
            if blank_every and number % blank_every == 0:
                handle.write("\n")
    return path


def _count(url: str, model: type) -> int:
    with session_scope(url) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


# Chunks ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 3, 7, 100])
def test_spans_cover_every_record_once(tmp_path: Path, size: int) -> None:
    records = make_records(7)
    path = _write_records(tmp_path / "records.jsonl", records, blank_every=2)
    spans = plan_spans(path, size)
    assert [s.index for s in spans] == list(range(len(spans)))
    assert all(s.lines <= size for s in spans)
    # As few spans as the size allows, as even as possible (two coders finish together).
    assert len(spans) == -(-len(records) // size)
    assert max(s.lines for s in spans) - min(s.lines for s in spans) <= 1
    read = [r for span in spans for r in read_span(path, span)]
    assert [r.id for r in read] == [r.id for r in records]


def test_empty_records_file_has_no_spans(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    path.write_text("", encoding="utf-8")
    assert plan_spans(path) == []
    with pytest.raises(InputError, match="not positive"):
        plan_spans(path, 0)


def test_a_changed_records_file_is_an_error_without_text(tmp_path: Path) -> None:
    path = _write_records(tmp_path / "records.jsonl", make_records(4))
    span = plan_spans(path, 2)[1]
    path.write_text('{"id": "x", "text": 42, "secret": "Mrs Ann Example"}\n' * 4, "utf-8")
    with pytest.raises(InputError, match="changed during the run") as caught:
        read_span(path, span)
    assert "Ann" not in str(caught.value)


def test_spans_after_the_first_spans_cut_the_rest_evenly(tmp_path: Path) -> None:
    records = make_records(11)
    path = _write_records(tmp_path / "records.jsonl", records, blank_every=3)
    first = plan_spans(path, 4)[:1]
    spans = plan_spans(path, 3, after=first)
    assert spans[:1] == first
    assert [(s.index, s.lines) for s in spans] == [(0, 4), (1, 3), (2, 2), (3, 2)]
    read = [r for span in spans for r in read_span(path, span)]
    assert [r.id for r in read] == [r.id for r in records]
    assert plan_spans(path, 3, after=plan_spans(path, 11)) == plan_spans(path, 11)
    two = plan_spans(path, 4)[:2]
    assert [(s.index, s.lines) for s in plan_spans(path, 2, after=two)] == [
        *((0, 4), (1, 4)),
        *((2, 2), (3, 1)),
    ]


def test_first_spans_the_file_does_not_start_with_are_an_error(tmp_path: Path) -> None:
    path = _write_records(tmp_path / "records.jsonl", make_records(5))
    first, second = plan_spans(path, 2)[:2]
    for wrong in (dataclasses.replace(second, lines=3), dataclasses.replace(second, stop=10)):
        with pytest.raises(InputError, match="changed during the run"):
            plan_spans(path, 2, after=[first, wrong])


def test_full_chunks_are_reported_while_ingest_goes_on(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export.csv", 10, bad=1)
    work = tmp_path / "work"
    reported: list[EarlyChunk] = []

    def report(chunk: EarlyChunk) -> None:
        assert not (work / RECORDS_FILE).exists()  # ingest has not finished
        reported.append(chunk)

    prepared = prepare_batch([export], work, chunk_size=3, on_early_chunk=report)
    assert tuple(reported) == prepared.early
    assert [chunk.span for chunk in reported] == list(prepared.spans[:3])
    assert [span.lines for span in prepared.spans] == [3, 3, 3, 1]  # the last once ingest ends
    for chunk in reported:  # each chunk's own file holds its span of the records file
        own = read_span(chunk.records, chunk.own_span)
        assert own == read_span(prepared.records, chunk.span)
    discard_records(prepared)
    assert sorted(path.name for path in work.iterdir()) == ["quarantine.jsonl"]
    for size in (10, 11):  # one chunk: nothing to report
        alone = prepare_batch([export], tmp_path / "alone", chunk_size=size, on_early_chunk=report)
        assert alone.early == () and len(reported) == 3
    assert [s.lines for s in prepare_batch([export], work, chunk_size=4).spans] == [4, 3, 3]


def test_an_interrupted_runs_early_chunks_are_not_left_behind(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export.csv", 10)
    work = tmp_path / "work"
    prepare_batch([export], work, chunk_size=2, on_early_chunk=id)  # not discarded: "killed"
    assert len(list(work.glob("records.early-*.jsonl"))) == 4
    (work / "quarantine.early-3.jsonl").write_text("{}\n", "utf-8")
    (work / "records.early-4.jsonl.part").write_text("{}\n", "utf-8")  # killed mid-write
    prepared = prepare_batch([export], work, chunk_size=5, on_early_chunk=id)
    assert [chunk.records.name for chunk in prepared.early] == ["records.early-0.jsonl"]
    # The ingest leaves unmerged id conflicts to the flow, which clears them before storing.
    assert (work / "quarantine.early-3.jsonl").exists()
    clear_early_quarantine(work)
    assert sorted(path.name for path in work.glob("*.early-*")) == ["records.early-0.jsonl"]


def test_an_early_chunks_quarantined_rows_join_the_quarantine_file(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export.csv", 6, bad=1)
    prepared = prepare_batch([export], tmp_path / "work", chunk_size=2, on_early_chunk=id)
    first = prepared.early[0]
    quarantine = Path(prepared.ingest.quarantine)
    before = quarantine.read_text("utf-8")
    first.quarantine.write_text('{"reason": "id_conflict: x"}\n', "utf-8")
    merge_quarantine(first, quarantine)
    merge_quarantine(first, quarantine)  # once only
    assert quarantine.read_text("utf-8") == before + '{"reason": "id_conflict: x"}\n'
    assert not first.quarantine.exists()


# Storing ---------------------------------------------------------------------------------------


def _store_all(url: str, path: Path, tmp_path: Path, model: str = "fake-v1") -> list[Any]:
    return [
        store_chunk(path, span, url, model=model, quarantine=tmp_path / "q.jsonl")
        for span in plan_spans(path, 3)
    ]


def test_store_chunk_returns_ids_in_file_order_and_is_idempotent(
    store_url: str, tmp_path: Path
) -> None:
    records = make_records(7)
    path = _write_records(tmp_path / "records.jsonl", records)
    first = _store_all(store_url, path, tmp_path)
    ids = [i for chunk in first for i in chunk.ids]
    assert sum(chunk.inserted for chunk in first) == 7
    with session_scope(store_url) as session:
        by_id = dict(session.execute(select(Narrative.id, Narrative.record_id)).all())
    assert [by_id[i] for i in ids] == [r.id for r in records]
    assert [i for chunk in first for i in chunk.uncoded] == ids
    again = _store_all(store_url, path, tmp_path)
    assert sum(chunk.inserted for chunk in again) == 0
    assert [i for chunk in again for i in chunk.ids] == ids
    assert _count(store_url, Narrative) == 7


def test_coded_narratives_are_not_offered_again_for_the_same_bundle(
    store_url: str, tmp_path: Path
) -> None:
    path = _write_records(tmp_path / "records.jsonl", make_records(5))
    first = _store_all(store_url, path, tmp_path)
    code_stored(first[0].uncoded, store_url, bundle_dir=Path("/b/fake-v1"), factory=FACTORY)
    again = _store_all(store_url, path, tmp_path)
    assert again[0].uncoded == ()
    assert again[1].uncoded == first[1].uncoded
    other = _store_all(store_url, path, tmp_path, model="fake-v2")
    assert other[0].uncoded == first[0].uncoded  # a new bundle codes everything again


def test_an_id_stored_with_other_content_is_quarantined_not_fatal(
    store_url: str, tmp_path: Path
) -> None:
    records = make_records(4)
    path = _write_records(tmp_path / "records.jsonl", records)
    _store_all(store_url, path, tmp_path)
    edited = records[1].model_copy(update={"text": "Edited: the dose was checked twice."})
    path = _write_records(tmp_path / "edited.jsonl", [records[0], edited, records[2]])
    quarantine = tmp_path / "q.jsonl"
    chunk = store_chunk(path, plan_spans(path)[0], store_url, model="m", quarantine=quarantine)
    assert chunk.conflicts == 1
    assert chunk.conflict_sources == (("export.csv", 1),)
    assert len(chunk.ids) == 2
    (line,) = [json.loads(text) for text in quarantine.read_text("utf-8").splitlines()]
    assert line["reason"].startswith("id_conflict: ")
    assert line["record"]["id"] == records[1].id
    assert (line["source"], line["row"]) == ("export.csv", records[1].row)


def test_store_chunk_on_an_unreachable_store_is_a_store_error(tmp_path: Path) -> None:
    path = _write_records(tmp_path / "records.jsonl", make_records(2))
    url = "postgresql://nearmiss:secret@127.0.0.1:1/nowhere"
    with pytest.raises(StoreError) as caught:
        store_chunk(path, plan_spans(path)[0], url, model="m", quarantine=tmp_path / "q.jsonl")
    assert "secret" not in str(caught.value)
    dispose_engines()


# Coding ----------------------------------------------------------------------------------------


def test_code_stored_codes_once_and_in_one_transaction(store_url: str, tmp_path: Path) -> None:
    path = _write_records(tmp_path / "records.jsonl", make_records(5))
    (chunk,) = [
        store_chunk(path, s, store_url, model="fake-v1", quarantine=tmp_path / "q")
        for s in plan_spans(path)
    ]
    coded = code_stored(chunk.ids, store_url, bundle_dir=Path("/b/fake-v1"), factory=FACTORY)
    assert (coded.coded, coded.already_coded) == (5, 0)
    again = code_stored(chunk.ids, store_url, bundle_dir=Path("/b/fake-v1"), factory=FACTORY)
    assert (again.coded, again.already_coded) == (0, 5)
    suggester = get_suggester(FACTORY, Path("/b/fake-v1"), store_url)
    assert suggester.redacted is False  # type: ignore[attr-defined]  # stored text is redacted
    assert _count(store_url, SuggestionSet) == 5
    assert _count(store_url, Suggestion) == 5 * 4
    with session_scope(store_url) as session:
        assert set(session.scalars(select(SuggestionSet.model))) == {"fake-v1"}


def test_repeated_ids_count_once_as_coded(store_url: str, tmp_path: Path) -> None:
    path = _write_records(tmp_path / "records.jsonl", make_records(2))
    (chunk,) = [
        store_chunk(path, s, store_url, model="m", quarantine=tmp_path / "q")
        for s in plan_spans(path)
    ]
    ids = [*chunk.ids, chunk.ids[0]]
    coded = code_stored(ids, store_url, bundle_dir=Path("/b/fake-v1"), factory=FACTORY)
    assert (coded.coded, coded.already_coded) == (2, 1)


class _Shuffling(FakeSuggester):
    def suggest(self, records: Sequence[Record], *, redact: bool = True) -> list[FakeSuggestionSet]:
        return list(reversed(super().suggest(records, redact=redact)))


def _shuffling(model: Path | None, db_url: str | None) -> _Shuffling:
    return _Shuffling(model or Path("/b/shuffled"), "shuffled")


def test_a_suggester_out_of_order_is_refused(store_url: str, tmp_path: Path) -> None:
    path = _write_records(tmp_path / "records.jsonl", make_records(3))
    (chunk,) = [
        store_chunk(path, s, store_url, model="m", quarantine=tmp_path / "q")
        for s in plan_spans(path)
    ]
    factory = f"{__name__}:_shuffling"
    with pytest.raises(BundleError, match="one per record"):
        code_stored(chunk.ids, store_url, bundle_dir=Path("/b/shuffled"), factory=factory)
    assert _count(store_url, SuggestionSet) == 0


class _Typed(FakeSuggester):
    """Returns :class:`pipeline.suggestion.SuggestionSet` objects, as the real suggester does."""

    drop_last = False

    def suggest(self, records: Sequence[Record], *, redact: bool = True) -> list[Any]:
        from pipeline.evidence import Evidence
        from pipeline.suggestion import CodeSuggestion
        from pipeline.suggestion import SuggestionSet as Line

        lines = [
            Line(
                record.id,
                self.name,
                {"outcome": (CodeSuggestion("near_miss", 0.75, True, (Evidence("x", None),)),)},
            )
            for record in records
        ]
        return lines[:-1] if self.drop_last else lines


def _typed(model: Path | None, db_url: str | None) -> _Typed:
    suggester = _Typed(model or Path("/b/typed"), "typed")
    suggester.drop_last = model is not None and model.name == "short"
    return suggester


@pytest.mark.parametrize("bundle", ["typed", "short"])
def test_suggestion_set_objects_are_stored_directly_and_checked(
    store_url: str, tmp_path: Path, bundle: str
) -> None:
    path = _write_records(tmp_path / "records.jsonl", make_records(3))
    (chunk,) = [
        store_chunk(path, s, store_url, model="typed", quarantine=tmp_path / "q")
        for s in plan_spans(path)
    ]
    factory = f"{__name__}:_typed"
    if bundle == "short":
        with pytest.raises(BundleError, match="2 suggestion sets for 3 records"):
            code_stored(chunk.ids, store_url, bundle_dir=Path("/b/short"), factory=factory)
        assert _count(store_url, SuggestionSet) == 0
        return
    coded = code_stored(chunk.ids, store_url, bundle_dir=Path("/b/typed"), factory=factory)
    assert (coded.coded, _count(store_url, SuggestionSet)) == (3, 3)
    with session_scope(store_url) as session:
        evidence = session.scalars(select(Suggestion.evidence)).all()
    assert evidence == [[{"text": "x", "section": None}]] * 3


def test_suggester_is_built_once_per_process_and_bundle() -> None:
    url = "sqlite:///unused.sqlite3"
    first = get_suggester(FACTORY, None, url)
    ref = resolve_bundle(FACTORY, None, url)
    assert ref.name == "fake-v1"
    assert get_suggester(FACTORY, ref.bundle_dir, url) is first


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("no_colon", InputError),
        ("tests.nowhere:f", BundleError),
        ("tests.flows.fakes:x", BundleError),
    ],
)
def test_bad_factories_say_what_to_fix(spec: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        load_factory(spec)


# Prepare, summary, Dask and progress ------------------------------------------------------------


def test_prepare_batch_and_tally_reconcile_on_the_sample_exports(
    project_root: Path, tmp_path: Path
) -> None:
    prepared = prepare_batch(
        [project_root / "data/sample/exports"], tmp_path, chunk_size=10, redact=list
    )
    assert prepared.ingest.reconciles
    assert sum(span.lines for span in prepared.spans) == prepared.ingest.ingested
    assert (tmp_path / "quarantine.jsonl").is_file()
    tally = BatchTally(prepared.ingest)
    summary = tally.summary(model="m", store="sqlite://", seconds=1.0)
    assert summary.read == prepared.ingest.read
    assert summary.to_dict()["quarantine"] == str(tmp_path / "quarantine.jsonl")


def test_default_work_dir_is_stable_per_set_of_inputs(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert default_work_dir([a, b]) == default_work_dir([b, a])
    assert default_work_dir([a]) != default_work_dir([b])


@pytest.mark.parametrize("address", ["tcp://10.0.0.5:8786", "scheduler.example:8786"])
def test_remote_dask_needs_postgresql(address: str) -> None:
    with pytest.raises(InputError, match="PostgreSQL|postgresql"):
        distributed_notice("sqlite:////tmp/store.sqlite3", address)
    notice = distributed_notice("postgresql+psycopg://u@db/nearmiss", address)
    assert "NEARMISS_CACHE_DIR" in notice


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:8786", "localhost:8786", None])
def test_dask_on_this_machine_may_use_sqlite(address: str | None) -> None:
    assert distributed_notice("sqlite:////tmp/store.sqlite3", address)


def test_progress_goes_nowhere_unless_a_reporter_is_installed() -> None:
    assert isinstance(current_progress(), NullProgress)
    seen: list[tuple[str, int]] = []

    class Recorder(NullProgress):
        def start(self, total: int) -> None:
            seen.append(("start", total))

        def advance(self, count: int) -> None:
            seen.append(("advance", count))

    with reporting(Recorder()):
        current_progress().start(3)
        current_progress().advance(3)
    assert seen == [("start", 3), ("advance", 3)]
    assert isinstance(current_progress(), NullProgress)


def test_span_is_small_and_holds_no_text() -> None:
    assert Span(0, 0, 10, 1).__slots__ == ("index", "start", "stop", "lines")


def test_a_second_coder_is_used_only_for_a_model_on_one_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The static model codes on one core; a torch model (any other folder) uses them all."""
    import pipeline.batch.coding as coding
    from pipeline.batch import codes_on_one_core
    from pipeline.config import PROJECT_ROOT

    static = PROJECT_ROOT / "models" / "embedders" / "minilm-static-256"
    if not static.exists():
        pytest.skip("the static model is built by `make models`")
    assert codes_on_one_core(FACTORY, tmp_path / "fake", None)  # no embedding model of ours

    class Spec:
        def __init__(self, path: Path) -> None:
            self.path = path

    class WithModel:
        def __init__(self, path: Path) -> None:
            self.embedder = type("Embedder", (), {"spec": Spec(path)})()

    for path, one_core in ((static, True), (tmp_path, False)):
        monkeypatch.setattr(coding, "get_suggester", lambda *args, p=path: WithModel(p))
        assert codes_on_one_core(FACTORY, tmp_path / "bundle", None) is one_core


def test_the_default_bundles_name_is_read_without_numpy_or_alembic(tmp_path: Path) -> None:
    """The unchanged-input check reads the bundle's name only: it needs no model stack."""
    from pipeline.store import promote_bundle, register_bundle

    bundle_dir = tmp_path / "bundle"
    bundle_dir.mkdir()
    (bundle_dir / "metadata.json").write_text('{"name": "promoted-v2"}', encoding="utf-8")
    url = str(tmp_path / "store.sqlite3")
    with session_scope(url, write=True) as session:
        bundle = register_bundle(session, bundle_dir, actor="test")
        promote_bundle(session, bundle.id, actor="test")
    code = (
        "import sys\n"
        "from pipeline.batch.finished import DEFAULT_SUGGESTER_FACTORY, bundle_name\n"
        f"print(bundle_name(DEFAULT_SUGGESTER_FACTORY, None, {url!r}))\n"
        "print(sorted(m for m in ('numpy', 'alembic', 'pipeline.suggest') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["promoted-v2", "[]"]  # read through the store
