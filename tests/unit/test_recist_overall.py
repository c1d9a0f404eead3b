"""Overall response (RECIST 1.1 Tables 1-2) and best overall response (sec. 4.4.3 Table 3, 4.6)."""

from __future__ import annotations

from typing import Any

import pytest

from recist import evaluate_case
from recist.model import NewLesions, Response
from recist.overall import overall_response
from tests.unit.recist_builders import m, make_case, new, non_target, responses, st, target

R, N = Response, NewLesions

# Eisenhauer 2009, Table 1: subjects with target (+/- non-target) disease.
TABLE_1 = [
    (R.CR, R.CR, N.NO, R.CR),
    (R.CR, None, N.NO, R.CR),
    (R.CR, R.NON_CR_NON_PD, N.NO, R.PR),
    (R.CR, R.NE, N.NO, R.PR),
    (R.PR, R.NON_CR_NON_PD, N.NO, R.PR),
    (R.PR, R.NE, N.NO, R.PR),
    (R.PR, R.CR, N.NO, R.PR),
    (R.SD, R.NON_CR_NON_PD, N.NO, R.SD),
    (R.SD, R.NE, N.NO, R.SD),
    (R.NE, R.NON_CR_NON_PD, N.NO, R.NE),
    (R.PD, R.CR, N.NO, R.PD),
    (R.PD, R.NE, N.NO, R.PD),
    (R.CR, R.PD, N.NO, R.PD),
    (R.NE, R.PD, N.NO, R.PD),
    (R.CR, R.CR, N.YES, R.PD),
    (R.SD, None, N.EQUIVOCAL, R.SD),
]
# Table 2: non-target disease only.
TABLE_2 = [
    (None, R.CR, N.NO, R.CR),
    (None, R.NON_CR_NON_PD, N.NO, R.NON_CR_NON_PD),
    (None, R.NE, N.NO, R.NE),
    (None, R.PD, N.NO, R.PD),
    (None, R.CR, N.YES, R.PD),
    (None, None, N.NO, R.NED),
    (None, None, N.YES, R.PD),
]


@pytest.mark.parametrize(("t", "nt", "new_lesions", "expected"), TABLE_1 + TABLE_2)
def test_overall_response_tables(t: R | None, nt: R | None, new_lesions: N, expected: R) -> None:
    response, reason = overall_response(t, nt, new_lesions)
    assert response is expected
    assert "RECIST 1.1" in reason or expected is R.NED


def _bor(*follow: tuple[int, float], confirm: bool = True, sd_min: int = 42) -> dict[str, Any]:
    """One 100 mm target; follow-ups (day, mm); a non-target that stays present unless mm is 0 (CR needs NT CR)."""
    followups = []
    for day, mm in follow:
        if mm < 0:
            followups.append((day, [st("T1", "not_evaluated"), st("NT1", "present")]))
        else:
            followups.append((day, [m("T1", mm), st("NT1", "absent" if mm == 0 else "present")]))
    return evaluate_case(make_case([target("T1", 100.0), non_target("NT1")], *followups,
                                   confirmation_required=confirm, sd_min_days=sd_min))


NE = -1.0
# Eisenhauer 2009 Table 3 (confirmation required) as timelines: (day, target mm), NE = not evaluated.
TABLE_3 = [
    ([(42, 0), (84, 0)], "CR", "CR then CR >= 4 weeks later"),
    ([(42, 0), (84, 4)], "PR", "CR then PR (4 mm back): the first 'CR' was a PR (Table 3 footnote)"),
    ([(42, 0), (84, 50)], "SD", "CR then 50 mm: disease after a true CR is PD (Table 3 footnote), SD duration met"),
    ([(42, 0), (84, 80)], "SD", "CR then SD, SD duration met"),
    ([(28, 0), (56, 130)], "PD", "CR at day 28 (< 42) then PD: SD duration not met"),
    ([(42, 0), (84, 130)], "SD", "CR then PD, SD duration met"),
    ([(42, 0), (84, NE)], "SD", "CR then NE, SD duration met"),
    ([(28, 0), (56, NE)], "NE", "CR then NE, SD duration not met"),
    ([(42, 50), (84, 0)], "PR", "PR then CR"),
    ([(42, 50), (84, 50)], "PR", "PR then PR"),
    ([(42, 50), (84, 80)], "SD", "PR then SD"),
    ([(28, 50), (56, 130)], "PD", "PR then PD, SD duration not met"),
    ([(42, 50), (84, NE)], "SD", "PR then NE, SD duration met"),
    ([(42, NE), (84, NE)], "NE", "NE then NE"),
    ([(42, 50), (56, 50)], "SD", "PR confirmed only 14 days later: not confirmed"),
    ([(42, 50), (56, NE), (84, 50)], "PR", "an NE between does not break confirmation"),
    ([(42, 50), (63, 80), (84, 50)], "SD", "an SD between breaks it; the last PR has no confirmation"),
    ([(42, 50), (84, 130), (126, 50)], "SD", "nothing after the first PD counts"),
]


