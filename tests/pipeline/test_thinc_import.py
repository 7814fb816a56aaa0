"""spaCy loads without torch (our pipelines are rule-based), and torch stays importable."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

REDACT_THEN_TORCH = """
import json, sys
from pipeline.redact import redact_texts
redacted = redact_texts(["Dr John Smith saw Mrs Patel on 3 May"])
import thinc, thinc.compat
before = "torch" in sys.modules
import torch
print(json.dumps({"redacted": redacted, "torch_before": before,
                  "thinc_has_torch": thinc.compat.has_torch,
                  "thinc_loader": type(thinc.__loader__).__name__,
                  "torch_works": float(torch.ones(2).sum())}))
"""

TORCH_FIRST = """
import json, torch
from pipeline.redact import redact_texts
redact_texts(["x"])
import thinc.compat
print(json.dumps({"thinc_has_torch": thinc.compat.has_torch}))
"""


def _run(code: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=300
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.slow
def test_redaction_loads_spacy_without_torch_and_torch_still_imports_afterwards() -> None:
    result = _run(REDACT_THEN_TORCH)
    assert result["redacted"] == ["Dr [NAME] saw Mrs [NAME] on [DATE]"]
    assert result["torch_before"] is False
    assert result["thinc_has_torch"] is False
    assert result["thinc_loader"] == "SourceFileLoader"  # thinc keeps its own loader
    assert result["torch_works"] == 2.0


@pytest.mark.slow
def test_with_torch_already_imported_thinc_sees_it() -> None:
    assert _run(TORCH_FIRST) == {"thinc_has_torch": True}
