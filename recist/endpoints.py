"""Trial endpoints over many subjects, from `recist.evaluate_case` outputs.

The one module of `recist` that uses scientific libraries: scipy for the exact (Clopper-Pearson) binomial interval,
lifelines for Kaplan-Meier. Times are in days; months are days / 30.4375.

- ORR: CR + PR (iCR + iPR) over the response-evaluable population, by default the subjects with measurable disease at
  baseline (RECIST 1.1 sec. 3.1.1, 4.4); DCR adds SD and non-CR/non-PD (iSD, non-iCR/non-iUPD).
- DoR (RECIST 1.1 sec. 4.6.2): responders only, from the first CR/PR to progression or death; censored at the last
  evaluable assessment.
- PFS: from ``treatment_start`` (the TIL infusion) when given, else the baseline scan, to progression or death;
  censored at the last evaluable assessment; over every subject, measurable disease at baseline or not (as OS).
  Under iRECIST, progression is the iUPD that was confirmed as iCPD.
- OS, when any case gives ``death_date`` or ``last_contact_date``: to death, censored at the last date the subject
  is known alive: the last contact, or the last scan when that is later or no contact is given (any scan, evaluable
  or not: a scan not evaluable for response still shows the subject alive).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from lifelines import KaplanMeierFitter
from scipy.stats import binomtest

DAYS_PER_MONTH = 30.4375
_RESPONDERS = {"CR", "PR", "iCR", "iPR"}
_DISEASE_CONTROL = _RESPONDERS | {"SD", "non-CR/non-PD", "iSD", "non-iCR/non-iUPD"}
_BOR_ORDER = ["CR", "PR", "SD", "non-CR/non-PD", "PD", "NE", "NED", "iCR", "iPR", "iSD", "non-iCR/non-iUPD", "iUPD",
              "iCPD"]


@dataclass(frozen=True, slots=True)
class Proportion:
    count: int
    n: int
    estimate: float | None
    ci_lower: float | None
    ci_upper: float | None
    confidence: float
    method: str = "Clopper-Pearson exact"


@dataclass(frozen=True, slots=True)
class SurvivalRow:
    """One row of the Kaplan-Meier table: the estimate just after ``time_days``."""

    time_days: float
    at_risk: int
    events: int
    censored: int
    survival: float
    ci_lower: float | None
    ci_upper: float | None


@dataclass(frozen=True, slots=True)
class SurvivalEstimate:
    """A Kaplan-Meier estimate: median with its CI (None when not reached, or not estimable: see
    ``median_ci_not_estimable``), and the table for plots and reports."""

    name: str
    n: int
    events: int
    censored: int
    median_days: float | None
    median_ci_lower_days: float | None
    median_ci_upper_days: float | None
    confidence: float
    table: tuple[SurvivalRow, ...]
    #: the CI limits ("lower", "upper") that would rest on S(t) = 0, where the variance is undefined: not estimable
    median_ci_not_estimable: tuple[str, ...] = ()

    @property
    def median_months(self) -> float | None:
        return None if self.median_days is None else self.median_days / DAYS_PER_MONTH

    def at_risk_at(self, time_days: float) -> int:
        """Number still at risk at ``time_days`` (for the numbers-at-risk row under a plot)."""
        return _at_risk(self.table, time_days, self.n)


def _at_risk(table: Sequence[SurvivalRow], time_days: float, n: int) -> int:
    removed_before = sum(r.events + r.censored for r in table if r.time_days < time_days)
    return n - removed_before


def proportion(count: int, n: int, confidence: float = 0.95) -> Proportion:
    """count / n with the exact Clopper-Pearson interval (scipy)."""
    if n == 0:
        return Proportion(0, 0, None, None, None, confidence)
    ci = binomtest(count, n).proportion_ci(confidence_level=confidence, method="exact")
    return Proportion(count, n, count / n, float(ci.low), float(ci.high), confidence)


#: S(t) within this of 0.5 is 0.5 (R survfit's tolerance, sqrt of the float epsilon): a product of fractions such as
#: 3/4 * 2/3 is not always exactly 0.5 in floating point.
_HALF_TOLERANCE = 1.5e-8


def km_method(confidence: float = 0.95) -> str:
    """How the Kaplan-Meier median and its CI are computed, in words (methods, endpoints.csv)."""
    return ("Kaplan-Meier (lifelines); median: the first time S(t) <= 0.5, or, where S(t) = 0.5 exactly up to the next "
            "event time, the midpoint of the two (SAS PROC LIFETEST, R survfit); "
            f"{round(confidence * 100)} % CI of the median: the times whose pointwise {round(confidence * 100)} % "
            "log(-log) interval of S(t) (Greenwood variance; SAS CONFTYPE=LOGLOG) holds 0.5 (Brookmeyer-Crowley); "
            "a limit where S(t) = 0 (variance undefined) is not estimable (NE)")


def kaplan_meier(name: str, durations_days: Sequence[float], events: Sequence[bool],
                 confidence: float = 0.95) -> SurvivalEstimate | None:
    """Kaplan-Meier (lifelines) with the median and its CI (`km_method`); None when there is no subject."""
    if not durations_days:
        return None
    kmf = KaplanMeierFitter(alpha=1 - confidence)
    kmf.fit(list(durations_days), event_observed=list(events), label=name)
    survival = kmf.survival_function_.iloc[:, 0]
    band = kmf.confidence_interval_survival_function_
    rows = []
    for time, row in kmf.event_table.iterrows():
        s = float(survival.loc[time])
        # at S(t) = 0 Greenwood's variance is undefined (lifelines fills the band with 0): no interval there
        lo, hi = (None, None) if s <= 0 else (_nan_to_none(v) for v in band.loc[time].iloc[:2])
        rows.append(SurvivalRow(float(time), int(row["at_risk"]), int(row["observed"]), int(row["censored"]), s,
                                lo, hi))
    lower, lower_ne = _median_ci_limit(survival, band.iloc[:, 0])
    upper, upper_ne = _median_ci_limit(survival, band.iloc[:, 1])
    n_events = sum(1 for e in events if e)
    return SurvivalEstimate(name, len(durations_days), n_events, len(durations_days) - n_events, _median(rows), lower,
                            upper, confidence, tuple(rows),
                            tuple(k for k, ne in (("lower", lower_ne), ("upper", upper_ne)) if ne))


def _median(rows: Sequence[SurvivalRow]) -> float | None:
    """The first time S(t) <= 0.5; where S(t) = 0.5 exactly until a later event time, the midpoint of the two (SAS
    PROC LIFETEST, R survfit; lifelines gives the first); None when not reached."""
    for i, row in enumerate(rows):
        if row.survival > 0.5 + _HALF_TOLERANCE:
            continue
        if abs(row.survival - 0.5) <= _HALF_TOLERANCE:
            later = next((r.time_days for r in rows[i + 1:] if r.survival < row.survival - _HALF_TOLERANCE), None)
            if later is not None:
                return (row.time_days + later) / 2
        return row.time_days
    return None


def _median_ci_limit(survival: Any, limit: Any) -> tuple[float | None, bool]:
    """One CI limit of the median: the first time the pointwise limit of S(t) is <= 0.5 (as lifelines'
    ``median_survival_times``). (None, False): not reached; (None, True): it falls where S(t) = 0, not estimable."""
    below = limit[limit <= 0.5]
    if below.empty:
        return None, False
    time = below.index[0]
    if float(survival.loc[time]) <= 0:
        return None, True
    return _finite(time), False


def _finite(value: Any) -> float | None:
    v = float(value)
    return v if math.isfinite(v) else None


def _nan_to_none(value: Any) -> float | None:
    v = float(value)
    return None if math.isnan(v) else v


def _date(result: Mapping[str, Any], key: str) -> date | None:
    value = result.get(key)
    return None if value is None else date.fromisoformat(str(value))


def _required_date(result: Mapping[str, Any], key: str) -> date:
    value = _date(result, key)
    if value is None:
        raise ValueError(f"subject {result.get('subject_id', '?')}: result has no {key!r} (not an evaluate_case "
                         "output?)")
    return value


def _last_scan(result: Mapping[str, Any]) -> date:
    """The date of the subject's last scan, evaluable for response or not (the baseline when there is no other)."""
    dates = [date.fromisoformat(str(t["date"])) for t in result.get("timepoints", []) if t.get("date")]
    return max(dates, default=_required_date(result, "last_assessment_date"))


