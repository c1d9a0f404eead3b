"""Case files (issue 2's JSON format) built from the ground truth, as a radiologist would record them."""

from __future__ import annotations

from typing import Any

#: Six weeks less the protocol's 7-day window: a first assessment at day 42 counts for stable disease.
SD_MIN_DAYS = 35
#: CR and PR need confirmation (a single-arm trial; RECIST 1.1 sec. 4.6.1).
CONFIRMATION_REQUIRED = True
#: RECIST 1.1: a lymph node under 10 mm short axis is normal.
NODE_NORMAL_MM = 10.0


def recorded_mm(lesion: dict[str, Any], row: dict[str, Any]) -> float:
    """What the reader records: the long axis, or the short axis for a node, to 0.1 mm; 0 when gone."""
    if not row["present"]:
        return 0.0
    value = row["short_axis_mm"] if lesion["node"] else row["long_axis_mm"]
    return round(float(value), 1)


def _declaration(lesion: dict[str, Any]) -> dict[str, Any]:
    return {"role": lesion["role"], "organ": lesion["organ"], "node": lesion["node"]}


def _non_target_status(lesion: dict[str, Any], row: dict[str, Any]) -> str:
    if lesion["node"] and row["present"] and row["short_axis_mm"] is not None:
        return "present" if row["short_axis_mm"] >= NODE_NORMAL_MM else "absent"
    return "present" if row["present"] else "absent"


def response_settings() -> dict[str, Any]:
    """The protocol's response settings, as ``trial.json`` states them for every read of the trial."""
    return {"sd_min_days": SD_MIN_DAYS, "confirmation_required": CONFIRMATION_REQUIRED}


def build_case(truth: dict[str, Any], criteria: str) -> dict[str, Any]:
    """The case file for ``criteria`` (``RECIST 1.1`` or ``iRECIST``) from a subject's ground truth."""
    if criteria not in ("RECIST 1.1", "iRECIST"):
        raise ValueError(f"unknown criteria {criteria!r}")
    timepoints = []
    declared: set[str] = set()
    for t, tp in enumerate(truth["timepoints"]):
        entries: list[dict[str, Any]] = []
        for lesion in truth["lesions"]:
            row = lesion["timepoints"][t]
            lid = lesion["id"]
            entry: dict[str, Any] = {"id": lid}
            if lesion["role"] == "new":
                if not row["present"]:
                    continue
                entry["status"] = "unequivocal"
                if criteria == "iRECIST":
                    entry["diameter_mm"] = recorded_mm(lesion, row)
            elif lesion["role"] == "target":
                entry["diameter_mm"] = recorded_mm(lesion, row)
            else:
                entry["status"] = _non_target_status(lesion, row)
            if lid not in declared:
                entry = {"id": lid, **_declaration(lesion), **{k: v for k, v in entry.items() if k != "id"}}
                declared.add(lid)
            entries.append(entry)
        timepoints.append({"label": tp["label"], "date": tp["date"], "lesions": entries})
    return {
        "subject_id": truth["subject_id"],
        "criteria": criteria,
        "confirmation_required": CONFIRMATION_REQUIRED,
        "sd_min_days": SD_MIN_DAYS,
        "timepoints": timepoints,
    }
