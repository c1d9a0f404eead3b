"""Coalesced targets in a read (RECIST 1.1 sec. 4.3.2): the radiologist's finding that merging T2 into T1 kept T1's
measurement from before the merge, so the sum lost T2 and a PD visit read PR."""

from __future__ import annotations

from datetime import date

import pytest

from workstation.read_model import LesionStatus, Measurement, Read, Role, TimepointRead
from workstation.session.reading import ReadingSession, SessionError
from workstation.session.response import summarize


def _m(mm: float) -> Measurement:
    return Measurement(long_axis_mm=mm, short_axis_mm=None, long_axis_endpoints=((0.0, 0.0, 10.0), (mm, 0.0, 10.0)))


def _session() -> tuple[ReadingSession, str, str, str]:
    read = Read(subject_id="S1", reader="alice", timepoints=[
        TimepointRead("baseline", date(2026, 1, 5)), TimepointRead("week 6", date(2026, 2, 16))])
    s = ReadingSession(read)
    t1, t2 = s.add_lesion(Role.TARGET, "liver"), s.add_lesion(Role.TARGET, "liver")
    t3 = s.add_lesion(Role.TARGET, "lung")
    for lesion, mm in ((t1, 20.0), (t2, 15.0), (t3, 15.0)):
        s.record_measurement(lesion, _m(mm))
    s.go_to_timepoint(1)
    return s, t1, t2, t3


def test_merging_into_a_measured_target_takes_its_measurement_back_until_it_is_measured_again():
    s, t1, t2, t3 = _session()
    s.record_measurement(t1, _m(30.0))
    s.record_measurement(t3, _m(15.0))
    s.record_measurement(t2, _m(21.7))
    assert summarize(s.read).recist.timepoints[1]["overall_response"] == "PD"  # 66.7 vs 50: +33 %
    said = s.merge(t2, t1)
    assert said == (f"{t2} merged into {t1}: measure {t1} again as the coalesced lesion (its measurement here was "
                    "taken back; RECIST 1.1 sec. 4.3.2)")
    assert s.assessment(t1).status is LesionStatus.NOT_EVALUATED and s.assessment(t1).point_mm is not None
    recist = summarize(s.read).recist
    assert recist.error and f"merged into {t1}" in recist.error  # not evaluable until measured again
    assert recist.error.endswith("(from week 6 on: not evaluated until it is mended)")
    assert [row["label"] for row in recist.timepoints] == ["baseline"]  # the visits before it keep their rows
    assert recist.best_overall_response is None
    s.record_measurement(t1, _m(52.0))  # the coalesced lesion
    assert summarize(s.read).recist.timepoints[1]["sum_mm"] == 67.0
    s.undo()
    s.undo()  # the merge, with the measurement it took back, in one step
    assert s.assessment(t1).status is LesionStatus.MEASURED and s.assessment(t2).status is LesionStatus.MEASURED


def test_merge_is_offered_and_accepted_only_into_another_target_of_the_same_organ():
    s, t1, t2, t3 = _session()
    assert s.merge_candidates(t2) == [t1]
    assert s.merge_candidates(t3) == []
    with pytest.raises(SessionError, match=r"coalesced with .* \(lung\): lesions coalesce within one organ"):
        s.set_status(t2, LesionStatus.MERGED, merged_into=t3)
    with pytest.raises(SessionError, match="cannot merge into itself"):
        s.merge(t2, t2)
    assert s.merge(t2, t1).endswith(f"measure {t1} as the coalesced lesion (RECIST 1.1 sec. 4.3.2)")
    with pytest.raises(SessionError, match=f"{t2} is itself merged into {t1} here"):
        s.merge(t1, t2)


def test_a_host_already_measured_as_the_coalesced_lesion_keeps_its_measurement():
    """The re-check: a reader who measured the coalesced mass on T1 first, then marked T2 merged, lost that measurement
    and had to measure again; they may say it is the coalesced lesion's."""
    s, t1, t2, t3 = _session()
    s.record_measurement(t1, _m(52.0))
    s.record_measurement(t3, _m(15.0))
    assert s.merge(t2, t1, host_measured_as_coalesced=True) == (
        f"{t2} merged into {t1}: {t1}'s measurement here is the coalesced lesion's")
    assert s.assessment(t1).status is LesionStatus.MEASURED
    assert summarize(s.read).recist.timepoints[1]["sum_mm"] == 67.0
