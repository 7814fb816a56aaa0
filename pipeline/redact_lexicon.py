"""Word lists for the name rules: cue words here, long lists in ``pipeline/data/`` (see README).

All words are lower case. The cue lists are small, hand-written and meant to be edited when the
de-identification benchmark shows a miss or a false positive.
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from importlib import resources

from spacy.lang.en.stop_words import STOP_WORDS

__all__ = ["Lexicon", "load_lexicon"]


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


def _with_typos(words: frozenset[str]) -> frozenset[str]:
    """Add every swap of two neighbouring letters of the longer words ("recpetion")."""
    swaps = {
        w[:k] + w[k + 1] + w[k] + w[k + 2 :] for w in words if len(w) > 4 for k in range(len(w) - 1)
    }
    return words | frozenset(swaps)


#: Titles: the word after one is a name ("Mrs Jones", "dr patel", "Sister Dlomo").
TITLES = _set("mr mrs ms miss mx dr doctor prof professor nurse sister matron rev sir dame")
#: Titles after which any non-stop word is a name, even in lower case ("mrs rose").
HONORIFICS = _set("mr mrs ms miss mx")
#: Titles that are also ordinary words: titles only when capitalised ("Sister Dlomo").
TITLECASE_ONLY = _set("nurse sister matron doctor sir dame")
#: Kin and staff roles: the capitalised word after one is a name even if it is a common word
#: ("Son Vida", "receptionist Sue").
KIN_ROLE = _with_typos(
    _set(
        "receptionist receptionists pharmacist pharmacists hca locum colleague manager dispenser"
        " administrator secretary midwife paramedic physio physiotherapist registrar trainee carer"
        " daughter son wife husband partner mum mother dad father brother sister friend neighbour"
        " granddaughter grandson niece nephew relative kin nok named anp technician coordinator"
        " navigator caller nurse gp"
    )
)
#: Other strong cues: the word after one is a name if it is not a dictionary word ("pt Olumide").
ROLE_BEFORE = KIN_ROLE | _set("patient pt pts called clinician prescriber")
#: Weak cues: a capitalised non-dictionary word after one is a name ("asked Olumide").
WEAK_BEFORE = _set("asked told informed thanked cc per")
#: "to" and "from" are cues only after these words ("spoke to X", "call from X").
TO_VERBS = _set(
    "spoke speak speaking talked talking handed passed explained mentioned apologised apologized"
    " reported gave given chatted"
)
FROM_NOUNS = _set("call calls message phonecall text email")
#: "with" is a cue only after these words ("discussed with X").
WITH_VERBS = _set(
    "discussed discussing spoke speaking talked talking liaised booked seen appointment appt"
    " consulted checked reviewed chatted met meeting call"
)
#: A role after a word makes it a name ("Sarah on reception", "Filippo, the practice nurse").
ROLE_AFTER = _with_typos(
    _set(
        "reception receptionist dispensary dispenser pharmacist hca nurse gp locum manager admin"
        " secretary midwife registrar anp partner prescriber dob d.o.b. d.o.b"
    )
)
#: Words skipped between a name and the role after it.
ROLE_AFTER_SKIP = _set("( , on at from in the our practice duty senior lead deputy -")
#: Verbs after a capitalised non-dictionary word make it a name ("Adeyemi rang").
VERB_AFTER = _set(
    "rang called phoned noticed spotted said reported queried asked checked confirmed flagged"
    " emailed collected attended wrote saw advised explained agreed realised found"
)
#: Verbs after initials ("KD actioned the task"); the first set is strong enough to accept a
#: clinical abbreviation as initials ("AF actioned"), the second is not ("BP checked").
INITIALS_ACTION_AFTER = _with_typos(
    _set("actioned did signed rang phoned spoke emailed apologised")
)
INITIALS_VERB_AFTER = VERB_AFTER | _set("noted reviewed booked filed")
#: Words that end a lower-case name: verbs that often follow one ("sarah gave", "sarah told").
NAME_STOP_AFTER = VERB_AFTER | _set(
    "told gave took sent came went got made knew thought left put kept brought spoke forgot read"
    " felt heard rung has had was is will would can could should did does do re pt"
)
#: Words naming an institution: a name before one is part of a hospital's name.
INSTITUTION = _set(
    "hospital hospitals infirmary house centre center surgery practice ward unit clinic hospice"
    " trust college school university medical county city borough district council airport"
    # places and operations named after people in other safety domains ("Kelly Peak",
    # "Craig Dispatch", "Thomas Fire", "Hayden Repeater"); no common surnames ("Hill", "Lake")
    " ridge canyon creek peak mountain mountains forest national agency dispatch repeater"
    " airbase airfield helibase reservoir wilderness refuge monument interagency complex fire"
    " fires incident"
)
INSTITUTION_BEFORE = _set("st st. saint queen king prince princess royal")
#: Capitalised words before a place named after a person ("Fort Wainwright", "San Carlos",
#: "Mt Ogden", "South Dakota"): never names themselves, and the word after is no name.
PLACE_BEFORE = _set(
    "mt mt. mount fort ft san santa las los north south east west northern southern eastern western"
)
#: Words after an eponym ("Bell's palsy", "Ramsay Hunt syndrome").
DISEASE = _set(
    "disease syndrome palsy sign test lymphoma contracture cyst fracture phenomenon oesophagus"
    " esophagus protein dementia disorder body ulcer manoeuvre score criteria tumour virus reflex"
    " triad node nodes ataxia encephalopathy sarcoma thyroiditis"
)
#: Strong cues before initials ("HCA JT", "checked by JT", "signed JT").
INITIALS_STRONG = _set("hca receptionist pharmacist signed initials per nurse locum anp dr")
#: "initials" and its typos: the word after is initials even if an abbreviation ("initials GP").
INITIALS_CUE = _with_typos(_set("initials"))
#: Verbs that make "by" a cue, for names ("seen by Ayo") and initials ("checked by JT").
BY_VERBS = _set(
    "checked actioned seen signed done completed reviewed noted taken booked filed scanned coded"
    " authorised issued amended processed spotted noticed called rung phoned contacted advised"
    " told asked visited assessed examined caught picked queried flagged"
)
#: Weak cues before initials: a known abbreviation after one is not initials ("pt AF").
INITIALS_WEAK = _set("by pt patient re from cc gp to with")
#: Words before "(XX)" that make it a patient's initials, even if a clinical abbreviation
#: ("Pt (AF) attended", "wrong record (LD)"), and before "XX (84F)" ("SEA re pt HB (84F)").
INITIALS_PATIENT = _set("pt pts patient record records notes re")
#: Words after which a "Surname, Firstname" item may start ("Attendees: Smith, John; Patel,
#: Priya", "Letter re Adeyemi, Olumide"), besides the start of a line or sentence.
LIST_OPENERS = _set(": ; - ( & and re cc fao attn")
#: Words after which a "Surname, Firstname" item may end, besides the end of a line.
LIST_CLOSERS = _set("; . ) - : , ( & and")
#: XML elements whose text is a name, whatever the words ("<surname>Young</surname>").
NAME_FIELDS = _set(
    "name names surname surnames forename forenames firstname lastname fullname givenname"
    " familyname middlename given family patient patientname pt_name first_name last_name"
    " given_name family_name full_name nok kin carer staff author clinician"
)
#: Form and table headings: never names on their own ("<th>Forename</th>").
FIELD_WORDS = _set(
    "forename forenames firstname lastname surname surnames fullname middlename name names"
    " title gender sex dob nhs postcode address telephone mobile email patient patients status"
    " town city county country ethnicity religion nationality occupation gp practice"
)
#: Verbs that are no name even capitalised after a role ("Daughter Rang", "Locum Queried"); past
#: tenses of common words count too (see ``TokenView.verb``).
VERBS = NAME_STOP_AFTER | BY_VERBS | INITIALS_VERB_AFTER | INITIALS_ACTION_AFTER
#: Role and service abbreviations that are never initials, even after a strong cue.
CORE_ABBREVIATIONS = _set(
    "gp gps dn hv ot anp acp hca pa np rn spr sho fy fy1 fy2 ooh nhs ed ae cqc icb pcn mdt utc"
    " wic slt pt rx dr id emis ice ers eps"
)
#: Crew, control and incident roles of other safety domains that are never initials either
#: ("per ATC", "FO did", "IC rang"); rarer domain abbreviations are initials after a strong
#: cue ("per RPA") and never without one (``Lexicon.terms``).
SAFETY_CORE_ABBREVIATIONS = _set(
    "atc fo capt pf pnf acft tcas chk ctlr twr gnd tracon artcc ic icp imt odp emt ems"
    " oow ppe sop crm"
)
#: Dotted abbreviations that are not initials ("N.B.", "A.M.").
DOTTED_ABBREVIATIONS = _set("nb ps am pm ie eg od bd uk us dob nok nhs gp")
#: Drug-name endings: a capitalised word ending so is no name ("Apixaban", "Lisinopril").
DRUG_ENDINGS = (
    "pril", "sartan", "olol", "statin", "mab", "cillin", "mycin", "cycline", "azole", "xaban",
    "gliptin", "gliflozin", "prazole", "triptan", "parin", "farin", "trexate", "dipine", "olone",
    "asone", "zepam", "oxetine", "floxacin", "tidine", "caine", "profen", "codamol", "morph",
    "lukast", "tropium", "terol", "sonide", "amine", "azine", "idine", "umab", "inib",
)  # fmt: skip
#: Lower-case word endings that mark an ordinary word, not a lower-cased name.
LOWER_WORD_ENDINGS = ("ed", "ing", "ly", "tion", "ment", "ness")
MONTHS = _set(
    "january february march april may june july august september october november december"
)
WEEKDAYS = _set("monday tuesday wednesday thursday friday saturday sunday")
PLACEHOLDERS = _set("name date phone email postcode address initials hospital_number nhs_number")
_BASE_BLOCKED = (
    frozenset(STOP_WORDS) | TITLES | ROLE_BEFORE | ROLE_AFTER | INSTITUTION | INSTITUTION_BEFORE
    | MONTHS | WEEKDAYS | PLACEHOLDERS | FIELD_WORDS
    | _set("practitioner associate lead specialist team consultant surgeon assistant appointment"
           " list notes note rota triage service services pharmacy hx pmh")
)  # fmt: skip


class Lexicon:
    """Word lists used by the name rules, loaded once per process by :func:`load_lexicon`.

    Attributes
    ----------
    first_names : frozenset of str
        Gazetteer first names, ambiguous ones included.
    ambiguous : frozenset of str
        First names that are also English words, months, roles or safety terms ("will",
        "grace", "june", "mel").
    common : frozenset of str
        Common lower-case English words, first names excluded.
    clinical : frozenset of str
        Clinical and NHS abbreviations, systems, services and pharmacy chains.
    roles : frozenset of str
        Occupations, job titles and crew roles of many safety domains, with plurals
        ("captain", "packer", "roofer", "odp"): never names; a capitalised word after one
        that looks like a name is one ("Captain Okafor").
    terms : frozenset of str
        Safety-domain words and abbreviations ("defib", "handover", "atc", "chk", "tcas"):
        never names, nor initials without a strong cue.
    eponyms : frozenset of str
        Surnames that name diseases and signs ("parkinson", "crohn").
    blocked : frozenset of str
        Words that never start a name outside a title: stop words, clinical and safety terms...
    not_names : frozenset of str
        Roles and place words ("Mt", "San"): no names in running text, though they may be in a
        "Surname, Firstname" list or a table cell ("Walker, John").
    title_blocked : frozenset of str
        Words that are no name even after a title ("Dr On call", "Nurse Practitioner").
    places : frozenset of str
        Towns, cities and counties that are also names ("reading", "preston"): names only with a
        title or cue, never in a table cell or list on their own.
    not_initials : frozenset of str
        Lower-case words and abbreviations that are never initials without a strong cue:
        clinical and safety terms, roles.
    """

    def __init__(self) -> None:
        self.roles = _plurals(_words("roles.txt"))
        self.terms = _words("safety_terms.txt")
        names = _words("first_names.txt")
        self.ambiguous = _words("ambiguous_names.txt") | (names & (self.roles | self.terms))
        self.first_names = names | self.ambiguous
        self.common = _words("common_words.txt.gz") - self.first_names
        self.clinical = _words("clinical_terms.txt")
        self.eponyms = _words("eponyms.txt")
        self.places = _words("places.txt")
        # A long safety term is no name even after a title ("Nurse Defib", "Sister Handover");
        # a short one may be ("Miss Bal").
        long_terms = frozenset(w for w in self.terms if len(w) > 4)
        self.title_blocked = (
            (_BASE_BLOCKED | long_terms) - self.first_names - INSTITUTION_BEFORE - PLACE_BEFORE
        )
        self.blocked = _BASE_BLOCKED | self.clinical | self.terms
        #: Words that are no name in running text, though they may be in a list or a table
        #: cell ("Walker, John", "<td>North</td>"): roles and place words ("Packer noticed",
        #: "San Carlos").
        self.not_names = self.roles | PLACE_BEFORE
        #: Lower-case forms that can never start any span: skipped quickly.
        self.skip = (
            (self.common | frozenset(STOP_WORDS) | self.roles | self.terms)
            - self.first_names
            - TITLES
        )
        #: Words a typo of which is no name ("queired", "Monady", "Pharmcist").
        self.dictionary = (
            self.common | MONTHS | WEEKDAYS | VERBS | FIELD_WORDS | self.clinical | self.roles
        )
        self.not_initials = self.clinical | self.terms | self.roles
        #: Role words that are cues for a capitalised name after them ("Captain Okafor").
        self.role_cues = self.roles - KIN_ROLE - ROLE_BEFORE


def _plurals(words: frozenset[str]) -> frozenset[str]:
    """Add regular plurals: "captains", "firemen", "deputies", "coaches"."""
    out = set(words)
    for w in words:
        if w.endswith("man"):
            out.add(w[:-3] + "men")
        elif w.endswith("y") and w[-2:-1] not in set("aeiou"):
            out.add(w[:-1] + "ies")
        elif w.endswith(("s", "sh", "ch", "x")):
            out.add(w + "es")
        else:
            out.add(w + "s")
    return frozenset(out)


def _words(name: str) -> frozenset[str]:
    raw = resources.files("pipeline").joinpath("data", name).read_bytes()
    text = gzip.decompress(raw).decode("utf-8") if name.endswith(".gz") else raw.decode("utf-8")
    lines = (line for line in text.splitlines() if not line.startswith("#"))
    return frozenset(w.lower() for line in lines for w in line.split())


@lru_cache(maxsize=1)
def load_lexicon() -> Lexicon:
    """Return the process-wide :class:`Lexicon` (read from package data once).

    Returns
    -------
    Lexicon
        Gazetteer, ambiguous names, common words, clinical terms and eponyms.
    """
    return Lexicon()
