"""The ``retrain`` flow's wiring, with a fake ``training.retrain`` (the library is tested there)."""

from __future__ import annotations

import sys
import types
from dataclasses import asdict, dataclass
from typing import Any

import pytest
from pydantic import SecretStr

from flows.retrain import retrain


@dataclass
class _Report:
    bundle: str
    promoted: bool
    metric: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def test_retrain_flow_calls_the_library_once_with_the_store(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[str, Any]] = []

    def fake_retrain(**kwargs: Any) -> _Report:
        calls.append(kwargs)
        return _Report("bundle-2", promoted=False, metric=0.61)

    module = types.ModuleType("training.retrain")
    module.retrain = fake_retrain  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "training.retrain", module)
    report = retrain(db=SecretStr("sqlite:////tmp/unused.sqlite3"), force=True)
    assert report == {"bundle": "bundle-2", "promoted": False, "metric": 0.61}
    assert calls == [
        {
            "db_url": "sqlite:////tmp/unused.sqlite3",
            "include_bulk": False,
            "force": True,
            "metric": "macro_f1",
        }
    ]
