"""The recovery rule: near misses only, and recovery_agent exactly when a recovery is selected."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.config import PROJECT_ROOT
from pipeline.suggestion import NO_RECOVERY_CODES, RecoveryRule, apply_recovery_rule
from pipeline.taxonomy import load_taxonomy

GP = load_taxonomy(PROJECT_ROOT / "taxonomies" / "gp-near-miss" / "v1.yaml")
CODES = {scheme.id: list(scheme.leaf_ids) for scheme in GP.schemes}


def _rows(scheme: str, *rows: tuple[str, ...]) -> np.ndarray:
    return np.array([[code in row for code in CODES[scheme]] for row in rows], dtype=bool)


def _agent_proba(*rows: tuple[float, float]) -> np.ndarray:
    assert CODES["recovery_agent"] == ["human", "designed"]
    return np.array(rows)


def test_the_gp_taxonomy_has_what_the_rule_reads() -> None:
    rule = RecoveryRule()
    outcome = GP.scheme(rule.outcome_scheme)
    assert not outcome.multi_label and rule.near_miss in outcome.leaf_ids
    assert set(NO_RECOVERY_CODES) <= set(CODES[rule.recovery_scheme])
    assert GP.scheme(rule.agent_scheme).multi_label
    for scheme in (outcome, GP.scheme(rule.recovery_scheme), GP.scheme(rule.agent_scheme)):
        assert scheme.description is not None and "near miss" in scheme.description.lower()


def test_a_recovery_gets_the_most_probable_agent_when_none_passed() -> None:
    recovery = _rows(
        "recovery",
        ("staff_initiative",),
        ("planned_check",),
        ("defence_overridden",),
        ("automated_check", "patient_or_carer"),
    )
    agent = _rows("recovery_agent", (), (), (), ("human", "designed"))
    proba = {"recovery_agent": _agent_proba((0.2, 0.1), (0.3, 0.35), (0.05, 0.04), (0.9, 0.8))}
    out = apply_recovery_rule(CODES, proba, {"recovery": recovery, "recovery_agent": agent.copy()})
    assert out["recovery_agent"].tolist() == [
        [True, False],
        [False, True],
        [True, False],
        [True, True],  # two independent barriers: both kept
    ]
    assert np.array_equal(out["recovery"], recovery)  # every row had a recovery already
    assert not agent[:3].any()  # inputs are not changed in place


def test_an_agent_without_a_recovery_gets_the_most_probable_recovery_code() -> None:
    recovery = _rows("recovery", (), ("no_recovery_described",), ("staff_initiative",), ())
    agent = _rows("recovery_agent", ("human",), ("designed",), ("human",), ())
    proba = {
        "recovery_agent": _agent_proba((0.9, 0.1), (0.2, 0.7), (0.8, 0.1), (0.3, 0.2)),
        "recovery": np.linspace(0.01, 0.5, 4 * len(CODES["recovery"])).reshape(4, -1),
    }
    best_actual = max(
        (code for code in CODES["recovery"] if code != "no_recovery_described"),
        key=CODES["recovery"].index,
    )
    before = {k: v.copy() for k, v in proba.items()}
    out = apply_recovery_rule(CODES, proba, {"recovery": recovery, "recovery_agent": agent})
    # The agents stand (the agent head is the more reliable); the recovery follows them.
    assert out["recovery_agent"].tolist() == [
        [True, False],
        [False, True],
        [True, False],
        [False, False],
    ]
    chosen = [[CODES["recovery"][j] for j in row.nonzero()[0]] for row in out["recovery"]]
    assert chosen == [[best_actual], [best_actual], ["staff_initiative"], []]
    assert all(np.array_equal(proba[k], before[k]) for k in proba)


def test_without_recovery_scores_an_agent_without_a_recovery_is_dropped() -> None:
    recovery = _rows("recovery", (), ("staff_initiative",))
    agent = _rows("recovery_agent", ("human",), ("human",))
    proba = {"recovery_agent": _agent_proba((0.9, 0.1), (0.8, 0.1))}
    out = apply_recovery_rule(CODES, proba, {"recovery": recovery, "recovery_agent": agent})
    assert out["recovery_agent"].tolist() == [[False, False], [True, False]]


def test_only_near_misses_get_recovery_or_agent() -> None:
    outcome = np.array([[0.7, 0.1, 0.1, 0.1], [0.1, 0.6, 0.2, 0.1]])
    assert CODES["outcome"][0] == "near_miss"
    recovery = _rows("recovery", ("chance",), ("chance",))
    agent = _rows("recovery_agent", (), ())
    proba = {"outcome": outcome, "recovery_agent": _agent_proba((0.4, 0.2), (0.4, 0.2))}
    out = apply_recovery_rule(CODES, proba, {"recovery": recovery, "recovery_agent": agent})
    assert out["recovery"].any(axis=1).tolist() == [True, False]
    assert out["recovery_agent"].tolist() == [[True, False], [False, False]]


def test_team_taxonomies_without_these_schemes_are_unchanged(tmp_path: Path) -> None:
    selected = {"cause": np.array([[True, False], [False, False]])}
    out = apply_recovery_rule({"cause": ["a", "b"]}, {"cause": np.ones((2, 2))}, selected)
    assert out == selected
    # An agent-like scheme without a recovery scheme to follow: left as the model decided.
    agent_only = {"recovery_agent": np.array([[False, False], [True, False]])}
    codes = {"recovery_agent": ["human", "designed"]}
    out = apply_recovery_rule(codes, {"recovery_agent": np.ones((2, 2))}, agent_only)
    assert out["recovery_agent"] is agent_only["recovery_agent"]


def test_a_team_rule_reads_its_own_scheme_and_code_ids() -> None:
    rule = RecoveryRule(
        outcome_scheme="result",
        near_miss="good_catch",
        recovery_scheme="barrier",
        agent_scheme="who",
        no_recovery=("unknown",),
    )
    codes = {"result": ["good_catch", "harm"], "barrier": ["alarm", "unknown"], "who": ["p", "s"]}
    proba = {"result": np.array([[0.9, 0.1], [0.9, 0.1]]), "who": np.array([[0.1, 0.3]] * 2)}
    selected = {
        "barrier": np.array([[True, False], [False, True]]),
        "who": np.array([[False, False], [True, False]]),
    }
    out = apply_recovery_rule(codes, proba, selected, rule)
    assert out["who"].tolist() == [[False, True], [False, False]]
    # The default (GP) rule does not touch that taxonomy's schemes.
    assert apply_recovery_rule(codes, proba, selected)["who"] is selected["who"]


def test_a_near_miss_with_neither_gets_the_better_scored_of_recovery_and_none() -> None:
    outcome = np.array([[0.7, 0.1, 0.1, 0.1]] * 3 + [[0.1, 0.7, 0.1, 0.1]])
    recovery_codes = CODES["recovery"]
    scores = np.full((4, len(recovery_codes)), 0.05)
    none = recovery_codes.index("no_recovery_described")
    chance = recovery_codes.index("chance")
    scores[0, chance] = 0.3  # a recovery outscores "none described"
    scores[1, none] = 0.3  # "none described" outscores every recovery
    scores[2, chance] = 0.2  # already has an agent: left to the consistency rule
    scores[3, chance] = 0.9  # not a near miss: nothing
    proba = {
        "outcome": outcome,
        "recovery": scores,
        "recovery_agent": _agent_proba((0.2, 0.1), (0.3, 0.1), (0.2, 0.1), (0.9, 0.1)),
    }
    selected = {
        "recovery": _rows("recovery", (), (), (), ()),
        "recovery_agent": _rows("recovery_agent", (), (), ("designed",), ()),
    }
    out = apply_recovery_rule(CODES, proba, selected)
    chosen = [[recovery_codes[j] for j in row.nonzero()[0]] for row in out["recovery"]]
    assert chosen == [["chance"], ["no_recovery_described"], ["chance"], []]
    assert out["recovery_agent"].tolist() == [
        [True, False],  # the agent follows the recovery
        [False, False],  # none described: no agent
        [False, True],
        [False, False],
    ]
