"""Write the synthetic sample exports in data/sample/exports/ (run from the project root).

Everything here is invented for the project: no real patients, staff or practices. NHS numbers
are in the 999 test range, phone numbers in Ofcom's drama range, the postcode is the NHS
pseudo-postcode.

    .venv/bin/python benchmarks/make_sample_exports.py
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

from docx import Document

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "data" / "sample" / "exports"

DATIX_HEADER = [
    "ID",
    "Ref",
    "Incident date",
    "Practice",
    "Location (exact)",
    "Category",
    "Reported by",
    "Description",
    "Action taken",
    "Severity",
]

# (date as exported, practice, location, category, reporter, description, action taken)
DATIX_ROWS: list[tuple[str, str, str, str, str, str, str]] = [
    (
        "12/03/2024",
        "Synthetic Practice A",
        "Reception",
        "Patient identification",
        "R. Clark",
        "Patient phoned for blood results. Receptionist searched by surname and opened the top "
        "record of four with the same surname and initial. Before reading anything out she did the "
        "3-point ID check – the date of birth the caller gave did not match.",
        "Correct record found and results given. Reception reminded to search by date of birth "
        "first, not surname.",
    ),
    (
        "2024-03-15",
        "Synthetic Practice A",
        "Consulting room",
        "Prescribing",
        "Dr A. Patel",
        "Methotrexate 10 mg tablets added to repeat instead of 2.5 mg tablets when transcribing a "
        "hospital letter for Mrs Jane Doe (NHS 999 398 2598). The community pharmacist queried the "
        "strength before dispensing.",
        "Prescription cancelled and reissued as 2.5 mg tablets. Methotrexate added to the list of "
        "drugs needing a second clinician check on transcription.",
    ),
    (
        "18/03/2024",
        "Synthetic Practice B",
        "Admin office",
        "Test results",
        "K. Owusu",
        "INR of 5.9 came back from the lab on Friday afternoon and was filed without action by a "
        "locum. The anticoagulation nurse picked it up on Monday when running the weekly "
        "out-of-range INR search.",
        "Patient contacted the same morning, warfarin withheld, INR rechecked. No bleeding.",
    ),
    (
        "3 Apr 2024",
        "Synthetic Practice B",
        "Consulting room",
        "Prescribing",
        "Dr S. Moore",
        "Amoxicillin prescribed for a chest infection to a patient with a recorded penicillin "
        "allergy. The allergy alert fired but was overridden in a busy surgery. The patient "
        "queried it at the pharmacy counter.",
        "Prescription changed to doxycycline. Alert override reasons to be discussed at the "
        "clinical meeting.",
    ),
    (
        "05/04/24 14:30",
        "Synthetic Practice C",
        "Admin office",
        "Referrals",
        "T. Nguyen",
        "Two-week-wait referral for a breast lump was dictated but never sent – it sat in the "
        "secretary’s tasks. Found nine days later during the weekly two-week-wait safety-net "
        "search that matches referrals against e-RS bookings.",
        "Referral sent urgently and patient booked. Secretary cover arranged for leave periods.",
    ),
    (
        "08/04/2024",
        "Synthetic Practice C",
        "Treatment room",
        "Vaccines",
        "N. Evans",
        "Vaccine fridge reached 11°C overnight after the door was left ajar. The data logger "
        "alarm showed the excursion at the morning check, before the baby clinic started.",
        "Vaccines quarantined and the manufacturer contacted; clinic rebooked. Door alarm fitted.",
    ),
    (
        "10/04/2024",
        "Synthetic Practice D",
        "Dispensary",
        "Monitoring",
        "P. Shah",
        "Repeat lithium requested but the last serum level was 7 months ago. The repeat template "
        "has a monitoring rule that blocked issue until a GP reviewed it.",
        "GP requested a lithium level and U&E before authorising a 2-week supply.",
    ),
    (
        "11/04/2024",
        "Synthetic Practice D",
        "Admin office",
        "Correspondence",
        "L. Brown",
        "Discharge letter for Mr Ahmed Khan was workflowed into the record of another Mr Khan with "
        "a different date of birth. The second workflow team member, who checks every coded "
        "letter, spotted the mismatch.",
        "Letter moved to the correct record and the wrong entry deleted with an audit note.",
    ),
    (
        "15/04/2024",
        "Synthetic Practice E",
        "Consulting room",
        "Medicines reconciliation",
        "Dr F. Ali",
        "After discharge the patient was on both ramipril and lisinopril: the hospital switched "
        "ACE inhibitor but the old one stayed on repeat. The clinical pharmacist found it during "
        "the routine post-discharge medicines reconciliation.",
        "Ramipril removed from repeat; patient phoned; U&E checked.",
    ),
    (
        "16/04/2024",
        "Synthetic Practice E",
        "Telephone",
        "Home visits",
        "J. Wilson",
        "A home visit request for a frail 91-year-old was written on a sticky note and lost. The "
        "daughter rang back at 4pm asking when the doctor would come (tel 07700 900123).",
        "Duty doctor visited that evening. Visit requests now go straight onto the visits list.",
    ),
    (
        "17/04/2024",
        "Synthetic Practice A",
        "Treatment room",
        "Vaccines",
        "N. Evans",
        "Child booked for MMR at 11 months. The nurse noticed the age when checking the red book "
        "against the schedule before drawing up.",
        "Appointment rebooked for after the first birthday. Booking template now checks age.",
    ),
    (
        "19/04/2024",
        "Synthetic Practice B",
        "Treatment room",
        "Specimens",
        "H. Jones",
        "Urine sample sent with another patient’s label. The laboratory rejected it because the "
        "details on the form and the pot did not match.",
        "Sample repeated. Labels now printed at the point of collection only.",
    ),
    (
        "22/04/2024",
        "Synthetic Practice C",
        "Consulting room",
        "Prescribing",
        "Dr S. Moore",
        "Insulin dose typed as 400 units instead of 40 units. The maximum dose alert in the "
        "prescribing system stopped the prescription being signed.",
        "Corrected before signing. Shared at the practice meeting as an example of a good alert.",
    ),
    (
        "23/04/2024",
        "Synthetic Practice D",
        "Telephone",
        "Test results",
        "R. Clark",
        "Lab phoned a potassium of 6.8 at 19:10; the message went to the reception answerphone. "
        "The duty doctor happened to listen to messages early next morning.",
        "Patient sent to the emergency department; repeat level normal. Lab given the out-of-hours "
        "number.",
    ),
    (
        "24/04/2024",
        "Synthetic Practice E",
        "Consulting room",
        "Prescribing",
        "Dr G. Reid",
        "Amoxicillin suspension dose for a 4-year-old was calculated using the weight of the "
        "parent, recorded in the child’s record by mistake. The mother said the dose looked much "
        "bigger than last time.",
        "Dose recalculated; weight entry corrected.",
    ),
    (
        "25/04/2024",
        "Synthetic Practice A",
        "Dispensary",
        "Controlled drugs",
        "P. Shah",
        "Oxycodone prescription with different quantities in words and figures. The dispenser "
        "returned it under the controlled drug checking procedure.",
        "Prescription rewritten and signed.",
    ),
    (
        "26/04/2024",
        "Synthetic Practice B",
        "Admin office",
        "Safeguarding",
        "K. Owusu",
        "Safeguarding alert was on one sibling’s record but missing on the other. The health "
        "visitor mentioned the family at the monthly safeguarding meeting.",
        "Alerts added to all household members; template updated to prompt for siblings.",
    ),
    (
        "29/04/2024",
        "Synthetic Practice C",
        "Admin office",
        "Screening",
        "L. Brown",
        "An inadequate cervical screening result was filed as normal by a locum. The failsafe "
        "report of non-responders flagged the missing repeat test.",
        "Patient invited for repeat sample; locum induction updated.",
    ),
    (
        "30/04/2024",
        "Synthetic Practice D",
        "Reception",
        "Dispensing",
        "J. Wilson",
        "Wrong prescription bag nearly handed to a patient with the same surname. The receptionist "
        "followed the hand-out protocol and checked name and address with the patient.",
        "Correct bag handed over.",
    ),
    (
        "01/05/2024",
        "Synthetic Practice E",
        "Consulting room",
        "Prescribing",
        "Dr F. Ali",
        "Sodium valproate started for a woman of childbearing age without a pregnancy prevention "
        "programme in place. The practice pharmacist’s monthly valproate search found it.",
        "Patient reviewed; annual risk acknowledgement form completed.",
    ),
    (
        "02/05/2024",
        "Synthetic Practice A",
        "Admin office",
        "Triage",
        "T. Nguyen",
        "Online consultation describing chest pain sat in the admin inbox. The red-flag keyword "
        "rule in the online consultation tool raised it to the duty doctor within 10 minutes.",
        "Patient called and sent to the emergency department.",
    ),
    (
        "03/05/2024",
        "Synthetic Practice B",
        "Dispensary",
        "Prescribing",
        "P. Shah",
        "Patient paying the £9.90 charge queried why her amlodipine was 100 mg. A decimal error "
        "(10.0 mg keyed as 100 mg) had gone unnoticed by the prescriber.",
        "Prescription corrected and patient thanked. Prescribers reminded not to use trailing "
        "zeros.",
    ),
    (
        "07/05/2024",
        "Synthetic Practice C",
        "Consulting room",
        "Monitoring",
        "Dr G. Reid",
        "Apixaban dose not reduced although creatinine clearance had fallen. The annual DOAC "
        "review template calculated it and prompted the change.",
        "Dose reduced to 2.5 mg twice daily.",
    ),
    (
        "08/05/2024",
        "Synthetic Practice D",
        "Treatment room",
        "Specimens",
        "H. Jones",
        "Blood form printed for the wrong patient. The phlebotomist asked the patient to state "
        "name and date of birth, as always before bleeding, and it did not match.",
        "Correct form printed; bloods taken.",
    ),
    (
        "09/05/2024",
        "Synthetic Practice E",
        "Admin office",
        "Referrals",
        "L. Brown",
        "A dermatology referral had a photograph of a different patient attached. The secretary "
        "noticed the skin type did not match the letter when she opened the attachment.",
        "Correct photograph attached before sending.",
    ),
    (
        "13/05/2024",
        "Synthetic Practice A",
        "Telephone",
        "Test results",
        "R. Clark",
        "Results nearly given to the wrong Mr Smith on the phone. The caller’s date of birth did "
        "not match and the receptionist stopped.",
        "No information disclosed. Caller was the patient’s namesake neighbour.",
    ),
    (
        "14/05/2024",
        "Synthetic Practice B",
        "Consulting room",
        "Prescribing",
        "Dr A. Patel",
        "Clopidogrel stopped at discharge but continued on repeat. The patient brought the "
        "discharge summary and asked the pharmacist which tablets to take.",
        "Repeat updated.",
    ),
    (
        "15/05/2024",
        "Synthetic Practice C",
        "Treatment room",
        "Point-of-care testing",
        "N. Evans",
        "Point-of-care INR read 7.2. The meter flagged the result as outside the reportable range "
        "and the standard operating procedure says to send a venous sample.",
        "Venous INR 3.1; dose adjusted. Meter QC checked.",
    ),
    (
        "16/05/2024",
        "Synthetic Practice D",
        "Treatment room",
        "Equipment",
        "H. Jones",
        "Defibrillator pads found out of date. Found on the weekly emergency equipment checklist.",
        "New pads fitted; expiry dates added to the checklist.",
    ),
    (
        "17/05/2024",
        "Synthetic Practice E",
        "Telephone",
        "Prescribing",
        "J. Wilson",
        "Patient taking co-codamol and separate paracetamol. The patient’s carer noticed both "
        "contained paracetamol and phoned.",
        "Paracetamol removed from repeat and patient advised.",
    ),
    (
        "20/05/2024",
        "Synthetic Practice A",
        "Treatment room",
        "Vaccines",
        "N. Evans",
        "Pneumococcal vaccine picked from the fridge instead of flu vaccine. The second nurse, "
        "who checks every vaccine against the PGD before it is given, spotted it.",
        "Correct vaccine given.",
    ),
    (
        "21/05/2024",
        "Synthetic Practice B",
        "Consulting room",
        "Long-term conditions",
        "Dr S. Moore",
        "Patient on long-term prednisolone had no steroid emergency card or alert. The new "
        "steroid alert search run by the practice pharmacist found her.",
        "Card issued; alert added.",
    ),
    (
        "22/05/2024",
        "Synthetic Practice C",
        "Admin office",
        "Test results",
        "K. Owusu",
        "Pathology link down for three days, so no results arrived. The IT monitoring dashboard "
        "showed zero messages received and the practice manager raised it.",
        "Link restored and backlog reviewed by duty doctor.",
    ),
    (
        "23/05/2024",
        "Synthetic Practice D",
        "Consulting room",
        "Prescribing",
        "Dr G. Reid",
        "Levothyroxine prescribed as 250 micrograms instead of 25 micrograms. The patient, "
        "Mrs Ellen Marsh (NHS 999 791 9076), noticed the tablets looked different and rang.",
        "Prescription corrected before any tablet was taken.",
    ),
    (
        "24/05/2024",
        "Synthetic Practice E",
        "Admin office",
        "Test results",
        "T. Nguyen",
        "Task to call a patient about a raised PSA was assigned to a GP on annual leave. A "
        "colleague covering the inbox happened to look at the absent GP’s tasks.",
        "Patient called and referred. Tasks of absent staff now reassigned daily.",
    ),
    (
        "28/05/2024",
        "Synthetic Practice A",
        "Consulting room",
        "Prescribing",
        "Dr F. Ali",
        "Ramipril nearly prescribed for a patient who is 8 weeks pregnant. The pregnancy code "
        "triggered a contraindication alert and the GP chose labetalol.",
        "No action beyond the alert.",
    ),
    (
        "29/05/2024",
        "Synthetic Practice B",
        "Admin office",
        "Records",
        "L. Brown",
        "Two patients’ records were about to be merged by the records summariser because the "
        "names and dates of birth were similar. The data quality check of NHS numbers before "
        "merge stopped it (999 483 3782 and 999 876 2324).",
        "Merge cancelled; both records checked.",
    ),
    (
        "30/05/2024",
        "Synthetic Practice C",
        "Reception",
        "Access",
        "R. Clark",
        "Caller with slurred speech was given a routine appointment in 2 weeks. A receptionist "
        "sitting nearby overheard and asked the duty doctor to call back at once.",
        "Ambulance called; suspected stroke.",
    ),
    (
        "31/05/2024",
        "Synthetic Practice D",
        "Dispensary",
        "Dispensing",
        "P. Shah",
        "Propranolol 40 mg dispensed into a box labelled prednisolone. The accuracy checking "
        "technician’s final check found the mismatch before the bag was sealed.",
        "Re-dispensed. Look-alike boxes separated on the shelf.",
    ),
    (
        "03/06/2024",
        "Synthetic Practice E",
        "Consulting room",
        "Referrals",
        "Dr A. Patel",
        "Suspected cancer referral sent to the wrong hospital's e-RS service. The patient, who "
        "lives at ZZ99 3VZ, phoned because no appointment letter had come, as she had been told to "
        "do after 2 weeks.",
        "Re-referred to the right service; appointment within the week.",
    ),
]


def _datix_csv() -> bytes:
    """The Datix-style export, encoded as Windows-1252 as Datix exports often are."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(DATIX_HEADER)
    for number, (date, practice, location, category, reporter, text, action) in enumerate(
        DATIX_ROWS, start=1
    ):
        severity = "No harm (near miss)"
        writer.writerow(
            [
                10230 + number,
                f"GP-24-{number:03d}",
                date,
                practice,
                location,
                category,
                reporter,
                text,
                action,
                severity,
            ]
        )
    return buffer.getvalue().encode("cp1252")


