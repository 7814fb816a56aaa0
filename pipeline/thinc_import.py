"""Let spaCy load without torch: our spaCy pipelines are rule-based, and torch costs seconds.

nearmiss uses spaCy for tokenizing and rule-based components only (``spacy.blank``), never a
model that runs on thinc's torch layers. But ``thinc``, which spaCy imports, imports torch
whenever it is installed (it is: sentence-transformers needs it for MiniLM): about 1.5 s at
start-up and a second of interpreter teardown at exit, in every process that redacts or splits
sentences. :func:`hide_torch_from_thinc` installs an import hook that, for the first import of
``thinc`` alone, makes ``import torch`` fail, so thinc records that torch is absent; torch stays
importable for everything else (MiniLM through sentence-transformers). Nothing happens if torch
or thinc is already imported.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType

__all__ = ["hide_torch_from_thinc"]


class _WithoutTorch(importlib.abc.Loader):
    """Run another loader with ``torch`` hidden from ``import`` statements."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # The module keeps its own loader (resources and reloads go to it, not to this wrapper).
        module.__loader__ = self.loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        if "torch" in sys.modules:  # imported meanwhile: thinc may as well use it
            self.loader.exec_module(module)
            return
        sys.modules["torch"] = None  # type: ignore[assignment]  # makes `import torch` fail
        try:
            self.loader.exec_module(module)
        finally:
            if "torch" in sys.modules and sys.modules["torch"] is None:
                del sys.modules["torch"]


class _ThincFinder(importlib.abc.MetaPathFinder):
    """Find ``thinc`` once, with a loader that hides torch from it."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "thinc":
            return None
        sys.meta_path.remove(self)  # once, and never in the way of the search below
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or "torch" in sys.modules:
            return spec
        spec.loader = _WithoutTorch(spec.loader)
        return spec


def hide_torch_from_thinc() -> None:
    """Install the hook, unless thinc or torch is already imported (it would change nothing)."""
    if "thinc" in sys.modules or "torch" in sys.modules:
        return
    if not any(isinstance(finder, _ThincFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _ThincFinder())
