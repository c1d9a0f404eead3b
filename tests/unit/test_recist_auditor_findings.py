"""An independent RECIST/iRECIST auditor's findings (2026-11-27), each a wrong or misleading response before."""

from __future__ import annotations

from typing import Any

from recist import evaluate_case
from recist.baseline import check_target_selection, organ_key
from tests.unit.recist_builders import m, make_case, new, non_target, responses, st, target

BASE = [target("T1", 50.0), non_target("NT1")]


def _evaluate(*followups: list[dict[str, Any]], criteria: str = "RECIST 1.1",
              baseline: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return evaluate_case(make_case(baseline or BASE, *[(42 * (i + 1), f) for i, f in enumerate(followups)],
                                   criteria=criteria))


def test_a_new_lymph_node_under_10_mm_short_axis_is_normal_not_a_new_lesion() -> None:
    """RECIST working group FAQ "New lymph node lesions": nodes < 10 mm short axis are non-pathological and are not
    recorded; one was PD (iUPD) on an 8 mm node. Once >= 10 mm it is a new lesion (from that scan)."""
    small = new("N1", organ="lymph node", node=True, mm=8.0)
    result = _evaluate([m("T1", 50.0), st("NT1", "present"), small],
                       [m("T1", 50.0), st("NT1", "present"), m("N1", 12.0)])
    assert responses(result) == ["SD", "PD"]
    assert responses(result, "new_lesions") == ["no", "yes"]
    assert "N1: lymph node(s) < 10 mm short axis, normal, not new lesions" in result["timepoints"][1]["reason"]
    assert result["date_of_progression"] == result["timepoints"][2]["date"]
    i = _evaluate([m("T1", 50.0), st("NT1", "present"), small], criteria="iRECIST")
    assert responses(i) == ["iSD"]
    not_a_node = _evaluate([m("T1", 50.0), st("NT1", "present"), new("N1", organ="lung", mm=8.0)])
    assert responses(not_a_node) == ["PD"]


def test_a_new_node_back_under_10_mm_no_longer_holds_an_iupd() -> None:
    """iRECIST: a new node that shrinks to normal (< 10 mm) is gone as a new lesion, so the iUPD it caused resets."""
    result = _evaluate([m("T1", 50.0), st("NT1", "present"), new("N1", organ="lymph node", node=True, mm=12.0)],
                       [m("T1", 50.0), st("NT1", "present"), m("N1", 7.0)], criteria="iRECIST")
    assert responses(result) == ["iUPD", "iSD"]


def test_irecist_a_measured_new_non_target_that_grew_confirms_the_iupd() -> None:
    """Seymour 2017 Table 2: any increase of a new non-target confirms the iUPD. Six measurable new lesions: five are
    new-lesion targets, the sixth a new non-target; its growth 20 -> 30 mm was ignored (iUPD for ever)."""
    fu1 = [m("T1", 50.0), st("NT1", "present"), *[new(f"N{k}", organ=f"organ{k}", mm=20.0) for k in range(1, 7)]]
    fu2 = [m("T1", 50.0), st("NT1", "present"), *[m(f"N{k}", 20.0) for k in range(1, 6)], m("N6", 30.0)]
    result = _evaluate(fu1, fu2, criteria="iRECIST")
    assert result["timepoints"][1]["new_lesion_targets"] == ["N1", "N2", "N3", "N4", "N5"]
    assert responses(result) == ["iUPD", "iCPD"]
    assert "new non-target lesion(s) measured larger than at iUPD (N6 20.0 -> 30.0 mm)" in \
        result["timepoints"][2]["reason"]
    jitter = [m("T1", 50.0), st("NT1", "present"), *[m(f"N{k}", 20.0) for k in range(1, 6)], m("N6", 20.6)]
    assert responses(_evaluate(fu1, jitter, criteria="iRECIST")) == ["iUPD", "iUPD"]  # under a millimetre


def test_irecist_unequivocal_progression_of_a_new_lesion_target_is_judged_by_the_sum() -> None:
    """A new-lesion target marked "unequivocal progression" at +1 mm confirmed iCPD, called a non-target; Seymour 2017
    Table 2 confirms new-lesion targets by their sum (+5 mm)."""
    fu1 = [m("T1", 50.0), st("NT1", "present"), new("N1", mm=20.0)]
    grown = {"id": "N1", "status": "unequivocal_progression", "diameter_mm": 21.0}
    result = _evaluate(fu1, [m("T1", 50.0), st("NT1", "present"), grown], criteria="iRECIST")
    assert result["timepoints"][1]["new_lesion_targets"] == ["N1"]
    assert responses(result) == ["iUPD", "iUPD"]
    grown["diameter_mm"] = 25.0
    result = _evaluate(fu1, [m("T1", 50.0), st("NT1", "present"), grown], criteria="iRECIST")
    assert responses(result) == ["iUPD", "iCPD"]
    assert "new-lesion target sum 25.0 mm is +5.0 mm" in result["timepoints"][2]["reason"]


def test_irecist_an_iupd_on_a_partial_target_sum_is_confirmed_by_the_targets_measured_at_both() -> None:
    """iUPD called with T2 not evaluated (T1 alone proves it, sec. 4.4.2): the sum at iUPD was unknown, so the
    targets could never confirm it, whatever they grew to."""
    base = [target("T1", 25.0), target("T2", 25.0), non_target("NT1")]
    result = _evaluate([m("T1", 61.0), st("T2", "not_evaluated"), st("NT1", "present")],
                       [m("T1", 70.0), m("T2", 25.0), st("NT1", "present")],
                       criteria="iRECIST", baseline=base)
    assert responses(result) == ["iUPD", "iCPD"]
    assert "(T1) sum 70.0 mm, +9.0 mm over 61.0 mm at iUPD" in result["timepoints"][2]["reason"]
    small = _evaluate([m("T1", 61.0), st("T2", "not_evaluated"), st("NT1", "present")],
                      [m("T1", 64.0), m("T2", 25.0), st("NT1", "present")], criteria="iRECIST", baseline=base)
    assert responses(small) == ["iUPD", "iUPD"]  # T1 +3 mm: T2's 25 mm is no increase since the iUPD


def test_an_equivocal_new_lesion_not_assessed_at_a_scan_still_backdates_to_its_first_scan() -> None:
    """RECIST 1.1 sec. 4.3.5 ("the date of the initial scan"): a scan that did not assess the lesion shows nothing
    either way; one where it was recorded gone still breaks the run."""
    fu1 = [m("T1", 45.0), st("NT1", "present"), new("N1", status="equivocal")]
    fu3 = [m("T1", 45.0), st("NT1", "present"), st("N1", "unequivocal")]
    skipped = _evaluate(fu1, [m("T1", 45.0), st("NT1", "present"), st("N1", "not_evaluated")], fu3)
    assert skipped["date_of_progression"] == skipped["timepoints"][1]["date"]
    assert skipped["best_overall_response"] == "PD"
    gone = _evaluate(fu1, [m("T1", 45.0), st("NT1", "present"), st("N1", "absent")], fu3)
    assert gone["date_of_progression"] == gone["timepoints"][3]["date"]


def test_ned_needs_the_sd_minimum_duration_as_sd_does() -> None:
    """A subject without disease whose only scan before PD came 35 days after baseline was NED; non-CR/non-PD in the
    same place is not counted (sec. 4.6.3): neither is NED now."""
    case = make_case([], (35, []), (77, [new("N1")]))
    result = evaluate_case(case)
    assert responses(result) == ["NED", "PD"]
    assert result["best_overall_response"] == "PD"
    assert "NED at 'day 35' only 35 days after baseline (< 42" in result["best_overall_response_reason"]
    assert evaluate_case(make_case([], (42, []), (77, [new("N1")])))["best_overall_response"] == "NED"


def test_paired_organs_and_organ_parts_count_as_one_organ() -> None:
    """RECIST working group FAQ "Paired organs": lung, kidney, ovaries ... are one organ whatever their parts, so
    three targets in "left lung", "right lung" and "lung" break the 2-per-organ rule."""
    assert organ_key("Left lung", False) == organ_key("right lower lobe of lung", False) == "lung"
    assert organ_key("kidneys", False) == "kidney" and organ_key("Liver segment 7", False) == "liver"
    assert organ_key("Peritoneum", False) == "peritoneum" and organ_key("lung and liver", False) == "lung and liver"
    found = check_target_selection([("T1", "left lung", False), ("T2", "right lung", False), ("T3", "lung", False)])
    assert found == ["3 target lesions in lung (T1, T2, T3): at most 2 per organ (RECIST 1.1 sec. 4.2)"]


def test_the_result_gives_the_confirmation_window_it_applied() -> None:
    """The endpoints and the report state the response settings from the results: the confirmation window was not in
    them (the report lost a case's 56 days)."""
    result = evaluate_case(make_case(BASE, (42, [m("T1", 30.0), st("NT1", "present")]), confirmation_min_days=56))
    assert result["confirmation_min_days"] == 56
    assert evaluate_case(make_case(BASE))["confirmation_min_days"] == 28


def test_a_normal_sized_or_gone_equivocal_new_lesion_breaks_the_backdating_run() -> None:
    """The re-check's findings: an equivocal new node of 8 mm (normal, not a lesion, as the reason said) backdated
    progression to that scan; so did an equivocal new lesion recorded 0 mm (gone)."""
    node = new("N1", status="equivocal", organ="lymph node", node=True, mm=8.0)
    fu2 = [m("T1", 45.0), st("NT1", "present"), {"id": "N1", "status": "unequivocal", "diameter_mm": 12.0}]
    result = _evaluate([m("T1", 45.0), st("NT1", "present"), node], fu2)
    assert result["date_of_progression"] == result["timepoints"][2]["date"]
    assert result["best_overall_response"] == "SD"
    gone = {"id": "N1", "status": "equivocal", "diameter_mm": 0}
    result = _evaluate([m("T1", 45.0), st("NT1", "present"), new("N1", status="equivocal")],
                       [m("T1", 45.0), st("NT1", "present"), gone],
                       [m("T1", 45.0), st("NT1", "present"), st("N1", "unequivocal")])
    assert result["date_of_progression"] == result["timepoints"][3]["date"]


def test_irecist_too_small_to_measure_is_no_measurement_of_growth() -> None:
    """The 5 mm that stands in for a new non-target too small to measure is no measurement: 4 mm at the iUPD, then
    too small, was 'measured larger' and confirmed iCPD."""
    fu1 = [m("T1", 50.0), st("NT1", "present"), new("N1", mm=4.0)]
    result = _evaluate(fu1, [m("T1", 50.0), st("NT1", "present"), {"id": "N1", "too_small": True}],
                       criteria="iRECIST")
    assert responses(result) == ["iUPD", "iUPD"]


def test_organ_adjectives_count_with_their_organ_and_two_organs_are_refused() -> None:
    """The re-check's findings: "hepatic", "pulmonary", "renal", "pleural" escaped the 2-per-organ rule, and "lung
    and liver" made an organ of its own; the hepatic and splenic flexures stay the colon's."""
    assert organ_key("hepatic", False) == "liver" and organ_key("Pulmonary nodule", False) == "lung"
    assert organ_key("renal", False) == "kidney" and organ_key("pleural", False) == "pleura"
    assert organ_key("hepatic flexure", False) == "hepatic flexure"
    assert check_target_selection([("T1", "liver", False), ("T2", "Liver segment 7", False),
                                   ("T3", "hepatic", False)])[0].startswith("3 target lesions in liver")
    assert check_target_selection([("T1", "lung and liver", False)]) == [
        "target T1: its organ 'lung and liver' names 2 organs (liver, lung); give the one organ it lies in (RECIST "
        "1.1 sec. 4.2)"]