def _bad_rows_csv() -> bytes:
    """A UTF-8 (with BOM) export with LFPSE-style headers and rows that are bad on purpose."""
    header = [
        "Incident reference",
        "Date of incident",
        "Practice name",
        "Describe what happened",
        "Immediate action taken",
    ]
    good = [
        "BAD-001",
        "02/07/2024",
        "Synthetic Practice F",
        "Repeat prescription for bisoprolol issued twice in one week. The dispenser noticed the "
        "early request.",
        "Second issue cancelled.",
    ]
    rows: list[list[str]] = [
        good,
        ["BAD-002", "03/07/2024", "Synthetic Practice F", "   ", "Nothing recorded."],
        ["BAD-003", "04/07/2024", "Synthetic Practice F"],
        [
            "BAD-004",
            "05/07/2024",
            "Synthetic Practice F",
            '=HYPERLINK("http://example.invalid/x","Click for details")',
            "Formula text kept as literal text.",
        ],
        [
            "BAD-005",
            "08/07/2024",
            "Synthetic Practice F",
            "<b>Urgent:</b> fax about <i>Mr John Smith</i> filed under a different patient "
            "<script>alert(1)</script>; the admin lead noticed on her daily check.",
            "Moved to the right record.",
        ],
        good,
        [
            "BAD-001",
            "02/07/2024",
            "Synthetic Practice F",
            "A different event that reuses the id BAD-001: a dressing order for the wrong "
            "patient was caught by the district nurse.",
            "Order corrected.",
        ],
        [
            "BAD-008",
            "31/02/2024",
            "Synthetic Practice F",
            "Date of event is impossible (31 February) but the narrative is fine: emollient "
            "prescribed for the wrong sibling, spotted by the parent.",
            "Corrected.",
        ],
        [
            "BAD-009",
            "10/07/2024",
            "Synthetic Practice F",
            "Row with an extra field: the referral form was nearly faxed to an old number.",
            "Checked the directory.",
            "unexpected extra field",
        ],
        [
            "BAD-010",
            "11/07/2024",
            "Synthetic Practice F",
            "PLACEHOLDER_POUND",
            "Refund arranged.",
        ],
    ]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    text = buffer.getvalue()
    data = b"\xef\xbb\xbf" + text.encode("utf-8")
    # One Windows-1252 byte (0xA3, a pound sign) inside a UTF-8 file, as when exports are pasted
    # together: it must not crash the read, and comes out as a pound sign.
    stray = (
        b"Patient charged \xa310 for a private letter she was exempt from; the receptionist "
        b"checked the exemption list."
    )
    return data.replace(b"PLACEHOLDER_POUND", stray)


