"""CDISC controlled terminology used by the SDTM export, and the notes for values that have no published code.

Submission values are written as CDISC publishes them (SDTM Controlled Terminology: TUTESTCD, TRTESTCD, RSTESTCD,
Oncology Response (ONCRSR), Anatomical Location (LOC), Method (METHOD), Evaluator (EVAL), Medical Evaluator
Identifier (MEDEVAL)). Anything the export writes that is not in those lists is recorded by `DefineNotes` and
written to ``define-notes.md`` next to the data, so a data manager can see exactly which values need a sponsor term.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TUTEST = {"TUMIDENT": "Tumor Identification"}
TRTEST = {
    "LDIAM": "Longest Diameter",
    "LPERP": "Longest Perpendicular",
    "SUMDIAM": "Sum of Diameter",
    "TUMSTATE": "Tumor State",
}
RSTEST = {
    "TRGRESP": "Target Response",
    "NTRGRESP": "Non-target Response",
    "NEWLPROG": "New Lesion Progression",
    "OVRLRESP": "Overall Response",
    "BESTRESP": "Best Overall Response",
}

#: TUORRES / TUSTRESC for the lesion's role.
TU_ROLE = {"target": "TARGET", "non-target": "NON-TARGET", "new": "NEW"}

#: Imaging method (METHOD codelist, C17204 "CT SCAN").
METHOD_CT = "CT SCAN"

#: EVAL codelist.
EVAL_BY_ROLE = {"site": "INVESTIGATOR", "central": "INDEPENDENT ASSESSOR", "adjudicator": "INDEPENDENT ASSESSOR"}

#: Published ONCRSR values for the engine's response codes (RECIST 1.1 and iRECIST).
RESPONSE = {
    "CR": "CR",
    "PR": "PR",
    "SD": "SD",
    "PD": "PD",
    "NE": "NE",
    "non-CR/non-PD": "NON-CR/NON-PD",
    "iCR": "iCR",
    "iPR": "iPR",
    "iSD": "iSD",
    "iUPD": "iUPD",
    "iCPD": "iCPD",
    "non-iCR/non-iUPD": "NON-iCR/NON-iUPD",
}
#: Engine codes written as-is, with no published ONCRSR code (listed in the define notes when used).
RESPONSE_UNPUBLISHED = {"NED": "NED"}

#: Tumor State results (TUMSTATE) published for non-target and new lesions.
TUMSTATE = {"present": "PRESENT", "absent": "ABSENT", "unequivocal_progression": "UNEQUIVOCAL PROGRESSION"}
#: iRECIST's "further increase from the last assessment" of a non-target (the FAQ's INCLA), which confirms a
#: non-target iUPD: not in the Tumor State codelist, so written as itself and said in the define notes.
FURTHER_INCREASE = "FURTHER INCREASE"

TOO_SMALL = "TOO SMALL TO MEASURE"
#: The SR's Clinical Trial Sponsor Name (Type 1: never empty) when the export is not given the sponsor's
DEFAULT_SPONSOR = "RECIST workstation"
NOT_DONE = "NOT DONE"

#: Anatomical Location (LOC) submission values for organs the workstation offers.
LOC = {
    "abdominal wall": "ABDOMINAL WALL",
    "adrenal gland": "ADRENAL GLAND",
    "adrenal": "ADRENAL GLAND",
    "bone": "BONE",
    "brain": "BRAIN",
    "chest wall": "CHEST WALL",
    "colon": "COLON",
    "duodenum": "DUODENUM",
    "esophagus": "ESOPHAGUS",
    "oesophagus": "ESOPHAGUS",
    "kidney": "KIDNEY",
    "liver": "LIVER",
    "lung": "LUNG",
    "lymph node": "LYMPH NODE",
    "node": "LYMPH NODE",
    "mediastinum": "MEDIASTINUM",
    "omentum": "OMENTUM",
    "ovary": "OVARY",
    "pancreas": "PANCREAS",
    "peritoneum": "PERITONEUM",
    "pleura": "PLEURA",
    "skin": "SKIN",
    "small intestine": "SMALL INTESTINE",
    "soft tissue": "SOFT TISSUE",
    "spleen": "SPLEEN",
    "stomach": "STOMACH",
}


@dataclass
class DefineNotes:
    """Values written without a published CDISC code, with where they were used and what they mean."""

    entries: dict[tuple[str, str], str] = field(default_factory=dict)
    #: Whether --ACPTFL is the central review's decision (`build_sdtm`'s ``accepted_ids``, the export from the
    #: reading database) rather than inferred from the reads (read files).
    accepted_from_review: bool = False
    #: Whether some RS records come from a read evaluated under the criteria its evaluator did not read under.
    derived_responses: bool = False

    def add(self, variable: str, value: str, meaning: str) -> None:
        self.entries.setdefault((variable, value), meaning)

    def to_markdown(self, study_id: str) -> str:
        lines = [
            f"# Define notes: {study_id}",
            "",
            "Values in this export that have no code in the published CDISC SDTM Controlled Terminology, and",
            "conventions a reviewer needs to read the data. Every other value is a published submission value.",
            "",
            "## Values with no published code",
            "",
            "| Variable | Value | Meaning |",
            "|---|---|---|",
        ]
        lines += [f"| {var} | {val} | {meaning} |" for (var, val), meaning in sorted(self.entries.items())]
        if not self.entries:
            lines.append("| (none) | | |")
        if self.accepted_from_review:
            accepted = [
                "- --ACPTFL = Y marks the accepted read of a subject, as the central review decided it: the central",
                "  read the adjudicator chose; with no adjudication, when the two central reads agree (same best",
                "  overall response and date of progression), the read of reader 1 of the review assignment, which",
                "  may be RADIOLOGIST 1 or RADIOLOGIST 2; otherwise no central read is accepted yet (--ACPTFL = N).",
                "  Site reads carry no --ACPTFL.",
            ]
        else:
            accepted = [
                "- --ACPTFL = Y marks the accepted read of a subject, per criteria: the adjudicator's read when there",
                "  is one; otherwise, when every central read gives the same best overall response, RADIOLOGIST 1's;",
                "  otherwise no central read is accepted yet (adjudication pending). Site reads carry no --ACPTFL.",
            ]
        lines += [
            "",
            "## Conventions",
            "",
            "- One record set per evaluator: --EVAL (INVESTIGATOR for site reads, INDEPENDENT ASSESSOR for central",
            "  reads and adjudication) and --EVALID (ADJUDICATOR, or RADIOLOGIST 1, 2, ... for the central readers",
            "  of a subject numbered in order of reader name, not by the review's reader 1 / reader 2 assignment;",
            "  INVESTIGATOR 1, 2, ... likewise where a subject has more than one site reader, else empty).",
            *accepted,
            "- VISITNUM is 1 for each read's baseline; follow-ups are numbered 2, 3, ... in order of imaging date",
            "  over all of the subject's reads in this delivery, so one date has one VISITNUM whichever evaluator read",
            "  it. A scan that a read labels unscheduled (the site's visit label, e.g. 'Unscheduled 1') is the visit",
            "  before it plus 0.01 per unscheduled scan since (2.01, 2.02, ...), so adding one renumbers no other",
            "  visit. VISIT is derived from VISITNUM (BASELINE, FOLLOW-UP 1, ..., UNSCHEDULED 2.01), the same for",
            "  every evaluator, not the site's visit label: central reads are blinded to the site's visit labels,",
            "  which the review does not keep (an unscheduled scan read only centrally is numbered as scheduled).",
            "- TR LDIAM is the long axis of a non-nodal lesion; LPERP is the short axis of a lymph node (RECIST 1.1",
            "  section 4.2). A split lesion's fragments are summed into one record.",
            "- TR SUMDIAM and every RS result come from the workstation's response engine (recist.evaluate_case),",
            "  never recomputed here. A lesion TOO SMALL TO MEASURE counts 5 mm (RECIST 1.1 section 4.3.2): its",
            "  TRSTRESC/TRSTRESN is 5, so the targets' TRSTRESN add up to SUMDIAM. A baseline lesion not evaluated",
            "  at a visit that was read (marked so or left out) is TRSTAT = NOT DONE, and so is that visit's SUMDIAM.",
            "- TRLNKGRP = RSLNKGRP ('<evaluator> V<VISITNUM>') links an evaluator's TR records at a visit to the RS",
            "  records derived from them (RELREC: TR many, RS one); BESTRESP has none.",
            "- iRECIST responses are written with RSCAT = iRECIST, RECIST 1.1 ones with RSCAT = RECIST 1.1.",
            "  When an evaluator read a subject under both, TU and TR come from the RECIST 1.1 read; the iRECIST",
            "  read adds only the diameters of measured new lesions (TR) and its responses (RS).",
            *(
                [
                    "- An evaluator who read a subject under one criteria only has the responses of the other too,",
                    "  from the same measurements evaluated by the other criteria's rules (as the workstation shows",
                    "  them side by side): TU and TR once, RS under both RSCATs, with the same --ACPTFL.",
                ]
                if self.derived_responses
                else []
            ),
            "- OVRLRESP is each visit's response as it was assessed then. An equivocal new lesion confirmed later",
            "  dates progression back to the visit where it was first seen (RECIST 1.1 sec. 4.3.5): BESTRESP counts",
            "  that visit and those after it as PD, while their OVRLRESP stays as assessed (the engine's reason says",
            "  so in the CSV tables).",
            "- After a confirmed CR, any lesion present again is PD (iUPD under iRECIST) whatever its size (EORTC",
            "  RECIST working group FAQ); TRGRESP or NTRGRESP of the category it came back in is PD too.",
            "- iRECIST NEWLPROG is NE at a visit that does not assess a new lesion seen before (left out or not",
            "  evaluated): whether new lesions progress is not known there. With an iUPD pending it stays pending",
            "  (OVRLRESP NE); otherwise OVRLRESP is as the other categories make it.",
            "- A new lymph node under 10 mm short axis is normal, not a new lesion (RECIST working group FAQ 'New",
            "  lymph node lesions'): it keeps its TU/TR records as the reader recorded it, but NEWLPROG is N for it.",
            "- Text encodings: the .csv files are UTF-8; the .xpt files (SAS XPORT v5) are Latin-1, which XPORT",
            "  requires (a value with a character Latin-1 cannot hold stops the export, naming it).",
            "",
        ]
        return "\n".join(lines)
