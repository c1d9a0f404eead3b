"""What a new user found wrong, driven through the real widgets: re-clicking a measured lesion, a new lesion's organ,
a viewer that jumped when the decision bar came and went, low-confidence suggestions, and the small things."""

from __future__ import annotations

import dataclasses
import html

import numpy as np
from PyQt6.QtCore import QPointF, Qt
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import QApplication

from tests.gui.conftest import LESIONS
from tests.gui.phantom import ThresholdSegmenter
from tests.gui.test_reading_flow import _click_on, _open, _wait_pending
from workstation.read_model import LesionStatus, MeasurementOrigin, Role
from workstation.ui.mm_text import mm
from workstation.ui.viewer import Tool

SHIFT = (3.0, -2.0, 0.0)  # how the patient lies at week 6 (see conftest.phantom_subject)


def _at_week6(i: int) -> tuple[float, float, float]:
    c = LESIONS[i].centre_mm
    return (c[0] + SHIFT[0], c[1] + SHIFT[1], c[2] + SHIFT[2])


def _measure_baseline(qtbot, w) -> None:
    for i in (0, 1):
        _click_on(qtbot, w.current_viewer, LESIONS[i].centre_mm)
        _wait_pending(qtbot, w)
        QTest.keyClick(w, Qt.Key.Key_Return)
    assert set(w.session.read.lesions) == {"T1", "T2"}


def _response(w) -> list[str]:
    table = w.response_panel.table
    return [table.item(table.rowCount() - 1, c).text() for c in range(table.columnCount())]