SEA_PARAGRAPHS: list[tuple[str, str]] = [
    ("title", "Significant Event Analysis"),
    ("meta", "Practice: Synthetic Practice B"),
    ("meta", "Date of event: 14/02/2024"),
    ("meta", "Reference: SEA-2024-03"),
    ("meta", "Date of meeting: 06/03/2024"),
    ("heading", "What happened?"),
    (
        "body",
        "Mr John Smith (NHS 999 483 3782), 78, was discharged from hospital on apixaban 2.5 mg "
        "twice daily. The discharge summary was workflowed on the day and the medicines were "
        "added to repeat by the prescribing clerk, who entered 5 mg twice daily from the old "
        "repeat template.",
    ),
    (
        "body",
        "When the repeat request came through four days later, the community pharmacist "
        "compared it with the discharge summary sent to the pharmacy under the Discharge "
        "Medicines Service and phoned the practice to query the dose.",
    ),
    ("heading", "Why did it happen?"),
    (
        "body",
        "The old repeat template was reused rather than a new one created. Clerks are not "
        "trained to check renal dose adjustments. The discharge summary put the dose change in "
        "free text, not in the medicines table.",
    ),
    ("heading", "What went well?"),
    (
        "body",
        "The Discharge Medicines Service referral meant the pharmacist had the summary and "
        "checked it against the first prescription, as the service requires.",
    ),
    ("heading", "What has been learned?"),
    (
        "body",
        "Dose changes for anticoagulants can hide in free text. A clerk transcribing a "
        "discharge is not a clinical check.",
    ),
    ("heading", "What has been changed?"),
    (
        "body",
        "All anticoagulant changes from discharge summaries now go to the practice pharmacist "
        "for reconciliation within 48 hours. The clerk's protocol says: never reuse an old "
        "repeat template for a medicine whose dose changed.",
    ),
]

