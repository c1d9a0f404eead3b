"""RECIST diameters of a 3-D lesion mask: long axis, perpendicular short axis, the slice they lie on, and the volume.

Geometry (exact, no sampling of angles):

* A mask pixel is the square ``[j-0.5, j+0.5] x [i-0.5, i+0.5]`` (index units), so the lesion's outer border on a
  slice is made of pixel edges. Its convex hull is the hull of the corners of the left-most and right-most pixel of
  every row.
  Corners are scaled to millimetres with the row and column spacing before any distance is taken (anisotropic pixels).
* The longest in-plane diameter is the largest distance between two hull vertices (the antipodal pair the rotating
  calipers find; with the few hull vertices of a lesion an exhaustive search over vertex pairs is exact and fast).
* The short axis is the longest chord of the hull exactly perpendicular to the long axis (angular tolerance zero): the
  chord length along the long axis is piecewise linear and concave on a convex polygon, so its maximum lies at the
  projection of a hull vertex, and every vertex is tried. Like a reader's calipers, a chord that crosses a small notch
  in the outline spans it (the hull of the outline, not the outline itself).
* The measurement slice is the axial slice with the longest long axis (for a lymph node, the longest short axis, RECIST
  1.1 section 4.2); ties go to the slice with the larger area, then the lower index.
* End points are mapped to patient mm with `Volume.voxel_to_patient` (the one mapping), at fractional voxel indices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from imaging.volume import Volume
from segmentation.base import SegmentationError

PointMM = tuple[float, float, float]
Segment = tuple[PointMM, PointMM]
_Plane = npt.NDArray[np.float64]  # (N, 2) points (row_mm, column_mm) in the slice plane


@dataclass(frozen=True)
class RecistAxes:
    """RECIST measurement of one mask, end points in patient mm (DICOM LPS)."""

    long_axis_mm: float
    short_axis_mm: float
    #: Index of the measurement slice in the full volume (not the crop).
    slice_index: int
    slice_position_mm: float
    long_axis_endpoints: Segment
    short_axis_endpoints: Segment
    volume_ml: float
    sop_instance_uid: str

    def to_json(self) -> dict[str, object]:
        return {
            "long_axis_mm": round(self.long_axis_mm, 2),
            "short_axis_mm": round(self.short_axis_mm, 2),
            "slice_index": self.slice_index,
            "slice_position_mm": round(self.slice_position_mm, 3),
            "long_axis_endpoints": [[round(c, 3) for c in p] for p in self.long_axis_endpoints],
            "short_axis_endpoints": [[round(c, 3) for c in p] for p in self.short_axis_endpoints],
            "volume_ml": round(self.volume_ml, 3),
            "sop_instance_uid": self.sop_instance_uid,
        }


@dataclass(frozen=True)
class SliceAxes:
    """Long and short axis on one slice, end points in plane mm (row_mm, column_mm)."""

    long_mm: float
    long_ends: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]
    short_mm: float
    short_ends: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]
    area_px: int


def convex_hull(points: _Plane) -> _Plane:
    """Counter-clockwise convex hull (Andrew's monotone chain) of (N, 2) points; collinear points dropped."""
    pts = np.unique(points, axis=0)  # sorted lexicographically
    if len(pts) <= 2:
        return pts

    def half(seq: _Plane) -> list[npt.NDArray[np.float64]]:
        out: list[npt.NDArray[np.float64]] = []
        for p in seq:
            while len(out) >= 2:
                a, b = out[-2], out[-1]
                if (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]) > 0:
                    break
                out.pop()
            out.append(p)
        return out

    lower = half(pts)
    upper = half(pts[::-1])
    return np.array(lower[:-1] + upper[:-1])


def slice_outline_corners(mask2d: npt.NDArray[np.bool_], row_mm: float, col_mm: float) -> _Plane:
    """Corners (row_mm, col_mm) of the extreme pixels of every row: their hull is the hull of the whole mask."""
    rows = np.flatnonzero(mask2d.any(axis=1))
    sub = mask2d[rows]
    first = np.argmax(sub, axis=1)
    last = sub.shape[1] - 1 - np.argmax(sub[:, ::-1], axis=1)
    r = rows.astype(np.float64)
    corners = []
    for dr in (-0.5, 0.5):
        corners.append(np.stack([r + dr, first - 0.5], axis=1))
        corners.append(np.stack([r + dr, last + 0.5], axis=1))
    pts = np.concatenate(corners) * np.array([row_mm, col_mm])
    return np.asarray(pts, dtype=np.float64)


