"""Reads to and from table rows, and per-entity snapshots of a read for the audit trail."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from workstation.read_model import (
    Lesion,
    LesionAssessment,
    LesionStatus,
    Measurement,
    MeasurementOrigin,
    Point,
    Read,
    Role,
    Signature,
    TimepointRead,
)


def _endpoints_json(pair: tuple[Point, Point] | None) -> str | None:
    return None if pair is None else json.dumps([list(pair[0]), list(pair[1])])


def _endpoints(text: str | None) -> tuple[Point, Point] | None:
    if text is None:
        return None
    a, b = json.loads(text)
    return (float(a[0]), float(a[1]), float(a[2])), (float(b[0]), float(b[1]), float(b[2]))


def _point_json(point: Point | None) -> str | None:
    return None if point is None else json.dumps(list(point))


def _point(text: str | None) -> Point | None:
    if text is None:
        return None
    x, y, z = json.loads(text)
    return (float(x), float(y), float(z))


def read_row(read: Read) -> dict[str, Any]:
    return {
        "read_id": read.read_id,
        "subject_id": read.subject_id,
        "reader": read.reader,
        "reader_role": read.reader_role,
        "criteria": read.criteria,
        "confirmation_required": read.confirmation_required,
        "sd_min_days": read.sd_min_days,
        "treatment_start": read.treatment_start,
    }


def child_rows(read: Read) -> dict[str, list[dict[str, Any]]]:
    """Rows for the lesions, timepoints, assessments and measurements tables."""
    rid = read.read_id
    out: dict[str, list[dict[str, Any]]] = {"lesions": [], "timepoints": [], "assessments": [], "measurements": []}
    for pos, lesion in enumerate(read.lesions.values()):
        out["lesions"].append(
            {
                "read_id": rid,
                "lesion_id": lesion.lesion_id,
                "position": pos,
                "role": lesion.role.value,
                "organ": lesion.organ,
                "is_node": lesion.is_node,
                "location": lesion.location,
                "tracking_uid": lesion.tracking_uid,
                "first_timepoint": lesion.first_timepoint,
            }
        )
    for tpos, tp in enumerate(read.timepoints):
        sig = tp.signature
        out["timepoints"].append(
            {
                "read_id": rid,
                "position": tpos,
                "label": tp.label,
                "date": tp.date,
                "study_uid": tp.study_uid,
                "series_uid": tp.series_uid,
                "signed_by": sig.user if sig else None,
                "signer_full_name": sig.full_name if sig else None,
                "signed_at": sig.signed_at if sig else None,
                "signature_meaning": sig.meaning if sig else None,
            }
        )
        for lesion_id, a in tp.assessments.items():
            out["assessments"].append(
                {
                    "read_id": rid,
                    "timepoint": tpos,
                    "lesion_id": lesion_id,
                    "status": a.status.value,
                    "merged_into": a.merged_into,
                    "comment": a.comment,
                    "point_mm": _point_json(a.point_mm),
                }
            )
            for mpos, m in enumerate(a.measurements):
                out["measurements"].append(
                    {
                        "read_id": rid,
                        "timepoint": tpos,
                        "lesion_id": lesion_id,
                        "position": mpos,
                        "long_axis_mm": m.long_axis_mm,
                        "short_axis_mm": m.short_axis_mm,
                        "long_axis_endpoints": _endpoints_json(m.long_axis_endpoints),
                        "short_axis_endpoints": _endpoints_json(m.short_axis_endpoints),
                        "series_uid": m.series_uid,
                        "sop_instance_uid": m.sop_instance_uid,
                        "frame_of_reference_uid": m.frame_of_reference_uid,
                        "slice_position_mm": m.slice_position_mm,
                        "volume_ml": m.volume_ml,
                        "origin": m.origin.value,
                        "engine": m.engine,
                        "model_id": m.model_id,
                        "model_version": m.model_version,
                        "mask_ref": m.mask_ref,
                    }
                )
    return out


def read_from_rows(
    read: dict[str, Any],
    lesions: list[dict[str, Any]],
    timepoints: list[dict[str, Any]],
    assessments: list[dict[str, Any]],
    measurements: list[dict[str, Any]],
) -> Read:
    """Rows (each list in position order) back to the domain model."""
    by_assessment: dict[tuple[int, str], list[Measurement]] = {}
    for m in measurements:
        by_assessment.setdefault((m["timepoint"], m["lesion_id"]), []).append(
            Measurement(
                long_axis_mm=m["long_axis_mm"],
                short_axis_mm=m["short_axis_mm"],
                long_axis_endpoints=_endpoints(m["long_axis_endpoints"]),
                short_axis_endpoints=_endpoints(m["short_axis_endpoints"]),
                series_uid=m["series_uid"],
                sop_instance_uid=m["sop_instance_uid"],
                frame_of_reference_uid=m["frame_of_reference_uid"],
                slice_position_mm=m["slice_position_mm"],
                volume_ml=m["volume_ml"],
                origin=MeasurementOrigin(m["origin"]),
                engine=m["engine"],
                model_id=m["model_id"],
                model_version=m["model_version"],
                mask_ref=m["mask_ref"],
            )
        )
    tps = []
    for t in timepoints:
        sig = (
            Signature(t["signed_by"], t["signer_full_name"], t["signed_at"], t["signature_meaning"])
            if t["signed_by"]
            else None
        )
        tps.append(TimepointRead(t["label"], t["date"], t["study_uid"], t["series_uid"], {}, sig))
    for a in assessments:
        tps[a["timepoint"]].assessments[a["lesion_id"]] = LesionAssessment(
            LesionStatus(a["status"]),
            by_assessment.get((a["timepoint"], a["lesion_id"]), []),
            a["merged_into"],
            a["comment"],
            _point(a.get("point_mm")),
        )
    return Read(
        subject_id=read["subject_id"],
        reader=read["reader"],
        criteria=read["criteria"],
        read_id=read["read_id"],
        reader_role=read["reader_role"],
        confirmation_required=bool(read["confirmation_required"]),
        sd_min_days=read["sd_min_days"],
        treatment_start=read.get("treatment_start"),
        lesions={
            row["lesion_id"]: Lesion(
                row["lesion_id"],
                Role(row["role"]),
                row["organ"],
                bool(row["is_node"]),
                row["location"],
                row["tracking_uid"],
                row["first_timepoint"],
            )
            for row in lesions
        },
        timepoints=tps,
    )


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def entity_snapshots(read: Read) -> dict[str, Any]:
    """Every audited entity of a read (path -> JSON-able value); signatures are their own entities."""
    rid = f"read/{read.read_id}"
    out: dict[str, Any] = {rid: _jsonable(read_row(read))}
    for lesion in read.lesions.values():
        out[f"{rid}/lesion/{lesion.lesion_id}"] = _jsonable(asdict(lesion))
    for pos, tp in enumerate(read.timepoints):
        tpath = f"{rid}/timepoint/{pos}"
        out[tpath] = _jsonable(
            {"label": tp.label, "date": tp.date, "study_uid": tp.study_uid, "series_uid": tp.series_uid}
        )
        for lesion_id, a in tp.assessments.items():
            out[f"{tpath}/assessment/{lesion_id}"] = _jsonable(asdict(a))
        if tp.signature:
            out[f"{tpath}/signature"] = _jsonable(asdict(tp.signature))
    return out
