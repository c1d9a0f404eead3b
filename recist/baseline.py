"""Baseline rules: which lesions are measurable, and which may be chosen as targets (RECIST 1.1 sec. 3 and 4.2)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from recist.measure import fmt_mm, mm_to_um

MAX_TARGETS = 5  # RECIST 1.1 sec. 4.2
MAX_TARGETS_PER_ORGAN = 2  # RECIST 1.1 sec. 4.2
NODE_ORGAN = "lymph node"  # RECIST 1.1 sec. 4.2: all lymph nodes together count as one organ
DEFAULT_SLICE_THICKNESS_MM = 5.0
MAX_DIAMETER_MM = 1000.0  # larger is a unit error (cm? um?), not a lesion
MAX_SLICE_THICKNESS_MM = 100.0  # beyond any CT reconstruction; keeps the arithmetic finite


class MeasurabilityCategory(StrEnum):
    TARGET_ELIGIBLE = "target-eligible"
    NON_TARGET = "non-target"  # pathological node, 10 to < 15 mm short axis
    NORMAL_NODE = "normal-node"  # node < 10 mm short axis: not a lesion
    TOO_SMALL_FOR_TARGET = "too-small-for-target"  # non-nodal, below the measurable size: non-target at most


@dataclass(frozen=True, slots=True)
class Measurability:
    category: MeasurabilityCategory
    minimum_mm: float
    reason: str

    @property
    def target_eligible(self) -> bool:
        return self.category is MeasurabilityCategory.TARGET_ELIGIBLE


def minimum_target_mm(is_node: bool, slice_thickness_mm: float = DEFAULT_SLICE_THICKNESS_MM) -> float:
    """The smallest diameter a target may have.

    RECIST 1.1 sec. 3.1.1: 10 mm long axis on CT with slices <= 5 mm, 15 mm short axis for a node; sec. 3.2 (CT):
    with thicker slices, twice the slice thickness. The doubling is applied to nodes too, so that no target is
    smaller than two slices.
    """
    floor = 15.0 if is_node else 10.0
    return max(floor, 2 * slice_thickness_mm)


def measurability(diameter_mm: float, is_node: bool, slice_thickness_mm: float = DEFAULT_SLICE_THICKNESS_MM
                  ) -> Measurability:
    """Classify a baseline lesion by its diameter (long axis; short axis for a node)."""
    if not 0 <= diameter_mm <= MAX_DIAMETER_MM:
        raise ValueError(f"diameter must be a number from 0 to {MAX_DIAMETER_MM:g} mm, got {diameter_mm!r}")
    if not 0 < slice_thickness_mm <= MAX_SLICE_THICKNESS_MM:
        raise ValueError(f"slice thickness must be > 0 and <= {MAX_SLICE_THICKNESS_MM:g} mm, "
                         f"got {slice_thickness_mm!r}")
    minimum = minimum_target_mm(is_node, slice_thickness_mm)
    d_um, min_um = mm_to_um(diameter_mm), mm_to_um(minimum)
    d, m = fmt_mm(d_um), fmt_mm(min_um)
    thick = f" (slices {slice_thickness_mm:g} mm)" if slice_thickness_mm > DEFAULT_SLICE_THICKNESS_MM else ""
    if is_node:
        if d_um >= min_um:
            return Measurability(MeasurabilityCategory.TARGET_ELIGIBLE, minimum,
                                 f"node {d} mm short axis >= {m} mm{thick}: measurable (RECIST 1.1 sec. 3.1.1)")
        if d_um >= 10_000:
            return Measurability(MeasurabilityCategory.NON_TARGET, minimum,
                                 f"node {d} mm short axis is 10 mm to < {m} mm{thick}: pathological but not "
                                 "measurable, a non-target (RECIST 1.1 sec. 3.1.2)")
        return Measurability(MeasurabilityCategory.NORMAL_NODE, minimum,
                             f"node {d} mm short axis < 10 mm: normal, not a lesion (RECIST 1.1 sec. 3.1.2)")
    if d_um >= min_um:
        return Measurability(MeasurabilityCategory.TARGET_ELIGIBLE, minimum,
                             f"{d} mm long axis >= {m} mm{thick}: measurable (RECIST 1.1 sec. 3.1.1, 3.2)")
    return Measurability(MeasurabilityCategory.TOO_SMALL_FOR_TARGET, minimum,
                         f"{d} mm long axis < {m} mm{thick}: not measurable, a non-target at most "
                         "(RECIST 1.1 sec. 3.1.2, 3.2)")


#: Organs made of parts or sides count as one whatever part or side is named: "left lung" and "right lung" are the
#: lung (RECIST working group FAQ "Paired organs": lung, kidney, ovaries, lymph nodes ... "are considered as 1 organ,
#: irrespective of the number of parts they may be made up of"); a word of the organ's name -> the organ.
_ONE_ORGAN = {
    "lung": "lung", "lungs": "lung", "pulmonary": "lung", "kidney": "kidney", "kidneys": "kidney", "renal": "kidney",
    "ovary": "ovary", "ovaries": "ovary", "ovarian": "ovary", "adrenal": "adrenal gland", "adrenals": "adrenal gland",
    "breast": "breast", "breasts": "breast", "liver": "liver", "hepatic": "liver", "pleura": "pleura",
    "pleural": "pleura", "spleen": "spleen", "splenic": "spleen", "testis": "testis", "testes": "testis",
}
#: words that make an organ's adjective name another place: the hepatic and splenic flexures are the colon's
_NOT_THE_ORGAN = frozenset({"flexure"})


def organs_named(organ: str) -> set[str]:
    """The organs of `_ONE_ORGAN` that ``organ`` names by a word of theirs ("Kidney (left)": {"kidney"})."""
    words = re.findall(r"[a-z]+", organ.lower())
    if _NOT_THE_ORGAN.intersection(words):
        return set()
    return {_ONE_ORGAN[w] for w in words if w in _ONE_ORGAN}


def organ_key(organ: str, is_node: bool) -> str:
    """The organ a lesion counts against: all lymph nodes are one organ (RECIST 1.1 sec. 4.2), as is each organ
    named by a part, a side or its adjective (`_ONE_ORGAN`: "right lower lobe of lung" and "pulmonary" are the lung);
    else the name as given (case and spaces aside)."""
    if is_node:
        return NODE_ORGAN
    found = organs_named(organ)
    return found.pop() if len(found) == 1 else " ".join(organ.lower().split())


def target_selection_violations(targets: Sequence[tuple[str, str, bool]]) -> list[tuple[str, str]]:
    """(lesion at fault, message) for every rule the selection breaks; the lesion is the first one too many."""
    found: list[tuple[str, str]] = []
    seen: set[str] = set()
    for lesion_id, _, _ in targets:
        if lesion_id in seen:
            found.append((lesion_id, f"lesion {lesion_id} is selected as a target twice"))
        seen.add(lesion_id)
    if len(targets) > MAX_TARGETS:
        ids = ", ".join(t[0] for t in targets)
        found.append((targets[MAX_TARGETS][0], f"{len(targets)} target lesions ({ids}): at most {MAX_TARGETS} "
                      "in total (RECIST 1.1 sec. 4.2)"))
    by_organ: dict[str, list[str]] = {}
    for lesion_id, organ, is_node in targets:
        named = organs_named(organ)
        if not is_node and len(named) > 1:  # "lung and liver": counted against neither, it would escape the rule
            found.append((lesion_id, f"target {lesion_id}: its organ {organ!r} names {len(named)} organs "
                          f"({', '.join(sorted(named))}); give the one organ it lies in (RECIST 1.1 sec. 4.2)"))
        by_organ.setdefault(organ_key(organ, is_node), []).append(lesion_id)
    for organ, ids_in_organ in by_organ.items():
        if len(ids_in_organ) > MAX_TARGETS_PER_ORGAN:
            what = ("target lymph nodes", "all lymph nodes count as one organ, ") if organ == NODE_ORGAN else (
                f"target lesions in {organ}", "")
            found.append((ids_in_organ[MAX_TARGETS_PER_ORGAN],
                          f"{len(ids_in_organ)} {what[0]} ({', '.join(ids_in_organ)}): {what[1]}at most "
                          f"{MAX_TARGETS_PER_ORGAN} per organ (RECIST 1.1 sec. 4.2)"))
    return found


def check_target_selection(targets: Sequence[tuple[str, str, bool]]) -> list[str]:
    """Rule violations of a target selection given as (lesion_id, organ, is_node); empty when the selection is fine."""
    return [message for _, message in target_selection_violations(targets)]
