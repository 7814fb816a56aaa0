"""Evidence: the sentences that support each selected code, with the section they came from.

For each selected code, the sentences of the scheme's text view are scored alone through the
same heads as the narrative (:meth:`pipeline.scorer.SchemeScorer.sentence_proba`); the best
sentence is the evidence, with the runner-up when it scores at least :data:`RUNNER_UP_RATIO` of
the best. Sentences come from redacted text only.

Examples
--------
>>> import numpy as np
>>> sentences = ViewSentences(
...     texts=("Dose keyed wrong.", "Pharmacist rang.", "Alert fired."),
...     sections=("what_happened", "what_happened", None),
...     bounds=(0, 3),
... )
>>> scores = np.array([[0.1, 0.2], [0.9, 0.3], [0.85, 0.25]])
>>> evidence = pick_evidence(sentences, scores, np.array([[True, False]]))[0]
>>> [(item.text, item.section) for item in evidence[0]]
[('Pharmacist rang.', 'what_happened'), ('Alert fired.', None)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from pipeline.sentences import PreparedRecord

__all__ = [
    "MAX_EVIDENCE",
    "RUNNER_UP_RATIO",
    "Evidence",
    "ViewSentences",
    "pick_evidence",
    "view_sentences",
]

#: Most sentences given as evidence for one code.
MAX_EVIDENCE = 2
#: The runner-up sentence is evidence too when its score is at least this share of the best's.
RUNNER_UP_RATIO = 0.9


@dataclass(frozen=True, slots=True)
class Evidence:
    """A (redacted) sentence supporting a code, and its section (None when unknown)."""

    text: str
    section: str | None

    def to_dict(self) -> dict[str, str | None]:
        """Return ``{"text", "section"}`` as in the suggestions contract."""
        return {"text": self.text, "section": self.section}


@dataclass(frozen=True, slots=True)
class ViewSentences:
    """The sentences of many narratives' views, flat, with each narrative's slice.

    Attributes
    ----------
    texts : tuple of str
        Every sentence, narrative after narrative.
    sections : tuple of str or None
        The section of each sentence.
    bounds : tuple of int
        Narrative ``i`` owns ``texts[bounds[i]:bounds[i + 1]]`` (length n + 1).
    """

    texts: tuple[str, ...]
    sections: tuple[str | None, ...]
    bounds: tuple[int, ...]

    def groups(self, vectors: NDArray[np.floating[Any]]) -> list[NDArray[np.floating[Any]]]:
        """Split per-sentence rows (aligned with :attr:`texts`) into one array per narrative."""
        return [vectors[a:b] for a, b in zip(self.bounds[:-1], self.bounds[1:], strict=True)]


def view_sentences(prepared: Sequence[PreparedRecord], text_view: str) -> ViewSentences:
    """Gather the sentences of many narratives' views, flat, with their sections.

    Parameters
    ----------
    prepared : sequence of PreparedRecord
        Redacted records with their labelled sentences (see :mod:`pipeline.sentences`).
    text_view : {"full", "recovery"}
        The scheme's text view.

    Returns
    -------
    ViewSentences
        All sentences, in narrative and reading order.
    """
    texts: list[str] = []
    sections: list[str | None] = []
    bounds = [0]
    for record in prepared:
        view_texts, view_sections = record.view(text_view)
        texts.extend(view_texts)
        sections.extend(view_sections)
        bounds.append(len(texts))
    return ViewSentences(tuple(texts), tuple(sections), tuple(bounds))


def pick_evidence(
    sentences: ViewSentences, scores: NDArray[np.float64], selected: NDArray[np.bool_]
) -> list[dict[int, tuple[Evidence, ...]]]:
    """Choose evidence sentences for every selected code of every narrative.

    Parameters
    ----------
    sentences : ViewSentences
        The narratives' view sentences.
    scores : ndarray of shape (m, k)
        Each sentence's score for each code, scored alone.
    selected : ndarray of bool, shape (n, k)
        The codes selected for each narrative.

    Returns
    -------
    list of dict of int to tuple of Evidence
        For each narrative, the column index of each selected code and its evidence (empty
        when the view has no sentence).
    """
    out: list[dict[int, tuple[Evidence, ...]]] = [{} for _ in range(len(selected))]
    bounds, texts, sections = sentences.bounds, sentences.texts, sentences.sections
    # One sort per narrative for all its selected codes, then plain Python on a few rows.
    for i in np.flatnonzero(selected.any(axis=1)).tolist() if len(selected) else []:
        start, stop = bounds[i], bounds[i + 1]
        columns = np.flatnonzero(selected[i])
        if start == stop:
            out[i] = dict.fromkeys(columns.tolist(), ())
            continue
        block = scores[start:stop, columns]
        orders = np.argsort(-block, axis=0, kind="stable").T.tolist()
        values = block.T.tolist()
        chosen = out[i]
        for j, order, column in zip(columns.tolist(), orders, values, strict=True):
            chosen[j] = _best(texts, sections, order, column, start)
    return out


def _best(
    texts: Sequence[str],
    sections: Sequence[str | None],
    order: list[int],
    column: list[float],
    start: int,
) -> tuple[Evidence, ...]:
    """Pick the best sentence of one narrative for one code, and the runner-up if close."""
    picked: list[Evidence] = []
    seen: set[str] = set()
    top = None
    for k in order:
        text = texts[start + k]
        if text in seen:
            continue
        if top is None:
            top = column[k]
        elif column[k] < RUNNER_UP_RATIO * top:
            break
        seen.add(text)
        picked.append(Evidence(text, sections[start + k]))
        if len(picked) == MAX_EVIDENCE:
            break
    return tuple(picked)
