"""Two central reads are discordant when their best overall response or date of progression differ, under the
criteria of the review or under the other one from the same measurements (the trial's primary endpoint is RECIST
1.1; a review under iRECIST accepted reads that disagreed there)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from workstation.export.read_json import read_from_case
from workstation.review.discordance import compare

BASELINE = date(2026, 1, 5)


def _read(reader: str, sums: list[float], new_at: set[int], criteria: str = "iRECIST") -> Any:
    timepoints = []
    for i, d in enumerate(sums):
        lesions: list[dict[str, Any]] = [{"id": "T1", "diameter_mm": d}]
        if i == 0:
            lesions[0] |= {"role": "target", "organ": "liver", "node": False}
        if i in new_at:
            first = i == min(new_at)
            lesions.append({"id": "N1", "status": "unequivocal"} | ({"role": "new", "organ": "lung"} if first else {}))
        elif new_at and i > min(new_at):
            lesions.append({"id": "N1", "status": "absent"})
        when = (BASELINE + timedelta(weeks=6 * i)).isoformat()
        timepoints.append({"label": f"TP{i}", "date": when, "lesions": lesions})
    case = {"subject_id": "S1", "criteria": criteria, "confirmation_required": True, "sd_min_days": 35,
            "timepoints": timepoints}  # fmt: skip
    read = read_from_case(case)
    read.reader, read.read_id = reader, f"read-{reader}"
    return read


def test_reads_that_agree_under_irecist_but_not_under_recist_are_discordant() -> None:
    """Rob: a confirmed PR. Rita: the same shrinkage, with a new lesion at week 6 that is gone at week 12 (iUPD not
    confirmed, then iPR under iRECIST; PD under RECIST 1.1)."""
    rob = _read("rob", [50, 30, 25, 25], set())
    rita = _read("rita", [50, 30, 25, 25], {1})
    c = compare(rob, rita)
    assert (c.first.best_overall_response, c.second.best_overall_response) == ("iPR", "iPR")
    assert not c.bor_differs and not c.progression_date_differs
    assert c.other is not None and c.other_criteria == "RECIST 1.1"
    assert (c.other.first.best_overall_response, c.other.second.best_overall_response) == ("PR", "PD")
    assert c.discordant
    assert "under RECIST 1.1: best overall response PR vs PD" in c.reasons()


def test_reads_that_agree_under_both_criteria_are_concordant() -> None:
    c = compare(_read("rob", [50, 30, 25, 25], set()), _read("rita", [50, 31, 26, 25], set()))
    assert not c.discordant and c.reasons() == []
