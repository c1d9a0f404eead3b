"""Target, non-target and new-lesion responses at one timepoint (RECIST 1.1 sec. 4.3), boundaries exact."""

from __future__ import annotations

from typing import Any

import pytest

from recist import evaluate_case
from tests.unit.recist_builders import m, make_case, new, non_target, responses, st, target


def target_response(baseline: list[dict[str, Any]], *followups: list[dict[str, Any]]) -> list[Any]:
    case = make_case(baseline, *[(42 * (i + 1), f) for i, f in enumerate(followups)])
    return responses(evaluate_case(case), "target_response")


# (baseline diameters, follow-up diameters, expected, why) -- one target per entry, one follow-up.
BOUNDARIES = [
    ([25.0], [30.0], "PD", "+20.0 % and +5.0 mm over the nadir: PD (sec. 4.3.1)"),
    ([25.0], [29.9], "SD", "+19.6 % and +4.9 mm: neither"),
    ([24.5], [29.4], "SD", "+20.0 % exactly but only +4.9 mm (floats get 29.4-24.5 = 4.8999...)"),
    ([100.0], [119.9], "SD", "+19.9 % though +19.9 mm"),
    ([100.0], [120.0], "PD", "+20.0 % and +20 mm"),
    ([100.0], [70.0], "PR", "-30.0 % exactly: PR"),
    ([100.0], [70.1], "SD", "-29.9 %: SD"),
    ([33.3, 33.4], [23.31, 23.38], "PR", "66.7 -> 46.69 is exactly -30.0 %"),
    ([33.3, 33.4], [23.31, 23.39], "SD", "66.7 -> 46.70 is -29.98 %"),
    ([10.1], [0.0], "CR", "disappeared"),
]


@pytest.mark.parametrize(("base", "follow", "expected", "why"), BOUNDARIES)
def test_target_boundaries_are_exact(base: list[float], follow: list[float], expected: str, why: str) -> None:
    baseline = [target(f"T{i}", d) for i, d in enumerate(base)]
    followup = [m(f"T{i}", d) for i, d in enumerate(follow)]
    assert target_response(baseline, followup) == [expected], why


def test_change_percentages_never_cross_a_threshold_when_shown() -> None:
    result = evaluate_case(make_case([target("T1", 100.0)], (42, [m("T1", 70.04)]), (84, [m("T1", 84.04)])))
    first, second = result["timepoints"][1:]
    assert (first["change_from_baseline_pct"], first["target_response"]) == (-29.9, "SD")  # -29.96 %: not -30.0
    assert (second["change_from_nadir_pct"], second["target_response"]) == (19.9, "SD")  # +19.96 %: not +20.0
    assert "-29.9 %" in first["reason"] and "100.0 mm" in first["reason"]


@pytest.mark.parametrize(("node_mm", "expected"), [(9.9, "CR"), (10.0, "PR"), (5.0, "CR")])
def test_nodal_complete_response_needs_short_axis_under_10_mm(node_mm: float, expected: str) -> None:
    baseline = [target("T1", 20.0), target("N1", 22.0, organ="mediastinum", node=True)]
    assert target_response(baseline, [m("T1", 0.0), m("N1", node_mm)]) == [expected]


def test_too_small_counts_5_mm_and_is_not_complete_response() -> None:
    baseline = [target("T1", 20.0), target("N1", 22.0, node=True)]
    result = evaluate_case(make_case(baseline, (42, [{"id": "T1", "too_small": True}, m("N1", 6.0)])))
    tp = result["timepoints"][1]
    assert (tp["sum_mm"], tp["target_response"]) == (11.0, "PR")


def test_split_lesion_fragments_are_summed_and_coalesced_lesion_counts_zero() -> None:
    baseline = [target("T1", 20.0), target("T2", 20.0), target("T3", 20.0)]
    result = evaluate_case(make_case(baseline, (42, [m("T1", [10.0, 12.5]), {"id": "T2", "merged_into": "T3"},
                                                     m("T3", 30.0)])))
    tp = result["timepoints"][1]
    assert tp["sum_mm"] == 52.5 and tp["target_response"] == "SD"


def test_nadir_includes_follow_ups_so_progression_can_follow_a_partial_response() -> None:
    result = evaluate_case(make_case([target("T1", 100.0)], (42, [m("T1", 50.0)]), (84, [m("T1", 60.0)])))
    assert responses(result, "target_response") == ["PR", "PD"]
    last = result["timepoints"][2]
    assert (last["nadir_mm"], last["change_from_baseline_pct"], last["change_from_nadir_pct"]) == (50.0, -40.0, 20.0)


