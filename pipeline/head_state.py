"""The bundle format of a :class:`~pipeline.head.SchemeHead`: JSON parameters plus named arrays.

Nothing here can run code on load: parameters are plain JSON (``heads.json``), arrays are read
from ``heads.npz`` with ``allow_pickle=False``, and the TF-IDF vectorizer is rebuilt from its
settings, vocabulary and idf weights.

Array keys, per scheme and view: ``<scheme>/<view>/coef`` (k, d), ``<scheme>/<view>/intercept``
(k,), ``<scheme>/<view>/calibrator/<j>`` (``[slope, intercept]`` for a sigmoid, ``[x, y]`` rows
for an isotonic calibrator) and ``<scheme>/tfidf/idf``. The TF-IDF views (``tfidf`` and
``nb_tfidf``) share one vectorizer, saved once; a bundle written before ``nb_tfidf`` existed
simply lists fewer views.

Examples
--------
>>> import numpy as np
>>> from pipeline.head import LinearView, SchemeHead, Sigmoid
>>> view = LinearView(np.ones((1, 2)), np.zeros(1), (Sigmoid(1.0, 0.0),))
>>> head = SchemeHead("agent", ("human",), True, {"embedding": view}, thresholds=np.array([0.5]))
>>> params, arrays = head_to_state(head)
>>> sorted(arrays)
['agent/embedding/calibrator/0', 'agent/embedding/coef', 'agent/embedding/intercept']
>>> head_from_state("agent", params, arrays).codes
('human',)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.feature_extraction.text import TfidfVectorizer

from pipeline.errors import BundleError, InputError
from pipeline.head import Isotonic, LinearView, SchemeHead, Sigmoid

__all__ = ["head_from_state", "head_to_state"]

#: TfidfVectorizer settings kept in heads.json; callables (tokenizer, preprocessor) are refused.
_TFIDF_PARAMS = (
    "analyzer", "binary", "lowercase", "max_df", "min_df", "ngram_range", "norm",
    "smooth_idf", "strip_accents", "stop_words", "sublinear_tf", "token_pattern", "use_idf",
)  # fmt: skip


def head_to_state(head: SchemeHead) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
    """Return a head as JSON-able parameters and named arrays.

    Parameters
    ----------
    head : SchemeHead
        The head to save.

    Returns
    -------
    tuple of (dict, dict of str to ndarray)
        This scheme's ``heads.json`` entry, and its arrays for ``heads.npz``.

    Raises
    ------
    InputError
        If the TF-IDF vectorizer uses a custom tokenizer or preprocessor (not saveable as data).
    """
    arrays: dict[str, NDArray[Any]] = {}
    kinds: dict[str, list[str]] = {}
    for name, view in head.views.items():
        prefix = f"{head.scheme}/{name}/"
        arrays[prefix + "coef"] = np.asarray(view.coef, dtype=np.float64)
        arrays[prefix + "intercept"] = np.asarray(view.intercept, dtype=np.float64)
        kinds[name] = []
        for j, calibrator in enumerate(view.calibrators):
            if isinstance(calibrator, Sigmoid):
                kinds[name].append("sigmoid")
                values = np.array([calibrator.slope, calibrator.intercept], dtype=np.float64)
            else:
                kinds[name].append("isotonic")
                values = np.stack([calibrator.x, calibrator.y]).astype(np.float64)
            arrays[f"{prefix}calibrator/{j}"] = values
    params: dict[str, Any] = {
        "codes": list(head.codes),
        "multi_label": head.multi_label,
        "text_view": head.text_view,
        "views": list(head.views),
        "calibrators": kinds,
        "thresholds": None if head.thresholds is None else head.thresholds.tolist(),
        "scheme_threshold": head.scheme_threshold,
        "n_positives": list(head.n_positives),
        "tfidf": None,
    }
    if head.vectorizer is not None:
        arrays[f"{head.scheme}/tfidf/idf"] = np.asarray(head.vectorizer.idf_, dtype=np.float64)
        params["tfidf"] = {
            "params": _tfidf_params(head.vectorizer),
            "vocabulary": {term: int(i) for term, i in head.vectorizer.vocabulary_.items()},
        }
    return params, arrays


def head_from_state(
    scheme: str, params: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]
) -> SchemeHead:
    """Rebuild a head from :func:`head_to_state` output.

    Parameters
    ----------
    scheme : str
        The scheme id (the arrays' key prefix).
    params : mapping
        The scheme's ``heads.json`` entry.
    arrays : mapping of str to ndarray
        The bundle's arrays (others' keys are ignored).

    Returns
    -------
    SchemeHead
        The head, ready to predict.

    Raises
    ------
    BundleError
        If a parameter or an array is missing or malformed.
    """
    try:
        views = {}
        for name in params["views"]:
            prefix = f"{scheme}/{name}/"
            calibrators = tuple(
                _calibrator(kind, np.asarray(arrays[f"{prefix}calibrator/{j}"]))
                for j, kind in enumerate(params["calibrators"][name])
            )
            views[name] = LinearView(
                coef=np.asarray(arrays[prefix + "coef"], dtype=np.float64),
                intercept=np.asarray(arrays[prefix + "intercept"], dtype=np.float64),
                calibrators=calibrators,
            )
        vectorizer = None
        if params.get("tfidf"):
            vectorizer = _vectorizer(params["tfidf"], arrays[f"{scheme}/tfidf/idf"])
        thresholds = params["thresholds"]
        return SchemeHead(
            scheme=scheme,
            codes=tuple(str(code) for code in params["codes"]),
            multi_label=bool(params["multi_label"]),
            views=views,
            vectorizer=vectorizer,
            thresholds=None if thresholds is None else np.asarray(thresholds, dtype=np.float64),
            text_view=str(params["text_view"]),
            n_positives=tuple(int(n) for n in params["n_positives"]),
            scheme_threshold=params.get("scheme_threshold"),
        )
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise BundleError(
            f"Head of scheme '{scheme}' is malformed ({type(error).__name__}: {error}); "
            "rebuild the bundle with nearmiss train"
        ) from None


def _vectorizer(tfidf: Mapping[str, Any], idf: NDArray[Any]) -> TfidfVectorizer:
    """Rebuild a fitted TF-IDF vectorizer from its settings, vocabulary and idf weights."""
    kwargs = {name: tfidf["params"][name] for name in _TFIDF_PARAMS}
    kwargs["ngram_range"] = tuple(kwargs["ngram_range"])
    vocabulary = {str(term): int(i) for term, i in tfidf["vocabulary"].items()}
    if len(vocabulary) != len(idf):
        raise ValueError(f"vocabulary of {len(vocabulary)} terms but {len(idf)} idf weights")
    vectorizer = TfidfVectorizer(**kwargs, vocabulary=vocabulary, dtype=np.float64)
    vectorizer.idf_ = np.asarray(idf, dtype=np.float64)
    return vectorizer


def _calibrator(kind: str, values: NDArray[Any]) -> Sigmoid | Isotonic:
    """Rebuild one calibrator from its kind and array."""
    if kind == "sigmoid" and values.shape == (2,):
        return Sigmoid(float(values[0]), float(values[1]))
    if kind == "isotonic" and values.ndim == 2 and values.shape[0] == 2:
        return Isotonic(np.asarray(values[0], np.float64), np.asarray(values[1], np.float64))
    raise ValueError(f"calibrator {kind!r} with array of shape {values.shape}")


def _tfidf_params(vectorizer: TfidfVectorizer) -> dict[str, Any]:
    """Return the vectorizer's settings as JSON values; refuse custom callables."""
    params = vectorizer.get_params()
    if params.get("tokenizer") is not None or params.get("preprocessor") is not None:
        raise InputError("a TF-IDF view with a custom tokenizer or preprocessor cannot be saved")
    if callable(params.get("analyzer")):
        raise InputError("a TF-IDF view with a custom analyzer cannot be saved")
    kept = {name: params[name] for name in _TFIDF_PARAMS}
    kept["ngram_range"] = list(kept["ngram_range"])
    return kept
