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
