"""Reading from the keyboard, as a radiologist on a laptop does (their findings: a new lesion's organ could only be
chosen with the mouse, the window opened larger than the screen, Ctrl+Y was missing from the shortcut list)."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import QApplication

from tests.gui.conftest import LESIONS
from tests.gui.test_reading_flow import _click_on, _open


def test_o_takes_the_keys_to_the_organ_box_and_enter_then_accepts(qtbot, window):
    w = window
    _open(qtbot, w)
    _click_on(qtbot, w.current_viewer, LESIONS[0].centre_mm)
    qtbot.waitUntil(lambda: w.pending is not None, timeout=5000)
    assert w.decision_bar.missing() is not None  # a new lesion: its organ first
    QTest.keyClick(w, Qt.Key.Key_O)
    assert QApplication.focusWidget() in (w.organ_choice, w.organ_choice.lineEdit())
    w.organ_choice.lineEdit().clear()
    QTest.keyClicks(QApplication.focusWidget(), "liver")  # typed into the box, not the tools' shortcuts (r: ruler)
    assert w.current_viewer.tool.name == "MEASURE"
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)
    assert w.organ_choice.currentText() == "liver"
    if w.pending is not None:  # Enter chose the organ; the next one accepts
        QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)
    assert w.pending is None and w.session.read.lesions["T1"].organ == "liver"


def test_the_window_fits_a_laptop_screen_and_every_shortcut_of_an_action_is_listed(qtbot, window):
    w = window
    room = w.screen().availableGeometry()  # the offscreen test screen: 800 x 800, under the docks' least widths
    least = w.minimumSizeHint()
    for _ in range(2):
        assert w.width() <= max(room.width(), least.width()) and w.height() <= max(room.height(), least.height())
        w._fit_to_screen(99999, 99999)
    assert w.minimumSizeHint().width() <= 1280  # a 1280 x 720 laptop, or 2560 px at 200 % (it was 1291 and more)
    text = w.shortcuts_text()
    assert "Ctrl+Shift+Z / Ctrl+Y" in text and "Choose the organ" in text


def test_a_click_just_beside_an_end_of_the_waiting_measurement_does_not_throw_it_away(qtbot, window):
    """The laptop radiologist's finding: a drag that just missed an end's handle counted as a click, and the waiting
    30 mm suggestion was replaced, without a word, by a 106 mm one of low confidence."""
    w = window
    _open(qtbot, w)
    _click_on(qtbot, w.current_viewer, LESIONS[0].centre_mm)
    qtbot.waitUntil(lambda: w.pending is not None, timeout=5000)
    waiting = w.pending
    end = waiting.measurement.long_axis_endpoints[0]
    step = 6 * w.current_viewer.mm_per_pixel()  # 6 screen pixels beside it, on the same slice
    _click_on(qtbot, w.current_viewer, (end[0] + step, end[1], end[2]))
    assert w.pending is waiting and not w.jobs.busy
    assert "to move an end of the measurement waiting, drag it" in w.statusBar().currentMessage()
    _click_on(qtbot, w.current_viewer, LESIONS[1].centre_mm)  # elsewhere: measured there, as before
    qtbot.waitUntil(lambda: w.pending is not None and w.pending is not waiting, timeout=5000)


def test_tab_in_a_question_answered_no_by_default_never_arms_yes(qtbot, window):
    """The laptop radiologist's re-check: Enter on a doubted outline asked "accept anyway?" (No the default); their
    next-lesion key, Tab, moved the focus to Yes, and the Enter after G accepted the outline unnoticed."""
    from PyQt6.QtWidgets import QMessageBox

    box = window.question_box("The engine doubts this outline. Accept it anyway?", default_no=True)
    qtbot.addWidget(box)
    box.show()
    qtbot.waitExposed(box)
    no = box.button(QMessageBox.StandardButton.No)
    yes = box.button(QMessageBox.StandardButton.Yes)
    no.setFocus()
    for _ in range(3):
        QTest.keyClick(box.focusWidget() or no, Qt.Key.Key_Tab)
        assert box.focusWidget() is not yes
    QTest.keyClick(box.focusWidget() or no, Qt.Key.Key_Return)
    assert box.clickedButton() is no


def test_o_on_a_re_measure_says_where_the_organ_is_changed(qtbot, window):
    """The re-check: for a follow-up re-measure the organ box is disabled; O did nothing, without a word, and the
    organ typed next ran the shortcuts (r the ruler, c the scan beside)."""
    from tests.gui.test_new_user_findings import _measure_baseline

    w = window
    _open(qtbot, w)
    _measure_baseline(qtbot, w)
    QTest.keyClick(w, Qt.Key.Key_BracketRight)
    qtbot.waitUntil(lambda: w.proposals_final_for == 1, timeout=15000)
    w.session.select_lesion("T1")
    assert "T1" in [name for name, _ in w.current_viewer._proposals]
    QTest.keyClick(w, Qt.Key.Key_G)
    qtbot.waitUntil(lambda: w.pending is not None, timeout=5000)
    # its + gives way to the outline waiting (the last re-check: it stayed under it 4 times in 6)
    assert "T1" not in [name for name, _ in w.current_viewer._proposals]
    QTest.keyClick(w, Qt.Key.Key_O)
    assert w.statusBar().currentMessage().startswith("T1's organ (liver) was recorded when it was declared")
