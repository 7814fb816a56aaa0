"""The spaCy pipeline and sentence splitting."""

from __future__ import annotations

from pipeline.text import load_nlp, split_sentences


def test_pipeline_is_blank_english_with_sentencizer_and_redactor() -> None:
    nlp = load_nlp()
    assert nlp.lang == "en"
    assert nlp.pipe_names == ["sentencizer", "nearmiss_line_breaks", "nearmiss_redactor"]


def test_sentences_split_on_punctuation_and_line_breaks() -> None:
    texts = ["Mrs [NAME] rang. INR 4.2 on Mon\nwarfarin held", "", "one line only"]
    assert split_sentences(texts) == [
        ["Mrs [NAME] rang.", "INR 4.2 on Mon", "warfarin held"],
        [],
        ["one line only"],
    ]


def test_splitting_does_not_redact() -> None:
    assert split_sentences(["Mrs Jones rang."]) == [["Mrs Jones rang."]]


def test_abbreviations_with_dots_do_not_end_a_sentence() -> None:
    assert split_sentences(["Seen by Dr. Patel today. Plan agreed."]) == [
        ["Seen by Dr. Patel today.", "Plan agreed."]
    ]
