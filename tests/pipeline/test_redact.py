"""De-identification: each identifier type, hard negatives, odd input, idempotence, recall floor."""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pipeline import text as text_module
from pipeline.redact import (
    Identifier,
    NearmissRedactor,
    apply_redactions,
    find_identifiers,
    redact_texts,
    resolve_overlaps,
)
from pipeline.redact_lexicon import load_lexicon
from pipeline.text import load_nlp, split_sentences

EVAL = Path(__file__).resolve().parents[2] / "data" / "deid" / "eval.jsonl"


@pytest.fixture(scope="module")
def eval_rows() -> list[dict]:
    return [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines() if line]


def one(text: str) -> str:
    return redact_texts([text])[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("NHS no 943 476 5919.", "NHS no [NHS_NUMBER]."),
        (
            "nhs 9434765919 (check digit wrong: 9434765918)",
            "nhs [NHS_NUMBER] (check digit wrong: [NHS_NUMBER])",
        ),
        ("NHS: 943-476-5919", "NHS: [NHS_NUMBER]"),
        ("DOB 12/03/1956", "DOB [DATE]"),
        ("dob 3.4.71, seen 2024-03-12", "dob [DATE], seen [DATE]"),
        ("seen 3rd June 2024 and Mon 4th March", "seen [DATE] and [DATE]"),
        ("letter dated 14/03, due June 2024", "letter dated [DATE], due [DATE]"),
        ("born in 1942", "born in [DATE]"),
        ("tel 0161 496 0123", "tel [PHONE]"),
        ("mob +44 (0)7700 900123", "mob [PHONE]"),
        ("ring (01632) 960123", "ring [PHONE]"),
        ("email j.bloggs@nhs.net.", "email [EMAIL]."),
        ("lives LS6 2AB", "lives [POSTCODE]"),
        ("lives ls62ab", "lives [POSTCODE]"),
        ("at 12 Acacia Avenue, Leeds, LS6 2AB", "at [ADDRESS], [POSTCODE]"),
        ("Flat 4, 27 High Street", "[ADDRESS]"),
        ("moved to 5 station road", "moved to [ADDRESS]"),
        ("hosp no RX1234567", "hosp no [HOSPITAL_NUMBER]"),
        ("MRN: 10293847", "MRN: [HOSPITAL_NUMBER]"),
        ("EMIS number 554433", "EMIS number [HOSPITAL_NUMBER]"),
        ("Mrs Jones rang", "Mrs [NAME] rang"),
        ("Seen by Dr. O'Brien-Smith", "Seen by Dr. [NAME]"),
        ("mr j smith and dr patel advised", "mr [NAME] and dr [NAME] advised"),
        ("Sarah on reception noticed", "[NAME] on reception noticed"),
        ("receptionist Olumide rebooked", "receptionist [NAME] rebooked"),
        ("Pharmacist Jabulani at Boots queried", "Pharmacist [NAME] at Boots queried"),
        (
            "Filippo, the practice nurse, queried the dose",
            "[NAME], the practice nurse, queried the dose",
        ),
        ("Spoke to Chidinma at the hub", "Spoke to [NAME] at the hub"),
        ("Son Tomasz collected", "Son [NAME] collected"),
        ("spoke to priya about it", "spoke to [NAME] about it"),
        (
            "Sue on reception and Will from dispensary",
            "[NAME] on reception and [NAME] from dispensary",
        ),
        ("Mark Evans (practice manager) completed", "[NAME] (practice manager) completed"),
        ("Olumide Adeyemi rang re results", "[NAME] rang re results"),
        ("Adeyemi, Olumide - DOB 01/01/1980", "[NAME] - DOB [DATE]"),
        ("HCA JT did obs", "HCA [INITIALS] did obs"),
        ("checked by AB, signed J.S.", "checked by [INITIALS], signed [INITIALS]"),
        ("Pt (RS) attended", "Pt ([INITIALS]) attended"),
        ("KD actioned the task", "[INITIALS] actioned the task"),
        ("Dr AB reviewed", "Dr [INITIALS] reviewed"),
    ],
)
def test_each_identifier_type_gets_its_placeholder(text: str, expected: str) -> None:
    assert one(text) == expected


