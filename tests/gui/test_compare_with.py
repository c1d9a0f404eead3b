"""Beside a follow-up, the reader chooses the earlier scan: the baseline, the previous scan or the nadir (the viewer
was always the baseline: progression is measured against the nadir, RECIST 1.1 sec. 4.3.1, and a radiologist
compares a lesion with its last look too)."""

from __future__ import annotations

from datetime import date, timedelta

from PyQt6.QtCore import Qt
from PyQt6.QtTest import QTest

from tests.gui.conftest import LESIONS, scaled
from tests.gui.phantom import phantom_volume
from tests.gui.test_new_user_findings import _measure_baseline
from tests.gui.test_reading_flow import _wait_pending
from workstation.session.compare_with import CompareWith
from workstation.session.worklist import InMemorySource, SubjectEntry, TimepointEntry


def three_scans() -> SubjectEntry:
    """Baseline; week 6 at 60 % (the nadir); week 12 at 80 %, the patient lying elsewhere each time."""
    volumes = [
        phantom_volume(LESIONS, uid="1.2.20"),
        phantom_volume(scaled(0.6), shift_mm=(3.0, -2.0, 0.0), uid="1.2.21", seed=1),
        phantom_volume(scaled(0.8), shift_mm=(-4.0, 3.0, 0.0), uid="1.2.22", seed=2),
    ]
    start = date(2026, 1, 5)
    return SubjectEntry("S3", [
        TimepointEntry(label, start + timedelta(days=42 * n), InMemorySource(v, description=label))
        for n, (label, v) in enumerate(zip(["baseline", "week 6", "week 12"], volumes, strict=True))
    ])


def _open_three(qtbot, w) -> None:
    w.open_subjects([three_scans()])
    qtbot.waitUntil(lambda: w.current_viewer.volume is not None and w.volume(0) is not None, timeout=5000)


def _measure_follow_up(qtbot, w, tp: int) -> None:
    w.go_to_timepoint(tp)
    qtbot.waitUntil(lambda: w.proposals_final_for == tp, timeout=15000)
    for lesion_id in ("T1", "T2"):
        w.session.select_lesion(lesion_id)
        QTest.keyClick(w, Qt.Key.Key_G)
        _wait_pending(qtbot, w)
        QTest.keyClick(w, Qt.Key.Key_Return)
    assert set(w.session.read.timepoints[tp].assessments) == {"T1", "T2"}


def test_the_nadir_or_the_previous_scan_is_shown_beside_a_follow_up_with_its_measurements(qtbot, window):
    w = window
    _open_three(qtbot, w)
    _measure_baseline(qtbot, w)
    _measure_follow_up(qtbot, w, 1)
    w.go_to_timepoint(2)
    qtbot.waitUntil(lambda: w.proposals_final_for == 2, timeout=15000)
    assert w.compare_tp == 0 and w.compare_viewer.volume is w.volume(0)  # the baseline, until the reader chooses
    assert "baseline" in w.compare_viewer.title

    w.set_compare(CompareWith.NADIR)  # week 6: the smallest sum
    qtbot.waitUntil(lambda: w.compare_viewer.volume is w.volume(1), timeout=5000)
    assert w.compare_tp == 1 and "week 6 (previous, nadir)" in w.compare_viewer.title
    week6 = w.session.read.timepoints[1].assessments
    shown = {o.label: o.long_axis for o in w.compare_viewer._overlays}
    assert shown == {lid: week6[lid].measurements[0].long_axis_endpoints for lid in ("T1", "T2")}
    qtbot.waitUntil(lambda: 1 in w.mappings, timeout=15000)  # registered to the baseline, so in step anatomically

    # the selected lesion: its week-6 measurement beside it
    w.session.select_lesion("T2")
    t2 = week6["T2"].measurements[0].long_axis_endpoints
    assert abs(w.compare_viewer.slice_index - w.compare_viewer.patient_to_view(t2[0])[2]) <= 1
    # kept in step through both registrations: the follow-up's slice of T1 shows week 6's T1
    w.session.select_lesion("T1")
    QTest.keyClick(w, Qt.Key.Key_G)
    _wait_pending(qtbot, w)
    QTest.keyClick(w, Qt.Key.Key_Return)
    t1_here = w.session.read.timepoints[2].assessments["T1"].measurements[0].long_axis_endpoints
    w.current_viewer.set_slice(round(float(w.volume(2).patient_to_voxel(t1_here[0])[0])))
    t1_then = week6["T1"].measurements[0].long_axis_endpoints
    assert abs(w.compare_viewer.slice_index - w.compare_viewer.patient_to_view(t1_then[0])[2]) <= 1

    QTest.keyClick(w, Qt.Key.Key_C)  # nadir -> baseline
    assert w.compare_with is CompareWith.BASELINE and w.compare_viewer.volume is w.volume(0)
    assert w.compare_combo.currentText() == "baseline"
    QTest.keyClick(w, Qt.Key.Key_C)  # -> previous: week 6 again
    assert w.compare_tp == 1 and w.compare_viewer.volume is w.volume(1)

    w.go_to_timepoint(1)  # the choice holds; at week 6 the previous scan is the baseline
    assert w.compare_with is CompareWith.PREVIOUS and w.compare_tp == 0
    assert "baseline" in w.compare_viewer.title


