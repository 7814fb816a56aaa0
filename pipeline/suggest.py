"""Suggest codes for narratives with a model bundle: scores, decisions and evidence per scheme.

:class:`Suggester` redacts each record first (text and sections), then for every scheme of the
bundle's taxonomy scores every code (trained head blended with cold start, see
:mod:`pipeline.scorer`), decides which codes are selected, applies the recovery rule and picks
evidence sentences for the selected codes (:mod:`pipeline.evidence`). Embeddings go through the
embedding cache, so re-coding an unchanged corpus computes nothing.

**The recovery rule** (:mod:`pipeline.suggestion`). Recovery is coded for near misses only: when
the ``outcome`` scheme's top code is not ``near_miss``, no code of ``recovery`` or
``recovery_agent`` is selected (their scores are kept, so a reviewer who overturns the outcome
still sees them). Recovery schemes read the what-happened, action-taken and went-well text only,
never a "what has been changed" section (see :mod:`pipeline.views`).

:func:`load_suggester` resolves the bundle: ``--model``, ``NEARMISS_MODEL``, the bundle promoted
in the store (when a store is configured, after checking its files against the registry), then
the starter bundle (built on first use).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import sklearn
from numpy.typing import NDArray

from pipeline.bundle import METADATA_FILE, Bundle, load_bundle
from pipeline.embed import Embedder, TextEncoder
from pipeline.evidence import pick_evidence, view_sentences
from pipeline.head import (
    DEFAULT_COLD_START,
    ColdStartCalibration,
    ColdStartHead,
    cold_start_calibration,
    cold_start_texts,
)
from pipeline.record import Record
from pipeline.scorer import SchemeScorer, share_vectorizers
from pipeline.sentences import prepare_records
from pipeline.suggestion import (
    NEAR_MISS,
    OUTCOME_SCHEME,
    RECOVERY_SCHEMES,
    SCORE_DIGITS,
    CodeSuggestion,
    Evidence,
    SuggestionSet,
    apply_recovery_rule,
)
from pipeline.taxonomy import Taxonomy
from pipeline.views import scheme_text

__all__ = [
    "NEAR_MISS",
    "OUTCOME_SCHEME",
    "RECOVERY_SCHEMES",
    "CodeSuggestion",
    "Evidence",
    "Suggester",
    "SuggestionSet",
    "apply_recovery_rule",
    "load_suggester",
]

logger = logging.getLogger(__name__)


class Suggester:
    """Suggest codes with one bundle: every code of every scheme of its taxonomy.

    Parameters
    ----------
    bundle : Bundle
        A loaded bundle (see :func:`pipeline.bundle.load_bundle`).
    embedder : Embedder
        The bundle's embedding model, through the cache (``bundle.make_embedder()``).

    Attributes
    ----------
    name : str
        The bundle's name, written as ``model`` on every suggestion set.
    bundle_dir : Path
        The bundle directory.
    scorers : dict of str to SchemeScorer
        One per scheme, in taxonomy order.
    """

    def __init__(self, bundle: Bundle, embedder: Embedder) -> None:
        self.bundle = bundle
        self.embedder = embedder
        self.name = bundle.name
        self.bundle_dir = bundle.path
        self.scorers = self._scorers(bundle, embedder)

    @classmethod
    def load(
        cls,
        bundle_dir: Path,
        *,
        taxonomy: Taxonomy | None = None,
        encoder: TextEncoder | None = None,
        cache_dir: Path | None = None,
    ) -> Suggester:
        """Load a bundle and build its suggester (once per process and bundle content).

        Parameters
        ----------
        bundle_dir : Path
            The bundle directory.
        taxonomy : Taxonomy or None
            The taxonomy in force, checked against the bundle's; None trusts the bundle's copy.
        encoder : TextEncoder or None
            An already loaded model (tests pass a fake); not cached.
        cache_dir : Path or None
            The embedding cache; None means the settings' (``NEARMISS_CACHE_DIR``).

        Returns
        -------
        Suggester
            The suggester.

        Raises
        ------
        BundleError
            If the bundle is missing, altered, or does not match the taxonomy or the model.
        """
        cacheable = encoder is None and cache_dir is None
        key = _cache_key(bundle_dir, taxonomy) if cacheable else None
        if key is not None and key in _LOADED:
            return _LOADED[key]
        bundle = load_bundle(bundle_dir, taxonomy)
        suggester = cls(bundle, bundle.make_embedder(cache_dir, encoder))
        if key is not None:
            with _LOCK:
                _LOADED[key] = suggester
        return suggester

    def suggest(self, records: Sequence[Record], *, redact: bool = True) -> list[SuggestionSet]:
        """Suggest codes for records: one suggestion set per record, in order, same id.

        Parameters
        ----------
        records : sequence of Record
            The records; their text and sections are redacted before anything else.
        redact : bool, default=True
            Redact first. Pass False only for records ingest has just redacted.

        Returns
        -------
        list of SuggestionSet
            Every code of every scheme scored in [0, 1], with decisions and evidence.
        """
        if not records:
            return []
        prepared = prepare_records(records, redact=redact)
        redacted = [ready.record for ready in prepared]
        views = sorted({scorer.text_view for scorer in self.scorers.values()})
        texts = {view: [scheme_text(r, view) for r in redacted] for view in views}
        sentences = {view: view_sentences(prepared, view) for view in views}
        vectors = self._embed_sentences({view: s.texts for view, s in sentences.items()})
        embedded = sorted({s.text_view for s in self.scorers.values() if s.uses_embeddings})
        text_vectors = self._embed_texts({view: texts[view] for view in embedded})
        proba: dict[str, NDArray[np.float64]] = {}
        selected: dict[str, NDArray[np.bool_]] = {}
        sentence_proba: dict[str, NDArray[np.float64]] = {}
        # Inputs are checked here; scikit-learn's per-call validation would cost more than the
        # linear algebra on small chunks (one narrative at a time in the review app).
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            for scheme, scorer in self.scorers.items():
                view, found = scorer.text_view, sentences[scorer.text_view]
                proba[scheme], sentence_proba[scheme] = scorer.score(
                    texts[view],
                    text_vectors.get(view),
                    found.texts,
                    vectors[view],
                    found.groups(vectors[view]),
                )
                proba[scheme] = np.clip(proba[scheme], 0.0, 1.0)
                selected[scheme] = scorer.decide(proba[scheme])
        codes = {scheme: scorer.codes for scheme, scorer in self.scorers.items()}
        selected = apply_recovery_rule(codes, proba, selected)
        evidence = {
            scheme: pick_evidence(
                sentences[scorer.text_view], sentence_proba[scheme], selected[scheme]
            )
            for scheme, scorer in self.scorers.items()
        }
        return [
            SuggestionSet(
                id=record.id,
                model=self.name,
                suggestions={
                    scheme: tuple(
                        CodeSuggestion(
                            code=code,
                            score=round(float(proba[scheme][i, j]), SCORE_DIGITS),
                            selected=bool(selected[scheme][i, j]),
                            evidence=evidence[scheme][i].get(j, ()),
                        )
                        for j, code in enumerate(scorer.codes)
                    )
                    for scheme, scorer in self.scorers.items()
                },
            )
            for i, record in enumerate(records)
        ]

    def _embed_sentences(
        self, sentences: Mapping[str, Sequence[str]]
    ) -> dict[str, NDArray[np.float32]]:
        """Embed every distinct sentence once; return each view's rows in its sentence order."""
        distinct = list(dict.fromkeys(s for texts in sentences.values() for s in texts))
        vectors = self.embedder.encode(distinct)
        index = {text: i for i, text in enumerate(distinct)}
        return {
            view: vectors[np.fromiter((index[s] for s in texts), dtype=np.intp, count=len(texts))]
            for view, texts in sentences.items()
        }

    def _embed_texts(self, texts: Mapping[str, Sequence[str]]) -> dict[str, NDArray[np.float32]]:
        """Embed each view's texts in one call (views that coincide share cached vectors)."""
        if not texts:
            return {}
        flat = [text for view_texts in texts.values() for text in view_texts]
        vectors = self.embedder.encode(flat)
        out, start = {}, 0
        for view, view_texts in texts.items():
            out[view] = vectors[start : start + len(view_texts)]
            start += len(view_texts)
        return out

    @staticmethod
    def _scorers(bundle: Bundle, embedder: Embedder) -> dict[str, SchemeScorer]:
        """Build every scheme's scorer; code prototypes are embedded in one cached call."""
        schemes = bundle.taxonomy.schemes
        heads = share_vectorizers(bundle.heads)
        texts = [cold_start_texts(scheme.leaf_codes) for scheme in schemes]
        flat = [text for per_scheme in texts for per_code in per_scheme for text in per_code]
        vectors = embedder.encode(flat)
        calibration = _calibration(bundle)
        scorers: dict[str, SchemeScorer] = {}
        start = 0
        for scheme, per_scheme in zip(schemes, texts, strict=True):
            sizes = [len(per_code) for per_code in per_scheme]
            info = bundle.metadata.schemes.get(scheme.id)
            view = info.text_view if info is not None else _default_view(scheme.id)
            cold = ColdStartHead.from_vectors(
                scheme.id,
                scheme.leaf_ids,
                scheme.multi_label,
                vectors[start : start + sum(sizes)],
                sizes,
                view,
                calibration,
            )
            start += sum(sizes)
            scorers[scheme.id] = SchemeScorer(cold, heads.get(scheme.id))
        cold_only = [s for s, scorer in scorers.items() if scorer.cold_only]
        if cold_only:
            logger.info("Cold start only (no trained head) for schemes: %s", ", ".join(cold_only))
        return scorers


