"""Properties of the criteria that must hold for every case (hypothesis).

Scaling, stated precisely: RECIST 1.1 thresholds are relative (-30 %, +20 %) except the absolute 5 mm floor for
progression (sec. 4.3.1). So multiplying every (non-nodal, measured) target diameter by an integer k leaves every
target response unchanged exactly when the 5 mm floor is multiplied by k too; with the floor left at 5 mm and k >= 1,
PD stays PD and any other response either stays or becomes PD (a larger absolute change can reach the floor).
Nodes (fixed 10 mm normal size) and "too small" (fixed 5 mm) are left out of these two properties for that reason.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st_

import recist.measure
from recist import evaluate_case
from tests.unit.recist_builders import m, make_case, new, non_target, responses, st, target

RANK = {"CR": 5, "PR": 4, "SD": 3, "non-CR/non-PD": 3, "NED": 3, "NE": 1, "PD": 0}
tenths = st_.integers(min_value=0, max_value=1500)


@st_.composite
def cases(draw: st_.DrawFn, allow_not_evaluated: bool = True) -> dict[str, Any]:
    n_targets = draw(st_.integers(min_value=1, max_value=5))
    n_non_targets = draw(st_.integers(min_value=0, max_value=2))
    baseline = [target(f"T{i}", draw(st_.integers(min_value=100, max_value=1000)) / 10) for i in range(n_targets)]
    baseline += [non_target(f"NT{i}") for i in range(n_non_targets)]
    followups = []
    day = 0
    for _ in range(draw(st_.integers(min_value=1, max_value=5))):
        day += draw(st_.integers(min_value=14, max_value=63))
        lesions: list[dict[str, Any]] = []
        for i in range(n_targets):
            if allow_not_evaluated and draw(st_.integers(0, 9)) == 0:
                lesions.append(st(f"T{i}", "not_evaluated"))
            else:
                lesions.append(m(f"T{i}", draw(tenths) / 10))
        statuses = ["present", "absent", "unequivocal_progression"] + (["not_evaluated"] if allow_not_evaluated
                                                                         else [])
        lesions += [st(f"NT{i}", draw(st_.sampled_from(statuses))) for i in range(n_non_targets)]
        followups.append((day, lesions))
    return make_case(baseline, *followups, confirmation_required=draw(st_.booleans()))


def _scaled(case: dict[str, Any], k: int) -> dict[str, Any]:
    out = copy.deepcopy(case)
    for tp in out["timepoints"]:
        for lesion in tp["lesions"]:
            if "diameter_mm" in lesion:
                lesion["diameter_mm"] = round(lesion["diameter_mm"] * k, 1)
    return out


@settings(max_examples=150, deadline=None)
@given(cases(), st_.data())
def test_a_new_unequivocal_lesion_never_improves_a_response(case: dict[str, Any], data: st_.DataObject) -> None:
    before = evaluate_case(case)
    k = data.draw(st_.integers(min_value=1, max_value=len(case["timepoints"]) - 1))
    with_new = copy.deepcopy(case)
    with_new["timepoints"][k]["lesions"].append(new("X1"))
    after = evaluate_case(with_new)
    assert responses(after)[k - 1] == "PD"
    # Up to the new lesion's visit no response improves. The visits after it are evaluated as assessed but follow a
    # progression, so they do not count (RECIST 1.1 sec. 4.4.3; docs/recist-rules.md): a target that reappears there
    # after a CR may read PR with the new lesion (progression was the new lesion) and PD without it (reappearance
    # after a definitive CR), as in the example above.
    for r_before, r_after in zip(responses(before)[:k], responses(after)[:k], strict=True):
        assert RANK[r_after] <= RANK[r_before]
    for tp in after["timepoints"][k + 1 :]:
        assert "not used for the best overall response" in tp["reason"]
    assert RANK[after["best_overall_response"]] <= RANK[before["best_overall_response"]]


def test_after_a_new_lesion_s_progression_a_reappearing_target_is_not_progression_again() -> None:
    """The case hypothesis found: a target gone (CR), then not evaluated twice, then back at 0.1 mm. Without a new
    lesion the CR was definitive and its reappearance is PD; with a new lesion at the CR visit that visit is PD
    already, so the reappearance is measured as assessed (PR), after the progression and not counted."""
    visits = [(14, [m("T0", 0.0)]), (28, [st("T0", "not_evaluated")]), (42, [st("T0", "not_evaluated")]),
              (56, [m("T0", 0.1)])]  # fmt: skip
    without = evaluate_case(make_case([target("T0", 10.0)], *visits, confirmation_required=False))
    visits[0] = (14, [m("T0", 0.0), new("X1")])
    with_new = evaluate_case(make_case([target("T0", 10.0)], *visits, confirmation_required=False))
    assert responses(without) == ["CR", "NE", "NE", "PD"]
    assert responses(with_new) == ["PD", "NE", "NE", "PR"]
    assert "not used for the best overall response" in with_new["timepoints"][4]["reason"]
    assert (without["best_overall_response"], with_new["best_overall_response"]) == ("CR", "PD")


@settings(max_examples=150, deadline=None)
@given(cases(), st_.integers(min_value=2, max_value=4))
def test_scaling_diameters_and_the_5_mm_floor_together_changes_no_target_response(
        case: dict[str, Any], k: int) -> None:
    before = responses(evaluate_case(case), "target_response")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(recist.measure, "PD_ABSOLUTE_UM", recist.measure.PD_ABSOLUTE_UM * k)
        after = responses(evaluate_case(_scaled(case, k)), "target_response")
    assert after == before


@settings(max_examples=150, deadline=None)
@given(cases(), st_.integers(min_value=2, max_value=4))
def test_scaling_up_with_the_fixed_5_mm_floor_only_adds_progression(case: dict[str, Any], k: int) -> None:
    before = responses(evaluate_case(case), "target_response")
    after = responses(evaluate_case(_scaled(case, k)), "target_response")
    for r_before, r_after in zip(before, after, strict=True):
        assert r_after == r_before or r_after == "PD", (r_before, r_after)


@settings(max_examples=100, deadline=None)
@given(cases(), st_.randoms())
def test_the_order_of_lesions_in_the_file_does_not_matter(case: dict[str, Any], rnd: Any) -> None:
    shuffled = copy.deepcopy(case)
    for tp in shuffled["timepoints"][1:]:
        rnd.shuffle(tp["lesions"])
    assert responses(evaluate_case(shuffled)) == responses(evaluate_case(case))


@settings(max_examples=100, deadline=None)
@given(cases())
def test_a_target_not_evaluated_gives_ne_or_proven_pd_only(case: dict[str, Any]) -> None:
    result = evaluate_case(case)
    for tp_in, tp_out in zip(case["timepoints"][1:], result["timepoints"][1:], strict=True):
        if any(lesion.get("status") == "not_evaluated" and lesion["id"].startswith("T") for lesion in tp_in["lesions"]):
            assert tp_out["target_response"] in ("NE", "PD") and tp_out["sum_mm"] is None


@settings(max_examples=100, deadline=None)
@given(cases(allow_not_evaluated=False))
def test_irecist_agrees_with_recist_until_the_first_progression(case: dict[str, Any]) -> None:
    plain = responses(evaluate_case(case))
    immune = responses(evaluate_case(case | {"criteria": "iRECIST"}))
    prefixed = {"CR": "iCR", "PR": "iPR", "SD": "iSD", "PD": "iUPD", "non-CR/non-PD": "non-iCR/non-iUPD"}
    for r, i in zip(plain, immune, strict=True):
        assert prefixed.get(r, r) == i
        if r == "PD":
            break