@pytest.mark.parametrize(("timeline", "expected", "why"), TABLE_3)
def test_best_overall_response_with_confirmation(timeline: list[tuple[int, float]], expected: str, why: str) -> None:
    assert _bor(*timeline)["best_overall_response"] == expected, why


def test_without_confirmation_the_best_timepoint_response_counts() -> None:
    assert _bor((42, 50), (84, 80), confirm=False)["best_overall_response"] == "PR"
    assert _bor((28, 50), (56, 130), confirm=False)["best_overall_response"] == "PR"


@pytest.mark.parametrize(("day", "sd_min", "expected"), [(41, 42, "NE"), (42, 42, "SD"), (41, 41, "SD"),
                                                          (56, 56, "SD"), (55, 56, "NE")])
def test_minimum_stable_disease_duration_is_a_trial_parameter(day: int, sd_min: int, expected: str) -> None:
    assert _bor((day, 90), sd_min=sd_min)["best_overall_response"] == expected


def test_best_response_reason_and_dates() -> None:
    result = _bor((42, 50), (84, 40), (126, 130))
    assert result["best_overall_response"] == "PR"
    assert "confirmed" in result["best_overall_response_reason"] and "42 days" in result["best_overall_response_reason"]
    assert result["date_of_first_response"] == "2026-02-16"
    assert result["date_of_progression"] == "2026-05-11"
    assert result["last_assessment_date"] == "2026-05-11"


def test_duration_of_response_starts_at_the_first_pr_when_pr_becomes_cr() -> None:
    # RECIST 1.1 sec. 4.6.2: from when CR or PR criteria are first met, whichever comes first.
    result = _bor((42, 50), (84, 0), (126, 0), (168, 20))
    assert result["best_overall_response"] == "CR"
    assert result["date_of_first_response"] == "2026-02-16"
    # An earlier response interrupted by SD does not start the confirmed one.
    result = _bor((42, 65), (84, 75), (126, 50), (168, 40))
    assert result["best_overall_response"] == "PR"
    assert result["date_of_first_response"] == "2026-05-11"


def test_subject_without_disease_at_baseline_is_ned_until_a_new_lesion() -> None:
    result = evaluate_case(make_case([], (42, []), (84, [new("X1")])))
    assert responses(result) == ["NED", "PD"]
    assert result["best_overall_response"] == "NED"
    assert evaluate_case(make_case([], (42, [new("X1")])))["best_overall_response"] == "PD"


def test_non_target_only_subject_best_response_is_non_cr_non_pd() -> None:
    case = make_case([non_target("NT1")], (42, [st("NT1", "present")]), (84, [st("NT1", "present")]))
    assert evaluate_case(case)["best_overall_response"] == "non-CR/non-PD"


def test_responses_from_a_confirmed_equivocal_new_lesion_on_do_not_count() -> None:
    """RECIST 1.1 sec. 4.3.5 and 4.4.3 (the statistician's finding): the PR at the week-6 scan where the new lesion
    was equivocal was the best response, with progression dated the same day (a responder with DoR 0). The visits'
    responses stay as they were assessed then; the best overall response counts PD from the equivocal scan on."""
    result = evaluate_case(make_case(
        [target("T1", 50.0)],
        (42, [m("T1", 30.0), new("N1", "equivocal")]),
        (84, [m("T1", 30.0), st("N1", "equivocal")]),
        (126, [m("T1", 30.0), st("N1", "unequivocal")]),
    ))
    assert responses(result) == ["PR", "PR", "PD"]
    assert "the equivocal new lesion seen here was confirmed at 'day 126': progression dates from here, so this " \
           "response does not count for the best overall response" in result["timepoints"][1]["reason"]
    assert result["best_overall_response"] == "PD"
    assert result["date_of_progression"] == result["timepoints"][1]["date"]
    assert result["date_of_first_response"] is None