_LOADED: dict[tuple[str, str, str], Suggester] = {}
_LOCK = threading.Lock()


def _cache_key(bundle_dir: Path, taxonomy: Taxonomy | None) -> tuple[str, str, str] | None:
    """Key a suggester by directory, metadata content (which pins every file) and taxonomy."""
    try:
        content = (bundle_dir / METADATA_FILE).read_bytes()
    except OSError:
        return None  # load_bundle says what is wrong
    checked = str(taxonomy.path) if taxonomy is not None else ""
    return str(bundle_dir.resolve()), hashlib.sha256(content).hexdigest(), checked


def _calibration(bundle: Bundle) -> ColdStartCalibration:
    """Return the cold-start calibration of the bundle's embedding model (default if unknown)."""
    model = bundle.metadata.embedder.model if bundle.metadata.embedder else None
    found = cold_start_calibration(model, bundle.metadata.training.get("cold_start"))
    if found is None:
        logger.warning(
            "No cold-start calibration for embedding model %s; cold-start scores use "
            "all-MiniLM-L6-v2's and are rough (record one in the bundle's training metadata)",
            model,
        )
        return DEFAULT_COLD_START
    return found


def _default_view(scheme_id: str) -> str:
    """Return the text view of a scheme the bundle's metadata does not describe."""
    return "recovery" if scheme_id in RECOVERY_SCHEMES else "full"


