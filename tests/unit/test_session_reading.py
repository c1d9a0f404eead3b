"""The reading session: edits, undo/redo, dirty state, persistence round trip, baseline rules, worklist status."""

from __future__ import annotations

import json
from datetime import date

import pytest

from workstation.export.read_json import read_from_dict, read_to_dict
from workstation.read_model import LesionStatus, Measurement, MeasurementOrigin, Read, Role, TimepointRead
from workstation.session.baseline_rules import check_baseline
from workstation.session.persistence import JsonReadStore, ReadStoreError
from workstation.session.reading import ReadingSession, SessionError, allowed_statuses
from workstation.session.worklist import timepoint_status


def _read() -> Read:
    return Read(
        subject_id="S1",
        reader="alice",
        timepoints=[TimepointRead("baseline", date(2026, 1, 5)), TimepointRead("week 6", date(2026, 2, 16))],
    )


def _m(
    long_mm: float, short_mm: float | None = None, origin: MeasurementOrigin = MeasurementOrigin.MANUAL
) -> Measurement:
    return Measurement(
        long_axis_mm=long_mm,
        short_axis_mm=short_mm,
        long_axis_endpoints=((0.0, 0.0, 10.0), (long_mm, 0.0, 10.0)),
        origin=origin,
        engine=None if origin is MeasurementOrigin.MANUAL else "classical",
    )


def test_edits_undo_redo_and_dirty_state(tmp_path):
    s = ReadingSession(_read(), JsonReadStore(tmp_path))
    changes, dirty = [], []
    s.changed.connect(changes.append)
    s.dirty_changed.connect(dirty.append)
    t1 = s.add_lesion(Role.TARGET, "liver")
    s.record_measurement(t1, _m(32.0))
    assert s.read.timepoints[0].assessments[t1].measurements[0].long_axis_mm == 32.0
    assert dirty == [True] and s.dirty
    assert s.undo() == "measure T1 (manual)"
    assert t1 not in s.read.timepoints[0].assessments
    assert s.undo() == "add T1"
    assert t1 not in s.read.lesions and s.selected_lesion is None
    assert s.undo() is None
    assert s.redo() == "add T1" and s.redo() == "measure T1 (manual)"
    assert s.read.timepoints[0].assessments[t1].measurements[0].long_axis_mm == 32.0
    s.save()
    assert not s.dirty and dirty[-1] is False
    s.undo()
    assert s.dirty
    s.redo()
    assert not s.dirty  # back at the saved state
    assert [c.lesion_id for c in changes[:2]] == ["T1", "T1"]


def test_saved_state_lost_after_undo_then_new_edit_is_dirty(tmp_path):
    s = ReadingSession(_read(), JsonReadStore(tmp_path))
    t1 = s.add_lesion(Role.TARGET, "liver")
    s.save()
    s.undo()
    s.add_lesion(Role.TARGET, "lung")
    assert s.dirty
    assert t1 == "T1" and "T1" in s.read.lesions  # the id is reused: T1 was undone


