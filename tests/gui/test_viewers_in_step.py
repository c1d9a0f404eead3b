"""The two viewers in step: the zoom of one is the other's while 'keep in step' is ticked, and the window box says
"custom" for a window dragged off every preset (the radiologist's findings: the zoom was not linked; the box said
"Soft tissue" at W 587 L -53)."""

from __future__ import annotations

import pytest

from tests.gui.test_reading_flow import _open


def test_zoom_is_linked_while_in_step_and_the_window_box_names_only_a_preset(qtbot, window):
    w = window
    _open(qtbot, w)
    w.go_to_timepoint(1)
    qtbot.waitUntil(lambda: w.volume(1) is not None, timeout=15000)
    cur, base = w.current_viewer, w.baseline_viewer
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
