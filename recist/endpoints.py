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

from recist.parse import DEFAULT_CONFIRMATION_MIN_DAYS, DEFAULT_SD_MIN_DAYS

DAYS_PER_MONTH = 30.4375
_RESPONDERS = {"CR", "PR", "iCR", "iPR"}
_DISEASE_CONTROL = _RESPONDERS | {"SD", "non-CR/non-PD", "iSD", "non-iCR/non-iUPD"}
_BOR_ORDER = ["CR", "PR", "SD", "non-CR/non-PD", "PD", "NE", "NED", "iCR", "iPR", "iSD", "non-iCR/non-iUPD", "iUPD",
              "iCPD"]


class EndpointError(ValueError):
    """Results the endpoints cannot be computed from; ``subject_id`` names the subject at fault, when one is."""

    def __init__(self, message: str, subject_id: str | None = None) -> None:
        super().__init__(message)
        self.subject_id = subject_id


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


@dataclass(frozen=True, slots=True)
class SubjectEnd:
    """How one subject's PFS (or DoR) ends: ``end`` is ``progression``, ``death``, ``censored`` (no event), or
    ``censored after a gap`` (an event more than ``censor_after_gap_days`` after the last evaluable assessment)."""

    subject_id: str
    days: float
    event: bool
    end: str


def _evaluable_dates(result: Mapping[str, Any]) -> list[date]:
    """The baseline and every follow-up with an overall response other than NE: the adequate assessments."""
    follow_ups = [date.fromisoformat(str(t["date"])) for t in result.get("timepoints", [])[1:]
                  if t.get("date") and t.get("overall_response") not in (None, "NE")]
    return [_required_date(result, "baseline_date"), *follow_ups]


def _event_or_censor(result: Mapping[str, Any], origin: date, what: str, gap_days: int | None) -> SubjectEnd:
    """PFS / DoR end: the earlier of progression and death, else censored at the last evaluable assessment. With
    ``gap_days``, an event more than that after the last evaluable assessment before it (missed visits) is censored
    there (FDA 2018 guidance, Clinical Trial Endpoints for the Approval of Cancer Drugs and Biologics, PFS censoring
    table: progression or death after two or more missed visits).

    An event before the origin is an error; a subject with no evaluable assessment after the origin is censored at 0.
    """
    subject = str(result.get("subject_id", "?"))
    ends = [(d, kind) for d, kind in ((_date(result, "date_of_progression"), "progression"),
                                      (_date(result, "death_date"), "death")) if d is not None]
    if not ends:
        last = _required_date(result, "last_assessment_date")
        return SubjectEnd(subject, float(max(0, (last - origin).days)), False, "censored")
    when, kind = min(ends, key=lambda e: e[0])  # progression first on the same day
    if when < origin:
        field = "death_date" if kind == "death" else "date_of_progression"
        raise EndpointError(f"subject {subject}: {what}: {field} {when} is before the {what} origin {origin}", subject)
    if gap_days is not None:
        # progression: the assessments before its scan; death: up to its day
        before = max(d for d in _evaluable_dates(result) if d < when or (kind == "death" and d == when))
        if (when - before).days > gap_days:
            return SubjectEnd(subject, float(max(0, (before - origin).days)), False, "censored after a gap")
    return SubjectEnd(subject, float((when - origin).days), True, kind)


def with_case_settings(result: dict[str, Any], case: Mapping[str, Any]) -> dict[str, Any]:
    """``result`` with the case's ``confirmation_min_days``, which the engine's output does not carry (the methods name
    the confirmation window)."""
    if "confirmation_min_days" in case:
        result.setdefault("confirmation_min_days", case["confirmation_min_days"])
    return result


