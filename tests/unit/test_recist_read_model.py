"""The workstation's `Read.to_case()` writes case files the engine accepts, and suggestions never count."""

from __future__ import annotations

from datetime import date

from recist import evaluate_case
from workstation.read_model import (
    Lesion,
    LesionAssessment,
    LesionStatus,
    Measurement,
    MeasurementOrigin,
    Read,
    Role,
    TimepointRead,
)


def test_read_to_case_evaluates() -> None:
    read = Read(subject_id="S1", reader="alice")
    read.lesions = {"T1": Lesion("T1", Role.TARGET, "liver"),
                    "N1": Lesion("N1", Role.TARGET, "mediastinum", is_node=True),
                    "NT1": Lesion("NT1", Role.NON_TARGET, "bone"),
                    "X1": Lesion("X1", Role.NEW, "lung", first_timepoint=1)}
    baseline = TimepointRead("baseline", date(2026, 1, 5), assessments={
        "T1": LesionAssessment(LesionStatus.MEASURED, [Measurement(30.0)]),
        "N1": LesionAssessment(LesionStatus.MEASURED, [Measurement(25.0, 17.0)]),
        "NT1": LesionAssessment(LesionStatus.PRESENT)})
    week6 = TimepointRead("week 6", date(2026, 2, 16), assessments={
        "T1": LesionAssessment(LesionStatus.MEASURED, [Measurement(12.0),
                                                       Measurement(3.0, origin=MeasurementOrigin.SUGGESTED)]),
        "N1": LesionAssessment(LesionStatus.TOO_SMALL),
        "NT1": LesionAssessment(LesionStatus.ABSENT),
        "X1": LesionAssessment(LesionStatus.EQUIVOCAL)})
    read.timepoints = [baseline, week6]
    result = evaluate_case(read.to_case())
    tp = result["timepoints"][1]
    # Node measured on its short axis (17 mm); the suggested 3 mm fragment is not counted; too small = 5 mm.
    assert (result["timepoints"][0]["sum_mm"], tp["sum_mm"]) == (47.0, 17.0)
    assert (tp["target_response"], tp["non_target_response"], tp["new_lesions"], tp["overall_response"]) == (
        "PR", "CR", "equivocal", "PR")
