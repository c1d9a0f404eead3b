"""Builders for case files in the RECIST tests (no tests here).

A case is written as a baseline lesion list and follow-ups ``(days after baseline, lesion list)``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

BASELINE = date(2026, 1, 5)


def target(lesion_id: str, mm: float | list[float], organ: str | None = None, node: bool = False) -> dict[str, Any]:
    return {"id": lesion_id, "role": "target", "organ": organ or f"organ-{lesion_id}", "node": node,
            "diameter_mm": mm}


def non_target(lesion_id: str, organ: str | None = None, node: bool = False) -> dict[str, Any]:
    return {"id": lesion_id, "role": "non-target", "organ": organ or f"organ-{lesion_id}", "node": node,
            "status": "present"}


def new(lesion_id: str, status: str = "unequivocal", organ: str = "lung", node: bool = False,
        mm: float | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": lesion_id, "role": "new", "organ": organ, "node": node, "status": status}
    if mm is not None:
        entry["diameter_mm"] = mm
    return entry


def m(lesion_id: str, mm: float | list[float]) -> dict[str, Any]:
    """A follow-up measurement of a declared lesion."""
    return {"id": lesion_id, "diameter_mm": mm}


def st(lesion_id: str, status: str) -> dict[str, Any]:
    return {"id": lesion_id, "status": status}


def make_case(baseline: list[dict[str, Any]], *followups: tuple[int, list[dict[str, Any]]],
              **fields: Any) -> dict[str, Any]:
    timepoints = [{"label": "baseline", "date": BASELINE.isoformat(), "lesions": baseline}]
    for days, lesions in followups:
        timepoints.append({"label": f"day {days}", "date": (BASELINE + timedelta(days=days)).isoformat(),
                           "lesions": lesions})
    case: dict[str, Any] = {"subject_id": "S001", "criteria": "RECIST 1.1", "confirmation_required": True,
                            "sd_min_days": 42, "timepoints": timepoints}
    case.update(fields)
    return case


def responses(result: dict[str, Any], key: str = "overall_response") -> list[Any]:
    """A response column over the follow-ups (baseline left out)."""
    return [tp[key] for tp in result["timepoints"][1:]]
