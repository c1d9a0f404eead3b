"""The read: one reader's assessment of one subject under one criteria set (Qt-free, storage-free).

This is the application's domain model, shared by the UI state, storage, review and export. It converts to the
response engine's JSON case file with `Read.to_case()` (format documented in docs/case-file.md) so that every response
the app shows or exports is computed by `recist`, in one place.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

Point = tuple[float, float, float]


class Role(StrEnum):
    TARGET = "target"
    NON_TARGET = "non-target"
    NEW = "new"


class MeasurementOrigin(StrEnum):
    """How a measurement came to be (kept for audit and export)."""

    SUGGESTED = "suggested"  # proposed by an engine, not yet accepted (never counted in a response)
    ACCEPTED = "accepted"  # accepted as suggested
    ADJUSTED = "adjusted"  # suggested, then an end point was moved by the reader
    MANUAL = "manual"  # drawn by hand with the ruler or bidirectional tool


class LesionStatus(StrEnum):
    """A lesion's state at one timepoint. Which values apply depends on the role (see `to_case`)."""

    MEASURED = "measured"  # target / measurable new lesion: has measurement(s)
    DISAPPEARED = "disappeared"  # target: 0 mm
    TOO_SMALL = "too_small"  # target: too small to measure, counts 5 mm
    MERGED = "merged"  # target coalesced into another (counts 0); see `merged_into`
    NOT_EVALUATED = "not_evaluated"
    PRESENT = "present"  # non-target
    ABSENT = "absent"  # non-target (a node: back to < 10 mm short axis)
    UNEQUIVOCAL_PROGRESSION = "unequivocal_progression"  # non-target
    #: non-target: increased further since the last assessment (iRECIST: confirms a non-target iUPD; RECIST 1.1: PD)
    FURTHER_INCREASE = "further_increase"
    UNEQUIVOCAL = "unequivocal"  # new lesion
    EQUIVOCAL = "equivocal"  # new lesion


@dataclass
class Measurement:
    """One caliper measurement on one axial slice, end points in patient mm (DICOM LPS).

    ``long_axis_mm`` is None only for a lymph node whose source gave its short axis alone (an engine case file): the
    long axis was not measured, and nothing downstream may invent one."""

    long_axis_mm: float | None
    short_axis_mm: float | None = None
    long_axis_endpoints: tuple[Point, Point] | None = None
    short_axis_endpoints: tuple[Point, Point] | None = None
    series_uid: str = ""
    sop_instance_uid: str = ""
    frame_of_reference_uid: str = ""
    slice_position_mm: float | None = None
    volume_ml: float | None = None
    origin: MeasurementOrigin = MeasurementOrigin.MANUAL
    engine: str | None = None
    model_id: str | None = None
    model_version: str | None = None
    #: Key of the stored lesion mask (for DICOM SEG), if any.
    mask_ref: str | None = None

    def centre_mm(self) -> Point | None:
        """The middle of its long axis (of its short axis when it has none), in patient mm; None without end points."""
        line = self.long_axis_endpoints or self.short_axis_endpoints
        if line is None:
            return None
        (x0, y0, z0), (x1, y1, z1) = line
        return ((x0 + x1) / 2.0, (y0 + y1) / 2.0, (z0 + z1) / 2.0)

    def recist_diameter(self, is_node: bool) -> float:
        """RECIST 1.1 section 4.2: the long axis, or the short axis for a lymph node."""
        if is_node:
            if self.short_axis_mm is None:
                raise ValueError("a lymph node is measured on its short axis, and this measurement has none")
            return self.short_axis_mm
        if self.long_axis_mm is None:
            raise ValueError("a lesion other than a node is measured on its long axis, and this measurement has none")
        return self.long_axis_mm


@dataclass
class Lesion:
    """A lesion tracked across timepoints. ``tracking_uid`` stays the same for DICOM SR (TID 1500)."""

    lesion_id: str
    role: Role
    organ: str
    is_node: bool = False
    location: str = ""
    tracking_uid: str = field(default_factory=lambda: f"2.25.{uuid.uuid4().int}")
    first_timepoint: int = 0


@dataclass
class LesionAssessment:
    """One lesion at one timepoint. A split lesion has several measurements (fragments, summed)."""

    status: LesionStatus
    measurements: list[Measurement] = field(default_factory=list)
    merged_into: str | None = None
    comment: str = ""
    #: Where the reader saw a lesion not measured here (a non-target, a new lesion declared without a measurement),
    #: in patient mm (DICOM LPS): the follow-up proposes the lesion there. Not a measurement: nothing counts it.
    point_mm: Point | None = None


#: The two criteria a read is made under (`Read.criteria`).
RECIST_1_1 = "RECIST 1.1"
IRECIST = "iRECIST"


def is_irecist(criteria: str) -> bool:
    return criteria.lower() == "irecist"


def other_criteria(criteria: str) -> str:
    """RECIST 1.1 for iRECIST and the other way round (a read evaluated under both from its one set of measurements)."""
    return RECIST_1_1 if is_irecist(criteria) else IRECIST


@dataclass
class Signature:
    """An electronic signature (21 CFR 11.50): who, when (UTC ISO 8601) and what it means."""

    user: str
    full_name: str
    signed_at: str
    meaning: str