def test_reclicking_a_measured_lesion_at_follow_up_re_measures_it(qtbot, window):
    w = window
    _open(qtbot, w)
    _measure_baseline(qtbot, w)
    QTest.keyClick(w, Qt.Key.Key_BracketRight)
    qtbot.waitUntil(lambda: w.proposals_final_for == 1, timeout=15000)
    for lesion_id in ("T1", "T2"):
        w.session.select_lesion(lesion_id)
        QTest.keyClick(w, Qt.Key.Key_G)
        _wait_pending(qtbot, w)
        QTest.keyClick(w, Qt.Key.Key_Return)
    before = w.session.read.timepoints[1].assessments["T2"].measurements[0]
    assert _response(w)[7] == "PR"
    # a PR not yet confirmed is not the best response: the panel says why, under it
    bor = w.response_panel.bor_label.text()
    assert "RECIST 1.1 <b>SD</b>" in bor and "not confirmed" in bor.split("<br>")[1]

    # the reader clicks T2 again (T1 is selected, last accepted): the bar re-measures T2, never "new lesion"
    w.session.select_lesion("T1")
    _click_on(qtbot, w.current_viewer, _at_week6(1))
    _wait_pending(qtbot, w, organ=None)
    assert w.lesion_choice.currentData() == "T2"
    assert "re-measures T2" in w.decision_bar.label.text()
    # what Enter replaces is said (the last re-check: a click inside T1's outline offered to re-measure it with no
    # word of the 40.5 mm recorded)
    recorded = w.session.read.timepoints[1].assessments["T2"].measurements[0].long_axis_mm
    assert f"re-measures T2 ({mm(recorded)} mm now; Ctrl+Z undoes)" in w.decision_bar.label.toolTip()
    assert w.decision_bar.accept_btn.isEnabled()
    QTest.keyClick(w, Qt.Key.Key_Return)
    assert set(w.session.read.lesions) == {"T1", "T2"}
    t2 = w.session.read.timepoints[1].assessments["T2"]
    assert t2.status is LesionStatus.MEASURED and len(t2.measurements) == 1
    assert _response(w)[7] == "PR" and _response(w)[8] == "iPR"
    QTest.keyClick(w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo: the earlier measurement is back
    assert w.session.read.timepoints[1].assessments["T2"].measurements[0] == before

    # choosing "new lesion" on top of T2 asks first; "no" records nothing and turns the bar to T2
    questions: list[str] = []
    w.confirm = lambda q, default_no=False: questions.append(q) or False  # type: ignore[method-assign]
    _click_on(qtbot, w.current_viewer, _at_week6(1))
    _wait_pending(qtbot, w, organ=None)
    w.decision_bar.choose(Role.NEW)
    w.organ_choice.setCurrentText("liver")
    QTest.keyClick(w, Qt.Key.Key_Return)
    assert questions and "T2" in questions[0] and "SEPARATE" in questions[0]
    assert set(w.session.read.lesions) == {"T1", "T2"} and w.pending is not None
    assert w.lesion_choice.currentData() == "T2"
    assert _response(w)[7] == "PR"


def test_a_click_on_a_measured_baseline_lesion_re_measures_it(qtbot, window):
    w = window
    _open(qtbot, w)
    _measure_baseline(qtbot, w)
    _click_on(qtbot, w.current_viewer, LESIONS[0].centre_mm)
    _wait_pending(qtbot, w, organ=None)
    assert w.lesion_choice.currentData() == "T1"
    QTest.keyClick(w, Qt.Key.Key_Return)
    assert set(w.session.read.lesions) == {"T1", "T2"}


def test_a_new_lesion_organ_is_chosen_by_the_reader(qtbot, window):
    w = window
    _open(qtbot, w)
    _click_on(qtbot, w.current_viewer, LESIONS[0].centre_mm)
    _wait_pending(qtbot, w, organ=None)
    bar = w.decision_bar
    assert w.lesion_choice.currentData() is Role.TARGET and w.organ_choice.currentText() == ""
    assert not bar.accept_btn.isEnabled() and "organ" in bar.hint.text()
    QTest.keyClick(w, Qt.Key.Key_Return)  # Enter does not record it either
    assert not w.session.read.lesions and w.pending is not None
    assert "organ" in w.statusBar().currentMessage()
    w.organ_choice.setCurrentIndex(w.organ_choice.findText("lung"))
    assert bar.accept_btn.isEnabled() and bar.hint.text() == ""
    bar.accept_btn.click()
    assert w.session.read.lesions["T1"].organ == "lung"

    # the next new lesion starts without an organ again; a known lesion shows its own
    _click_on(qtbot, w.current_viewer, LESIONS[1].centre_mm)
    _wait_pending(qtbot, w, organ=None)
    assert w.organ_choice.currentText() == "" and not bar.accept_btn.isEnabled()
    w.decision_bar.choose("T1")
    assert w.organ_choice.currentText() == "lung" and bar.accept_btn.isEnabled()
    w.decision_bar.choose(Role.NON_TARGET)
    assert w.organ_choice.currentText() == "" and not bar.accept_btn.isEnabled()


def test_the_image_stays_put_when_the_bar_comes_and_goes(qtbot, window):
    w = window
    _open(qtbot, w)
    v = w.current_viewer
    QApplication.processEvents()
    geometry, view = v.geometry(), v.vb.viewRect()
    hint = w.decision_bar.idle_hint
    assert hint.isVisible() and "Click inside a lesion" in hint.text()  # the bar's place tells what to do
    _click_on(qtbot, v, LESIONS[0].centre_mm)
    _wait_pending(qtbot, w)
    QApplication.processEvents()
    assert w.decision_bar.isVisible() and not hint.isVisible()
    assert v.geometry() == geometry and v.vb.viewRect() == view
    QTest.keyClick(w, Qt.Key.Key_Escape)
    QApplication.processEvents()
    assert v.geometry() == geometry and v.vb.viewRect() == view
    assert hint.isVisible()

    # accepting a lesion that is on screen does not pan the image
    w.set_tool(w.current_viewer.tool.__class__("measure"))
    _click_on(qtbot, v, LESIONS[0].centre_mm)
    _wait_pending(qtbot, w)
    QTest.keyClick(w, Qt.Key.Key_Return)
    QApplication.processEvents()
    assert "T1" in w.session.read.lesions and v.vb.viewRect() == view

    # zoomed in, a lesion out of view is brought into view; F fits the whole image again
    QTest.keyClick(v, Qt.Key.Key_Plus)
    QTest.keyClick(v, Qt.Key.Key_Plus)
    zoomed = v.vb.viewRect()
    assert zoomed.width() < view.width()
    a, b = w.session.read.timepoints[0].assessments["T1"].measurements[0].long_axis_endpoints
    x, y, _ = v.patient_to_view(tuple((p + q) / 2 for p, q in zip(a, b, strict=True)))
    v.vb.translateBy(x=x - zoomed.left() + 10.0, y=0.0)  # the lesion is now left of the view
    assert not v.vb.viewRect().contains(QPointF(x, y))
    w.session.select_lesion(None)
    w.session.select_lesion("T1")
    assert v.vb.viewRect().contains(QPointF(x, y)) and np.isclose(v.vb.viewRect().width(), zoomed.width())
    QTest.keyClick(w, Qt.Key.Key_F)
    assert np.allclose([v.vb.viewRect().width(), v.vb.viewRect().height()], [view.width(), view.height()], rtol=1e-6)


class LowConfidenceSegmenter(ThresholdSegmenter):
    def segment(self, volume, seed_mm, hints=None, cancel=None):
        return dataclasses.replace(super().segment(volume, seed_mm, hints, cancel), confidence=0.2)


def test_a_low_confidence_suggestion_is_not_accepted_silently(qtbot, window):
    w = window
    w.measuring._segmenter = LowConfidenceSegmenter()
    _open(qtbot, w)
    questions: list[str] = []
    defaults_no: list[bool] = []
    answer = [False]

    def confirm(q: str, default_no: bool = False) -> bool:
        questions.append(q)
        defaults_no.append(default_no)
        return answer[0]

    w.confirm = confirm  # type: ignore[method-assign]
    _click_on(qtbot, w.current_viewer, LESIONS[0].centre_mm)
    _wait_pending(qtbot, w)
    # the diameters come first, on their own line; the doubt after them, "check" said once
    first, *rest = w.decision_bar.label.text().split("<br>")
    assert " mm" in first and "low confidence" not in first
    assert "low confidence" in rest[-1] and rest[-1].count("check") == 1
    QTest.keyClick(w, Qt.Key.Key_Return)
    assert questions and "not sure of this outline" in questions[0] and "Accept anyway?" in questions[0]
    assert defaults_no == [True]  # a second Enter on the dialog must not accept what the engine doubts
    assert not w.session.read.lesions and w.pending is not None  # "no": still waiting, nothing recorded
    answer[0] = True
    QTest.keyClick(w, Qt.Key.Key_Return)
    assert w.session.read.timepoints[0].assessments["T1"].measurements[0].origin is MeasurementOrigin.ACCEPTED

    # an adjusted outline is the reader's own decision: no question
    questions.clear()
    _click_on(qtbot, w.current_viewer, LESIONS[1].centre_mm)
    _wait_pending(qtbot, w)
    _, b = w.pending.measurement.long_axis_endpoints
    w.current_viewer.endpoint_moved.emit("long", 1, (b[0] + 1.0, b[1], b[2]))
    QTest.keyClick(w, Qt.Key.Key_Return)
    assert not questions and w.session.read.timepoints[0].assessments["T2"].measurements[0].origin.value == "adjusted"


def _draw_t2_by_hand(w) -> None:
    w.set_tool(w.current_viewer.tool.__class__("ruler"))
    cx, cy, cz = LESIONS[1].centre_mm
    v = w.current_viewer
    v.set_slice(v.patient_to_view(LESIONS[1].centre_mm)[2])
    ax, ay, _ = v.patient_to_view((cx - 12.0, cy, cz))
    bx, by, _ = v.patient_to_view((cx + 12.0, cy, cz))
    v._drag_line(ax, ay, bx, by, finished=True)


def test_a_hand_measurement_reads_mm_then_hand(qtbot, window):
    w = window
    _open(qtbot, w)
    _draw_t2_by_hand(w)
    w.organ_choice.setCurrentText("liver")
    QTest.keyClick(w, Qt.Key.Key_Return)
    assert w.lesion_table.item(0, 4).text() == "24.0 mm (hand)"


def test_the_keys_go_back_to_the_images_after_the_bar_and_the_worklist(qtbot, window):
    w = window
    _open(qtbot, w)
    v = w.current_viewer
    w.activateWindow()
    _draw_t2_by_hand(w)
    # the reader picks the organ from the combo box, then accepts with the button
    w.organ_choice.setFocus()
    w.organ_choice.setCurrentIndex(w.organ_choice.findText("liver"))
    w.organ_choice.activated.emit(w.organ_choice.currentIndex())
    w.decision_bar.accept_btn.setFocus()
    w.decision_bar.accept_btn.click()
    assert "T1" in w.session.read.lesions
    qtbot.waitUntil(lambda: QApplication.focusWidget() is v, timeout=2000)
    n = v.image_number()
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Down)
    assert v.image_number() == n + 1
    # a timepoint opened from the worklist: the arrows scroll its slices, not the worklist
    w.worklist.setFocus()
    item = w.worklist.topLevelItem(0).child(1)
    w.worklist.itemClicked.emit(item, 0)
    qtbot.waitUntil(lambda: w.volume(1) is not None, timeout=5000)
    assert QApplication.focusWidget() is v