def longest_diameter(hull: _Plane) -> tuple[float, int, int]:
    """Largest distance between two hull vertices and their indices."""
    diff = hull[:, None, :] - hull[None, :, :]
    d2 = np.einsum("abk,abk->ab", diff, diff)
    a, b = np.unravel_index(int(np.argmax(d2)), d2.shape)
    return float(np.sqrt(d2[a, b])), int(a), int(b)


def longest_perpendicular_chord(
    hull: _Plane, direction: npt.NDArray[np.float64]
) -> tuple[float, npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Longest chord of a convex polygon perpendicular to ``direction`` (unit vector), with its end points."""
    u = direction
    v = np.array([-u[1], u[0]])
    a, b = hull, np.roll(hull, -1, axis=0)
    ta, tb = a @ u, b @ u
    ts = np.unique(ta)
    lo, hi = np.minimum(ta, tb), np.maximum(ta, tb)
    dt = tb - ta
    nondeg = np.abs(dt) > 1e-12
    safe_dt = np.where(nondeg, dt, 1.0)
    frac = (ts[:, None] - ta[None, :]) / safe_dt[None, :]  # (T, E)
    hit = nondeg[None, :] & (ts[:, None] >= lo[None, :] - 1e-9) & (ts[:, None] <= hi[None, :] + 1e-9)
    sa, sb = a @ v, b @ v
    s = sa[None, :] + frac * (sb - sa)[None, :]
    s_min = np.where(hit, s, np.inf).min(axis=1)
    s_max = np.where(hit, s, -np.inf).max(axis=1)
    # An edge perpendicular to u (dt == 0) lies wholly on the line t == ta: include its end points.
    for e in np.flatnonzero(~nondeg):
        row = int(np.searchsorted(ts, ta[e]))
        if row < len(ts) and abs(ts[row] - ta[e]) < 1e-9:
            s_min[row] = min(s_min[row], sa[e], sb[e])
            s_max[row] = max(s_max[row], sa[e], sb[e])
    length = np.where(np.isfinite(s_min) & np.isfinite(s_max), s_max - s_min, -1.0)
    best = int(np.argmax(length))
    t = ts[best]
    return float(length[best]), t * u + s_min[best] * v, t * u + s_max[best] * v


def slice_axes(mask2d: npt.NDArray[np.bool_], row_mm: float, col_mm: float) -> SliceAxes:
    """Long and (perpendicular) short axis of the lesion on one slice (mask must not be empty)."""
    hull = convex_hull(slice_outline_corners(mask2d, row_mm, col_mm))
    long_mm, a, b = longest_diameter(hull)
    p, q = hull[a], hull[b]
    # Orient the long axis deterministically (lexicographically smaller end first).
    if tuple(q) < tuple(p):
        p, q = q, p
    u = (q - p) / long_mm
    short_mm, s0, s1 = longest_perpendicular_chord(hull, u)
    return SliceAxes(long_mm, (p, q), short_mm, (s0, s1), int(mask2d.sum()))


#: Directions (over half a turn) in which each slice's width is measured to bound its longest diameter.
BOUND_DIRECTIONS = 12


def _slice_diameter_bounds_mm(
    mask: npt.NDArray[np.bool_], ks: npt.NDArray[np.int64], row_mm: float, col_mm: float
) -> npt.NDArray[np.float64]:
    """Per slice ``ks``, an upper bound of the mask's longest in-plane diameter (pixel corners included), in mm: its
    widest extent over ``BOUND_DIRECTIONS`` directions, divided by the cosine of half their spacing (the diameter's
    own direction lies within that angle of one of them)."""
    sub = mask[ks]
    present = sub.any(axis=2)  # (slices, rows)
    first = np.argmax(sub, axis=2).astype(np.float64)
    last = (sub.shape[2] - 1 - np.argmax(sub[:, :, ::-1], axis=2)).astype(np.float64)
    r = np.arange(sub.shape[1], dtype=np.float64)[None, :] * row_mm
    x_lo, x_hi = (first - 0.5) * col_mm, (last + 0.5) * col_mm
    widest = np.zeros(len(ks))
    for theta in np.arange(BOUND_DIRECTIONS) * (np.pi / BOUND_DIRECTIONS):
        c, s = np.cos(theta), np.sin(theta)
        y = r * c
        half_row = 0.5 * row_mm * abs(c)
        hi = y + half_row + np.maximum(x_lo * s, x_hi * s)
        lo = y - half_row + np.minimum(x_lo * s, x_hi * s)
        width = np.where(present, hi, -np.inf).max(axis=1) - np.where(present, lo, np.inf).min(axis=1)
        widest = np.maximum(widest, width)
    return np.asarray(widest / np.cos(np.pi / (2 * BOUND_DIRECTIONS)) + 1e-6, dtype=np.float64)


def _slice_thickness_mm(volume: Volume, ks: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    offs = volume.slice_offsets_mm
    assert offs is not None
    if len(offs) < 2:
        return np.full(len(ks), float(volume.spacing[0]))
    return np.abs(np.gradient(offs))[ks]


def recist_axes(
    mask: npt.NDArray[np.bool_],
    volume: Volume,
    offset: tuple[int, int, int] = (0, 0, 0),
    *,
    is_node: bool = False,
) -> RecistAxes:
    """RECIST axes of ``mask`` whose voxel ``(k, j, i)`` is voxel ``offset + (k, j, i)`` of ``volume``.

    Raises `SegmentationError` for an empty mask.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 3:
        raise ValueError(f"a lesion mask is 3-D, got shape {mask.shape}")
    per_slice = mask.reshape(mask.shape[0], -1).sum(axis=1)
    occupied = np.flatnonzero(per_slice)
    if occupied.size == 0:
        raise SegmentationError("the lesion mask is empty: nothing to measure")
    row_mm, col_mm = float(volume.spacing[1]), float(volume.spacing[2])
    axes: dict[int, SliceAxes] = {}

    def rank(k: int) -> tuple[float, int, int]:
        a = axes[k]
        key = a.short_mm if is_node else a.long_mm
        return (round(key, 9), a.area_px, -k)

    # Slices in order of a bound of their longest diameter, which bounds both axes: once it falls below the best axis
    # found, no later slice can win (most of a large lesion's slices are never measured).
    bound = _slice_diameter_bounds_mm(mask, occupied, row_mm, col_mm)
    best_k = -1
    for n in np.argsort(-bound, kind="stable"):
        k = int(occupied[n])
        if best_k >= 0 and bound[n] < rank(best_k)[0] - 1e-6:
            break
        axes[k] = slice_axes(mask[k], row_mm, col_mm)
        if best_k < 0 or rank(k) > rank(best_k):
            best_k = k
    best = axes[best_k]
    k0, j0, i0 = offset
    k_full = k0 + best_k

    def to_patient(p: npt.NDArray[np.float64]) -> PointMM:
        kji = (float(k_full), j0 + p[0] / row_mm, i0 + p[1] / col_mm)
        x, y, z = volume.voxel_to_patient(kji)
        return (float(x), float(y), float(z))

    thickness = _slice_thickness_mm(volume, occupied + k0)
    volume_ml = float((per_slice[occupied] * thickness).sum() * row_mm * col_mm / 1000.0)
    return RecistAxes(
        long_axis_mm=best.long_mm,
        short_axis_mm=best.short_mm,
        slice_index=k_full,
        slice_position_mm=volume.slice_position_mm(k_full),
        long_axis_endpoints=(to_patient(best.long_ends[0]), to_patient(best.long_ends[1])),
        short_axis_endpoints=(to_patient(best.short_ends[0]), to_patient(best.short_ends[1])),
        volume_ml=volume_ml,
        sop_instance_uid=volume.sop_instance_uid(k_full),
    )