HARD_NEGATIVES = [
    "Pt on amlodipine 5mg od and Warfarin, INR 4.2 on Monday.",
    "BP 140/90, HbA1c 48, eGFR 45, K+ 5.9, Hb 98, TSH 0.3, PSA 6.1, CRP 120.",
    "Hx Parkinson's disease, Addison's, Crohn's, Bell's palsy, Down syndrome, Graves' disease.",
    "Known Barrett's oesophagus; Ramsay Hunt syndrome; Guillain-Barre.",
    "r/v 1/52, bloods in 3/7, repeat in 2/12, 2WW referral sent, T2DM annual review due.",
    "Pt 32/40 pregnant, baby 10/12 old, 24/7 care, on 1/2 tablet, co-codamol 30/500.",
    "Booked at 10:30, rang back at 3pm, seen 15.30, OOH at 18:00.",
    "Task sent to the GP via EMIS; HCA to repeat obs; reception to book; Docman workflow.",
    "SystmOne alert overridden; AccuRx message sent; advised NHS 111 or A&E if worse.",
    "Happened in March; similar event in 2022; due again in May.",
    "Will review. May need U&Es. Mark as urgent. Grace period missed. Hope this helps.",
    "Letter from John Radcliffe Hospital and Queen Elizabeth Hospital, seen at St George's.",
    "Fostair 100/6 2 puffs bd, Lantus 14 units nocte, Oramorph 2.5ml, Adcal-D3.",
    "Vitamin D 100000 units loading, then 20,000 units weekly; B12 1mg IM 3-monthly.",
    "The duty doctor spoke to the pharmacist at Boots who confirmed the dose.",
    "Frank haematuria. Interaction with Lantus flagged. Not received by Frimley Park.",
    "Seen by ANP, then GP; discussed with PCN pharmacist and the registrar.",
    "ECG booked, BP checked, FBC filed, CXR normal. Pt AF, on DOAC.",
    "Sister rang to say pt confused. Nurse practitioner reviewed.",
]


@pytest.mark.parametrize("text", HARD_NEGATIVES)
def test_clinical_content_survives(text: str) -> None:
    assert one(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "\n\n\n",
        "\x00\x01\x02\x1b[31m",
        "😀" * 50,
        "Dr",
        "Mrs",
        "(",
        "J.",
        "0" * 50,
        "a" * 100_000,
        "Aa" * 50_000,
        ("Mrs Jones rang 07700 900123. " * 3500)[:100_000],
        " ".join(["Sarah"] * 20_000)[:100_000],
        "\ufeffBOM and zero\u200bwidth",
    ],
)
def test_odd_input_never_raises_and_keeps_unmatched_text(text: str) -> None:
    out = one(text)
    assert isinstance(out, str)
    if "Jones" not in text and "Sarah" not in text:
        assert out == text


def test_lone_surrogates_none_and_numbers_are_accepted() -> None:
    out = redact_texts(["\ud800 Mrs Jones", None, 12345])  # type: ignore[list-item]
    assert out == ["\ufffd Mrs [NAME]", "", "12345"]


def test_invisible_characters_do_not_hide_a_name() -> None:
    assert one("Mrs Jones\u200b rang") == "Mrs [NAME] rang"


def test_output_matches_input_order_and_length() -> None:
    texts = [f"Mrs Jones {i}" if i % 2 else f"INR {i}.0" for i in range(150)]
    out = redact_texts(texts, batch_size=7)
    assert len(out) == 150
    assert out[1] == "Mrs [NAME] 1" and out[2] == "INR 2.0"


def test_redacting_redacted_text_changes_nothing(eval_rows: list[dict]) -> None:
    once = redact_texts([r["text"] for r in eval_rows[:150]])
    assert redact_texts(once) == once


