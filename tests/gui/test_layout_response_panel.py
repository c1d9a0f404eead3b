"""The overall responses are what the reader reads the response table for: on a 1366 px laptop the RECIST 1.1 and
iRECIST columns were off to the right behind the sums (only scrolling showed them). They now follow the timepoint
on screen, the columns keeping their numbers."""

from __future__ import annotations

import pytest
from PyQt6.QtWidgets import QApplication

from workstation.session.response import CriteriaResponse, ResponseSummary
from workstation.ui.response_panel import COLUMNS, ResponsePanel

RECIST_COLUMN, IRECIST_COLUMN = COLUMNS.index("RECIST 1.1"), COLUMNS.index("iRECIST")

REASON = "PR: the sum of diameters fell 36 % from baseline (at least 30 %), no new lesion, non-targets non-PD"


def _summary() -> ResponseSummary:
    rows = [
        {"label": "baseline", "date": "2026-01-05", "sum_mm": 54.0, "target_response": None,
         "non_target_response": None, "new_lesions": None},
        {"label": "Follow-up 6", "date": "2026-02-16", "sum_mm": 34.6, "change_from_baseline_pct": -35.9,
         "change_from_nadir_pct": -35.9, "target_response": "PR", "non_target_response": "non-CR/non-PD",
         "new_lesions": False, "overall_response": "PR", "reason": REASON},
        {"label": "Follow-up 12", "date": "2026-03-30", "sum_mm": 44.0, "change_from_baseline_pct": -18.5,
         "change_from_nadir_pct": 27.2, "target_response": "PD", "non_target_response": "non-CR/non-PD",
         "new_lesions": {"liver": "equivocal"}, "overall_response": "PD", "reason": REASON},
    ]
    irows = [dict(r, overall_response=f"i{r['overall_response']}" if r.get("overall_response") else None,
                  new_lesion_targets=["N1"], new_lesion_target_sum_mm=11.7) for r in rows]
    irows[2]["overall_response"] = "iUPD"
    return ResponseSummary(CriteriaResponse("RECIST 1.1", rows, "PR"), CriteriaResponse("iRECIST", irows, "iPR"),
                           unassessed={"Follow-up 12": ["N2"]})  # "PD (incomplete)": a wider cell


@pytest.mark.parametrize("width", [480, 700])
def test_both_overall_responses_are_in_view_without_scrolling(qtbot, width):
    panel = ResponsePanel()
    qtbot.addWidget(panel)
    panel.resize(width, 260)
    panel.show()
    panel.show_summary(_summary())
    QApplication.processEvents()
    table = panel.table
    header = table.horizontalHeader()
    assert table.horizontalScrollBar().value() == 0
    for col in (RECIST_COLUMN, IRECIST_COLUMN):
        needed = max(table.fontMetrics().horizontalAdvance(table.item(r, col).text()) for r in range(3))
        assert header.sectionSize(col) >= needed  # in full, not elided
        assert header.sectionViewportPosition(col) >= 0
        assert header.sectionViewportPosition(col) + header.sectionSize(col) <= table.viewport().width(), col
    # right after the timepoint, then the rest in their order; the columns keep their numbers
    shown = [header.logicalIndex(v) for v in range(len(COLUMNS))]
    rest = [c for c in range(len(COLUMNS)) if c not in (0, RECIST_COLUMN, IRECIST_COLUMN)]
    assert shown == [0, RECIST_COLUMN, IRECIST_COLUMN, *rest]
    assert table.horizontalHeaderItem(RECIST_COLUMN).text() == "RECIST 1.1"
    assert table.item(1, RECIST_COLUMN).text() == "PR" and table.item(2, IRECIST_COLUMN).text() == "iUPD (incomplete)"
