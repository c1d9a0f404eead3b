"""Invalid case files: one `CaseError` line naming subject, timepoint and lesion; baseline rules (sec. 3, 4.2)."""

from __future__ import annotations

from typing import Any

import pytest

from recist import CaseError, MeasurabilityCategory, check_target_selection, evaluate_case, measurability
from tests.unit.recist_builders import m, make_case, new, non_target, st, target


def _error(case: Any) -> str:
    with pytest.raises(CaseError) as info:
        evaluate_case(case)
    message = str(info.value)
    assert "\n" not in message
    return message


def _six_targets() -> dict[str, Any]:
    return make_case([target(f"T{i}", 20.0) for i in range(1, 7)])


INVALID = [
    ("more than 5 targets", _six_targets(), "subject S001, timepoint 'baseline', lesion T6: 6 target lesions"),
    ("3 targets in one organ", make_case([target("T1", 20, "liver"), target("T2", 20, "Liver"),
                                          target("T3", 20, "liver")]),
     "lesion T3: 3 target lesions in liver"),
    ("3 nodes anywhere are one organ", make_case([target("N1", 20, "neck", True), target("N2", 20, "axilla", True),
                                                  target("N3", 20, "groin", True)]),
     "lesion N3: 3 target lymph nodes"),
    ("target below 10 mm", make_case([target("T1", 9.9)]), "lesion T1: cannot be a target: 9.9 mm"),
    ("target below 2x slice thickness", make_case([target("T1", 13.9)]) | {"timepoints": [
        {"label": "baseline", "date": "2026-01-05", "slice_thickness_mm": 7, "lesions": [target("T1", 13.9)]}]},
     "lesion T1: cannot be a target: 13.9 mm long axis < 14.0 mm (slices 7 mm)"),
    ("node 12 mm as target", make_case([target("N1", 12.0, node=True)]), "pathological but not measurable"),
    ("undeclared id", make_case([target("T1", 20)], (42, [m("T1", 20), m("T9", 3)])),
     "subject S001, timepoint 'day 42', lesion T9: never declared"),
    ("dates out of order", make_case([target("T1", 20)], (42, [m("T1", 20)]), (30, [m("T1", 20)])),
     "timepoint 'day 30': date 2026-02-04 is not after"),
    ("negative diameter", make_case([target("T1", 20)], (42, [m("T1", -1.0)])),
     "timepoint 'day 42', lesion T1: negative diameter -1.0 mm"),
    ("negative fragment", make_case([target("T1", 20)], (42, [m("T1", [3.0, -1.0])])), "negative diameter"),
    ("not a number", make_case([target("T1", 20)], (42, [m("T1", "12")])), "must be a number"),
    # the statistician's finding: a treatment start after a follow-up scan made `endpoints` abort, or PFS 0 days
    ("treatment after a follow-up", make_case([target("T1", 20)], (42, [m("T1", 20)]), treatment_start="2026-03-01"),
     "'treatment_start' 2026-03-01 is not before the first follow-up scan 2026-02-16 ('day 42')"),
    ("not an object", [1, 2], "subject ?: a case file is a JSON object"),
    ("no subject", {"timepoints": []}, "'subject_id' must be a non-empty string"),
    ("subject with a trailing space", make_case([target("T1", 20)]) | {"subject_id": "S001 "},
     "'subject_id' 'S001 ' has leading or trailing spaces"),
    ("unknown criteria", make_case([target("T1", 20)], criteria="WHO"), "'criteria' must be"),
    ("bad date", make_case([target("T1", 20)]) | {"timepoints": [{"label": "b", "date": "05/01/2026",
                                                                   "lesions": []}]}, "must be an ISO date"),
    ("new lesion at baseline", make_case([new("X1")]), "lesion X1: a lesion at baseline cannot be 'new'"),
    ("target first seen at follow-up", make_case([target("T1", 20)], (42, [target("T2", 20)])),
     "lesion T2: a target lesion is chosen at baseline"),
    ("year 9999", make_case([target("T1", 20)]) | {"timepoints": [{"label": "b", "date": "9999-01-05",
                                                                   "lesions": []}]},
     "'date' 9999-01-05 is not a plausible date"),
    ("role changed", make_case([target("T1", 20)], (42, [{"id": "T1", "role": "new", "status": "unequivocal"}])),
     "'role' was 'target' where the lesion first appeared, now 'new'"),  # the case file's words, no enum repr
    ("node changed", make_case([target("T1", 20)], (42, [{"id": "T1", "node": True, "diameter_mm": 12}])),
     "'node' was false where the lesion first appeared, now true"),
    ("two measurements", make_case([target("T1", 20)], (42, [{"id": "T1", "diameter_mm": 3, "too_small": True}])),
     "exactly one of"),
    ("merged into nothing", make_case([target("T1", 20)], (42, [{"id": "T1", "merged_into": "T7"}])),
     "'merged_into' must name another target lesion"),
    ("non-target with a diameter", make_case([non_target("NT1")], (42, [m("NT1", 20)])),
     "lesion NT1: a non-target lesion takes status"),
    ("typo in a field", make_case([target("T1", 20)], (42, [{"id": "T1", "diameter": 20}])), "unknown field"),
    ("listed twice", make_case([target("T1", 20)], (42, [m("T1", 20), m("T1", 21)])), "listed twice"),
    ("target not measured at baseline", make_case([{"id": "T1", "role": "target", "organ": "liver",
                                                    "too_small": True}]), "must be measured at baseline"),
    ("bad status", make_case([non_target("NT1")], (42, [st("NT1", "gone")])), "got 'gone'"),
    ("death before the last scan", make_case([target("T1", 20)], (42, [m("T1", 20)]), death_date="2026-02-01"),
     "'death_date' 2026-02-01 is before the last assessment"),
    ("NaN", make_case([target("T1", 20)], (42, [m("T1", float("nan"))])), "must be a number"),
]


