"""Model bundles: a directory of heads, metadata, a copy of the taxonomy and a model card.

Nothing in a bundle can run code when loaded: heads are JSON plus ``.npz`` arrays read with
``allow_pickle=False``. Loading checks every file against the SHA-256 recorded in
``metadata.json``, the taxonomy in force against the one the bundle was trained on, and the
local embedding model against the one it was trained with; each failure is a
:class:`~pipeline.errors.BundleError` that says how to fix it.

Layout::

    DIR/metadata.json   BundleMetadata (see pipeline.bundle_metadata)
    DIR/heads.npz       arrays of every trained head
    DIR/heads.json      the heads' other parameters
    DIR/taxonomy.yaml   byte copy of the taxonomy trained on
    DIR/CARD.md         model card
"""

from __future__ import annotations

import json
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from pipeline.bundle_files import (
    CARD_FILE,
    HEADS_ARRAYS,
    HEADS_PARAMS,
    METADATA_FILE,
    TAXONOMY_FILE,
    file_sha256,
    verify_files,
    write_bundle,
)
from pipeline.bundle_metadata import FORMAT_VERSION, BundleMetadata, taxonomy_fingerprint
from pipeline.embed import Embedder, EmbedderSpec, EmbeddingCache, TextEncoder
from pipeline.errors import BundleError
from pipeline.head import SchemeHead
from pipeline.head_state import head_from_state
from pipeline.taxonomy import Taxonomy, load_taxonomy

