"""Best overall response over all timepoints (RECIST 1.1 sec. 4.4.3 Table 3, 4.6.1, 4.6.3; iRECIST iBOR)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from recist.model import Response

R = Response
#: CR-level 4, PR-level 3, SD-level 2. Other codes (PD, iUPD, iCPD, NE, NED) have no level.
_LEVEL = {R.CR: 4, R.ICR: 4, R.PR: 3, R.IPR: 3, R.SD: 2, R.ISD: 2, R.NON_CR_NON_PD: 2, R.NON_ICR_NON_IUPD: 2}
_PROGRESSION_ENDS = (R.PD, R.ICPD)


@dataclass(frozen=True, slots=True)
class Assessment:
    label: str
    date: date
    response: Response


@dataclass(frozen=True, slots=True)
class BestResponse:
    response: Response
    reason: str
    date_of_first_response: date | None


@dataclass(frozen=True, slots=True)
class BestResponseRules:
    irecist: bool
    has_targets: bool
    has_non_targets: bool
    confirmation_required: bool
    confirmation_min_days: int
    sd_min_days: int


def _code(level: int, rules: BestResponseRules) -> Response:
    if level == 4:
        return R.ICR if rules.irecist else R.CR
    if level == 3:
        return R.IPR if rules.irecist else R.PR
    if rules.has_targets:
        return R.ISD if rules.irecist else R.SD
    return R.NON_ICR_NON_IUPD if rules.irecist else R.NON_CR_NON_PD


def _confirmation(i: int, level: int, points: Sequence[Assessment], rules: BestResponseRules) -> Assessment | None:
    """The later assessment that confirms ``points[i]`` at ``level``: at least ``confirmation_min_days`` later, at
    that level or better, with only that level or better (or NE) in between (RECIST 1.1 sec. 4.6.1)."""
    start = points[i].date
    for later in points[i + 1:]:
        if later.response is R.NE:
            continue
        if _LEVEL.get(later.response, 0) < level:
            return None
        if (later.date - start).days >= rules.confirmation_min_days:
            return later
    return None


def _response_start(i: int, points: Sequence[Assessment]) -> date:
    """The first date of the response that ``points[i]`` belongs to: duration of response runs from when the criteria
    for CR or PR, whichever came first, were first met (RECIST 1.1 sec. 4.6.2), so a PR that became CR starts at the PR.
    Walks back over PR/CR (and NE) assessments without an interruption by a lower level."""
    start = points[i].date
    for earlier in reversed(points[:i]):
        if earlier.response is R.NE:
            continue
        if _LEVEL.get(earlier.response, 0) < 3:
            break
        start = earlier.date
    return start


def best_overall_response(points: Sequence[Assessment], baseline_date: date, rules: BestResponseRules
                          ) -> BestResponse:
    """``points``: the follow-up assessments in date order. Assessments after the first PD (iCPD) are not used."""
    considered: list[Assessment] = []
    for p in points:
        considered.append(p)
        if p.response in _PROGRESSION_ENDS:
            break
    section = "iRECIST (Seymour 2017) iBOR" if rules.irecist else "RECIST 1.1 sec. 4.4.3"
    unconfirmed: list[str] = []
    for level in (4, 3):
        code = _code(level, rules).value
        for i, p in enumerate(considered):
            if _LEVEL.get(p.response, 0) < level:
                continue
            if not rules.confirmation_required:
                return BestResponse(_code(level, rules), f"{code}: {p.response.value} at {p.label!r} ({p.date}); "
                                    f"confirmation not required ({section})", _response_start(i, considered))
            confirming = _confirmation(i, level, considered, rules)
            if confirming is not None:
                days = (confirming.date - p.date).days
                return BestResponse(
                    _code(level, rules),
                    f"{code}: {p.response.value} at {p.label!r} ({p.date}) confirmed by "
                    f"{confirming.response.value} at {confirming.label!r}, {days} days later (>= "
                    f"{rules.confirmation_min_days}; RECIST 1.1 sec. 4.6.1, Table 3)", _response_start(i, considered))
            unconfirmed.append(f"{p.response.value} at {p.label!r}")
    note = f" ({', '.join(dict.fromkeys(unconfirmed))} not confirmed >= {rules.confirmation_min_days} days later)" \
        if unconfirmed else ""
    early: Assessment | None = None
    if not rules.has_targets and not rules.has_non_targets:
        # NED stands in for SD where there was no disease: it too must last the SD minimum (sec. 4.6.3; our choice, so
        # that NED is not recorded for a subject whose only scan before PD came too early)
        for p in considered:
            if p.response is R.NED:
                days = (p.date - baseline_date).days
                if days >= rules.sd_min_days:
                    return BestResponse(R.NED, f"NED: no disease at baseline and none at {p.label!r}, {days} days "
                                        f"after baseline (>= {rules.sd_min_days}, as for SD: RECIST 1.1 sec. 4.6.3)",
                                        None)
                early = early or p
    for p in considered:
        if _LEVEL.get(p.response, 0) >= 2:
            days = (p.date - baseline_date).days
            if days >= rules.sd_min_days:
                code = _code(2, rules)
                return BestResponse(code, f"{code.value}: {p.response.value} at {p.label!r}, {days} days after "
                                    f"baseline (>= {rules.sd_min_days}; RECIST 1.1 sec. 4.6.3){note}", None)
            early = early or p
    too_early = ""
    if early is not None:
        too_early = (f"; {early.response.value} at {early.label!r} only {(early.date - baseline_date).days} days "
                     f"after baseline (< {rules.sd_min_days}, RECIST 1.1 sec. 4.6.3)")
    last = considered[-1] if considered else None
    if last is not None and last.response in _PROGRESSION_ENDS:
        return BestResponse(last.response, f"{last.response.value} at {last.label!r} ({last.date}){too_early}{note} "
                            f"({section})", None)
    if rules.irecist:
        iupd = next((p for p in considered if p.response is R.IUPD), None)
        if iupd is not None:
            return BestResponse(R.IUPD, f"iUPD at {iupd.label!r} ({iupd.date}), never confirmed{too_early}{note} "
                                f"({section})", None)
    if not considered:
        return BestResponse(R.NE, "NE: no follow-up assessment", None)
    return BestResponse(R.NE, f"NE: no response that qualifies{too_early}{note} ({section})", None)
