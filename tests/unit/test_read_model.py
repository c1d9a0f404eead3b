"""The read model and its conversion to the response engine's case file."""

from __future__ import annotations

from datetime import date

import pytest

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


def _read() -> Read:
    read = Read(subject_id="S001", reader="dr.a")
    read.lesions = {
        "T1": Lesion("T1", Role.TARGET, "liver"),
        "T2": Lesion("T2", Role.TARGET, "lymph node", is_node=True),
        "NT1": Lesion("NT1", Role.NON_TARGET, "bone"),
    }
    base = TimepointRead("baseline", date(2026, 1, 5))
    base.assessments = {
        "T1": LesionAssessment(LesionStatus.MEASURED, [Measurement(32.04, 20.0, origin=MeasurementOrigin.ACCEPTED)]),
        "T2": LesionAssessment(LesionStatus.MEASURED, [Measurement(25.0, 17.0, origin=MeasurementOrigin.ADJUSTED)]),
        "NT1": LesionAssessment(LesionStatus.PRESENT),
    }
    follow = TimepointRead("week 6", date(2026, 2, 16))
    follow.assessments = {
        "T1": LesionAssessment(LesionStatus.MEASURED, [Measurement(10.0), Measurement(6.0)]),
        "T2": LesionAssessment(LesionStatus.TOO_SMALL),
        "NT1": LesionAssessment(LesionStatus.ABSENT),
    }
    read.timepoints = [base, follow]
    return read


def test_case_file_declares_lesions_once_and_uses_the_node_short_axis() -> None:
    case = _read().to_case()
    assert case["subject_id"] == "S001" and case["criteria"] == "RECIST 1.1"
    base, follow = case["timepoints"]
    assert base["date"] == "2026-01-05"
    # the diameter as measured (to the micrometre, the engine's unit), not rounded to 0.1 mm before the thresholds:
    # a case file exported as a read gave PR for 70.04 mm (-29.96 %) where the case itself gives SD
    assert base["lesions"][0] == {"id": "T1", "role": "target", "organ": "liver", "node": False, "diameter_mm": 32.04}
    assert base["lesions"][1]["diameter_mm"] == 17.0  # RECIST 1.1 sec. 4.2: nodes by short axis
    assert follow["lesions"][0] == {"id": "T1", "diameter_mm": [10.0, 6.0]}  # split lesion: fragments
    assert follow["lesions"][1] == {"id": "T2", "too_small": True}
    assert follow["lesions"][2] == {"id": "NT1", "status": "absent"}


def test_a_suggestion_that_was_never_accepted_is_not_a_measurement() -> None:
    read = _read()
    read.timepoints[1].assessments["T1"] = LesionAssessment(
        LesionStatus.MEASURED, [Measurement(12.0, origin=MeasurementOrigin.SUGGESTED)]
    )
    assert read.to_case()["timepoints"][1]["lesions"][0] == {"id": "T1", "status": "not_evaluated"}


def test_merged_lesion_needs_its_partner_and_a_node_needs_a_short_axis() -> None:
    read = _read()
    read.timepoints[1].assessments["T2"] = LesionAssessment(LesionStatus.MERGED)
    with pytest.raises(ValueError, match="merged"):
        read.to_case()
    read.timepoints[1].assessments["T2"] = LesionAssessment(LesionStatus.MEASURED, [Measurement(12.0)])
    with pytest.raises(ValueError, match="short axis"):
        read.to_case()


def test_tracking_uids_are_unique_dicom_uids() -> None:
    uids = {lesion.tracking_uid for lesion in _read().lesions.values()}
    assert len(uids) == 3
    assert all(u.startswith("2.25.") and len(u) <= 64 for u in uids)


def test_a_follow_up_not_read_yet_is_no_assessment() -> None:
    read = _read()
    read.timepoints.append(TimepointRead("week 12", date(2026, 3, 30)))
    assert [tp["label"] for tp in read.to_case()["timepoints"]] == ["baseline", "week 6"]
