"""The case file as typed, immutable values (input), and the responses computed from it (output)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import NamedTuple


class Criteria(StrEnum):
    RECIST_1_1 = "RECIST 1.1"
    IRECIST = "iRECIST"


class Role(StrEnum):
    TARGET = "target"
    NON_TARGET = "non-target"
    NEW = "new"


class Status(StrEnum):
    """A lesion's state at one timepoint; which values a role accepts is checked by `recist.parse`."""

    MEASURED = "measured"  # target or measurable new lesion: has a diameter (0 = disappeared)
    NOT_EVALUATED = "not_evaluated"
    PRESENT = "present"  # non-target
    ABSENT = "absent"  # non-target (a node: back to < 10 mm short axis); iRECIST new lesion that resolved
    UNEQUIVOCAL_PROGRESSION = "unequivocal_progression"  # non-target; iRECIST new non-target that grew
    #: non-target: increased further since the last assessment (iRECIST FAQ's INCLA: confirms a non-target iUPD, where
    #: UNEQUIVOCAL_PROGRESSION again is "still progressed, no change since the last assessment"); RECIST 1.1: as
    #: unequivocal progression
    FURTHER_INCREASE = "further_increase"
    UNEQUIVOCAL = "unequivocal"  # new lesion
    EQUIVOCAL = "equivocal"  # new lesion


class Response(StrEnum):
    """Response codes. RECIST 1.1 codes, then the iRECIST ones (Seymour 2017)."""

    CR = "CR"
    PR = "PR"
    SD = "SD"
    PD = "PD"
    NE = "NE"
    NON_CR_NON_PD = "non-CR/non-PD"
    NED = "NED"
    ICR = "iCR"
    IPR = "iPR"
    ISD = "iSD"
    IUPD = "iUPD"
    ICPD = "iCPD"
    NON_ICR_NON_IUPD = "non-iCR/non-iUPD"


class NewLesions(StrEnum):
    """RECIST 1.1 Tables 1-2, column "New lesions"."""

    NO = "no"
    EQUIVOCAL = "equivocal"
    YES = "yes"


@dataclass(frozen=True, slots=True)
class LesionDeclaration:
    """What is fixed for a lesion across timepoints, given where it first appears."""

    lesion_id: str
    role: Role
    organ: str
    is_node: bool
    first_timepoint: int


class LesionObservation(NamedTuple):
    """One lesion at one timepoint.

    ``diameter_um`` is the RECIST diameter in micrometres (long axis; short axis for a node): the fragments' sum for
    a split lesion, 5 mm when too small to measure, 0 when disappeared or coalesced into ``merged_into``; None when
    not measured. A NamedTuple rather than a frozen dataclass: it is made for every lesion of every timepoint, and
    is as immutable and typed, at a third of the cost.
    """

    lesion_id: str
    status: Status
    diameter_um: int | None = None
    fragments: int = 1
    too_small: bool = False
    merged_into: str | None = None


@dataclass(frozen=True, slots=True)
class Timepoint:
    index: int
    label: str
    date: date
    slice_thickness_mm: float
    observations: dict[str, LesionObservation]


@dataclass(frozen=True, slots=True)
class Case:
    subject_id: str
    criteria: Criteria
    confirmation_required: bool
    sd_min_days: int
    confirmation_min_days: int
    lesions: dict[str, LesionDeclaration]
    timepoints: tuple[Timepoint, ...]
    treatment_start: date | None = None
    death_date: date | None = None
    last_contact_date: date | None = None

    @property
    def baseline(self) -> Timepoint:
        return self.timepoints[0]

    def ids_with_role(self, role: Role) -> list[str]:
        return [d.lesion_id for d in self.lesions.values() if d.role is role]


class TimepointResponse(NamedTuple):
    """The responses at one timepoint, each with the rule that gave it and its numbers (a NamedTuple: made for
    every timepoint)."""

    label: str
    date: date
    sum_um: int | None
    nadir_um: int | None
    change_from_baseline_pct: float | None
    change_from_nadir_pct: float | None
    target_response: Response | None
    non_target_response: Response | None
    new_lesions: NewLesions | None
    overall_response: Response | None
    target_reason: str
    non_target_reason: str
    new_lesions_reason: str
    reason: str
    new_lesion_target_sum_um: int | None = None
    new_lesion_targets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CaseResult:
    subject_id: str
    criteria: Criteria
    timepoints: tuple[TimepointResponse, ...]
    best_overall_response: Response
    best_overall_response_reason: str
    baseline_date: date
    date_of_first_response: date | None
    date_of_progression: date | None
    last_assessment_date: date
    treatment_start: date | None
    death_date: date | None
    last_contact_date: date | None
    confirmation_required: bool
    sd_min_days: int
    measurable_disease_at_baseline: bool = True  # has target lesions: in the ORR population (recist.endpoints)
    confirmation_min_days: int = 28  # the confirming assessment's distance (sec. 4.6.1), as the case gave it
