"""Scheme heads at inference: score every code of a scheme from a narrative's text and embedding.

A :class:`SchemeHead` is a fitted scheme classifier rebuilt from plain arrays and JSON (the
bundle's ``heads.npz`` and ``heads.json``), so loading a bundle never unpickles anything and
inference never imports ``training``. Per view it holds one linear scorer per code
(``X @ coef.T + intercept``) and a calibrator per code (Platt ``expit(slope * s + intercept)``,
or an isotonic step function read with :func:`numpy.interp`); the chosen views' calibrated
probabilities are averaged (late fusion), exactly as ``training.scheme.SchemeModel`` does.
The ``"sentences"`` view reads each narrative's sentence vectors pooled by
:func:`pool_sentence_vectors` (mean and maximum side by side). The ``"nb_tfidf"`` view reads the
same TF-IDF features as ``"tfidf"`` (one vectorizer): its per-code weights already include the
Naive-Bayes log-count ratios it was trained with, so it is an ordinary linear view.

Examples
--------
>>> import numpy as np
>>> view = LinearView(coef=np.array([[2.0, 0.0]]), intercept=np.array([0.0]),
...                   calibrators=(Sigmoid(1.0, 0.0),))
>>> head = SchemeHead(scheme="agent", codes=("designed",), multi_label=True,
...                   views={"embedding": view}, thresholds=np.array([0.5]))
>>> head.predict_proba(["a", "b"], np.array([[1.0, 0.0], [-1.0, 0.0]])).round(3).tolist()
[[0.881], [0.119]]
>>> head.decide(head.predict_proba(["a"], np.array([[1.0, 0.0]]))).tolist()
[[True]]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit
from sklearn.feature_extraction.text import TfidfVectorizer

from pipeline.errors import BundleError, InputError
from pipeline.views import TEXT_VIEWS

__all__ = [
    "HEAD_VIEWS",
    "TEXT_VIEWS",
    "TFIDF_VIEWS",
    "Isotonic",
    "LinearView",
    "SchemeHead",
    "Sigmoid",
    "pool_sentence_vectors",
    "reads_tfidf",
]

#: Views a bundle head can hold: word TF-IDF of the text, the embedding of the same text, its
#: sentences' embeddings pooled (:func:`pool_sentence_vectors`), and the TF-IDF again with
#: Naive-Bayes-weighted coefficients. Bundles written before ``nb_tfidf`` existed hold a subset.
HEAD_VIEWS = ("tfidf", "embedding", "sentences", "nb_tfidf")
#: The views that read the TF-IDF features of the head's one vectorizer.
TFIDF_VIEWS = ("tfidf", "nb_tfidf")


def reads_tfidf(views: Iterable[str]) -> bool:
    """Whether any of ``views`` reads the TF-IDF features (so a head needs a vectorizer)."""
    return any(view in TFIDF_VIEWS for view in views)


def pool_sentence_vectors(
    vectors: NDArray[np.floating[Any]], bounds: Sequence[int]
) -> NDArray[np.float64]:
    """Pool each narrative's sentence vectors into one row: their mean, then their maximum.

    Parameters
    ----------
    vectors : ndarray of shape (m, d)
        Every narrative's sentence vectors, flat, narrative after narrative.
    bounds : sequence of int
        Narrative ``i`` owns rows ``bounds[i]:bounds[i + 1]`` (length n + 1, non-decreasing,
        from 0 to m).

    Returns
    -------
    ndarray of shape (n, 2 * d)
        Mean-pooled then max-pooled vectors; a narrative with no sentence gets a row of zeros.

    Raises
    ------
    InputError
        If ``bounds`` do not cut ``vectors`` into consecutive groups.

    Examples
    --------
    >>> pool_sentence_vectors(np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]]), [0, 2, 2, 3])
    array([[0.5, 0.5, 1. , 1. ],
           [0. , 0. , 0. , 0. ],
           [2. , 2. , 2. , 2. ]])
    """
    array = np.asarray(vectors, dtype=np.float64)
    edges = np.asarray(bounds, dtype=np.intp)
    if (
        array.ndim != 2
        or edges.ndim != 1
        or len(edges) == 0
        or edges[0] != 0
        or edges[-1] != len(array)
        or (np.diff(edges) < 0).any()
    ):
        raise InputError(
            f"sentence bounds must run from 0 to {len(array) if array.ndim == 2 else '?'} "
            "without going back, one more than the narratives; pool each narrative's sentences"
        )
    n, d = len(edges) - 1, array.shape[1]
    pooled = np.zeros((n, 2 * d), dtype=np.float64)
    sizes = np.diff(edges)
    filled = sizes > 0
    if filled.any():
        starts = edges[:-1][filled]
        pooled[filled, :d] = np.add.reduceat(array, starts, axis=0) / sizes[filled, None]
        pooled[filled, d:] = np.maximum.reduceat(array, starts, axis=0)
    return pooled


@dataclass(frozen=True, slots=True)
class Sigmoid:
    """Platt calibrator: ``p = expit(slope * score + intercept)``."""

    slope: float
    intercept: float

    def predict(self, scores: NDArray[np.float64]) -> NDArray[np.float64]:
        """Return probabilities for ``scores``, shape (n,)."""
        return np.asarray(expit(self.slope * scores + self.intercept), dtype=np.float64)


@dataclass(frozen=True, eq=False, slots=True)
class Isotonic:
    """Isotonic calibrator: linear interpolation between thresholds, clipped at both ends."""

    x: NDArray[np.float64]
    y: NDArray[np.float64]

    def predict(self, scores: NDArray[np.float64]) -> NDArray[np.float64]:
        """Return probabilities for ``scores``, shape (n,)."""
        return np.asarray(np.interp(scores, self.x, self.y), dtype=np.float64)


@dataclass(frozen=True, eq=False, slots=True)
class LinearView:
    """One view's per-code linear scorers and their calibrators.

    Attributes
    ----------
    coef : ndarray of shape (k, d)
        One weight row per code.
    intercept : ndarray of shape (k,)
        One bias per code.
    calibrators : tuple of Sigmoid or Isotonic
        One calibrator per code.
    """

    coef: NDArray[np.float64]
    intercept: NDArray[np.float64]
    calibrators: tuple[Sigmoid | Isotonic, ...]

    def predict_proba(self, X: Any, multi_label: bool) -> NDArray[np.float64]:
        """Return calibrated probabilities (n, k); single-label rows are renormalised to 1."""
        scores = np.asarray(X @ self.coef.T, dtype=np.float64) + self.intercept
        proba = np.column_stack([c.predict(scores[:, j]) for j, c in enumerate(self.calibrators)])
        if multi_label:
            return proba
        totals = proba.sum(axis=1, keepdims=True)
        uniform = np.full_like(proba, 1.0 / proba.shape[1])
        return np.where(totals > 0, proba / np.where(totals > 0, totals, 1.0), uniform)


@dataclass(frozen=True, eq=False)
class SchemeHead:
    """The fitted classifier of one scheme, rebuilt from a bundle.

    Attributes
    ----------
    scheme : str
        The scheme id.
    codes : tuple of str
        Code ids: the column order of every output.
    multi_label : bool
        Several codes may apply (thresholds), or exactly one (argmax).
    views : dict of str to LinearView
        The fused views, in :data:`HEAD_VIEWS` order (``"sentences"`` has width ``2 * d``).
    vectorizer : TfidfVectorizer or None
        The fitted TF-IDF vectorizer (when a view of :data:`TFIDF_VIEWS` is fused).
    thresholds : ndarray of shape (k,) or None
        Per-code decision thresholds (multi-label only).
    text_view : {"full", "recovery"}
        Which part of a narrative the head was trained on.
    n_positives : tuple of int
        Training narratives with each code (cold-start blending weighs by these).
    scheme_threshold : float or None
        The scheme-level threshold rare codes were shrunk toward (multi-label only).
    """

    scheme: str
    codes: tuple[str, ...]
    multi_label: bool
    views: dict[str, LinearView] = field(repr=False)
    vectorizer: TfidfVectorizer | None = field(default=None, repr=False)
    thresholds: NDArray[np.float64] | None = None
    text_view: str = "full"
    n_positives: tuple[int, ...] = ()
    scheme_threshold: float | None = None

    def __post_init__(self) -> None:
        k = len(self.codes)
        if not self.views or any(view not in HEAD_VIEWS for view in self.views):
            raise BundleError(
                f"Head of scheme '{self.scheme}' has views {list(self.views)}; a bundle head "
                f"fuses one or more of {HEAD_VIEWS}; retrain the bundle with nearmiss train"
            )
        if self.uses_tfidf != (self.vectorizer is not None):
            raise BundleError(f"Head of scheme '{self.scheme}': tfidf view without vocabulary")
        if self.text_view not in TEXT_VIEWS:
            raise BundleError(f"Head of scheme '{self.scheme}': unknown text_view {self.text_view}")
        for name, view in self.views.items():
            shapes = (view.coef.shape[0], view.intercept.shape, len(view.calibrators))
            if shapes != (k, (k,), k):
                raise BundleError(
                    f"Head of scheme '{self.scheme}', view {name}: arrays do not match its {k} "
                    "codes; the bundle is damaged, rebuild it with nearmiss train"
                )
        if self.multi_label and (self.thresholds is None or self.thresholds.shape != (k,)):
            raise BundleError(f"Head of scheme '{self.scheme}' needs {k} thresholds")

    @property
    def uses_tfidf(self) -> bool:
        """Whether a fused view reads the TF-IDF features of :attr:`vectorizer`."""
        return reads_tfidf(self.views)

    @property
    def uses_embeddings(self) -> bool:
        """Whether :meth:`predict_proba` needs the embeddings of the texts."""
        return "embedding" in self.views

    @property
    def uses_sentences(self) -> bool:
        """Whether :meth:`predict_proba` needs the pooled sentence vectors of the texts."""
        return "sentences" in self.views

    @property
    def features(self) -> str:
        """The fused views joined by ``+`` (e.g. ``"tfidf+embedding"``)."""
        return "+".join(self.views)

    def predict_proba(
        self,
        texts: Sequence[str],
        embeddings: NDArray[np.floating[Any]] | None = None,
        sentence_features: NDArray[np.floating[Any]] | None = None,
    ) -> NDArray[np.float64]:
        """Return calibrated, fused probabilities, one row per text.

        Parameters
        ----------
        texts : sequence of str
            Redacted texts of the scheme's text view (see :attr:`text_view`).
        embeddings : ndarray of shape (n, d) or None
            Their embeddings, by the bundle's embedder; needed when :attr:`uses_embeddings`.
        sentence_features : ndarray of shape (n, 2 * d) or None
            Their sentences' vectors pooled by :func:`pool_sentence_vectors`; needed when
            :attr:`uses_sentences`.

        Returns
        -------
        ndarray of shape (n, k)
            Probabilities in [0, 1], columns in :attr:`codes` order; rows of a single-label
            scheme sum to 1.

        Raises
        ------
        InputError
            If embeddings are needed and missing, or do not match the texts or the head.
        """
        n = len(texts)
        if n == 0:
            return np.empty((0, len(self.codes)), dtype=np.float64)
        probas = []
        tfidf = None
        if self.uses_tfidf:
            assert self.vectorizer is not None
            tfidf = self.vectorizer.transform(list(texts))
        for name, view in self.views.items():
            if name in TFIDF_VIEWS:
                X: Any = tfidf
            elif name == "sentences":
                X = self._check_embeddings(sentence_features, n, view.coef.shape[1], name)
            else:
                X = self._check_embeddings(embeddings, n, view.coef.shape[1], name)
            probas.append(view.predict_proba(X, self.multi_label))
        return np.asarray(np.mean(probas, axis=0), dtype=np.float64)

    def decide(self, proba: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Turn probabilities into the model's decisions.

        Parameters
        ----------
        proba : ndarray of shape (n, k)
            Output of :meth:`predict_proba` (or a blend of it).

        Returns
        -------
        ndarray of bool, shape (n, k)
            Multi-label: codes at or above their threshold. Single-label: the most probable code.
        """
        if self.multi_label:
            assert self.thresholds is not None
            return np.asarray(proba >= self.thresholds, dtype=bool)
        decided = np.zeros(proba.shape, dtype=bool)
        if len(proba):
            decided[np.arange(len(proba)), proba.argmax(axis=1)] = True
        return decided

    def _check_embeddings(
        self, embeddings: NDArray[np.floating[Any]] | None, n: int, dim: int, view: str
    ) -> NDArray[np.float64]:
        what = "embeddings" if view == "embedding" else "pooled sentence vectors"
        if embeddings is None:
            raise InputError(
                f"Scheme '{self.scheme}' uses {what}; pass the texts' {what} by the bundle's "
                "embedder"
            )
        array = np.asarray(embeddings, dtype=np.float64)
        if array.shape != (n, dim):
            raise InputError(
                f"Scheme '{self.scheme}' needs {what} of shape ({n}, {dim}), got "
                f"{array.shape}; embed with the model the bundle was trained with"
            )
        return array


