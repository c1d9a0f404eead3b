"""Checks a read must pass before it is stored: each problem names the subject, timepoint and lesion at fault."""

from __future__ import annotations

import math
from collections.abc import Iterable

from recist.model import Criteria
from workstation.read_model import LesionStatus, Measurement, Read
from workstation.storage.codec import child_rows, read_row
from workstation.storage.schema import metadata

#: A short axis may exceed the long axis only by rounding of the caliper end points.
_AXIS_TOLERANCE_MM = 0.05


def _finite(values: Iterable[float | None]) -> bool:
    return all(v is None or math.isfinite(v) for v in values)


def _measurement_problem(m: Measurement) -> str | None:
    if not _finite([m.long_axis_mm, m.short_axis_mm, m.slice_position_mm, m.volume_ml]):
        return "a measurement is not a finite number"
    if m.long_axis_mm is None and m.short_axis_mm is None:
        return "a measurement without a long or a short axis"
    if (m.long_axis_mm is not None and m.long_axis_mm < 0) or (m.short_axis_mm is not None and m.short_axis_mm < 0):
        return f"a negative diameter ({m.long_axis_mm} / {m.short_axis_mm} mm)"
    both = m.short_axis_mm is not None and m.long_axis_mm is not None
    if both and m.short_axis_mm > m.long_axis_mm + _AXIS_TOLERANCE_MM:  # type: ignore[operator]
        return f"the short axis ({m.short_axis_mm} mm) is longer than the long axis ({m.long_axis_mm} mm)"
    if m.volume_ml is not None and m.volume_ml < 0:
        return f"a negative volume ({m.volume_ml} ml)"
    for pair in (m.long_axis_endpoints, m.short_axis_endpoints):
        if pair is not None and not _finite([*pair[0], *pair[1]]):
            return "an end point is not a finite coordinate"
    return None


def _text_problems(read: Read) -> list[str]:
    """Text the database would refuse: longer than its column, or holding a NUL character (PostgreSQL)."""
    out: list[str] = []
    tables = {"reads": [read_row(read)], **child_rows(read)}
    for name, rows in tables.items():
        columns = metadata.tables[name].columns
        for row in rows:
            for key, value in row.items():
                if not isinstance(value, str):
                    continue
                length = getattr(columns[key].type, "length", None)
                where = f"subject {read.subject_id}: {name[:-1]} {key}"
                if length is not None and len(value) > length:
                    out.append(f"{where} {value[:24]!r}... is longer than {length} characters")
                if "\x00" in value:
                    out.append(f"{where} holds a NUL character")
    return out


def read_problems(read: Read) -> list[str]:
    """Everything that makes the read impossible to store (empty when it is fine)."""
    out: list[str] = _text_problems(read)
    if read.criteria not in {c.value for c in Criteria}:
        names = " or ".join(c.value for c in Criteria)
        out.append(f"subject {read.subject_id}: criteria {read.criteria!r} are not {names}")
    for lesion_id, lesion in read.lesions.items():
        if lesion_id != lesion.lesion_id:
            out.append(f"subject {read.subject_id}: lesion {lesion.lesion_id} is filed under the id {lesion_id}")
    labels = [tp.label for tp in read.timepoints]
    for label in {x for x in labels if labels.count(x) > 1}:
        out.append(f"subject {read.subject_id}: two timepoints are labelled {label!r}")
    for tp in read.timepoints:
        for lesion_id, a in tp.assessments.items():
            where = f"subject {read.subject_id}, timepoint {tp.label!r}, lesion {lesion_id}"
            if lesion_id not in read.lesions:
                out.append(f"{where}: the lesion is not declared in the read")
            if a.status is LesionStatus.MERGED and a.merged_into not in read.lesions:
                out.append(f"{where}: merged into {a.merged_into!r}, which is not a lesion of the read")
            node = lesion_id in read.lesions and read.lesions[lesion_id].is_node
            for m in a.measurements:
                problem = _measurement_problem(m)
                if problem is None and m.long_axis_mm is None and not node:
                    problem = "no long axis, which only a lymph node may lack (it is measured on its short axis)"
                if problem:
                    out.append(f"{where}: {problem}")
    return out
