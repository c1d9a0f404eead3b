"""The parallel trainer's pool of rendered patches on the device, with optional hard-example replay.

Rendered batches are split into single patches and grouped by shape (the slice count varies with the acquisition);
a training batch is drawn from one group. Each patch of it is drawn uniformly from the group, or, with probability
``hard_fraction``, in proportion to its hardness: 1 - soft Dice of the network's prediction the last time it was
used (a patch not yet used counts as missed entirely, 1, so every new patch is drawn soon). The pool keeps the
most recent ``capacity`` patches. With ``hard_fraction`` 0 every patch is drawn uniformly (as before this pool).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

import numpy as np
import torch

#: Added to every hardness, so an easy patch can still be drawn by the hard draws.
HARDNESS_FLOOR = 0.02


@dataclass
class _Group:
    """The patches of one shape, oldest first, with their hardness and the order they came in."""

    samples: collections.deque[dict[str, torch.Tensor]] = field(default_factory=collections.deque)
    hardness: collections.deque[float] = field(default_factory=collections.deque)
    arrival: collections.deque[int] = field(default_factory=collections.deque)


class ReplayPool:
    """Recent patches on the device; `draw` returns a batch of one shape and the keys to report its hardness by."""

    def __init__(self, capacity: int, hard_fraction: float = 0.0, report_lag: int = 0) -> None:
        """``report_lag``: hold this many steps' hardness reports before applying them, so that reading them from the
        GPU does not wait for the step just queued."""
        if not 0.0 <= hard_fraction <= 1.0:
            raise ValueError(f"hard_fraction must be between 0 and 1, not {hard_fraction}")
        self.capacity = capacity
        self.hard_fraction = hard_fraction
        self.report_lag = report_lag
        self._pending: collections.deque[tuple[list[tuple[int, ...]], torch.Tensor]] = collections.deque()
        self._groups: dict[tuple[int, ...], _Group] = {}
        self._count = 0
        self._next_arrival = 0

    def __len__(self) -> int:
        return self._count

    def add(self, batch: dict[str, torch.Tensor]) -> None:
        """Add every patch of a rendered batch (tensors with the batch on the first axis), dropping the oldest."""
        key = tuple(batch["image"].shape[1:])
        group = self._groups.setdefault(key, _Group())
        for b in range(int(batch["image"].shape[0])):
            group.samples.append({k: v[b] for k, v in batch.items()})
            group.hardness.append(1.0)
            group.arrival.append(self._next_arrival)
            self._next_arrival += 1
            self._count += 1
        while self._count > self.capacity:
            oldest = min((g for g in self._groups.values() if g.arrival), key=lambda g: g.arrival[0])
            oldest.samples.popleft()
            oldest.hardness.popleft()
            oldest.arrival.popleft()
            self._count -= 1

    def draw(self, rng: np.random.Generator, size: int) -> tuple[dict[str, torch.Tensor], list[tuple[int, ...]]]:
        """``size`` patches of one shape (the group chosen in proportion to its size), stacked, and their keys."""
        keys = [k for k, g in self._groups.items() if g.samples]
        sizes = np.array([len(self._groups[k].samples) for k in keys], dtype=np.float64)
        key = keys[int(rng.choice(len(keys), p=sizes / sizes.sum()))]
        group = self._groups[key]
        n = len(group.samples)
        uniform = rng.integers(n, size=size)
        if self.hard_fraction > 0:
            weight = np.asarray(group.hardness, dtype=np.float64) + HARDNESS_FLOOR
            hard = rng.choice(n, size=size, p=weight / weight.sum())
            uniform = np.where(rng.uniform(size=size) < self.hard_fraction, hard, uniform)
        picked = [group.samples[int(i)] for i in uniform]
        batch = {k: torch.stack([s[k] for s in picked]) for k in picked[0]}
        return batch, [(*key, group.arrival[int(i)]) for i in uniform]

    def report(self, keys: list[tuple[int, ...]], hardness: torch.Tensor) -> None:
        """Record each drawn patch's hardness (0 easy .. 1 missed); patches dropped meanwhile are skipped."""
        self._pending.append((keys, hardness.detach()))
        while len(self._pending) > self.report_lag:
            self._apply(*self._pending.popleft())

    def _apply(self, keys: list[tuple[int, ...]], hardness: torch.Tensor) -> None:
        values = hardness.float().cpu().tolist()
        for key, value in zip(keys, values, strict=True):
            group = self._groups.get(tuple(key[:-1]))
            if group is None or not group.arrival:
                continue
            # Arrival numbers within a group are increasing but not contiguous (groups interleave): search.
            index = _index_of(group.arrival, key[-1])
            if index is not None:
                group.hardness[index] = float(value)


def _index_of(arrivals: collections.deque[int], arrival: int) -> int | None:
    lo, hi = 0, len(arrivals)
    while lo < hi:
        mid = (lo + hi) // 2
        if arrivals[mid] < arrival:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < len(arrivals) and arrivals[lo] == arrival else None


def soft_dice_hardness(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per patch, 1 - soft Dice of the sigmoid of ``logits`` against ``mask`` (both (B, 1, ...)), without gradient;
    for an empty target (a click on normal tissue) the highest probability, as a soft Dice would call any faint
    output there a total miss."""
    with torch.no_grad():
        p = torch.sigmoid(logits.float()).flatten(1)
        t = mask.float().flatten(1)
        dice = (2 * (p * t).sum(1) + 1e-5) / (p.sum(1) + t.sum(1) + 1e-5)
        empty = t.sum(1) == 0
    return torch.where(empty, p.max(1).values, 1.0 - dice)