# --------------------------------------------------------------------------------------------
# Cold start (ColdStartHead): scores codes from their definitions and examples.
# Blended with a trained head per code by n_positives (see SchemeHead.n_positives).
# --------------------------------------------------------------------------------------------

__all__ += [
    "BLEND_PRIOR",
    "COLD_START_CALIBRATIONS",
    "DEFAULT_COLD_START",
    "ColdStartCalibration",
    "ColdStartHead",
    "blend_weights",
    "cold_start_calibration",
    "cold_start_texts",
]

#: Pseudo-count of the blend: a code with ``n`` training positives weighs its trained head by
#: ``n / (n + BLEND_PRIOR)`` and cold start by the rest.
BLEND_PRIOR = 20.0


@dataclass(frozen=True, slots=True)
class ColdStartCalibration:
    """How an embedding model's sentence-to-definition cosines become cold-start scores.

    A score is ``expit(slope * (cosine - center))``; a code of a multi-label scheme is selected
    at ``threshold`` or above.
    """

    center: float
    slope: float
    threshold: float


#: The fallback for bundles that record no calibration of their own (``nearmiss train`` fits
#: one on the bundle's training data, embedder and taxonomy: ``training.cold_start``). Per
#: embedding model (its configured name, or the last part of its path): a logistic regression
#: of "code applies" on the best sentence's cosine, pooled over the multi-label schemes of the
#: synthetic GP sample, and the threshold where pooled F1 peaks. Each model spreads cosines
#: differently (the static model's run 0.55 to 0.65, MiniLM's 0.3 to 0.5), so constants fitted
#: for one would make the other select nearly every code.
COLD_START_CALIBRATIONS: dict[str, ColdStartCalibration] = {
    "all-MiniLM-L6-v2": ColdStartCalibration(center=0.72, slope=6.2, threshold=0.17),
    "minilm-static-256": ColdStartCalibration(center=1.23, slope=3.2, threshold=0.13),
}
#: Used for a model with no calibration of its own (and by tests' fake models).
DEFAULT_COLD_START = COLD_START_CALIBRATIONS["all-MiniLM-L6-v2"]


