"""CDISC SDTM oncology domains TU (tumour identification), TR (tumour results) and RS (response) from reads.

One record set per evaluator (``--EVAL`` / ``--EVALID``), the accepted read flagged ``--ACPTFL = Y`` (see
`assign_evaluators`). Responses and the sum of diameters are the response engine's (``recist.evaluate_case``), passed
in as ``results``: this module maps them to SDTM, it never recomputes them.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from recist.measure import TOO_SMALL_UM, UM_PER_MM
from workstation.export import terminology as ct
from workstation.export.xport import write_xport
from workstation.read_model import (
    Lesion,
    LesionAssessment,
    LesionStatus,
    MeasurementOrigin,
    Read,
    Role,
    is_irecist,
)

TU_COLUMNS = [
    "STUDYID", "DOMAIN", "USUBJID", "TUSEQ", "TULNKID", "TUTESTCD", "TUTEST", "TUORRES", "TUSTRESC", "TULOC",
    "TUMETHOD", "TUEVAL", "TUEVALID", "TUACPTFL", "VISITNUM", "VISIT", "TUDTC",
]  # fmt: skip
TR_COLUMNS = [
    "STUDYID", "DOMAIN", "USUBJID", "TRSEQ", "TRGRPID", "TRLNKID", "TRLNKGRP", "TRTESTCD", "TRTEST", "TRORRES",
    "TRORRESU", "TRSTRESC", "TRSTRESN", "TRSTRESU", "TRSTAT", "TRREASND", "TRMETHOD", "TREVAL", "TREVALID", "TRACPTFL",
    "VISITNUM", "VISIT", "TRDTC",
]  # fmt: skip
RS_COLUMNS = [
    "STUDYID", "DOMAIN", "USUBJID", "RSSEQ", "RSLNKGRP", "RSTESTCD", "RSTEST", "RSCAT", "RSORRES", "RSSTRESC", "RSEVAL",
    "RSEVALID", "RSACPTFL", "VISITNUM", "VISIT", "RSDTC",
]  # fmt: skip
RELREC_COLUMNS = ["STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "RELTYPE", "RELID"]

DATASET_LABELS = {"TU": "Tumor/Lesion Identification", "TR": "Tumor/Lesion Results", "RS": "Disease Response",
                  "RELREC": "Related Records"}
VARIABLE_LABELS = {
    "STUDYID": "Study Identifier", "DOMAIN": "Domain Abbreviation", "USUBJID": "Unique Subject Identifier",
    "TUSEQ": "Sequence Number", "TULNKID": "Link ID", "TUTESTCD": "Tumor/Lesion ID Short Name",
    "TUTEST": "Tumor/Lesion ID Test Name", "TUORRES": "Tumor/Lesion ID Result or Finding in Original Units"[:40],
    "TUSTRESC": "Tumor/Lesion ID Result Std. Format", "TULOC": "Location of the Tumor/Lesion",
    "TUMETHOD": "Method of Identification", "TUEVAL": "Evaluator", "TUEVALID": "Evaluator Identifier",
    "TUACPTFL": "Accepted Record Flag", "VISITNUM": "Visit Number", "VISIT": "Visit Name",
    "TUDTC": "Date/Time of Tumor/Lesion Identification"[:40],
    "TRSEQ": "Sequence Number", "TRGRPID": "Group ID", "TRLNKID": "Link ID", "TRLNKGRP": "Link Group ID",
    "TRTESTCD": "Tumor/Lesion Assessment Short Name", "TRTEST": "Tumor/Lesion Assessment Test Name",
    "TRORRES": "Result or Finding in Original Units", "TRORRESU": "Original Units",
    "TRSTRESC": "Character Result/Finding in Std Format", "TRSTRESN": "Numeric Result/Finding in Standard Units",
    "TRSTRESU": "Standard Units", "TRSTAT": "Completion Status", "TRREASND": "Reason Not Done",
    "TRMETHOD": "Method Used to Identify the Tumor/Lesion"[:40], "TREVAL": "Evaluator",
    "TREVALID": "Evaluator Identifier", "TRACPTFL": "Accepted Record Flag",
    "TRDTC": "Date/Time of Tumor/Lesion Measurement"[:40],
    "RSSEQ": "Sequence Number", "RSLNKGRP": "Link Group ID",
    "RSTESTCD": "Response Assessment Short Name", "RSTEST": "Response Assessment Name",
    "RSCAT": "Category for Response Assessment", "RSORRES": "Response Assessment Original Result",
    "RSSTRESC": "Response Assessment Result in Std Format", "RSEVAL": "Evaluator", "RSEVALID": "Evaluator Identifier",
    "RSACPTFL": "Accepted Record Flag", "RSDTC": "Date/Time of Response Assessment",
    "RDOMAIN": "Related Domain Abbreviation", "IDVAR": "Identifying Variable",
    "IDVARVAL": "Identifying Variable Value", "RELTYPE": "Relationship Type", "RELID": "Relationship Identifier",
}  # fmt: skip

Record = dict[str, Any]
TOO_SMALL_MM = TOO_SMALL_UM / UM_PER_MM
Results = Mapping[str, Any]


class SdtmError(ValueError):
    """A read that cannot be written as SDTM; the message names the subject, timepoint and lesion."""


@dataclass(frozen=True)
class Evaluator:
    eval: str
    evalid: str
    accepted: str  # "Y", "N" or "" (site reads)


@dataclass
class SdtmDataset:
    tu: list[Record] = field(default_factory=list)
    tr: list[Record] = field(default_factory=list)
    rs: list[Record] = field(default_factory=list)
    notes: ct.DefineNotes = field(default_factory=ct.DefineNotes)
    study_id: str = "RECIST-TRIAL"

    @property
    def relrec(self) -> list[Record]:
        """The dataset-level relationship (SDTMIG 3.3 sec. 8.3): a visit's TR records (TRLNKGRP) and the responses
        derived from them (RSLNKGRP); none when there is no response."""
        if not any(r.get("RSLNKGRP") for r in self.rs):
            return []
        return [{"STUDYID": self.study_id, "RDOMAIN": domain, "USUBJID": "", "IDVAR": idvar, "IDVARVAL": "",
                 "RELTYPE": reltype, "RELID": "TRRS"}
                for domain, idvar, reltype in (("TR", "TRLNKGRP", "MANY"), ("RS", "RSLNKGRP", "ONE"))]

    def domains(self) -> dict[str, tuple[list[str], list[Record]]]:
        return {"TU": (TU_COLUMNS, self.tu), "TR": (TR_COLUMNS, self.tr), "RS": (RS_COLUMNS, self.rs),
                "RELREC": (RELREC_COLUMNS, self.relrec)}


def assign_evaluators(reads: Sequence[Read], results: Mapping[str, Results],
                      accepted_ids: Collection[str] | None = None) -> dict[str, Evaluator]:
    """--EVAL / --EVALID / --ACPTFL for every read (keyed by read_id), subject by subject.

    Central readers are numbered RADIOLOGIST 1, 2, ... in reader-name order (the same number under every criteria).
    ``accepted_ids``, when given, are the accepted reads as the central review decided them
    (`workstation.review.service.accepted_read`) and are authoritative. Otherwise, per criteria, an adjudicator's read
    is accepted; with none, RADIOLOGIST 1's read is accepted when all central reads agree on the best overall response.
    """
    out: dict[str, Evaluator] = {}
    by_subject: dict[str, list[Read]] = {}
    for r in reads:
        if r.reader_role not in ct.EVAL_BY_ROLE:
            raise SdtmError(f"subject {r.subject_id} read {r.read_id}: unknown reader role {r.reader_role!r}")
        by_subject.setdefault(r.subject_id, []).append(r)
    for subject_id, subject_reads in by_subject.items():
        numbers = {name: n for n, name in enumerate(sorted({r.reader for r in subject_reads
                                                            if r.reader_role == "central"}), start=1)}
        # More than one site reader of a subject (unusual): --EVALID tells their records apart, as it does the
        # central readers' (SDTMIG: "multiple evaluators with the same role recorded in --EVAL").
        site_readers = sorted({r.reader for r in subject_reads if r.reader_role not in ("central", "adjudicator")})
        site_ids = {name: f"INVESTIGATOR {n}" for n, name in enumerate(site_readers, start=1)} if len(
            site_readers) > 1 else {}
        accepted: set[str] = set()
        for criteria in {r.criteria for r in subject_reads} if accepted_ids is None else ():
            same = [r for r in subject_reads if r.criteria == criteria]
            central = sorted((r for r in same if r.reader_role == "central"), key=lambda r: numbers[r.reader])
            adjudicator = [r for r in same if r.reader_role == "adjudicator"]
            if len(adjudicator) > 1:
                raise SdtmError(f"subject {subject_id}: more than one adjudicator read under {criteria}")
            bors = {str(results[r.read_id].get("best_overall_response")) for r in central if r.read_id in results}
            if adjudicator:
                accepted.add(adjudicator[0].read_id)
            elif central and len(bors) == 1 and len(central) == len({r.reader for r in central}):
                accepted.add(central[0].read_id)
        if accepted_ids is not None:
            accepted = {r.read_id for r in subject_reads if r.read_id in accepted_ids}
        for r in subject_reads:
            if r.reader_role == "central":
                out[r.read_id] = Evaluator(ct.EVAL_BY_ROLE["central"], f"RADIOLOGIST {numbers[r.reader]}",
                                           _yn(r.read_id in accepted))
            elif r.reader_role == "adjudicator":
                out[r.read_id] = Evaluator(ct.EVAL_BY_ROLE["adjudicator"], "ADJUDICATOR",
                                           _yn(accepted_ids is None or r.read_id in accepted))
            else:
                out[r.read_id] = Evaluator(ct.EVAL_BY_ROLE["site"], site_ids.get(r.reader, ""), "")
    return out


#: A timepoint whose label says it is unscheduled (the site's visit label, e.g. the DICOM Clinical Trial Time Point
#: ID "Unscheduled 1"): numbered after the visit before it (2.01, 2.02, ...), as SDTM numbers unscheduled visits.
UNSCHEDULED = re.compile(r"\bun-?scheduled\b", re.IGNORECASE)


def visit_numbers(reads: Sequence[Read]) -> dict[str, list[float]]:
    """VISITNUM of every timepoint, by read_id: 1 for each read's baseline; the scheduled follow-ups numbered 2, 3, ...
    in date order over all the subject's reads here, so one imaging date has one VISITNUM whoever read it (a site read
    without the central read's first follow-up numbered its second one 2, the central read 3). Two timepoints of one
    read on one date are told apart by their order in it. A follow-up that any read labels unscheduled (`UNSCHEDULED`:
    a central read's blinded label cannot say, the site read of that date can) is the visit before it plus 0.01 per
    unscheduled scan since (2.01, 2.02): adding one renumbers no other visit."""
    keys: dict[str, list[tuple[date, int] | None]] = {}
    unscheduled: set[tuple[str, tuple[date, int]]] = set()
    for read in reads:
        seen: dict[date, int] = {}
        row: list[tuple[date, int] | None] = [None]
        for tp in read.timepoints[1:]:
            seen[tp.date] = seen.get(tp.date, 0) + 1
            key = (tp.date, seen[tp.date])
            row.append(key)
            if UNSCHEDULED.search(tp.label):
                unscheduled.add((read.subject_id, key))
        keys[read.read_id] = row
    numbers: dict[str, list[float]] = {}
    for subject in {r.subject_id for r in reads}:
        mine = [r for r in reads if r.subject_id == subject]
        place: dict[tuple[date, int], float] = {}
        visit, extra = 1, 0
        for key in sorted({k for r in mine for k in keys[r.read_id] if k is not None}):
            if (subject, key) in unscheduled:
                extra += 1
                place[key] = round(visit + extra / 100, 2)
            else:
                visit, extra = visit + 1, 0
                place[key] = visit
        for r in mine:
            numbers[r.read_id] = [1 if k is None else place[k] for k in keys[r.read_id]][: len(r.timepoints)]
    return numbers


def visit_name(visitnum: float) -> str:
    """VISIT for a VISITNUM (1 = baseline; see `visit_numbers`): ``BASELINE``, ``FOLLOW-UP n``, ``UNSCHEDULED 2.01``.

    Derived from VISITNUM alone, so that VISIT is one-to-one with VISITNUM for every evaluator and subject. A read's
    own timepoint labels are not used: a central read carries only the blinded labels ("Follow-up n"), and the review
    does not keep the site's visit label of a timepoint (``review_timepoints`` holds its study day and source UIDs),
    so site records said "WEEK 6" where central records of the same VISITNUM and date said "FOLLOW-UP 1"."""
    if visitnum != int(visitnum):
        return f"UNSCHEDULED {visitnum:.2f}"
    return "BASELINE" if visitnum == 1 else f"FOLLOW-UP {int(visitnum) - 1}"


def _yn(flag: bool) -> str:
    return "Y" if flag else "N"


def _fmt(value: float) -> str:
    """A diameter as TRORRES/TRSTRESC carry it: as measured, to the micrometre, at least one decimal ("35.0",
    "35.02"; 0.0 for a lesion that disappeared), so that it reads as TRSTRESN does."""
    text = f"{value:.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _loc(lesion: Lesion, notes: ct.DefineNotes) -> str:
    organ = lesion.organ.strip().lower()
    if lesion.is_node:
        return ct.LOC["lymph node"]
    if organ in ct.LOC:
        return ct.LOC[organ]
    value = organ.upper()
    notes.add("TULOC", value, "organ as entered by the reader; not matched to the LOC codelist")
    return value


class _Builder:
    def __init__(self, study_id: str, read: Read, ev: Evaluator, results: Results | None, out: SdtmDataset,
                 partner: Read | None = None, visitnums: Sequence[float] | None = None) -> None:
        #: An iRECIST read whose evaluator also read the subject under RECIST 1.1 (``partner``; or that read under
        #: iRECIST, `workstation.export.both_criteria`): the lesions and their measurements are the partner's, so
        #: only what iRECIST adds is written (new lesions measured where the partner did not measure them, RS).
        self.partner = partner
        self.companion = partner is not None
        self.study_id = study_id
        self.read = read
        self.ev = ev
        self.results = results
        self.out = out
        self.usubjid = f"{study_id}-{read.subject_id}"
        self.visitnums = list(visitnums) if visitnums is not None else visit_numbers([read])[read.read_id]

    def _common(self, domain: str, seq: int, tp_index: int | None) -> Record:
        rec: Record = {"STUDYID": self.study_id, "DOMAIN": domain, "USUBJID": self.usubjid, f"{domain}SEQ": seq}
        if tp_index is not None:
            tp = self.read.timepoints[tp_index]
            visitnum = self.visitnums[tp_index]
            rec.update({"VISITNUM": visitnum, "VISIT": visit_name(visitnum), f"{domain}DTC": tp.date.isoformat()})
            if domain in ("TR", "RS"):
                rec[f"{domain}LNKGRP"] = self.link_group(visitnum)
        return rec

    def link_group(self, visitnum: float) -> str:
        """TRLNKGRP = RSLNKGRP: one evaluator's measurements at one visit and the responses derived from them
        (SDTMIG 3.3 TR/RS; the RELREC dataset relates the two variables)."""
        return f"{self.ev.evalid or self.ev.eval} V{visitnum:g}"

    def _eval(self, domain: str) -> Record:
        return {f"{domain}EVAL": self.ev.eval, f"{domain}EVALID": self.ev.evalid, f"{domain}ACPTFL": self.ev.accepted}

    # ---- TU -------------------------------------------------------------------------------------------------------
    def _own(self, lesion_id: str) -> bool:
        """Whether this read writes the lesion's TU and TR records: always, but in a companion iRECIST read only a
        lesion its RECIST 1.1 partner does not have (a new lesion recorded under iRECIST only)."""
        return self.partner is None or lesion_id not in self.partner.lesions

    def tu(self, seq: Callable[[str], int]) -> None:
        for lesion in self.read.lesions.values():
            if not self._own(lesion.lesion_id):
                continue
            tp_index = next(
                (i for i, tp in enumerate(self.read.timepoints) if lesion.lesion_id in tp.assessments),
                min(lesion.first_timepoint, len(self.read.timepoints) - 1) if self.read.timepoints else None,
            )
            rec = self._common("TU", seq("TU"), tp_index)
            rec.update({
                "TULNKID": lesion.lesion_id, "TUTESTCD": "TUMIDENT", "TUTEST": ct.TUTEST["TUMIDENT"],
                "TUORRES": ct.TU_ROLE[lesion.role.value], "TUSTRESC": ct.TU_ROLE[lesion.role.value],
                "TULOC": _loc(lesion, self.out.notes), "TUMETHOD": ct.METHOD_CT,
            })  # fmt: skip
            rec.update(self._eval("TU"))
            self.out.tu.append(rec)

    # ---- TR -------------------------------------------------------------------------------------------------------
    def _tr(self, seq: Callable[[str], int], tp_index: int, lesion: Lesion | None, testcd: str, **values: Any) -> None:
        rec = self._common("TR", seq("TR"), tp_index)
        rec.update({
            "TRGRPID": lesion.role.value.upper() if lesion else "TARGET",
            "TRLNKID": lesion.lesion_id if lesion else "", "TRTESTCD": testcd, "TRTEST": ct.TRTEST[testcd],
            "TRMETHOD": ct.METHOD_CT,
        })  # fmt: skip
        rec.update(values)
        rec.update(self._eval("TR"))
        self.out.tr.append(rec)

    def _diameter(self, seq: Callable[[str], int], i: int, lesion: Lesion, a: LesionAssessment) -> None:
        testcd = "LPERP" if lesion.is_node else "LDIAM"
        where = f"subject {self.read.subject_id} timepoint {self.read.timepoints[i].label} lesion {lesion.lesion_id}"
        if a.status is LesionStatus.MEASURED:
            counted = [m for m in a.measurements if m.origin is not MeasurementOrigin.SUGGESTED]
            if not counted:
                self._tr(seq, i, lesion, testcd, TRSTAT=ct.NOT_DONE, TRREASND="NO ACCEPTED MEASUREMENT")
                return
            try:
                value = round(sum(round(m.recist_diameter(lesion.is_node), 3) for m in counted), 3)
            except ValueError as exc:
                raise SdtmError(f"{where}: {exc}") from None
            self._tr(seq, i, lesion, testcd, TRORRES=_fmt(value), TRORRESU="mm", TRSTRESC=_fmt(value),
                     TRSTRESN=value, TRSTRESU="mm")  # fmt: skip
        elif a.status is LesionStatus.DISAPPEARED:
            self._tr(seq, i, lesion, testcd, TRORRES=_fmt(0.0), TRORRESU="mm", TRSTRESC=_fmt(0.0), TRSTRESN=0.0,
                     TRSTRESU="mm")  # fmt: skip
        elif a.status is LesionStatus.TOO_SMALL:  # counts 5 mm (RECIST 1.1 sec. 4.3.2), as in SUMDIAM
            self._tr(seq, i, lesion, testcd, TRORRES=ct.TOO_SMALL, TRSTRESC=_fmt(TOO_SMALL_MM),
                     TRSTRESN=TOO_SMALL_MM, TRSTRESU="mm")  # fmt: skip
        elif a.status is LesionStatus.MERGED:
            self._tr(seq, i, lesion, "TUMSTATE", TRORRES="MERGED", TRSTRESC="MERGED")
            self.out.notes.add("TRORRES", "MERGED", "target lesion coalesced into another (counts 0 mm); the lesion "
                               "it merged into is the one measured at that visit")
        elif a.status is LesionStatus.NOT_EVALUATED:
            self._tr(seq, i, lesion, testcd, TRSTAT=ct.NOT_DONE, TRREASND="NOT EVALUATED")
        else:
            raise SdtmError(f"{where}: status {a.status.value!r} does not apply to a target lesion")

    def _state(self, seq: Callable[[str], int], i: int, lesion: Lesion, a: LesionAssessment) -> None:
        s = a.status
        if s is LesionStatus.NOT_EVALUATED:
            self._tr(seq, i, lesion, "TUMSTATE", TRSTAT=ct.NOT_DONE, TRREASND="NOT EVALUATED")
        elif s.value in ct.TUMSTATE:
            self._tr(seq, i, lesion, "TUMSTATE", TRORRES=ct.TUMSTATE[s.value], TRSTRESC=ct.TUMSTATE[s.value])
        elif s is LesionStatus.FURTHER_INCREASE and lesion.role is Role.NON_TARGET:
            value = ct.FURTHER_INCREASE
            self._tr(seq, i, lesion, "TUMSTATE", TRORRES=value, TRSTRESC=value)
            self.out.notes.add("TRORRES", value, "non-target increased further since the last assessment (iRECIST "
                               "FAQ: confirms a non-target iUPD; progression under RECIST 1.1)")
        elif lesion.role is Role.NEW and s in (LesionStatus.UNEQUIVOCAL, LesionStatus.EQUIVOCAL, LesionStatus.MEASURED,
                                               LesionStatus.TOO_SMALL):
            value = "EQUIVOCAL" if s is LesionStatus.EQUIVOCAL else "UNEQUIVOCAL"
            self._tr(seq, i, lesion, "TUMSTATE", TRORRES=value, TRSTRESC=value)
            self.out.notes.add("TRORRES", value, f"new lesion judged {value.lower()} (RECIST 1.1 section 4.3.5)")
            if s in (LesionStatus.MEASURED, LesionStatus.TOO_SMALL):  # its size (iRECIST new-target candidate)
                self._diameter(seq, i, lesion, a)
        else:
            tp_label = self.read.timepoints[i].label
            where = f"subject {self.read.subject_id} timepoint {tp_label} lesion {lesion.lesion_id}"
            raise SdtmError(f"{where}: status {s.value!r} does not apply to a {lesion.role.value} lesion")

    def tr(self, seq: Callable[[str], int]) -> None:
        tp_results = self._tp_results()
        for i, tp in enumerate(self.read.timepoints):
            for lesion_id, lesion in self.read.lesions.items():
                a = tp.assessments.get(lesion_id)
                if a is None:
                    baseline_lesion = lesion.role in (Role.TARGET, Role.NON_TARGET)
                    if i > 0 and tp.assessments and not self.companion and baseline_lesion:
                        # a baseline lesion left out of a visit that was read is not evaluated there (the engine
                        # reads it so, docs/case-file.md): the same record as one marked not evaluated
                        testcd = "TUMSTATE" if lesion.role is Role.NON_TARGET else (
                            "LPERP" if lesion.is_node else "LDIAM")
                        self._tr(seq, i, lesion, testcd, TRSTAT=ct.NOT_DONE, TRREASND="NOT EVALUATED")
                    continue
                if self.companion and not self._own(lesion_id):
                    if lesion.role is Role.NEW and a.status is LesionStatus.MEASURED and not self._partner_measured(
                        lesion_id, tp.date
                    ):
                        self._diameter(seq, i, lesion, a)
                    continue
                if lesion.role is Role.TARGET:
                    self._diameter(seq, i, lesion, a)
                else:
                    self._state(seq, i, lesion, a)
            res = tp_results.get(tp.label)
            if res is None or self.companion or not self._has_targets():
                continue
            if res.get("sum_mm") is not None:
                total = float(res["sum_mm"])
                self._tr(seq, i, None, "SUMDIAM", TRORRES=_fmt(total), TRORRESU="mm", TRSTRESC=_fmt(total),
                         TRSTRESN=total, TRSTRESU="mm")  # fmt: skip
            else:  # a target not evaluated: no sum (target response NE, RECIST 1.1 sec. 4.3.1)
                self._tr(seq, i, None, "SUMDIAM", TRSTAT=ct.NOT_DONE, TRREASND="NOT ALL TARGETS EVALUATED")

    def _has_targets(self) -> bool:
        return any(lesion.role is Role.TARGET for lesion in self.read.lesions.values())

    def _partner_measured(self, lesion_id: str, when: date) -> bool:
        """Whether the partner read wrote this new lesion's diameter at this date (it is not written twice)."""
        partner = self.partner
        if partner is None:
            return False
        return any(
            tp.date == when and (a := tp.assessments.get(lesion_id)) is not None and a.status is LesionStatus.MEASURED
            for tp in partner.timepoints
        )

    # ---- RS -------------------------------------------------------------------------------------------------------
    def _tp_results(self) -> dict[str, Mapping[str, Any]]:
        if self.results is None:
            return {}
        return {str(t.get("label")): t for t in self.results.get("timepoints", [])}

    def _response(self, code: Any, where: str) -> str:
        text = str(code)
        if text in ct.RESPONSE:
            return ct.RESPONSE[text]
        if text in ct.RESPONSE_UNPUBLISHED:
            self.out.notes.add("RSORRES", text, "no evidence of disease (no target and no non-target lesion at "
                               "baseline); the engine's code, not in ONCRSR")
            return ct.RESPONSE_UNPUBLISHED[text]
        raise SdtmError(f"{where}: response {text!r} has no SDTM mapping")

    def _rs(self, seq: Callable[[str], int], tp_index: int | None, testcd: str, value: str) -> None:
        rec = self._common("RS", seq("RS"), tp_index)
        rec.update({"RSTESTCD": testcd, "RSTEST": ct.RSTEST[testcd], "RSCAT": _rscat(self.read),
                    "RSORRES": value, "RSSTRESC": value})  # fmt: skip
        rec.update(self._eval("RS"))
        self.out.rs.append(rec)

    def _new_lesion_progression(self, result: Mapping[str, Any]) -> str:
        """The engine's new-lesion column (never recomputed from the statuses: a new lesion gone again is none)."""
        new = result.get("new_lesions")
        if new is None:  # iRECIST: a new lesion seen before is not assessed at this visit
            self.out.notes.add("RSORRES", "NE", "NEWLPROG: a new lesion seen before was not assessed at this visit")
            return "NE"
        if new == "equivocal":
            self.out.notes.add("RSORRES", "EQUIVOCAL", "NEWLPROG: only equivocal new lesions at this visit")
            return "EQUIVOCAL"
        return "Y" if new == "yes" else "N"

    def rs(self, seq: Callable[[str], int]) -> None:
        if self.results is None:
            return
        tp_results = self._tp_results()
        for i, tp in enumerate(self.read.timepoints):
            res = tp_results.get(tp.label)
            where = f"subject {self.read.subject_id} timepoint {tp.label}"
            if res is None and i > 0 and not tp.assessments:
                continue  # a visit not read yet: no response (`Read.to_case` leaves it out of the engine's case too)
            if res is None:
                raise SdtmError(f"{where}: the engine's results have no such timepoint")
            if res.get("target_response") is not None:
                self._rs(seq, i, "TRGRESP", self._response(res["target_response"], where))
            if res.get("non_target_response") is not None:
                self._rs(seq, i, "NTRGRESP", self._response(res["non_target_response"], where))
            if i > 0:
                self._rs(seq, i, "NEWLPROG", self._new_lesion_progression(res))
                self._rs(seq, i, "OVRLRESP", self._response(res["overall_response"], where))
        bor = self.results.get("best_overall_response")
        if bor is not None:
            self._rs(seq, None, "BESTRESP", self._response(bor, f"subject {self.read.subject_id}"))


def build_sdtm(
    reads: Sequence[Read], results: Mapping[str, Results] | None = None, study_id: str = "RECIST-TRIAL",
    accepted_ids: Collection[str] | None = None, derived: Collection[str] = (),
) -> SdtmDataset:
    """TU/TR/RS for ``reads``. ``results`` maps read_id to ``recist.evaluate_case(read.to_case())``; without it only
    TU and the lesion-level TR records are written (no SUMDIAM, no RS). ``accepted_ids``: see `assign_evaluators`.
    ``derived``: the ids of reads derived under the other criteria (`workstation.export.both_criteria`)."""
    results = results or {}
    out = SdtmDataset(study_id=study_id)
    out.notes.accepted_from_review = accepted_ids is not None
    out.notes.derived_responses = any(r.read_id in derived for r in reads)
    evaluators = assign_evaluators(reads, results, accepted_ids)
    recist_reads = {(r.subject_id, r.reader, r.reader_role): r for r in reads if not is_irecist(r.criteria)}
    counters: dict[tuple[str, str], int] = {}
    visitnums = visit_numbers(reads)
    # RECIST 1.1 reads first: an evaluator's lesions and measurements come before the iRECIST read's additions in
    # --SEQ order; then site, central, adjudicator reads by reader: the same --SEQ whichever order the reads came in
    # (the database's, or a folder of read files')
    for read in sorted(reads, key=lambda r: (is_irecist(r.criteria), _ROLE_ORDER.get(r.reader_role, 3), r.reader,
                                             r.read_id)):
        usubjid = f"{study_id}-{read.subject_id}"

        def seq(domain: str, _u: str = usubjid) -> int:
            counters[(domain, _u)] = counters.get((domain, _u), 0) + 1
            return counters[(domain, _u)]

        evaluator = (read.subject_id, read.reader, read.reader_role)
        partner = recist_reads.get(evaluator) if is_irecist(read.criteria) else None
        b = _Builder(study_id, read, evaluators[read.read_id], results.get(read.read_id), out, partner,
                     visitnums[read.read_id])
        b.tu(seq)
        b.tr(seq)
        b.rs(seq)
    return out


_ROLE_ORDER = {"site": 0, "central": 1, "adjudicator": 2}


def _rscat(read: Read) -> str:
    return "iRECIST" if is_irecist(read.criteria) else "RECIST 1.1"


def evaluate_reads(reads: Sequence[Read], cases: Mapping[str, dict[str, Any]] | None = None
                   ) -> dict[str, dict[str, Any]]:
    """The engine's results for every read, keyed by read_id (the one place responses are computed). ``cases``: for
    reads made from case files, the case as written (read id -> case), evaluated as given, as `recist evaluate`,
    `recist report` and `recist endpoints` do (a read keeps no confirmation_min_days, no slice thickness)."""
    from recist import evaluate_case

    out: dict[str, dict[str, Any]] = {}
    for r in reads:
        try:
            case = (cases or {}).get(r.read_id)
            out[r.read_id] = evaluate_case(case if case is not None else r.to_case())
        except ValueError as exc:  # recist.CaseError is one; so is a read that cannot become a case file
            raise SdtmError(f"subject {r.subject_id} ({r.reader}, {r.criteria}): {exc}") from None
    return out


def write_sdtm(ds: SdtmDataset, out_dir: str | Path, study_id: str = "RECIST-TRIAL") -> list[Path]:
    """tu/tr/rs as .csv and SAS XPORT v5 .xpt, and define-notes.md, in ``out_dir``."""
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, (columns, rows) in ds.domains().items():
        path = d / f"{name.lower()}.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=columns, extrasaction="raise")
            w.writeheader()
            for row in rows:
                w.writerow({c: row.get(c, "") for c in columns})
        written.append(path)
    for name, (columns, rows) in ds.domains().items():
        written.append(write_xport(d / f"{name.lower()}.xpt", name, columns, rows, label=DATASET_LABELS[name],
                                   labels=VARIABLE_LABELS))
    notes = d / "define-notes.md"
    notes.write_text(ds.notes.to_markdown(study_id), encoding="utf-8")
    written.append(notes)
    return written


class AdjudicationRecord(Protocol):
    """An adjudicator's choice between two central reads (`workstation.review.for_export.AdjudicationDecision`)."""

    @property
    def subject_id(self) -> str: ...
    @property
    def chosen_read_id(self) -> str: ...
    @property
    def decided_at(self) -> str: ...  # UTC ISO 8601


ADJUDICATION_TESTCD = "ADJSEL"
ADJUDICATION_TEST = "Adjudicator Selected Evaluator"


def add_adjudications(ds: SdtmDataset, decisions: Sequence[AdjudicationRecord], reads: Sequence[Read],
                      evaluators: Mapping[str, Evaluator], study_id: str = "RECIST-TRIAL",
                      derived: Mapping[str, str] | None = None) -> None:
    """One RS record per adjudication (``RSEVALID = ADJUDICATOR``): which central reader's read the adjudicator
    accepted (``RSORRES = RADIOLOGIST n``), under the chosen read's RSCAT and under that of each read derived from it
    (``derived``: derived read id -> source, `workstation.export.both_criteria`). The chosen read's own records carry
    ``--ACPTFL = Y``."""
    by_id = {r.read_id: r for r in reads}
    for d in decisions:
        chosen = by_id.get(d.chosen_read_id)
        if chosen is None or d.chosen_read_id not in evaluators:
            raise SdtmError(f"subject {d.subject_id}: the adjudicated read {d.chosen_read_id} is not in the export")
        usubjid = f"{study_id}-{d.subject_id}"
        evalid = evaluators[d.chosen_read_id].evalid
        copies = [by_id[x] for x, source in (derived or {}).items() if source == d.chosen_read_id and x in by_id]
        for read in (chosen, *copies):
            seq = 1 + max((int(r["RSSEQ"]) for r in ds.rs if r["USUBJID"] == usubjid), default=0)
            ds.rs.append({
                "STUDYID": study_id, "DOMAIN": "RS", "USUBJID": usubjid, "RSSEQ": seq, "RSTESTCD": ADJUDICATION_TESTCD,
                "RSTEST": ADJUDICATION_TEST, "RSCAT": _rscat(read),
                "RSORRES": evalid, "RSSTRESC": evalid, "RSEVAL": ct.EVAL_BY_ROLE["adjudicator"],
                "RSEVALID": "ADJUDICATOR", "RSACPTFL": "", "RSDTC": d.decided_at[:10],
            })  # fmt: skip
        ds.notes.add("RSTESTCD", ADJUDICATION_TESTCD, f"{ADJUDICATION_TEST}: the central reader (RSORRES) whose read "
                     "the adjudicator accepted; sponsor-defined, not in the ONCRSTCD codelist")
