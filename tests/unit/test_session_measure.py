"""Measurements drawn by hand, dragged end points, engine suggestions (with the real diameter code), follow-up
proposals and the response summary, on tiny volumes made here."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from imaging.volume import SeriesInfo, Volume
from segmentation.base import Provenance, SegmentationError, SegmentationResult
from workstation.mask_store import MaskStore
from workstation.read_model import LesionStatus, Measurement, MeasurementOrigin, Read, Role, TimepointRead
from workstation.session.followup import RigidMapping, lesion_centres, mask_seed_point, propose_positions
from workstation.session.measure import MeasureError, manual_measurement, move_endpoint
from workstation.session.reading import ReadingSession
from workstation.session.response import summarize
from workstation.session.suggestions import MeasuringService, SuggestionUnavailable

AXIAL = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])  # columns: normal +z, rows +y, columns +x


def _volume(shape: tuple[int, int, int] = (5, 40, 40)) -> Volume:
    info = SeriesInfo("1.1", "1.2", "1.3", sop_instance_uids=tuple(f"1.4.{k}" for k in range(shape[0])))
    return Volume(np.zeros(shape, dtype=np.int16), (2.0, 0.5, 0.5), np.array([-10.0, -10.0, 0.0]), AXIAL, info)


def test_manual_measurement_in_patient_mm_with_provenance():
    v = _volume()
    m = manual_measurement(v, 2, ((0.0, 0.0, 4.0), (3.0, 4.0, 4.0)), ((0.0, 2.0, 4.0), (1.6, 0.8, 4.0)))
    assert m.long_axis_mm == 5.0 and m.short_axis_mm == 2.0
    assert m.origin is MeasurementOrigin.MANUAL and m.engine is None
    assert m.sop_instance_uid == "1.4.2" and m.series_uid == "1.2" and m.slice_position_mm == 4.0
    with pytest.raises(MeasureError, match="longer than the long axis"):
        manual_measurement(v, 2, ((0.0, 0.0, 4.0), (1.0, 0.0, 4.0)), ((0.0, 0.0, 4.0), (0.0, 3.0, 4.0)))
    with pytest.raises(MeasureError, match="drag across"):
        manual_measurement(v, 2, ((0.0, 0.0, 4.0), (0.1, 0.0, 4.0)))


def test_moving_an_end_point_adjusts_a_suggestion_but_keeps_manual_manual():
    suggested = Measurement(
        10.0,
        5.0,
        ((0.0, 0.0, 0.0), (10.0, 0.0, 0.0)),
        ((5.0, -2.5, 0.0), (5.0, 2.5, 0.0)),
        origin=MeasurementOrigin.SUGGESTED,
        engine="monai",
        model_id="m1",
    )
    moved = move_endpoint(suggested, "long", 1, (12.0, 0.0, 0.0))
    assert moved.origin is MeasurementOrigin.ADJUSTED and moved.long_axis_mm == 12.0 and moved.engine == "monai"
    assert move_endpoint(moved, "short", 0, (5.0, -3.5, 0.0)).short_axis_mm == 6.0
    manual = Measurement(10.0, long_axis_endpoints=((0.0, 0.0, 0.0), (10.0, 0.0, 0.0)))
    assert move_endpoint(manual, "long", 0, (1.0, 0.0, 0.0)).origin is MeasurementOrigin.MANUAL
    with pytest.raises(MeasureError, match="no short axis"):
        move_endpoint(manual, "short", 0, (0.0, 0.0, 0.0))


def test_an_end_point_dragged_so_that_the_short_axis_outgrows_the_long_one_is_refused():
    """A mis-dragged short-axis end (a node's short axis 57 mm beside a 22 mm long axis was recorded, and made PD)."""
    m = Measurement(10.0, 5.0, ((0.0, 0.0, 0.0), (10.0, 0.0, 0.0)), ((5.0, -2.5, 0.0), (5.0, 2.5, 0.0)))
    with pytest.raises(MeasureError, match=r"short axis \(12\.5 mm\) cannot be longer than the long axis \(10\.0"):
        move_endpoint(m, "short", 1, (5.0, 10.0, 0.0))
    with pytest.raises(MeasureError, match=r"short axis \(5\.0 mm\) cannot be longer than the long axis \(4\.0"):
        move_endpoint(m, "long", 1, (4.0, 0.0, 0.0))
    assert move_endpoint(m, "short", 1, (5.0, 7.5, 0.0)).short_axis_mm == 10.0  # as long as the long axis: allowed


def test_a_short_axis_end_dragged_across_the_long_axis_is_put_back():
    """Both ends on one side of the long axis (a node's short axis of 5.3 mm was recorded so): refused; a short axis
    that did not cross before (an outline's) does not stop the long axis being adjusted."""
    m = Measurement(10.0, 5.0, ((0.0, 0.0, 0.0), (10.0, 0.0, 0.0)), ((5.0, -2.5, 0.0), (5.0, 2.5, 0.0)))
    with pytest.raises(MeasureError, match="the short axis must cross the long axis"):
        move_endpoint(m, "short", 1, (5.0, -0.5, 0.0))
    with pytest.raises(MeasureError, match="the short axis must cross the long axis"):
        move_endpoint(m, "long", 1, (14.0, 9.0, 0.0))  # the long axis swung away from the short one
    assert move_endpoint(m, "short", 1, (5.5, 3.0, 0.0)).short_axis_mm is not None  # still across: fine
    beside = Measurement(10.0, 4.0, ((0.0, 0.0, 0.0), (10.0, 0.0, 0.0)), ((5.0, 1.0, 0.0), (5.0, 5.0, 0.0)))
    assert move_endpoint(beside, "long", 1, (11.0, 0.0, 0.0)).long_axis_mm == 11.0


class _DiskSegmenter:
    name = "disk"

    def segment(self, volume, seed_mm, hints=None, cancel=None):
        k, j, i = volume.nearest_voxel(seed_mm)
        if volume.array[k, j, i] > -50:
            raise SegmentationError("no lesion under the click")
        mask = volume.array < -50
        return SegmentationResult(mask, (0, 0, 0), Provenance("disk", "disk-v1", "1"), confidence=0.3)


def test_suggestion_uses_the_real_diameters_and_stores_the_mask(tmp_path):
    v = _volume()
    jj, ii = np.mgrid[0:40, 0:40]
    disk = (jj - 20) ** 2 + (ii - 20) ** 2 <= 10**2  # radius 10 px = 5 mm -> diameter ~10 mm
    v.array[2][disk] = -100
    service = MeasuringService(_DiskSegmenter(), mask_store=MaskStore(tmp_path))
    centre = tuple(float(x) for x in v.voxel_to_patient((2, 20, 20)))
    s = service.suggest(v, centre)
    assert s.measurement.origin is MeasurementOrigin.SUGGESTED and s.measurement.engine == "disk"
    assert abs(s.measurement.long_axis_mm - 10.5) < 0.6 and s.slice_index == 2
    assert s.warnings and "low confidence" in s.warnings[0]
    accepted = service.accept(s, v)
    assert accepted.origin is MeasurementOrigin.ACCEPTED and accepted.model_id == "disk-v1"
    stored = MaskStore(tmp_path).load(accepted.mask_ref)
    assert stored.full_mask()[2][disk].all() and stored.sop_instance_uids == ("1.4.2",)
    with pytest.raises(SuggestionUnavailable, match="no lesion"):
        service.suggest(v, tuple(float(x) for x in v.voxel_to_patient((2, 2, 2))))
    with pytest.raises(SuggestionUnavailable, match="outside"):
        service.suggest(v, (500.0, 0.0, 0.0))


def test_a_suggestion_is_measured_again_as_a_node_on_the_slice_of_its_longest_short_axis():
    """Slice 1: a long thin ellipse (longest diameter); slice 3: a rounder, shorter one (longest short axis). The
    same outline measured as a node moves to slice 3; measured as it already was, nothing changes."""
    v = _volume()
    jj, ii = np.mgrid[0:40, 0:40]
    v.array[1][((jj - 20) / 3) ** 2 + ((ii - 20) / 16) ** 2 <= 1] = -100  # 16 x 3 mm
    v.array[3][((jj - 20) / 9) ** 2 + ((ii - 20) / 11) ** 2 <= 1] = -100  # 11 x 9 mm
    service = MeasuringService(_DiskSegmenter())
    s = service.suggest(v, tuple(float(x) for x in v.voxel_to_patient((1, 20, 20))))
    assert s.slice_index == 1 and not s.is_node and s.measurement.short_axis_mm < 4.0
    node = service.remeasure(s, v, is_node=True)
    assert node.is_node and node.slice_index == 3 and node.measurement.short_axis_mm > 8.0
    assert node.measurement.sop_instance_uid == "1.4.3" and node.measurement.origin is MeasurementOrigin.SUGGESTED
    assert node.result is s.result and node.warnings == s.warnings
    assert service.remeasure(node, v, is_node=True) is node
    assert service.remeasure(node, v, is_node=False).slice_index == 1


def test_proposals_follow_the_mapping_and_start_inside_a_crescent():
    v = _volume()
    jj, ii = np.mgrid[0:40, 0:40]
    ring = ((jj - 20) ** 2 + (ii - 20) ** 2 <= 12**2) & ((jj - 20) ** 2 + (ii - 14) ** 2 > 10**2)
    mask = np.zeros(v.shape, dtype=bool)
    mask[2] = ring
    seed = mask_seed_point(mask, (0, 0, 0), v)
    k, j, i = v.nearest_voxel(seed)
    assert mask[k, j, i]  # inside, where the centroid of the crescent is not
    read = Read("S1", "r", timepoints=[TimepointRead("b", date(2026, 1, 1)), TimepointRead("w6", date(2026, 2, 12))])
    s = ReadingSession(read)
    t1 = s.add_lesion(Role.TARGET, "liver")
    s.record_measurement(t1, Measurement(10.0, long_axis_endpoints=((0.0, 0.0, 4.0), (10.0, 0.0, 4.0))))
    assert lesion_centres(s.read, 0) == {"T1": (0, (5.0, 0.0, 4.0))}
    shift = RigidMapping(np.eye(3), np.array([1.0, -2.0, 0.5]), "registration")
    (p,) = propose_positions(s.read, 1, shift)
    assert p.lesion_id == "T1" and p.point_mm == (6.0, -2.0, 4.5) and p.method == "registration"
    assert propose_positions(s.read, 0, shift) == []


def test_response_summary_under_both_criteria_and_errors_in_words():
    read = Read(
        "S1", "r", timepoints=[TimepointRead("baseline", date(2026, 1, 5)), TimepointRead("week 6", date(2026, 2, 16))]
    )
    s = ReadingSession(read)
    assert summarize(s.read).recist.error == "no baseline assessment yet"
    t1 = s.add_lesion(Role.TARGET, "liver")
    s.record_measurement(t1, Measurement(40.0))
    s.go_to_timepoint(1)
    s.record_measurement(t1, Measurement(20.0))
    out = summarize(s.read)
    assert [tp["overall_response"] for tp in out.recist.timepoints][1:] == ["PR"]
    assert out.recist.timepoints[1]["change_from_baseline_pct"] == -50.0
    assert out.irecist.timepoints[1]["overall_response"] == "iPR"
    s.set_status(t1, LesionStatus.NOT_EVALUATED)
    assert summarize(s.read).recist.timepoints[1]["overall_response"] == "NE"


def test_a_new_lesion_is_proposed_from_its_latest_position():
    read = Read(
        "S1",
        "r",
        timepoints=[TimepointRead(label, date(2026, 1, 1 + 6 * n)) for n, label in enumerate(("b", "w6", "w12"))],
    )
    s = ReadingSession(read)
    s.go_to_timepoint(1)
    n1 = s.add_lesion(Role.NEW, "liver")
    s.record_measurement(n1, Measurement(8.0, long_axis_endpoints=((10.0, 0.0, 0.0), (18.0, 0.0, 0.0))))
    to_w6 = RigidMapping(np.eye(3), np.array([2.0, 0.0, 0.0]), "registration")  # the patient lay 2 mm to the left
    to_w12 = RigidMapping(np.eye(3), np.array([0.0, 3.0, 0.0]), "registration")
    assert to_w6.invert(to_w6.apply((1.0, 2.0, 3.0))) == (1.0, 2.0, 3.0)
    (p,) = propose_positions(s.read, 2, to_w12, baseline_to={1: to_w6})
    assert p.lesion_id == "N1" and p.from_timepoint == 1
    assert p.point_mm == (12.0, 3.0, 0.0)  # 14 at week 6 -> 12 at baseline -> (12, 3) at week 12


def test_a_non_target_is_proposed_where_it_was_seen_and_nothing_counts_that_point():
    """A non-target is not measured: where the reader saw it (a click, or the middle of an outline accepted as a
    non-target) is kept, and the follow-up proposes it there, as it proposes measured lesions."""
    read = Read(
        "S1",
        "r",
        timepoints=[TimepointRead(label, date(2026, 1, 1 + 6 * n)) for n, label in enumerate(("b", "w6", "w12"))],
    )
    s = ReadingSession(read)
    t1 = s.add_lesion(Role.TARGET, "liver", measurement=Measurement(20.0, long_axis_endpoints=((0, 0, 0), (20, 0, 0))))
    nt1 = s.add_lesion(Role.NON_TARGET, "bone", point=(40.0, 10.0, -5.0))
    outline = Measurement(12.0, long_axis_endpoints=((60.0, 0.0, 0.0), (72.0, 0.0, 0.0)))
    nt2 = s.add_lesion(Role.NON_TARGET, "peritoneum", measurement=outline)
    baseline = s.read.timepoints[0].assessments
    assert (baseline[nt1].status, baseline[nt1].measurements, baseline[nt1].point_mm) == (
        LesionStatus.PRESENT, [], (40.0, 10.0, -5.0)
    )  # fmt: skip
    assert baseline[nt2].measurements == [] and baseline[nt2].point_mm == (66.0, 0.0, 0.0)
    assert s.read.to_case()["timepoints"][0]["lesions"][1] == {
        "id": "NT1", "role": "non-target", "organ": "bone", "node": False, "status": "present"
    }  # fmt: skip
    proposals = {p.lesion_id: p.point_mm for p in propose_positions(s.read, 1)}
    assert proposals == {t1: (10.0, 0.0, 0.0), nt1: (40.0, 10.0, -5.0), nt2: (66.0, 0.0, 0.0)}
    # At week 6 NT1 is seen 3 mm further on: week 12 starts from there; marked present from the table, the point stays
    s.go_to_timepoint(1)
    s.set_status(nt1, LesionStatus.PRESENT, point=(43.0, 10.0, -5.0))
    s.set_status(nt1, LesionStatus.PRESENT)
    assert s.read.timepoints[1].assessments[nt1].point_mm == (43.0, 10.0, -5.0)
    assert lesion_centres(s.read, 1)[nt1] == (1, (43.0, 10.0, -5.0))
    s.set_status(nt1, LesionStatus.ABSENT)  # gone: no place to keep
    assert s.read.timepoints[1].assessments[nt1].point_mm is None


def test_a_new_lesion_gone_again_is_recorded_so_iRECIST_sees_the_pseudo_progression():
    """The app offered a new lesion only measured / unequivocal / equivocal: one gone at the next visit could not be
    recorded, so an iUPD stayed pending (NE) where iRECIST resets it. Absent (and not evaluated) are offered now."""
    read = Read(
        "S1",
        "r",
        timepoints=[TimepointRead(label, date(2026, 1, 5) + (date(2026, 2, 16) - date(2026, 1, 5)) * n)
                    for n, label in enumerate(("b", "w6", "w12", "w18"))],
    )  # fmt: skip
    s = ReadingSession(read)
    t1 = s.add_lesion(Role.TARGET, "liver", measurement=Measurement(40.0, long_axis_endpoints=((0, 0, 0), (40, 0, 0))))
    s.go_to_timepoint(1)
    s.record_measurement(t1, Measurement(36.0, long_axis_endpoints=((0, 0, 0), (36, 0, 0))))
    n1 = s.add_lesion(Role.NEW, "lung", point=(50.0, 50.0, 0.0))
    for tp, d in ((2, 24.0), (3, 22.0)):
        s.go_to_timepoint(tp)
        s.record_measurement(t1, Measurement(d, long_axis_endpoints=((0, 0, 0), (d, 0, 0))))
        s.set_status(n1, LesionStatus.ABSENT)
    out = summarize(s.read)
    assert [t["overall_response"] for t in out.irecist.timepoints][1:] == ["iUPD", "iPR", "iPR"]
    assert [t["overall_response"] for t in out.recist.timepoints][1:] == ["PD", "PR", "PR"]
    assert out.recist.best_overall_response == "PD"
    s.go_to_timepoint(2)
    s.set_status(n1, LesionStatus.NOT_EVALUATED)  # not assessable at week 12: the iUPD stays pending there
    assert summarize(s.read).irecist.timepoints[2]["overall_response"] == "NE"


def test_the_engine_warms_up_in_the_background_and_a_failing_warm_up_is_left_for_the_first_click():
    class Warming:
        name = "stub"
        warmed = 0

        def warm_up(self) -> None:
            self.warmed += 1

        def segment(self, *args, **kwargs):
            raise SegmentationError("nothing here")

    engine = Warming()
    MeasuringService(engine).warm_up_in_background().join(5)
    assert engine.warmed == 1

    class Broken(Warming):
        def warm_up(self) -> None:
            raise RuntimeError("weights unreadable")

    MeasuringService(Broken()).warm_up()  # no exception: the first click reports the problem
