"""The worklist's names in full beside the date and the read status: at 200 % the dock shrank to the view's least
width and the timepoints read "ba…ne", "we…12"; at 100 % a central-review pseudonym read "BICR…KZ7W"."""

from __future__ import annotations

import pytest
from PyQt6.QtWidgets import QApplication, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from tests.gui.conftest import phantom_subject
from workstation.session.worklist import SubjectEntry
from workstation.ui.worklist_view import WorklistView

PSEUDONYM = "BICR-5V5WKZ7W"


def _subject() -> SubjectEntry:
    s = phantom_subject(PSEUDONYM)
    s.timepoints[1].label = "Follow-up 12"
    return s


def _assert_in_full(tree: QTreeWidget) -> None:
    """Every name in the first column wider than its text and its indentation; the date and read status in view."""
    header = tree.header()
    fm = tree.fontMetrics()

    def check(item: QTreeWidgetItem, depth: int) -> None:
        needed = fm.horizontalAdvance(item.text(0)) + (depth + 1) * tree.indentation()  # the branch, then the text
        assert header.sectionSize(0) >= needed, (item.text(0), header.sectionSize(0), needed)
        for c in (1, 2):
            assert header.sectionSize(c) >= fm.horizontalAdvance(item.text(c)), item.text(c)
        for n in range(item.childCount()):
            check(item.child(n), depth + 1)

    for n in range(tree.topLevelItemCount()):
        check(tree.topLevelItem(n), 0)
    assert header.sectionSize(0) >= tree.sizeHintForColumn(0)  # as the delegate draws it: not elided
    assert header.sectionViewportPosition(2) + header.sectionSize(2) <= tree.viewport().width()
    assert tree.horizontalScrollBar().value() == 0


def test_a_pseudonym_and_a_follow_up_in_full_on_the_narrowest_window(qtbot, window):
    w = window
    w.open_subjects([_subject()])
    QApplication.processEvents()
    w.resize(w.minimumSizeHint().width(), 700)  # as narrow as it goes: the worklist dock at its least
    QApplication.processEvents()
    tree = w.worklist
    assert tree.topLevelItem(0).text(0) == PSEUDONYM and tree.topLevelItem(0).child(1).text(0) == "Follow-up 12"
    _assert_in_full(tree)


@pytest.mark.parametrize(("days", "locked"), [(False, False), (False, True), (True, False)])
def test_the_view_is_never_narrower_than_its_columns(qtbot, days, locked):
    """In a dock of the window's least width (230 px), whatever the status and date say."""
    place = QWidget()
    layout = QVBoxLayout(place)
    layout.setContentsMargins(0, 0, 0, 0)
    tree = WorklistView()
    tree.setMinimumWidth(230)  # the window's
    tree.dates_as_days = days
    layout.addWidget(tree)
    qtbot.addWidget(place)
    place.resize(230, 300)
    place.show()
    subject = _subject()
    tree.show_subjects([subject], {}, {PSEUDONYM: "locked for analysis"} if locked else None)
    place.resize(230, 300)
    QApplication.processEvents()
    assert ("■ locked" in tree.topLevelItem(0).child(1).text(2)) == locked
    _assert_in_full(tree)
