r"""Redact records and split them into sentences labelled with their section, in one spaCy pass.

The pipeline that finds identifiers (:func:`pipeline.text.load_nlp`) also marks sentence
boundaries, so one pass over a text gives both its redacted form and its sentences: each
sentence is cut from the *redacted* text, so no identifier survives in one. A record's sections
come from ``record.sections`` (each section is its own text) or, for a narrative with headings,
from the same line-by-line reading of headings as :mod:`pipeline.views`; a sentence that starts
with an inline heading ("Action taken: Reviewed the rota.") loses the heading.

Examples
--------
>>> from pipeline.record import Record
>>> (ready,) = prepare_records([Record(id="1", text="Mrs Jones rang. Dose queried.\n"
...                                    "What has been changed: New alert.")])
>>> ready.record.text
'Mrs [NAME] rang. Dose queried.\nWhat has been changed: New alert.'
>>> list(zip(ready.sentences, ready.sections))  # doctest: +NORMALIZE_WHITESPACE
[('Mrs [NAME] rang.', 'what_happened'), ('Dose queried.', 'what_happened'),
 ('New alert.', 'changes')]
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.ingest.sections import join_sections
from pipeline.record import Record
from pipeline.views import RECOVERY_SECTIONS, known_sections, line_sections

if TYPE_CHECKING:
    from spacy.tokens import Doc

    from pipeline.redact import Identifier

__all__ = ["PreparedRecord", "prepare_records", "redact_records"]

Span = tuple[int, int]
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class PreparedRecord:
    """A redacted record and its sentences, each with the section it comes from.

    Attributes
    ----------
    record : Record
        The record, ``text`` and ``sections`` redacted.
    sentences : tuple of str
        Its narrative sentences in reading order (headings and preamble metadata left out).
    sections : tuple of str or None
        Each sentence's section; None when the narrative has no headings.
    """

    record: Record
    sentences: tuple[str, ...]
    sections: tuple[str | None, ...]

    def view(self, text_view: str) -> tuple[tuple[str, ...], tuple[str | None, ...]]:
        """Return the sentences (and sections) a scheme with this text view reads.

        ``"full"`` reads every sentence; ``"recovery"`` those of the what-happened, action-taken
        and went-well sections, or all of them when the narrative has no headings.
        """
        if text_view == "full":
            return self.sentences, self.sections
        keep = [s is None or s in RECOVERY_SECTIONS for s in self.sections]
        return (
            tuple(t for t, k in zip(self.sentences, keep, strict=True) if k),
            tuple(s for s, k in zip(self.sections, keep, strict=True) if k),
        )


def prepare_records(records: Sequence[Record], *, redact: bool = True) -> list[PreparedRecord]:
    """Redact records and split them into labelled sentences.

    Parameters
    ----------
    records : sequence of Record
        Records, possibly holding personal identifiers.
    redact : bool, default=True
        Redact; pass False only for records that are already redacted (sentences are still
        split).

    Returns
    -------
    list of PreparedRecord
        One per record, in order.
    """
    pieces: list[str] = []
    plans: list[tuple[bool, dict[str, str], dict[str, str] | None]] = []
    for record in records:
        given = record.sections or {}
        known = known_sections(given)
        # Ingest writes text = join_sections(sections): the sections alone are redacted, and
        # the text joined again, so that nothing is redacted twice.
        joined = known is not None and record.text == join_sections(given)
        if not joined:
            pieces.append(record.text)
        pieces.extend(given.values())
        plans.append((joined, given, known))
    done = iter(_redact_and_split(pieces, redact))
    out: list[PreparedRecord] = []
    for record, (joined, given, known) in zip(records, plans, strict=True):
        whole = None if joined else next(done)
        parts = {key: next(done) for key in given}
        sections = None
        if record.sections is not None:
            sections = {key: part for key, (part, _) in parts.items()}
        text = whole[0] if whole is not None else join_sections(sections or {})
        redacted = record.model_copy(update={"text": text, "sections": sections})
        labelled: list[tuple[str, str | None]]
        if known is not None:
            labelled = [
                (part[a:b].strip(), key)
                for key in known
                for part, spans in [parts[key]]
                for a, b in spans
            ]
        else:
            assert whole is not None
            labelled = _label(*whole)
        labelled = [(sentence, section) for sentence, section in labelled if sentence]
        out.append(
            PreparedRecord(
                redacted,
                tuple(sentence for sentence, _ in labelled),
                tuple(section for _, section in labelled),
            )
        )
    return out


def redact_records(records: Sequence[Record]) -> list[Record]:
    """Redact the text and sections of records (a record's joined sections are redacted once).

    Parameters
    ----------
    records : sequence of Record
        Records, possibly holding personal identifiers.

    Returns
    -------
    list of Record
        Copies with redacted ``text`` and ``sections``.
    """
    return [prepared.record for prepared in prepare_records(records)]


def _label(text: str, spans: Sequence[Span]) -> list[tuple[str, str | None]]:
    """Give each sentence of a narrative without given sections the section of its line."""
    lines = line_sections(text)
    starts = [line.start for line in lines]
    labelled: list[tuple[str, str | None]] = []
    for a, b in spans:
        k = bisect.bisect_right(starts, a) - 1
        if k < 0 or not lines[k].narrative or a >= lines[k].end:
            continue
        start = max(a, lines[k].body_start)
        if start < b:
            labelled.append((text[start:b].strip(), lines[k].section))
    return labelled


def _redact_and_split(texts: list[str], redact: bool) -> list[tuple[str, list[Span]]]:
    """Return each text redacted, with its sentences' character spans in the redacted text."""
    # spaCy (which imports torch) loads here, on first need: a run whose records are all in the
    # suggestion cache never imports it.
    from pipeline.redact import EXTENSION, apply_redactions
    from pipeline.text import REDACTOR, map_docs, prime_tokenizer

    cleaned = [_SURROGATE.sub("\ufffd", t) if _SURROGATE.search(t) else t for t in texts]

    def extract(doc: Doc) -> tuple[list[Identifier], list[Span]]:
        found = list(doc._.get(EXTENSION) or ()) if redact else []
        return found, [(s.start_char, s.end_char) for s in doc.sents]

    results = map_docs(cleaned, extract, disable=() if redact else (REDACTOR,))
    out: list[tuple[str, list[Span]]] = []
    for text, (found, sentences) in zip(cleaned, results, strict=True):
        if not found:
            out.append((text, sentences))
            continue
        moved = [
            (_moved(a, found, start=True), _moved(b, found, start=False)) for a, b in sentences
        ]
        out.append((apply_redactions(text, found), moved))
    # Every text here is redacted now (or was given redacted), so it may prime the tokenizer.
    prime_tokenizer([text for text, _ in out])
    return out


def _moved(offset: int, found: Sequence[Identifier], *, start: bool) -> int:
    """Map an offset into the redacted text (inside an identifier: the placeholder's edge)."""
    shift = 0
    for ident in found:
        if ident.end <= offset:
            shift += len(ident.label) + 2 - (ident.end - ident.start)
        elif ident.start < offset:  # inside: the sentence keeps the whole placeholder
            return ident.start + shift + (0 if start else len(ident.label) + 2)
        else:
            break
    return offset + shift