def load_suggester(model: Path | None = None, db_url: str | None = None) -> Suggester:
    """Resolve the bundle to use and return its suggester.

    The bundle is, in order: ``model``; ``NEARMISS_MODEL``; the bundle promoted in the store,
    when a store is given (``db_url``) or configured (``NEARMISS_DB``), after checking its files
    against the hashes registered there; the starter bundle, built on first use.

    Parameters
    ----------
    model : Path or None
        A bundle directory (``--model``).
    db_url : str or None
        The store (``--db``).

    Returns
    -------
    Suggester
        The suggester, cached per process and bundle.

    Raises
    ------
    BundleError
        If the bundle is missing or fails its checks (files, taxonomy, embedding model, or the
        store's registered hashes).
    """
    from pipeline.config import get_settings
    from pipeline.taxonomy import load_taxonomy

    settings = get_settings()
    chosen = model or settings.model
    if chosen is None and (db_url or settings.db):
        chosen = _promoted_bundle(db_url or settings.db or "")
    if chosen is None:
        from pipeline.starter import ensure_starter_bundle

        chosen = ensure_starter_bundle(settings)
    taxonomy = load_taxonomy(settings.taxonomy) if settings.taxonomy is not None else None
    logger.info("Coding with bundle %s", chosen)
    return Suggester.load(Path(chosen), taxonomy=taxonomy)


def _promoted_bundle(url: str) -> Path | None:
    """Return the promoted bundle's directory, verified against the store, or None."""
    from pipeline.store import normalise_url, promoted_bundle, session_scope, verify_bundle

    with session_scope(normalise_url(url)) as session:
        bundle = promoted_bundle(session)
        if bundle is None:
            return None
        path = Path(bundle.path)
        verify_bundle(session, path)
    return path