def _event_or_censor(result: Mapping[str, Any], origin: date, what: str) -> tuple[float, bool]:
    """PFS / DoR end: the earlier of progression and death, else censored at the last evaluable assessment.

    An event before the origin is an error; a subject with no evaluable assessment after the origin is censored at 0.
    """
    ends = [d for d in (_date(result, "date_of_progression"), _date(result, "death_date")) if d is not None]
    if ends:
        days = (min(ends) - origin).days
        if days < 0:
            raise ValueError(f"subject {result.get('subject_id', '?')}: {what} event on {min(ends)} is before its "
                             f"origin {origin}")
        return float(days), True
    return float(max(0, (_required_date(result, "last_assessment_date") - origin).days)), False


def with_case_settings(result: dict[str, Any], case: Mapping[str, Any]) -> dict[str, Any]:
    """``result`` with the case's ``confirmation_min_days``, which the engine's output does not carry (the methods name
    the confirmation window)."""
    if "confirmation_min_days" in case:
        result.setdefault("confirmation_min_days", case["confirmation_min_days"])
    return result


def compute_endpoints(results: Sequence[Mapping[str, Any]], *, measurable_only: bool = True,
                      confidence: float = 0.95) -> dict[str, Any]:
    """ORR, DCR (exact CIs), counts per best overall response, DoR, PFS and (when dates are given) OS.

    ``results`` are `recist.evaluate_case` outputs, one per subject. Raises ValueError for mixed criteria or results
    that lack the dates the endpoints need.
    """
    criteria = sorted({str(r.get("criteria")) for r in results})
    if len(criteria) > 1:
        raise ValueError(f"results mix criteria ({', '.join(criteria)}): compute endpoints per criteria")
    population = [r for r in results if r.get("measurable_disease_at_baseline", True) or not measurable_only]
    counts = {code: 0 for code in _BOR_ORDER}
    for r in population:
        counts[str(r["best_overall_response"])] = counts.get(str(r["best_overall_response"]), 0) + 1
    is_irecist = criteria == ["iRECIST"]
    shown = [c for c in _BOR_ORDER if (c.startswith(("i", "non-i")) == is_irecist) or c in ("NE", "NED")]
    orr = proportion(sum(counts[c] for c in _RESPONDERS), len(population), confidence)
    dcr = proportion(sum(counts[c] for c in _DISEASE_CONTROL), len(population), confidence)

    pfs_t, pfs_e, dor_t, dor_e, os_t, os_e = [], [], [], [], [], []
    # PFS and OS are over every subject treated (measurable disease or not); DoR over the responders counted in ORR.
    wants_os = any(r.get("death_date") or r.get("last_contact_date") for r in results)
    in_population = {id(r) for r in population}
    for r in results:
        origin = _date(r, "treatment_start") or _required_date(r, "baseline_date")
        t, e = _event_or_censor(r, origin, "PFS")
        pfs_t.append(t)
        pfs_e.append(e)
        if id(r) in in_population and r["best_overall_response"] in _RESPONDERS:
            t, e = _event_or_censor(r, _required_date(r, "date_of_first_response"), "DoR")
            dor_t.append(t)
            dor_e.append(e)
        if wants_os:
            death, contact = _date(r, "death_date"), _date(r, "last_contact_date")
            alive = [d for d in (contact, _last_scan(r)) if d is not None]
            end = death or max(alive)
            if death is not None and death < origin:
                raise ValueError(f"subject {r.get('subject_id', '?')}: death on {death} is before {origin}")
            os_t.append(float(max(0, (end - origin).days)))
            os_e.append(death is not None)
    survival = {
        "pfs": kaplan_meier("PFS", pfs_t, pfs_e, confidence),
        "dor": kaplan_meier("DoR", dor_t, dor_e, confidence),
        "os": kaplan_meier("OS", os_t, os_e, confidence) if wants_os else None,
    }
    return {
        "criteria": criteria[0] if criteria else None,
        "subjects": len(results),
        "methods": _methods(results, is_irecist, confidence),
        "population": "measurable disease at baseline" if measurable_only else "all subjects",
        "n": len(population),
        "survival_population": "all subjects",  # PFS and OS; DoR: the responders of ``population``
        "best_overall_response_counts": {c: counts[c] for c in shown} | {
            c: n for c, n in counts.items() if n and c not in shown},
        "orr": asdict(orr),
        "dcr": asdict(dcr),
        # iRECIST: subjects whose follow-up ends on an iUPD never confirmed; PFS censors them there (not an event)
        "unconfirmed_iupd_at_end": [str(r.get("subject_id", "?")) for r in results if _ends_unconfirmed(r)],
        # iRECIST: pseudo-progression, an iUPD never confirmed followed by iSD or better (the bar reset; Seymour 2017)
        "pseudo_progression": [str(r.get("subject_id", "?")) for r in results if is_irecist and _pseudo_progression(r)],
        **{name: (None if est is None else survival_to_dict(est)) for name, est in survival.items()},
    }


