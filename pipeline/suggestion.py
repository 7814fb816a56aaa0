"""Suggestion sets, the lines of a suggestions file, and the recovery rule that shapes them.

**The recovery rule** (DESIGN.md; the taxonomy's ``outcome``, ``recovery`` and ``recovery_agent``
scheme descriptions). Recovery is coded for near misses only: when the ``outcome`` scheme's top
code is not ``near_miss``, no code of ``recovery`` or ``recovery_agent`` is selected. ``recovery``
and ``recovery_agent`` are kept consistent by adding, never by dropping: a narrative with a
recovery code selected (other than ``no_recovery_described``, with which the agent is ``[]``) gets
an agent, the most probable one when none reached its threshold; a narrative with an agent selected
but no recovery code gets the most probable recovery code (the agent head is the more reliable of
the two: two codes against a dozen, and it is what matters most, so its decision is not thrown
away), replacing ``no_recovery_described``. A near miss with neither gets whichever scores higher,
the best recovery code (and its agent) or ``no_recovery_described``: a near miss either describes a
recovery or says none is described, and an empty suggestion gives the reviewer nothing to accept.
Scores are always kept, so a reviewer who overturns the outcome or the recovery still sees them.
(Recovery schemes also read only the what-happened, action-taken and went-well text, never a "what
has been changed" section: see :mod:`pipeline.views`.)

The rule is driven by the schemes and codes the taxonomy has (:class:`RecoveryRule`): each part
applies only when its schemes and codes exist, so a team's taxonomy without them is unchanged,
and the agent codes are whatever the agent scheme lists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pipeline.evidence import Evidence

__all__ = [
    "NEAR_MISS",
    "NO_RECOVERY_CODES",
    "OUTCOME_SCHEME",
    "RECOVERY_SCHEMES",
    "RecoveryRule",
    "SCORE_DIGITS",
    "CodeSuggestion",
    "Evidence",
    "SuggestionSet",
    "apply_recovery_rule",
]

#: The scheme whose top code decides whether recovery is coded, and the code that allows it.
OUTCOME_SCHEME = "outcome"
NEAR_MISS = "near_miss"
#: Schemes coded for near misses only: the recovery, then the agent that follows from it.
RECOVERY_SCHEMES = ("recovery", "recovery_agent")
#: Recovery codes that say no recovery is described: the agent is ``[]`` with them alone.
NO_RECOVERY_CODES = ("no_recovery_described",)
#: Decimal places of a score in suggestion lines.
SCORE_DIGITS = 4


@dataclass(frozen=True, slots=True)
class CodeSuggestion:
    """One code's score, whether the model selects it, and the evidence for it."""

    code: str
    score: float
    selected: bool
    evidence: tuple[Evidence, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"code", "score", "selected", "evidence"}`` as in the contract."""
        return {
            "code": self.code,
            "score": self.score,
            "selected": self.selected,
            "evidence": [item.to_dict() for item in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class SuggestionSet:
    """Every code of every scheme for one record: one line of a suggestions file."""

    id: str
    model: str
    suggestions: Mapping[str, tuple[CodeSuggestion, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the suggestions JSONL line (see the contract in DESIGN.md)."""
        return {
            "id": self.id,
            "model": self.model,
            "suggestions": {
                scheme: [code.to_dict() for code in codes]
                for scheme, codes in self.suggestions.items()
            },
        }


@dataclass(frozen=True, slots=True)
class RecoveryRule:
    """Which schemes and codes the recovery rule reads (see the module docstring).

    Parameters
    ----------
    outcome_scheme : str
        The single-label scheme whose top code gates recovery.
    near_miss : str
        Its code that allows recovery to be coded.
    recovery_scheme : str
        The scheme of how a near miss was caught.
    agent_scheme : str
        The scheme of who or what caught it; it follows from ``recovery_scheme``.
    no_recovery : tuple of str
        Recovery codes that describe no recovery (no agent follows from them).

    Examples
    --------
    >>> rule = RecoveryRule()
    >>> rule.recovery_columns(["staff_initiative", "no_recovery_described"]).tolist()
    [True, False]
    """

    outcome_scheme: str = OUTCOME_SCHEME
    near_miss: str = NEAR_MISS
    recovery_scheme: str = RECOVERY_SCHEMES[0]
    agent_scheme: str = RECOVERY_SCHEMES[1]
    no_recovery: tuple[str, ...] = NO_RECOVERY_CODES

    def recovery_columns(self, recovery_codes: Sequence[str]) -> NDArray[np.bool_]:
        """Mark the recovery codes that describe an actual recovery (an agent follows)."""
        return np.array([code not in self.no_recovery for code in recovery_codes], dtype=bool)


