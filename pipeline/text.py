"""The spaCy pipeline (blank English, rule-based), memory-bounded processing and sentence splitting.

No statistical model is needed or loaded: :func:`load_nlp` builds ``spacy.blank("en")`` with a
markup-aware tokenizer (:mod:`pipeline.markup`: HTML tags and character references such as
``&nbsp;`` are tokens of their own, so "Smith</i>" gives "Smith"), a sentencizer, a line-break
rule (a new line or a block tag such as ``<p>`` or ``<br>`` starts a sentence, as in terse GP
notes) and the ``nearmiss_redactor`` component from :mod:`pipeline.redact`.

:func:`map_docs` runs the pipeline inside spaCy memory zones, and builds it afresh now and then,
so that the words of millions of narratives (names, numbers) do not pile up in memory.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import TypeVar

import spacy
from spacy.attrs import IS_SPACE
from spacy.language import Language
from spacy.tokens import Doc

from pipeline.markup import (
    MARKUP,
    MarkupTokenizer,
    doc_text,
    is_block_tag,
    markup_tokens,
    opens_line,
)

__all__ = [
    "MARKUP",
    "MAX_LENGTH",
    "PRIME_TEXTS",
    "REBUILD_TEXTS",
    "REDACTOR",
    "ZONE_TEXTS",
    "doc_text",
    "is_block_tag",
    "load_nlp",
    "map_docs",
    "markup_tokens",
    "memory_zone",
    "prime_tokenizer",
    "split_sentences",
]

T = TypeVar("T")

#: Longest text accepted by the pipeline, in characters (the blank pipeline needs little memory).
MAX_LENGTH = 5_000_000
#: Name of the redaction component in the pipeline.
REDACTOR = "nearmiss_redactor"
#: Texts per memory zone in :func:`map_docs`: a zone reuses the words its texts share, and the
#: words it holds take a few megabytes at most.
ZONE_TEXTS = 4_096
#: Narratives per pipeline whose redacted text primes the tokenizer (see :func:`prime_tokenizer`).
PRIME_TEXTS = 2_000
#: Texts after which :func:`map_docs` has :func:`load_nlp` build the pipeline afresh. Memory zones
#: free the words but leave deleted slots in the vocabulary's hash tables, which keep growing
#: (65-95 bytes a text) and slow look-ups; a new pipeline, built in 0.1 s, starts clean.
REBUILD_TEXTS = 20_000
# A memory zone changes state shared by the whole vocabulary and cannot nest: one at a time.
_ZONE_LOCK = threading.RLock()
_primed = [0]  # texts given to prime_tokenizer since the pipeline was built
_processed = [0]  # texts through map_docs since the pipeline was built


@Language.component("nearmiss_line_breaks")
def line_breaks(doc: Doc) -> Doc:
    """Start a new sentence after every line break or line-ending tag, and at an opening one."""
    if len(doc) < 2:
        return doc
    spaces = doc.to_array([IS_SPACE])[:-1]  # only whitespace tokens can hold a line break
    for k in spaces.nonzero()[0].tolist():
        if "\n" in doc[k].text:
            doc[k + 1].is_sent_start = True
    for k in markup_tokens(doc):
        tag = doc[k].text
        if is_block_tag(tag):
            # "<p>" opens a sentence; "</p>" and "<br>" end one.
            start = k if opens_line(tag) else k + 1
            if 0 < start < len(doc):
                doc[start].is_sent_start = True
    return doc


@lru_cache(maxsize=1)
def load_nlp() -> Language:
    """Return the shared pipeline: blank English, sentencizer, line breaks, redactor.

    It is cached, and built afresh every :data:`REBUILD_TEXTS` texts of :func:`map_docs`.
    Process text with :func:`map_docs` (or inside :func:`memory_zone`), which keeps the shared
    vocabulary from growing and serialises threads; a doc made outside it is fine for one-off use.

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
    nlp.tokenizer = MarkupTokenizer(nlp.tokenizer, nlp.vocab)
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("nearmiss_line_breaks")
    nlp.add_pipe(REDACTOR)
    return nlp


@contextmanager
def memory_zone(nlp: Language) -> Iterator[None]:
    """Free, when the block ends, the words the block adds to ``nlp``'s vocabulary.

    A spaCy memory zone (``nlp.memory_zone()``), entered by one thread at a time; inside one
    already, nothing more is done. Docs made inside the block must not be used after it.

    Parameters
    ----------
    nlp : Language
        The pipeline, usually :func:`load_nlp`.
    """
    with _ZONE_LOCK:
        if nlp.vocab.in_memory_zone:  # type: ignore[attr-defined]  # not in spaCy's stubs
            yield
            return
        with nlp.memory_zone():
            yield


def prime_tokenizer(texts: Sequence[str]) -> None:
    """Tokenize texts that hold no personal data outside a memory zone, to speed up later zones.

    Inside a memory zone spaCy neither caches how a word splits nor keeps new words, so each
    word would be split afresh every time (about three times slower). Outside one, both are
    kept for good: fine for redacted text, never for raw narratives. Only the first
    :data:`PRIME_TEXTS` texts given to a pipeline are used, which bounds the memory this keeps.

    Parameters
    ----------
    texts : sequence of str
        Texts with no personal data, such as redacted narratives.
    """
    if _primed[0] >= PRIME_TEXTS:
        return
    nlp = load_nlp()
    with _ZONE_LOCK:
        if nlp.vocab.in_memory_zone:  # type: ignore[attr-defined]  # not in spaCy's stubs
            return
        for text in texts[: max(0, PRIME_TEXTS - _primed[0])]:
            if len(text) <= nlp.max_length:
                nlp.make_doc(text)
            _primed[0] += 1


def map_docs(
    texts: Sequence[str],
    extract: Callable[[Doc], T],
    batch_size: int = 64,
    disable: Sequence[str] = (),
) -> list[T]:
    """Run the pipeline over ``texts`` and return ``extract(doc)`` for each doc.

    Every :data:`ZONE_TEXTS` texts run inside their own :func:`memory_zone`, so memory stays
    flat however many texts go through. ``extract`` must return plain Python values: the docs
    are freed when their zone ends.

    Parameters
    ----------
    texts : sequence of str
        Texts to process.
    extract : callable
        Called on each doc, in input order.
    batch_size : int, default=64
        Texts per spaCy batch.
    disable : sequence of str, default=()
        Pipeline components to skip.

    Returns
    -------
    list
        ``extract(doc)`` for each text, in input order.

    Examples
    --------
    >>> map_docs(["Mrs Jones rang", ""], len)
    [3, 0]
    """
    nlp = load_nlp()
    out: list[T] = []
    for start in range(0, len(texts), ZONE_TEXTS):
        chunk = texts[start : start + ZONE_TEXTS]
        with memory_zone(nlp):
            docs = nlp.pipe(chunk, batch_size=max(1, batch_size), disable=list(disable))
            out.extend(map(extract, docs))
    _count(len(texts))
    return out


def _count(n: int) -> None:
    """Count texts processed; after :data:`REBUILD_TEXTS`, the next pipeline is a new one."""
    with _ZONE_LOCK:
        _processed[0] += n
        if _processed[0] >= REBUILD_TEXTS and not load_nlp().vocab.in_memory_zone:  # type: ignore[attr-defined]
            load_nlp.cache_clear()
            _processed[0] = _primed[0] = 0


def _sentences(doc: Doc) -> list[str]:
    return [s.text.strip() for s in doc.sents if s.text.strip()]


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
    return map_docs(texts, _sentences, batch_size=batch_size, disable=[REDACTOR])
