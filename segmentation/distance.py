"""Which voxels lie farther than a distance from a region, in slabs of slices run side by side.

Only the comparison with the distance is needed, so each slab is measured with a margin of that distance in slices
around it: a region voxel nearer than the distance lies inside the margin, and one farther away only makes the
measured distance larger, which gives the same answer. The result equals the whole array's distance transform
compared with the distance.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import numpy.typing as npt

from segmentation import threads

#: Arrays smaller than this many voxels are measured whole: a slab's start-up would cost more than it saves.
MIN_SPLIT_VOXELS = 200_000


def farther_than(
    region: npt.NDArray[np.bool_], spacing: tuple[float, float, float], distance_mm: float
) -> npt.NDArray[np.bool_]:
    """True where the Euclidean distance (in mm, with ``spacing``) to the nearest ``region`` voxel exceeds
    ``distance_mm``; all True when the region is empty."""
    from scipy import ndimage

    def measure(lo: int, hi: int) -> npt.NDArray[np.bool_]:
        part = region[lo:hi]
        if not part.any():
            return np.ones(part.shape, dtype=bool)
        return np.asarray(ndimage.distance_transform_edt(~part, sampling=spacing) > distance_mm)

    slices = region.shape[0]
    parts = min(threads.size(), slices // 8, max(1, region.size // MIN_SPLIT_VOXELS))
    if parts <= 1:
        return measure(0, slices)
    margin = math.floor(distance_mm / float(spacing[0])) + 1
    bounds = np.linspace(0, slices, parts + 1).round().astype(int)
    slabs = list(itertools.pairwise(int(b) for b in bounds))

    def slab(b: tuple[int, int]) -> npt.NDArray[np.bool_]:
        lo, hi = b
        a, z = max(0, lo - margin), min(slices, hi + margin)
        return measure(a, z)[lo - a : lo - a + (hi - lo)]

    return np.concatenate(threads.map_in_order(slab, slabs), axis=0)