def test_the_worklist_read_column_shows_in_full_beside_two_viewers(qtbot, window):
    w = window
    _open(qtbot, w)
    QTest.keyClick(w, Qt.Key.Key_BracketRight)
    qtbot.waitUntil(lambda: w.volume(1) is not None, timeout=5000)
    QApplication.processEvents()
    tree = w.worklist
    header = tree.header()
    for t in range(2):
        item = tree.topLevelItem(0).child(t)
        needed = tree.fontMetrics().horizontalAdvance(item.text(2))
        assert header.sectionSize(2) >= needed, item.text(2)
    assert header.sectionViewportPosition(2) + header.sectionSize(2) <= tree.viewport().width()


def test_the_shortcut_list_names_every_key(qtbot, window):
    w = window
    text = w.shortcuts_text()
    for key in ("Home", "End", "PgUp", "F1", "Ctrl+Z", "G", "Fit to window"):
        assert key in text, key
    assert "\n           F   " in text


def test_g_measures_the_selected_lesion_even_beside_a_measured_one(qtbot, window):
    from workstation.session.followup import LesionProposal

    w = window
    _open(qtbot, w)
    _measure_baseline(qtbot, w)
    QTest.keyClick(w, Qt.Key.Key_BracketRight)
    qtbot.waitUntil(lambda: w.proposals_final_for == 1, timeout=15000)
    w.session.select_lesion("T1")
    QTest.keyClick(w, Qt.Key.Key_G)
    _wait_pending(qtbot, w)
    QTest.keyClick(w, Qt.Key.Key_Return)
    # T2 proposed on top of T1 (as when two lesions touch): G still measures T2, and says what it lies on
    w.proposals = [LesionProposal("T2", _at_week6(0), "registration", 0)]
    w.session.select_lesion("T2")
    QTest.keyClick(w, Qt.Key.Key_G)
    _wait_pending(qtbot, w)
    assert w.lesion_choice.currentData() == "T2"
    assert "already measured here: check that this is T2" in w.decision_bar.label.text()


