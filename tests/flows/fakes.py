"""A fake suggester with the Suggester interface, for flow and batch tests (no model, no bundle).

Factories are named by import path (``tests.flows.fakes:load_fake``), as the batch resolves them in
any process. Behaviour is set through the environment so that subprocesses and Dask workers see it:

- ``NEARMISS_FAKE_DELAY``: seconds each ``suggest`` call sleeps (to kill a run mid-way);
- ``NEARMISS_FAKE_LOG``: a file to which each call appends the record ids it coded, one per line;
- ``NEARMISS_FAKE_NAME``: the bundle name (default ``fake-v1``);
- ``NEARMISS_FAKE_PIDS``: a file to which each call appends the id of the process it ran in;
- ``NEARMISS_FAKE_ONLY_PID``: a process id; a call in any other process ends that process (as a
  coder that dies mid-chunk);
- ``NEARMISS_FAKE_NOT_FORKED``: if set, a call in a process forked after the suggester was built
  (the batch's forked coder) ends that process.

:data:`BEFORE_SUGGEST` is an in-process hook called with the call number before each ``suggest``.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.record import Record

SCHEMES = {"outcome": ("near_miss", "incident"), "cause": ("staffing", "it_design")}

#: Called as ``BEFORE_SUGGEST(call_number)`` (1-based) before each suggest call, when set.
BEFORE_SUGGEST: Callable[[int], None] | None = None


def _score(record_id: str, code: str) -> float:
    digest = hashlib.sha256(f"{record_id}:{code}".encode()).digest()
    return round(digest[0] / 255, 4)


@dataclass(frozen=True)
class FakeSuggestionSet:
    record_id: str
    model: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.record_id,
            "model": self.model,
            "suggestions": {
                scheme: [
                    {
                        "code": code,
                        "score": _score(self.record_id, code),
                        "selected": _score(self.record_id, code) >= 0.5,
                        "evidence": [{"text": "[redacted sentence]", "section": None}],
                    }
                    for code in codes
                ]
                for scheme, codes in SCHEMES.items()
            },
        }


class FakeSuggester:
    def __init__(self, bundle_dir: Path, name: str) -> None:
        self.bundle_dir = bundle_dir
        self.name = name
        self.calls = 0
        self._lock = threading.Lock()
        self._built_in = os.getpid()

    def suggest(self, records: Sequence[Record], *, redact: bool = True) -> list[FakeSuggestionSet]:
        self.redacted = redact
        with self._lock:
            self.calls += 1
            call = self.calls
        if BEFORE_SUGGEST is not None:
            BEFORE_SUGGEST(call)
        only = os.environ.get("NEARMISS_FAKE_ONLY_PID")
        if only and int(only) != os.getpid():
            os._exit(3)
        if os.environ.get("NEARMISS_FAKE_NOT_FORKED") and os.getpid() != self._built_in:
            os._exit(3)
        pids = os.environ.get("NEARMISS_FAKE_PIDS")
        if pids:
            with open(pids, "a", encoding="utf-8") as handle:
                handle.write(f"{os.getpid()}\n")
        delay = float(os.environ.get("NEARMISS_FAKE_DELAY", "0"))
        if delay:
            time.sleep(delay)
        log = os.environ.get("NEARMISS_FAKE_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as handle:
                handle.writelines(f"{record.id}\n" for record in records)
        return [FakeSuggestionSet(record.id, self.name) for record in records]


def load_fake(model: Path | None, db_url: str | None) -> FakeSuggester:
    """The factory: ``model`` names the bundle directory; otherwise a made-up one."""
    name = os.environ.get("NEARMISS_FAKE_NAME", "fake-v1")
    return FakeSuggester(model or Path("/nonexistent/bundles") / name, name)


def load_missing(model: Path | None, db_url: str | None) -> FakeSuggester:
    """A factory that fails as a missing bundle does."""
    from pipeline.errors import BundleError

    raise BundleError("No bundle found; train one with nearmiss train --out DIR")


FACTORY = "tests.flows.fakes:load_fake"