def compute_endpoints(results: Sequence[Mapping[str, Any]], *, measurable_only: bool = True,
                      confidence: float = 0.95, censor_after_gap_days: int | None = None) -> dict[str, Any]:
    """ORR, DCR (exact CIs), counts per best overall response, DoR, PFS and (when dates are given) OS.

    ``results`` are `recist.evaluate_case` outputs, one per subject. ``censor_after_gap_days``: censor a progression or
    death more than that many days after the last evaluable assessment there (`_event_or_censor`); None counts it as
    an event at its date. Raises ValueError (`EndpointError` naming the subject) for mixed criteria or results that
    lack the dates the endpoints need.
    """
    criteria = sorted({str(r.get("criteria")) for r in results})
    if len(criteria) > 1:
        raise ValueError(f"results mix criteria ({', '.join(criteria)}): compute endpoints per criteria")
    for r in results:
        _check_dates(r)
    population = [r for r in results if r.get("measurable_disease_at_baseline", True) or not measurable_only]
    counts = {code: 0 for code in _BOR_ORDER}
    for r in population:
        counts[str(r["best_overall_response"])] = counts.get(str(r["best_overall_response"]), 0) + 1
    is_irecist = criteria == ["iRECIST"]
    shown = [c for c in _BOR_ORDER if (c.startswith(("i", "non-i")) == is_irecist) or c in ("NE", "NED")]
    orr = proportion(sum(counts[c] for c in _RESPONDERS), len(population), confidence)
    dcr = proportion(sum(counts[c] for c in _DISEASE_CONTROL), len(population), confidence)
    # PFS and OS are over every subject treated (measurable disease or not); DoR over the responders counted in ORR.
    pfs = [_event_or_censor(r, _origin(r), "PFS", censor_after_gap_days) for r in results]
    dor = [_event_or_censor(r, _required_date(r, "date_of_first_response"), "DoR", censor_after_gap_days)
           for r in population if r["best_overall_response"] in _RESPONDERS]
    wants_os = any(r.get("death_date") or r.get("last_contact_date") for r in results)
    os_ends = [_overall_survival(r) for r in results] if wants_os else []
    survival = {
        "pfs": kaplan_meier("PFS", [e.days for e in pfs], [e.event for e in pfs], confidence),
        "dor": kaplan_meier("DoR", [e.days for e in dor], [e.event for e in dor], confidence),
        "os": kaplan_meier("OS", [t for t, _ in os_ends], [e for _, e in os_ends], confidence) if wants_os else None,
    }
    unconfirmed = {str(r.get("subject_id", "?")): end for r, end in zip(results, pfs, strict=True)
                   if _ends_unconfirmed(r)}
    return {
        "criteria": criteria[0] if criteria else None,
        "subjects": len(results),
        "methods": _methods(results, is_irecist, confidence, censor_after_gap_days),
        "population": "measurable disease at baseline" if measurable_only else "all subjects",
        "n": len(population),
        "survival_population": "all subjects",  # PFS and OS; DoR: the responders of ``population``
        "best_overall_response_counts": {c: counts[c] for c in shown} | {
            c: n for c, n in counts.items() if n and c not in shown},
        "orr": asdict(orr),
        "dcr": asdict(dcr),
        # iRECIST: subjects whose follow-up ends on an iUPD never confirmed, by how PFS counts them: censored there
        # (no event), or an event at a later death
        "unconfirmed_iupd_at_end": [s for s, end in unconfirmed.items() if not end.event],
        "unconfirmed_iupd_then_death": [s for s, end in unconfirmed.items() if end.event],
        # iRECIST: pseudo-progression, an iUPD never confirmed followed by iSD or better (the bar reset; Seymour 2017)
        "pseudo_progression": [str(r.get("subject_id", "?")) for r in results if is_irecist and _pseudo_progression(r)],
        "censor_after_gap_days": censor_after_gap_days,
        # the events censored at the last evaluable assessment for the gap before them (FDA 2018)
        "censored_after_gap": {name: [e.subject_id for e in ends if e.end == "censored after a gap"]
                               for name, ends in (("pfs", pfs), ("dor", dor))},
        "pfs_by_subject": [asdict(e) for e in pfs],
        "warnings": _settings_warning(results) + [w for r in results if (w := _date_warning(r))],
        **{name: (None if est is None else survival_to_dict(est)) for name, est in survival.items()},
    }


#: A treatment start this long before the baseline scan is more likely a typing error than a trial's schedule (the
#: baseline scan is usually within 28 days before treatment): warned about, not refused.
TREATMENT_START_WARNING_DAYS = 365


def _check_dates(result: Mapping[str, Any]) -> None:
    """Refuse subject dates that contradict each other, naming the fields: a death before the treatment start (the
    engine checks death and last contact against the scans, not against these) or a last contact after the death."""
    subject = str(result.get("subject_id", "?"))
    start, death = _date(result, "treatment_start"), _date(result, "death_date")
    contact = _date(result, "last_contact_date")
    if death is not None and start is not None and death < start:
        raise EndpointError(f"subject {subject}: death_date {death} is before treatment_start {start} (the origin of "
                            "PFS and OS)", subject)
    if death is not None and contact is not None and contact > death:
        raise EndpointError(f"subject {subject}: last_contact_date {contact} is after death_date {death} (a subject "
                            "is not seen alive after death)", subject)


def _date_warning(result: Mapping[str, Any]) -> str | None:
    """A treatment start long before the baseline scan, which PFS and OS count from: to be checked."""
    start, baseline = _date(result, "treatment_start"), _date(result, "baseline_date")
    if start is None or baseline is None or (baseline - start).days <= TREATMENT_START_WARNING_DAYS:
        return None
    return (f"subject {result.get('subject_id', '?')}: treatment_start {start} is {(baseline - start).days} days "
            f"before the baseline scan {baseline} (PFS and OS count from it): check the date")


def _origin(result: Mapping[str, Any]) -> date:
    """PFS's and OS's origin: the treatment start when given, else the baseline scan."""
    return _date(result, "treatment_start") or _required_date(result, "baseline_date")


