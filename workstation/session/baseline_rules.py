"""RECIST 1.1 baseline guards shown while the reader chooses targets (the response engine in `recist` re-checks them).

These are pure functions of the read, so the lesion table can say, next to each lesion, why it may not be a target.
"""

from __future__ import annotations

from dataclasses import dataclass

from workstation.read_model import LesionStatus, MeasurementOrigin, Read, Role

MAX_TARGETS = 5  # RECIST 1.1 sec. 4.3
MAX_PER_ORGAN = 2  # RECIST 1.1 sec. 4.3; all lymph nodes together count as one organ
NODE_TARGET_MM = 15.0  # sec. 3.1.1: a node is measurable with a short axis >= 15 mm
NODE_PATHOLOGICAL_MM = 10.0  # sec. 3.1.2: 10 to < 15 mm is a pathological non-target node


@dataclass(frozen=True)
class RuleFinding:
    lesion_id: str
    ok: bool
    reason: str


def minimum_size_mm(slice_thickness_mm: float | None) -> float:
    """Sec. 3.1.1: >= 10 mm by CT with slices <= 5 mm, otherwise twice the slice thickness."""
    if slice_thickness_mm is None or slice_thickness_mm <= 5.0:
        return 10.0
    return 2.0 * slice_thickness_mm


def organ_key(organ: str, is_node: bool) -> str:
    return "lymph node" if is_node else organ.strip().lower()


def check_baseline(read: Read, slice_thickness_mm: float | None) -> dict[str, RuleFinding]:
    """One finding per target at baseline: measurable, within 5 targets and 2 per organ; reasons name the numbers."""
    findings: dict[str, RuleFinding] = {}
    if not read.timepoints:
        return findings
    baseline = read.timepoints[0]
    per_organ: dict[str, int] = {}
    count = 0
    min_mm = minimum_size_mm(slice_thickness_mm)
    for lesion_id, lesion in read.lesions.items():
        if lesion.role is not Role.TARGET:
            continue
        count += 1
        key = organ_key(lesion.organ, lesion.is_node)
        per_organ[key] = per_organ.get(key, 0) + 1
        problems: list[str] = []
        if count > MAX_TARGETS:
            problems.append(f"more than {MAX_TARGETS} targets (sec. 4.3): make it a non-target")
        if per_organ[key] > MAX_PER_ORGAN:
            problems.append(f"third target in {key} (max {MAX_PER_ORGAN} per organ, sec. 4.3)")
        a = baseline.assessments.get(lesion_id)
        counted = [m for m in (a.measurements if a else []) if m.origin is not MeasurementOrigin.SUGGESTED]
        if a is None or a.status is not LesionStatus.MEASURED or not counted:
            problems.append("not measured yet")
        elif lesion.is_node:
            short = counted[0].short_axis_mm
            if short is None:
                problems.append("a node needs its short axis")
            elif short < NODE_TARGET_MM:
                kind = "pathological non-target" if short >= NODE_PATHOLOGICAL_MM else "normal node"
                problems.append(f"short axis {short:.1f} mm < {NODE_TARGET_MM:.0f} mm (sec. 3.1.1): a {kind}")
        else:
            long_mm = sum(m.long_axis_mm for m in counted)
            if long_mm < min_mm:
                problems.append(f"long axis {long_mm:.1f} mm < {min_mm:.0f} mm: not measurable (sec. 3.1.1)")
        findings[lesion_id] = RuleFinding(lesion_id, not problems, "; ".join(problems) or "measurable target")
    return findings
