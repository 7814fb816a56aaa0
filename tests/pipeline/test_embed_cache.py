from __future__ import annotations

import hashlib
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline.embed_cache import CACHE_FILE, EmbeddingCache
from pipeline.errors import EmbedderError

ROOT = Path(__file__).resolve().parents[2]


def keys(n: int, prefix: str = "") -> list[bytes]:
    return [hashlib.sha256(f"{prefix}{i}".encode()).digest() for i in range(n)]


def vectors(n: int, d: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


@pytest.fixture
def cache(tmp_path: Path) -> EmbeddingCache:
    return EmbeddingCache(tmp_path / "cache")


def test_vectors_round_trip_exactly_and_missing_keys_are_absent(cache: EmbeddingCache) -> None:
    ks, vs = keys(3), vectors(3)
    assert cache.put("m", ks, vs) == 3
    found = cache.get([*ks, b"absent"])
    assert set(found) == set(ks)
    for key, vector in zip(ks, vs, strict=True):
        assert found[key].dtype == np.float32
        np.testing.assert_array_equal(found[key], vector)


def test_lookups_and_deletes_are_batched_past_the_variable_limit(cache: EmbeddingCache) -> None:
    ks = keys(1300)
    assert cache.put("m", ks, vectors(1300)) == 1300
    assert len(cache.get(ks)) == 1300
    assert cache.delete(ks[:1100]) == 1100
    assert cache.count() == 200


def test_a_key_is_written_once(cache: EmbeddingCache) -> None:
    ks = keys(2)
    cache.put("m", ks, vectors(2, seed=1))
    assert cache.put("m", ks, vectors(2, seed=2)) == 0
    np.testing.assert_array_equal(cache.get(ks[:1])[ks[0]], vectors(2, seed=1)[0])


def test_vectors_persist_for_a_new_cache_object(cache: EmbeddingCache) -> None:
    ks = keys(5)
    cache.put("m", ks, vectors(5))
    assert len(EmbeddingCache(cache.directory).get(ks)) == 5


def test_counts_and_deletes_by_model_identity(cache: EmbeddingCache) -> None:
    cache.put("model-a", keys(3, "a"), vectors(3))
    cache.put("model-b", keys(2, "b"), vectors(2))
    assert (cache.count(), cache.count("model-a"), cache.count("model-b")) == (5, 3, 2)
    assert cache.count("model-c") == 0
    assert cache.delete_model("model-a") == 3
    assert (cache.count(), cache.count("model-a")) == (2, 0)


def test_clear_removes_every_vector(cache: EmbeddingCache) -> None:
    cache.put("m", keys(10), vectors(10))
    cache.clear()
    assert cache.count() == 0
    assert cache.get(keys(10)) == {}


def test_empty_calls_do_nothing(cache: EmbeddingCache) -> None:
    assert cache.get([]) == {}
    assert cache.put("m", [], np.empty((0, 4), np.float32)) == 0
    assert cache.delete([]) == 0


def test_keys_and_vectors_must_match(cache: EmbeddingCache) -> None:
    with pytest.raises(ValueError, match="2 keys but 3 vectors"):
        cache.put("m", keys(2), vectors(3))


def test_the_cache_is_private_to_its_owner(cache: EmbeddingCache) -> None:
    cache.count()
    assert stat.S_IMODE(cache.directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(cache.path.stat().st_mode) == 0o600
    assert cache.path == cache.directory / CACHE_FILE
    with sqlite3.connect(cache.path) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_file_that_is_not_a_cache_gives_a_fix(tmp_path: Path) -> None:
    (tmp_path / CACHE_FILE).write_bytes(b"not a database" * 100)
    with pytest.raises(EmbedderError, match="delete the file"):
        EmbeddingCache(tmp_path).count()


def test_a_newer_schema_is_refused_with_a_fix(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / CACHE_FILE) as con:
        con.execute("PRAGMA user_version = 99")
    with pytest.raises(EmbedderError, match="schema version 99.*NEARMISS_CACHE_DIR"):
        EmbeddingCache(tmp_path).count()


WRITER = """
import hashlib, sys
from pathlib import Path
import numpy as np
from pipeline.embed_cache import EmbeddingCache
cache = EmbeddingCache(Path(sys.argv[1]))
name = sys.argv[2]
for batch in range(20):
    ks = [hashlib.sha256(f"{name}{batch}-{i}".encode()).digest() for i in range(50)]
    cache.put(name, ks, np.full((50, 4), batch, dtype=np.float32))
    shared = [hashlib.sha256(f"shared{batch}".encode()).digest()]
    cache.put("shared", shared, np.ones((1, 4), dtype=np.float32))
    cache.get(ks + shared)
"""


def test_two_processes_can_write_at_once(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), name],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("one", "two")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    cache = EmbeddingCache(tmp_path)
    assert (cache.count("one"), cache.count("two"), cache.count("shared")) == (1000, 1000, 20)
