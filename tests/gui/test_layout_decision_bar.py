"""The decision bar on a narrow window (a radiologist's 1366 x 768 laptop with the docks, a 2560 x 1440 screen at
200 %): its choices were squeezed onto one line, "new targe", "lymph noc", "split fragm", "⚠ choose its o"; the
engine's doubt was cut through the middle of a line. Now the choices wrap onto more lines, each at its full width,
and the description is as high as its text."""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from PyQt6.QtWidgets import QApplication, QComboBox, QVBoxLayout, QWidget

from tests.gui.conftest import LESIONS
from tests.gui.test_new_user_findings import WordySegmenter
from tests.gui.test_reading_flow import _click_on, _open, _wait_pending
from workstation.read_model import Lesion, Read, Role, TimepointRead
from workstation.session.reading import ReadingSession
from workstation.ui.decision_bar import DESCRIPTION_LINES, DecisionBar

#: what the bar says beside the choices while a new lesion has no organ
ORGAN_HINT = "⚠ choose its organ"


def _assert_whole(bar: DecisionBar) -> None:
    """Every control of the bar at its full width, inside the bar, none over another."""
    controls = [bar.lesion_choice, bar.organ_choice, bar.node_check, bar.fragment_check, bar.hint, bar.accept_btn,
                bar.reject_btn, bar.label]
    for c in controls:
        assert c.isVisible() and bar.contentsRect().contains(c.geometry()), (c, c.geometry(), bar.contentsRect())
        if c is not bar.label:
            assert c.width() >= c.sizeHint().width(), (c, c.width(), c.sizeHint())
    for combo in (bar.lesion_choice, bar.organ_choice):
        assert isinstance(combo, QComboBox)
        longest = max(combo.fontMetrics().horizontalAdvance(combo.itemText(n)) for n in range(combo.count()))
        assert combo.width() >= max(combo.minimumSizeHint().width(), longest), combo.currentText()
    for a, b in itertools.combinations(controls, 2):
        assert not a.geometry().intersects(b.geometry()), (a, b)
    # the description: as high as its text at its width, never a line cut through
    assert bar.label.heightForWidth(bar.label.width()) <= bar.label.height()


def test_the_bar_keeps_its_controls_whole_on_a_1366_px_window(qtbot, window):
    w = window
    w.measuring._segmenter = WordySegmenter()  # low confidence, with long reasons
    w.resize(1366, 768)
    _open(qtbot, w)
    QApplication.processEvents()
    v = w.current_viewer
    geometry = v.geometry()
    _click_on(qtbot, v, LESIONS[0].centre_mm)
    _wait_pending(qtbot, w, organ=None)  # a new lesion without its organ yet: the hint says so
    QApplication.processEvents()
    bar = w.decision_bar
    assert bar.isVisible() and bar.width() < 760  # beside the worklist and the lesion table
    assert bar.hint.text() == ORGAN_HINT and bar.hint.width() >= bar.hint.fontMetrics().horizontalAdvance(ORGAN_HINT)
    _assert_whole(bar)
    shown = bar.label.text().split("<br>")
    assert shown[-1].startswith("⚠ low confidence") and "leak into a neighbouring structure" in bar.label.toolTip()
    assert v.geometry() == geometry  # the bar takes the place of the hint below the images, at the same height


@pytest.fixture
def session() -> ReadingSession:
    read = Read(subject_id="S1", reader="r", timepoints=[TimepointRead("baseline", date(2026, 1, 5)),
                                                         TimepointRead("week 6", date(2026, 2, 16))])
    s = ReadingSession(read)
    read.lesions["T1"] = Lesion("T1", Role.TARGET, "liver")
    read.lesions["NT1"] = Lesion("NT1", Role.NON_TARGET, "mediastinal lymph node", is_node=True)
    return s


def _bar_in_place(qtbot, width: int) -> tuple[QWidget, DecisionBar]:
    """A bar laid out as the window does: the hint below the images in its place while no measurement waits (the
    place is returned too: it owns the bar)."""
    place = QWidget()
    layout = QVBoxLayout(place)
    bar = DecisionBar()
    layout.addWidget(bar.idle_hint)
    layout.addWidget(bar)
    layout.addStretch(1)
    qtbot.addWidget(place)
    place.resize(width, 400)
    place.show()
    QApplication.processEvents()
    return place, bar


@pytest.mark.parametrize("width", [420, 484, 640, 900, 1400])
def test_the_choices_wrap_onto_more_lines_at_their_full_width(qtbot, session, width):
    """From the narrowest place the window leaves the bar to a wide screen, with a non-target's long name in the
    lesion box; laid out as the window does, the hint below the images in the bar's place while none waits."""
    _place, bar = _bar_in_place(qtbot, width)
    bar.offer(["<b>Suggested</b>: 31.0 × 19.0 mm", "→ T1"], "", session, "NT1")
    QApplication.processEvents()
    assert abs(bar.width() - width) < 30 and "non-target" in bar.lesion_choice.currentText()
    _assert_whole(bar)
    choices = [c.geometry() for c in (bar.lesion_choice, bar.organ_choice, bar.node_check, bar.fragment_check,
                                      bar.hint)]
    one_line = all(a.top() <= b.bottom() and b.top() <= a.bottom() for a, b in itertools.combinations(choices, 2))
    assert one_line == (width == 1400)
    # the hint takes the bar's height with it (the lines of this offer's lesion box): gone, the images keep their place
    assert bar.height() == bar.idle_hint.height()


def test_the_bar_is_as_high_for_any_packing_of_the_same_number_of_lines(qtbot):
    """Which controls share a line changed the bar's height by 5 px (a combo box moving onto the checkboxes' line),
    so the hint, fitted to one packing, was lower than the bar shown with another: the images moved."""
    bar = DecisionBar()
    qtbot.addWidget(bar)
    heights: dict[int, set[int]] = {}
    for width in range(300, 1500, 10):
        bar._wrap(width)
        heights.setdefault(len(bar._packing), set()).add(bar.height())
    assert len(heights) >= 3 and all(len(h) == 1 for h in heights.values()), heights


@pytest.mark.parametrize("width", [560, 900])
def test_a_re_measure_with_a_doubt_keeps_the_bar_at_its_height(qtbot, session, width):
    """The laptop radiologist's re-check: a re-measure's "↻ on the outline of T4: Enter re-measures T4 ..." ran to
    a second line, the bar grew past the hint's place and the images moved away from the line just drawn."""
    _place, bar = _bar_in_place(qtbot, width)
    head = ["<b>Drawn by hand</b>: 31.0 × 19.0 mm",
            "↻ on the outline of T1: Enter re-measures T1 (Ctrl+Z undoes)"]
    bar.offer(head, "low confidence 0.41: the outline may leak into a neighbouring structure", session, "T1")
    QApplication.processEvents()
    spacing = bar.label.fontMetrics().lineSpacing()
    assert bar.label.height() <= DESCRIPTION_LINES * spacing + 2  # the lines the hint keeps place for
    bar.setVisible(False)
    QApplication.processEvents()
    assert bar.idle_hint.height() == bar.height()
    assert "re-measures T1" in bar.label.toolTip() and "neighbouring structure" in bar.label.toolTip()
