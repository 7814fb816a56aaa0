"""De-identification outside general practice: roles, verbs and ALL-CAPS reports keep their cues.

Narratives from aviation (ASRS style), rail, maritime, fire and hospital reporting name people by
role ("Captain", "FO", "Packer", "ODP"); the coder needs those words to tell a human catch from a
designed defence. Names beside the roles, and every pattern identifier, are still redacted.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pipeline.redact import find_identifiers, redact_texts
from pipeline.redact_lexicon import load_lexicon
from pipeline.redact_shapes import caps_lines, is_derived

ROOT = Path(__file__).resolve().parents[2]


def one(text: str) -> str:
    return redact_texts([text])[0]


REPORTED = [
    "Pharmacist overrode the alert and dispensed.",
    "Packer noticed the wrong label.",
    "Anaesthetist spotted it. ODP confirmed.",
    "Householder rang; neighbour's roofer saw smoke.",
    "Captain noticed the altitude alert.",
    "CAPT NOTICED THE ALT ALERT AND CALLED FO TO CHK. WE WERE CLRED TO FL350 BY ATC.",
    "Radiographer noticed the wrong side marked.",
    "Defib pads were out of date. Nurse Defib check not done.",
    "Sister Handover checklist was missed on the shift handover.",
    "pharmacist handover checklist missed",
]

OTHER_DOMAINS = [
    "The First Officer was PF and the Captain was PM. Tower cleared us to FL350; Ground told us"
    " to hold short of Rwy 27L.",
    "Dispatcher and Mechanic agreed to defer the item. The Flight Attendant called the cockpit.",
    "CAPT NOTICED THE ALT ALERT AND CALLED FO TO CHK. ATC ISSUED A TCAS RA. THE ACFT WAS LEVEL.",
    "per ATC we descended. FO did the walkaround. advised by ATC to climb.",
    "Signaller noticed the points were set wrong. Driver stopped short.",
    "Bosun spotted the loose lashing. OOW called the Master.",
    "Porter noticed the oxygen cylinder was empty.",
    "Engineer confirmed the valve was isolated. Fitter queried the permit.",
    "A near miss incident involving a dozer. We routinely miss transmissions. Near Miss"
    " Entrapment report.",
    "Crews from Fort Wainwright and San Carlos met at Kelly Peak.",
    "THE CREW BRIEFED THE APCH AND THE PM CALLED OUT THE DEVIATION TO THE PF.",
]


@pytest.mark.parametrize("text", REPORTED + OTHER_DOMAINS)
def test_roles_verbs_and_abbreviations_survive(text: str) -> None:
    assert one(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Captain Okafor noticed the altitude alert.",
            "Captain [NAME] noticed the altitude alert.",
        ),
        ("First Officer Adeyemi was flying.", "First Officer [NAME] was flying."),
        ("The Captain, Okafor, noticed it.", "The Captain, [NAME], noticed it."),
        ("ODP Jabulani confirmed the count.", "ODP [NAME] confirmed the count."),
        (
            "Mrs Jones rang. Okafor noticed the wrong dose.",
            "Mrs [NAME] rang. [NAME] noticed the wrong dose.",
        ),
        ("Nurse Porter checked the chart", "Nurse [NAME] checked the chart"),
        ("Householder Mrs Jones rang", "Householder Mrs [NAME] rang"),
    ],
)
def test_names_beside_roles_are_still_redacted(text: str, expected: str) -> None:
    assert one(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MRS JONES RANG ABOUT HER WARFARIN DOSE", "MRS [NAME] RANG ABOUT HER WARFARIN DOSE"),
        (
            "CHECKED BY JT AND SIGNED BY THE NURSE",
            "CHECKED BY [INITIALS] AND SIGNED BY THE NURSE",
        ),
        (
            "SPOKE TO SARAH ON RECEPTION ABOUT THE RESULTS",
            "SPOKE TO [NAME] ON RECEPTION ABOUT THE RESULTS",
        ),
        ("DR AB REVIEWED THE PATIENT TODAY", "DR [INITIALS] REVIEWED THE PATIENT TODAY"),
        ("PT (AF) ATTENDED FOR BLOODS TODAY", "PT ([INITIALS]) ATTENDED FOR BLOODS TODAY"),
        ("HCA J.S. DID OBS ON THE WARD", "HCA [INITIALS] DID OBS ON THE WARD"),
        (
            "PT JOHN SMITH DOB 12/03/1956 NHS 943 476 5919 RANG RE HIS WARFARIN",
            "PT [NAME] DOB [DATE] NHS [NHS_NUMBER] RANG RE HIS WARFARIN",
        ),
        (
            "DOB 12/03/1956, NHS 943 476 5919, TEL 07700 900123, LS6 2AB, J.BLOGGS@NHS.NET",
            "DOB [DATE], NHS [NHS_NUMBER], TEL [PHONE], [POSTCODE], [EMAIL]",
        ),
    ],
)
def test_all_caps_text_still_loses_its_identifiers(text: str, expected: str) -> None:
    assert one(text) == expected


def test_common_words_in_capitals_are_never_initials() -> None:
    text = "WE DID NOT SEE THE TRAFFIC AND THE FO WAS BUSY. IT WAS ON MY SIDE SO I CALLED ATC."
    assert one(text) == text
    # The same words in a mixed-case report typed partly in capitals.
    mixed = "Crew briefed.\nBY NO MEANS WAS THE ALERT HEARD BY THE CREW\nLogged."
    assert one(mixed) == mixed


def test_caps_lines_marks_lines_typed_in_capitals_only() -> None:
    assert caps_lines("Seen today.\nCAPT NOTICED THE ALT ALERT\nok") == [(12, 38)]
    assert caps_lines("ALL CAPS TEXT") == [(0, 13)]
    assert caps_lines("SMITH, John rang\nINR 4.2 on Monday") == []
    assert caps_lines("") == []


@pytest.mark.parametrize(
    ("word", "derived"),
    [
        ("overrode", True),
        ("roofer", True),
        ("householder", True),
        ("rechecked", True),
        ("humidities", True),
        ("okafor", False),
        ("olumide", False),
        ("siper", False),
        ("unwin", False),
    ],
)
def test_derived_words_are_told_from_names(word: str, derived: bool) -> None:
    lex = load_lexicon()
    assert is_derived(word, lex.common, lex.roles) is derived


def test_role_and_term_lists_are_loaded_and_kept_apart_from_names() -> None:
    lex = load_lexicon()
    assert {"captain", "captains", "packer", "roofer", "anaesthetist", "firemen"} <= lex.roles
    assert {"atc", "chk", "tcas", "acft", "defib", "handover"} <= lex.terms
    assert "mel" in lex.ambiguous  # a first name and the minimum equipment list
    # A first name that is also a role or term needs context, like "Will" or "Grace".
    assert not (lex.roles | lex.terms) & (lex.first_names - lex.ambiguous)


@pytest.mark.parametrize(
    "path",
    [
        ROOT / "data" / "concepts" / "recovery-agent-multidomain.jsonl",
        ROOT / "data" / "probes" / "recovery-agent-out-of-domain.jsonl",
    ],
)
@pytest.mark.parametrize("upper", [False, True])
def test_safety_narratives_of_other_domains_keep_nearly_every_word(path: Path, upper: bool) -> None:
    texts = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()]
    if upper:
        texts = [t.upper() for t in texts]
    words = sum(len(re.findall(r"\w+", t)) for t in texts)
    placeholders = sum(len(spans) for spans in find_identifiers(texts))
    # Before the role and capitals rules: 0 and 29 per 1,000 words (multi-domain), 0.7 and 21
    # (out-of-domain probes); these sets hold no personal identifiers at all.
    assert 1000 * placeholders / words <= 0.5
