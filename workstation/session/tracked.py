"""Is a click, or a measurement waiting for the reader, on a lesion that is already tracked?

A new lesion must never be the silent default on top of a known one: a click inside a lesion measured at this
timepoint (its stored outline, or the disc its long axis spans on this slice) means re-measuring that lesion, and so
does a click near where a baseline lesion is proposed at a follow-up. Everything here is plain geometry in patient mm
(DICOM LPS); the outlines the window has loaded are passed in as voxel masks of the same series.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from workstation.read_model import LesionStatus, Measurement, Point, Read

#: a click this close to the edge of a measured lesion's long-axis disc still counts as on it
EDGE_MARGIN_MM = 2.0
#: a click within this distance of a lesion's proposed follow-up position is taken as that lesion
PROPOSAL_RADIUS_MM = 20.0

Mask = npt.NDArray[np.bool_]
Offset = tuple[int, int, int]


@dataclass(frozen=True)
class TrackedHit:
    """A tracked lesion that a click or a waiting measurement falls on, and why (said to the reader)."""

    lesion_id: str
    reason: str
    #: the lesion already has a measurement at this timepoint (choosing it replaces that measurement)
    measured_here: bool


def _in_plane(a: Point, b: Point) -> float:
    return float(np.hypot(a[0] - b[0], a[1] - b[1]))


def _middle(m: Measurement) -> Point | None:
    if m.long_axis_endpoints is None:
        return None
    p, q = m.long_axis_endpoints
    return ((p[0] + q[0]) / 2, (p[1] + q[1]) / 2, (p[2] + q[2]) / 2)


def on_measurement(point: Point, m: Measurement, slice_tolerance_mm: float) -> bool:
    """``point`` lies on the slice of ``m`` and inside the ellipse its long and short axes span (plus a small
    margin; a circle of the long axis where no short axis was drawn)."""
    middle = _middle(m)
    if middle is None or m.long_axis_endpoints is None or abs(point[2] - middle[2]) > slice_tolerance_mm:
        return False
    p, q = m.long_axis_endpoints
    along = np.array([q[0] - p[0], q[1] - p[1]], dtype=np.float64)
    norm = float(np.linalg.norm(along))
    if norm == 0.0:
        return False
    along /= norm
    across = np.array([-along[1], along[0]])
    d = np.array([point[0] - middle[0], point[1] - middle[1]])
    long_mm = m.long_axis_mm if m.long_axis_mm is not None else norm
    semi_long = long_mm / 2 + EDGE_MARGIN_MM
    semi_short = (m.short_axis_mm if m.short_axis_mm is not None else long_mm) / 2 + EDGE_MARGIN_MM
    return float((d @ along / semi_long) ** 2 + (d @ across / semi_short) ** 2) <= 1.0


def measurements_overlap(a: Measurement, b: Measurement, slice_tolerance_mm: float) -> bool:
    """Two measurements of the same lesion, as far as their axes tell: on the same slice, the middle of each lies
    inside the other's ellipse."""
    ma, mb = _middle(a), _middle(b)
    if ma is None or mb is None:
        return False
    return on_measurement(ma, b, slice_tolerance_mm) or on_measurement(mb, a, slice_tolerance_mm)


def mask_contains(mask: Mask, offset: Offset, voxel: tuple[int, int, int]) -> bool:
    """The voxel (k, j, i) of the whole series is inside ``mask`` placed at ``offset``."""
    local = tuple(v - o for v, o in zip(voxel, offset, strict=True))
    return all(0 <= c < n for c, n in zip(local, mask.shape, strict=True)) and bool(mask[local])


def masks_overlap(a: Mask, a_offset: Offset, b: Mask, b_offset: Offset) -> bool:
    """Two masks of the same series share at least one voxel."""
    lo = [max(oa, ob) for oa, ob in zip(a_offset, b_offset, strict=True)]
    hi = [min(oa + na, ob + nb) for oa, na, ob, nb in zip(a_offset, a.shape, b_offset, b.shape, strict=True)]
    if any(h <= low for low, h in zip(lo, hi, strict=True)):
        return False
    sa = tuple(slice(low - o, h - o) for low, h, o in zip(lo, hi, a_offset, strict=True))
    sb = tuple(slice(low - o, h - o) for low, h, o in zip(lo, hi, b_offset, strict=True))
    return bool(np.any(a[sa] & b[sb]))


