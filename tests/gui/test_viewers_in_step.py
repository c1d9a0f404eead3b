"""The two viewers in step: the zoom of one is the other's while 'keep in step' is ticked, and the window box says
"custom" for a window dragged off every preset (the radiologist's findings: the zoom was not linked; the box said
"Soft tissue" at W 587 L -53)."""

from __future__ import annotations

import dataclasses

import pytest

from tests.gui.test_new_user_findings import _measure_baseline
from tests.gui.test_reading_flow import _open, _wait_pending


def test_zoom_is_linked_while_in_step_and_the_window_box_names_only_a_preset(qtbot, window):
    w = window
    _open(qtbot, w)
    w.go_to_timepoint(1)
    qtbot.waitUntil(lambda: w.volume(1) is not None, timeout=15000)
    cur, base = w.current_viewer, w.compare_viewer
    base.set_zoom(cur.mm_per_pixel())
    cur.zoom(2.0)
    assert base.mm_per_pixel() == pytest.approx(cur.mm_per_pixel(), rel=1e-3)
    w.sync_check.setChecked(False)
    before = base.mm_per_pixel()
    cur.zoom(2.0)
    assert base.mm_per_pixel() == pytest.approx(before, rel=1e-6)

    cur.set_window(587.0, -53.0)
    assert w.preset_combo.currentIndex() == -1 and w.preset_combo.placeholderText() == "custom"
    w.apply_preset("Lung")
    assert w.preset_combo.currentText() == "Lung"


def test_zoom_keys_work_after_a_drag_gave_the_view_box_the_keyboard(qtbot, window):
    """The re-check's finding: after a right-drag (window) or a pan, + and - did nothing until F: pyqtgraph's view
    box had the keyboard and took them for its own empty zoom history."""
    from PyQt6.QtCore import Qt
    from PyQt6.QtTest import QTest

    w = window
    _open(qtbot, w)
    v = w.current_viewer
    v.view.setFocus()
    v.vb.setFocus()  # as a drag on it leaves it
    before = v.mm_per_pixel()
    QTest.keyClick(v.view, Qt.Key.Key_Plus)
    assert v.mm_per_pixel() < before * 0.9
    n = v.image_number()
    QTest.keyClick(v.view, Qt.Key.Key_Down)
    assert v.image_number() == n + 1


def test_a_click_on_a_lesion_row_leaves_the_arrows_with_the_images(qtbot, window):
    """The re-check: after a click on a row of the Lesions table the arrows moved its selection (both viewers jumped
    to the next lesion) instead of scrolling the images."""
    from PyQt6.QtCore import Qt
    from PyQt6.QtTest import QTest
    from PyQt6.QtWidgets import QApplication

    w = window
    _open(qtbot, w)
    _measure_baseline(qtbot, w)
    table = w.lesion_table
    w.current_viewer.setFocus()
    rect = table.visualItemRect(table.item(0, 0))
    QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert w.session.selected_lesion == "T1" and QApplication.focusWidget() is not table
    n = w.current_viewer.image_number()
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Down)
    assert w.session.selected_lesion == "T1" and w.current_viewer.image_number() == n + 1


def test_the_baseline_lesion_stays_beside_a_suggestion_that_moved_the_follow_up(qtbot, window):
    """The re-check: when the suggestion took the follow-up 2-3 slices away from the click, the baseline viewer, kept
    in step by position, followed it to a slice without the lesion."""
    from PyQt6.QtCore import Qt
    from PyQt6.QtTest import QTest

    w = window
    _open(qtbot, w)
    _measure_baseline(qtbot, w)
    measured = w.session.read.timepoints[0].assessments["T1"].measurements[0].long_axis_endpoints
    QTest.keyClick(w, Qt.Key.Key_BracketRight)
    qtbot.waitUntil(lambda: w.proposals_final_for == 1, timeout=15000)
    base = w.compare_viewer
    k_lesion = round(float(base.volume.patient_to_voxel(measured[0])[0]))
    w.session.select_lesion("T1")
    QTest.keyClick(w, Qt.Key.Key_G)
    _wait_pending(qtbot, w)
    assert abs(base.slice_index - k_lesion) <= 1
    # an outline whose longest diameter lies 4 slices away: the follow-up jumps there, the baseline stays on T1
    moved = dataclasses.replace(w.pending.suggestion, slice_index=w.pending.suggestion.slice_index + 4)
    w._suggested(moved)
    assert w.current_viewer.slice_index == moved.slice_index
    assert abs(base.slice_index - k_lesion) <= 1