@pytest.mark.parametrize(("third", "expected"), [
    ([m("T1", 4.0), st("NT1", "absent")], "PD"),  # a target back at 4 mm: under the 5 mm floor, yet PD
    ([m("T1", 0.0), st("NT1", "present")], "PD"),  # a non-target back
    ([m("T1", 0.0), st("NT1", "absent")], "CR"),
])
def test_after_a_confirmed_cr_any_reappearing_lesion_is_pd(third: list[dict[str, Any]], expected: str) -> None:
    """EORTC RECIST working group FAQ "Does a new lesion always result in PD?" (the statistician's finding: CR, CR,
    then a target back at 4 mm was PR, with no progression event)."""
    result = evaluate_case(make_case(
        [target("T1", 50.0), non_target("NT1")],
        (42, [m("T1", 0.0), st("NT1", "absent")]), (84, [m("T1", 0.0), st("NT1", "absent")]), (126, third)))
    assert responses(result) == ["CR", "CR", expected]
    if expected == "PD":  # the category the lesion came back in says PD too (the data manager's finding: PR beside PD)
        category = "target_response" if third[0]["diameter_mm"] else "non_target_response"
        assert result["timepoints"][3][category] == "PD"
        assert "present again after the complete response confirmed at the previous assessment" in (
            result["timepoints"][3]["reason"])
        assert result["date_of_progression"] == result["timepoints"][3]["date"]


@pytest.mark.parametrize(("third", "expected"), [
    (st("NT1", "present"), "PR"),  # seen again: non-CR/non-PD non-targets with the targets gone (Table 1)
    (st("NT1", "unequivocal_progression"), "PD"),
    (st("NT1", "absent"), "CR"),
])
def test_a_non_target_node_seen_again_after_a_confirmed_cr_is_not_progression_by_itself(
    third: dict[str, Any], expected: str
) -> None:
    """RECIST 1.1 FAQ "Abnormal lymph node" (the statistician's finding: a non-target node "present" again after a
    confirmed CR was PD, a progression event for PFS and DoR): "a node is only considered to have 'reappeared' if it
    is >= 10 mm (Target lesion) or has unequivocally progressed (Non Target lesion)"."""
    node = {**non_target("NT1"), "node": True, "organ": "lymph node"}
    result = evaluate_case(make_case(
        [target("T1", 30.0), node],
        (42, [m("T1", 0.0), st("NT1", "absent")]), (84, [m("T1", 0.0), st("NT1", "absent")]),
        (126, [m("T1", 0.0), third])))
    assert responses(result) == ["CR", "CR", expected]
    assert result["date_of_progression"] == (result["timepoints"][3]["date"] if expected == "PD" else None)
    assert "present again" not in result["timepoints"][3]["reason"]


def test_reappearance_after_a_single_unconfirmed_cr_follows_the_sums() -> None:
    """Not definitive (the FAQ recommends a confirmed CR): a target back at 4 mm after one CR is not PD by itself."""
    result = evaluate_case(make_case([target("T1", 50.0)], (42, [m("T1", 0.0)]), (84, [m("T1", 4.0)])))
    assert responses(result) == ["CR", "PR"]


def test_a_target_node_back_to_10_mm_after_a_confirmed_nodal_cr_is_pd() -> None:
    node = {**target("T1", 20.0), "node": True, "organ": "lymph node"}
    result = evaluate_case(make_case([node], (42, [m("T1", 9.0)]), (84, [m("T1", 8.0)]), (126, [m("T1", 9.5)]),
                                     (168, [m("T1", 12.0)])))
    assert responses(result) == ["CR", "CR", "CR", "PD"]


def test_a_new_lesion_seen_before_and_not_assessed_is_said_in_the_reason() -> None:
    """RECIST 1.1 Table 1 has no "not evaluated" for new lesions: the column stays "no" where nothing new is seen, and
    the reason says that the equivocal lesion seen before was not assessed (the panel read "SD, New: no")."""
    case = make_case(
        [target("T1", 40.0)],
        (42, [m("T1", 38.0), new("N1", "equivocal")]),
        (84, [m("T1", 37.0), st("N1", "not_evaluated")]),
        (126, [m("T1", 36.0)]),
    )
    rows = evaluate_case(case)["timepoints"]
    assert [r["new_lesions"] for r in rows[1:]] == ["equivocal", "no", "no"]
    assert "N1 seen before, not assessed here" in rows[2]["reason"] and "N1 seen before" in rows[3]["reason"]
    assert "seen before" not in rows[1]["reason"]