def test_find_identifiers_offsets_point_at_the_identifiers() -> None:
    text = "Seen by Dr Patel, NHS 943 476 5919, INR 4.2"
    [found] = find_identifiers([text])
    assert [(text[i.start : i.end], i.label) for i in found] == [
        ("Patel", "NAME"),
        ("943 476 5919", "NHS_NUMBER"),
    ]


def test_overlapping_candidates_merge_into_their_union() -> None:
    merged = resolve_overlaps(
        [Identifier(0, 5, "NAME"), Identifier(3, 12, "ADDRESS"), Identifier(20, 25, "DATE")]
    )
    assert merged == [Identifier(0, 12, "ADDRESS"), Identifier(20, 25, "DATE")]
    assert apply_redactions("abcdefghijklmnopqrstuvwxyz", merged) == "[ADDRESS]mnopqrst[DATE]z"


def test_pipeline_is_cached_and_component_can_be_made_twice() -> None:
    assert load_nlp() is load_nlp()
    assert "nearmiss_redactor" in load_nlp().pipe_names
    NearmissRedactor()  # extensions are set once, behind has_extension guards
    doc = load_nlp()("Mrs Jones rang")
    assert doc._.nearmiss_redacted == "Mrs [NAME] rang"
    assert doc._.nearmiss_identifiers == [Identifier(4, 9, "NAME")]


def test_no_narrative_text_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        redact_texts(["Mrs Zebedee Quinterro rang 07700 900123"])
    assert all("Quinterro" not in r.getMessage() for r in caplog.records)


def test_recall_floor_on_the_evaluation_set(eval_rows: list[dict]) -> None:
    predicted = find_identifiers([r["text"] for r in eval_rows])
    gold = found = 0
    for row, spans in zip(eval_rows, predicted, strict=True):
        mask = [False] * len(row["text"])
        for s in spans:
            mask[s.start : s.end] = [True] * (s.end - s.start)
        for g in row["spans"]:
            gold += 1
            found += all(
                mask[g["start"] : g["end"]][k] or row["text"][g["start"] + k].isspace()
                for k in range(g["end"] - g["start"])
            )
    assert found / gold >= 0.98
    untouched = [spans for row, spans in zip(eval_rows, predicted, strict=True) if not row["spans"]]
    assert sum(1 for spans in untouched if not spans) / len(untouched) >= 0.95


def test_gazetteer_has_names_and_keeps_ambiguous_ones_apart() -> None:
    lex = load_lexicon()
    assert {"sarah", "mohammed", "priya", "siobhan"} <= lex.first_names
    assert {"will", "grace", "june"} <= lex.ambiguous
    assert "addison" not in lex.first_names  # an eponym, not a name here
    assert "advised" in lex.common and "sarah" not in lex.common


# Memory: a spaCy memory zone per batch, priming with redacted text, a new pipeline now and then.


