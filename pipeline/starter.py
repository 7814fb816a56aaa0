"""The starter bundle: trained on the shipped synthetic data, rebuilt reproducibly on demand.

Bundle artefacts are never committed (``models/*/`` is git-ignored), so the starter bundle is
built from ``data/sample/gp-near-miss-sample.jsonl`` and ``taxonomies/gp-near-miss/v1.yaml`` with
a fixed seed: by ``nearmiss train --starter``, or automatically the first time a command needs a
model and finds none. It is also rebuilt when it no longer matches the shipped data, the shipped
taxonomy or the configured embedding model. Building it is the one call from ``pipeline`` into
``training`` outside the CLI, and imports ``training`` lazily.

Its training data is the GP sample followed by the concept set
``data/concepts/recovery-agent-multidomain.jsonl``: near misses from many other safety domains,
of which only the :data:`CONCEPT_SCHEMES` labels are kept. The GP sample alone would teach the
recovery schemes GP vocabulary (EMIS, 2WW, the pharmacy's screen); the concept set teaches the
recovery rule itself (a check that happens every time, whoever is on duty, against someone's
initiative, memory or luck), so that human and designed recoveries are told apart in any
domain. :func:`starter_training_data` joins the two deterministically; the bundle records the
joined file's hash, which :func:`starter_staleness` recomputes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.config import PROJECT_ROOT, Settings, get_settings
from pipeline.errors import InputError, NearMissError
from pipeline.record import iter_labelled

if TYPE_CHECKING:
    from pipeline.embed import Embedder
    from pipeline.embed_spec import EmbedderSpec

__all__ = [
    "CONCEPT_DATA",
    "CONCEPT_SCHEMES",
    "SAMPLE_DATA",
    "STARTER_DIR",
    "STARTER_NAME",
    "STARTER_SEED",
    "STARTER_TAXONOMY",
    "STARTER_TRAINING_NAME",
    "build_starter_bundle",
    "ensure_starter_bundle",
    "starter_dir",
    "starter_staleness",
    "starter_training_data",
]

logger = logging.getLogger(__name__)

STARTER_NAME = "starter-gp-near-miss-v1"
#: Where the starter bundle lives in the checkout.
STARTER_DIR = PROJECT_ROOT / "models" / STARTER_NAME
#: The shipped synthetic labelled sample and taxonomy, relative to the project root.
SAMPLE_DATA = Path("data/sample/gp-near-miss-sample.jsonl")
STARTER_TAXONOMY = Path("taxonomies/gp-near-miss/v1.yaml")
#: The domain-neutral concept set (synthetic near misses from other safety domains).
CONCEPT_DATA = Path("data/concepts/recovery-agent-multidomain.jsonl")
#: The schemes the starter learns from the concept set; its other labels are dropped, so that
#: the other heads (outcome...) learn from GP narratives only.
CONCEPT_SCHEMES: tuple[str, ...] = ("recovery", "recovery_agent")
#: The name of the joined training file, as the bundle's metadata and card record it.
STARTER_TRAINING_NAME = "gp-near-miss-sample+recovery-agent-multidomain.jsonl"
STARTER_SEED = 0


def starter_dir(settings: Settings | None = None) -> Path:
    """Return the starter bundle's directory under the settings' project root."""
    settings = settings or get_settings()
    return settings.project_root / "models" / STARTER_NAME


def build_starter_bundle(
    settings: Settings | None = None, *, embedder: Embedder | None = None, force: bool = True
) -> Path:
    """Build the starter bundle from the shipped sample, concept set and taxonomy, seed fixed.

    The training data is :func:`starter_training_data`, written to a temporary file named
    :data:`STARTER_TRAINING_NAME` (the name the bundle's metadata and card record).

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
    taxonomy = _shipped(settings.project_root / STARTER_TAXONOMY)
    data = starter_training_data(settings)
    logger.warning("Building the starter bundle %s (about a minute or two, once)", STARTER_NAME)
    with tempfile.TemporaryDirectory(prefix="nearmiss-starter-") as scratch:
        joined = Path(scratch) / STARTER_TRAINING_NAME
        joined.write_bytes(data)
        return train_bundle(
            joined,
            taxonomy,
            starter_dir(settings),
            embedder=embedder or Embedder.from_settings(settings),
            seed=STARTER_SEED,
            force=force,
            name=STARTER_NAME,
            synthetic=True,
            part_sha256=[
                hashlib.sha256(path.read_bytes()).hexdigest()
                for path in (
                    settings.project_root / SAMPLE_DATA,
                    settings.project_root / CONCEPT_DATA,
                )
            ],
        )


def starter_training_data(settings: Settings | None = None) -> bytes:
    """Return the starter's labelled training data: the GP sample, then the concept set.

    The sample's lines are kept byte for byte; each concept record keeps only its
    :data:`CONCEPT_SCHEMES` labels (a scheme absent means "not labelled for it", so the other
    heads ignore the record) and is written as one compact JSON line. The result depends only
    on the two files, so its SHA-256 identifies the starter's training data.

    Parameters
    ----------
    settings : Settings or None
        Settings (the project root); None reads the environment.

    Returns
    -------
    bytes
        Labelled JSONL, UTF-8.

    Raises
    ------
    NearMissError
        If a shipped file is missing.
    InputError
        If a concept line is not a labelled record (naming the file and line), or labels none
        of the :data:`CONCEPT_SCHEMES`.
    """
    settings = settings or get_settings()
    root = settings.project_root
    sample = _shipped(root / SAMPLE_DATA).read_bytes()
    concepts = _shipped(root / CONCEPT_DATA)
    lines = [sample if sample.endswith(b"\n") or not sample else sample + b"\n"]
    for number, record in iter_labelled(concepts):
        codes = {s: c for s, c in record.codes.items() if s in CONCEPT_SCHEMES}
        if not codes:
            raise InputError(
                f"{concepts}, line {number}: record '{record.id}' labels none of "
                f"{', '.join(CONCEPT_SCHEMES)}; label them or remove the line"
            )
        row = record.model_dump(mode="json", exclude_none=True) | {"codes": codes}
        lines.append(json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
    return b"".join(lines)


def _shipped(path: Path) -> Path:
    """Return a shipped file's path, or raise saying how to restore it."""
    if not path.is_file():
        raise NearMissError(
            f"Cannot build the starter bundle: {path} is missing; restore it from the "
            "repository or set NEARMISS_PROJECT_ROOT to the checkout"
        )
    return path


def starter_staleness(
    settings: Settings | None = None, embedder_spec: EmbedderSpec | None = None
) -> str | None:
    """Say why the starter bundle must be (re)built, or return None when it is current.

    It is stale when missing or unreadable, or when its recorded training data, taxonomy or
    embedding model differ from the shipped data (:func:`starter_training_data`: the sample and
    the concept set), the shipped taxonomy and the configured model.

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
    try:
        data = starter_training_data(settings)
    except NearMissError as error:
        return f"its training data cannot be read ({error})"
    if metadata.training_data.sha256 != hashlib.sha256(data).hexdigest():
        return "the shipped sample or concept set changed"
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
