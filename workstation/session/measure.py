"""Measurements from points the reader placed (ruler, bidirectional tool) and from a dragged end point.

End points are in patient mm (DICOM LPS), so lengths are plain Euclidean distances; the one voxel <-> mm mapping is
`imaging.volume.Volume`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from imaging.volume import Volume
from workstation.read_model import Measurement, MeasurementOrigin, Point

Segment = tuple[Point, Point]


class MeasureError(ValueError):
    """An impossible measurement (zero length, short axis longer than the long axis); the message says which."""


def length_mm(segment: Segment) -> float:
    return float(np.linalg.norm(np.subtract(segment[1], segment[0])))


def _as_point(p: object) -> Point:
    a = np.asarray(p, dtype=np.float64).reshape(3)
    return (float(a[0]), float(a[1]), float(a[2]))


def manual_measurement(
    volume: Volume, slice_index: int, long_axis: Segment, short_axis: Segment | None = None
) -> Measurement:
    """A MANUAL measurement on slice ``slice_index``: a ruler line and, with the bidirectional tool, a short axis."""
    long_axis = (_as_point(long_axis[0]), _as_point(long_axis[1]))
    long_mm = length_mm(long_axis)
    if long_mm < 0.5:
        raise MeasureError(f"the line is {long_mm:.1f} mm long: drag across the lesion to measure it")
    short_mm = None
    if short_axis is not None:
        short_axis = (_as_point(short_axis[0]), _as_point(short_axis[1]))
        short_mm = length_mm(short_axis)
        if short_mm > long_mm + 1e-6:
            raise MeasureError(
                f"the short axis ({short_mm:.1f} mm) is longer than the long axis ({long_mm:.1f} mm): draw the longest "
                "diameter first"
            )
    return Measurement(
        long_axis_mm=round(long_mm, 2),
        short_axis_mm=None if short_mm is None else round(short_mm, 2),
        long_axis_endpoints=long_axis,
        short_axis_endpoints=short_axis,
        series_uid=volume.info.series_uid,
        sop_instance_uid=volume.sop_instance_uid(slice_index),
        frame_of_reference_uid=volume.info.frame_of_reference_uid,
        slice_position_mm=round(volume.slice_position_mm(slice_index), 3),
        origin=MeasurementOrigin.MANUAL,
    )


def _crosses(short_axis: Segment, long_axis: Segment) -> bool:
    """Whether the short axis's ends lie on either side of the long axis's line, within its length (the short axis is
    measured across the lesion, perpendicular to the long one: RECIST 1.1 sec. 4.2)."""
    a0, a1 = np.asarray(long_axis[0]), np.asarray(long_axis[1])
    direction = a1 - a0
    length = float(np.linalg.norm(direction))
    if length == 0.0:
        return True
    unit = direction / length
    offsets = []
    for p in short_axis:
        v = np.asarray(p) - a0
        along = float(v @ unit)
        offsets.append(v - along * unit)
        if not -1e-6 <= along <= length + 1e-6:
            return False
    return float(offsets[0] @ offsets[1]) < 0.0


def move_endpoint(measurement: Measurement, axis: str, end: int, new_point: Point) -> Measurement:
    """The measurement with one end point moved: an engine's suggestion becomes ADJUSTED, a manual one stays MANUAL."""
    if axis not in ("long", "short") or end not in (0, 1):
        raise MeasureError(f"no end point {axis}[{end}]")
    field = "long_axis_endpoints" if axis == "long" else "short_axis_endpoints"
    segment = getattr(measurement, field)
    if segment is None:
        raise MeasureError(f"this measurement has no {axis} axis to adjust")
    pts = list(segment)
    pts[end] = _as_point(new_point)
    moved: Segment = (pts[0], pts[1])
    new_len = round(length_mm(moved), 2)
    if new_len < 0.5:
        raise MeasureError("an axis cannot shrink to nothing: drag the end point back out")
    other = measurement.short_axis_endpoints if axis == "long" else measurement.long_axis_endpoints
    if other is not None:
        long_mm, short_mm = (new_len, length_mm(other)) if axis == "long" else (length_mm(other), new_len)
        if short_mm > long_mm + 1e-6:  # the long axis is the longest diameter (RECIST 1.1 sec. 4.2; a node's too)
            raise MeasureError(
                f"the short axis ({short_mm:.1f} mm) cannot be longer than the long axis ({long_mm:.1f} mm): the "
                "end point was put back; drag the long axis out first"
            )
        long_axis, short_axis = (moved, other) if axis == "long" else (other, moved)
        before = (segment, other) if axis == "short" else (other, segment)
        if _crosses(*before) and not _crosses(short_axis, long_axis):  # a drag broke it (an outline may not have)
            raise MeasureError(
                "the short axis must cross the long axis (its ends on either side of it): the end point was put back"
            )
    origin = measurement.origin if measurement.origin is MeasurementOrigin.MANUAL else MeasurementOrigin.ADJUSTED
    changes: dict[str, object] = {field: moved, "origin": origin}
    changes["long_axis_mm" if axis == "long" else "short_axis_mm"] = new_len
    return dataclasses.replace(measurement, **changes)  # type: ignore[arg-type]