def test_rules_of_the_session_are_explained():
    s = ReadingSession(_read())
    with pytest.raises(SessionError, match="at baseline"):
        s.add_lesion(Role.NEW, "liver")
    with pytest.raises(SessionError, match="must be marked as a lymph node"):
        s.add_lesion(Role.TARGET, " Lymph node", is_node=False)  # it would be judged by its long axis
    node = s.add_lesion(Role.TARGET, "lymph node", is_node=True)
    with pytest.raises(SessionError, match="T1: a lesion in 'lymph node' must be marked"):
        s.update_lesion(node, is_node=False)
    liver = s.add_lesion(Role.TARGET, "liver")
    with pytest.raises(SessionError, match="must be marked as a lymph node"):
        s.update_lesion(liver, organ="lymph node")
    s.update_lesion(liver, organ="lymph node", is_node=True)
    s.undo()
    assert s.read.lesions[liver].organ == "liver"
    s.remove_lesion(liver)
    with pytest.raises(SessionError, match="short axis"):
        s.record_measurement(node, _m(20.0))
    with pytest.raises(SessionError, match="accepted"):
        s.record_measurement(node, _m(20.0, 16.0, MeasurementOrigin.SUGGESTED))
    with pytest.raises(SessionError, match="status is one of"):
        s.set_status(node, LesionStatus.PRESENT)
    nt = s.add_lesion(Role.NON_TARGET, "bone")
    assert s.read.timepoints[0].assessments[nt].status is LesionStatus.PRESENT
    # the hostile tester's finding: a baseline non-target could be set absent (saved; the read then could not be
    # evaluated at all). At baseline a non-target is present and a target measured; the rest is for follow-ups.
    with pytest.raises(SessionError, match=r"NT1: at baseline a non-target lesion is present \(RECIST 1.1 sec. 4.2\); "
                                           "'absent' is for a follow-up"):
        s.set_status(nt, LesionStatus.ABSENT)
    with pytest.raises(SessionError, match="at baseline a target lesion is measured"):
        s.set_status(node, LesionStatus.NOT_EVALUATED)
    assert allowed_statuses(Role.NON_TARGET, at_baseline=True) == (LesionStatus.PRESENT,)
    s.go_to_timepoint(1)
    with pytest.raises(SessionError, match="at baseline"):
        s.add_lesion(Role.TARGET, "liver")
    new = s.add_lesion(Role.NEW, "liver")
    assert new == "N1" and s.read.timepoints[1].assessments[new].status is LesionStatus.UNEQUIVOCAL
    s.set_status(node, LesionStatus.DISAPPEARED)
    assert s.read.to_case()["timepoints"][1]["lesions"][0]["diameter_mm"] == 0.0


def test_split_lesion_fragments_are_summed_in_the_case():
    s = ReadingSession(_read())
    t1 = s.add_lesion(Role.TARGET, "liver")
    s.record_measurement(t1, _m(30.0))
    s.go_to_timepoint(1)
    s.record_measurement(t1, _m(12.0))
    s.record_measurement(t1, _m(9.0), add_fragment=True)
    assert s.read.to_case()["timepoints"][1]["lesions"][0]["diameter_mm"] == [12.0, 9.0]


def test_persistence_round_trip_and_corrupt_file(tmp_path):
    s = ReadingSession(_read(), JsonReadStore(tmp_path))
    t1 = s.add_lesion(Role.TARGET, "liver")
    s.record_measurement(t1, _m(32.0, 20.0, MeasurementOrigin.ADJUSTED))
    s.save()
    store = JsonReadStore(tmp_path)
    loaded = store.load("S1", "alice")
    assert loaded is not None and read_to_dict(loaded) == read_to_dict(s.read)
    m = loaded.timepoints[0].assessments[t1].measurements[0]
    assert m.origin is MeasurementOrigin.ADJUSTED and m.engine == "classical"
    assert read_from_dict(json.loads(json.dumps(read_to_dict(loaded)))).lesions[t1].role is Role.TARGET
    path = store.path_for("S1", "alice")
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ReadStoreError, match="unreadable"):
        store.load("S1", "alice")
    assert path.read_text(encoding="utf-8") == "{not json"  # left untouched for a person to recover
    assert store.load("S2", "alice") is None