def test_typing_an_organ_then_enter_accepts_with_that_organ(qtbot, window):
    w = window
    _open(qtbot, w)
    w.activateWindow()
    _click_on(qtbot, w.current_viewer, LESIONS[0].centre_mm)
    _wait_pending(qtbot, w, organ=None)
    editor = w.organ_choice.lineEdit()
    editor.setFocus()
    QTest.keyClicks(editor, "lung")
    assert w.decision_bar.accept_btn.isEnabled()
    QTest.keyClick(editor, Qt.Key.Key_Return)
    assert w.session.read.lesions["T1"].organ == "lung" and w.pending is None


def test_choosing_the_organ_lymph_node_measures_the_suggestion_as_a_node(qtbot, window):
    """A new user clicked a node without pressing N and chose the organ "lymph node": the lesion was recorded by its
    long axis, not a node. Choosing that organ now marks it as a node and measures the waiting outline as one."""
    w = window
    _open(qtbot, w)
    _click_on(qtbot, w.current_viewer, LESIONS[0].centre_mm)
    _wait_pending(qtbot, w, organ=None)
    assert not w.node_check.isChecked() and not w.pending.suggestion.is_node
    w.organ_choice.setCurrentText("lymph node")
    assert w.node_check.isChecked()
    assert w.pending.suggestion.is_node and w.pending.measurement.origin is MeasurementOrigin.SUGGESTED
    assert "as a lymph node" in w.decision_bar.label.text()
    QTest.keyClick(w, Qt.Key.Key_Return)
    lesion = w.session.read.lesions["T1"]
    assert lesion.is_node and lesion.organ == "lymph node"
    m = w.session.read.timepoints[0].assessments["T1"].measurements[0]
    assert m.short_axis_mm is not None and m.short_axis_mm < m.long_axis_mm
    # unticking the box again is the reader's word against the organ: the session refuses and says why
    _click_on(qtbot, w.current_viewer, LESIONS[1].centre_mm)
    _wait_pending(qtbot, w, organ=None)
    w.organ_choice.setCurrentText("lymph node")
    w.node_check.setChecked(False)
    assert not w.pending.suggestion.is_node  # measured again as a lesion that is not a node
    QTest.keyClick(w, Qt.Key.Key_Return)
    assert "T2" not in w.session.read.lesions and w.pending is not None


