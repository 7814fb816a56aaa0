"""The suggestion cache: warm runs write the same bytes, stale entries are never served, purge."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from pipeline.config import get_settings
from pipeline.embed_cache import EmbeddingCache
from pipeline.errors import BundleError
from pipeline.head import ColdStartCalibration, ColdStartHead
from pipeline.record import Record
from pipeline.scorer import SchemeScorer, _SharedTfidf
from pipeline.sentences import prepare_records
from pipeline.suggest import Suggester
from pipeline.suggest_cache import SuggestCache, clear_caches, prepare_cached, record_key
from pipeline.suggest_file import suggest_file
from tests.pipeline.suggest_fixtures import build_mini_bundle, fake_encoder, mini_labelled

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_mini_bundle(tmp_path_factory.mktemp("suggest-cache"))


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Settings away from the user's; any model folder loads the hash encoder."""
    monkeypatch.setattr("pipeline.embed.load_encoder", lambda path, device=None: fake_encoder())
    monkeypatch.setenv("NEARMISS_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("NEARMISS_MODEL", "NEARMISS_DB", "NEARMISS_TAXONOMY"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield tmp_path / "cache"
    get_settings.cache_clear()


def _source(path: Path, n: int = 8) -> Path:
    records = [{k: v for k, v in line.items() if k != "codes"} for line in mini_labelled(n, 5)]
    records[2]["text"] = "Mrs Jane Smith (NHS 943 476 5919) rang. " + records[2]["text"]
    records.append(dict(records[0], id="repeat"))  # same text, its own id
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _forbid_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make loading a bundle or redacting fail, to prove a run needs neither."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the bundle was loaded or text redacted")

    monkeypatch.setattr(Suggester, "load", classmethod(refuse))
    monkeypatch.setattr("pipeline.sentences.prepare_records", refuse)