def _unique_texts(n: int, start: int = 0) -> list[str]:
    """Narratives whose words are new to the vocabulary (as real names and numbers are)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(letters[int(d)] for d in str(k)) for k in range(start, start + n)]
    return [
        f"Mrs Zu{w}ski rang re Wq{w}y, ref Zz{k}q 0{k:010d} {k}kq"
        for k, w in enumerate(words, start)
    ]


def test_redaction_does_not_grow_the_vocabulary(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every new word used to stay in the shared StringStore and vocab (~0.4 KiB per text).
    nlp = load_nlp()
    redact_texts(_unique_texts(10))  # warm: lazily created state is not a leak
    monkeypatch.setattr(text_module, "PRIME_TEXTS", text_module._primed[0])  # priming spent
    strings, lexemes = len(nlp.vocab.strings), sum(1 for _ in nlp.vocab)
    out = redact_texts(_unique_texts(500, start=1000), batch_size=16)
    find_identifiers(_unique_texts(200, start=5000))
    split_sentences(_unique_texts(200, start=9000))
    assert out[0] == "Mrs [NAME] rang re Wqbaaay, ref [HOSPITAL_NUMBER] [PHONE] 1000kq"
    assert len(nlp.vocab.strings) == strings
    assert sum(1 for _ in nlp.vocab) == lexemes  # len(vocab) counts freed lexemes too


def test_priming_keeps_words_of_redacted_text_only_and_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nlp = load_nlp()
    monkeypatch.setattr(text_module, "_primed", [0])
    monkeypatch.setattr(text_module, "PRIME_TEXTS", 3)
    assert redact_texts(["Mrs Zuqqxy rang re Wqzzyq"]) == ["Mrs [NAME] rang re Wqzzyq"]
    assert "Wqzzyq" in nlp.vocab.strings  # kept, from the redacted text
    assert "Zuqqxy" not in nlp.vocab.strings  # the name is never kept
    redact_texts(_unique_texts(50, start=30_000))  # primes two more, then stops
    strings = len(nlp.vocab.strings)
    redact_texts(_unique_texts(50, start=40_000))
    assert len(nlp.vocab.strings) == strings


def test_pipeline_is_built_afresh_every_rebuild_texts(monkeypatch: pytest.MonkeyPatch) -> None:
    # Memory zones free the words, not the room their hash tables grew to: a new pipeline does.
    monkeypatch.setattr(text_module, "REBUILD_TEXTS", 100)
    monkeypatch.setattr(text_module, "_processed", [0])
    before = load_nlp()
    redact_texts(["Mrs Jones rang"] * 99)
    assert load_nlp() is before
    assert redact_texts(["Mrs Jones rang"]) == ["Mrs [NAME] rang"]
    assert load_nlp() is not before
    assert redact_texts(["Mrs Jones rang"]) == ["Mrs [NAME] rang"]


def test_redaction_is_safe_from_threads_and_inside_a_memory_zone() -> None:
    # spaCy memory zones cannot nest and change shared state: threads must not interleave them.
    texts = _unique_texts(300, start=20_000)
    expected = redact_texts(texts)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(redact_texts, [texts[k::4] for k in range(4)]))
    assert [results[k % 4][k // 4] for k in range(300)] == expected
    with load_nlp().memory_zone():
        assert redact_texts(["Mrs Jones rang"]) == ["Mrs [NAME] rang"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "<b>Urgent:</b> fax about <i>Mr Joe Smith</i> filed",
            "<b>Urgent:</b> fax about <i>Mr [NAME]</i> filed",
        ),
        ("Mr<b> Joe Smith</b> rang", "Mr<b> [NAME]</b> rang"),
        ("<i>Mrs</i> Jones rang", "<i>Mrs</i> [NAME] rang"),
        ("Mrs <i>Jones</i> rang", "Mrs <i>[NAME]</i> rang"),
        ("<p>Seen by Dr <b>Patel</b></p>", "<p>Seen by Dr <b>[NAME]</b></p>"),
        ("&lt;Mr Joe Smith&gt; rang", "&lt;Mr [NAME]&gt; rang"),
        ("Mr&nbsp;Joe&nbsp;Smith rang", "Mr&nbsp;[NAME] rang"),
        ("Mrs O&#39;Neill rang", "Mrs [NAME] rang"),
        ("Mr Joe Smith<br/>rang", "Mr [NAME]<br/>rang"),
        (
            "<P>Sarah on reception</P><P>Plan: rebook</P>",
            "<P>[NAME] on reception</P><P>Plan: rebook</P>",
        ),
        (
            '<a href="mailto:j.smith@nhs.net">Dr Patel</a>',
            '<a href="mailto:[EMAIL]">Dr [NAME]</a>',
        ),
        ("tel 07700&nbsp;900123, DOB&nbsp;12/03/1956", "tel [PHONE], DOB&nbsp;[DATE]"),
        ("Re: <Mrs Jones> rang", "Re: <Mrs [NAME]> rang"),
        ("<w:t>Mrs Jones</w:t>", "<w:t>Mrs [NAME]</w:t>"),
    ],
)
def test_names_next_to_markup_are_fully_redacted(text: str, expected: str) -> None:
    assert one(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "<b>INR 4.2</b> <i>warfarin</i> held<br>A&amp;E advised &amp; NHS 111",
        '<div class="note"><span style="color:red">BP 140/90</span></div>',
        "eGFR <30, K+ >6, A&E, U&Es; <!-- comment --> &nbsp;",
    ],
)
def test_markup_is_kept_as_literal_text(text: str) -> None:
    assert one(text) == text


@pytest.mark.parametrize(
    "text",
    [
        '<a href="x">Mr <b>Joe</b></a>&nbsp; Smith\n<br />',
        "<P<b>>&amp;&#39;&#x27;&bogus;&",
        "  <i> </i>  \t<!-- a -->",
    ],
)
def test_markup_tokens_keep_the_text(text: str) -> None:
    assert load_nlp().make_doc(text).text == text


def test_markup_tags_split_sentences_but_stay_in_the_text() -> None:
    assert split_sentences(["<p>Mrs [NAME] rang</p><p>INR 4.2</p>"]) == [
        ["<p>Mrs [NAME] rang</p>", "<p>INR 4.2</p>"]
    ]


@pytest.mark.parametrize(
    "text",
    [
        "pharmacist queried the strength",
        "Pharmacist Queried the strength",
        "pharmacist Queried the strength",
        "Locum Queried it with the GP",
        "Daughter Rang back",
        "Receptionist Rebooked the appt",
        "Pharmacist Clarified the dose",
    ],
)
def test_verbs_after_a_role_are_not_names(text: str) -> None:
    assert one(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Seen by Dr  Khan today", "Seen by Dr  [NAME] today"),
        ("HCA  JT did obs", "HCA  [INITIALS] did obs"),
        ("receptionist \t Olumide rebooked", "receptionist \t [NAME] rebooked"),
    ],
)
def test_extra_spaces_do_not_hide_a_name(text: str, expected: str) -> None:
    assert one(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "NFA, postcode ZZ99 3VZ",
        "postcode zz993vz",
        "ZZ99 3WZ",
        "ZZ99 3CZ",
        "M1 1AE",
        "B33 8TH",
        "CR2 6XH",
        "DN55 1PT",
        "W1A 0AX",
        "EC1A 1BB",
        "SW1A 1AA",
        "GIR 0AA",
        "STHL 1ZZ",
    ],
)
def test_valid_format_and_pseudo_postcodes_are_redacted(text: str) -> None:
    assert "[POSTCODE]" in one(text)
    assert not any(ch.isdigit() for ch in one(text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sarah on reception", "[NAME] on reception"),
        ("Dr Patel", "Dr [NAME]"),
        ("Mrs O'Neill", "Mrs [NAME]"),
        ("Mr Smith-Jones", "Mr [NAME]"),
        ("Dr. A. Khan", "Dr. [NAME]"),
        ("nurse Kate", "nurse [NAME]"),
        ("spoke to Ahmed", "spoke to [NAME]"),
        ("pt's daughter Jenny", "pt's daughter [NAME]"),
        ("mrs jones", "mrs [NAME]"),
        ("NHS 999-123-4567", "NHS [NHS_NUMBER]"),
        ("DOB: 3.4.51", "DOB: [DATE]"),
        ("07700 900 123", "[PHONE]"),
        ("+44 7700 900123", "[PHONE]"),
        ("email joe.smith@example.co.uk", "email [EMAIL]"),
        ("Flat 2, 14 Acacia Road, Leeds LS6 2AB", "[ADDRESS] [POSTCODE]"),
        ("Hosp no RXH1234567", "Hosp no [HOSPITAL_NUMBER]"),
        ("MRN 12345678", "MRN [HOSPITAL_NUMBER]"),
        ("EMIS no 123456", "EMIS no [HOSPITAL_NUMBER]"),
    ],
)
def test_common_forms_of_each_identifier(text: str, expected: str) -> None:
    assert one(text) == expected


def test_common_clinical_terms_survive_alone_and_together() -> None:
    kept = (
        "INR 4.2; BP 140/90; 1/52; 3/7; 2WW; e-RS; amlodipine 5mg od; Warfarin; Parkinson's;"
        " at 10:30; in March; Bell's palsy; Addison's; Down syndrome; NHS 111; A&E; EMIS;"
        " SystmOne; Docman; HbA1c 48; eGFR 45; the GP; HCA; reception"
    )
    assert one(kept) == kept
    assert [one(part.strip()) for part in kept.split(";")] == [p.strip() for p in kept.split(";")]


# Known leaks closed: a title ending a line, bare surnames, names in attributes and XML tags,
# initials that are also abbreviations. Each has hard negatives of the same shape.


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Seen by Dr\nPatel today", "Seen by Dr\n[NAME] today"),
        ("seen by Nurse\nO'Brien who checked BP", "seen by Nurse\n[NAME] who checked BP"),
        ("Task sent to Mrs\r\nAdeyemi re INR", "Task sent to Mrs\r\n[NAME] re INR"),
        ("Checked by Dr. \nOkonkwo-Bello on Monday", "Checked by Dr. \n[NAME] on Monday"),
        ("<p>Reviewed by Dr<br>Okonkwo</p>", "<p>Reviewed by Dr<br>[NAME]</p>"),
        ("task to dr\nmahlangu re dose", "task to dr\n[NAME] re dose"),
    ],
)
def test_a_title_ending_a_line_names_the_next_line(text: str, expected: str) -> None:
    assert one(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Seen by the Nurse\nPlan: repeat INR in 1/52.",
        "Passed to the Dr\nTo be reviewed Monday.",
        "Discussed with Sister\nRang back later.",
        "Query for the Dr\nWarfarin held, INR 4.2.",
        "Booked with Nurse\nReading glasses advised.",
    ],
)
def test_a_title_ending_a_line_before_ordinary_words_changes_nothing(text: str) -> None:
    assert one(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Letter re Adeyemi, Olumide", "Letter re [NAME]"),
        ("INR 4.2, warfarin held.\nAdeyemi, Olumide", "INR 4.2, warfarin held.\n[NAME]"),
        ("Re: OKAFOR, Chidi", "Re: [NAME]"),
        (
            "Attendees: Smith, John; Okafor, Chidi; Brown, James.",
            "Attendees: [NAME]; [NAME]; [NAME].",
        ),
        ("Staff involved:\nHayer-Sarna, Alice\nmboko, dominic", "Staff involved:\n[NAME]\n[NAME]"),
        (
            "<table><tr><td>Smith</td><td>12/03/1956</td></tr></table>",
            "<table><tr><td>[NAME]</td><td>[DATE]</td></tr></table>",
        ),
        ("<tr><td>Okonkwo</td><td>Adaeze</td></tr>", "<tr><td>[NAME]</td><td>[NAME]</td></tr>"),
        (
            "Miss Wells seen. <td>Wells</td> Wells score 3",
            "Miss [NAME] seen. <td>[NAME]</td> Wells score 3",
        ),
        ("Mrs Adeyemi rang; Adeyemi was upset", "Mrs [NAME] rang; [NAME] was upset"),
    ],
)
def test_bare_surnames_in_lists_cells_and_repeats_are_redacted(text: str, expected: str) -> None:
    assert one(text) == expected


BARE_NEGATIVES = [
    "Moved to Reading, Berkshire last year.",
    "Warfarin, Apixaban and Ramipril reconciled.",
    "Sertraline, Fluoxetine\nCitalopram, Mirtazapine",
    "Boots, Lloyds and Superdrug all out of stock.",
    "Hx: Asthma, Eczema; Plan: Bloods, ECG, CXR.",
    "Other agencies (AFS, NPS) and (BIA, BLM) informed.",
    "Habitat: pine with brush (serviceberry, sagebrush).",
    "<tr><td>Pharmacy</td><td>Boots</td></tr><tr><td>Town</td><td>Reading</td></tr>",
    "<tr><td>Lloyds</td><td>Preston</td></tr><tr><td>DNA</td><td>Mounjaro</td></tr>",
    "<tr><th>Surname</th><th>Forename</th></tr><tr><td>Ramipril</td><td>2.5mg od</td></tr>",
    "<tr><td>Warfarin</td><td>as per INR</td></tr><tr><td>Pharmcay</td><td>Pending</td></tr>",
    "Seen at the Bonneville clinic; Wells score 3; Parkinson's disease.",
]


@pytest.mark.parametrize("text", BARE_NEGATIVES)
def test_lists_and_cells_of_clinical_words_places_and_shops_survive(text: str) -> None:
    assert one(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('<img alt="John Smith">', '<img alt="[NAME]">'),
        ('<img src="scan.png" alt="Adeyemi"> filed', '<img src="scan.png" alt="[NAME]"> filed'),
        ("<span title='Dr Patel'>GP</span>", "<span title='Dr [NAME]'>GP</span>"),
        ('<input value="Olumide Adeyemi">', '<input value="[NAME]">'),
        ("<input value=Adeyemi>", "<input value=[NAME]>"),
        ("<patient>Jane Doe</patient>", "<patient>[NAME]</patient>"),
        (
            "<record><surname>Young</surname><forename>Olumide</forename>"
            "<dob>01/02/1950</dob></record>",
            "<record><surname>[NAME]</surname><forename>[NAME]</forename>"
            "<dob>[DATE]</dob></record>",
        ),
        ("<!-- Mr Smith rang --><p>INR 4.2</p>", "<!-- Mr [NAME] rang --><p>INR 4.2</p>"),
    ],
)
def test_names_in_attributes_xml_tags_and_comments_are_redacted(text: str, expected: str) -> None:
    assert one(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        '<img alt="ECG trace" src="ecg.png"> filed to EMIS.',
        "<drug>Apixaban</drug><dose>5mg bd</dose><status>Pending</status>",
        '<td title="Warfarin dose">5mg</td>',
    ],
)
def test_clinical_words_in_attributes_and_xml_tags_survive(text: str) -> None:
    assert one(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Amy Morris (AM) rang", "[NAME] ([INITIALS]) rang"),
        ("Error spotted by Gavin Parmar (GP), HCA.", "Error spotted by [NAME] ([INITIALS]), HCA."),
        (
            "error spotted by arsenie faulkner (AF), HCA",
            "error spotted by [NAME] ([INITIALS]), HCA",
        ),
        ("Signed off, initials DN.", "Signed off, initials [INITIALS]."),
        ("initials GP", "initials [INITIALS]"),
        ("SEA re pt HB (84F), T2DM.", "SEA re pt [INITIALS] (84F), T2DM."),
        ("Pt (AF) attended for bloods", "Pt ([INITIALS]) attended for bloods"),
        (
            "Scanned onto wrong record (LD) by admin",
            "Scanned onto wrong record ([INITIALS]) by admin",
        ),
        ("DM actoined the task", "[INITIALS] actoined the task"),
        ("HCA A.M. did obs", "HCA [INITIALS] did obs"),
    ],
)
def test_initials_that_are_also_abbreviations_are_redacted_in_context(
    text: str, expected: str
) -> None:
    assert one(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "AM appt booked with the GP; DN to visit Monday.",
        "Bloods taken AM, results back PM; GP to review.",
        "Hx AF (MS), on apixaban; MS abbreviations avoided.",
        "Learning: AM and PM abbreviations avoided in handover.",
        "Discharge letter said warfarin as per INR clinic.",
        "Locum GP rang. Initial GP assessment done. Seen by DN (district nurse).",
        "Wrong record (ED) by admin; Pt AF, on DOAC.",
        "Fire reported to the Alaska State Troopers (AST) dispatch.",
        "near miss reported; near miss occurred.",
    ],
)
def test_abbreviations_that_look_like_initials_survive(text: str) -> None:
    assert one(text) == text