SEA_TEXT = """\
SIGNIFICANT EVENT ANALYSIS
Practice: Synthetic Practice C
Date of event: 9 January 2024
Ref: SEA-2024-01

1. What happened
A two-week-wait referral for suspected colorectal cancer for Mrs Sarah Jones (NHS 999 860 1290)
was rejected by the hospital's e-RS service because the FIT result was missing. The rejection
came back to a generic inbox that nobody had been assigned to watch during the practice
manager's leave.

Twelve days later, the patient rang (07700 900456) because, as the GP had told her, she should
call if she had heard nothing within two weeks.

2. Why did it happen
- The rejection notice went to a shared inbox with no named owner during leave.
- The referral template did not force the FIT result to be attached.

3. What has been learned
Safety-netting the patient worked, but it relied on her remembering and being well enough to
call. The practice had no system check for rejected referrals.

4. What has been changed
- A named administrator (and deputy) now checks the e-RS worklist every day.
- The referral template will not complete without a FIT result or a reason.
- A weekly search lists every urgent referral without a booked appointment.
"""


def _sea_docx(path: Path) -> None:
    """The SEA write-up as DOCX, with heading styles as a practice template would have."""
    document = Document()
    for kind, text in SEA_PARAGRAPHS:
        if kind == "title":
            document.add_heading(text, level=1)
        elif kind == "heading":
            document.add_heading(text, level=2)
        else:
            document.add_paragraph(text)
    properties = document.core_properties
    properties.author = "nearmiss sample generator (synthetic)"
    properties.title = "Synthetic SEA: apixaban dose"
    properties.created = properties.modified = dt.datetime(2024, 3, 6, 12, 0, 0)
    properties.last_modified_by = "nearmiss"
    properties.revision = 1
    document.save(str(path))


def main() -> None:
    """Write all sample exports."""
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "datix_gp_incidents.csv").write_bytes(_datix_csv())
    (OUT / "bad_rows.csv").write_bytes(_bad_rows_csv())
    _sea_docx(OUT / "sea_apixaban_dose.docx")
    (OUT / "sea_fit_referral.txt").write_text(SEA_TEXT, encoding="utf-8", newline="\n")
    print(f"wrote {len(DATIX_ROWS)} Datix rows, bad rows, one DOCX and one text SEA to {OUT}")


if __name__ == "__main__":
    main()
