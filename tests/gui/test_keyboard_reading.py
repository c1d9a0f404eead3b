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
    text = w.shortcuts_text()
    assert "Ctrl+Shift+Z / Ctrl+Y" in text and "Choose the organ" in text