__all__ = [
    "CARD_FILE",
    "HEADS_ARRAYS",
    "HEADS_PARAMS",
    "METADATA_FILE",
    "TAXONOMY_FILE",
    "Bundle",
    "file_sha256",
    "load_bundle",
    "read_metadata",
    "write_bundle",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Bundle:
    """A loaded, verified bundle.

    Attributes
    ----------
    name : str
        The bundle's name (the ``model`` of its suggestions).
    path : Path
        The bundle directory.
    metadata : BundleMetadata
        The validated ``metadata.json``.
    taxonomy : Taxonomy
        The taxonomy it was trained on (its own copy).
    heads : dict of str to SchemeHead
        Trained heads by scheme id; cold-start schemes have none.
    embedder_spec : EmbedderSpec or None
        The embedding model its heads and cold start need, checked against the recorded identity;
        None when it needs none or the check was skipped.
    """

    name: str
    path: Path
    metadata: BundleMetadata
    taxonomy: Taxonomy
    heads: dict[str, SchemeHead]
    embedder_spec: EmbedderSpec | None = None

    @property
    def cold_start_schemes(self) -> tuple[str, ...]:
        """Scheme ids of the taxonomy that have no trained head, in taxonomy order."""
        return tuple(s for s in self.taxonomy.scheme_ids if s not in self.heads)

    def make_embedder(
        self, cache_dir: Path | None = None, encoder: TextEncoder | None = None
    ) -> Embedder:
        """Build an embedder for the bundle's model, caching in ``cache_dir`` (default: settings).

        Raises
        ------
        BundleError
            If the bundle records no embedder or it was not resolved at load.
        """
        if self.embedder_spec is None:
            raise BundleError(f"Bundle {self.name} records no embedding model it was checked with")
        if cache_dir is None:
            from pipeline.config import get_settings

            cache_dir = get_settings().cache_dir
        return Embedder(self.embedder_spec, EmbeddingCache(cache_dir), encoder=encoder)


def read_metadata(bundle_dir: Path) -> BundleMetadata:
    """Read and validate a bundle's ``metadata.json`` (no other check).

    Raises
    ------
    BundleError
        If there is no bundle at ``bundle_dir`` or its metadata is invalid.
    """
    path = bundle_dir / METADATA_FILE
    if not path.is_file():
        raise BundleError(
            f"No bundle at {bundle_dir} (no {METADATA_FILE}); train one with "
            f"nearmiss train --out {bundle_dir}, or check --model / NEARMISS_MODEL"
        )
    try:
        metadata = BundleMetadata.model_validate_json(path.read_bytes())
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "value"
        raise BundleError(
            f"{path}: field '{where}' {first['msg']}; the bundle is damaged or from another "
            "version of nearmiss, rebuild it with nearmiss train"
        ) from None
    if metadata.format_version != FORMAT_VERSION:
        raise BundleError(
            f"Bundle {bundle_dir} has format {metadata.format_version} but this nearmiss reads "
            f"format {FORMAT_VERSION}; retrain it with nearmiss train"
        )
    return metadata


def load_bundle(
    bundle_dir: Path,
    taxonomy: Taxonomy | None = None,
    *,
    embedder_spec: EmbedderSpec | None = None,
    check_embedder: bool = True,
) -> Bundle:
    """Load a bundle after checking its files, its taxonomy and its embedding model.

    Parameters
    ----------
    bundle_dir : Path
        The bundle directory.
    taxonomy : Taxonomy or None
        The taxonomy in force; it must be the one the bundle was trained on. None uses the
        bundle's own copy.
    embedder_spec : EmbedderSpec or None
        The embedding model to check against the recorded identity; None resolves the recorded
        model locally (``EmbedderSpec.from_model``).
    check_embedder : bool
        Whether to resolve and check the embedding model now.

    Returns
    -------
    Bundle
        The verified bundle.

    Raises
    ------
    BundleError
        If a file is missing or altered, the taxonomy or the embedding model differs, or a head
        is malformed.
    EmbedderError
        If the recorded embedding model is not installed here.
    """
    metadata = read_metadata(bundle_dir)
    verify_files(bundle_dir, metadata)
    own = load_taxonomy(bundle_dir / TAXONOMY_FILE)
    if taxonomy is not None:
        _check_taxonomy(metadata, taxonomy)
    heads = _load_heads(bundle_dir, metadata, own)
    spec = None
    if check_embedder and metadata.embedder is not None:
        spec = embedder_spec or EmbedderSpec.from_model(metadata.embedder.model)
        if spec.identity != metadata.embedder.identity:
            raise BundleError(
                f"Bundle {metadata.name} was trained with embedding model "
                f"{metadata.embedder.model} (revision {metadata.embedder.revision[:12]}) but the "
                f"local model {spec.model} is revision {spec.revision[:12]}; retrain with "
                "nearmiss train, or install the model it was trained with"
            )
    logger.info("Loaded bundle %s (%d trained heads)", metadata.name, len(heads))
    return Bundle(metadata.name, bundle_dir, metadata, own, heads, spec)


def _check_taxonomy(metadata: BundleMetadata, taxonomy: Taxonomy) -> None:
    """Refuse a taxonomy other than the one the bundle was trained on, saying how to fix it."""
    trained = metadata.taxonomy
    if (taxonomy.name, taxonomy.version) != (trained.name, trained.version):
        raise BundleError(
            f"Bundle {metadata.name} was trained on {trained.name} v{trained.version} but "
            f"{taxonomy.name} v{taxonomy.version} is loaded; retrain with nearmiss train "
            f"--taxonomy {taxonomy.path or 'FILE'}, or set NEARMISS_TAXONOMY to "
            f"taxonomies/{trained.name}/v{trained.version}.yaml"
        )
    if taxonomy_fingerprint(taxonomy) != trained.fingerprint:
        raise BundleError(
            f"Bundle {metadata.name} was trained on {trained.name} v{trained.version}, but the "
            f"loaded file {taxonomy.path or ''} with that name and version has different codes or "
            "definitions; a released version is never edited: restore it, or save the change as "
            "a new version and retrain with nearmiss train"
        )


def _load_heads(
    bundle_dir: Path, metadata: BundleMetadata, taxonomy: Taxonomy
) -> dict[str, SchemeHead]:
    """Rebuild the trained heads and check them against the bundle's taxonomy."""
    try:
        params = json.loads((bundle_dir / HEADS_PARAMS).read_text(encoding="utf-8"))
        with np.load(bundle_dir / HEADS_ARRAYS, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise BundleError(f"Bundle {bundle_dir}: heads unreadable ({error}); rebuild it") from None
    heads: dict[str, SchemeHead] = {}
    for scheme_id, info in metadata.schemes.items():
        if info.cold_start:
            continue
        if scheme_id not in params.get("schemes", {}):
            raise BundleError(f"Bundle {bundle_dir}: no head for scheme '{scheme_id}'; rebuild it")
        head = head_from_state(scheme_id, params["schemes"][scheme_id], arrays)
        leaf_ids = taxonomy.scheme(scheme_id).leaf_ids
        if head.codes != leaf_ids:
            raise BundleError(
                f"Bundle {bundle_dir}: head of scheme '{scheme_id}' has codes {list(head.codes)} "
                f"but the taxonomy has {list(leaf_ids)}; rebuild it with nearmiss train"
            )
        heads[scheme_id] = head
    return heads
