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
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from pipeline.bundle_choice import chosen_bundle
from pipeline.bundle_files import METADATA_FILE
from pipeline.embed import Embedder, TextEncoder
from pipeline.evidence import pick_evidence, view_sentences
from pipeline.record import Record
from pipeline.sentences import PreparedRecord
from pipeline.suggest_cache import SuggestCache, bundle_fingerprint, prepare_cached
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

# Bundles, heads and scorers import scikit-learn, and redaction spaCy: they are imported on
# first use, so that a run whose lines are all in the suggestion cache imports neither.
if TYPE_CHECKING:
    from pipeline.bundle import Bundle
    from pipeline.head import ColdStartCalibration
    from pipeline.scorer import SchemeScorer

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
    "chosen_bundle",
    "resolve_bundle",
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
    taxonomy_path : Path or None
        The taxonomy file the bundle was checked against (None: its own copy); part of
        :attr:`fingerprint`.

    Attributes
    ----------
    name : str
        The bundle's name, written as ``model`` on every suggestion set.
    bundle_dir : Path
        The bundle directory.
    scorers : dict of str to SchemeScorer
        One per scheme, in taxonomy order.
    cache : SuggestCache or None
        Prepared records (and, for :func:`pipeline.suggest_file.suggest_file`, lines) persist
        here, beside the embedder's vector cache; None when the embedder has no cache.
    fingerprint : str or None
        What the suggestions depend on (:func:`pipeline.suggest_cache.bundle_fingerprint`).
    """

    def __init__(
        self, bundle: Bundle, embedder: Embedder, *, taxonomy_path: Path | None = None
    ) -> None:
        self.bundle = bundle
        self.embedder = embedder
        self.name = bundle.name
        self.bundle_dir = bundle.path
        self.scorers = self._scorers(bundle, embedder)
        self.cache = SuggestCache(embedder.cache.directory) if embedder.cache else None
        self.fingerprint = bundle_fingerprint(bundle.path, taxonomy_path, embedder.spec.identity)

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
        from pipeline.bundle import load_bundle

        bundle = load_bundle(bundle_dir, taxonomy)
        suggester = cls(
            bundle,
            bundle.make_embedder(cache_dir, encoder),
            taxonomy_path=taxonomy.path if taxonomy is not None else None,
        )
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
        return self.suggest_prepared(prepare_cached(records, redact=redact, cache=self.cache))

    def suggest_prepared(self, prepared: Sequence[PreparedRecord]) -> list[SuggestionSet]:
        """Suggest codes for records already redacted and split into sentences.

        Parameters
        ----------
        prepared : sequence of PreparedRecord
            What :func:`pipeline.sentences.prepare_records` returns for the records.

        Returns
        -------
        list of SuggestionSet
            One per record, in order, with the record's id.
        """
        import sklearn

        if not prepared:
            return []
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
                    found.bounds,
                )
                proba[scheme] = np.clip(proba[scheme], 0.0, 1.0)
                selected[scheme] = scorer.decide(proba[scheme])
        codes = {scheme: scorer.codes for scheme, scorer in self.scorers.items()}
        selected = apply_recovery_rule(codes, proba, selected)
        per_scheme = []
        for scheme, scorer in self.scorers.items():
            evidence = pick_evidence(
                sentences[scorer.text_view], sentence_proba[scheme], selected[scheme]
            )
            per_scheme.append(
                (scheme, scorer.codes, _rounded(proba[scheme]), selected[scheme].tolist(), evidence)
            )
        return [
            SuggestionSet(
                id=ready.record.id,
                model=self.name,
                suggestions={
                    scheme: tuple(
                        CodeSuggestion(code, score, chosen, picked.get(j, ()))
                        for j, (code, score, chosen) in enumerate(
                            zip(code_ids, scores[i], decisions[i], strict=True)
                        )
                    )
                    for scheme, code_ids, scores, decisions, evidence in per_scheme
                    for picked in (evidence[i],)
                },
            )
            for i, ready in enumerate(prepared)
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
        from pipeline.head import ColdStartHead, cold_start_texts
        from pipeline.scorer import SchemeScorer, share_vectorizers

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


_LOADED: dict[tuple[str, ...], Suggester] = {}
_LOCK = threading.Lock()


def _cache_key(bundle_dir: Path, taxonomy: Taxonomy | None) -> tuple[str, ...] | None:
    """Key a suggester by directory, metadata (which pins every file), taxonomy and cache."""
    from pipeline.config import get_settings

    try:
        content = (bundle_dir / METADATA_FILE).read_bytes()
    except OSError:
        return None  # load_bundle says what is wrong
    checked = str(taxonomy.path) if taxonomy is not None else ""
    cache = str(get_settings().cache_dir)
    return str(bundle_dir.resolve()), hashlib.sha256(content).hexdigest(), checked, cache


def _calibration(bundle: Bundle) -> ColdStartCalibration:
    """Return the bundle's cold-start calibration: its own, else its embedding model's table entry.

    A bundle trained by ``nearmiss train`` records a calibration fitted on its training data,
    embedder and taxonomy (``training.cold_start`` in its metadata). An older bundle, or one whose
    data was too thin to fit one, falls back to the per-model table, and that is logged.
    """
    from pipeline.head import DEFAULT_COLD_START, cold_start_calibration

    model = bundle.metadata.embedder.model if bundle.metadata.embedder else None
    recorded = bundle.metadata.training.get("cold_start")
    found = cold_start_calibration(model, recorded)
    if recorded:
        logger.info("Cold-start calibration: fitted on bundle %s's training data", bundle.name)
    elif found is not None:
        logger.info(
            "Cold-start calibration: bundle %s records none; using the table's for embedding "
            "model %s (retrain to fit one on your data and taxonomy)",
            *(bundle.name, model),
        )
    else:
        logger.warning(
            "Cold-start calibration: bundle %s records none and embedding model %s has no table "
            "entry; cold-start scores use all-MiniLM-L6-v2's and are rough (retrain the bundle "
            "with nearmiss train to fit one)",
            *(bundle.name, model),
        )
        return DEFAULT_COLD_START
    assert found is not None
    return found


def _rounded(proba: NDArray[np.float64]) -> list[list[float]]:
    """Round scores to :data:`SCORE_DIGITS` places, as Python's ``round`` does each float."""
    return [[round(value, SCORE_DIGITS) for value in row] for row in proba.tolist()]