#: iRECIST responses after which an unconfirmed iUPD is pseudo-progression (the iUPD reset: stable or better)
_RESET_TO = frozenset({"iCR", "iPR", "iSD", "non-iCR/non-iUPD"})


def _pseudo_progression(result: Mapping[str, Any]) -> bool:
    """Whether an iUPD was followed, before any iCPD, by iSD or better (iRECIST's reset): a pseudo-progression."""
    pending = False
    for t in result.get("timepoints", [])[1:]:
        response = t.get("overall_response")
        if response == "iCPD":
            pending = False
        elif response == "iUPD":
            pending = True
        elif pending and response in _RESET_TO:
            return True
    return False


def _ends_unconfirmed(result: Mapping[str, Any]) -> bool:
    """Whether the subject's last assessed response is an iUPD that was never confirmed (no progression date)."""
    if result.get("date_of_progression"):
        return False
    assessed = [t.get("overall_response") for t in result.get("timepoints", [])[1:]
                if t.get("overall_response") not in (None, "NE")]
    return bool(assessed) and assessed[-1] == "iUPD"


def _methods(results: Sequence[Mapping[str, Any]], is_irecist: bool, confidence: float) -> dict[str, str]:
    """How the endpoints were computed, in words for the report: the PFS origin and event, the response settings."""
    starts = sum(1 for r in results if r.get("treatment_start"))
    origin = (
        "the treatment start" if starts == len(results) and results
        else "the baseline scan" if not starts
        else f"the treatment start ({starts} of {len(results)} subjects), else the baseline scan"
    )
    progression = "the iUPD later confirmed as iCPD (dated at the iUPD)" if is_irecist else "progression (PD)"
    settings = sorted({(int(r.get("sd_min_days", 0)), bool(r.get("confirmation_required", True))) for r in results})
    rules = "; ".join(
        f"SD at least {days} days from baseline, CR/PR "
        + ("confirmed at least 4 weeks later" if confirm else "without confirmation")
        for days, confirm in settings
    )
    return {
        "pfs": f"all subjects, from {origin} to {progression} or death; censored at the last evaluable assessment",
        "os": f"all subjects, from {origin} to death; censored at the last contact, or the last scan when later",
        "response_settings": rules or "-",
        "kaplan_meier": km_method(confidence),
    }


def survival_to_dict(estimate: SurvivalEstimate) -> dict[str, Any]:
    out = asdict(estimate)
    out["median_months"] = estimate.median_months
    out["median_ci_not_estimable"] = list(estimate.median_ci_not_estimable)
    out["median_ci_note"] = _ci_note(estimate)
    out["table"] = [asdict(row) for row in estimate.table]
    return out


def _ci_note(estimate: SurvivalEstimate) -> str | None:
    """Why a CI limit of the median is null: not estimable (the curve reaches 0 there), or not reached."""
    ne = estimate.median_ci_not_estimable
    notes = []
    if ne:
        notes.append(f"{' and '.join(ne)} limit{'s' if len(ne) > 1 else ''} not estimable (NE): the curve reaches 0 "
                     "where the interval of S(t) would cross 0.5, and Greenwood's variance is undefined at S(t) = 0")
    if estimate.median_days is None:
        notes.append("median not reached")
    elif estimate.median_ci_upper_days is None and "upper" not in ne:
        notes.append("upper limit not reached")
    return "; ".join(notes) or None