@pytest.mark.parametrize("criteria", ["RECIST 1.1", "iRECIST"])
def test_a_confirmed_partial_response_continues_until_progression(criteria: str) -> None:
    """EORTC RECIST working group FAQ "Managing PR when TP measurements change slightly over time" (the statistician's
    finding: 100, 70, 70, 80 mm gave SD at the last visit): once a PR is confirmed, a sum that no longer quite meets
    PR is a continuing PR, measured against the nadir, until the criteria for PD are met; the same under iRECIST."""
    i = "i" if criteria == "iRECIST" else ""
    def course(*sums: float) -> dict[str, Any]:
        return evaluate_case(make_case([target("T1", 100.0)], *[(42 * (n + 1), [m("T1", d)]) for n, d in
                                                                 enumerate(sums)], criteria=criteria))
    faq = course(70.0, 70.0, 80.0, 80.0, 80.0)
    assert responses(faq) == [f"{i}PR"] * 5
    assert "PR continues: a partial response was confirmed before" in faq["timepoints"][3]["reason"]
    assert faq["best_overall_response"] == f"{i}PR"
    # not confirmed yet: the sum decides (SD), as before
    assert responses(course(70.0, 80.0)) == [f"{i}PR", f"{i}SD"]
    # the criteria for PD still end it: +20 % and +5 mm over the nadir (70 -> 84)
    assert responses(course(70.0, 70.0, 83.0, 84.0))[2:] == [f"{i}PR", f"{i}UPD" if i else "PD"]


def test_an_equivocal_new_lesion_confirmed_after_progression_by_a_target_backdates_progression() -> None:
    """RECIST 1.1 sec. 4.3.5: "If repeat scans confirm there is definitely a new lesion, then progression should be
    declared using the date of the initial scan." Here the targets progress first (day 84) and the new lesion, equivocal
    since day 42, is confirmed only at day 126, on a scan after progression (treatment beyond progression): PFS ends
    at day 42, not 84, and the day-42 PR no longer counts."""
    result = evaluate_case(make_case(
        [target("T1", 50.0)],
        (42, [m("T1", 30.0), new("N1", "equivocal")]),
        (84, [m("T1", 60.0), st("N1", "equivocal")]),
        (126, [m("T1", 62.0), st("N1", "unequivocal")]),
    ))
    assert responses(result) == ["PR", "PD", "PD"]
    assert result["date_of_progression"] == result["timepoints"][1]["date"]
    assert "progression dates from 'day 42'" in result["timepoints"][3]["reason"]
    assert "confirmed at 'day 126'" in result["timepoints"][1]["reason"]
    assert result["best_overall_response"] == "PD"
    assert result["date_of_first_response"] is None


def test_a_new_lesion_first_seen_after_progression_moves_nothing() -> None:
    """Progression stays at the first PD when the new lesion was first seen after it (sec. 4.3.5 dates from the first
    equivocal scan, never later than the progression already found)."""
    result = evaluate_case(make_case(
        [target("T1", 50.0)],
        (42, [m("T1", 30.0)]),
        (84, [m("T1", 60.0), new("N1", "equivocal")]),
        (126, [m("T1", 62.0), st("N1", "unequivocal")]),
    ))
    assert result["date_of_progression"] == result["timepoints"][2]["date"]
    assert "progression dates from" not in result["timepoints"][3]["reason"]
    assert result["best_overall_response"] == "SD"  # the day-42 PR was never confirmed


def test_an_equivocal_finding_that_went_away_does_not_date_a_later_new_lesion() -> None:
    """Sec. 4.3.5 dates progression from the equivocal scan only when repeat scans confirm that finding: one recorded
    gone in between was not confirmed, so progression is where the lesion is unequivocal (as iRECIST does)."""
    result = evaluate_case(make_case(
        [target("T1", 50.0)],
        (42, [m("T1", 30.0), new("N1", "equivocal")]),
        (84, [m("T1", 30.0), st("N1", "absent")]),
        (126, [m("T1", 30.0), st("N1", "unequivocal")]),
    ))
    assert responses(result) == ["PR", "PR", "PD"]
    assert result["date_of_progression"] == result["timepoints"][3]["date"]
    assert result["best_overall_response"] == "PR"
