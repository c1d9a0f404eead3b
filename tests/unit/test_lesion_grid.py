"""The adjudicator's lesion table (`workstation.review.lesion_grid`): diameters as RECIST records them, or states."""

from __future__ import annotations

from tests.unit.test_sdtm_known_read import known_read
from workstation.read_model import LesionAssessment, LesionStatus, Measurement
from workstation.review.lesion_grid import cell, lesion_grid


def test_each_lesion_at_each_timepoint_with_its_recorded_diameter_or_state() -> None:
    read = known_read()
    read.lesions = dict(reversed(list(read.lesions.items())))  # shown targets first, whatever the read's order
    grid = lesion_grid(read)
    assert grid.timepoints == ["baseline", "week 6", "week 12"]
    assert grid.rows == [
        ("T1 target, liver", ["32.0", "20.0", "16.0 (2 parts)"]),  # a split lesion: its parts summed
        ("T2 target, lymph node (node: short axis)", ["18.0", "12.0", "0 (gone)"]),  # a node by its short axis
        ("NT1 non-target, bone", ["present", "present", "present"]),
        ("N1 new, lung", ["", "", "unequivocal"]),  # not there before it was found
    ]
    assert all("lytic" not in c for _, cells in grid.rows for c in cells)  # comments (free text) are never shown


def test_cells_for_the_other_states() -> None:
    assert cell(LesionAssessment(LesionStatus.MERGED, merged_into="T1"), False) == "merged into T1"
    assert cell(LesionAssessment(LesionStatus.TOO_SMALL), False) == "too small (5)"
    assert cell(LesionAssessment(LesionStatus.NOT_EVALUATED), True) == "NE"
    assert cell(LesionAssessment(LesionStatus.UNEQUIVOCAL, [Measurement(12.0)]), False) == "12.0 unequivocal"
    assert cell(LesionAssessment(LesionStatus.MEASURED, [Measurement(12.0)]), True) == "no short axis"