def test_a_new_timepoint_opens_at_the_selected_lesion_and_its_row_takes_you_back(qtbot, window):
    """A new user moved to week 6 with T1 selected: both viewers opened at the middle slice, and clicking T1's row,
    already selected, did nothing. Now the follow-up opens at T1 (its proposed position; the baseline viewer at its
    baseline measurement), and a click on its row takes the viewers back after scrolling away."""
    w = window
    _open(qtbot, w)
    _measure_baseline(qtbot, w)
    # every lesion declared so far is assessed: not "done" (the subject may have more disease), but ready to sign
    baseline_row = w.worklist.topLevelItem(0).child(0)
    # without the trial database nothing can be signed: it is "read" (it said "to sign")
    assert baseline_row.text(2) == "● read" and "signing needs the trial database" in baseline_row.toolTip(2)
    assert baseline_row.toolTip(0) == f"{w.session.read.subject_id} · {baseline_row.text(0)}"  # in full, if elided
    w.worklist.signing = True  # as with --database
    w.worklist.update_status(0, w.session.read)
    assert baseline_row.text(2) == "● to sign" and "sign the timepoint" in baseline_row.toolTip(2)
    w.session.select_lesion("T1")
    w.current_viewer.set_slice(0)
    QTest.keyClick(w, Qt.Key.Key_BracketRight)
    qtbot.waitUntil(lambda: w.proposals_final_for == 1, timeout=15000)
    t1_slice = w.current_viewer.patient_to_view(_at_week6(0))[2]
    assert abs(w.current_viewer.slice_index - t1_slice) <= 1
    baseline_m = w.session.read.timepoints[0].assessments["T1"].measurements[0]
    assert (
        abs(w.compare_viewer.slice_index - w.compare_viewer.patient_to_view(baseline_m.long_axis_endpoints[0])[2])
        <= 1
    )
    w.current_viewer.set_slice(0)
    row = next(r for r in range(w.lesion_table.rowCount()) if w.lesion_table.item(r, 0).text() == "T1")
    w.lesion_table.cellClicked.emit(row, 0)
    assert abs(w.current_viewer.slice_index - t1_slice) <= 1


def test_the_engines_warnings_read_as_one_line_with_check_said_once():
    from workstation.ui.measuring_actions import warning_text

    text = warning_text([
        "low confidence (0.40): check the outline before accepting",
        "the outline spreads into a faint region: a leak into a neighbouring structure? check it",
        "weak boundary (contrast 9 HU, noise 12 HU): check the outline",
        "the edge there cannot be seen (a neighbouring organ or vessel?); check it",
    ])  # fmt: skip
    assert text.count("check") == 1 and text.endswith(": check the outline before accepting")
    assert "structure?" in text and "weak boundary (contrast 9 HU, noise 12 HU)" in text
    assert warning_text([]) == ""


def test_a_long_reason_does_not_make_the_response_table_scroll_for_ever(qtbot):
    """A new user needed ~30 clicks of the scroll bar to read a reason: its column now opens at a readable width,
    the whole sentence in the cell's tooltip."""
    from workstation.session.response import CriteriaResponse, ResponseSummary
    from workstation.ui.response_panel import COLUMNS, REASON_WIDTH_PX, ResponsePanel

    panel = ResponsePanel()
    qtbot.addWidget(panel)
    reason = "PR: the sum fell 36 % from baseline " + "and so on " * 40
    row = {"label": "week 6", "sum_mm": 30.0, "overall_response": "PR", "reason": reason}
    panel.show_summary(ResponseSummary(CriteriaResponse("RECIST 1.1", [row], "SD"), CriteriaResponse("iRECIST", [row])))
    col = len(COLUMNS) - 2
    assert panel.table.horizontalHeader().sectionSize(col) == REASON_WIDTH_PX
    assert panel.table.item(0, col).toolTip() == reason