def cold_start_calibration(
    embedder_model: str | None, recorded: Any = None
) -> ColdStartCalibration | None:
    """Return the cold-start calibration for a bundle, or None when none is known.

    A calibration recorded in the bundle (fitted on its own training data, embedder and
    taxonomy) comes first; the per-model table is the fallback for bundles without one.

    Parameters
    ----------
    embedder_model : str or None
        The bundle's embedding model as configured (a name or a path).
    recorded : mapping or None
        ``{"center", "slope", "threshold"}`` recorded in the bundle (fitted on its training
        data); it wins over the table.

    Returns
    -------
    ColdStartCalibration or None
        The recorded calibration, else the one of :data:`COLD_START_CALIBRATIONS` for the model.

    Examples
    --------
    >>> cold_start_calibration("models/embedders/minilm-static-256").threshold
    0.13
    >>> cold_start_calibration("my-model") is None
    True
    """
    if recorded:
        return ColdStartCalibration(
            float(recorded["center"]), float(recorded["slope"]), float(recorded["threshold"])
        )
    if embedder_model is None:
        return None
    name = embedder_model.rstrip("/").rsplit("/", 1)[-1]
    return COLD_START_CALIBRATIONS.get(name)


def cold_start_texts(codes: Sequence[Any]) -> list[tuple[str, ...]]:
    """Return the texts each code's prototype is embedded from: "label: definition", examples.

    Parameters
    ----------
    codes : sequence of pipeline.taxonomy.Code
        The scheme's leaf codes, in column order.

    Returns
    -------
    list of tuple of str
        For each code, ``"<label>: <definition>"`` followed by its example phrases.

    Examples
    --------
    >>> from pipeline.taxonomy import Code
    >>> cold_start_texts([Code("staffing", "Staffing", "Too few staff.", examples=("locum",))])
    [('Staffing: Too few staff.', 'locum')]
    """
    return [(f"{code.label}: {code.definition}", *code.examples) for code in codes]