def _default_view(scheme_id: str) -> str:
    """Return the text view of a scheme the bundle's metadata does not describe."""
    return "recovery" if scheme_id in RECOVERY_SCHEMES else "full"


def resolve_bundle(model: Path | None = None, db_url: str | None = None) -> Path:
    """Return the directory of the bundle to code with (without loading it).

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
    Path
        The bundle directory.

    Raises
    ------
    BundleError
        If the promoted bundle fails the store's registered hashes.
    """
    chosen = chosen_bundle(model, db_url)
    if chosen is None:
        from pipeline.starter import ensure_starter_bundle

        chosen = ensure_starter_bundle()
    logger.info("Coding with bundle %s", chosen)
    return chosen


def load_suggester(model: Path | None = None, db_url: str | None = None) -> Suggester:
    """Resolve the bundle to use (:func:`resolve_bundle`) and return its suggester.

    Parameters
    ----------
    model : Path or None
        A bundle directory (``--model``).
    db_url : str or None
        The store (``--db``).

    Returns
    -------
    Suggester
        The suggester, cached per process and bundle, checked against the taxonomy in force
        (``NEARMISS_TAXONOMY``).

    Raises
    ------
    BundleError
        If the bundle is missing or fails its checks (files, taxonomy, embedding model, or the
        store's registered hashes).
    """
    from pipeline.config import get_settings
    from pipeline.taxonomy import load_taxonomy

    chosen = resolve_bundle(model, db_url)
    settings = get_settings()
    taxonomy = load_taxonomy(settings.taxonomy) if settings.taxonomy is not None else None
    return Suggester.load(chosen, taxonomy=taxonomy)
