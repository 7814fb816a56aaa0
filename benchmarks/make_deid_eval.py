"""Write the synthetic de-identification evaluation set, ``data/deid/eval.jsonl``.

Every narrative is synthetic: GP-style near-miss notes built from templates, with identifiers drawn
from Faker (``en_GB`` for patients and UK-style details; other locales for rarer first names and
surnames that the shipped gazetteer does not hold) and gold character spans for each identifier.
Clinical content that must survive redaction (drugs and doses, eponyms, test values, GP shorthand,
times, roles, clinical systems, services, month-only dates, hospitals named after people) is mixed
in as hard negatives and carries no span.

Hard cases are mixed in too: a title at the end of a line with the name on the next ("Dr\nPatel"),
"Surname, Firstname" headings and lists, names in HTML table cells, in tag attributes
(``<img alt="...">``) and in non-HTML tags (``<patient>...</patient>``), initials that are also
abbreviations ("Amy Morris (AM)", "initials GP"); and their hard negatives: the same shapes
holding clinical words, drugs, abbreviations ("AM appt", "DN to visit") and place or organisation
words that are also surnames ("Boots", "Lloyds", "Reading").

The ``dev`` split also ends with 150 narratives of other safety domains (aviation, rail,
maritime, fire, hospital; a third in capitals, as ASRS reports often are), whose role words,
verbs and abbreviations must survive ("Packer noticed", "CALLED FO TO CHK") while a name beside a
role is still a NAME ("Captain [NAME] noticed"); ``--other-domains N`` sets how many.

Two splits, from two seeds, so that the rules are tuned on one set and measured on another:
``dev`` (seed 1, ``data/deid/dev.jsonl``) for looking at misses and false positives while
changing the redactor, and ``eval`` (seed 20250, ``data/deid/eval.jsonl``) for the figures
reported by ``benchmarks/deid.py``. Run (seeded, deterministic for a given Faker version)::

    .venv/bin/python benchmarks/make_deid_eval.py                 # data/deid/eval.jsonl
    .venv/bin/python benchmarks/make_deid_eval.py --split dev     # data/deid/dev.jsonl
    .venv/bin/python benchmarks/make_deid_eval.py --seed 7 --n 2000 --out /tmp/more.jsonl

Labels: NHS_NUMBER, DATE, PHONE, EMAIL, POSTCODE, ADDRESS, HOSPITAL_NUMBER, NAME, INITIALS.
Titles ("Mrs", "Dr") stay outside NAME spans; month-only and year-only mentions are not DATEs.
"""

from __future__ import annotations

import argparse
import importlib
import json
import random
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

from faker import Faker

ROOT = Path(__file__).resolve().parent.parent
#: Seed of each split: ``dev`` for tuning the rules, ``eval`` for the reported figures.
SPLIT_SEEDS = {"dev": 1, "eval": 20250}
Piece = tuple[str, str | None]

GAZ_SOURCE_LOCALES = ("en_GB", "en_US", "en_IE", "en_NZ", "en_IN", "pl_PL", "ga_IE")
RARE_LOCALES = (
    "yo_NG",
    "zu_ZA",
    "tr_TR",
    "fi_FI",
    "hu_HU",
    "lt_LT",
    "ro_RO",
    "it_IT",
    "sw",
    "id_ID",
    "lv_LV",
    "hr_HR",
    "tw_GH",
    "az_AZ",
)
SURNAME_LOCALES = ("en_GB", "en_GB", "en_GB", "en_IN", "yo_NG", "tr_TR", "it_IT", "pl_PL", "zu_ZA")


