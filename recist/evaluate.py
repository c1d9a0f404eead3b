"""Evaluate a case: every timepoint's responses with reasons, then the best overall response."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from recist.best_response import Assessment, BestResponseRules, best_overall_response
from recist.categories import (
    NOTHING_BACK,
    ResponseRun,
    assess_new_lesions,
    assess_non_targets,
    assess_targets,
    equivocal_since,
    new_lesions_unassessed,
    partial_response_continues,
    reappeared,
    target_sum,
)
from recist.measure import fmt_mm, pct_value, um_to_mm
from recist.model import Case, CaseResult, Criteria, NewLesions, Response, Role, TimepointResponse
from recist.overall import overall_response
from recist.parse import parse_case


def evaluate_case(case: Mapping[str, Any]) -> dict[str, Any]:
    """The case file (docs/case-file.md) -> the output JSON (docs/case-file.md, "Output"). Raises `CaseError`."""
    return result_to_dict(evaluate(parse_case(case)))


def evaluate(case: Case) -> CaseResult:
    if case.criteria is Criteria.IRECIST:
        from recist.irecist import evaluate_irecist  # here: recist.irecist imports this module

        result: CaseResult = evaluate_irecist(case)
        return result
    return _evaluate_recist(case)


def baseline_response(case: Case) -> TimepointResponse:
    targets = case.ids_with_role(Role.TARGET)
    total, _ = target_sum(case.baseline, targets)
    base = case.baseline
    return TimepointResponse(
        base.label, base.date, total if targets else None, None, None, None, None, None, None, None, "", "", "",
        f"{len(targets)} target(s), sum {fmt_mm(total)} mm; "
        f"{len(case.ids_with_role(Role.NON_TARGET))} non-target(s)")


def _evaluate_recist(case: Case) -> CaseResult:
    targets = [d for d in case.lesions.values() if d.role is Role.TARGET]
    non_targets = case.ids_with_role(Role.NON_TARGET)
    nt_decls = [case.lesions[i] for i in non_targets]
    new_ids = case.ids_with_role(Role.NEW)
    new_nodes = frozenset(i for i in new_ids if case.lesions[i].is_node)
    base = baseline_response(case)
    baseline_um = base.sum_um or 0
    nadir_um = baseline_um
    rows = [base]
    progression_date: date | None = None
    pd_from: int | None = None  # the timepoint progression dates from (backdated by sec. 4.3.5, if it was)
    crs = ResponseRun(Response.CR)
    prs = ResponseRun(Response.PR, Response.CR)  # a confirmed PR continues (partial_response_continues)
    present_new: set[str] = set()
    for tp in case.timepoints[1:]:
        t = assess_targets(tp, targets, baseline_um, nadir_um) if targets else None
        if t is not None and prs.definitive(case.confirmation_required, case.confirmation_min_days):
            t = partial_response_continues(t, Response.PR)
        nt = assess_non_targets(tp, non_targets) if non_targets else None
        new = assess_new_lesions(tp, new_ids, new_nodes)
        unassessed = new_lesions_unassessed(tp, new_ids, present_new, new_nodes)
        if unassessed and new.status is not NewLesions.YES:
            # Table 1 has no "not evaluated" for new lesions: the column stays as assessed, the reason says what is
            # unknown (a new lesion seen before and not assessed here may still be there).
            new = new._replace(reason=f"{new.reason}; {', '.join(unassessed)} seen before, not assessed here")
        t_response = t.response if t else None
        nt_response = nt.response if nt else None
        overall, rule = overall_response(t_response, nt_response, new.status)
        definitive_cr = crs.definitive(case.confirmation_required, case.confirmation_min_days)
        back = reappeared(tp, targets, nt_decls) if definitive_cr and overall is not Response.PD else NOTHING_BACK
        t_reason, nt_reason = (t.reason if t else None), (nt.reason if nt else None)
        if back.all:
            overall, rule = Response.PD, (
                f"PD: {', '.join(back.all)} present again after the complete response confirmed at the previous "
                "assessment; after a definitive CR any reappearing lesion is progression (RECIST 1.1 FAQ of the "
                "EORTC RECIST working group, 'Does a new lesion always result in PD?')")
            # the category the lesion came back in is in progression too (Table 1 reads the same from its parts)
            if back.targets:
                t_response = Response.PD
                t_reason = f"PD: {', '.join(back.targets)} present again after a confirmed CR; {t_reason}"
            if back.non_targets:
                nt_response = Response.PD
                nt_reason = f"PD: {', '.join(back.non_targets)} present again after a confirmed CR; {nt_reason}"
        reason = join_reason(rule, t_reason, nt_reason, new.reason)
        crs.add(overall, tp.date)
        prs.add(overall, tp.date)
        if progression_date is not None:
            reason += (f"; after progression on {progression_date.isoformat()}: not used for the best overall "
                       "response (RECIST 1.1 sec. 4.4.3)")
        if overall is Response.PD and progression_date is None:
            progression_date, pd_from = tp.date, tp.index
        if new.status is NewLesions.YES and pd_from is not None:
            # sec. 4.3.5: once a new lesion is unequivocal, progression dates from the scan where it was first seen as
            # equivocal; also when that is confirmed only after a progression by other lesions (treatment beyond
            # progression, as under iRECIST, keeps the scans coming)
            first_seen = min(equivocal_since(case, i, tp.index) for i in new.unequivocal)
            if first_seen < pd_from:
                progression_date = case.timepoints[first_seen].date
                reason += (f"; progression dates from {case.timepoints[first_seen].label!r}, where the new lesion "
                           "was first seen as equivocal (RECIST 1.1 sec. 4.3.5)")
                # The scans since the equivocal one were after progression: their responses, as assessed then,
                # stay on record but no longer count for the best overall response (sec. 4.4.3).
                for j in range(first_seen, pd_from):
                    rows[j] = rows[j]._replace(reason=(
                        f"{rows[j].reason}; the equivocal new lesion seen here was confirmed at {tp.label!r}: "
                        "progression dates from here, so this response does not count for the best overall "
                        "response (RECIST 1.1 sec. 4.3.5, 4.4.3)"))
                pd_from = first_seen
        sum_um = t.sum_um if t else None
        rows.append(TimepointResponse(
            tp.label, tp.date, sum_um, nadir_um if t else None,
            pct_value(sum_um - baseline_um, baseline_um) if sum_um is not None else None,
            pct_value(sum_um - nadir_um, nadir_um) if sum_um is not None else None,
            t_response, nt_response, new.status, overall,
            t_reason or "", nt_reason or "", new.reason, reason))
        if sum_um is not None and sum_um < nadir_um:
            nadir_um = sum_um  # RECIST 1.1 sec. 4.3.1: the nadir is the smallest sum so far, baseline included
    return finish_case(case, rows, progression_date, bool(targets), bool(non_targets), pd_from)


def join_reason(rule: str, target: str | None, non_target: str | None, new: str) -> str:
    parts = [rule]
    if target:
        parts.append(f"targets: {target}")
    if non_target:
        parts.append(f"non-targets: {non_target}")
    parts.append(f"new lesions: {new}")
    return "; ".join(parts)


def finish_case(case: Case, rows: list[TimepointResponse], progression_date: date | None, has_targets: bool,
                has_non_targets: bool, pd_from: int | None = None, progressed: Response = Response.PD) -> CaseResult:
    """The result from the timepoint rows; from row ``pd_from`` on (progression backdated to it, RECIST 1.1 sec.
    4.3.5) the best overall response counts ``progressed`` (PD; iRECIST: iCPD), whatever was assessed there then."""
    rules = BestResponseRules(case.criteria is Criteria.IRECIST, has_targets, has_non_targets,
                              case.confirmation_required, case.confirmation_min_days, case.sd_min_days)
    points = [Assessment(r.label, r.date, progressed if pd_from is not None and i >= pd_from else r.overall_response)
              for i, r in enumerate(rows) if i > 0 and r.overall_response is not None]
    best = best_overall_response(points, case.baseline.date, rules)
    evaluable = [r.date for r in rows[1:] if r.overall_response not in (None, Response.NE)]
    return CaseResult(
        case.subject_id, case.criteria, tuple(rows), best.response, best.reason, case.baseline.date,
        best.date_of_first_response, progression_date, evaluable[-1] if evaluable else case.baseline.date,
        case.treatment_start, case.death_date, case.last_contact_date, case.confirmation_required, case.sd_min_days,
        has_targets, case.confirmation_min_days)


def _mm(um: int | None) -> float | None:
    return None if um is None else um_to_mm(um)


def _iso(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


#: Code -> plain str, looked up rather than read through the enum's ``value`` descriptor (hot: every timepoint).
_TEXT: dict[Any, str | None] = {None: None} | {m: m.value for m in (*Response, *NewLesions)}


def result_to_dict(result: CaseResult) -> dict[str, Any]:
    """The output JSON. Percentages are rounded to one decimal, never onto a threshold (recist.measure.pct_tenths)."""
    timepoints = []
    text = _TEXT
    irecist = result.criteria is Criteria.IRECIST
    for r in result.timepoints:
        row: dict[str, Any] = {
            "label": r.label, "date": r.date.isoformat(), "sum_mm": _mm(r.sum_um), "nadir_mm": _mm(r.nadir_um),
            "change_from_baseline_pct": r.change_from_baseline_pct, "change_from_nadir_pct": r.change_from_nadir_pct,
            "target_response": text[r.target_response], "non_target_response": text[r.non_target_response],
            "new_lesions": text[r.new_lesions], "overall_response": text[r.overall_response],
            "reason": r.reason,  # the rule for the overall response, then each category's (`TimepointResponse`)
        }
        if irecist:
            row["new_lesion_target_sum_mm"] = _mm(r.new_lesion_target_sum_um)
            row["new_lesion_targets"] = list(r.new_lesion_targets)
        timepoints.append(row)
    return {
        "subject_id": result.subject_id, "criteria": result.criteria.value, "timepoints": timepoints,
        "best_overall_response": result.best_overall_response.value,
        "best_overall_response_reason": result.best_overall_response_reason,
        "baseline_date": result.baseline_date.isoformat(), "treatment_start": _iso(result.treatment_start),
        "date_of_first_response": _iso(result.date_of_first_response),
        "date_of_progression": _iso(result.date_of_progression),
        "last_assessment_date": result.last_assessment_date.isoformat(),
        "death_date": _iso(result.death_date), "last_contact_date": _iso(result.last_contact_date),
        "confirmation_required": result.confirmation_required, "sd_min_days": result.sd_min_days,
        "confirmation_min_days": result.confirmation_min_days,
        "measurable_disease_at_baseline": result.measurable_disease_at_baseline,
    }
