"""The starter bundle: trained on the shipped synthetic GP sample, rebuilt reproducibly on demand.

Bundle artefacts are never committed (``models/*/`` is git-ignored), so the starter bundle is
built from ``data/sample/gp-near-miss-sample.jsonl`` and ``taxonomies/gp-near-miss/v1.yaml`` with
a fixed seed: by ``nearmiss train --starter``, or automatically the first time a command needs a
model and finds none. It is also rebuilt when it no longer matches the shipped sample, the shipped
taxonomy or the configured embedding model. Building it is the one call from ``pipeline`` into
``training`` outside the CLI, and imports ``training`` lazily.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.config import PROJECT_ROOT, Settings, get_settings
from pipeline.errors import NearMissError

if TYPE_CHECKING:
    from pipeline.embed import Embedder
    from pipeline.embed_spec import EmbedderSpec

__all__ = [
    "SAMPLE_DATA",
    "STARTER_DIR",
    "STARTER_NAME",
    "STARTER_SEED",
    "STARTER_TAXONOMY",
    "build_starter_bundle",
    "ensure_starter_bundle",
    "starter_dir",
    "starter_staleness",
]

logger = logging.getLogger(__name__)

STARTER_NAME = "starter-gp-near-miss-v1"
#: Where the starter bundle lives in the checkout.
STARTER_DIR = PROJECT_ROOT / "models" / STARTER_NAME
#: The shipped synthetic labelled sample and taxonomy, relative to the project root.
SAMPLE_DATA = Path("data/sample/gp-near-miss-sample.jsonl")
STARTER_TAXONOMY = Path("taxonomies/gp-near-miss/v1.yaml")
STARTER_SEED = 0


def starter_dir(settings: Settings | None = None) -> Path:
    """Return the starter bundle's directory under the settings' project root."""
    settings = settings or get_settings()
    return settings.project_root / "models" / STARTER_NAME


def build_starter_bundle(
    settings: Settings | None = None, *, embedder: Embedder | None = None, force: bool = True
) -> Path:
    """Build the starter bundle from the shipped sample and taxonomy, with a fixed seed.

    Parameters
    ----------
    settings : Settings or None
        Settings (project root, embedding model, cache); None reads the environment.
    embedder : Embedder or None
        The embedder; None means the settings' default (``Embedder.from_settings``).
    force : bool
        Replace an existing starter bundle.

    Returns
    -------
    Path
        The starter bundle's directory.

    Raises
    ------
    NearMissError
        If the shipped files are missing or training fails.
    """
    from pipeline.embed import Embedder
    from training.bundle import train_bundle

    settings = settings or get_settings()
    root = settings.project_root
    data, taxonomy = root / SAMPLE_DATA, root / STARTER_TAXONOMY
    for path in (data, taxonomy):
        if not path.is_file():
            raise NearMissError(
                f"Cannot build the starter bundle: {path} is missing; restore it from the "
                "repository or set NEARMISS_PROJECT_ROOT to the checkout"
            )
    logger.warning("Building the starter bundle %s (about a minute or two, once)", STARTER_NAME)
    return train_bundle(
        data,
        taxonomy,
        starter_dir(settings),
        embedder=embedder or Embedder.from_settings(settings),
        seed=STARTER_SEED,
        force=force,
        name=STARTER_NAME,
        synthetic=True,
    )


def starter_staleness(
    settings: Settings | None = None, embedder_spec: EmbedderSpec | None = None
) -> str | None:
    """Say why the starter bundle must be (re)built, or return None when it is current.

    It is stale when missing or unreadable, or when its recorded training data, taxonomy or
    embedding model differ from the shipped sample, the shipped taxonomy and the configured model.

    Parameters
    ----------
    settings : Settings or None
        Settings; None reads the environment.
    embedder_spec : EmbedderSpec or None
        The embedding model in force; None resolves the settings' model.

    Returns
    -------
    str or None
        The reason, or None.
    """
    from pipeline.bundle import file_sha256, read_metadata
    from pipeline.embed_spec import EmbedderSpec

    settings = settings or get_settings()
    directory = starter_dir(settings)
    try:
        metadata = read_metadata(directory)
    except NearMissError:
        return "it is missing or unreadable"
    root = settings.project_root
    if metadata.training_data.sha256 != file_sha256(root / SAMPLE_DATA):
        return "the shipped sample changed"
    if metadata.taxonomy.sha256 != file_sha256(root / STARTER_TAXONOMY):
        return "the shipped taxonomy changed"
    if metadata.embedder is not None:
        spec = embedder_spec or EmbedderSpec.from_model(settings.embedding_model)
        if spec.identity != metadata.embedder.identity:
            return f"the embedding model is now {spec.model}"
    return None


def ensure_starter_bundle(
    settings: Settings | None = None, *, embedder: Embedder | None = None
) -> Path:
    """Return the starter bundle's directory, building it first when missing or stale.

    Parameters
    ----------
    settings : Settings or None
        Settings; None reads the environment.
    embedder : Embedder or None
        The embedder to build with, if a build is needed.

    Returns
    -------
    Path
        The starter bundle's directory.

    Raises
    ------
    NearMissError
        If it has to be built and cannot be.
    """
    settings = settings or get_settings()
    reason = starter_staleness(settings, embedder.spec if embedder is not None else None)
    if reason is None:
        return starter_dir(settings)
    logger.warning("The starter bundle must be built: %s", reason)
    return build_starter_bundle(settings, embedder=embedder, force=True)
