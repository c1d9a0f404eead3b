"""Which tracked lesion a click or a waiting measurement falls on (so a new lesion is never the silent default)."""

from __future__ import annotations

from datetime import date

import numpy as np

from workstation.read_model import Measurement, MeasurementOrigin, Point, Read, Role, TimepointRead
from workstation.session.reading import ReadingSession
from workstation.session.tracked import (
    PROPOSAL_RADIUS_MM,
    lesion_at,
    masks_overlap,
    outline_hits,
    overlapped_lesions,
)


def _m(a: Point, b: Point) -> Measurement:
    length = float(np.linalg.norm(np.subtract(b, a)))
    return Measurement(long_axis_mm=length, long_axis_endpoints=(a, b), origin=MeasurementOrigin.MANUAL)


def _session() -> ReadingSession:
    read = Read(
        subject_id="S1",
        reader="alice",
        timepoints=[TimepointRead("baseline", date(2026, 1, 5)), TimepointRead("week 6", date(2026, 2, 16))],
    )
    s = ReadingSession(read)
    s.add_lesion(Role.TARGET, "liver", measurement=_m((0.0, 0.0, 50.0), (30.0, 0.0, 50.0)))  # T1, middle x=15
    s.add_lesion(Role.TARGET, "lung", measurement=_m((60.0, 0.0, 50.0), (80.0, 0.0, 50.0)))  # T2, middle x=70
    return s


def test_a_click_inside_a_measured_lesion_is_that_lesion():
    s = _session()
    hit = lesion_at(s.read, 0, (72.0, 3.0, 50.0), slice_tolerance_mm=2.5)
    assert hit is not None and hit.lesion_id == "T2" and hit.measured_here
    # the nearer of two discs; off the slice or outside every disc: nothing
    assert lesion_at(s.read, 0, (16.0, -2.0, 50.5), slice_tolerance_mm=2.5).lesion_id == "T1"
    assert lesion_at(s.read, 0, (72.0, 3.0, 60.0), slice_tolerance_mm=2.5) is None
    assert lesion_at(s.read, 0, (42.0, 0.0, 50.0), slice_tolerance_mm=2.5) is None
    # a lesion the reader cannot choose here is not proposed
    assert lesion_at(s.read, 0, (72.0, 3.0, 50.0), slice_tolerance_mm=2.5, candidates=["T1"]) is None


def test_a_pending_measurement_overlapping_a_measured_one_is_that_lesion():
    s = _session()
    pending = _m((58.0, 4.0, 50.0), (79.0, 4.0, 50.0))
    hit = lesion_at(s.read, 0, (100.0, 0.0, 50.0), slice_tolerance_mm=2.5, pending=pending)
    assert hit is not None and hit.lesion_id == "T2"
    assert overlapped_lesions(s.read, 0, pending, slice_tolerance_mm=2.5) == ["T2"]
    # a lesion beside them touches neither
    far = _m((100.0, 40.0, 50.0), (110.0, 40.0, 50.0))
    assert overlapped_lesions(s.read, 0, far, slice_tolerance_mm=2.5) == []


def test_at_follow_up_the_nearest_proposal_within_the_radius():
    s = _session()
    s.go_to_timepoint(1)
    proposals = [("T1", (18.0, 2.0, 50.0)), ("T2", (73.0, 1.0, 50.0))]
    hit = lesion_at(s.read, 1, (70.0, 0.0, 50.0), slice_tolerance_mm=2.5, proposals=proposals)
    assert hit is not None and hit.lesion_id == "T2" and not hit.measured_here
    far = (73.0 + PROPOSAL_RADIUS_MM + 1.0, 1.0, 50.0)
    assert lesion_at(s.read, 1, far, slice_tolerance_mm=2.5, proposals=proposals) is None
    # once T2 is measured here, a click on its measurement beats an unmeasured proposal nearby
    s.record_measurement("T2", _m((62.0, 0.0, 50.0), (78.0, 0.0, 50.0)))
    proposals.append(("T1", (66.0, 0.0, 50.0)))
    hit = lesion_at(s.read, 1, (70.0, 0.0, 50.0), slice_tolerance_mm=2.5, proposals=proposals)
    assert hit is not None and hit.lesion_id == "T2" and hit.measured_here


def test_outlines_hold_the_click_or_share_voxels_with_the_suggestion():
    s = _session()
    a = np.zeros((3, 4, 4), dtype=bool)
    a[1, 1:3, 1:3] = True
    b = np.zeros((2, 2, 2), dtype=bool)
    b[0, 0, 0] = True
    assert masks_overlap(a, (0, 0, 0), b, (1, 2, 2))
    assert not masks_overlap(a, (0, 0, 0), b, (1, 3, 3))
    assert not masks_overlap(a, (0, 0, 0), b, (5, 0, 0))
    stored = {"T1": (a, (10, 0, 0))}
    assert outline_hits(stored, (11, 2, 2), None) == ["T1"]
    assert outline_hits(stored, (11, 3, 3), None) == []
    assert outline_hits(stored, None, (b, (11, 1, 1))) == ["T1"]
    # an outline hit wins over geometry (a hand-drawn T2 line elsewhere)
    hit = lesion_at(s.read, 0, (72.0, 0.0, 50.0), slice_tolerance_mm=2.5, outline_hits=["T1"])
    assert hit is not None and hit.lesion_id == "T1"


def test_a_thin_lesion_holds_only_the_clicks_inside_its_ellipse():
    from workstation.session.tracked import on_measurement

    thin = Measurement(
        long_axis_mm=40.0,
        short_axis_mm=6.0,
        long_axis_endpoints=((0.0, 0.0, 50.0), (40.0, 0.0, 50.0)),
        short_axis_endpoints=((20.0, -3.0, 50.0), (20.0, 3.0, 50.0)),
        origin=MeasurementOrigin.MANUAL,
    )
    assert on_measurement((20.0, 4.0, 50.0), thin, 2.5)  # just outside its edge: within the margin
    assert not on_measurement((20.0, 12.0, 50.0), thin, 2.5)  # beside it, though within half its long axis
    assert on_measurement((38.0, 0.0, 50.0), thin, 2.5)
