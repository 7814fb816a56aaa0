"""Train a model bundle from labelled data: one calibrated head per scheme that has labels.

:func:`train_bundle` reads and redacts the labelled file (:func:`training.dataset.load_dataset`),
embeds each scheme's text view once (through the embedder's cache), fits every trainable scheme
with :func:`training.scheme.fit_scheme`, exports the chosen views as arrays
(:func:`training.export.export_head`) and writes the bundle with
:func:`pipeline.bundle.write_bundle`. Schemes with too few labels are recorded as cold start.
Fixed seeds make it deterministic: the same data, taxonomy and embedder give byte-identical
``heads.npz`` and ``heads.json``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import platform
import time
from collections.abc import Mapping, Sequence
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pipeline.bundle import file_sha256, write_bundle
from pipeline.bundle_metadata import (
    FORMAT_VERSION,
    BundleMetadata,
    CandidateInfo,
    EmbedderInfo,
    SchemeInfo,
    TaxonomyInfo,
    TrainingDataInfo,
    taxonomy_fingerprint,
)
from pipeline.embed import Embedder
from pipeline.errors import BundleError, InputError
from pipeline.evidence import view_sentences
from pipeline.head import HEAD_VIEWS, LinearView, SchemeHead, pool_sentence_vectors
from pipeline.head_state import head_to_state
from pipeline.sentences import PreparedRecord, prepare_records
from pipeline.taxonomy import load_taxonomy
from pipeline.views import TEXT_VIEWS, scheme_text
from training.card import model_card
from training.cold_start import fit_cold_start
from training.dataset import MIN_POSITIVES, MIN_RECORDS, Dataset, SchemeData, load_dataset
from training.evaluate import SchemeEvaluation, evaluate_codes
from training.export import export_head
from training.features import Corpus, view_estimator
from training.head import default_estimator
from training.scheme import SchemeModel, fit_scheme

__all__ = ["RECOVERY_SCHEMES", "THRESHOLD_MIN_POSITIVES", "default_text_view", "train_bundle"]

logger = logging.getLogger(__name__)

#: Schemes that read only the recovery part of a narrative (never "what has been changed").
RECOVERY_SCHEMES = frozenset({"recovery", "recovery_agent"})
#: Codes with this many positives get their own threshold; rarer ones are shrunk toward the
#: scheme's (see training.threshold).
THRESHOLD_MIN_POSITIVES = 20
_LIBRARIES = ("numpy", "scipy", "scikit-learn", "sentence-transformers", "spacy", "nearmiss")


def default_text_view(scheme_id: str) -> str:
    """Return the text view a scheme trains on: ``"recovery"`` for the recovery schemes."""
    return "recovery" if scheme_id in RECOVERY_SCHEMES else "full"


def train_bundle(
    data_path: Path,
    taxonomy_path: Path,
    out_dir: Path,
    *,
    embedder: Embedder | None = None,
    seed: int = 0,
    force: bool = False,
    name: str | None = None,
    synthetic: bool | None = None,
    text_views: Mapping[str, str] | None = None,
    views: Sequence[str] = HEAD_VIEWS,
    cv: int = 5,
    calibration: str = "sigmoid",
    n_jobs: int | None = None,
    part_sha256: Sequence[str] = (),
) -> Path:
    """Train every scheme with enough labels and write the bundle to ``out_dir``.

    Parameters
    ----------
    data_path : Path
        Labelled JSONL (records with ``codes``).
    taxonomy_path : Path
        The taxonomy the labels use; copied into the bundle.
    out_dir : Path
        The bundle directory to create.
    embedder : Embedder or None
        Embeds the redacted texts; None means ``Embedder.from_settings()``. Its identity is
        recorded even when no head uses embeddings: cold start reads them.
    seed : int
        Seed of the cross-validation folds.
    force : bool
        Replace an existing non-empty ``out_dir``.
    name : str or None
        The bundle's name; default ``out_dir``'s name.
    synthetic : bool or None
        Whether the data is synthetic (changes the model card); None means "every record's
        ``source`` is ``synthetic``".
    text_views : mapping of str to str or None
        Text view per scheme id; default :func:`default_text_view`.
    views : sequence of str
        Feature views to consider (``"tfidf"``, ``"embedding"``, ``"sentences"``,
        ``"nb_tfidf"``); every combination of them is scored out of fold and the best is kept.
    cv : int
        Cross-validation folds.
    calibration : {"sigmoid", "isotonic"}
        How scores become probabilities.
    n_jobs : int or None
        Parallel fits (joblib).
    part_sha256 : sequence of str
        SHA-256 of each file ``data_path`` was joined from, recorded so that evaluating on one
        of them is flagged as evaluating on training data.

    Returns
    -------
    Path
        ``out_dir``.

    Raises
    ------
    InputError
        On bad labelled data (see :func:`training.dataset.load_dataset`) or bad options.
    BundleError
        If ``out_dir`` exists, is not empty and ``force`` is false.
    TaxonomyError
        If the taxonomy file is invalid.
    """
    if out_dir.exists() and any(out_dir.iterdir()) and not force:
        raise BundleError(
            f"{out_dir} exists and is not empty; choose a new --out or pass --force to replace it"
        )
    unknown = [view for view in views if view not in HEAD_VIEWS]
    if unknown or not views:
        raise InputError(f"views {list(views)} must be one or more of {HEAD_VIEWS}")
    started = time.perf_counter()
    taxonomy = load_taxonomy(taxonomy_path)
    dataset = load_dataset(data_path, taxonomy)
    chosen = {s: (text_views or {}).get(s, default_text_view(s)) for s in taxonomy.scheme_ids}
    bad = {s: v for s, v in chosen.items() if v not in TEXT_VIEWS}
    if bad:
        raise InputError(f"text views {bad} are unknown; use one of {TEXT_VIEWS}")
    # Always resolved: cold start, and its blending with trained heads, read embeddings.
    embedder = embedder or Embedder.from_settings()
    fit_options: dict[str, Any] = {
        "views": tuple(views),
        "cv": cv,
        "calibration": calibration,
        "random_state": seed,
        "n_jobs": n_jobs,
    }
    heads_json: dict[str, Any] = {"format_version": FORMAT_VERSION, "schemes": {}}
    arrays: dict[str, Any] = {}
    infos: dict[str, SchemeInfo] = {}
    # Sentences are split as at inference (pipeline.sentences), so the sentences view pools
    # the same vectors the suggester will pool.
    prepared = prepare_records(list(dataset.records), redact=False) if "sentences" in views else []
    for scheme_id, data in dataset.schemes.items():
        if data.skipped:
            logger.warning(
                "Scheme %s: %d records labelled [] left out (single-label needs one code)",
                *(scheme_id, data.skipped),
            )
        if data.cold_start_reason is not None:
            logger.warning("Scheme %s: cold start (%s)", scheme_id, data.cold_start_reason)
            infos[scheme_id] = _cold_info(data, chosen[scheme_id])
            continue
        info, params, scheme_arrays = _fit(
            dataset, data, chosen[scheme_id], embedder, fit_options, prepared
        )
        infos[scheme_id] = info
        heads_json["schemes"][scheme_id] = params
        arrays.update(scheme_arrays)
    cold_start = _cold_start(dataset, embedder, chosen)
    meta = BundleMetadata(
        format_version=FORMAT_VERSION,
        name=name or out_dir.resolve().name,
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        taxonomy=TaxonomyInfo(
            name=taxonomy.name,
            version=taxonomy.version,
            sha256=file_sha256(taxonomy_path),
            fingerprint=taxonomy_fingerprint(taxonomy),
        ),
        embedder=_embedder_info(embedder),
        libraries=_libraries(),
        training_data=TrainingDataInfo(
            sha256=dataset.sha256,
            n_records=len(dataset.records),
            path_name=data_path.name,
            synthetic=_is_synthetic(dataset) if synthetic is None else synthetic,
            part_sha256=list(part_sha256),
        ),
        seed=seed,
        training={
            "cv": cv,
            "views": list(views),
            "calibration": calibration,
            "estimator": repr(default_estimator()),
            **(
                {"nb_tfidf_estimator": view_estimator("nb_tfidf").get_params()}
                if "nb_tfidf" in views
                else {}
            ),
            "threshold_min_positives": THRESHOLD_MIN_POSITIVES,
            "cold_start_below": {"records": MIN_RECORDS, "positives_per_code": MIN_POSITIVES},
            "text_views": chosen,
            **({"cold_start": cold_start} if cold_start is not None else {}),
            "seconds": round(time.perf_counter() - started, 1),
        },
        schemes=infos,
    )
    write_bundle(out_dir, arrays, heads_json, meta, taxonomy_path, model_card(meta), force=force)
    logger.info("Trained bundle %s in %.1f s", meta.name, time.perf_counter() - started)
    return out_dir


def _fit(
    dataset: Dataset,
    data: SchemeData,
    text_view: str,
    embedder: Embedder,
    options: dict[str, Any],
    prepared: Sequence[PreparedRecord],
) -> tuple[SchemeInfo, dict[str, Any], dict[str, Any]]:
    """Fit one scheme (``options`` go to fit_scheme); return its metadata, params and arrays."""
    scheme = data.scheme
    texts = tuple(scheme_text(dataset.records[i], text_view) for i in data.rows)
    embeddings = None
    if "embedding" in options["views"]:
        embeddings = embedder.encode(texts)
    sentence_features = None
    if "sentences" in options["views"]:
        found = view_sentences([prepared[i] for i in data.rows], text_view)
        vectors = embedder.encode(list(found.texts))
        sentence_features = pool_sentence_vectors(vectors.reshape(-1, embedder.dim), found.bounds)
    started = time.perf_counter()
    # A multi-label scheme of one code (present or not) is fitted beside its complement: a
    # one-column label array reads as a binary target, not as one code. The code's own
    # column is an independent one-vs-rest head, so keeping only it is exact.
    single_code = scheme.multi_label and len(data.codes) == 1
    y = np.column_stack([data.y, 1 - data.y]) if single_code else data.y
    codes = (*data.codes, f"not_{data.codes[0]}") if single_code else data.codes
    model = fit_scheme(
        Corpus(texts, embeddings=embeddings, sentence_features=sentence_features),
        y,
        codes,
        multi_label=scheme.multi_label,
        min_positives=THRESHOLD_MIN_POSITIVES,
        **options,
    )
    head = export_head(
        model, scheme.id, y=y, text_view=text_view, min_positives=THRESHOLD_MIN_POSITIVES
    )
    metrics = model.oof_metrics
    if single_code:
        head, metrics = _first_code(head, model, data.y)
    params, arrays = head_to_state(head)
    logger.info(
        "Scheme %s: %d records, %s, out-of-fold micro-F1 %.3f macro-F1 %.3f (%.1f s)",
        *(scheme.id, len(texts), model.features, metrics.micro.f1, metrics.macro.f1),
        time.perf_counter() - started,
    )
    info = SchemeInfo(
        codes=list(data.codes),
        multi_label=scheme.multi_label,
        text_view=text_view,
        n_records=len(texts),
        n_positives=data.n_positives,
        cold_start=False,
        features=model.features,
        candidates={
            key: CandidateInfo(**{**c.to_dict(), "thresholds": _list(c.thresholds)})
            for key, c in model.candidates.items()
        },
        thresholds=(
            None
            if head.thresholds is None
            else dict(zip(data.codes, head.thresholds.tolist(), strict=True))
        ),
        scheme_threshold=head.scheme_threshold,
        cv_metrics=metrics.to_dict(),
    )
    return info, params, arrays


def _first_code(
    head: SchemeHead, model: SchemeModel, y: NDArray[np.int64]
) -> tuple[SchemeHead, SchemeEvaluation]:
    """Keep the first code of a head fitted beside its complement, and score it alone."""
    views = {
        name: LinearView(view.coef[:1], view.intercept[:1], view.calibrators[:1])
        for name, view in head.views.items()
    }
    assert head.thresholds is not None
    thresholds = head.thresholds[:1]
    kept = dataclasses.replace(
        head,
        codes=head.codes[:1],
        views=views,
        thresholds=thresholds,
        n_positives=head.n_positives[:1],
    )
    members = model.features.split("+")
    oof = np.mean([model.heads[view].oof_proba_[:, :1] for view in members], axis=0)
    decided = (oof >= thresholds).astype(np.int64)
    return kept, evaluate_codes(y, decided, kept.codes, oof)


def _cold_start(
    dataset: Dataset, embedder: Embedder, text_views: Mapping[str, str]
) -> dict[str, Any] | None:
    """Fit the bundle's cold-start calibration; return what metadata records, or None."""
    started = time.perf_counter()
    fit = fit_cold_start(dataset, embedder, text_views)
    if fit is None:
        logger.warning(
            "Cold-start calibration not fitted (too few labelled code pairs, or definitions "
            "that do not match the labels); suggest will use the embedding model's table"
        )
        return None
    c = fit.calibration
    logger.info(
        "Cold-start calibration fitted on %d pairs of %d records (%s): center %.3f, slope %.2f, "
        "threshold %.3f (%.1f s)",
        *(fit.n_pairs, fit.n_records, ", ".join(fit.schemes), c.center, c.slope, c.threshold),
        time.perf_counter() - started,
    )
    return fit.to_dict()


def _cold_info(data: SchemeData, text_view: str) -> SchemeInfo:
    return SchemeInfo(
        codes=list(data.codes),
        multi_label=data.scheme.multi_label,
        text_view=text_view,
        n_records=len(data.rows),
        n_positives=data.n_positives,
        cold_start=True,
        cold_start_reason=data.cold_start_reason,
    )


def _list(values: tuple[float, ...] | None) -> list[float] | None:
    return None if values is None else list(values)


def _embedder_info(embedder: Embedder) -> EmbedderInfo:
    spec = embedder.spec
    return EmbedderInfo(
        model=spec.model, revision=spec.revision, identity=spec.identity, dim=embedder.dim
    )


def _libraries() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in _LIBRARIES:
        try:
            versions[package] = package_metadata.version(package)
        except package_metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _is_synthetic(dataset: Dataset) -> bool:
    return all(record.source == "synthetic" for record in dataset.records)
