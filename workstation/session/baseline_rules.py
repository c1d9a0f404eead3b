"""RECIST 1.1 baseline rules shown while the reader chooses targets, with their reasons.

The rules themselves live in the response engine (`recist.baseline`: measurability by slice thickness, at most 5
targets and 2 per organ, nodes as one organ); this module applies them to the read being made so that the lesion
table can say, next to each target, whether it may be one and why.
"""

from __future__ import annotations

from dataclasses import dataclass

from recist.baseline import DEFAULT_SLICE_THICKNESS_MM, measurability, target_selection_violations
from workstation.read_model import LesionStatus, MeasurementOrigin, Read, Role


@dataclass(frozen=True)
class RuleFinding:
    lesion_id: str
    ok: bool
    reason: str
    #: a rule the numbers cannot check, for the reader to look at (a bone target), "" when none
    caution: str = ""


#: RECIST 1.1 sec. 3.1.2: bone lesions are measurable only by a soft-tissue component
BONE_CAUTION = ("bone: a target only by its soft-tissue component (>= 10 mm, lytic or mixed lesion, measured on CT or "
                "MRI); a blastic lesion is non-measurable, a non-target (RECIST 1.1 sec. 3.1.2)")


def check_baseline(read: Read, slice_thickness_mm: float | None) -> dict[str, RuleFinding]:
    """One finding per target: measurable at baseline and within the selection limits; reasons name the numbers."""
    if not read.timepoints:
        return {}
    baseline = read.timepoints[0]
    thickness = slice_thickness_mm if slice_thickness_mm and slice_thickness_mm > 0 else DEFAULT_SLICE_THICKNESS_MM
    targets = [(lid, les.organ, les.is_node) for lid, les in read.lesions.items() if les.role is Role.TARGET]
    problems: dict[str, list[str]] = {lid: [] for lid, _, _ in targets}
    for lesion_id, message in target_selection_violations(targets):
        problems.setdefault(lesion_id, []).append(message)
    fine: dict[str, str] = {}
    for lesion_id, _, is_node in targets:
        a = baseline.assessments.get(lesion_id)
        counted = [m for m in (a.measurements if a else []) if m.origin is not MeasurementOrigin.SUGGESTED]
        if a is None or a.status is not LesionStatus.MEASURED or not counted:
            problems[lesion_id].append("not measured at baseline yet")
            continue
        try:
            diameter = sum(m.recist_diameter(is_node) for m in counted)
            verdict = measurability(diameter, is_node, thickness)
        except ValueError as exc:  # a node without its short axis, an absurd number
            problems[lesion_id].append(str(exc))
            continue
        if verdict.target_eligible:
            fine[lesion_id] = verdict.reason
        else:
            problems[lesion_id].append(verdict.reason)
    return {
        lid: RuleFinding(lid, not problems[lid], "; ".join(problems[lid]) or fine.get(lid, "measurable target"),
                         BONE_CAUTION if organ.strip().lower() in ("bone", "bones") and not is_node else "")
        for lid, organ, is_node in targets
    }
