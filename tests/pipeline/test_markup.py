"""Markup in narratives: which tags, comments and attributes count, and the tokens they give."""

from __future__ import annotations

import pytest

from pipeline.markup import is_block_tag, is_field_edge, markup_spans
from pipeline.text import load_nlp, split_sentences


def pieces(text: str) -> list[str]:
    return [text[start:end] for start, end in markup_spans(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no markup at all", []),
        ("<b>Mrs</b> Jones&nbsp;rang", ["<b>", "</b>", "&nbsp;"]),
        ('<img alt="John Smith" src="x.png">', ['<img alt="', '" src="x.png">']),
        ("<span title='Dr Patel' class=\"n\">", ["<span title='", '\' class="n">']),
        ('<a href="mailto:j@nhs.net">', ['<a href="mailto:j@nhs.net">']),  # a link is no text
        ('<img alt="">', ['<img alt="">']),
        ("<input value=Smith>", ["<input value=", ">"]),
        ("<patient>Jane Doe</patient>", ["<patient>", "</patient>"]),
        ('<pt id="7">Jane</pt>', ['<pt id="7">', "</pt>"]),
        ("Re: <Mrs Jones> rang", []),
        ("pt <jones> rang", []),  # an XML-like tag never closed is text
        ("eGFR <30, K+ >6", []),
        ("<!-- Mr Smith -->", ["<!--", "-->"]),
        ("<!-- <b>x</b> -->", ["<!--", "<b>", "</b>", "-->"]),
        ("<w:t>Mrs Jones</w:t>", ["<w:t>", "</w:t>"]),
    ],
)
def test_markup_spans(text: str, expected: list[str]) -> None:
    assert pieces(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        '<img alt="John Smith" src="x.png"> <span title=\'A B\'>x</span>',
        "<patient>Jane Doe</patient><dob>1/2/1950</dob>",
        "<!-- <a>Mr Smith</a> --> text",
        '<td title="  ">Smith</td><input value=Smith>',
    ],
)
def test_tokens_keep_the_text(text: str) -> None:
    assert load_nlp().make_doc(text).text == text


def test_attribute_text_and_xml_content_are_tokens_of_their_own() -> None:
    doc = load_nlp().make_doc('<img alt="John Smith"><patient>Jane</patient>')
    assert [t.text for t in doc] == [
        '<img alt="',
        "John",
        "Smith",
        '">',
        "<patient>",
        "Jane",
        "</patient>",
    ]


def test_xml_elements_end_lines_but_namespaced_and_inline_tags_do_not() -> None:
    assert is_block_tag("<patient>") and is_block_tag("</surname>")
    assert not is_block_tag("<w:t>") and not is_block_tag("<b>") and not is_block_tag("&amp;")
    assert is_field_edge('<img alt="') and is_field_edge('" src="x">')
    assert not is_field_edge("<patient>") and not is_field_edge("&nbsp;")
    assert split_sentences(["<patient>[NAME]</patient><dob>[DATE]</dob>"]) == [
        ["<patient>[NAME]</patient>", "<dob>[DATE]</dob>"]
    ]
