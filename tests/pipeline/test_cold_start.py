"""Cold start: codes scored from their definitions, blended out as labels accumulate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit

from pipeline.head import (
    BLEND_PRIOR,
    COLD_START_CALIBRATIONS,
    DEFAULT_COLD_START,
    ColdStartCalibration,
    ColdStartHead,
    LinearView,
    SchemeHead,
    Sigmoid,
    blend_weights,
    cold_start_calibration,
    cold_start_texts,
)
from pipeline.record import Record
from pipeline.scorer import SchemeScorer
from pipeline.taxonomy import load_taxonomy
from tests.pipeline.suggest_fixtures import build_mini_bundle, load_mini, mini_taxonomy

CENTER, SLOPE, THRESHOLD = (
    DEFAULT_COLD_START.center,
    DEFAULT_COLD_START.slope,
    DEFAULT_COLD_START.threshold,
)


def _cold(multi_label: bool = True) -> ColdStartHead:
    return ColdStartHead("agent", ("human", "designed"), multi_label, np.eye(2))


def test_prototype_texts_are_label_definition_and_examples(tmp_path: Path) -> None:
    scheme = load_taxonomy(mini_taxonomy(tmp_path)).scheme("cause")
    texts = cold_start_texts(scheme.leaf_codes)
    assert texts[0] == (
        "Staffing: Too few staff for the work, a locum or a rota gap.",
        "short-staffed on reception",
    )
    assert len(texts) == len(scheme.leaf_ids)  # the grouping code "people" has no prototype


def test_prototype_is_the_normalised_mean_of_its_texts() -> None:
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
    head = ColdStartHead.from_vectors("s", ("a", "b"), True, vectors, [2, 1])
    assert np.allclose(head.prototypes, [[2**-0.5, 2**-0.5], [0.0, 1.0]])


def test_narrative_score_is_its_best_sentence() -> None:
    head = _cold()
    sentences = np.array([[0.6, 0.8], [1.0, 0.0]])
    expected = expit(SLOPE * (np.array([1.0, 0.8]) - CENTER))
    assert np.allclose(head.predict_proba([sentences]), [expected])
    assert np.allclose(head.sentence_proba(sentences).max(axis=0), expected)


def test_a_narrative_without_sentences_scores_as_cosine_zero() -> None:
    proba = _cold().predict_proba([np.zeros((0, 2))])
    assert np.allclose(proba, expit(-SLOPE * CENTER))
    assert not _cold().decide(proba).any()


def test_multi_label_selects_at_the_threshold_single_label_the_best() -> None:
    proba = np.array([[THRESHOLD, THRESHOLD - 1e-9]])
    assert _cold().decide(proba).tolist() == [[True, False]]
    single = _cold(multi_label=False)
    scored = single.predict_proba([np.array([[0.6, 0.8]])])
    assert np.allclose(scored.sum(axis=1), 1.0)
    assert single.decide(scored).tolist() == [[False, True]]


def test_blend_weight_grows_with_labels() -> None:
    weights = blend_weights([0, 1, 20, 200, 2000])
    assert weights[0] == 0 and weights[2] == pytest.approx(0.5)
    assert np.all(np.diff(weights) > 0) and weights[-1] > 0.99
    assert weights[1] == pytest.approx(1 / (1 + BLEND_PRIOR))


def _head(n_positives: tuple[int, ...]) -> SchemeHead:
    view = LinearView(
        coef=np.array([[4.0, 0.0], [0.0, 4.0]]),
        intercept=np.zeros(2),
        calibrators=(Sigmoid(1.0, 0.0), Sigmoid(1.0, 0.0)),
    )
    return SchemeHead(
        scheme="agent",
        codes=("human", "designed"),
        multi_label=True,
        views={"embedding": view},
        thresholds=np.array([0.6, 0.4]),
        n_positives=n_positives,
    )


def test_scorer_blends_head_and_cold_start_per_code() -> None:
    scorer = SchemeScorer(_cold(), _head((20, 180)))
    texts, embeddings = ["a"], np.array([[1.0, 0.0]])
    groups = [np.array([[0.0, 1.0]])]
    p_head = _head((20, 180)).predict_proba(texts, embeddings)
    p_cold = _cold().predict_proba(groups)
    w = np.array([0.5, 0.9])
    assert np.allclose(scorer.proba(texts, embeddings, groups), w * p_head + (1 - w) * p_cold)
    blended = w * np.array([0.6, 0.4]) + (1 - w) * THRESHOLD
    at = np.array([blended, blended - 1e-9])
    assert scorer.decide(at).tolist() == [[True, True], [False, False]]


def test_without_labels_the_scorer_is_cold_start_and_with_many_it_is_the_head() -> None:
    texts, embeddings, groups = ["a"], np.array([[1.0, 0.0]]), [np.array([[0.0, 1.0]])]
    cold = _cold().predict_proba(groups)
    head = _head((10**6, 10**6)).predict_proba(texts, embeddings)
    assert np.allclose(SchemeScorer(_cold()).proba(texts, None, groups), cold)
    assert np.allclose(SchemeScorer(_cold(), _head((0, 0))).proba(texts, embeddings, groups), cold)
    many = SchemeScorer(_cold(), _head((10**6, 10**6))).proba(texts, embeddings, groups)
    assert np.allclose(many, head, atol=1e-4)


def test_single_label_blend_sums_to_one() -> None:
    view = LinearView(np.eye(2), np.zeros(2), (Sigmoid(1.0, 0.0), Sigmoid(1.0, 0.0)))
    head = SchemeHead(
        "agent", ("human", "designed"), False, {"embedding": view}, n_positives=(3, 90)
    )
    scorer = SchemeScorer(_cold(multi_label=False), head)
    proba = scorer.proba(["a", "b"], np.eye(2), [np.eye(2)[:1], np.zeros((0, 2))])
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert scorer.decide(proba).sum(axis=1).tolist() == [1, 1]


def test_an_unlabelled_scheme_still_gets_suggestions(tmp_path: Path) -> None:
    bundle = build_mini_bundle(tmp_path, recovery=False)
    suggester = load_mini(bundle, tmp_path / "cache")
    assert suggester.scorers["recovery_agent"].cold_only
    assert not suggester.scorers["outcome"].cold_only
    record = Record(
        id="x",
        text="What happened: caught before it reached the patient.\n"
        "Action taken: an interaction alert fired.",
    )
    line = suggester.suggest([record])[0].to_dict()
    agent = line["suggestions"]["recovery_agent"]
    assert [c["code"] for c in agent] == ["human", "designed"]
    assert all(0.0 <= c["score"] <= 1.0 for c in agent)
    for code in agent:
        if code["selected"]:
            assert code["evidence"], code


def test_calibration_is_per_embedding_model() -> None:
    static = cold_start_calibration("/srv/models/embedders/minilm-static-256")
    assert static == COLD_START_CALIBRATIONS["minilm-static-256"]
    assert cold_start_calibration("sentence-transformers/all-MiniLM-L6-v2") == DEFAULT_COLD_START
    assert cold_start_calibration("unknown-model") is None
    recorded = {"center": 0.5, "slope": 4.0, "threshold": 0.2}
    assert cold_start_calibration("minilm-static-256", recorded) == ColdStartCalibration(
        0.5, 4.0, 0.2
    )
    # The static model's cosines run high: MiniLM's constants would select nearly every code.
    negative = np.array([[0.56, (1 - 0.56**2) ** 0.5]])  # cosine 0.56 with the first code
    assert static is not None
    head = ColdStartHead("s", ("a", "b"), True, np.eye(2), calibration=static)
    assert not head.decide(head.predict_proba([negative]))[0, 0]
    assert _cold().decide(_cold().predict_proba([negative]))[0, 0]