def test_python_dash_m_starts_the_workstation() -> None:
    """``python -m workstation.ui`` is the app (not ``python -m workstation``: Qt lives in workstation.ui only)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-m", "workstation.ui", "--help"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("usage: recist-workstation")


def test_a_lesion_declared_with_nothing_waiting_never_takes_the_last_lesions_organ(qtbot, window):
    """Shift+N after accepting a target: the organ is asked for (here: no answer, so nothing is declared); it took the
    organ still in the hidden decision bar (a radiologist's non-target was recorded in the target's organ)."""
    w = window
    _open(qtbot, w)
    _measure_baseline(qtbot, w)
    assert w.decision_bar.isHidden() and w.decision_bar.organ()  # the accepted lesion's organ is still in the box
    w.declare_lesion(Role.NON_TARGET)
    assert set(w.session.read.lesions) == {"T1", "T2"}
    assert "no organ chosen" in w.statusBar().currentMessage()


def test_a_non_target_declared_after_a_click_is_proposed_there_at_follow_up(qtbot, window, monkeypatch):
    """A bone lesion the engine cannot outline: click it, Shift+N, choose the organ; at follow-up it is proposed
    where it was clicked (it stored no position, so it was never marked again)."""
    from PyQt6.QtWidgets import QInputDialog

    w = window
    _open(qtbot, w)
    _measure_baseline(qtbot, w)
    where = (LESIONS[0].centre_mm[0] + 25.0, LESIONS[0].centre_mm[1] + 25.0, LESIONS[0].centre_mm[2])
    _click_on(qtbot, w.current_viewer, where)
    qtbot.waitUntil(lambda: not w.jobs.busy, timeout=15000)  # "no lesion under the click": a non-measurable lesion
    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(lambda *_args: ("bone", True)))
    w.auto_answer = None
    QTest.keyClick(w, Qt.Key.Key_N, Qt.KeyboardModifier.ShiftModifier)
    w.auto_answer = True
    nt = w.session.read.timepoints[0].assessments["NT1"]
    assert w.session.read.lesions["NT1"].organ == "bone" and nt.measurements == []
    assert np.allclose(nt.point_mm, where, atol=1.0)  # the click, to the pixel
    w.auto_answer = None
    QTest.keyClick(w, Qt.Key.Key_N, Qt.KeyboardModifier.ShiftModifier)  # again, with no new click: no place known
    w.auto_answer = True
    assert w.session.read.timepoints[0].assessments["NT2"].point_mm is None
    QTest.keyClick(w, Qt.Key.Key_BracketRight)
    qtbot.waitUntil(lambda: w.proposals_final_for == 1, timeout=15000)
    proposed = {p.lesion_id for p in w.proposals}
    assert proposed == {"T1", "T2", "NT1"}  # NT2: nowhere to propose it
    # set present from the status box, without a click: it was seen where it is proposed (it had no place at week 6)
    w.session.select_lesion("NT1")
    w.status_combo.setCurrentIndex(w.status_combo.findData(LesionStatus.PRESENT))
    w.status_combo.activated.emit(w.status_combo.currentIndex())  # as the reader's choice does
    (nt1,) = [p for p in w.proposals if p.lesion_id == "NT1"]
    seen = w.session.read.timepoints[1].assessments["NT1"]
    assert seen.status is LesionStatus.PRESENT and np.allclose(seen.point_mm, nt1.point_mm)
    # the same from the lesion table's right-click menu (it stored no position: no mark at that visit)
    w.session.clear_assessment("NT1")
    menu = w.lesion_table.lesion_menu("NT1")
    status_menu = next(a.menu() for a in menu.actions() if a.menu() and a.menu().title().startswith("Status"))
    next(a for a in status_menu.actions() if a.text() == "present").trigger()
    seen = w.session.read.timepoints[1].assessments["NT1"]
    assert seen.status is LesionStatus.PRESENT and np.allclose(seen.point_mm, nt1.point_mm)


def test_a_waiting_outline_declared_a_non_target_and_found_again_at_follow_up(qtbot, window):
    """Shift+N with an outline waiting declares the non-target there and the outline goes (it stayed offered as a new
    target); at follow-up G on the non-target offers it as itself (only new lesion and targets were offered, and a
    radiologist recorded a new lesion on top of it: PD)."""
    w = window
    _open(qtbot, w)
    _click_on(qtbot, w.current_viewer, LESIONS[0].centre_mm)
    _wait_pending(qtbot, w)
    centre = w.pending.measurement.centre_mm()
    QTest.keyClick(w, Qt.Key.Key_N, Qt.KeyboardModifier.ShiftModifier)
    assert w.pending is None and w.decision_bar.isHidden()
    nt = w.session.read.timepoints[0].assessments["NT1"]
    assert w.session.read.lesions["NT1"].role is Role.NON_TARGET and nt.point_mm == centre and not nt.measurements
    viewer = w.current_viewer
    viewer.set_slice(viewer.patient_to_view(centre)[2])
    assert len(viewer.seen_item.getData()[0]) == 1  # a ring where it was seen, on its slice
    QTest.keyClick(w, Qt.Key.Key_BracketRight)
    qtbot.waitUntil(lambda: w.proposals_final_for == 1, timeout=15000)
    w.session.select_lesion("NT1")
    QTest.keyClick(w, Qt.Key.Key_G)  # a non-target is seen, not measured: G records it at once, no outline waits
    assert w.pending is None and "NT1 present at the proposed position" in w.statusBar().currentMessage()
    at_week6 = w.session.read.timepoints[1].assessments["NT1"]
    assert at_week6.status is LesionStatus.PRESENT and at_week6.point_mm is not None and not at_week6.measurements
    assert [lid for lid in w.session.read.lesions if lid.startswith("N") and lid != "NT1"] == []  # no new lesion
    # in unequivocal progression, its place is kept, and placing it again keeps the progression (a radiologist's click
    # on a progressing non-target, then Enter, set it "present": an iUPD became iSD)
    w.session.set_status("NT1", LesionStatus.UNEQUIVOCAL_PROGRESSION)
    assert w.session.read.timepoints[1].assessments["NT1"].point_mm == at_week6.point_mm
    w.session.select_lesion("NT1")
    QTest.keyClick(w, Qt.Key.Key_G)
    assert "NT1 unequivocal progression at the proposed position" in w.statusBar().currentMessage()
    assert w.session.read.timepoints[1].assessments["NT1"].status is LesionStatus.UNEQUIVOCAL_PROGRESSION


def test_the_axis_lengths_of_a_small_node_do_not_overlap(qtbot, window):
    """The long axis's length is written beyond its second end, the short axis's beyond its first (both were written
    at their second ends, which on a small node lie close together)."""
    w = window
    _open(qtbot, w)
    viewer = w.current_viewer
    x, y, z = LESIONS[0].centre_mm
    long_axis = ((x - 6.0, y, z), (x + 6.0, y, z))
    short_axis = ((x, y - 4.5, z), (x, y + 4.5, z))
    viewer.set_pending(long_axis, short_axis)
    labels = [item for item in viewer._pending_items if hasattr(item, "textItem")]
    assert [label.textItem.toPlainText() for label in labels] == ["12.0 mm", "9.0 mm"]
    first, second = (label.sceneBoundingRect() for label in labels)
    assert not first.intersects(second)


def test_what_a_radiologist_missed_after_a_click(qtbot, window):
    """A radiologist's findings: the lymph-node flag stayed on after Esc, so the next lesions clicked elsewhere were
    measured as nodes; "no lesion found" showed only briefly in the status bar, cut off before its advice; and a
    suggestion waiting was replaced by the next click without a word."""
    w = window
    _open(qtbot, w)
    idle = w.decision_bar.idle_hint.text()
    w._toggle_node()
    _click_on(qtbot, w.current_viewer, LESIONS[0].centre_mm)
    _wait_pending(qtbot, w, organ=None)
    assert w.pending.suggestion.is_node
    w.reject_pending()
    assert not w.node_check.isChecked()
    assert "lymph-node flag is off again" in w.statusBar().currentMessage()
    # a click where no lesion is: the reason and what to do stay below the images, whole, until the next click
    w.set_tool(Tool.MEASURE)  # Esc left the ruler on, to draw by hand
    background = (LESIONS[0].centre_mm[0] + 40.0, LESIONS[0].centre_mm[1], LESIONS[0].centre_mm[2])
    _click_on(qtbot, w.current_viewer, background)
    qtbot.waitUntil(lambda: "no lesion under the click" in w.decision_bar.idle_hint.text(), timeout=5000)
    assert "draw it by hand: R (ruler) or B (bidirectional)" in w.decision_bar.idle_hint.text()
    _click_on(qtbot, w.current_viewer, LESIONS[0].centre_mm)
    _wait_pending(qtbot, w, organ=None)
    assert w.decision_bar.idle_hint.text() == idle and not w.pending.suggestion.is_node
    # a second click while that suggestion waits: the reader is told it was not accepted
    _click_on(qtbot, w.current_viewer, LESIONS[1].centre_mm)
    qtbot.waitUntil(lambda: "waiting before was not accepted" in w.statusBar().currentMessage(), timeout=5000)
    assert w.session.read.lesions == {}


def test_the_keys_go_back_to_the_images_after_the_export_dialog(qtbot, window, monkeypatch):
    """Ctrl+Z did nothing after Ctrl+E until the reader clicked the image: the folder dialog left the focus away."""
    from PyQt6.QtWidgets import QFileDialog

    w = window
    _open(qtbot, w)
    w.activateWindow()
    w.worklist.setFocus()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: ""))  # the reader cancels
    w.choose_export_folder()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is w.current_viewer, timeout=2000)


class WordySegmenter(ThresholdSegmenter):
    """Low confidence, with the engines' longest kind of warnings."""

    WARNINGS = (
        "the two engines disagree on this outline (overlap Dice 0.41); this one is the monai engine's: check it",
        "tissue of the lesion's own density carries on from the outline (3.2 times its volume within 8 mm): the "
        "lesion may be larger, or touch a neighbour it cannot be told from; check it",
        "the outline spreads into a faint region (23% of it more than 2 mm outside the clearly detected lesion): a "
        "leak into a neighbouring structure? check it",
    )

    def segment(self, volume, seed_mm, hints=None, cancel=None):
        result = super().segment(volume, seed_mm, hints, cancel)
        return dataclasses.replace(result, confidence=0.2, warnings=list(self.WARNINGS))


