"""Which earlier scan a follow-up is read beside: the baseline, the previous scan, or the nadir.

RECIST 1.1 measures response against the baseline sum and progression against the nadir, the smallest sum so far,
baseline included (sec. 4.3.1); radiologists also compare with the previous scan to see a lesion's course. The
reader chooses which one the second viewer shows; the choice holds from follow-up to follow-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any


class CompareWith(StrEnum):
    BASELINE = "baseline"
    PREVIOUS = "previous"
    NADIR = "nadir"

    def following(self) -> CompareWith:
        """The next choice, in the order a key cycles through them."""
        order = list(CompareWith)
        return order[(order.index(self) + 1) % len(order)]


def nadir_timepoint(current: int, labels: Sequence[str], responses: Sequence[dict[str, Any]]) -> int:
    """The scan before ``current`` with the smallest sum of diameters, as the response engine counts it: the earliest
    of equal sums (the engine keeps its nadir until a sum is smaller), among scans with a whole sum (baseline
    included); the baseline when none has one. ``labels`` are the read's timepoint labels in order, ``responses``
    the engine's timepoint rows (``label``, ``sum_mm``)."""
    index = {label: k for k, label in enumerate(labels)}
    best, best_sum = 0, None
    for row in responses:
        k, total = index.get(str(row.get("label"))), row.get("sum_mm")
        if k is None or k >= current or not isinstance(total, int | float):
            continue
        if best_sum is None or total < best_sum or (total == best_sum and k < best):
            best, best_sum = k, float(total)
    return best


def compare_timepoint(
    choice: CompareWith, current: int, labels: Sequence[str], responses: Sequence[dict[str, Any]]
) -> int:
    """The timepoint the second viewer shows at follow-up ``current`` (0 is the baseline; ``current`` 0 has none to
    compare with and gets 0)."""
    if current <= 0:
        return 0
    if choice is CompareWith.PREVIOUS:
        return current - 1
    if choice is CompareWith.NADIR:
        return nadir_timepoint(current, labels, responses)
    return 0


def compare_role(tp: int, current: int, labels: Sequence[str], responses: Sequence[dict[str, Any]]) -> str:
    """What timepoint ``tp`` is to follow-up ``current``, for the viewer's title: "baseline", "previous", "nadir"
    (all that apply, e.g. "baseline, nadir" when no sum has been smaller)."""
    roles = []
    if tp == 0:
        roles.append("baseline")
    if tp == current - 1:
        roles.append("previous")
    if current > 0 and tp == nadir_timepoint(current, labels, responses):
        roles.append("nadir")
    return ", ".join(roles)
