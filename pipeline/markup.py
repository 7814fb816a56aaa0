"""Markup in narratives: tags, comments and character references as tokens of their own.

Exports from clinical systems and letters carry HTML ("<b>Mrs</b> Jones", "07700&nbsp;900123") and
sometimes XML ("<patient>Jane Doe</patient>"). :class:`MarkupTokenizer` makes every tag and
character reference one token, tokenizes the text between them as spaCy would, and keeps
``doc.text`` the original text, so that markup neither hides identifiers nor is taken for words.
:func:`doc_text` and :func:`markup_tokens` read back what the tokenizer stored on a doc.

What counts as markup (:func:`markup_spans`):

* HTML tags with real HTML names, and namespaced XML tags ("<w:t>", "<o:p>"), with well-formed
  attributes; comments; character references ("&nbsp;", "&#39;");
* other XML-like tags ("<patient>", "</forename>") only when the text holds both the opening and
  the closing tag, so that angle brackets round a name ("<Mrs Jones>", "<jones>") stay text;
* the words of a comment are text: ``<!-- Mr Smith -->`` gives ``<!--``, ``Mr``, ``Smith``, ``-->``;
* the value of an attribute that holds human-readable text (``alt``, ``title``, ``value``,
  ``label``, ``placeholder``, ``aria-label``, ``content``, ``data-*``...) is text, not markup:
  ``<img alt="John Smith">`` gives the tokens ``<img alt="``, ``John``, ``Smith``, ``">``.

Line-ending HTML tags ("<p>", "<td>", "<br>") and XML elements end a line, as a line break does
(:func:`is_block_tag`); an attribute value is a field of its own (:func:`is_field_edge`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from spacy.attrs import IDX, LENGTH, SPACY
from spacy.tokens import Doc
from spacy.vocab import Vocab

__all__ = [
    "MARKUP",
    "MarkupTokenizer",
    "doc_text",
    "is_block_tag",
    "is_field_edge",
    "markup_spans",
    "markup_tokens",
    "opens_line",
    "tag_name",
]

# Keys of ``doc.user_data`` (a plain dict, cheaper than Doc extensions on every doc): the text a
# doc was made from, and the indices of its markup tokens.
_TEXT_KEY = "nearmiss_text"
_MARKUP_KEY = "nearmiss_markup"

# Only real HTML tag names (and namespaced XML ones, "<w:t>", "<o:p>") count: angle brackets round
# anything else ("<Mrs Jones>", "eGFR <30") are text, so that no name hides in a false tag.
_TAGS = (
    "a abbr address article aside b bdi bdo big blockquote body br caption center cite code col"
    " colgroup dd del details dfn div dl dt em figcaption figure font footer form h1 h2 h3 h4 h5 h6"
    " head header hr html i img input ins kbd label li link main mark meta nav ol p pre q s"
    " samp section small span strike strong style sub summary sup table tbody td tfoot th thead"
    " time title tr tt u ul var wbr"
)
_BLOCK_TAG_NAMES = (
    "address article aside blockquote body br dd details div dl dt figcaption figure footer form"
    " h1 h2 h3 h4 h5 h6 header hr html li main nav ol p pre section summary table tbody td tfoot"
    " th thead tr ul"
)
#: Tags that end a line, as a line break does: a sentence starts after one (and at an opening one).
_BLOCK_TAGS = frozenset(_BLOCK_TAG_NAMES.split())
_ATTRIBUTE = r"""\s+[\w:.-]+(?:\s*=\s*(?:"[^"<>]*"|'[^'<>]*'|[^\s"'<>]+))?"""
#: An HTML tag (with well-formed attributes), comment or character reference.
MARKUP = re.compile(
    rf"<(?:/?(?:{'|'.join(sorted(_TAGS.split(), key=len, reverse=True))}|[A-Za-z][\w.-]*:[\w.-]+)"
    rf"\b(?:{_ATTRIBUTE})*\s*/?"
    r"|!--.*?--)>|&(?:[A-Za-z][A-Za-z\d]{1,31}|#\d{1,7}|#[xX][\da-fA-F]{1,6});",
    re.IGNORECASE | re.DOTALL,
)
_TAG_NAME = re.compile(r"</?([\w:]+)")
_VOID = frozenset({"br", "hr"})
_HTML_TAGS = frozenset(_TAGS.split())
#: An XML-like tag with any name and quoted attributes: markup only when paired (see
#: :func:`markup_spans`). Groups: the closing slash, the name, a self-closing slash.
_GENERIC = re.compile(
    r"""<(/?)([A-Za-z][\w.-]*)(?:\s+[\w:.-]+\s*=\s*(?:"[^"<>]*"|'[^'<>]*'))*\s*(/?)>"""
)
#: Attributes whose values are human-readable text (group 1, 2 or 3: the value).
_TEXT_VALUE = re.compile(
    r"""\s(?:alt|title|value|label|placeholder|aria-label|aria-description|summary|abbr|content"""
    r"""|data-[\w.-]+)\s*=\s*(?:"([^"<>]*)"|'([^'<>]*)'|([^\s"'<>/=`]+))""",
    re.IGNORECASE,
)


def is_block_tag(markup: str) -> bool:
    """Tell whether a markup token is a tag that ends a line ("<p>", "</div>", "<br/>").

    Examples
    --------
    >>> is_block_tag("<br/>"), is_block_tag("</P>"), is_block_tag("<b>"), is_block_tag("&nbsp;")
    (True, True, False, False)
    """
    name = tag_name(markup)
    return name in _BLOCK_TAGS or bool(name) and name not in _HTML_TAGS and ":" not in name


def is_field_edge(markup: str) -> bool:
    """Tell whether a markup token is the part of a tag before or after an attribute's text.

    Examples
    --------
    >>> is_field_edge('<img alt="'), is_field_edge('" src="x.png">'), is_field_edge("<b>")
    (True, True, False)
    """
    return not markup.startswith("&") and not (markup.startswith("<") and markup.endswith(">"))


def markup_spans(text: str) -> list[tuple[int, int]]:
    """Return the ``(start, end)`` offsets of the markup in ``text``, in order.

    Parameters
    ----------
    text : str
        Any text.

    Returns
    -------
    list of tuple of int
        Disjoint spans of tags (less the values of text attributes), comments and character
        references; see the module docstring for what counts.

    Examples
    --------
    >>> text = '<p>Mrs Jones</p><img alt="J Smith"><Mrs Jones>'
    >>> [text[s:e] for s, e in markup_spans(text)]
    ['<p>', '</p>', '<img alt="', '">']
    >>> text = "<patient>Jane Doe</patient><!-- Mr Smith -->"
    >>> [text[s:e] for s, e in markup_spans(text)]
    ['<patient>', '</patient>', '<!--', '-->']
    """
    if "<" not in text and "&" not in text:
        return []
    spans = [m.span() for m in MARKUP.finditer(text)]
    if "<" not in text:
        return spans
    generic = _paired_tags(text)
    if generic:
        spans = _merge(spans, generic)
    if "=" in text or "<!--" in text:
        spans = [piece for span in spans for piece in _split_values(text, span)]
    return spans


def _paired_tags(text: str) -> list[tuple[int, int]]:
    """Return the XML-like tags of ``text`` whose name is opened and closed in it."""
    found = [
        m
        for m in _GENERIC.finditer(text)
        if m.group(2).lower() not in _HTML_TAGS and not (m.group(1) and m.group(3))
    ]
    opened = {m.group(2) for m in found if not m.group(1)}
    closed = {m.group(2) for m in found if m.group(1)}
    paired = opened & closed
    return [m.span() for m in found if m.group(2) in paired]


def _merge(spans: list[tuple[int, int]], extra: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Add the spans of ``extra`` that overlap none of ``spans`` (a tag inside a comment)."""
    kept = [x for x in extra if not any(s < x[1] and x[0] < e for s, e in spans)]
    return sorted(spans + kept)


def _split_values(text: str, span: tuple[int, int]) -> list[tuple[int, int]]:
    """Split a tag round the values of its text attributes; other markup stays whole."""
    start, end = span
    if text.startswith("<!--", start):  # a comment's words are text: "<!-- Mr Smith -->"
        inner = [(s + start + 4, e + start + 4) for s, e in markup_spans(text[start + 4 : end - 3])]
        return [(start, start + 4), *inner, (end - 3, end)] if end - start > 7 else [span]
    if text[start] != "<":
        return [span]
    pieces: list[tuple[int, int]] = []
    pos = start
    for m in _TEXT_VALUE.finditer(text, start, end):
        group = next(g for g in (1, 2, 3) if m.group(g) is not None)
        if m.group(group).strip():
            pieces.append((pos, m.start(group)))
            pos = m.end(group)
    pieces.append((pos, end))
    return pieces


def opens_line(markup: str) -> bool:
    """Tell whether a line-ending tag starts its own line ("<p>") rather than ending one ("</p>").

    Examples
    --------
    >>> opens_line("<p>"), opens_line("</p>"), opens_line("<br/>")
    (True, False, False)
    """
    return is_block_tag(markup) and not markup.startswith("</") and tag_name(markup) not in _VOID


def tag_name(markup: str) -> str:
    """Return the lower-case name of a tag ("</P>" gives "p"), or "" for other markup."""
    m = _TAG_NAME.match(markup)
    return m.group(1).lower() if m else ""


class MarkupTokenizer:
    """Tokenize as spaCy does, but with every piece of markup (:func:`markup_spans`) one token.

    Text between markup is tokenized by the wrapped tokenizer, as if the markup were a space;
    ``doc.text`` stays the original text (see also :func:`doc_text` and :func:`markup_tokens`).
    Text without markup goes straight to the wrapped tokenizer.

    Parameters
    ----------
    tokenizer : callable
        spaCy's tokenizer for the language.
    vocab : Vocab
        The pipeline's vocabulary.
    """

    def __init__(self, tokenizer: Callable[[str], Doc], vocab: Vocab) -> None:
        self.tokenizer = tokenizer
        self.vocab = vocab
        rules = getattr(tokenizer, "rules", None) or {}
        #: Words the wrapped tokenizer splits by a special rule ("cannot"): never a fast path.
        self.specials = frozenset(rules)

    def __getattr__(self, name: str) -> Any:
        """Delegate everything else (``explain``, serialisation...) to the wrapped tokenizer."""
        return getattr(self.__dict__["tokenizer"], name)

    def __call__(self, text: str) -> Doc:
        """Tokenize ``text``."""
        spans = markup_spans(text)
        if not spans:
            doc = self.tokenizer(text)
            doc.user_data[_TEXT_KEY] = text
            return doc
        words: list[str] = []
        spaces: list[bool] = []
        markup: list[int] = []
        pos = 0
        for start, end in spans:
            self._add_plain(text[pos:start], words, spaces)
            markup.append(len(words))
            words.append(text[start:end])
            pos = end
            spaces.append(text.startswith(" ", pos))
            pos += spaces[-1]
        self._add_plain(text[pos:], words, spaces)
        doc = Doc(self.vocab, words=words, spaces=spaces)
        doc.user_data[_TEXT_KEY] = text
        doc.user_data[_MARKUP_KEY] = tuple(markup)
        return doc

    def _add_plain(self, text: str, words: list[str], spaces: list[bool]) -> None:
        """Append the tokens of markup-free ``text``."""
        if not text:
            return
        # Fast paths, tokenized as spaCy would: a run of spaces, a lone word ("Smith" in a cell).
        if text.isspace():
            words.append(text)
            spaces.append(False)
            return
        word = text[:-1] if text.endswith(" ") else text
        if word.isalpha() and word.isascii() and word not in self.specials:
            words.append(word)
            spaces.append(word is not text)
            return
        # Offsets from one array read: much faster than a Token object per token.
        rows = self.tokenizer(text).to_array([IDX, LENGTH, SPACY]).tolist()
        for start, length, space in rows:
            words.append(text[start : start + length])
            spaces.append(bool(space))


def doc_text(doc: Doc) -> str:
    """Return the text ``doc`` was made from, as stored by the tokenizer (no rebuilding)."""
    text = doc.user_data.get(_TEXT_KEY)
    return text if isinstance(text, str) else doc.text


def markup_tokens(doc: Doc) -> tuple[int, ...]:
    """Return the indices of the tokens of ``doc`` that are markup ("<b>", "&nbsp;")."""
    markup = doc.user_data.get(_MARKUP_KEY)
    return markup if isinstance(markup, tuple) else ()
