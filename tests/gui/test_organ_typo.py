"""An organ typed that is in no list nor in the read (a misspelt "livr") is asked about before it is recorded: it
would count as an organ of its own for the 2 targets per organ (the radiologist's finding)."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtTest import QTest

from tests.gui.conftest import LESIONS
from tests.gui.test_reading_flow import _click_on, _open, _wait_pending
from workstation.read_model import Role


def test_a_misspelt_organ_is_asked_about_and_a_listed_or_coded_one_is_not(qtbot, window):
    w = window
    _open(qtbot, w)
    questions: list[str] = []
    answer = [False]
    w.confirm = lambda q, default_no=False: questions.append(q) or answer[0]  # type: ignore[method-assign]
    _click_on(qtbot, w.current_viewer, LESIONS[0].centre_mm)
    _wait_pending(qtbot, w, organ=None)
    w.decision_bar.choose(Role.TARGET)
    w.organ_choice.setCurrentText("livr")
    QTest.keyClick(w, Qt.Key.Key_Return)
    assert len(questions) == 1 and "'livr' is not in the list of organs" in questions[0]
    assert not w.session.read.lesions and w.pending is not None  # nothing recorded, the outline still waits
    w.organ_choice.setCurrentText("Liver")
    QTest.keyClick(w, Qt.Key.Key_Return)
    assert len(questions) == 1 and [les.organ for les in w.session.read.lesions.values()] == ["Liver"]

    _click_on(qtbot, w.current_viewer, LESIONS[1].centre_mm)
    _wait_pending(qtbot, w, organ=None)
    w.decision_bar.choose(Role.TARGET)
    w.organ_choice.setCurrentText("spleen")  # not in the short list, but a coded organ: no question
    QTest.keyClick(w, Qt.Key.Key_Return)
    assert len(questions) == 1 and len(w.session.read.lesions) == 2