def test_warm_run_writes_the_same_bytes_without_loading_anything(
    bundle_dir: Path, tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _source(tmp_path / "records.jsonl")
    cold = suggest_file(source, tmp_path / "cold.jsonl", model=bundle_dir, chunk_size=4)
    assert SuggestCache(cache_dir).count() == {"prepared": 8, "lines": 8, "bundles": 1}
    _forbid_loading(monkeypatch)
    warm = suggest_file(source, tmp_path / "warm.jsonl", model=bundle_dir, chunk_size=3)
    assert (tmp_path / "warm.jsonl").read_bytes() == (tmp_path / "cold.jsonl").read_bytes()
    assert (warm.records, warm.model, warm.selected, warm.cold_start) == (
        cold.records,
        cold.model,
        cold.selected,
        cold.cold_start,
    )
    lines = [json.loads(x) for x in (tmp_path / "warm.jsonl").read_text().splitlines()]
    assert [line["id"] for line in lines][-1] == "repeat"
    assert "Smith" not in (tmp_path / "warm.jsonl").read_text()
    assert list(lines[0]["suggestions"]) == ["outcome", "cause", "recovery_agent"]


def test_cached_lines_equal_the_suggesters_own(
    bundle_dir: Path, tmp_path: Path, cache_dir: Path
) -> None:
    source = _source(tmp_path / "records.jsonl")
    suggest_file(source, tmp_path / "first.jsonl", model=bundle_dir)
    records = [Record.model_validate_json(x) for x in source.read_text().splitlines()]
    fresh = Suggester.load(bundle_dir, encoder=fake_encoder(), cache_dir=tmp_path / "other")
    expected = [
        json.dumps(s.to_dict(), ensure_ascii=False, separators=(",", ":"))
        for s in fresh.suggest(records)
    ]
    assert (tmp_path / "first.jsonl").read_text().splitlines() == expected


def test_a_changed_bundle_or_taxonomy_is_not_served_from_the_cache(
    bundle_dir: Path,
    tmp_path: Path,
    cache_dir: Path,
    tiny_taxonomy_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(bundle_dir, bundle)
    source = _source(tmp_path / "records.jsonl")
    suggest_file(source, tmp_path / "a.jsonl", model=bundle)
    cache = SuggestCache(cache_dir)
    assert cache.count()["lines"] == 8

    # A retrained bundle (another metadata.json) is coded afresh.
    metadata = json.loads((bundle / "metadata.json").read_text())
    metadata["name"] = "retrained"
    (bundle / "metadata.json").write_text(json.dumps(metadata), encoding="utf-8")
    summary = suggest_file(source, tmp_path / "b.jsonl", model=bundle)
    assert summary.model == "retrained" and cache.count()["lines"] == 16
    assert json.loads((tmp_path / "b.jsonl").read_text().splitlines()[0])["model"] == "retrained"

    # The taxonomy in force is part of the key: the same file named explicitly is coded afresh,
    # and another taxonomy is refused even though every line of the input is cached.
    monkeypatch.setenv("NEARMISS_TAXONOMY", str(bundle / "taxonomy.yaml"))
    get_settings.cache_clear()
    suggest_file(source, tmp_path / "c.jsonl", model=bundle)
    assert cache.count()["lines"] == 24
    assert (tmp_path / "c.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    monkeypatch.setenv("NEARMISS_TAXONOMY", str(tiny_taxonomy_file))
    get_settings.cache_clear()
    with pytest.raises(BundleError, match="was trained on mini v1 but tiny v2 is loaded"):
        suggest_file(source, tmp_path / "d.jsonl", model=bundle)
    monkeypatch.delenv("NEARMISS_TAXONOMY")
    get_settings.cache_clear()

    # An altered file of the bundle is refused, not hidden by the cache.
    heads = bundle / "heads.json"
    heads.write_text(heads.read_text() + " ", encoding="utf-8")
    monkeypatch.setattr("pipeline.suggest._LOADED", {})  # as a new process
    with pytest.raises(BundleError, match="does not match its recorded SHA-256"):
        suggest_file(source, tmp_path / "e.jsonl", model=bundle)


def test_changed_code_is_not_served_from_the_cache(
    bundle_dir: Path, tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _source(tmp_path / "records.jsonl")
    suggest_file(source, tmp_path / "a.jsonl", model=bundle_dir)
    monkeypatch.setattr("pipeline.suggest_cache.source_version", lambda: "an edited redactor")
    suggest_file(source, tmp_path / "b.jsonl", model=bundle_dir)
    assert SuggestCache(cache_dir).count()["prepared"] == 16


def test_prepared_records_come_from_the_cache_keyed_by_raw_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = [
        Record(id="1", text="Mrs Jones rang. Dose queried.\nWhat has been changed: New alert."),
        Record(id="2", text="Dr Patel saw it.", sections={"what_happened": "Dr Patel saw it."}),
    ]
    cache = SuggestCache(tmp_path)
    first = prepare_cached(records, redact=True, cache=cache)
    assert first == prepare_records(records)
    stored = (tmp_path / "suggestions.sqlite3").read_bytes()
    assert b"Jones" not in stored and b"Patel" not in stored  # redacted text only
    monkeypatch.setattr("pipeline.sentences.prepare_records", lambda *a, **k: [])
    again = [Record(id="other", text=records[0].text), records[1]]
    second = prepare_cached(again, redact=True, cache=cache)
    assert [r.record.id for r in second] == ["other", "2"]
    assert [r.sentences for r in second] == [r.sentences for r in first]
    assert record_key(records[0], True) != record_key(records[0], False)


def test_clear_caches_deletes_vectors_records_and_lines(
    bundle_dir: Path, tmp_path: Path, cache_dir: Path
) -> None:
    suggest_file(_source(tmp_path / "records.jsonl"), tmp_path / "a.jsonl", model=bundle_dir)
    assert EmbeddingCache(cache_dir).count() > 0
    clear_caches(cache_dir)
    assert SuggestCache(cache_dir).count() == {"prepared": 0, "lines": 0, "bundles": 0}
    assert EmbeddingCache(cache_dir).count() == 0
    suggest_file(_source(tmp_path / "records.jsonl"), tmp_path / "b.jsonl", model=bundle_dir)
    EmbeddingCache(cache_dir).clear()  # what nearmiss purge calls clears both
    assert SuggestCache(cache_dir).count()["lines"] == 0


def test_fully_cached_run_imports_neither_spacy_nor_scikit_learn(
    bundle_dir: Path, tmp_path: Path, cache_dir: Path
) -> None:
    source = _source(tmp_path / "records.jsonl")
    suggest_file(source, tmp_path / "cold.jsonl", model=bundle_dir)
    script = (
        "import json, sys\nfrom pathlib import Path\n"
        "from pipeline.suggest_file import suggest_file\n"
        f"suggest_file(Path({str(source)!r}), Path({str(tmp_path / 'warm.jsonl')!r}), "
        f"model=Path({str(bundle_dir)!r}))\n"
        "print(json.dumps(sorted(m for m in ('spacy', 'sklearn', 'torch', "
        "'sentence_transformers') if m in sys.modules)))\n"
    )
    env = {"NEARMISS_CACHE_DIR": str(cache_dir), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
    assert (tmp_path / "warm.jsonl").read_bytes() == (tmp_path / "cold.jsonl").read_bytes()


@pytest.mark.parametrize(
    "params",
    [
        {"ngram_range": (1, 2), "min_df": 1, "sublinear_tf": True},
        {"ngram_range": (1, 1), "norm": None, "use_idf": False},
        {"ngram_range": (1, 2), "stop_words": "english", "strip_accents": "unicode"},
        {"ngram_range": (1, 3)},  # scikit-learn's own counting
    ],
)
def test_shared_tfidf_equals_scikit_learn(params: dict[str, object]) -> None:
    documents = [
        "Dose keyed wrong. Pharmacist rang the surgery.",
        "dose KEYED wrong wrong wrong",
        "",
        "Naïve café: the alert fired; the alert fired.",
        "Dose keyed wrong. Pharmacist rang the surgery.",
        "x",
    ]
    fitted = TfidfVectorizer(**params, dtype=np.float64).fit(documents)  # type: ignore[arg-type]
    shared = _SharedTfidf.__new__(_SharedTfidf)
    shared.__dict__.update(fitted.__dict__)
    queries = [*documents, "unknown words only", "the alert fired"]
    expected, got = fitted.transform(queries), shared.transform(queries)
    assert type(got) is type(expected)
    for part in ("data", "indices", "indptr"):
        assert np.array_equal(getattr(got, part), getattr(expected, part))


@pytest.mark.parametrize("multi_label", [True, False])
def test_cold_start_scores_all_narratives_at_once_exactly(multi_label: bool) -> None:
    rng = np.random.default_rng(0)
    prototypes = rng.normal(size=(3, 4))
    prototypes /= np.linalg.norm(prototypes, axis=1, keepdims=True)
    calibration = ColdStartCalibration(center=0.3, slope=5.0, threshold=0.2)
    cold = ColdStartHead("s", ("a", "b", "c"), multi_label, prototypes, calibration=calibration)
    vectors = rng.normal(size=(9, 4))
    bounds = [0, 3, 3, 4, 9, 9]
    groups = [vectors[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    proba, sentences = SchemeScorer(cold).score(["t"] * 5, None, ["s"] * 9, vectors, bounds)
    # One matrix product for every sentence instead of one per narrative: equal up to the last
    # bit of a cosine (BLAS may sum a row in another order), and each narrative now scores
    # exactly as its best sentence does alone.
    assert np.allclose(proba, cold.predict_proba(groups), rtol=1e-12, atol=0)
    assert np.array_equal(sentences, cold.sentence_proba(vectors))
    best = [
        sentences[a:b].max(axis=0) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a
    ]
    if multi_label:
        assert np.array_equal(proba[[0, 2, 3]], np.array(best))
