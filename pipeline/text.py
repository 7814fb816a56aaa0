"""The spaCy pipeline (blank English, rule-based) and sentence splitting.

No statistical model is needed or loaded: :func:`load_nlp` builds ``spacy.blank("en")`` with a
sentencizer, a line-break rule (a new line starts a sentence, as in terse GP notes) and the
``nearmiss_redactor`` component from :mod:`pipeline.redact`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import spacy
from spacy.attrs import IS_SPACE
from spacy.language import Language
from spacy.tokens import Doc

__all__ = ["MAX_LENGTH", "REDACTOR", "load_nlp", "split_sentences"]

#: Longest text accepted by the pipeline, in characters (the blank pipeline needs little memory).
MAX_LENGTH = 5_000_000
#: Name of the redaction component in the pipeline.
REDACTOR = "nearmiss_redactor"


@Language.component("nearmiss_line_breaks")
def line_breaks(doc: Doc) -> Doc:
    """Start a new sentence after every token that holds a line break."""
    if len(doc) < 2:
        return doc
    spaces = doc.to_array([IS_SPACE])[:-1]  # only whitespace tokens can hold a line break
    for k in spaces.nonzero()[0].tolist():
        if "\n" in doc[k].text:
            doc[k + 1].is_sent_start = True
    return doc


@lru_cache(maxsize=1)
def load_nlp() -> Language:
    """Return the process-wide pipeline: blank English, sentencizer, line breaks, redactor.

    Returns
    -------
    Language
        The cached pipeline. ``doc._.nearmiss_identifiers`` and ``doc._.nearmiss_redacted`` are
        set on every doc it makes.

    Examples
    --------
    >>> load_nlp().pipe_names
    ['sentencizer', 'nearmiss_line_breaks', 'nearmiss_redactor']
    """
    import pipeline.redact  # noqa: F401  (registers the nearmiss_redactor factory)

    nlp = spacy.blank("en")
    nlp.max_length = MAX_LENGTH
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("nearmiss_line_breaks")
    nlp.add_pipe(REDACTOR)
    return nlp


def split_sentences(texts: Sequence[str], batch_size: int = 64) -> list[list[str]]:
    r"""Split each text into sentences (stripped, empty ones dropped), without redacting.

    Use it on text that is already redacted, for example to pick evidence sentences.

    Parameters
    ----------
    texts : sequence of str
        Texts to split.
    batch_size : int, default=64
        Texts per spaCy batch.

    Returns
    -------
    list of list of str
        The sentences of each text, in order.

    Examples
    --------
    >>> split_sentences(["Mrs [NAME] rang. INR 4.2 on Mon\nwarfarin held"])
    [['Mrs [NAME] rang.', 'INR 4.2 on Mon', 'warfarin held']]
    """
    nlp = load_nlp()
    docs = nlp.pipe(list(texts), batch_size=batch_size, disable=[REDACTOR])
    return [[s.text.strip() for s in doc.sents if s.text.strip()] for doc in docs]