@pytest.mark.parametrize(("why", "case", "expected"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_case_gives_one_line_naming_where(why: str, case: Any, expected: str) -> None:
    assert expected in _error(case), why


MEASURABILITY = [
    (10.0, False, 5.0, MeasurabilityCategory.TARGET_ELIGIBLE),
    (9.9, False, 5.0, MeasurabilityCategory.TOO_SMALL_FOR_TARGET),
    (9.9, False, 2.5, MeasurabilityCategory.TOO_SMALL_FOR_TARGET),
    (12.0, False, 6.0, MeasurabilityCategory.TARGET_ELIGIBLE),
    (11.9, False, 6.0, MeasurabilityCategory.TOO_SMALL_FOR_TARGET),
    (15.0, True, 5.0, MeasurabilityCategory.TARGET_ELIGIBLE),
    (14.9, True, 5.0, MeasurabilityCategory.NON_TARGET),
    (10.0, True, 5.0, MeasurabilityCategory.NON_TARGET),
    (9.9, True, 5.0, MeasurabilityCategory.NORMAL_NODE),
]


@pytest.mark.parametrize(("mm", "node", "slices", "expected"), MEASURABILITY)
def test_measurability(mm: float, node: bool, slices: float, expected: MeasurabilityCategory) -> None:
    verdict = measurability(mm, node, slices)
    assert verdict.category is expected
    assert "RECIST 1.1 sec. 3.1" in verdict.reason and f"{mm:.1f} mm" in verdict.reason


def test_measurability_refuses_impossible_values() -> None:
    with pytest.raises(ValueError, match="diameter"):
        measurability(-1.0, False)
    with pytest.raises(ValueError, match="slice thickness"):
        measurability(12.0, False, 0.0)


def test_check_target_selection() -> None:
    assert check_target_selection([("T1", "liver", False), ("T2", "liver", False), ("N1", "neck", True)]) == []
    problems = check_target_selection([("T1", "liver", False), ("T2", "liver", False), ("T3", "liver", False),
                                       ("N1", "neck", True), ("N2", "hilum", True), ("N3", "axilla", True)])
    assert len(problems) == 3
    assert any("6 target lesions" in p for p in problems)
    assert any("3 target lesions in liver (T1, T2, T3)" in p for p in problems)
    assert any("all lymph nodes count as one organ" in p for p in problems)
    assert check_target_selection([("T1", "liver", False), ("T1", "lung", False)]) == [
        "lesion T1 is selected as a target twice"]


def test_a_target_missing_at_follow_up_is_not_evaluated_not_zero() -> None:
    result = evaluate_case(make_case([target("T1", 20), target("T2", 20)], (42, [m("T1", 5)])))
    assert result["timepoints"][1]["target_response"] == "NE"


def test_a_mistyped_timepoint_field_is_refused_naming_it() -> None:
    """The data manager's finding: "Lesions" for "lesions" left the visit empty (NE, best response PR -> SD) without a
    word, and "slice_thickness" let a target too small for 8 mm slices through."""
    case = make_case([target("T1", 50.0)], (42, [m("T1", 30.0)]))
    case["timepoints"][1]["Lesions"] = case["timepoints"][1].pop("lesions")
    assert _error(case).endswith("timepoint 'day 42': unknown field(s) Lesions; a timepoint has date, label, lesions, "
                                 "slice_thickness_mm")