def test_a_long_warning_is_shortened_to_the_bar_and_whole_in_its_tooltip(qtbot, window):
    """A radiologist: long warnings lost their third line behind the organ row of the bar. Now the warning is cut to
    the lines left (with …) and the tooltip holds every word."""
    w = window
    w.measuring._segmenter = WordySegmenter()
    _open(qtbot, w)
    w.show()
    _click_on(qtbot, w.current_viewer, LESIONS[0].centre_mm)
    _wait_pending(qtbot, w)
    label = w.decision_bar.label
    shown = label.text().split("<br>")
    assert len(shown) == 2 and shown[1].endswith("…")
    assert "leak into a neighbouring structure" in label.toolTip() and "leak into" not in label.text()
    warning = html.unescape(shown[1])  # as the label shows it (rich text)
    lines = label.fontMetrics().boundingRect(0, 0, label.width(), 10_000, Qt.TextFlag.TextWordWrap, warning)
    assert lines.height() <= 2 * label.fontMetrics().lineSpacing() + 2  # it fits the two lines left to it


def test_the_doubt_keeps_a_line_of_its_own_under_three_head_lines(qtbot, window):
    """A radiologist: a click on normal liver next to T1 gave a doubtful outline "on the outline of T1", whose third
    head line pushed the low-confidence warning to a fourth line the bar cut off, unseen. The bar keeps four lines
    (the laptop radiologist's re-check: growing a line for it moved the images)."""
    w = window
    w.show()
    bar = w.decision_bar
    bar.describe(["<b>43.8 × 26.0 mm</b>", "→ T1", "↻ on the outline of T1: Enter re-measures T1"],
                 "low confidence (0.07): the outline spreads into a faint region")
    shown = bar.label.text().split("<br>")
    assert len(shown) == 4 and shown[3].startswith("⚠ low confidence")
    grown = bar.height()
    assert bar.label.height() >= 4 * bar.label.fontMetrics().lineSpacing()
    bar.describe(["<b>30.0 × 20.0 mm</b>", "→ T1"], "")
    assert bar.height() == grown == bar.idle_hint.height()  # the same four lines: the images stay put
