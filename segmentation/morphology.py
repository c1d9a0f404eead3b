"""Binary erosion and dilation by the cross (face neighbours), in-plane or in 3-D, as array shifts.

The same results as ``scipy.ndimage.binary_erosion`` / ``binary_dilation`` with the cross as structuring element
and outside the array counted as background, several times faster: they run on every click.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

BoolArray = npt.NDArray[np.bool_]


def _axes(in_plane: bool) -> tuple[int, ...]:
    """The axes the cross spans: the slice's rows and columns, or all three."""
    return (1, 2) if in_plane else (0, 1, 2)


def _neighbours(in_plane: bool) -> list[tuple[tuple[slice, ...], tuple[slice, ...]]]:
    """For each face neighbour along the cross's axes: (where a voxel is, where that neighbour is), as index tuples."""
    pairs = []
    for ax in _axes(in_plane):
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[ax], hi[ax] = slice(1, None), slice(None, -1)
        pairs += [(tuple(lo), tuple(hi)), (tuple(hi), tuple(lo))]
    return pairs


def erode_cross(mask: BoolArray, *, in_plane: bool = False, iterations: int = 1) -> BoolArray:
    """Erosion by the cross (in-plane: the 4 neighbours on the slice; else the 6 in 3-D), ``iterations`` times."""
    out = np.asarray(mask, dtype=bool)
    for _ in range(iterations):
        src, out = out, out.copy()
        for here, there in _neighbours(in_plane):
            out[here] &= src[there]
        for ax in _axes(in_plane):  # outside the array is background
            face: list[slice | int] = [slice(None)] * 3
            face[ax] = 0
            out[tuple(face)] = False
            face[ax] = -1
            out[tuple(face)] = False
    return out


def dilate_cross(mask: BoolArray, *, in_plane: bool = False, iterations: int = 1) -> BoolArray:
    """Dilation by the cross (in-plane: the 4 neighbours on the slice; else the 6 in 3-D), ``iterations`` times."""
    out = np.asarray(mask, dtype=bool)
    for _ in range(iterations):
        src, out = out, out.copy()
        for here, there in _neighbours(in_plane):
            out[here] |= src[there]
    return out