def _overall_survival(result: Mapping[str, Any]) -> tuple[float, bool]:
    """OS: to death, else censored at the last date the subject is known alive (last contact, or a later scan)."""
    origin = _origin(result)
    death, contact = _date(result, "death_date"), _date(result, "last_contact_date")
    alive = [d for d in (contact, _last_scan(result)) if d is not None]
    end = death or max(alive)
    if death is not None and death < origin:
        subject = str(result.get("subject_id", "?"))
        raise EndpointError(f"subject {subject}: OS: death_date {death} is before the OS origin {origin}", subject)
    return float(max(0, (end - origin).days)), death is not None


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


def _methods(results: Sequence[Mapping[str, Any]], is_irecist: bool, confidence: float,
             gap_days: int | None) -> dict[str, str]:
    """How the endpoints were computed, in words for the report: the PFS origin and event, the response settings."""
    starts = sum(1 for r in results if r.get("treatment_start"))
    origin = (
        "the treatment start" if starts == len(results) and results
        else "the baseline scan" if not starts
        else f"the treatment start ({starts} of {len(results)} subjects), else the baseline scan"
    )
    progression = "the iUPD later confirmed as iCPD (dated at the iUPD)" if is_irecist else "progression (PD)"
    rules = "; ".join(_settings_text(key) for key in sorted(_settings_groups(results)))
    censoring = f"censored at the last evaluable assessment; {_gap_rule(gap_days)}"
    return {
        "pfs": f"all subjects, from {origin} to {progression} or death; {censoring}",
        "dor": f"responders, from the first response to {progression} or death; {censoring}",
        "os": f"all subjects, from {origin} to death; censored at the last contact, or the last scan when later",
        "response_settings": rules or "-",
        "kaplan_meier": km_method(confidence),
        "time": TIME_CONVENTION,
    }


#: How times are counted (methods): the same as SAS's and R's on dates.
TIME_CONVENTION = (f"days = end date - start date (the origin is day 0); months = days / {DAYS_PER_MONTH} "
                   "(365.25 / 12)")


def _settings_key(result: Mapping[str, Any]) -> tuple[int, bool, int | None]:
    """A subject's response settings: SD minimum days, confirmation required, its window (None without it)."""
    confirm = bool(result.get("confirmation_required", True))
    window = int(result.get("confirmation_min_days", DEFAULT_CONFIRMATION_MIN_DAYS))
    return int(result.get("sd_min_days", DEFAULT_SD_MIN_DAYS)), confirm, window if confirm else None


def _settings_groups(results: Sequence[Mapping[str, Any]]) -> dict[tuple[int, bool, int | None], list[str]]:
    groups: dict[tuple[int, bool, int | None], list[str]] = {}
    for r in results:
        groups.setdefault(_settings_key(r), []).append(str(r.get("subject_id", "?")))
    return groups


def _settings_text(key: tuple[int, bool, int | None]) -> str:
    sd_days, confirm, window = key
    return (f"SD at least {sd_days} days from baseline, CR/PR "
            + (f"confirmed at least {window} days later" if confirm else "without confirmation"))


def _settings_warning(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """A warning when subjects were evaluated under different response settings, naming who uses which: their best
    responses are not comparable (RECIST 1.1 sec. 4.6.1 and 4.6.3 leave confirmation and the SD minimum to the
    protocol, one per trial)."""
    groups = _settings_groups(results)
    if len(groups) < 2:
        return []
    return ["subjects evaluated under different response settings (their best responses are not comparable): "
            + "; ".join(f"{_settings_text(key)}: {', '.join(subjects)}" for key, subjects in sorted(groups.items()))]


def _gap_rule(gap_days: int | None) -> str:
    """What happens to progression or death after missed visits (FDA 2018 guidance, PFS censoring table)."""
    if gap_days is None:
        return ("progression or death after missed visits is counted as an event at its date, not censored at the last "
                "evaluable assessment (FDA 2018 guidance censors it after two or more missed visits: "
                "censor_after_gap_days, --censor-after-gap)")
    return (f"progression or death more than {gap_days} days after the last evaluable assessment (missed visits) is "
            "censored there (FDA 2018 guidance, Clinical Trial Endpoints for the Approval of Cancer Drugs and "
            "Biologics, PFS censoring table)")


def subject_notes(out: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The subjects whose PFS or DoR needs a word, as (label, subjects), for the table and the report: how each is
    counted is the endpoints' own (an unconfirmed iUPD is censored there, unless a death follows: an event)."""
    gap = out.get("censor_after_gap_days")
    censored = out.get("censored_after_gap") or {}
    rows = [
        ("Follow-up ends on an iUPD never confirmed (PFS censored there)", out.get("unconfirmed_iupd_at_end")),
        ("Unconfirmed iUPD, then death (PFS event at death)", out.get("unconfirmed_iupd_then_death")),
        (f"PFS event more than {gap} days after the last evaluable assessment (censored there)", censored.get("pfs")),
        (f"DoR event more than {gap} days after the last evaluable assessment (censored there)", censored.get("dor")),
    ]
    return [(label, ", ".join(subjects)) for label, subjects in rows if subjects]


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