def test_save_failure_keeps_the_read_and_says_where(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    s = ReadingSession(_read(), JsonReadStore(blocker / "reads"))
    s.add_lesion(Role.TARGET, "liver")
    with pytest.raises(ReadStoreError, match="cannot save"):
        s.save()
    assert s.dirty and "T1" in s.read.lesions


def test_baseline_rules_give_reasons():
    s = ReadingSession(_read())
    ids = [s.add_lesion(Role.TARGET, "liver") for _ in range(3)]
    for lid in ids:
        s.record_measurement(lid, _m(25.0))
    small = s.add_lesion(Role.TARGET, "lung")
    s.record_measurement(small, _m(8.0))
    node = s.add_lesion(Role.TARGET, "lymph node", is_node=True)
    s.record_measurement(node, _m(20.0, 12.0))
    extra = s.add_lesion(Role.TARGET, "stomach")
    f = check_baseline(s.read, slice_thickness_mm=5.0)
    assert f["T1"].ok and f["T2"].ok and "measurable" in f["T1"].reason
    assert not f["T3"].ok and "per organ" in f["T3"].reason
    assert not f[small].ok and "not measurable" in f[small].reason
    assert not f[node].ok and "pathological" in f[node].reason
    assert not f[extra].ok and "at most 5" in f[extra].reason and "not measured" in f[extra].reason
    thick = check_baseline(s.read, slice_thickness_mm=7.0)  # sec. 3.2: twice the slice thickness, 14 mm
    assert thick["T1"].ok and not check_baseline(s.read, slice_thickness_mm=13.0)["T1"].ok


def test_worklist_status():
    s = ReadingSession(_read())
    assert timepoint_status(s.read, 0) == "not started"
    t1 = s.add_lesion(Role.TARGET, "liver")
    assert timepoint_status(s.read, 0) == "in progress"
    s.record_measurement(t1, _m(30.0))
    assert timepoint_status(s.read, 0) == "complete"
    assert timepoint_status(s.read, 1) == "not started"
    assert timepoint_status(None, 0) == "not started"


def test_a_saved_read_gains_new_follow_ups_but_never_loses_its_images():
    from workstation.session.worklist import (
        InMemorySource,
        SubjectEntry,
        TimepointEntry,
        WorklistError,
        reconcile_timepoints,
    )

    source = InMemorySource(volume=None)  # type: ignore[arg-type]  # never loaded here
    entries = [TimepointEntry(tp.label, tp.date, source) for tp in _read().timepoints]
    week12 = TimepointEntry("week 12", date(2026, 3, 30), source)
    read = reconcile_timepoints(_read(), SubjectEntry("S1", [*entries, week12]))
    assert [tp.label for tp in read.timepoints] == ["baseline", "week 6", "week 12"]
    with pytest.raises(WorklistError, match="week 6"):
        reconcile_timepoints(_read(), SubjectEntry("S1", entries[:1]))


def test_a_new_non_target_lesion_that_grew_confirms_an_iupd():
    """The iRECIST reader's finding: a new lesion recorded unequivocal without a measurement (a new non-target) that
    grew at the next visit could not be said to have grown, so the iUPD was never confirmed (iCPD unreachable).
    Seymour 2017 Table 2: an increase of new non-target lesions confirms it."""
    from datetime import timedelta

    from workstation.session.response import summarize

    read = _read()
    read.timepoints.append(TimepointRead("week 12", date(2026, 3, 30)))
    s = ReadingSession(read)
    t1 = s.add_lesion(Role.TARGET, "liver")
    s.record_measurement(t1, _m(40.0))
    s.go_to_timepoint(1)
    s.record_measurement(t1, _m(38.0))
    n1 = s.add_lesion(Role.NEW, "lung")  # unequivocal, not measured: a new non-target
    with pytest.raises(SessionError, match="N1: a new lesion is in progression only at a visit after the one where"):
        s.set_status(n1, LesionStatus.UNEQUIVOCAL_PROGRESSION)
    s.go_to_timepoint(2)
    s.record_measurement(t1, _m(38.0))
    s.set_status(n1, LesionStatus.UNEQUIVOCAL_PROGRESSION)
    assert LesionStatus.UNEQUIVOCAL_PROGRESSION in allowed_statuses(Role.NEW)
    irecist = summarize(s.read).irecist
    assert [tp["overall_response"] for tp in irecist.timepoints[1:]] == ["iUPD", "iCPD"], irecist.error
    assert read.timepoints[2].date - read.timepoints[1].date >= timedelta(days=28)


def test_a_measured_new_lesion_judged_equivocal_keeps_its_place():
    """The iRECIST reader's finding: setting a measured new lesion equivocal dropped its place with its measurement,
    so it was neither marked nor proposed at the next visit, and a click on it there started another new lesion."""
    s = ReadingSession(_read())
    t1 = s.add_lesion(Role.TARGET, "liver")
    s.record_measurement(t1, _m(40.0))
    s.go_to_timepoint(1)
    n1 = s.add_lesion(Role.NEW, "liver")
    s.record_measurement(n1, _m(11.7))  # long axis from (0, 0, 10) to (11.7, 0, 10)
    s.set_status(n1, LesionStatus.EQUIVOCAL)
    a = s.read.timepoints[1].assessments[n1]
    assert a.status is LesionStatus.EQUIVOCAL and a.measurements == []
    assert a.point_mm == pytest.approx((5.85, 0.0, 10.0))



def test_a_bone_target_is_within_the_rules_but_cautioned():
    """The radiologist's finding: a click on a sclerotic bone lesion gave a confident target; RECIST 1.1 sec. 3.1.2
    measures bone only by a soft-tissue component (a blastic lesion is non-measurable)."""
    s = ReadingSession(_read())
    t1 = s.add_lesion(Role.TARGET, "bone")
    s.record_measurement(t1, _m(25.0))
    t2 = s.add_lesion(Role.TARGET, "liver")
    s.record_measurement(t2, _m(25.0))
    found = check_baseline(s.read, 5.0)
    assert found[t1].ok and found[t1].caution.startswith("bone: a target only by its soft-tissue component")
    assert found[t2].ok and found[t2].caution == ""


def test_a_target_made_a_non_target_is_present_where_it_was_measured_and_back():
    """The radiologist's re-check: "Make non-target" on a measured bone target kept its diameter with no status, which
    the engine refuses ("a non-target lesion takes status, not diameter_mm"): every response vanished."""
    from workstation.session.response import summarize

    s = ReadingSession(_read())
    t1, t2 = s.add_lesion(Role.TARGET, "liver"), s.add_lesion(Role.TARGET, "bone")
    s.record_measurement(t1, _m(30.0))
    s.record_measurement(t2, _m(12.0))
    s.update_lesion(t2, role=Role.NON_TARGET)
    a = s.read.timepoints[0].assessments[t2]
    assert a.status is LesionStatus.PRESENT and a.point_mm == (6.0, 0.0, 10.0) and not a.measurements
    recist = summarize(s.read).recist
    assert recist.error is None and recist.timepoints[0]["sum_mm"] == 30.0
    s.undo()
    assert s.read.timepoints[0].assessments[t2].status is LesionStatus.MEASURED
    s.redo()
    s.update_lesion(t2, role=Role.TARGET)  # back: to be measured again
    assert t2 not in s.read.timepoints[0].assessments
    assert check_baseline(s.read, 5.0)[t2].reason == "not measured at baseline yet"


def test_undo_and_redo_never_change_a_signed_timepoint_unseen():
    """The BICR manager's re-check: after an amendment and a new signature, Ctrl+Z took back the amended organ on
    screen while the database kept it ("NOT SAVED", overwritten at once by "undone: edit T1"). Undo and redo are
    refused where an edit would be, with the same reason."""
    from workstation.read_model import Signature

    s = ReadingSession(_read())
    s.add_lesion(Role.TARGET, "liver", measurement=_m(30.0))
    s.update_lesion("T1", organ="stomach")
    s.read.timepoints[0].signature = Signature("alice", "Alice", "2026-01-06T00:00:00Z", "read")  # signed now
    with pytest.raises(SessionError, match=r"^not undone \(.*\): baseline is signed: changing it is an amendment"):
        s.undo()
    assert s.read.lesions["T1"].organ == "stomach" and s.commands.can_undo
    s.amend(0, "organ")  # amending: undo goes back as an edit would
    s.undo()
    assert s.read.lesions["T1"].organ == "liver" and s.read.timepoints[0].signed  # the signature is the store's
    del s.amendment_reasons[0]
    with pytest.raises(SessionError, match=r"^not redone"):
        s.redo()
    assert s.read.lesions["T1"].organ == "liver" and s.commands.can_redo


def test_one_amendment_covers_the_signed_timepoints_after_it():
    """The re-check: changing a lesion's organ after amending the baseline was refused for each later signed
    timepoint in turn: four reason dialogs, and the lesion's audit entry joined four reasons."""
    from workstation.read_model import Signature

    s = ReadingSession(_read())
    s.add_lesion(Role.TARGET, "liver", measurement=_m(30.0))
    s.go_to_timepoint(1)
    s.record_measurement("T1", _m(25.0))
    for tp in s.read.timepoints:
        tp.signature = Signature("alice", "Alice", "2026-03-01T00:00:00Z", "read")
    s.go_to_timepoint(0)
    s.amend(0, "the organ was wrong")
    assert s.amendment_reasons == {0: "the organ was wrong", 1: "the organ was wrong"}
    s.update_lesion("T1", organ="stomach")  # lesion-wide: both timepoints, one reason
    assert s.read.lesions["T1"].organ == "stomach"