def _ascii(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()


def _provider(locale: str) -> type:
    return importlib.import_module(f"faker.providers.person.{locale}").Provider  # type: ignore[no-any-return]


def _name_pools() -> tuple[list[str], list[str], list[str]]:
    gaz_src = {n.lower() for loc in GAZ_SOURCE_LOCALES for n in _provider(loc).first_names}
    common = sorted(set(_provider("en_GB").first_names))
    rare: set[str] = set()
    for loc in RARE_LOCALES:
        for n in _provider(loc).first_names:
            a = _ascii(n)
            if a.isalpha() and len(a) > 2 and a.lower() not in gaz_src and _ascii(n) == n:
                rare.add(n)
    surnames: set[str] = set()
    for loc in SURNAME_LOCALES:
        surnames.update(n for n in _provider(loc).last_names if _ascii(n) == n and n.isalpha())
    return common, sorted(rare), sorted(surnames)


COMMON_FIRST, RARE_FIRST, SURNAMES = _name_pools()
AMBIGUOUS_FIRST = [
    "Will",
    "Mark",
    "Grace",
    "Hope",
    "Sue",
    "Bill",
    "Rose",
    "Dawn",
    "Jack",
    "May",
    "June",
    "Pat",
    "Joy",
    "Faith",
    "Ray",
    "Amber",
    "Holly",
    "Ruby",
    "Max",
    "Penny",
]
HON_TITLES = ["Mr", "Mrs", "Ms", "Miss", "Mrs", "Mr"]
PRO_TITLES = ["Dr", "Dr", "Dr.", "dr", "Prof", "Nurse", "Sister"]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
DRUG_DOSES = [
    "amlodipine 5mg od",
    "metformin 500mg bd",
    "ramipril 2.5mg",
    "Warfarin",
    "warfarin 3mg",
    "co-codamol 30/500",
    "methotrexate 10mg weekly",
    "Methotrexate 2.5mg",
    "sertraline 50mg",
    "levothyroxine 100mcg",
    "Apixaban 5mg bd",
    "atorvastatin 20 mg on",
    "amoxicillin 500mg tds",
    "prednisolone 40mg",
    "insulin glargine 20 units",
    "Lantus 14 units",
    "gabapentin 300mg tds",
    "lithium 400mg",
    "Fostair 100/6 2 puffs bd",
    "morphine sulphate 10mg/5ml",
    "Oramorph 2.5ml",
    "digoxin 125mcg",
    "Epipen 0.3mg",
    "colecalciferol 20,000 units",
    "Adcal-D3",
    "vit B12 1mg im",
    "clopidogrel 75mg",
]
EPONYMS = [
    "Parkinson's",
    "Addison's disease",
    "Crohn's",
    "Bell's palsy",
    "Down syndrome",
    "Graves' disease",
    "Hodgkin lymphoma",
    "Cushing's",
    "Raynaud's",
    "Alzheimer's",
    "Huntington's",
    "Barrett's oesophagus",
    "Paget's disease",
    "Meniere's disease",
    "Dupuytren's",
    "Hashimoto's",
    "Ramsay Hunt syndrome",
    "Sjogren's",
    "Wilson's disease",
    "Guillain-Barre",
    "Baker's cyst",
    "Colles fracture",
    "Lewy body dementia",
    "Parkinsons",
]
CONDITIONS = [
    "T2DM",
    "AF",
    "CKD3",
    "COPD",
    "HTN",
    "hypothyroid",
    "asthma",
    "heart failure",
    "IHD",
    "RA",
    "epilepsy",
    "dementia",
    "depression",
    "UTI",
    "LRTI",
    "PMR",
]
HOSPITALS = [
    "John Radcliffe Hospital",
    "Queen Elizabeth Hospital",
    "St George's",
    "Royal Victoria Infirmary",
    "St Thomas'",
    "Addenbrooke's",
    "King George Hospital",
    "Queen Alexandra",
    "the Royal Free",
    "Leeds General Infirmary",
    "Princess Anne Hospital",
    "Wythenshawe",
    "Frimley Park",
    "St Mary's",
]
SYSTEMS = ["EMIS", "EMIS Web", "SystmOne", "Docman", "Vision", "AccuRx", "ICE", "eRS", "the spine"]
SERVICES = [
    "NHS 111",
    "A&E",
    "111",
    "OOH",
    "the ambulance service",
    "999",
    "UTC",
    "the hub",
    "district nurses",
    "the community pharmacy",
    "Boots",
    "Lloyds pharmacy",
]
ROLES = [
    "the GP",
    "HCA",
    "reception",
    "the duty doctor",
    "practice manager",
    "ANP",
    "the locum",
    "the practice nurse",
    "PCN pharmacist",
    "the dispenser",
    "admin team",
    "the registrar",
]
PHARMACIES = ["Boots", "Lloyds", "Well pharmacy", "the local pharmacy", "Superdrug", "Rowlands"]
SHORTHAND = ["1/52", "2/52", "3/7", "5/7", "2/12", "6/12", "2WW", "24/7"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Mon", "Fri", "Saturday"]
HOSP_CTX = [
    "hosp no",
    "Hosp no.",
    "hospital number",
    "MRN",
    "unit no",
    "EMIS no",
    "EMIS number",
    "SystmOne ID",
    "S1 no",
    "patient ID",
    "lab no",
    "specimen no",
    "RXH no",
    "hosp ref",
]
INITIAL_CUES = [
    "checked by",
    "actioned by",
    "seen by",
    "per",
    "HCA",
    "pt",
    "Pt",
    "receptionist",
    "signed",
    "pharmacist",
]


#: Initials that are also abbreviations: "AM" (morning), "GP", "DN" (district nurse), "MS"...
CLASH_INITIALS = ["AM", "PM", "GP", "DN", "MS", "AF", "LD", "DM", "HB", "CK", "MG", "BP", "RA"]
#: Titles that end a line in hard cases ("seen by Dr\nPatel").
EOL_TITLES = ["Dr", "Dr.", "Nurse", "Sister", "Mrs", "Mr", "Ms", "dr", "Prof"]


class Ctx:
    """Per-narrative state: the patient and staff mentioned, kept consistent across sentences."""

    def __init__(self, rng: random.Random, fake: Faker) -> None:
        self.rng, self.fake = rng, fake
        self.lower = rng.random() < 0.08
        self.pt_first, self.pt_last = first_name(rng), surname(rng)
        self.pt_title = rng.choice(HON_TITLES)
        self.staff = [first_name(rng) for _ in range(3)]
        self.staff_last = [surname(rng) for _ in range(3)]
        # A member of staff whose initials are also an abbreviation ("Amy Morris (AM)").
        self.clash = rng.choice(CLASH_INITIALS)
        self.clash_first = _starting(rng, COMMON_FIRST + RARE_FIRST, self.clash[0])
        self.clash_last = _starting(rng, SURNAMES, self.clash[1])


def _starting(rng: random.Random, pool: list[str], letter: str) -> str:
    return rng.choice([n for n in pool if n.startswith(letter)])


def first_name(rng: random.Random) -> str:
    return rng.choice(RARE_FIRST if rng.random() < 0.4 else COMMON_FIRST)


def surname(rng: random.Random) -> str:
    s = rng.choice(SURNAMES)
    return s if rng.random() > 0.06 else f"{s}-{rng.choice(SURNAMES)}"


def _case(ctx: Ctx, name: str) -> str:
    return name.lower() if ctx.rng.random() < 0.1 else name


def _initials(ctx: Ctx, first: str, last: str) -> str:
    a, b = first[0].upper(), last[0].upper()
    return ctx.rng.choice(
        [f"{a}{b}", f"{a}.{b}.", f"{a}{b}", f"{a}.{b}", f"{a}{b}{ctx.rng.choice('ACJMRS')}"]
    )


def nhs_number(rng: random.Random) -> str:
    digits = [rng.randint(4, 7)] + [rng.randint(0, 9) for _ in range(8)]
    check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
    digits.append(0 if check == 11 else (check if check < 10 else rng.randint(0, 9)))
    s = "".join(map(str, digits))
    return rng.choice(
        [f"{s[:3]} {s[3:6]} {s[6:]}", s, f"{s[:3]}-{s[3:6]}-{s[6:]}", f"{s[:3]} {s[3:6]} {s[6:]}"]
    )


def a_date(rng: random.Random, fake: Faker, dob: bool = False) -> str:
    d = (
        fake.date_of_birth(minimum_age=1, maximum_age=98)
        if dob
        else fake.date_between("-3y", "today")
    )
    day, mon, yr = d.day, d.month, d.year
    mname = MONTHS[mon - 1]
    sfx = "th" if 11 <= day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    forms = [
        f"{day:02d}/{mon:02d}/{yr}",
        f"{day}/{mon}/{yr % 100:02d}",
        f"{day:02d}.{mon:02d}.{yr}",
        f"{day}-{mon}-{yr}",
        f"{day}{sfx} {mname} {yr}",
        f"{day} {mname[:3]} {yr}",
        f"{mname} {day}, {yr}",
        f"{yr}-{mon:02d}-{day:02d}",
        f"{day:02d}/{mon:02d}/{yr % 100:02d}",
    ]
    if not dob:
        forms += [
            f"{day}{sfx} {mname}",
            f"{day} {mname[:3]}",
            f"{mname} {yr}",
            f"{day:02d}/{mon:02d}",
            f"{rng.choice(WEEKDAYS[:5])} {day}{sfx} {mname}",
        ]
        if day <= 12:
            forms.remove(f"{day:02d}/{mon:02d}")
    return rng.choice(forms)


def hosp_number(rng: random.Random) -> str:
    letters = "".join(rng.choice("ABCDEGHJKLMNPRSTWXY") for _ in range(rng.choice([1, 1, 2, 3])))
    n = rng.choice([6, 7, 7, 8])
    digits = "".join(str(rng.randint(0, 9)) for _ in range(n))
    return rng.choice([f"{letters}{digits}", digits, f"{letters}{digits}", f"{letters}-{digits}"])


def address(ctx: Ctx) -> list[Piece]:
    rng, fake = ctx.rng, ctx.fake
    uk = [
        "Road",
        "Street",
        "Lane",
        "Avenue",
        "Close",
        "Drive",
        "Way",
        "Crescent",
        "Court",
        "Gardens",
        "Grove",
        "Place",
        "Terrace",
        "Mews",
        "Rise",
        "Walk",
        "Rd",
        "St",
        "Ave",
    ]
    if rng.random() < 0.5:
        street = fake.street_address().replace("\n", rng.choice([", ", " "]))
    else:
        number = rng.randint(1, 250)
        names = [surname(rng), fake.last_name(), fake.city_prefix() + " " + fake.last_name()]
        street = f"{number} {rng.choice(names)} {rng.choice(uk)}"
        if rng.random() < 0.2:
            street = f"Flat {rng.randint(1, 30)}, {street}"
    if rng.random() < 0.5:
        street += f", {fake.city()}"
    street = street.lower() if ctx.lower else street
    return [(street, "ADDRESS")]


def postcode(ctx: Ctx) -> str:
    pc = ctx.fake.postcode()
    r = ctx.rng.random()
    return pc.lower() if (ctx.lower or r < 0.1) else pc.replace(" ", "") if r < 0.2 else pc


def phone(ctx: Ctx) -> str:
    return ctx.rng.choice([ctx.fake.phone_number, ctx.fake.cellphone_number])()


def email(ctx: Ctx) -> str:
    rng, fake = ctx.rng, ctx.fake
    f, s = ctx.pt_first.lower(), ctx.pt_last.lower()
    return rng.choice(
        [
            fake.free_email(),
            fake.email(),
            f"{f}.{s}@nhs.net",
            f"{f[0]}{s}{rng.randint(1, 99)}@gmail.com",
        ]
    )


def t_name(ctx: Ctx, who: str) -> list[Piece]:
    """A titled name: the title stays as text, the name after it is the NAME span."""
    rng = ctx.rng
    if who == "pt":
        title, first, last = ctx.pt_title, ctx.pt_first, ctx.pt_last
    else:
        i = rng.randrange(3)
        title, first, last = rng.choice(PRO_TITLES + HON_TITLES), ctx.staff[i], ctx.staff_last[i]
    form = rng.random()
    name = last if form < 0.6 else f"{first} {last}" if form < 0.85 else f"{first[0]} {last}"
    if rng.random() < 0.12 or ctx.lower:
        title, name = title.lower(), name.lower()
    return [(title + " ", None), (name, "NAME")]


def full(ctx: Ctx, who: str) -> list[Piece]:
    first, last = (ctx.pt_first, ctx.pt_last) if who == "pt" else (ctx.staff[0], ctx.staff_last[0])
    return [(_case(ctx, f"{first} {last}"), "NAME")]


def first(ctx: Ctx, i: int) -> list[Piece]:
    return [(_case(ctx, ctx.staff[i]), "NAME")]


def ambig(ctx: Ctx) -> list[Piece]:
    return [(ctx.rng.choice(AMBIGUOUS_FIRST), "NAME")]


def initials(ctx: Ctx, who: str) -> list[Piece]:
    f, s = (ctx.pt_first, ctx.pt_last) if who == "pt" else (ctx.staff[1], ctx.staff_last[1])
    return [(_initials(ctx, f, s), "INITIALS")]


def inverted(ctx: Ctx, who: int) -> list[Piece]:
    """A "Surname, Firstname" heading or list item: two NAME spans, the comma between them."""
    first, last = (ctx.pt_first, ctx.pt_last) if who < 0 else (ctx.staff[who], ctx.staff_last[who])
    if ctx.rng.random() < 0.15:
        last = last.upper()
    return [(last, "NAME"), (", ", None), (first, "NAME")]


def eol_title(ctx: Ctx) -> list[Piece]:
    """A title at the end of a line, the name on the next ("Dr\nPatel", "Nurse\nO'Brien")."""
    i = ctx.rng.randrange(3)
    first, last = ctx.staff[i], ctx.staff_last[i]
    name = last if ctx.rng.random() < 0.7 else f"{first} {last}"
    title = ctx.rng.choice(EOL_TITLES)
    if ctx.lower:
        title, name = title.lower(), name.lower()
    return [(title + ctx.rng.choice(["\n", "\n", " \n", "\r\n"]), None), (name, "NAME")]


def plain(values: list[str] | Callable[[random.Random], str]) -> Callable[[Ctx], list[Piece]]:
    if callable(values):
        return lambda c: [(values(c.rng), None)]
    return lambda c: [(c.rng.choice(values), None)]


SLOTS: dict[str, Callable[[Ctx], list[Piece]]] = {
    "PT_TNAME": lambda c: t_name(c, "pt"),
    "ST_TNAME": lambda c: t_name(c, "staff"),
    "PT_FULL": lambda c: full(c, "pt"),
    "ST_FULL": lambda c: full(c, "staff"),
    "ST_FIRST": lambda c: first(c, 0),
    "ST_FIRST2": lambda c: first(c, 2),
    "REL_FIRST": lambda c: [(_case(c, first_name(c.rng)), "NAME")],
    "AMBIG": ambig,
    "PT_INIT": lambda c: initials(c, "pt"),
    "PT_LAST": lambda c: [(c.pt_last, "NAME")],
    "PT_FIRST": lambda c: [(c.pt_first, "NAME")],
    "ST_LAST": lambda c: [(c.staff_last[2], "NAME")],
    "PT_INV": lambda c: inverted(c, -1),
    "ST_INV0": lambda c: inverted(c, 0),
    "ST_INV1": lambda c: inverted(c, 1),
    "ST_INV2": lambda c: inverted(c, 2),
    "EOL_TNAME": eol_title,
    "CLASH_FULL": lambda c: [(f"{c.clash_first} {c.clash_last}", "NAME")],
    "CLASH_INIT": lambda c: [(c.clash, "INITIALS")],
    "ABBREV": plain(["AM", "PM", "GP", "DN", "MS", "AF", "LD", "DM", "HB", "CK", "BP", "RA", "OT"]),
    "PLACE": plain(
        ["Reading", "Bath", "Wells", "Leeds", "Crewe", "Derby", "Luton", "Barking", "Preston"]
    ),
    "ST_INIT": lambda c: initials(c, "staff"),
    "DOB": lambda c: [(a_date(c.rng, c.fake, dob=True), "DATE")],
    "DATE": lambda c: [(a_date(c.rng, c.fake), "DATE")],
    "NHS": lambda c: [(nhs_number(c.rng), "NHS_NUMBER")],
    "PHONE": lambda c: [(phone(c), "PHONE")],
    "EMAIL": lambda c: [(email(c), "EMAIL")],
    "PC": lambda c: [(postcode(c), "POSTCODE")],
    "ADDR": address,
    "HOSP": lambda c: [(hosp_number(c.rng), "HOSPITAL_NUMBER")],
    "HOSP_CTX": plain(HOSP_CTX),
    "DRUG": plain(DRUG_DOSES),
    "EPONYM": plain(EPONYMS),
    "COND": plain(CONDITIONS),
    "HOSPITAL": plain(HOSPITALS),
    "SYSTEM": plain(SYSTEMS),
    "SERVICE": plain(SERVICES),
    "ROLE": plain(ROLES),
    "PHARMACY": plain(PHARMACIES),
    "SHORT": plain(SHORTHAND),
    "WEEKDAY": plain(WEEKDAYS),
    "MONTH": plain(MONTHS),
    "AGE": plain(lambda r: str(r.randint(18, 96))),
    "YEAR": plain(lambda r: str(r.randint(2015, 2025))),
    "TIME": plain(
        lambda r: r.choice(
            [
                f"{r.randint(8, 18)}:{r.choice(['00', '15', '30', '45'])}",
                f"{r.randint(1, 11)}pm",
                f"{r.randint(8, 11)}am",
                f"{r.randint(8, 17)}.{r.choice(['00', '30'])}",
                "0900",
                "noon",
            ]
        )
    ),
    "TEST": plain(
        lambda r: r.choice(
            [
                f"INR {r.randint(1, 8)}.{r.randint(0, 9)}",
                f"BP {r.randint(95, 210)}/{r.randint(50, 120)}",
                f"HbA1c {r.randint(38, 110)}",
                f"eGFR {r.randint(8, 90)}",
                f"K+ {r.randint(3, 7)}.{r.randint(0, 9)}",
                f"Hb {r.randint(70, 160)}",
                f"TSH {r.randint(0, 20)}.{r.randint(0, 9)}",
                f"CRP {r.randint(1, 250)}",
                f"Na {r.randint(118, 146)}",
                f"PSA {r.randint(1, 30)}.{r.randint(0, 9)}",
                f"sats {r.randint(84, 99)}%",
                f"temp 3{r.randint(6, 9)}.{r.randint(0, 9)}",
                f"BMI {r.randint(17, 45)}.{r.randint(0, 9)}",
                f"wt {r.randint(40, 140)}kg",
            ]
        )
    ),
}

OPENERS = [
    "Pt {PT_TNAME} DOB {DOB} NHS no {NHS}.",
    "{PT_FULL}, dob {DOB}, NHS {NHS}, {ADDR}, {PC}.",
    "Re: {PT_TNAME} ({DOB}) NHS number {NHS}",
    "Patient: {PT_FULL} D.O.B. {DOB} {HOSP_CTX} {HOSP}.",
    "{PT_TNAME} {AGE}yo with {COND} on {DRUG}.",
    "SEA re pt {PT_INIT} ({AGE}F), {COND}.",
    "{AGE}M {COND}, NHS {NHS}, mob {PHONE}.",
    "Pt ({PT_INIT}) attended for bloods, {TEST}.",
    "Near miss - {PT_TNAME}, {AGE}, {COND}.",
    "pt {PT_FULL} nhs no {NHS} dob {DOB}",
    "Patient {PT_TNAME} of {ADDR} {PC}, tel {PHONE}.",
    "{AGE}yo F, {COND} and {EPONYM}, on {DRUG}.",
    "Incident: {DATE}. Patient {PT_TNAME}.",
    "Pt seen {WEEKDAY} am re {COND}, {TEST}.",
]
EVENTS = [
    "{ST_FIRST} on reception noticed the letter had been filed to the wrong pt.",
    "Receptionist {ST_FIRST} booked pt with {ROLE} instead of GP.",
    "Pharmacist {ST_FIRST} at {PHARMACY} rang at {TIME} to query {DRUG}.",
    "{ST_TNAME} (locum) issued {DRUG} despite {TEST}.",
    "{ST_TNAME} reviewed bloods {SHORT} later, {TEST}.",
    "HCA {ST_INIT} did obs: {TEST}, {TEST}.",
    "Discussed with {ST_TNAME}, duty GP, who stopped the {DRUG}.",
    "Pt's daughter {REL_FIRST} rang from {PHONE} to say the dose looked wrong.",
    "Letter from {HOSPITAL} dated {DATE} recommended {DRUG}, {HOSP_CTX} {HOSP}.",
    "Results emailed to {EMAIL} in error.",
    "Pt moved to {ADDR}, {PC} but address not updated on {SYSTEM}.",
    "Results for {PT_TNAME} (NHS {NHS}) filed to the wrong record.",
    "Checked by {ST_INIT} at {TIME}.",
    "{AMBIG} on reception spotted the duplicate.",
    "{ST_FULL} (practice manager) completed the SEA on {DATE}.",
    "Spoke to {ST_FIRST2} at {SERVICE} who confirmed.",
    "Seen in A&E on {DATE}, discharge summary to {SYSTEM} {SHORT} later.",
    "{PT_FULL} rang re results.",
    "2WW referral for pt {PT_TNAME} sent {DATE} but not received by {HOSPITAL}.",
    "Pharmacist {AMBIG} flagged interaction with {DRUG}.",
    "{ST_FIRST}, the practice nurse, queried the {DRUG} dose.",
    "Wife {REL_FIRST} collected Rx, noticed wrong name on the bag.",
    "Call from {PHONE} at {TIME}, pt confused re {DRUG}.",
    "Bloods {DATE}: {TEST}, {TEST}.",
    "{ST_TNAME} spotted {TEST} when reviewing on {SYSTEM}.",
    "Hospital letter {HOSP_CTX} {HOSP} for another patient, {PT_TNAME} {DOB}.",
    "Scanned onto wrong record ({PT_INIT}) by admin.",
    "Prescription for {PT_TNAME} given to another pt, {PT_TNAME} rang {PHONE} to say.",
    "Son {REL_FIRST} ({PHONE}) asked for a call back.",
    "Pt email {EMAIL}, mob {PHONE}.",
    "Addressed to {ADDR} instead of {ADDR}.",
    "Pt {PT_TNAME} NHS {NHS} also known as {HOSP}.",
    "Next of kin {REL_FIRST}, tel {PHONE}.",
    "{ST_INIT} actioned task on {SYSTEM}.",
    "per {ST_INIT}, pt informed and apologised to.",
    "Discussed with {AMBIG} from dispensary.",
]
FILLERS = [
    "{DRUG} started {SHORT} ago.",
    "{TEST} on {WEEKDAY}, warfarin held.",
    "Hx {EPONYM}, {COND}.",
    "{TEST}, {TEST}, {TEST}.",
    "r/v {SHORT}, safety-netted re {SERVICE} if worse.",
    "Booked at {TIME} with the GP.",
    "Task sent via {SYSTEM} to {ROLE}.",
    "Happened in {MONTH}; discussed at practice meeting.",
    "Learning: check allergies on {SYSTEM} before issuing.",
    "Will review in {SHORT}.",
    "May need repeat U&Es in {SHORT}.",
    "Mark as urgent next time.",
    "Hope to avoid this in future.",
    "No harm, {ROLE} informed at {TIME}.",
    "Pt on {DRUG} and {DRUG}.",
    "Known {EPONYM}; {DRUG}.",
    "Referred to {HOSPITAL} via {SYSTEM}.",
    "Contributory: busy Monday, {ROLE} off sick.",
    "Similar event last {MONTH} and in {YEAR}.",
    "O/E {TEST}, {TEST}. Plan: {DRUG}, r/v {SHORT}.",
    "Bloods due {SHORT}; {TEST}.",
    "Next INR check in {SHORT}.",
    "Docman workflow changed since {MONTH}.",
    "Follow up with {ROLE} in {SHORT}.",
    "Pt advised to ring {SERVICE} OOH.",
    "Grace period on repeat Rx not applied.",
    "Alert on {SYSTEM} overridden by {ROLE}.",
    "Pat dry and re-dress wound daily.",
    "Bill from private clinic attached.",
    "Seen at {HOSPITAL}; {EPONYM} confirmed.",
    "Down syndrome, lives with carers.",
    "Reviewed {WEEKDAY} at {TIME}.",
    "Smear due in {YEAR}, not {MONTH}.",
]

#: Hard cases: names that only layout or markup marks as names, and clashing initials.
HARD_EVENTS = [
    "Prescription checked by {EOL_TNAME} on {DATE}.",
    "seen by {EOL_TNAME} who checked {TEST}.",
    "Task sent to {EOL_TNAME} re {DRUG}.",
    "Attendees: {ST_INV0}; {ST_INV1}; {ST_INV2}.",
    "Staff involved:\n{ST_INV0}\n{ST_INV1}",
    "<table><tr><td>{PT_LAST}</td><td>{DOB}</td><td>{NHS}</td></tr></table>",
    "<tr><td>{PT_FULL}</td><td>{DRUG}</td></tr>",
    "<table><tr><th>Surname</th><th>Forename</th></tr><tr><td>{PT_LAST}</td><td>{PT_FIRST}</td>"
    "</tr></table>",
    '<img alt="{PT_FULL}" src="scan.png"> scanned to the wrong record.',
    '<span title="{ST_FULL}">{ROLE}</span> actioned the task.',
    "<patient>{PT_FULL}</patient><dob>{DOB}</dob>",
    "<record><surname>{PT_LAST}</surname><forename>{PT_FIRST}</forename></record>",
    "{CLASH_FULL} ({CLASH_INIT}) rang re {DRUG}.",
    "Error spotted by {CLASH_FULL} ({CLASH_INIT}), {ROLE}.",
    "Signed off, initials {CLASH_INIT}.",
]
#: Closing lines naming the patient inverted, at the end of a narrative ("Re: Adeyemi, Olumide").
CLOSERS = ["Re: {PT_INV}", "Patient: {PT_INV}", "{PT_INV}", "cc {ST_INV0}"]
#: Hard negatives: the same shapes holding clinical words, abbreviations and places.
HARD_FILLERS = [
    "{ABBREV} appt booked with the GP; DN to visit {WEEKDAY}.",
    "Bloods taken AM, results back PM; GP to review.",
    "Rx collected from {PHARMACY}; Lloyds closed, Boots in {PLACE} had stock.",
    "Referred to Royal Berkshire Hospital, Reading.",
    "Pt moved from {PLACE} to {PLACE} last {MONTH}.",
    "<table><tr><th>Drug</th><th>Dose</th></tr><tr><td>Ramipril</td><td>2.5mg od</td></tr>"
    "<tr><td>Warfarin</td><td>as per INR</td></tr></table>",
    "<tr><td>Pharmacy</td><td>Boots</td></tr><tr><td>Town</td><td>{PLACE}</td></tr>",
    '<img alt="ECG trace" src="ecg.png"> filed to {SYSTEM}.',
    "<drug>Apixaban</drug><dose>5mg bd</dose><status>Pending</status>",
    "Seen by the Nurse\nPlan: repeat {TEST} in {SHORT}.",
    "Passed to the Dr\nTo be reviewed {WEEKDAY}.",
    "Warfarin, Apixaban and Ramipril reconciled.",
    "Sertraline, Fluoxetine\nCitalopram, Mirtazapine",
    "Hx {COND} ({ABBREV}), on {DRUG}.",
    "Learning: {ABBREV} and {ABBREV} abbreviations avoided in handover.",
]

#: Narratives of other safety domains (aviation, rail, maritime, fire, hospital, industry):
#: role words, verbs and abbreviations that must survive ("Packer noticed", "CALLED FO TO CHK").
OTHER_NEGATIVES = [
    "Pharmacist overrode the alert and dispensed.",
    "Packer noticed the wrong label.",
    "Anaesthetist spotted it. ODP confirmed.",
    "Householder rang; neighbour's roofer saw smoke.",
    "Captain noticed the altitude alert.",
    "CAPT NOTICED THE ALT ALERT AND CALLED FO TO CHK. WE WERE CLRED TO FL350 BY ATC.",
    "The First Officer was PF and the Captain was PM.",
    "Tower cleared us to land; Ground told us to hold short.",
    "Dispatcher and Mechanic agreed to defer the item.",
    "The Flight Attendant called the cockpit about the smell.",
    "TCAS gave an RA and the FO followed it; ATC was advised.",
    "per ATC we descended to FL240.",
    "Signaller noticed the points were set wrong. Driver stopped short of the signal.",
    "Guard spotted the door fault before departure.",
    "Bosun spotted the loose lashing. OOW called the Master.",
    "Deckhand noticed the mooring line chafing.",
    "Porter noticed the oxygen cylinder was empty.",
    "Radiographer queried the side; the Sonographer checked the request.",
    "Defib pads were out of date at the shift handover checklist.",
    "Engineer confirmed the valve was isolated. Fitter queried the permit.",
    "Welder stopped when the Supervisor flagged the gas reading.",
    "Firefighter noticed the hose kinked; the IC called a halt.",
    "Lookout spotted spot fires across the line and the Sawyer moved out.",
    "A near miss incident involving a dozer was reported.",
    "Picker noticed the pallet was overloaded.",
]
#: The same domains with a name beside the role, or a pattern identifier: still redacted.
OTHER_POSITIVES = [
    "Captain {ST_LAST} noticed the altitude alert.",
    "First Officer {PT_LAST} was flying.",
    "ODP {ST_FIRST} confirmed the count.",
    "Signaller {ST_FULL} rang the driver.",
    "Spoke to {ST_FIRST} at the depot on {DATE}.",
    "Report by {ST_TNAME}, contact {PHONE}.",
    "Checked by {ST_INIT} at the handover.",
]


def other_domain(ctx: Ctx) -> tuple[str, list[dict[str, object]]]:
    """A narrative of another safety domain; a third typed in capitals, as ASRS reports are."""
    rng = ctx.rng
    ctx.lower = False
    parts = rng.sample(OTHER_NEGATIVES, rng.randint(2, 4))
    if rng.random() < 0.4:
        parts.insert(rng.randint(0, len(parts)), rng.choice(OTHER_POSITIVES))
    text, spans = render(ctx, parts)
    if rng.random() < 0.33 and len(text.upper()) == len(text):
        text = text.upper()
    return text, spans


_SLOT = re.compile(r"\{([A-Z_0-9]+)\}")


def _typo(rng: random.Random, text: str) -> str:
    """Swap two letters in about 4% of the longer words (never inside a tag: "<table>")."""

    def swap(m: re.Match[str]) -> str:
        w = m.group(0)
        if w.startswith("<") or len(w) < 5 or rng.random() > 0.04:
            return w
        i = rng.randrange(1, len(w) - 2)
        return w[:i] + w[i + 1] + w[i] + w[i + 2 :]

    return re.sub(r"<[^<>]*>|[a-z]{5,}", swap, text)


def render(ctx: Ctx, templates: list[str]) -> tuple[str, list[dict[str, object]]]:
    """Fill templates in order, joining them into one narrative with gold spans."""
    text, spans = "", []
    for k, tpl in enumerate(templates):
        if k:
            text += ctx.rng.choice([" ", " ", " ", "\n", "  ", " - "])
        pos = 0
        for m in _SLOT.finditer(tpl):
            lit = _typo(ctx.rng, tpl[pos : m.start()])
            text += lit.lower() if ctx.lower else lit
            for value, label in SLOTS[m.group(1)](ctx):
                value = (
                    value.lower() if ctx.lower and label in {"NAME", "EMAIL", "POSTCODE"} else value
                )
                if label:
                    spans.append(
                        {"start": len(text), "end": len(text) + len(value), "label": label}
                    )
                text += value
            pos = m.end()
        lit = _typo(ctx.rng, tpl[pos:])
        text += lit.lower() if ctx.lower else lit
    return text, spans


def narrative(rng: random.Random, fake: Faker) -> tuple[str, list[dict[str, object]]]:
    ctx = Ctx(rng, fake)
    if rng.random() < 0.12:  # no identifiers at all: only hard negatives
        fillers = rng.sample(FILLERS, rng.randint(2, 5)) + rng.sample(
            HARD_FILLERS, rng.randint(0, 2)
        )
        rng.shuffle(fillers)
        return render(ctx, fillers)
    parts = (
        [rng.choice(OPENERS)]
        + rng.sample(EVENTS, rng.randint(1, 3))
        + rng.sample(FILLERS, rng.randint(1, 3))
    )
    if rng.random() < 0.35:
        parts.insert(rng.randint(1, len(parts)), rng.choice(HARD_EVENTS))
    if rng.random() < 0.25:
        parts.insert(rng.randint(1, len(parts)), rng.choice(HARD_FILLERS))
    if rng.random() < 0.3:
        rng.shuffle(parts)
    if rng.random() < 0.1:
        parts.append(rng.choice(CLOSERS))
    return render(ctx, parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=sorted(SPLIT_SEEDS), default="eval")
    ap.add_argument("--seed", type=int, help="overrides the split's seed")
    ap.add_argument("--n", type=int, default=800)
    ap.add_argument("--out", type=Path, help="default: data/deid/SPLIT.jsonl")
    ap.add_argument(
        "--other-domains",
        type=int,
        help="narratives of other safety domains added after the GP ones (default: 150 for "
        "dev, 0 for eval, so that the eval figures stay comparable)",
    )
    args = ap.parse_args()
    seed = SPLIT_SEEDS[args.split] if args.seed is None else args.seed
    out = args.out or ROOT / "data" / "deid" / f"{args.split}.jsonl"
    rng = random.Random(seed)
    fake = Faker("en_GB")
    fake.seed_instance(seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for i in range(args.n):
            text, spans = narrative(rng, fake)
            row = {"id": f"deid-{seed}-{i:04d}", "text": text, "spans": spans}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        other = args.other_domains
        other = (150 if args.split == "dev" else 0) if other is None else other
        # A separate generator, so that the GP narratives stay the same whatever ``other`` is.
        orng = random.Random(seed + 1)
        for i in range(other):
            text, spans = other_domain(Ctx(orng, fake))
            row = {"id": f"deid-{seed}-other-{i:04d}", "text": text, "spans": spans}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {args.n} + {other} narratives to {out}")


if __name__ == "__main__":
    main()