@dataclass
class TimepointRead:
    label: str
    date: date
    study_uid: str = ""
    series_uid: str = ""
    assessments: dict[str, LesionAssessment] = field(default_factory=dict)
    signature: Signature | None = None

    @property
    def signed(self) -> bool:
        return self.signature is not None


#: The response engine's defaults (docs/case-file.md), used when the trial folder states no protocol settings.
DEFAULT_SD_MIN_DAYS = 42
DEFAULT_CONFIRMATION_REQUIRED = True


@dataclass(frozen=True)
class ResponseSettings:
    """The protocol's response-engine settings a new read is created with (``trial.json``'s ``response_settings``).

    ``stated`` is False when they are the defaults because the trial folder names none (an older ``trial.json``, or a
    folder without one): whoever creates reads is told so (`describe`).
    """

    sd_min_days: int = DEFAULT_SD_MIN_DAYS
    confirmation_required: bool = DEFAULT_CONFIRMATION_REQUIRED
    stated: bool = False

    def describe(self) -> str:
        """E.g. ``SD >= 35 days from baseline, confirmation of CR/PR required (trial.json)``."""
        confirmation = "required" if self.confirmation_required else "not required"
        where = "trial.json" if self.stated else "defaults: the trial folder states no response_settings"
        return f"SD >= {self.sd_min_days} days from baseline, confirmation of CR/PR {confirmation} ({where})"

    def differs_from(self, read: Read) -> bool:
        return (read.sd_min_days, read.confirmation_required) != (self.sd_min_days, self.confirmation_required)


@dataclass
class Read:
    subject_id: str
    reader: str
    criteria: str = "RECIST 1.1"  # or "iRECIST"
    read_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    reader_role: str = "site"  # "site" | "central" | "adjudicator"
    confirmation_required: bool = DEFAULT_CONFIRMATION_REQUIRED
    sd_min_days: int = DEFAULT_SD_MIN_DAYS
    lesions: dict[str, Lesion] = field(default_factory=dict)
    timepoints: list[TimepointRead] = field(default_factory=list)
    #: The start of the trial treatment (the TIL infusion), PFS's origin; from trial.json or a case file. None: PFS
    #: counts from the baseline scan. A blinded central read carries none (it would give the calendar away).
    treatment_start: date | None = None

    def lesion_ids_in_order(self) -> list[str]:
        return list(self.lesions)

    def to_case(self) -> dict[str, Any]:
        """The response engine's JSON case file for this read (docs/case-file.md).

        Suggested (not yet accepted) measurements are left out: a suggestion is not a reader's measurement. A follow-up
        with nothing assessed yet is left out too: a timepoint not read is no assessment (it would read as NE).
        """
        timepoints: list[dict[str, Any]] = []
        declared: set[str] = set()
        for index, tp in enumerate(self.timepoints):
            if index > 0 and not tp.assessments:
                continue
            entries: list[dict[str, Any]] = []
            for lesion_id, lesion in self.lesions.items():
                assessment = tp.assessments.get(lesion_id)
                if assessment is None:
                    continue
                entry: dict[str, Any] = {"id": lesion_id}
                if lesion_id not in declared:
                    entry.update({"role": lesion.role.value, "organ": lesion.organ, "node": lesion.is_node})
                    declared.add(lesion_id)
                entry.update(_case_status(lesion, assessment))
                entries.append(entry)
            timepoints.append({"label": tp.label, "date": tp.date.isoformat(), "lesions": entries})
        return {
            "subject_id": self.subject_id,
            "criteria": self.criteria,
            "confirmation_required": self.confirmation_required,
            "sd_min_days": self.sd_min_days,
            **({"treatment_start": self.treatment_start.isoformat()} if self.treatment_start else {}),
            "timepoints": timepoints,
        }


def _case_status(lesion: Lesion, a: LesionAssessment) -> dict[str, Any]:
    s = a.status
    if s is LesionStatus.MEASURED:
        counted = [m for m in a.measurements if m.origin is not MeasurementOrigin.SUGGESTED]
        if not counted:
            return {"status": "not_evaluated"} if lesion.role is not Role.NEW else {"status": "unequivocal"}
        diameters = [round(m.recist_diameter(lesion.is_node), 3) for m in counted]  # micrometres, as the engine
        out: dict[str, Any] = {"diameter_mm": diameters[0] if len(diameters) == 1 else diameters}
        if lesion.role is Role.NEW:
            out["status"] = "unequivocal"
        return out
    if s is LesionStatus.DISAPPEARED:
        return {"diameter_mm": 0.0}
    if s is LesionStatus.TOO_SMALL:
        return {"too_small": True}
    if s is LesionStatus.MERGED:
        if not a.merged_into:
            raise ValueError(f"lesion {lesion.lesion_id} is marked merged but names no lesion it merged into")
        return {"merged_into": a.merged_into}
    return {"status": s.value}


def central_read_submitted(read: Read) -> str | None:
    """Why a central read can no longer be changed by its reader (every timepoint signed: submitted to the review),
    or None. The same words whatever the review made of it: a refusal only for a subject adjudicated told the blinded
    reader that their read had disagreed with the other (a central-review manager's finding)."""
    if read.reader_role != "central" or not read.timepoints or not all(tp.signed for tp in read.timepoints):
        return None
    return (f"your read of {read.subject_id} is complete: every timepoint is signed and submitted to the central "
            "review; a change now needs the review's administrator to reopen it (recist review reopen)")