def test_reappearance_after_complete_disappearance_needs_5_mm() -> None:
    assert target_response([target("T1", 20.0)], [m("T1", 0.0)], [m("T1", 4.9)]) == ["CR", "PR"]
    assert target_response([target("T1", 20.0)], [m("T1", 0.0)], [m("T1", 5.0)]) == ["CR", "PD"]


def test_a_target_not_evaluated_makes_the_targets_not_evaluable() -> None:
    baseline = [target("T1", 30.0), target("T2", 30.0)]
    assert target_response(baseline, [m("T1", 10.0), st("T2", "not_evaluated")]) == ["NE"]
    assert target_response(baseline, [m("T1", 10.0)]) == ["NE"], "a target left out is not evaluated, never 0 mm"


def test_the_evaluated_targets_alone_can_prove_progression() -> None:
    baseline = [target("T1", 30.0), target("T2", 30.0)]
    result = evaluate_case(make_case(baseline, (42, [m("T1", 72.0), st("T2", "not_evaluated")])))
    tp = result["timepoints"][1]
    assert (tp["target_response"], tp["overall_response"], tp["sum_mm"]) == ("PD", "PD", None)
    assert "T2 not evaluated" in tp["reason"]


NON_TARGET_CASES = [
    (["absent", "absent"], "CR"),
    (["absent", "present"], "non-CR/non-PD"),
    (["present", "not_evaluated"], "NE"),
    (["unequivocal_progression", "not_evaluated"], "PD"),
    (["absent", None], "NE"),
]


@pytest.mark.parametrize(("statuses", "expected"), NON_TARGET_CASES)
def test_non_target_response(statuses: list[str | None], expected: str) -> None:
    follow = [st(f"NT{i}", s) for i, s in enumerate(statuses) if s is not None]
    case = make_case([non_target("NT0"), non_target("NT1")], (42, follow))
    assert responses(evaluate_case(case), "non_target_response") == [expected]


def test_equivocal_new_lesion_is_not_progression_until_confirmed_then_dates_back() -> None:
    baseline = [target("T1", 40.0)]
    case = make_case(baseline, (42, [m("T1", 38.0), new("X1", "equivocal")]),
                     (84, [m("T1", 37.0), st("X1", "unequivocal")]))
    result = evaluate_case(case)
    assert responses(result, "new_lesions") == ["equivocal", "yes"]
    assert responses(result) == ["SD", "PD"]
    assert result["date_of_progression"] == result["timepoints"][1]["date"]


def test_targets_and_non_targets_absent_give_null_columns() -> None:
    nt_only = evaluate_case(make_case([non_target("NT1")], (42, [st("NT1", "present")])))
    assert responses(nt_only, "target_response") == [None] and responses(nt_only) == ["non-CR/non-PD"]
    t_only = evaluate_case(make_case([target("T1", 20.0)], (42, [m("T1", 19.0)])))
    assert responses(t_only, "non_target_response") == [None]


def test_every_response_has_a_reason_with_its_numbers() -> None:
    result = evaluate_case(make_case([target("T1", 40.0), non_target("NT1")], (42, [m("T1", 20.0),
                                                                                    st("NT1", "present")])))
    tp = result["timepoints"][1]
    assert "20.0 mm" in tp["reason"] and "-50.0 %" in tp["reason"] and "sec. 4.3.1" in tp["reason"]
    assert "NT1" in tp["reason"] and tp["overall_response"] == "PR"


@pytest.mark.parametrize(("delta_um", "reference_um", "tenths"), [
    (-36_360, 100_000, -364),  # rounded, not truncated
    (25_050, 100_000, 251),  # half away from zero
    (-25_050, 100_000, -251),
    (19_960, 100_000, 199),  # never shown as +20.0 unless it is
    (20_000, 100_000, 200),
    (-29_960, 100_000, -299),  # never shown as -30.0 unless it is
    (-30_000, 100_000, -300),
    (-19_960, 100_000, -200),  # -20 % is no threshold
    (5, 0, None),
])
def test_percentages_are_rounded_but_never_onto_a_threshold(delta_um: int, reference_um: int,
                                                            tenths: int | None) -> None:
    from recist.measure import pct_tenths

    assert pct_tenths(delta_um, reference_um) == tenths
