"""Whole reads through the real widgets (offscreen): measure with the engine, accept, adjust, reject and draw by
hand, undo/redo, go to the follow-up where the lesions are proposed, and read the response."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QPointF, Qt
from PyQt6.QtTest import QTest

from tests.gui.conftest import LESIONS, phantom_subject
from workstation.read_model import MeasurementOrigin, Role


def _click_on(qtbot, viewer, point_mm) -> None:
    """A real mouse click on the viewer where ``point_mm`` is drawn (after going to its slice)."""
    x, y, k = viewer.patient_to_view(point_mm)
    viewer.set_slice(k)
    scene = viewer.vb.mapViewToScene(QPointF(x, y))
    pos = viewer.view.mapFromScene(scene)
    QTest.mouseClick(viewer.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)


def _open(qtbot, w) -> None:
    w.open_subjects([phantom_subject()])
    qtbot.waitUntil(lambda: w.current_viewer.volume is not None and w.volume(0) is not None, timeout=5000)


def _wait_pending(qtbot, w, organ: str | None = "liver") -> None:
    """Wait for the measurement to decide on; as the reader, choose the ``organ`` when the bar asks for one (the
    phantom's lesions are in the liver)."""
    qtbot.waitUntil(lambda: w.pending is not None, timeout=5000)
    if organ is not None and w.decision_bar.missing() is not None:
        w.organ_choice.setCurrentText(organ)


def test_baseline_to_follow_up_gives_partial_response(qtbot, window):
    w = window
    _open(qtbot, w)
    assert w.compare_viewer.isHidden()  # at baseline there is nothing to compare with

    # T1: click, the engine suggests, Enter accepts it as a new liver target
    _click_on(qtbot, w.current_viewer, LESIONS[0].centre_mm)
    assert w.progress.isVisible()  # the busy indicator shows before the worker answers
    _wait_pending(qtbot, w)
    assert w.decision_bar.isVisible() and w.lesion_choice.currentData() is Role.TARGET
    QTest.keyClick(w, Qt.Key.Key_Return)
    t1 = w.session.read.timepoints[0].assessments["T1"].measurements[0]
    assert t1.origin is MeasurementOrigin.ACCEPTED and t1.engine == "threshold-test"
    assert abs(t1.long_axis_mm - 30.0) <= 2.0
    assert t1.mask_ref and (w.data_dir / "masks" / f"{t1.mask_ref}.npz").exists()

    # T2: the reader rejects the suggestion and draws the long axis by hand with the ruler
    _click_on(qtbot, w.current_viewer, LESIONS[1].centre_mm)
    _wait_pending(qtbot, w)
    QTest.keyClick(w, Qt.Key.Key_Escape)
    assert w.pending is None and w.current_viewer.tool.value == "ruler"
    cx, cy, cz = LESIONS[1].centre_mm
    v = w.current_viewer
    ax, ay, _ = v.patient_to_view((cx - 12.0, cy, cz))
    bx, by, _ = v.patient_to_view((cx + 12.0, cy, cz))
    v._drag_line(ax, ay, bx, by, finished=True)
    assert w.pending is not None and w.pending.measurement.origin is MeasurementOrigin.MANUAL
    w.organ_choice.setCurrentText("liver")
    QTest.keyClick(w, Qt.Key.Key_Return)
    t2 = w.session.read.timepoints[0].assessments["T2"].measurements[0]
    assert t2.origin is MeasurementOrigin.MANUAL and t2.engine is None and abs(t2.long_axis_mm - 24.0) < 1.1

    # undo removes T2's measurement, redo brings it back; both are saved at once
    QTest.keyClick(w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert "T2" not in w.session.read.timepoints[0].assessments
    QTest.keyClick(w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert "T2" in w.session.read.timepoints[0].assessments
    saved = w.store.load("S1", "tester")
    assert saved is not None and "T2" in saved.timepoints[0].assessments
    assert w.lesion_table.rowCount() == 2 and "✓" in w.lesion_table.item(0, 6).text()

    # follow-up: both viewers, proposals where the lesions moved (the patient lies 3 mm / -2 mm differently)
    QTest.keyClick(w, Qt.Key.Key_BracketRight)
    assert w.session.current_timepoint == 1
    qtbot.waitUntil(lambda: w.volume(1) is not None and w.mapping.method == "registration", timeout=15000)
    assert not w.compare_viewer.isHidden()
    proposal = {p.lesion_id: p.point_mm for p in w.proposals}
    assert np.linalg.norm(np.subtract(proposal["T1"], (23.0, 8.0, 50.0))) < 2.5
    for lesion_id in ("T1", "T2"):
        w.session.select_lesion(lesion_id)
        QTest.keyClick(w, Qt.Key.Key_G)  # measure at the pre-placed click
        _wait_pending(qtbot, w)
        assert w.lesion_choice.currentData() == lesion_id
        QTest.keyClick(w, Qt.Key.Key_Return)
    # the baseline viewer follows the current one by patient position
    w.current_viewer.set_slice(25)
    assert w.compare_viewer.slice_index == 25
    w.compare_viewer.set_slice(18)  # and the other way round
    assert w.current_viewer.slice_index == 18

    table = w.response_panel.table
    assert table.rowCount() == 2
    week6 = [table.item(1, c).text() for c in range(table.columnCount())]
    assert week6[7] == "PR" and week6[8] == "iPR"
    change = float(week6[2].split()[0])
    assert -45.0 < change < -35.0


def test_adjusting_an_end_point_records_adjusted(qtbot, window):
    w = window
    _open(qtbot, w)
    _click_on(qtbot, w.current_viewer, LESIONS[0].centre_mm)
    _wait_pending(qtbot, w)
    _, b = w.pending.measurement.long_axis_endpoints
    w.decision_bar.choose(Role.NON_TARGET)
    w.current_viewer.endpoint_moved.emit("long", 1, (b[0] + 2.0, b[1], b[2]))
    m = w.pending.measurement
    assert m.origin is MeasurementOrigin.ADJUSTED and m.engine == "threshold-test"
    assert w.decision_bar.choice() is Role.NON_TARGET  # an adjustment keeps what the reader chose
    w.decision_bar.choose(Role.TARGET)
    QTest.keyClick(w, Qt.Key.Key_Return)
    rec = w.session.read.timepoints[0].assessments["T1"].measurements[0]
    assert rec.origin is MeasurementOrigin.ADJUSTED and rec.long_axis_mm > 30.0 and rec.mask_ref


def test_click_outside_a_lesion_says_so_and_changes_nothing(qtbot, window):
    w = window
    _open(qtbot, w)
    _click_on(qtbot, w.current_viewer, (0.0, 30.0, 50.0))  # liver-like tissue, no lesion
    qtbot.waitUntil(lambda: not w.jobs.busy, timeout=5000)
    assert w.pending is None and not w.session.read.lesions
    assert "by hand" in w.statusBar().currentMessage()


def test_viewer_keys_presets_and_planes(qtbot, window):
    w = window
    _open(qtbot, w)
    v = w.current_viewer
    n = v.image_number()
    QTest.keyClick(v, Qt.Key.Key_Down)
    assert v.image_number() == n + 1
    QTest.keyClick(v, Qt.Key.Key_PageUp)
    assert v.image_number() == n - 9
    QTest.keyClick(w, Qt.Key.Key_2)  # lung preset
    assert (v.width_hu, v.level_hu) == (1500.0, -600.0)
    QTest.keyClick(w, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert v.plane.value == "coronal" and v.image.image.shape == (40, 128)
    assert v.edge["top"].text() == "S" and v.edge["left"].text() == "R"
    w.set_plane(v.plane.__class__("axial"))
    assert v.edge["top"].text() == "A" and v.edge["right"].text() == "L"
    assert "HU" not in v.corner["br"].text()


def test_cursor_shows_position_and_hu(qtbot, window):
    w = window
    _open(qtbot, w)
    v = w.current_viewer
    x, y, k = v.patient_to_view(LESIONS[0].centre_mm)
    v.set_slice(k)
    v.view.scene().sigMouseMoved.emit(v.vb.mapViewToScene(QPointF(x, y)))
    text = v.corner["br"].text()
    hu = float(text.split()[-2])
    assert "mm" in text and -40.0 < hu < 20.0  # the lesion is -10 HU with 4 HU noise
    assert f"Im {40 - k}/40" in v.corner["bl"].text()  # image 1 is the most cranial: the array's last slice
    # scrolling with the mouse still: the readout follows the slice now shown (it kept the last slice's z and HU)
    z_before = float(text.split("(")[1].split(",")[2].split(")")[0])
    QTest.keyClick(v, Qt.Key.Key_PageUp)
    after = v.corner["br"].text()
    z_after = float(after.split("(")[1].split(",")[2].split(")")[0])
    assert abs(z_after - z_before) > 5.0 and abs(z_after - v.view_to_patient(x, y)[2]) < 0.06
    # a narrow viewer (the follow-up's beside the baseline): the readout goes above the slice's text, not over it
    for width in (320, 900):
        v.view.resize(width, 400)
        v.view.scene().sigMouseMoved.emit(v.vb.mapViewToScene(QPointF(x, y)))
        v._place_labels()
        assert not v.corner["br"].geometry().intersects(v.corner["bl"].geometry()), width
    # the mouse leaves the image: no stale position and HU (they stayed, and followed the slices scrolled after)
    from PyQt6.QtCore import QEvent
    from PyQt6.QtWidgets import QApplication

    QApplication.sendEvent(v.view.viewport(), QEvent(QEvent.Type.Leave))
    assert v.corner["br"].text() == "" and v.corner["br"].isHidden()
    QTest.keyClick(v, Qt.Key.Key_Down)
    assert v.corner["br"].text() == ""
    v.view.scene().sigMouseMoved.emit(v.vb.mapViewToScene(QPointF(x, y)))
    assert "HU" in v.corner["br"].text()
    v.view.scene().sigMouseMoved.emit(QPointF(-5000.0, -5000.0))  # beyond the view box
    assert v.corner["br"].text() == ""


def test_nothing_is_lost_without_asking(qtbot, window):
    w = window
    _open(qtbot, w)
    _click_on(qtbot, w.current_viewer, LESIONS[0].centre_mm)
    _wait_pending(qtbot, w)
    w.auto_answer = False  # the reader says "no, keep it"
    assert not w.close() and w.isVisible() and w.pending is not None
    w.go_to_timepoint(1)
    assert w.session.current_timepoint == 0 and w.pending is not None
    w.auto_answer = True
    QTest.keyClick(w, Qt.Key.Key_Return)
    assert w.close()
    assert w.store.load("S1", "tester").timepoints[0].assessments["T1"].measurements


def test_loading_can_be_cancelled(qtbot, window):
    import threading

    from imaging.cancel import Cancelled
    from workstation.session.worklist import SubjectEntry, TimepointEntry

    released = threading.Event()

    class SlowSource:
        description = "slow series"

        def load(self, progress=None, cancel=None, on_first_slice=None):
            for n in range(200):
                if cancel is not None and cancel.cancelled:
                    released.set()
                    raise Cancelled("cancelled")
                progress(n, 200, "reading")
                threading.Event().wait(0.01)
            raise AssertionError("not cancelled")

    w = window
    start = phantom_subject().timepoints[0]
    w.open_subjects([SubjectEntry("SLOW", [TimepointEntry("baseline", start.date, SlowSource())])])
    qtbot.waitUntil(lambda: w.progress.isVisible() and w.progress.value() > 0, timeout=5000)
    w.cancel_btn.click()
    qtbot.waitUntil(released.is_set, timeout=5000)
    qtbot.waitUntil(lambda: not w.progress.isVisible(), timeout=5000)
    assert "cancelled" in w.current_viewer.corner["tl"].text()


def test_a_late_suggestion_does_not_land_on_another_timepoint(qtbot, window):
    w = window
    _open(qtbot, w)
    w.segmenter.delay_s = 0.5
    _click_on(qtbot, w.current_viewer, LESIONS[0].centre_mm)
    QTest.keyClick(w, Qt.Key.Key_BracketRight)  # the reader moves on before the engine answers
    qtbot.waitUntil(lambda: not w.jobs.busy, timeout=20000)
    assert w.session.current_timepoint == 1 and w.pending is None


def test_escape_stops_the_engine_while_it_finds_a_lesion(qtbot, window):
    w = window
    _open(qtbot, w)
    w.segmenter.delay_s = 0.5
    _click_on(qtbot, w.current_viewer, LESIONS[0].centre_mm)
    assert w.jobs.busy
    QTest.keyClick(w, Qt.Key.Key_Escape)
    assert "finding the lesion was cancelled" in w.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not w.jobs.busy, timeout=20000)
    assert w.pending is None and not w.decision_bar.isVisible()
    # A suggestion shown a moment before its job is marked done (a busy machine): Esc rejects it, not the job
    w.segmenter.delay_s = 0.0
    _click_on(qtbot, w.current_viewer, LESIONS[0].centre_mm)
    _wait_pending(qtbot, w)
    w._suggest_job.done = False
    QTest.keyClick(w, Qt.Key.Key_Escape)
    assert w.pending is None and "suggestion rejected" in w.statusBar().currentMessage()


def test_a_split_lesion_is_measured_as_fragments(qtbot, window):
    w = window
    _open(qtbot, w)
    _click_on(qtbot, w.current_viewer, LESIONS[0].centre_mm)
    _wait_pending(qtbot, w)
    QTest.keyClick(w, Qt.Key.Key_Return)
    _click_on(qtbot, w.current_viewer, LESIONS[1].centre_mm)
    _wait_pending(qtbot, w)
    w.lesion_choice.setCurrentIndex(w.lesion_choice.findData("T1"))
    assert w.fragment_check.isEnabled()
    w.fragment_check.setChecked(True)
    QTest.keyClick(w, Qt.Key.Key_Return)
    fragments = w.session.read.timepoints[0].assessments["T1"].measurements
    assert len(fragments) == 2 and " + " in w.lesion_table.item(0, 4).text()


def test_a_broken_series_says_what_and_where(qtbot, window, tmp_path):
    from workstation.session.worklist import DicomFolderSource, SubjectEntry, TimepointEntry

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "IM0001.dcm").write_bytes(b"DICM" + b"\0" * 10)  # truncated: not a loadable image
    start = phantom_subject().timepoints[0]
    w = window
    w.open_subjects([SubjectEntry("BAD", [TimepointEntry("baseline", start.date, DicomFolderSource(broken))])])
    qtbot.waitUntil(lambda: not w.jobs.busy, timeout=10000)
    assert w.current_viewer.volume is None
    message = w.statusBar().currentMessage()
    assert str(broken) in message or "broken" in message, message
    assert "Traceback" not in message


def test_typing_an_organ_does_not_fire_shortcuts(qtbot, window):
    w = window
    _open(qtbot, w)
    _click_on(qtbot, w.current_viewer, LESIONS[0].centre_mm)
    _wait_pending(qtbot, w)
    editor = w.organ_choice.lineEdit()
    editor.setFocus()
    editor.clear()
    QTest.keyClicks(editor, "adrenal gland")  # r, a, n, d... are shortcuts elsewhere in the window
    assert w.organ_choice.currentText() == "adrenal gland"
    assert w.current_viewer.tool.value == "measure" and w.pending is not None
    w.accept_pending()
    assert w.session.read.lesions["T1"].organ == "adrenal gland"


def test_a_suggestion_away_from_the_clicked_slice_says_why_the_view_moved(qtbot, window):
    """A click two slices off a lesion's widest slice: the view goes to the outline's longest diameter and says so
    (a radiologist found the jump disorienting)."""
    w = window
    _open(qtbot, w)
    x, y, z = LESIONS[0].centre_mm
    _click_on(qtbot, w.current_viewer, (x, y, z - 5.0))  # 2 slices of 2.5 mm below its centre
    clicked = w.current_viewer.cursor_voxel[0]
    _wait_pending(qtbot, w)
    assert w.current_viewer.cursor_voxel[0] == clicked + 2
    assert w.statusBar().currentMessage() == (
        f"moved to Im {40 - clicked - 2}, 2 slices from the one you clicked (Im {40 - clicked}): the outline's longest "
        "diameter is there"
    )


def test_a_failed_save_stays_on_screen_until_a_save_succeeds(qtbot, window):
    """The hostile tester's finding: "NOT SAVED" was replaced at once by the next message ("T1 ... recorded"), so the
    reader believed the change was kept. It now stays in the status bar until a save succeeds, and the reason says
    the folder is a file. Leaving the subject still asks."""
    import shutil

    w = window
    w.open_subjects([phantom_subject(), phantom_subject("S2")])
    qtbot.waitUntil(lambda: w.current_viewer.volume is not None and w.volume(0) is not None, timeout=5000)
    reads = w.store.root
    shutil.rmtree(reads, ignore_errors=True)
    reads.write_text("x")  # the reads folder became a file: every save fails
    _click_on(qtbot, w.current_viewer, LESIONS[0].centre_mm)
    _wait_pending(qtbot, w)
    QTest.keyClick(w, Qt.Key.Key_Return)
    assert w.session.read.timepoints[0].assessments["T1"].measurements  # kept in memory
    assert not w.unsaved_label.isHidden() and w.unsaved_label.text() == "● NOT SAVED"
    assert f"{reads} is a file, not a folder" in w.unsaved_label.toolTip()
    w.say("something else")
    assert not w.unsaved_label.isHidden()
    w.auto_answer = False  # leaving asks, and the reader stays; the worklist shows what is still on screen
    w.worklist.setCurrentItem(w.worklist.topLevelItem(1).child(0))  # the reader clicks S2
    w.open_timepoint(1, 0)
    assert w.session.read.subject_id == "S1" and w.worklist.currentItem() is w.worklist.topLevelItem(0).child(0)
    reads.unlink()
    w.save()
    assert w.unsaved_label.isHidden()
    assert w.store.load("S1", "tester").timepoints[0].assessments["T1"].measurements


def test_a_follow_up_of_another_patient_is_said_when_it_loads(qtbot, window):
    """The hostile tester's finding: a follow-up folder holding another patient's series was shown beside the baseline
    without a word. Once both are loaded, the reader is told (by timepoint, never by Patient ID)."""
    import dataclasses

    from imaging.volume import PatientIdentity
    from workstation.session.worklist import InMemorySource, SubjectEntry, TimepointEntry

    w = window
    entry = phantom_subject()
    tps = []
    for n, tp in enumerate(entry.timepoints):
        volume = dataclasses.replace(tp.source.volume, patient=PatientIdentity(patient_id=f"PAT-{n}"))
        tps.append(TimepointEntry(tp.label, tp.date, InMemorySource(volume, description=tp.label)))
    w.open_subjects([SubjectEntry(entry.subject_id, tps)])
    qtbot.waitUntil(lambda: w.volume(0) is not None, timeout=5000)
    w.go_to_timepoint(1)
    qtbot.waitUntil(lambda: w.volume(1) is not None, timeout=5000)
    said = w.statusBar().currentMessage()
    assert said.startswith("S1: the images of week 6 belong to another patient than those of baseline"), said
    assert "PAT-" not in said


def test_a_study_retrieved_in_part_is_said_when_it_loads(qtbot, window):
    """The PACS user's finding: a study whose retrieve was cancelled opened as a normal timepoint (13 of 500 slices)."""
    from workstation.session.worklist import SubjectEntry, TimepointEntry

    w = window
    entry = phantom_subject()
    base = entry.timepoints[0]
    partial = TimepointEntry(base.label, base.date, base.source, incomplete="incomplete: 13 of 500 images of 1 series "
                             "were retrieved (the retrieve was cancelled or interrupted): retrieve the study again")
    w.open_subjects([SubjectEntry(entry.subject_id, [partial, *entry.timepoints[1:]])])
    qtbot.waitUntil(lambda: w.volume(0) is not None, timeout=5000)
    assert w.statusBar().currentMessage().startswith("S1 baseline: incomplete: 13 of 500 images")


def test_the_lesion_tables_menu_offers_at_baseline_only_what_the_session_accepts():
    """The hostile tester's re-check: the right-click menu still offered absent / unequivocal progression / not
    evaluated for a baseline non-target (each then refused by the session)."""
    from datetime import date

    from workstation.read_model import LesionStatus, Read, TimepointRead
    from workstation.session.reading import ReadingSession
    from workstation.ui.lesion_table import status_choices

    s = ReadingSession(Read(subject_id="S1", reader="r", timepoints=[TimepointRead("baseline", date(2026, 1, 5)),
                                                                    TimepointRead("week 6", date(2026, 2, 16))]))
    assert status_choices(s, Role.NON_TARGET) == [LesionStatus.PRESENT]
    assert status_choices(s, Role.TARGET) == []
    s.go_to_timepoint(1)
    assert LesionStatus.ABSENT in status_choices(s, Role.NON_TARGET)
