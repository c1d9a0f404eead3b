"""The app's waterfall bar: the best change of the sum up to progression, as the trial report draws it."""

from __future__ import annotations

import pytest

from workstation.session.response import CriteriaResponse
from workstation.ui.response_panel import curve_for


def _tp(sum_mm: float, pct: float | None, overall: str) -> dict:
    return {"sum_mm": sum_mm, "change_from_baseline_pct": pct, "overall_response": overall}


def test_a_sum_that_shrinks_after_progression_is_no_bar() -> None:
    course = [_tp(55, None, "NE"), _tp(55, 0.0, "PD"), _tp(35, -36.4, "PD"), _tp(35, -36.4, "PD")]
    curve = curve_for("S08", CriteriaResponse("RECIST 1.1", course, "PD"), [0, 42, 84, 126])
    assert curve.change_pct == [0.0, 0.0, -36.4, -36.4]  # the spider plot still shows the whole course
    assert curve.best_change_pct == pytest.approx(0.0)


def test_under_irecist_an_unconfirmed_progression_does_not_stop_the_bar() -> None:
    course = [
        _tp(50, None, "NE"),
        _tp(60, 20.0, "iUPD"),
        _tp(30, -40.0, "iPR"),
        _tp(70, 40.0, "iCPD"),
        _tp(20, -60.0, "iCPD"),
    ]
    curve = curve_for("S09", CriteriaResponse("iRECIST", course, "iPR"), [0, 42, 84, 126, 168])
    assert curve.best_change_pct == pytest.approx(-40.0)


def test_a_subject_with_a_baseline_only_has_no_bar() -> None:
    assert curve_for("S10", CriteriaResponse("RECIST 1.1", [_tp(40, None, "NE")], None), [0]).best_change_pct is None


def test_a_response_after_progression_is_grey_not_a_green_pr(qtbot):
    """The iRECIST reader's finding: after RECIST 1.1 PD at week 6, weeks 12 and 18 showed a green PR (only the end of
    the reason said it did not count). They stay as assessed, greyed, with a tooltip saying why; iRECIST's own column
    (reset, iPR) stays in colour."""
    from workstation.session.response import CriteriaResponse, ResponseSummary
    from workstation.ui.response_panel import RESPONSE_COLOURS, ResponsePanel

    def rows(*pairs):
        return [{"label": f"week {6 * n}", "date": d, "overall_response": o} for n, (d, o) in enumerate(pairs)]

    recist = CriteriaResponse("RECIST 1.1", rows(("2026-01-05", None), ("2026-02-16", "PD"), ("2026-03-30", "PR")),
                              "PD", date_of_progression="2026-02-16")
    irecist = CriteriaResponse("iRECIST", rows(("2026-01-05", None), ("2026-02-16", "iUPD"), ("2026-03-30", "iPR")),
                               "iPR")
    irecist.timepoints[1] |= {"new_lesion_targets": ["N1"], "new_lesion_target_sum_mm": 11.7,
                              "reason": "iUPD: unequivocal new lesion N1; to be confirmed at the next assessment"}
    panel = ResponsePanel()
    qtbot.addWidget(panel)
    panel.show_summary(ResponseSummary(recist, irecist))
    pd, pr, ipr = panel.table.item(1, 7), panel.table.item(2, 7), panel.table.item(2, 8)
    assert pd.foreground().color().name() == RESPONSE_COLOURS["PD"].lower()
    assert pr.text() == "PR" and pr.foreground().color().name() == "#9e9e9e" and pr.font().italic()
    assert "after progression (dated 2026-02-16): not used for the best overall response" in pr.toolTip()
    assert ipr.foreground().color().name() == RESPONSE_COLOURS["iPR"].lower()
    # iRECIST's new-lesion target sum has its own column (it was only at the end of the reason), and a response's
    # reason is its tooltip (the iRECIST reason column opened off screen)
    assert panel.table.item(1, 9).text() == "11.7 (N1)" and panel.table.item(2, 9).text() == ""
    assert panel.table.item(0, 6).text() == "—"  # the baseline's New: not "none" beside the follow-ups' "no"
    assert panel.table.item(1, 8).toolTip().startswith("iUPD: unequivocal new lesion N1")