def apply_recovery_rule(
    codes: Mapping[str, Sequence[str]],
    proba: Mapping[str, NDArray[np.float64]],
    selected: Mapping[str, NDArray[np.bool_]],
    rule: RecoveryRule | None = None,
) -> dict[str, NDArray[np.bool_]]:
    """Apply the recovery rule: near misses only, and an agent exactly when there is a recovery.

    Parameters
    ----------
    codes : mapping of str to sequence of str
        Code ids per scheme, in column order.
    proba : mapping of str to ndarray of shape (n, k)
        Scores per scheme (never changed).
    selected : mapping of str to ndarray of bool, shape (n, k)
        Decisions per scheme.
    rule : RecoveryRule or None
        The schemes and codes the rule reads; None means the GP taxonomy's.

    Returns
    -------
    dict of str to ndarray of bool
        The decisions with the rule applied. Narratives whose top outcome code is not the near
        miss code have no recovery or agent selected (when the taxonomy has that outcome
        code). When it has both the recovery and the agent scheme: a narrative with a recovery
        code selected (other than a no-recovery code) keeps its agents, or gets the most
        probable one if none was selected; a narrative with an agent selected but no recovery
        code gets the most probable recovery code (no-recovery codes unselected); a near miss
        with neither gets the better-scored of the best recovery code (and then its agent) and
        the best no-recovery code. Other schemes, and taxonomies without these schemes, are
        unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> codes = {"outcome": ["near_miss", "harm_incident"], "recovery_agent": ["human"]}
    >>> proba = {"outcome": np.array([[0.9, 0.1], [0.2, 0.8]])}
    >>> out = apply_recovery_rule(codes, proba, {"recovery_agent": np.array([[True], [True]])})
    >>> out["recovery_agent"].tolist()
    [[True], [False]]
    >>> codes = {"recovery": ["planned_check", "no_recovery_described"],
    ...          "recovery_agent": ["human", "designed"]}
    >>> proba = {"recovery_agent": np.array([[0.3, 0.4], [0.9, 0.1], [0.8, 0.6]])}
    >>> selected = {"recovery": np.array([[True, False], [False, True], [False, False]]),
    ...             "recovery_agent": np.array([[False, False], [True, False], [True, True]])}
    >>> proba["recovery"] = np.array([[0.6, 0.1], [0.2, 0.7], [0.3, 0.1]])
    >>> out = apply_recovery_rule(codes, proba, selected)
    >>> out["recovery_agent"].tolist()
    [[False, True], [True, False], [True, True]]
    >>> out["recovery"].tolist()
    [[True, False], [True, False], [True, False]]
    """
    rule = rule or RecoveryRule()
    out = dict(selected)
    outcome = list(codes.get(rule.outcome_scheme, ()))
    near_miss: NDArray[np.bool_] | None = None
    if rule.near_miss in outcome and rule.outcome_scheme in proba:
        near_miss = proba[rule.outcome_scheme].argmax(axis=1) == outcome.index(rule.near_miss)
        for scheme in (rule.recovery_scheme, rule.agent_scheme):
            if scheme in out:
                out[scheme] = out[scheme] & near_miss[:, None]
    if rule.recovery_scheme in out and rule.agent_scheme in out:
        recovery_codes = codes.get(rule.recovery_scheme, ())
        if near_miss is not None:
            out[rule.recovery_scheme] = _complete_near_misses(
                rule, recovery_codes, proba, out, near_miss
            )
        out[rule.recovery_scheme], out[rule.agent_scheme] = _recovery_and_agent(
            rule, recovery_codes, proba, out
        )
    return out


def _complete_near_misses(
    rule: RecoveryRule,
    recovery_codes: Sequence[str],
    proba: Mapping[str, NDArray[np.float64]],
    selected: Mapping[str, NDArray[np.bool_]],
    near_miss: NDArray[np.bool_],
) -> NDArray[np.bool_]:
    """Give a near miss with no recovery, agent or no-recovery code the better-scored of them.

    A near miss either describes a recovery (then an agent follows) or says none is described:
    leaving both schemes empty gives the reviewer nothing to accept or fix. The most probable
    actual recovery code is selected when it outscores every no-recovery code, else the most
    probable no-recovery code.
    """
    recovery = np.array(selected[rule.recovery_scheme], dtype=bool)
    scores = proba.get(rule.recovery_scheme)
    columns = rule.recovery_columns(recovery_codes or [""] * recovery.shape[1])
    if scores is None or not columns.any() or recovery.shape[1] == 0:
        return recovery
    empty = near_miss & ~recovery.any(axis=1) & ~selected[rule.agent_scheme].any(axis=1)
    rows = np.flatnonzero(empty)
    actual, none = np.flatnonzero(columns), np.flatnonzero(~columns)
    best = actual[scores[np.ix_(rows, actual)].argmax(axis=1)]
    if len(none):
        best_none = none[scores[np.ix_(rows, none)].argmax(axis=1)]
        best = np.where(scores[rows, best] >= scores[rows, best_none], best, best_none)
    recovery[rows, best] = True
    return recovery


def _recovery_and_agent(
    rule: RecoveryRule,
    recovery_codes: Sequence[str],
    proba: Mapping[str, NDArray[np.float64]],
    selected: Mapping[str, NDArray[np.bool_]],
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Return recovery and agent decisions made consistent by adding the best missing code."""
    recovery = np.array(selected[rule.recovery_scheme], dtype=bool)
    agents = np.array(selected[rule.agent_scheme], dtype=bool)
    columns = rule.recovery_columns(recovery_codes or [""] * recovery.shape[1])
    if agents.shape[1] == 0 or not columns.any():
        return recovery, agents
    has_recovery: NDArray[np.bool_] = np.asarray(recovery[:, columns].any(axis=1), dtype=bool)
    has_agent: NDArray[np.bool_] = np.asarray(agents.any(axis=1), dtype=bool)
    agent_scores = proba.get(rule.agent_scheme)
    if agent_scores is not None:
        missing = np.flatnonzero(has_recovery & ~has_agent)
        agents[missing, agent_scores[missing].argmax(axis=1)] = True
    else:
        agents &= has_recovery[:, None]
    recovery_scores = proba.get(rule.recovery_scheme)
    missing = np.flatnonzero(has_agent & ~has_recovery)
    if recovery_scores is not None:
        actual = np.flatnonzero(columns)
        best = actual[recovery_scores[np.ix_(missing, actual)].argmax(axis=1)]
        recovery[missing] &= columns  # an actual recovery replaces "no recovery described"
        recovery[missing, best] = True
    else:
        agents[missing] = False
    return recovery, agents
