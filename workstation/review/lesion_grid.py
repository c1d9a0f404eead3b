"""Each lesion of a read at every timepoint, as the adjudicator compares two reads: the recorded diameter (the long
axis; a lymph node's short axis, RECIST 1.1 sec. 4.2) or the lesion's state. Qt-free; the adjudication dialog shows
it. Nothing a reader typed freely (comments) is shown: blinded reads may carry identifying text there."""

from __future__ import annotations

from dataclasses import dataclass

from workstation.read_model import LesionAssessment, LesionStatus, Read, Role

_STATES = {
    LesionStatus.DISAPPEARED: "0 (gone)",
    LesionStatus.TOO_SMALL: "too small (5)",
    LesionStatus.NOT_EVALUATED: "NE",
    LesionStatus.PRESENT: "present",
    LesionStatus.ABSENT: "absent",
    LesionStatus.UNEQUIVOCAL_PROGRESSION: "unequivocal PD",
    LesionStatus.FURTHER_INCREASE: "further increase",
    LesionStatus.UNEQUIVOCAL: "unequivocal",
    LesionStatus.EQUIVOCAL: "equivocal",
}
_ROLES = {Role.TARGET: "target", Role.NON_TARGET: "non-target", Role.NEW: "new"}


@dataclass(frozen=True)
class LesionGrid:
    """``timepoints``: the read's labels; ``rows``: per lesion (targets, non-targets, new lesions, each in id order)
    its label and one cell per timepoint ("" where it was not assessed)."""

    timepoints: list[str]
    rows: list[tuple[str, list[str]]]


def cell(a: LesionAssessment | None, is_node: bool) -> str:
    """A lesion at one timepoint: its diameter in mm (the sum of a split lesion's parts, their number said), or its
    state."""
    if a is None:
        return ""
    if a.status is LesionStatus.MERGED:
        return f"merged into {a.merged_into}" if a.merged_into else "merged"
    if a.measurements:
        try:
            total = sum(m.recist_diameter(is_node) for m in a.measurements)
        except ValueError:
            return "no " + ("short" if is_node else "long") + " axis"
        parts = f" ({len(a.measurements)} parts)" if len(a.measurements) > 1 else ""
        state = f" {_STATES[a.status]}" if a.status in (LesionStatus.UNEQUIVOCAL, LesionStatus.EQUIVOCAL) else ""
        return f"{total:.1f}{parts}{state}"
    return _STATES.get(a.status, a.status.value)


def lesion_grid(read: Read) -> LesionGrid:
    order = {Role.TARGET: 0, Role.NON_TARGET: 1, Role.NEW: 2}
    lesions = sorted(read.lesions.values(), key=lambda les: (order[les.role], les.lesion_id))
    rows = []
    for lesion in lesions:
        label = f"{lesion.lesion_id} {_ROLES[lesion.role]}, {lesion.organ or 'organ not given'}"
        if lesion.is_node:
            label += " (node: short axis)"
        cells = [cell(tp.assessments.get(lesion.lesion_id), lesion.is_node) for tp in read.timepoints]
        rows.append((label, cells))
    return LesionGrid([tp.label for tp in read.timepoints], rows)
