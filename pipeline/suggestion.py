"""Suggestion sets, the lines of a suggestions file, and the recovery rule that shapes them.

**The recovery rule.** Recovery is coded for near misses only: when the ``outcome`` scheme's top
code is not ``near_miss``, no code of ``recovery`` or ``recovery_agent`` is selected. Their
scores are kept, so a reviewer who overturns the outcome still sees them. (Recovery schemes also
read only the what-happened, action-taken and went-well text, never a "what has been changed"
section: see :mod:`pipeline.views`.)
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
    "OUTCOME_SCHEME",
    "RECOVERY_SCHEMES",
    "SCORE_DIGITS",
    "CodeSuggestion",
    "Evidence",
    "SuggestionSet",
    "apply_recovery_rule",
]

#: The scheme whose top code decides whether recovery is coded, and the code that allows it.
OUTCOME_SCHEME = "outcome"
NEAR_MISS = "near_miss"
#: Schemes coded for near misses only.
RECOVERY_SCHEMES = ("recovery", "recovery_agent")
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


def apply_recovery_rule(
    codes: Mapping[str, Sequence[str]],
    proba: Mapping[str, NDArray[np.float64]],
    selected: Mapping[str, NDArray[np.bool_]],
) -> dict[str, NDArray[np.bool_]]:
    """Unselect recovery codes of narratives whose top outcome code is not ``near_miss``.

    Parameters
    ----------
    codes : mapping of str to sequence of str
        Code ids per scheme, in column order.
    proba : mapping of str to ndarray of shape (n, k)
        Scores per scheme.
    selected : mapping of str to ndarray of bool, shape (n, k)
        Decisions per scheme.

    Returns
    -------
    dict of str to ndarray of bool
        The decisions with the rule applied (unchanged when the taxonomy has no ``outcome``
        scheme with a ``near_miss`` code).

    Examples
    --------
    >>> import numpy as np
    >>> codes = {"outcome": ["near_miss", "harm_incident"], "recovery_agent": ["human"]}
    >>> proba = {"outcome": np.array([[0.9, 0.1], [0.2, 0.8]])}
    >>> out = apply_recovery_rule(codes, proba, {"recovery_agent": np.array([[True], [True]])})
    >>> out["recovery_agent"].tolist()
    [[True], [False]]
    """
    out = dict(selected)
    outcome = list(codes.get(OUTCOME_SCHEME, ()))
    if NEAR_MISS not in outcome or OUTCOME_SCHEME not in proba:
        return out
    near_miss = proba[OUTCOME_SCHEME].argmax(axis=1) == outcome.index(NEAR_MISS)
    for scheme in RECOVERY_SCHEMES:
        if scheme in out:
            out[scheme] = out[scheme] & near_miss[:, None]
    return out