def test_a_point_is_carried_between_two_follow_ups_through_their_registrations_to_the_baseline(window):
    """Baseline -> week 6 moved the patient 5 mm to the feet, baseline -> week 12 7.5 mm to the head: a point of
    week 12 lies 12.5 mm further to the feet on week 6 (and back)."""
    import numpy as np

    from workstation.session.followup import RigidMapping

    w = window
    w.mappings = {1: RigidMapping(np.eye(3), np.array([0.0, 0.0, 5.0]), "test"),
                  2: RigidMapping(np.eye(3), np.array([1.0, 0.0, -7.5]), "test")}
    assert w.carry((10.0, 20.0, 30.0), 2, 1) == (9.0, 20.0, 42.5)
    assert w.carry((9.0, 20.0, 42.5), 1, 2) == (10.0, 20.0, 30.0)
    assert w.carry((10.0, 20.0, 30.0), 2, 0) == (9.0, 20.0, 37.5)  # the baseline: only week 12's registration
    assert w.carry((10.0, 20.0, 30.0), 3, 0) == (10.0, 20.0, 30.0)  # not registered yet: patient position


def test_a_long_title_in_a_narrow_viewer_does_not_run_into_the_window_values(qtbot, window):
    """The screenshot of a follow-up beside its nadir: "SUBJ-001 · week 12 (previous, nadir) · 2026-03-30" ran into
    "W 400 L 40 soft tissue" in the top right corner; that goes under the title when the two would meet."""
    w = window
    _open_three(qtbot, w)
    v = w.current_viewer
    v.title = "SUBJ-001 · week 12 (previous, nadir) · 2026-03-30"
    v.redraw()
    for width in (330, 1200):
        v.view.resize(width, 500)
        v._place_labels()
        tl, tr = v.corner["tl"].geometry(), v.corner["tr"].geometry()
        assert not tl.intersects(tr), width
        assert (tr.top() > tl.top()) == (width == 330)  # side by side where there is room


def test_the_response_of_the_timepoint_read_is_scrolled_into_view(qtbot, window):
    """The laptop radiologist's re-check: the response table showed two rows; week 18's PD needed scrolling."""
    w = window
    _open_three(qtbot, w)
    _measure_baseline(qtbot, w)
    _measure_follow_up(qtbot, w, 1)
    table = w.response_panel.table
    table.setFixedHeight(table.horizontalHeader().height() + table.rowHeight(0) + 6)  # one row in view
    _measure_follow_up(qtbot, w, 2)
    row = next(r for r in range(table.rowCount()) if table.item(r, 0).text() == "week 12")
    assert table.viewport().rect().intersects(table.visualItemRect(table.item(row, 0)))


def test_a_title_wider_than_a_narrow_viewer_puts_its_date_on_a_second_line(qtbot, window):
    """The laptop re-check: "SUBJ-001 · week 6 (previous, nadir) · 2026-02-16" was cut to "... · 2026-02-1"."""
    w = window
    _open_three(qtbot, w)
    v = w.current_viewer
    v.title = "SUBJ-001 · week 6 (previous, nadir) · 2026-02-16"
    v.redraw()
    for width in (260, 330, 1200):
        v.view.resize(width, 500)
        v._place_labels()
        label = v.corner["tl"]
        assert label.geometry().right() <= v.view.width(), width
        assert "2026-02-16" in label.text()
        if width in (260, 1200):
            assert ("\n2026-02-16" in label.text()) == (width == 260)


def test_the_lesion_table_shows_the_column_of_the_timepoint_read(qtbot, window):
    """The last re-check: on a laptop the Lesions table showed week 12's column cut ("22.2 m")."""
    w = window
    _open_three(qtbot, w)
    _measure_baseline(qtbot, w)
    table = w.lesion_table
    table.setFixedWidth(260)  # room for the lesion's own columns only
    _measure_follow_up(qtbot, w, 1)
    w.go_to_timepoint(2)
    col = 4 + 2
    left, width = table.columnViewportPosition(col), table.columnWidth(col)
    assert left >= 0 and left + width <= table.viewport().width(), (left, width, table.viewport().width())