def _measured_here(read: Read, tp_index: int) -> dict[str, list[Measurement]]:
    out: dict[str, list[Measurement]] = {}
    for lesion_id, a in read.timepoints[tp_index].assessments.items():
        if lesion_id in read.lesions and a.status is LesionStatus.MEASURED and a.measurements:
            out[lesion_id] = list(a.measurements)
    return out


def lesion_at(
    read: Read,
    tp_index: int,
    point: Point,
    *,
    slice_tolerance_mm: float,
    proposals: Sequence[tuple[str, Point]] = (),
    outline_hits: Sequence[str] = (),
    pending: Measurement | None = None,
    candidates: Sequence[str] | None = None,
) -> TrackedHit | None:
    """The tracked lesion a click at ``point`` (and the measurement it produced, ``pending``) falls on, or None.

    In order: a lesion measured at this timepoint whose outline holds the click or the suggested outline
    (``outline_hits``, found by the caller from the stored masks), whose long-axis disc holds the click, or whose
    measurement the pending one overlaps; then the nearest proposed position within `PROPOSAL_RADIUS_MM`. Only
    ``candidates`` (lesions the reader can measure here) are returned when given.
    """
    allowed = set(read.lesions if candidates is None else candidates)
    measured = _measured_here(read, tp_index)
    for lesion_id in outline_hits:
        if lesion_id in allowed:
            return TrackedHit(lesion_id, f"on the outline of {lesion_id}", lesion_id in measured)
    best: tuple[float, str] | None = None
    for lesion_id, ms in measured.items():
        if lesion_id not in allowed:
            continue
        for m in ms:
            middle = _middle(m)
            hit = on_measurement(point, m, slice_tolerance_mm) or (
                pending is not None and measurements_overlap(pending, m, slice_tolerance_mm)
            )
            if hit and middle is not None:
                d = _in_plane(point, middle)
                if best is None or d < best[0]:
                    best = (d, lesion_id)
    if best is not None:
        return TrackedHit(best[1], f"on the measurement of {best[1]}", True)
    near: tuple[float, str] | None = None
    for lesion_id, where in proposals:
        d = float(np.linalg.norm(np.subtract(where, point)))
        if lesion_id in allowed and d <= PROPOSAL_RADIUS_MM and (near is None or d < near[0]):
            near = (d, lesion_id)
    if near is not None:
        return TrackedHit(near[1], f"{near[0]:.0f} mm from where {near[1]} is expected", near[1] in measured)
    return None


def overlapped_lesions(
    read: Read,
    tp_index: int,
    pending: Measurement,
    *,
    slice_tolerance_mm: float,
    outline_hits: Sequence[str] = (),
    click: Point | None = None,
) -> list[str]:
    """Every lesion measured at this timepoint that the pending measurement lies on: recording the pending one as
    a NEW lesion there would count the same tumour twice, so the reader is asked first."""
    measured = _measured_here(read, tp_index)
    out = [lid for lid in outline_hits if lid in read.lesions]
    for lesion_id, ms in measured.items():
        if lesion_id in out:
            continue
        for m in ms:
            if measurements_overlap(pending, m, slice_tolerance_mm) or (
                click is not None and on_measurement(click, m, slice_tolerance_mm)
            ):
                out.append(lesion_id)
                break
    return out


def outline_hits(
    stored: Mapping[str, tuple[Mask, Offset]],
    click_voxel: tuple[int, int, int] | None,
    suggestion: tuple[Mask, Offset] | None,
) -> list[str]:
    """The lesions whose stored outlines (same series) hold the click voxel or share voxels with the suggestion."""
    out = []
    for lesion_id, (mask, offset) in stored.items():
        if (click_voxel is not None and mask_contains(mask, offset, click_voxel)) or (
            suggestion is not None and masks_overlap(mask, offset, suggestion[0], suggestion[1])
        ):
            out.append(lesion_id)
    return out
