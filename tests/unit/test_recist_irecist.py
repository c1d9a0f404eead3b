"""iRECIST (Seymour 2017): iUPD, its confirmation as iCPD, the reset, new-lesion targets, iBOR."""

from __future__ import annotations

from typing import Any

import pytest

from recist import evaluate_case
from tests.unit.recist_builders import m, make_case, new, non_target, responses, st, target


def irecist(baseline: list[dict[str, Any]], *followups: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    case = make_case(baseline, *[(42 * (i + 1), f) for i, f in enumerate(followups)], criteria="iRECIST", **fields)
    return evaluate_case(case)


BASE = [target("T1", 50.0), non_target("NT1")]


def test_target_iupd_confirmed_by_a_further_5_mm() -> None:
    result = irecist(BASE, [m("T1", 60.0), st("NT1", "present")], [m("T1", 65.0), st("NT1", "present")])
    assert responses(result) == ["iUPD", "iCPD"]
    assert responses(result, "target_response") == ["iUPD", "iUPD"]
    assert "+5.0 mm over 60.0 mm at iUPD" in result["timepoints"][2]["reason"]
    assert result["date_of_progression"] == result["timepoints"][1]["date"], "progression dates from the iUPD"
    assert result["best_overall_response"] == "iCPD"


@pytest.mark.parametrize(("days_after_iupd", "expected"), [(14, "iUPD"), (25, "iUPD"), (26, "iCPD"), (56, "iCPD")])
def test_a_scan_less_than_4_weeks_after_the_iupd_does_not_confirm_it(days_after_iupd: int, expected: str) -> None:
    """iRECIST FAQ (EORTC RECIST working group): scans sooner than 4 weeks after the iUPD (2 days' variance) are not
    used to define iCPD; the next scan in the window confirms it, measured against the iUPD's values."""
    followups = [(42, [m("T1", 60.0), st("NT1", "present")]),
                 (42 + days_after_iupd, [m("T1", 66.0), st("NT1", "present")])]
    result = evaluate_case(make_case(BASE, *followups, criteria="iRECIST"))
    assert responses(result) == ["iUPD", expected]
    if expected == "iUPD":
        reason = result["timepoints"][2]["reason"]
        said = f"+6.0 mm over 60.0 mm at iUPD (>= +5 mm), but {days_after_iupd} days after the iUPD at 'day 42'"
        assert said in reason
        assert "does not confirm progression" in reason
        later = evaluate_case(make_case(BASE, *followups, (42 + 42, [m("T1", 65.0), st("NT1", "present")]),
                                        criteria="iRECIST"))
        assert responses(later) == ["iUPD", "iUPD", "iCPD"]  # +5 mm over the iUPD's 60, not the early scan's 66
        assert later["date_of_progression"] == later["timepoints"][1]["date"]


def test_a_scan_less_than_4_weeks_after_the_iupd_does_not_reset_it_either() -> None:
    """iRECIST FAQ: scans done less than 4 weeks after the iUPD "should be disregarded" (the statistician's finding:
    an early scan showing shrinkage reset the iUPD, so the later growth was a fresh iUPD, BOR iSD and no progression
    event). Disregarded, it neither resets the iUPD nor lowers the nadir; the scan in the window confirms it."""
    result = evaluate_case(make_case(
        BASE, (42, [m("T1", 60.0), st("NT1", "present")]), (56, [m("T1", 48.0), st("NT1", "present")]),
        (84, [m("T1", 66.0), st("NT1", "present")]), criteria="iRECIST"))
    assert responses(result) == ["iUPD", "iUPD", "iCPD"]
    assert "a scan this early neither confirms nor resets it" in result["timepoints"][2]["reason"]
    assert result["timepoints"][3]["nadir_mm"] == 50.0  # not the disregarded scan's 48 mm
    assert result["best_overall_response"] == "iCPD"
    assert result["date_of_progression"] == result["timepoints"][1]["date"]
    # in the window, the same shrinkage resets it (pseudo-progression)
    later = evaluate_case(make_case(
        BASE, (42, [m("T1", 60.0), st("NT1", "present")]), (70, [m("T1", 48.0), st("NT1", "present")]),
        criteria="iRECIST"))
    assert responses(later) == ["iUPD", "iSD"]


def test_progression_from_an_equivocal_new_lesion_dates_from_where_it_was_first_seen_once_confirmed() -> None:
    """RECIST 1.1 sec. 4.3.5, which iRECIST keeps for new lesions (the statistician's finding: iPFS came out 42 days
    later than RECIST 1.1 PFS for the same lesion, and the visit where it was equivocal counted as iSD). Confirmed,
    the progression dates from the equivocal scan, whose response no longer counts for the iBOR; reset, nothing is
    backdated."""
    base = [target("T1", 45.0)]
    visits = [(42, [m("T1", 45.0), new("X1", "equivocal", organ="liver")]),
              (84, [m("T1", 45.0), new("X1", organ="liver", mm=12.0)])]
    result = evaluate_case(make_case(base, *visits, (126, [m("T1", 45.0), m("X1", 18.0)]), criteria="iRECIST"))
    assert responses(result) == ["iSD", "iUPD", "iCPD"]
    assert result["date_of_progression"] == result["timepoints"][1]["date"]
    assert result["best_overall_response"] == "iCPD"
    assert "does not count for the best overall response" in result["timepoints"][1]["reason"]
    recist_11 = evaluate_case(make_case(base, *visits, (126, [m("T1", 45.0), m("X1", 18.0)])))
    assert recist_11["date_of_progression"] == result["date_of_progression"]  # iPFS as PFS for the same lesion
    # not confirmed (the new lesion gone again: pseudo-progression): nothing is backdated, the iSD counts
    reset = evaluate_case(make_case(base, *visits, (126, [m("T1", 45.0), st("X1", "absent")]), criteria="iRECIST"))
    assert responses(reset) == ["iSD", "iUPD", "iSD"]
    assert reset["date_of_progression"] is None and reset["best_overall_response"] == "iSD"
    # a new lesion unequivocal at an iUPD that was reset, back later: progression dates from its return, never from
    # before the reset
    back = evaluate_case(make_case(
        base, (42, [m("T1", 45.0), new("X1", organ="liver", mm=12.0)]), (84, [m("T1", 45.0), st("X1", "absent")]),
        (126, [m("T1", 45.0), m("X1", 12.0)]), (168, [m("T1", 45.0), m("X1", 18.0)]), criteria="iRECIST"))
    assert responses(back) == ["iUPD", "iSD", "iUPD", "iCPD"]
    assert back["date_of_progression"] == back["timepoints"][3]["date"]


def test_an_early_scan_with_another_new_lesion_waits_for_the_window_too() -> None:
    """The FAQ's example: a new lesion at iUPD, another one on an unscheduled scan 14 days later (iUPD remains); the
    scan 4.5 weeks after the iUPD, still showing it, confirms."""
    base = [target("T1", 50.0)]
    result = evaluate_case(make_case(
        base, (42, [m("T1", 50.0), new("X1", organ="liver", mm=12.0)]),
        (56, [m("T1", 50.0), m("X1", 12.0), new("X2", organ="liver", mm=8.0)]),
        (74, [m("T1", 50.0), m("X1", 12.0), m("X2", 8.0)]), criteria="iRECIST"))
    assert responses(result) == ["iUPD", "iUPD", "iCPD"]


def test_iupd_remains_until_the_further_increase_reaches_5_mm() -> None:
    result = irecist(BASE, [m("T1", 60.0), st("NT1", "present")], [m("T1", 64.9), st("NT1", "present")],
                     [m("T1", 65.0), st("NT1", "present")])
    assert responses(result) == ["iUPD", "iUPD", "iCPD"]


def test_iupd_then_shrinkage_resets_the_bar() -> None:
    result = irecist(BASE, [m("T1", 60.0), st("NT1", "present")], [m("T1", 45.0), st("NT1", "present")],
                     [m("T1", 60.0), st("NT1", "present")], [m("T1", 64.0), st("NT1", "present")],
                     [m("T1", 70.0), st("NT1", "present")])
    assert responses(result) == ["iUPD", "iSD", "iUPD", "iUPD", "iCPD"]
    assert "reset" in result["timepoints"][2]["reason"]
    assert result["date_of_progression"] == result["timepoints"][3]["date"], "the confirmed episode's iUPD"


def test_iupd_then_ipr_after_reset_can_be_the_best_response() -> None:
    result = irecist(BASE, [m("T1", 60.0), st("NT1", "present")], [m("T1", 30.0), st("NT1", "present")],
                     [m("T1", 30.0), st("NT1", "present")])
    assert responses(result) == ["iUPD", "iPR", "iPR"]
    assert result["best_overall_response"] == "iPR"
    assert result["date_of_progression"] is None


def test_unconfirmed_iupd_at_the_last_assessment_is_the_best_response_iupd() -> None:
    result = irecist(BASE, [m("T1", 60.0), st("NT1", "present")])
    assert result["best_overall_response"] == "iUPD" and result["date_of_progression"] is None


@pytest.mark.parametrize(("second", "expected"), [
    ([m("T1", 50.0), st("NT1", "present"), m("X1", 17.0)], "iCPD"),  # new-lesion target sum +5 mm
    ([m("T1", 50.0), st("NT1", "present"), m("X1", 16.9)], "iUPD"),  # +4.9 mm: remains
    ([m("T1", 50.0), st("NT1", "present"), m("X1", 12.0), new("X2", organ="bone")], "iCPD"),  # another new lesion
    ([m("T1", 50.0), st("NT1", "unequivocal_progression"), m("X1", 12.0)], "iCPD"),  # newly met in non-targets
    ([m("T1", 50.0), st("NT1", "present"), st("X1", "absent")], "iSD"),  # new lesion gone: reset
    ([m("T1", 50.0), st("NT1", "not_evaluated"), m("X1", 12.0)], "iUPD"),
])
def test_iupd_by_a_new_lesion(second: list[dict[str, Any]], expected: str) -> None:
    result = irecist(BASE, [m("T1", 50.0), st("NT1", "present"), new("X1", mm=12.0)], second)
    assert responses(result) == ["iUPD", expected]
    assert result["timepoints"][1]["new_lesion_targets"] == ["X1"]
    assert result["timepoints"][1]["sum_mm"] == 50.0, "new lesions are kept out of the baseline sum"
    assert result["timepoints"][1]["new_lesion_target_sum_mm"] == 12.0


def test_iupd_by_non_targets_confirmed_by_further_non_target_progression_or_target_progression() -> None:
    """Seymour 2017 Table 2: a non-target iUPD "remains iUPD unless iCPD is confirmed on the basis of a further
    increase in the size of non-target disease"; the iRECIST FAQ ("If iUPD is driven by non-target disease...")
    records "no change since the last assessment" apart from "further increase" (the statistician's finding: with
    only "unequivocal progression" to record, a non-target still progressed but unchanged gave a false iCPD, and
    "present" a false reset). Progression recorded again stands, without confirming; a further increase confirms;
    present (back below progression) resets."""
    first = [m("T1", 50.0), st("NT1", "unequivocal_progression")]
    still = irecist(BASE, first, [m("T1", 50.0), st("NT1", "unequivocal_progression")])
    assert responses(still) == ["iUPD", "iUPD"] and still["date_of_progression"] is None
    assert "without the further increase that confirms it" in still["timepoints"][2]["reason"]
    further = irecist(BASE, first, [m("T1", 50.0), st("NT1", "unequivocal_progression")],
                      [m("T1", 50.0), st("NT1", "further_increase")])
    assert responses(further) == ["iUPD", "iUPD", "iCPD"]
    assert "NT1 increased further since the last assessment" in further["timepoints"][3]["reason"]
    # a new lesion after a non-target iUPD confirms it too: "a new lesion", not "another" (there was none before)
    with_new = irecist(BASE, first, [m("T1", 50.0), st("NT1", "unequivocal_progression"), new("N1")])
    assert responses(with_new) == ["iUPD", "iCPD"]
    assert "confirmed: a new lesion (N1)" in with_new["timepoints"][2]["reason"]
    assert further["date_of_progression"] == further["timepoints"][1]["date"]
    back = irecist(BASE, first, [m("T1", 50.0), st("NT1", "present")])
    assert responses(back) == ["iUPD", "iSD"]
    # another non-target, present at the last assessment, now in unequivocal progression: a further increase too
    two = [target("T1", 50.0), non_target("NT1"), non_target("NT2")]
    other = irecist(two, [m("T1", 50.0), st("NT1", "unequivocal_progression"), st("NT2", "present")],
                    [m("T1", 50.0), st("NT1", "unequivocal_progression"), st("NT2", "unequivocal_progression")])
    assert responses(other) == ["iUPD", "iCPD"]
    assert "NT2 newly in unequivocal progression" in other["timepoints"][2]["reason"]
    # under RECIST 1.1 a further increase is progression, as unequivocal progression is
    recist_11 = evaluate_case(make_case(BASE, (42, [m("T1", 50.0), st("NT1", "further_increase")])))
    assert responses(recist_11) == ["PD"] and recist_11["timepoints"][1]["non_target_response"] == "PD"
    by_targets = irecist(BASE, first, [m("T1", 61.0), st("NT1", "present")])
    assert responses(by_targets) == ["iUPD", "iCPD"]
    assert "targets newly meet RECIST 1.1 progression" in by_targets["timepoints"][2]["reason"]


def test_not_evaluable_confirming_assessment_leaves_iupd_pending() -> None:
    result = irecist(BASE, [m("T1", 60.0), st("NT1", "present")], [st("T1", "not_evaluated"), st("NT1", "present")],
                     [m("T1", 66.0), st("NT1", "present")])
    assert responses(result) == ["iUPD", "NE", "iCPD"]


def test_new_lesion_targets_up_to_5_and_2_per_organ() -> None:
    lesions = [new("X1", organ="liver", mm=20.0), new("X2", organ="liver", mm=20.0),
               new("X3", organ="liver", mm=20.0), new("X4", organ="lung", mm=9.0),
               new("X5", organ="neck", node=True, mm=12.0), new("X6", organ="bone", mm=11.0),
               new("X7", organ="brain", mm=15.0), new("X8", organ="skin", mm=15.0), new("X9", organ="spleen", mm=15.0)]
    result = irecist(BASE, [m("T1", 50.0), st("NT1", "present"), *lesions])
    tp = result["timepoints"][1]
    # the largest first (X3: a third in the liver; X4, X5: not measurable; X6, 11 mm: a sixth), listing order in ties
    assert tp["new_lesion_targets"] == ["X1", "X2", "X7", "X8", "X9"]
    assert tp["new_lesion_target_sum_mm"] == 85.0


def test_of_new_lesions_first_seen_at_one_visit_the_largest_are_the_new_lesion_targets() -> None:
    """The iRECIST reader's finding: three liver lesions of 12, 15 and 20 mm made N1 and N2 the targets (the order
    listed, the order they were clicked), leaving out the 20 mm one. As targets at baseline, the largest are chosen."""
    lesions = [new("N1", organ="liver", mm=12.0), new("N2", organ="liver", mm=15.0), new("N3", organ="liver", mm=20.0)]
    tp = irecist(BASE, [m("T1", 50.0), st("NT1", "present"), *lesions])["timepoints"][1]
    assert tp["new_lesion_targets"] == ["N3", "N2"] and tp["new_lesion_target_sum_mm"] == 35.0


def test_before_any_iupd_the_codes_are_the_recist_ones_prefixed() -> None:
    result = irecist([target("T1", 50.0), target("N1", 20.0, node=True), non_target("NT1")],
                     [m("T1", 30.0), m("N1", 12.0), st("NT1", "present")],
                     [m("T1", 0.0), m("N1", 9.0), st("NT1", "absent")],
                     [m("T1", 0.0), m("N1", 9.0), st("NT1", "absent")])
    assert responses(result) == ["iPR", "iCR", "iCR"]
    assert responses(result, "non_target_response") == ["non-iCR/non-iUPD", "iCR", "iCR"]
    assert result["best_overall_response"] == "iCR"


def test_no_disease_at_baseline_new_lesion_is_iupd() -> None:
    result = irecist([], [], [new("X1")], [st("X1", "unequivocal"), new("X2")])
    assert responses(result) == ["NED", "iUPD", "iCPD"]


@pytest.mark.parametrize("later", [[], [st("X1", "not_evaluated")]], ids=["left out", "not evaluated"])
def test_a_new_lesion_not_assessed_leaves_the_iupd_pending_not_reset(later: list[dict[str, Any]]) -> None:
    """The statistician's finding: a new lesion left out (or not evaluated) after the iUPD it caused counted as gone,
    reset the iUPD and made a responder (iBOR iPR)."""
    base = [target("T1", 50.0), non_target("NT1")]
    result = irecist(base, [m("T1", 30.0), st("NT1", "present"), new("X1", mm=12.0)],
                     [m("T1", 30.0), st("NT1", "present"), *later], [m("T1", 30.0), st("NT1", "present"), *later])
    assert responses(result) == ["iUPD", "NE", "NE"]
    assert "new lesion(s) X1 not assessed here" in result["timepoints"][2]["reason"]
    assert responses(result, "new_lesions") == ["yes", None, None]  # not "no": the data manager's finding
    assert result["best_overall_response"] == "iUPD"
    gone = irecist(base, [m("T1", 30.0), st("NT1", "present"), new("X1", mm=12.0)],
                   [m("T1", 30.0), st("NT1", "present"), st("X1", "absent")],
                   [m("T1", 30.0), st("NT1", "present")])  # recorded gone, then no longer listed: reset stands
    assert responses(gone) == ["iUPD", "iPR", "iPR"]


def test_after_a_confirmed_icr_a_reappearing_lesion_is_iupd_as_under_recist() -> None:
    result = irecist(BASE, [m("T1", 0.0), st("NT1", "absent")], [m("T1", 0.0), st("NT1", "absent")],
                     [m("T1", 4.0), st("NT1", "absent")], [m("T1", 9.0), st("NT1", "absent")])
    assert responses(result) == ["iCR", "iCR", "iUPD", "iCPD"]  # then +5 mm over the iUPD's 4 mm confirms it
    assert result["timepoints"][3]["target_response"] == "iUPD"
    assert "T1 present again after the complete response" in result["timepoints"][3]["reason"]


def test_an_early_scan_that_is_not_evaluable_is_ne_and_an_early_new_lesion_sets_no_nadir() -> None:
    """The re-check's findings: an early scan not evaluable was made an evaluable iUPD (moving iPFS censoring to it);
    an early scan showing another new lesion still lowered the nadir, so the later scan "newly met" progression."""
    ne = evaluate_case(make_case(BASE, (42, [m("T1", 60.0), st("NT1", "present")]),
                                 (56, [st("T1", "not_evaluated"), st("NT1", "present")]), criteria="iRECIST"))
    assert responses(ne) == ["iUPD", "NE"] and ne["last_assessment_date"] == ne["timepoints"][1]["date"]
    base = [target("T1", 50.0)]
    early_new = evaluate_case(make_case(
        base, (42, [m("T1", 50.0), new("N1", organ="liver")]),
        (56, [m("T1", 30.0), st("N1", "unequivocal"), new("N2", organ="lung")]),
        (84, [m("T1", 36.0), st("N1", "absent"), st("N2", "absent")]), criteria="iRECIST"))
    assert responses(early_new) == ["iUPD", "iUPD", "iSD"]  # reset: 36 mm against the nadir of 50, not 30
    assert early_new["timepoints"][3]["nadir_mm"] == 50.0


def test_a_non_target_newly_progressing_confirms_even_after_an_early_or_incomplete_scan() -> None:
    """Another non-target in unequivocal progression is compared with the iUPD, not with the scan just before, which
    may be disregarded as too early or may not have assessed it (the re-check's case E4: never confirmed)."""
    two = [target("T1", 50.0), non_target("NT1"), non_target("NT2")]
    iupd = (42, [m("T1", 50.0), st("NT1", "unequivocal_progression"), st("NT2", "present")])
    both = [m("T1", 50.0), st("NT1", "unequivocal_progression"), st("NT2", "unequivocal_progression")]
    after_early = evaluate_case(make_case(two, iupd, (56, both), (84, both), criteria="iRECIST"))
    assert responses(after_early) == ["iUPD", "iUPD", "iCPD"]
    gap = [m("T1", 50.0), st("NT1", "unequivocal_progression"), st("NT2", "not_evaluated")]
    after_gap = evaluate_case(make_case(two, iupd, (84, gap), (126, both), criteria="iRECIST"))
    assert responses(after_gap)[-1] == "iCPD"
    assert after_gap["date_of_progression"] == after_gap["timepoints"][1]["date"]


def test_a_non_target_iupd_is_neither_confirmed_nor_reset_where_the_non_targets_are_not_evaluated() -> None:
    """The re-check's case FI8: the non-target behind the iUPD not evaluated, targets stable, reset the iUPD (iSD),
    so the later further increase was a fresh iUPD. Unknown there, as a new lesion not assessed is: NE."""
    result = irecist(BASE, [m("T1", 50.0), st("NT1", "unequivocal_progression")],
                     [m("T1", 50.0), st("NT1", "not_evaluated")], [m("T1", 50.0), st("NT1", "further_increase")])
    assert responses(result) == ["iUPD", "NE", "iCPD"]
    assert "the non-targets in iUPD not evaluated here" in result["timepoints"][2]["reason"]
    assert result["date_of_progression"] == result["timepoints"][1]["date"]


def test_an_iupd_says_when_the_scan_that_confirms_it_is_due() -> None:
    """The iRECIST reader's finding: the iUPD said "to be confirmed at the next assessment" without the 4-8 weeks."""
    result = irecist(BASE, [m("T1", 70.0), st("NT1", "present")])
    iupd = result["timepoints"][1]
    assert iupd["overall_response"] == "iUPD"
    assert "recommended 4-8 weeks later (2026-03-14 to 2026-04-13; iRECIST" in \
        iupd["reason"], iupd["reason"]
