"""Responses for the panel: the read evaluated by the one response engine (`recist`), under both criteria."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from workstation.read_model import Read


@dataclass
class CriteriaResponse:
    criteria: str
    timepoints: list[dict[str, Any]] = field(default_factory=list)
    best_overall_response: str | None = None
    #: the engine's reason for it (the timepoint it rests on, what confirmed it or what was not yet confirmed)
    best_reason: str = ""
    error: str | None = None
    #: ISO date progression dates from (iRECIST: the confirmed iUPD's), None without progression
    date_of_progression: str | None = None


@dataclass
class ResponseSummary:
    recist: CriteriaResponse
    irecist: CriteriaResponse
    #: timepoint label -> the lesions declared by then that it does not assess yet (its response may still change)
    unassessed: dict[str, list[str]] = field(default_factory=dict)


def _readable(read: Read) -> Read:
    """The read cut to the timepoints read so far (a follow-up with no assessment yet is not evaluated)."""
    r = copy.copy(read)
    r.timepoints = [tp for tp in read.timepoints if tp.assessments]
    return r


def evaluate(read: Read, criteria: str) -> CriteriaResponse:
    out = CriteriaResponse(criteria)
    partial = _readable(read)
    if not partial.timepoints or not read.timepoints[0].assessments:
        out.error = "no baseline assessment yet"
        return out
    try:
        from recist import evaluate_case  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        out.error = "the response engine (recist.evaluate_case) is not available"
        return out
    case = partial.to_case()
    case["criteria"] = criteria
    try:
        result = evaluate_case(case)
    except Exception as exc:  # the engine rejects invalid input with a message naming the lesion: show it
        out.error = str(exc) or type(exc).__name__
        # the visits before the one at fault keep their responses (a merge waiting for its host to be measured
        # again emptied the whole panel, signed visits too); the best response waits for the read to be whole
        for k in range(len(case["timepoints"]) - 1, 0, -1):
            try:
                earlier = evaluate_case({**case, "timepoints": case["timepoints"][:k]})
            except Exception:  # the fault is earlier still
                continue
            out.timepoints = list(earlier.get("timepoints", []))
            out.error = f"{out.error} (from {case['timepoints'][k]['label']} on: not evaluated until it is mended)"
            break
        return out
    out.timepoints = list(result.get("timepoints", []))
    out.best_overall_response = result.get("best_overall_response")
    out.best_reason = str(result.get("best_overall_response_reason") or "")
    out.date_of_progression = result.get("date_of_progression")
    return out


def unassessed(read: Read) -> dict[str, list[str]]:
    """For each timepoint read so far, the lesions declared by then that it leaves out (not "not evaluated": a
    status the reader chose), e.g. a new lesion seen at the last visit and not looked at yet here."""
    out: dict[str, list[str]] = {}
    for k, tp in enumerate(read.timepoints):
        if not tp.assessments:
            continue
        missing = [lid for lid, les in read.lesions.items() if les.first_timepoint <= k and lid not in tp.assessments]
        if missing:
            out[tp.label] = missing
    return out


def summarize(read: Read) -> ResponseSummary:
    return ResponseSummary(evaluate(read, "RECIST 1.1"), evaluate(read, "iRECIST"), unassessed(read))