def blend_weights(n_positives: Sequence[int]) -> NDArray[np.float64]:
    """Return each code's weight on its trained head: ``n / (n + BLEND_PRIOR)``.

    Examples
    --------
    >>> blend_weights([0, 20, 180]).tolist()
    [0.0, 0.5, 0.9]
    """
    n = np.asarray(n_positives, dtype=np.float64)
    return np.asarray(n / (n + BLEND_PRIOR), dtype=np.float64)


@dataclass(frozen=True, eq=False)
class ColdStartHead:
    """Score a scheme's codes from their definitions and examples, with no training labels.

    Each code has a prototype: the normalised mean embedding of ``"label: definition"`` and of
    each example phrase (:func:`cold_start_texts`). A narrative's raw score for a code is the
    highest cosine between one of its sentences and the prototype (a single telling sentence is
    enough), mapped to [0, 1] by the embedding model's :class:`ColdStartCalibration`; a
    narrative with no sentence scores as cosine 0. Single-label rows are divided by their sum.
    A code is selected at the calibration's threshold or above (multi-label), or as the best
    code (single-label).

    Scores are rough probabilities (the bundle's fitted calibration, else
    :data:`COLD_START_CALIBRATIONS`), comparable with a
    trained head's when the two are blended. Cold start is a weak coder (pooled F1 about 0.3 on
    the synthetic sample): it gives a reviewer a first guess, and gives way to trained heads as
    codes gain labels (see :func:`blend_weights`).

    Attributes
    ----------
    scheme : str
        The scheme id.
    codes : tuple of str
        Code ids, the column order of every output.
    multi_label : bool
        Several codes may apply (threshold), or exactly one (argmax).
    prototypes : ndarray of shape (k, d)
        Unit-length prototype per code.
    text_view : {"full", "recovery"}
        Which part of a narrative the scheme reads.
    calibration : ColdStartCalibration
        How cosines become scores, for the bundle's embedding model.

    Examples
    --------
    >>> import numpy as np
    >>> head = ColdStartHead("agent", ("human", "designed"), True, np.eye(2),
    ...                      calibration=ColdStartCalibration(0.5, 10.0, 0.5))
    >>> head.predict_proba([np.array([[1.0, 0.0], [0.6, 0.8]])]).round(3).tolist()
    [[0.993, 0.953]]
    >>> head.decide(head.predict_proba([np.zeros((0, 2))])).tolist()
    [[False, False]]
    """

    scheme: str
    codes: tuple[str, ...]
    multi_label: bool
    prototypes: NDArray[np.float64] = field(repr=False)
    text_view: str = "full"
    calibration: ColdStartCalibration = DEFAULT_COLD_START

    def __post_init__(self) -> None:
        if self.prototypes.ndim != 2 or self.prototypes.shape[0] != len(self.codes):
            raise InputError(
                f"Cold start of scheme '{self.scheme}' needs one prototype per code "
                f"({len(self.codes)}), got an array of shape {self.prototypes.shape}"
            )

    @classmethod
    def from_vectors(
        cls,
        scheme: str,
        codes: Sequence[str],
        multi_label: bool,
        vectors: NDArray[np.floating[Any]],
        sizes: Sequence[int],
        text_view: str = "full",
        calibration: ColdStartCalibration = DEFAULT_COLD_START,
    ) -> ColdStartHead:
        """Build a head from the embeddings of every code's :func:`cold_start_texts`.

        Parameters
        ----------
        scheme : str
            The scheme id.
        codes : sequence of str
            Code ids, in column order.
        multi_label : bool
            Whether the scheme is multi-label.
        vectors : ndarray of shape (sum(sizes), d)
            The texts' embeddings, code after code.
        sizes : sequence of int
            How many texts each code has (at least one).
        text_view : {"full", "recovery"}
            The scheme's text view.
        calibration : ColdStartCalibration
            How cosines become scores, for the embedding model.

        Returns
        -------
        ColdStartHead
            The head, each prototype the normalised mean of its code's vectors.
        """
        bounds = np.cumsum([0, *sizes])
        rows = [np.mean(vectors[a:b], axis=0) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        prototypes = np.asarray(rows, dtype=np.float64)
        norms = np.linalg.norm(prototypes, axis=1, keepdims=True)
        prototypes /= np.where(norms > 0, norms, 1.0)
        return cls(scheme, tuple(codes), multi_label, prototypes, text_view, calibration)

    @property
    def thresholds(self) -> NDArray[np.float64] | None:
        """Per-code selection thresholds (multi-label), or None (single-label)."""
        if not self.multi_label:
            return None
        return np.full(len(self.codes), self.calibration.threshold)

    def sentence_proba(self, vectors: NDArray[np.floating[Any]]) -> NDArray[np.float64]:
        """Score each sentence alone: shape (m, k), as :meth:`predict_proba` scores a narrative.

        Parameters
        ----------
        vectors : ndarray of shape (m, d)
            Sentence embeddings (unit length), by the bundle's embedder.

        Returns
        -------
        ndarray of shape (m, k)
            Scores in [0, 1]; single-label rows sum to 1.
        """
        return self._scale(self._cosines(vectors))

    def predict_proba(self, groups: Sequence[NDArray[np.floating[Any]]]) -> NDArray[np.float64]:
        """Score narratives from their sentences' embeddings.

        Parameters
        ----------
        groups : sequence of ndarray of shape (m_i, d)
            For each narrative, the embeddings of the sentences of its text view (``m_i`` may
            be 0).

        Returns
        -------
        ndarray of shape (n, k)
            Scores in [0, 1], columns in :attr:`codes` order; single-label rows sum to 1.
        """
        return self._scale(self.best_cosines(groups))

    def best_cosines(self, groups: Sequence[NDArray[np.floating[Any]]]) -> NDArray[np.float64]:
        """Return each narrative's best sentence-to-prototype cosine per code (0 without any).

        Parameters
        ----------
        groups : sequence of ndarray of shape (m_i, d)
            For each narrative, the embeddings of the sentences of its text view.

        Returns
        -------
        ndarray of shape (n, k)
            The raw cosines a :class:`ColdStartCalibration` maps to scores (and is fitted on,
            see ``training.cold_start``).
        """
        best = np.zeros((len(groups), len(self.codes)), dtype=np.float64)
        for i, group in enumerate(groups):
            if len(group):
                best[i] = self._cosines(group).max(axis=0)
        return best

    def decide(self, proba: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Select codes: at or above the calibration's threshold (multi-label), or the best."""
        if self.multi_label:
            return np.asarray(proba >= self.calibration.threshold, dtype=bool)
        decided = np.zeros(proba.shape, dtype=bool)
        if len(proba):
            decided[np.arange(len(proba)), proba.argmax(axis=1)] = True
        return decided

    def _cosines(self, vectors: NDArray[np.floating[Any]]) -> NDArray[np.float64]:
        array = np.asarray(vectors, dtype=np.float64)
        norms = np.linalg.norm(array, axis=1, keepdims=True)
        return np.asarray((array / np.where(norms > 0, norms, 1.0)) @ self.prototypes.T)

    def _scale(self, cosines: NDArray[np.float64]) -> NDArray[np.float64]:
        c = self.calibration
        proba = np.asarray(expit(c.slope * (cosines - c.center)), dtype=np.float64)
        if self.multi_label or not len(proba):
            return proba
        return np.asarray(proba / proba.sum(axis=1, keepdims=True), dtype=np.float64)
