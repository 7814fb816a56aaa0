"""SchemeHead: probabilities, decisions and the array/JSON round trip (no training, no model)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import expit
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.isotonic import IsotonicRegression

from pipeline.errors import BundleError, InputError
from pipeline.head import Isotonic, LinearView, SchemeHead, Sigmoid
from pipeline.head_state import head_from_state, head_to_state

TEXTS = [
    "locum short-staffed on reception",
    "dropdown picked the wrong template",
    "short-staffed and the template alert",
    "patient rang the surgery",
]


def _vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, dtype=np.float64).fit(TEXTS)


def _head(multi_label: bool = True, views: tuple[str, ...] = ("tfidf", "embedding")) -> SchemeHead:
    rng = np.random.default_rng(0)
    vectorizer = _vectorizer() if "tfidf" in views else None
    widths = {"tfidf": len(vectorizer.vocabulary_) if vectorizer else 0, "embedding": 4}
    built = {}
    for view in views:
        calibrators: tuple[Sigmoid | Isotonic, ...] = (
            Sigmoid(1.5, -0.2),
            Isotonic(np.array([-1.0, 0.0, 2.0]), np.array([0.1, 0.4, 0.9])),
        )
        built[view] = LinearView(
            rng.normal(size=(2, widths[view])), rng.normal(size=2), calibrators
        )
    return SchemeHead(
        scheme="cause",
        codes=("staffing", "it_design"),
        multi_label=multi_label,
        views=built,
        vectorizer=vectorizer,
        thresholds=np.array([0.5, 0.3]) if multi_label else None,
        text_view="full",
        n_positives=(12, 7),
        scheme_threshold=0.4 if multi_label else None,
    )


def _embeddings(n: int = len(TEXTS)) -> np.ndarray:
    return np.random.default_rng(1).normal(size=(n, 4)).astype(np.float32)


def test_proba_is_the_mean_of_the_calibrated_views() -> None:
    head = _head()
    emb = _embeddings()
    proba = head.predict_proba(TEXTS, emb)
    assert proba.shape == (4, 2) and ((proba >= 0) & (proba <= 1)).all()
    tfidf, embedding = head.views["tfidf"], head.views["embedding"]
    assert head.vectorizer is not None
    scores_t = head.vectorizer.transform(TEXTS) @ tfidf.coef.T + tfidf.intercept
    scores_e = emb.astype(np.float64) @ embedding.coef.T + embedding.intercept
    expected_0 = (expit(1.5 * scores_t[:, 0] - 0.2) + expit(1.5 * scores_e[:, 0] - 0.2)) / 2
    np.testing.assert_allclose(proba[:, 0], expected_0)
    expected_1 = (
        np.interp(scores_t[:, 1], [-1, 0, 2], [0.1, 0.4, 0.9])
        + np.interp(scores_e[:, 1], [-1, 0, 2], [0.1, 0.4, 0.9])
    ) / 2
    np.testing.assert_allclose(proba[:, 1], expected_1)


def test_isotonic_matches_scikit_learn() -> None:
    rng = np.random.default_rng(3)
    scores, y = rng.normal(size=200), (rng.random(200) < 0.4).astype(float)
    fitted = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, y)
    ours = Isotonic(fitted.X_thresholds_, fitted.y_thresholds_)
    probe = np.linspace(-4, 4, 101)
    np.testing.assert_allclose(ours.predict(probe), fitted.predict(probe), atol=1e-12)


def test_single_label_rows_sum_to_one_and_decide_takes_the_argmax() -> None:
    head = _head(multi_label=False)
    proba = head.predict_proba(TEXTS, _embeddings())
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    decided = head.decide(proba)
    assert decided.dtype == bool
    assert (decided.sum(axis=1) == 1).all()
    assert (decided.argmax(axis=1) == proba.argmax(axis=1)).all()


def test_multi_label_decide_uses_each_codes_threshold() -> None:
    head = _head()
    proba = np.array([[0.5, 0.29], [0.49, 0.3], [0.9, 0.9], [0.0, 0.0]])
    assert head.decide(proba).tolist() == [
        [True, False],
        [False, True],
        [True, True],
        [False, False],
    ]


def test_tfidf_only_head_needs_no_embeddings() -> None:
    head = _head(views=("tfidf",))
    assert not head.uses_embeddings and head.features == "tfidf"
    assert head.predict_proba(TEXTS).shape == (4, 2)


def test_empty_input_gives_an_empty_matrix() -> None:
    assert _head().predict_proba([], None).shape == (0, 2)
    assert _head().decide(np.empty((0, 2))).shape == (0, 2)
    assert _head(multi_label=False).decide(np.empty((0, 2))).shape == (0, 2)


def test_missing_or_misshapen_embeddings_are_refused() -> None:
    head = _head()
    assert head.uses_embeddings
    with pytest.raises(InputError, match="uses embeddings"):
        head.predict_proba(TEXTS)
    with pytest.raises(InputError, match=r"shape \(4, 4\)"):
        head.predict_proba(TEXTS, _embeddings(3))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"views": {}}, "fuses one or more"),
        ({"text_view": "changes"}, "unknown text_view"),
        ({"codes": ("staffing",)}, "do not match its 1 codes"),
        ({"thresholds": None}, "needs 2 thresholds"),
        ({"vectorizer": None}, "tfidf view without vocabulary"),
    ],
)
def test_inconsistent_heads_are_refused(change: dict[str, object], message: str) -> None:
    head = _head()
    fields = {name: getattr(head, name) for name in head.__dataclass_fields__}
    with pytest.raises(BundleError, match=message):
        SchemeHead(**{**fields, **change})  # type: ignore[arg-type]


@pytest.mark.parametrize("multi_label", [True, False])
def test_state_round_trip_keeps_every_probability(multi_label: bool) -> None:
    head = _head(multi_label)
    params, arrays = head_to_state(head)
    params = json.loads(json.dumps(params))  # as heads.json holds it
    assert all(key.startswith("cause/") for key in arrays)
    assert all(array.dtype != object for array in arrays.values())
    again = head_from_state("cause", params, arrays)
    emb = _embeddings()
    np.testing.assert_array_equal(head.predict_proba(TEXTS, emb), again.predict_proba(TEXTS, emb))
    assert again.n_positives == (12, 7) and again.text_view == "full"
    assert again.scheme_threshold == head.scheme_threshold


def test_rebuilt_vectorizer_equals_the_fitted_one() -> None:
    head = _head(views=("tfidf",))
    params, arrays = head_to_state(head)
    again = head_from_state("cause", json.loads(json.dumps(params)), arrays)
    assert head.vectorizer is not None and again.vectorizer is not None
    probe = ["short-staffed locum", "the wrong template template", "unseen words only"]
    diff = again.vectorizer.transform(probe) - head.vectorizer.transform(probe)
    assert abs(diff).max() == 0


@pytest.mark.parametrize("broken", ["missing_array", "missing_key", "bad_calibrator"])
def test_malformed_state_is_a_bundle_error(broken: str) -> None:
    params, arrays = head_to_state(_head())
    if broken == "missing_array":
        del arrays["cause/embedding/coef"]
    elif broken == "missing_key":
        del params["codes"]
    else:
        params["calibrators"]["tfidf"][0] = "spline"
    with pytest.raises(BundleError, match="malformed.*rebuild"):
        head_from_state("cause", params, arrays)


def test_a_custom_tokenizer_cannot_be_saved() -> None:
    head = _head(views=("tfidf",))
    assert head.vectorizer is not None
    head.vectorizer.set_params(tokenizer=str.split)
    with pytest.raises(InputError, match="custom tokenizer"):
        head_to_state(head)
