"""Accepting a suggestion, as every reader (central or site) does it: the outline is written by the worker and kept
only for a recorded measurement (no orphan mask after a reject, a second click or a refused accept); the status bar
names the diameter RECIST counts (a node's short axis)."""

from __future__ import annotations

from pathlib import Path

from tests.gui.conftest import LESIONS
from tests.gui.test_reading_flow import _click_on, _open, _wait_pending
from tests.services.postgres_server import PASSWORD
from workstation.ui.mm_text import mm
from workstation.ui.viewer import Tool


def masks(w) -> set[str]:
    folder = Path(w.data_dir) / "masks"
    return {p.stem for p in folder.glob("*.npz")} if folder.is_dir() else set()


def test_only_recorded_measurements_keep_their_outline(qtbot, window):
    w = window
    _open(qtbot, w)
    _click_on(qtbot, w.current_viewer, LESIONS[0].centre_mm)
    _wait_pending(qtbot, w)
    first = w.pending.suggestion.mask_ref
    assert first is not None and masks(w) == {first}  # written by the worker, before any decision

    _click_on(qtbot, w.current_viewer, LESIONS[1].centre_mm)  # a second click supersedes the first suggestion
    qtbot.waitUntil(lambda: w.pending is not None and w.pending.suggestion.mask_ref != first, timeout=5000)
    second = w.pending.suggestion.mask_ref
    assert masks(w) == {second}

    w.reject_pending()
    assert masks(w) == set() and w.pending is None

    w.set_tool(Tool.MEASURE)  # a reject switched to the ruler
    _click_on(qtbot, w.current_viewer, LESIONS[0].centre_mm)
    _wait_pending(qtbot, w)
    w.accept_pending()
    t1 = w.session.read.timepoints[0].assessments["T1"].measurements[0]
    assert masks(w) == {t1.mask_ref}
    assert f"T1: {mm(t1.long_axis_mm)} mm recorded" in w.statusBar().currentMessage()


def test_a_node_is_reported_by_its_short_axis(qtbot, window):
    w = window
    _open(qtbot, w)
    w.node_check.setChecked(True)
    _click_on(qtbot, w.current_viewer, LESIONS[0].centre_mm)
    _wait_pending(qtbot, w)
    w.node_check.setChecked(True)
    w.accept_pending()
    m = w.session.read.timepoints[0].assessments["T1"].measurements[0]
    assert w.session.read.lesions["T1"].is_node and m.short_axis_mm is not None
    message = w.statusBar().currentMessage()
    assert f"T1: short axis {mm(m.short_axis_mm)} mm recorded" in message, message




def test_a_refused_accept_leaves_no_orphan_mask(qtbot, db_window):
    w = db_window
    _open(qtbot, w)
    _click_on(qtbot, w.current_viewer, LESIONS[0].centre_mm)
    _wait_pending(qtbot, w)
    w.accept_pending()
    kept = masks(w)
    _click_on(qtbot, w.current_viewer, LESIONS[1].centre_mm)
    _wait_pending(qtbot, w)
    w.store.sign(w.session.read, 0, password=PASSWORD, meaning="I am the author of this read")  # while it waits
    w.accept_pending()  # the timepoint is signed: refused, and the outline written for it is deleted
    assert "signed" in w.statusBar().currentMessage() and "T2" not in w.session.read.lesions
    assert masks(w) == kept and w.pending is not None  # the suggestion still waits (e.g. for an amendment)
    w.reject_pending()
    assert masks(w) == kept
