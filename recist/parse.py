"""The case file (docs/case-file.md) -> `Case`, checking every rule a case must meet before it can be evaluated."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from typing import Any

from recist.baseline import (
    DEFAULT_SLICE_THICKNESS_MM,
    MAX_DIAMETER_MM,
    MAX_SLICE_THICKNESS_MM,
    measurability,
    minimum_target_mm,
    target_selection_violations,
)
from recist.errors import CaseError
from recist.measure import TOO_SMALL_UM, UM_PER_MM, mm_to_um
from recist.model import Case, Criteria, LesionDeclaration, LesionObservation, Role, Status, Timepoint

DEFAULT_SD_MIN_DAYS = 42
DEFAULT_CONFIRMATION_MIN_DAYS = 28  # RECIST 1.1 sec. 4.6.1: confirmation no less than 4 weeks later
MAX_PLAUSIBLE_MM = MAX_DIAMETER_MM

_LESION_KEYS = frozenset({"id", "role", "organ", "node", "diameter_mm", "too_small", "merged_into", "status"})
_TIMEPOINT_KEYS = frozenset({"label", "date", "lesions", "slice_thickness_mm"})
_NON_TARGET_STATUS = {s.value: s for s in (Status.PRESENT, Status.ABSENT, Status.UNEQUIVOCAL_PROGRESSION,
                                           Status.FURTHER_INCREASE, Status.NOT_EVALUATED)}
_NEW_STATUS_FIRST = {s.value: s for s in (Status.UNEQUIVOCAL, Status.EQUIVOCAL)}
_NEW_STATUS_LATER = {s.value: s for s in (Status.UNEQUIVOCAL, Status.EQUIVOCAL, Status.ABSENT, Status.NOT_EVALUATED,
                                          Status.UNEQUIVOCAL_PROGRESSION)}
_ROLES = {r.value: r for r in Role}
_TARGET, _NON_TARGET, _MEASURED = Role.TARGET, Role.NON_TARGET, Status.MEASURED
_NUMBER = (float, int)
_CRITERIA = {c.value: c for c in Criteria}


class _Where:
    """Where the parser is, so that every error names subject, timepoint and lesion."""

    __slots__ = ("lesion", "subject", "timepoint")

    def __init__(self) -> None:
        self.subject: str | None = None
        self.timepoint: str | None = None
        self.lesion: str | None = None

    def error(self, problem: str) -> CaseError:
        return CaseError(problem, self.subject, self.timepoint, self.lesion)


def parse_case(raw: Any) -> Case:
    """Check and convert a decoded case file. Raises `CaseError` (one line: subject, timepoint, lesion, problem)."""
    where = _Where()
    if not isinstance(raw, Mapping):
        raise where.error(f"a case file is a JSON object, got {type(raw).__name__}")
    subject = raw.get("subject_id")
    if isinstance(subject, str) and subject.strip():
        where.subject = subject
    else:
        raise where.error("'subject_id' must be a non-empty string")
    if subject != subject.strip():  # "SUBJ-001 " would be another subject, counted twice in the endpoints
        raise where.error(f"'subject_id' {subject!r} has leading or trailing spaces")
    criteria_raw = raw.get("criteria", Criteria.RECIST_1_1.value)
    criteria = _CRITERIA.get(criteria_raw) if isinstance(criteria_raw, str) else None
    if criteria is None:
        raise where.error(f"'criteria' must be \"RECIST 1.1\" or \"iRECIST\", got {criteria_raw!r}")
    confirmation_required = raw.get("confirmation_required", True)
    if not isinstance(confirmation_required, bool):
        raise where.error(f"'confirmation_required' must be true or false, got {confirmation_required!r}")
    sd_min_days = _whole_days(raw, "sd_min_days", DEFAULT_SD_MIN_DAYS, where)
    confirmation_min_days = _whole_days(raw, "confirmation_min_days", DEFAULT_CONFIRMATION_MIN_DAYS, where)
    treatment_start = _optional_date(raw, "treatment_start", where)
    death_date = _optional_date(raw, "death_date", where)
    last_contact_date = _optional_date(raw, "last_contact_date", where)

    raw_timepoints = raw.get("timepoints")
    if not isinstance(raw_timepoints, list) or not raw_timepoints:
        raise where.error("'timepoints' must be a non-empty list, the baseline first")
    lesions: dict[str, LesionDeclaration] = {}
    timepoints: list[Timepoint] = []
    labels: set[str] = set()
    previous: date | None = None
    for index, raw_tp in enumerate(raw_timepoints):
        where.timepoint, where.lesion = f"#{index + 1}", None
        tp = _parse_timepoint(index, raw_tp, lesions, where)
        if tp.label in labels:
            raise where.error("two timepoints share this label")
        labels.add(tp.label)
        if previous is not None and tp.date <= previous:
            raise where.error(f"date {tp.date.isoformat()} is not after the previous timepoint's "
                              f"{previous.isoformat()}: timepoints must be in date order")
        previous = tp.date
        timepoints.append(tp)

    where.timepoint, where.lesion = timepoints[0].label, None
    targets = [(d.lesion_id, d.organ, d.is_node) for d in lesions.values() if d.role is Role.TARGET]
    violations = target_selection_violations(targets)
    if violations:
        where.lesion = violations[0][0]
        raise where.error(violations[0][1])
    last = timepoints[-1].date
    for name, value in (("death_date", death_date), ("last_contact_date", last_contact_date)):
        if value is not None and value < last:
            where.timepoint, where.lesion = None, None
            raise where.error(f"'{name}' {value.isoformat()} is before the last assessment {last.isoformat()}")
    if treatment_start is not None and len(timepoints) > 1 and treatment_start >= timepoints[1].date:
        where.timepoint, where.lesion = None, None
        raise where.error(f"'treatment_start' {treatment_start.isoformat()} is not before the first follow-up scan "
                          f"{timepoints[1].date.isoformat()} ({timepoints[1].label!r}): a follow-up assesses the "
                          "treatment given before it; check the date")
    return Case(subject, criteria, confirmation_required, sd_min_days, confirmation_min_days, lesions,
                tuple(timepoints), treatment_start, death_date, last_contact_date)


def _whole_days(raw: Mapping[str, Any], key: str, default: int, where: _Where) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise where.error(f"'{key}' must be a whole number of days >= 0, got {value!r}")
    return value


#: Dates a trial's scans, treatment and follow-up can have: outside, a typing error (0001, 9999) that would make PFS
#: run for millennia.
PLAUSIBLE_YEARS = (1900, 2199)


def _parse_date(value: Any, what: str, where: _Where) -> date:
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            when = date.fromisoformat(value)
        except ValueError:
            pass
        else:
            if not PLAUSIBLE_YEARS[0] <= when.year <= PLAUSIBLE_YEARS[1]:
                raise where.error(f"{what} {value} is not a plausible date (years {PLAUSIBLE_YEARS[0]} to "
                                  f"{PLAUSIBLE_YEARS[1]}): a typing error?")
            return when
    raise where.error(f"{what} must be an ISO date (YYYY-MM-DD), got {value!r}")


def _optional_date(raw: Mapping[str, Any], key: str, where: _Where) -> date | None:
    value = raw.get(key)
    return None if value is None else _parse_date(value, f"'{key}'", where)


def _parse_timepoint(index: int, raw: Any, lesions: dict[str, LesionDeclaration], where: _Where) -> Timepoint:
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise where.error(f"a timepoint is a JSON object, got {type(raw).__name__}")
    label = raw.get("label")
    if not isinstance(label, str) or not label.strip():
        raise where.error("'label' must be a non-empty string")
    where.timepoint = label
    unknown = set(raw) - _TIMEPOINT_KEYS
    if unknown:  # a mistyped "Lesions" left the visit empty (NE) without a word
        raise where.error(f"unknown field(s) {', '.join(sorted(map(str, unknown)))}; a timepoint has "
                          f"{', '.join(sorted(_TIMEPOINT_KEYS))}")
    when = _parse_date(raw.get("date"), "'date'", where)
    thickness = raw.get("slice_thickness_mm", DEFAULT_SLICE_THICKNESS_MM)
    if isinstance(thickness, bool) or not isinstance(thickness, int | float) or not (
            0 < thickness <= MAX_SLICE_THICKNESS_MM):
        raise where.error(f"'slice_thickness_mm' must be a number > 0 and <= {MAX_SLICE_THICKNESS_MM:g}, "
                          f"got {thickness!r}")
    raw_lesions = raw.get("lesions", [])
    if not isinstance(raw_lesions, list):
        raise where.error("'lesions' must be a list")
    observations: dict[str, LesionObservation] = {}
    merged = False
    for raw_lesion in raw_lesions:
        obs: LesionObservation | None = None
        if index and type(raw_lesion) is dict and len(raw_lesion) == 2:
            # The two common follow-up entries (a target's diameter, a non-target's status), checked inline because
            # this loop runs for every lesion of every timepoint; anything else goes to the general parser below.
            lesion_id = raw_lesion.get("id")
            decl = lesions.get(lesion_id) if type(lesion_id) is str else None
            if decl is not None:
                if decl.role is _TARGET:
                    d: Any = raw_lesion.get("diameter_mm")
                    # type() rules out bool; NaN fails both comparisons.
                    if type(d) in _NUMBER and 0 <= d <= MAX_PLAUSIBLE_MM:
                        obs = LesionObservation(decl.lesion_id, _MEASURED, round(d * UM_PER_MM))
                elif decl.role is _NON_TARGET:
                    status_raw = raw_lesion.get("status")
                    status = _NON_TARGET_STATUS.get(status_raw) if type(status_raw) is str else None
                    if status is not None:
                        obs = LesionObservation(decl.lesion_id, status)
        if obs is None:
            where.lesion = None
            obs = _parse_lesion(index, raw_lesion, lesions, float(thickness), where)
            merged = merged or obs.merged_into is not None
        if obs.lesion_id in observations:
            where.lesion = obs.lesion_id
            raise where.error("listed twice at this timepoint")
        observations[obs.lesion_id] = obs
    for obs in observations.values() if merged else ():
        if obs.merged_into is not None:
            where.lesion = obs.lesion_id
            _check_merge(obs, observations, lesions, where)
    where.lesion = None
    return Timepoint(index, label, when, float(thickness), observations)


def _check_merge(obs: LesionObservation, observations: dict[str, LesionObservation],
                 lesions: dict[str, LesionDeclaration], where: _Where) -> None:
    into = obs.merged_into
    host_decl = lesions.get(into) if into is not None else None
    if into == obs.lesion_id or host_decl is None or host_decl.role is not Role.TARGET:
        raise where.error(f"'merged_into' must name another target lesion, got {into!r} "
                          "(RECIST 1.1 sec. 4.3.2: coalesced lesions)")
    host = observations.get(host_decl.lesion_id)
    if host is None or host.merged_into is not None or host.status is not Status.MEASURED:
        raise where.error(f"merged into {into}, which must be measured at this timepoint (the coalesced lesion "
                          "carries the measurement, RECIST 1.1 sec. 4.3.2)")


def _parse_lesion(index: int, raw: Any, lesions: dict[str, LesionDeclaration], thickness: float,
                  where: _Where) -> LesionObservation:
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise where.error(f"a lesion is a JSON object, got {type(raw).__name__}")
    lesion_id = raw.get("id")
    if not isinstance(lesion_id, str) or not lesion_id.strip():
        raise where.error(f"'id' must be a non-empty string, got {lesion_id!r}")
    where.lesion = lesion_id
    unknown = set(raw) - _LESION_KEYS
    if unknown:
        raise where.error(f"unknown field(s) {', '.join(sorted(map(str, unknown)))}; a lesion has "
                          f"{', '.join(sorted(_LESION_KEYS))}")
    decl = _declaration(index, raw, lesions, where)
    if decl.role is Role.TARGET:
        obs = _target(index, raw, decl, thickness, where)
    elif decl.role is Role.NON_TARGET:
        obs = _non_target(index, raw, decl, where)
    else:
        obs = _new_lesion(index, raw, decl, where)
    return obs


def _declaration(index: int, raw: Mapping[str, Any], lesions: dict[str, LesionDeclaration],
                 where: _Where) -> LesionDeclaration:
    lesion_id: str = raw["id"]
    role_raw, organ, node = raw.get("role"), raw.get("organ"), raw.get("node")
    if node is not None and not isinstance(node, bool):
        raise where.error(f"'node' must be true or false, got {node!r}")
    if organ is not None and (not isinstance(organ, str) or not organ.strip()):
        raise where.error(f"'organ' must be a non-empty string, got {organ!r}")
    role = None
    if role_raw is not None:
        role = _ROLES.get(role_raw) if isinstance(role_raw, str) else None
        if role is None:
            raise where.error(f"'role' must be target, non-target or new, got {role_raw!r}")
    known = lesions.get(lesion_id)
    if known is not None:
        for field, given, fixed in (("role", role, known.role), ("organ", organ, known.organ),
                                    ("node", node, known.is_node)):
            if given is not None and given != fixed:
                raise where.error(f"'{field}' was {_plain(fixed)} where the lesion first appeared, now {_plain(given)}")
        return known
    if role is None or organ is None:
        if index > 0:
            raise where.error("never declared: give 'role' and 'organ' where a lesion first appears "
                              "(a lesion first seen at follow-up is role 'new')")
        raise where.error("a lesion's first appearance needs 'role' and 'organ'")
    if role is Role.NEW and index == 0:
        raise where.error("a lesion at baseline cannot be 'new': it is a target or a non-target "
                          "(RECIST 1.1 sec. 4.2)")
    if role is not Role.NEW and index > 0:
        raise where.error(f"a {role.value} lesion is chosen at baseline (RECIST 1.1 sec. 4.2); a lesion first "
                          "seen at follow-up is role 'new' (sec. 4.3.5)")
    decl = LesionDeclaration(lesion_id, role, organ, bool(node), index)
    lesions[lesion_id] = decl
    return decl


def _diameter_um(value: Any, where: _Where) -> tuple[int, int]:
    """(sum in micrometres, number of fragments) from a number or a list of fragment diameters."""
    values = value if isinstance(value, list) else [value]
    if not values:
        raise where.error("'diameter_mm' is an empty list: give the fragments' diameters (split lesion)")
    total = 0
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise where.error(f"'diameter_mm' must be a number of mm or a list of them, got {v!r}")
        if v < 0:
            raise where.error(f"negative diameter {v} mm")
        if v > MAX_PLAUSIBLE_MM:
            raise where.error(f"diameter {v} mm is implausible (more than {MAX_PLAUSIBLE_MM:g} mm)")
        total += mm_to_um(v)
    return total, len(values)


def _only(raw: Mapping[str, Any], allowed: set[str], what: str, where: _Where) -> None:
    given = {k for k in ("diameter_mm", "too_small", "merged_into", "status") if k in raw}
    extra = given - allowed
    if extra:
        raise where.error(f"{what} takes {' or '.join(sorted(allowed))}, not {', '.join(sorted(extra))}")


def _target(index: int, raw: Mapping[str, Any], decl: LesionDeclaration, thickness: float,
            where: _Where) -> LesionObservation:
    given = [k for k in ("diameter_mm", "too_small", "merged_into", "status") if k in raw]
    if len(given) != 1:
        raise where.error("a target lesion takes exactly one of 'diameter_mm', 'too_small', 'merged_into' or "
                          f"'status': \"not_evaluated\" (got {', '.join(given) or 'none'})")
    key = given[0]
    if index == 0 and key != "diameter_mm":
        raise where.error("a target lesion must be measured at baseline ('diameter_mm'), RECIST 1.1 sec. 4.2")
    if key == "diameter_mm":
        total, fragments = _diameter_um(raw["diameter_mm"], where)
        if index == 0 and total < mm_to_um(minimum_target_mm(decl.is_node, thickness)):
            raise where.error(f"cannot be a target: {measurability(total / 1000, decl.is_node, thickness).reason}")
        return LesionObservation(decl.lesion_id, Status.MEASURED, total, fragments)
    if key == "too_small":
        if raw["too_small"] is not True:
            raise where.error("'too_small' is only ever true (the lesion counts 5 mm, RECIST 1.1 sec. 4.3.2)")
        return LesionObservation(decl.lesion_id, Status.MEASURED, TOO_SMALL_UM, too_small=True)
    if key == "merged_into":
        into = raw["merged_into"]
        if not isinstance(into, str):
            raise where.error(f"'merged_into' must be a lesion id, got {into!r}")
        return LesionObservation(decl.lesion_id, Status.MEASURED, 0, merged_into=into)
    if raw["status"] != Status.NOT_EVALUATED.value:
        raise where.error(f"a target lesion's only status is \"not_evaluated\", got {raw['status']!r}")
    return LesionObservation(decl.lesion_id, Status.NOT_EVALUATED)


def _non_target(index: int, raw: Mapping[str, Any], decl: LesionDeclaration, where: _Where) -> LesionObservation:
    _only(raw, {"status"}, "a non-target lesion", where)
    status_raw = raw.get("status", Status.PRESENT.value if index == 0 else None)
    status = _NON_TARGET_STATUS.get(status_raw) if isinstance(status_raw, str) else None
    if status is None:
        raise where.error(f"a non-target lesion's 'status' is present, absent, unequivocal_progression, "
                          f"further_increase or not_evaluated, got {status_raw!r}")
    if index == 0 and status is not Status.PRESENT:
        raise where.error(f"a non-target lesion is 'present' at baseline, got {status.value!r}")
    return LesionObservation(decl.lesion_id, status)


def _new_lesion(index: int, raw: Mapping[str, Any], decl: LesionDeclaration, where: _Where) -> LesionObservation:
    """A new lesion; its size is recorded under both criteria, and used by iRECIST only (recist.irecist)."""
    _only(raw, {"status", "diameter_mm", "too_small"}, "a new lesion", where)
    first = index == decl.first_timepoint
    allowed = _NEW_STATUS_FIRST if first else _NEW_STATUS_LATER
    measured = "diameter_mm" in raw or "too_small" in raw
    status_raw = raw.get("status", Status.UNEQUIVOCAL.value if measured else None)
    status = allowed.get(status_raw) if isinstance(status_raw, str) else None
    if status is None:
        raise where.error(f"a new lesion's 'status' is {' or '.join(allowed)}"
                          f"{'' if first else ' at later timepoints'}, got {status_raw!r}")
    if "diameter_mm" in raw and "too_small" in raw:
        raise where.error("give 'diameter_mm' or 'too_small', not both")
    if measured and status in (Status.ABSENT, Status.NOT_EVALUATED):
        raise where.error(f"a new lesion that is {status.value} has no diameter")
    if "diameter_mm" in raw:
        total, fragments = _diameter_um(raw["diameter_mm"], where)
        return LesionObservation(decl.lesion_id, status, total, fragments)
    if "too_small" in raw:
        if raw["too_small"] is not True:
            raise where.error("'too_small' is only ever true (the lesion counts 5 mm)")
        return LesionObservation(decl.lesion_id, status, TOO_SMALL_UM, too_small=True)
    return LesionObservation(decl.lesion_id, status)


def _plain(value: object) -> str:
    """A value as the case file writes it: ``target``, not ``<Role.TARGET: 'target'>``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(getattr(value, "value", value))
