"""CSV of everything, for people and scripts: every measurement, every timepoint response, every best response.

Responses come from the response engine's results (``recist.evaluate_case``), passed in; nothing is recomputed here.
The columns are described in docs/export.md ("CSV tables").
"""

from __future__ import annotations

import csv
import json
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from workstation.export.read_json import read_to_dict
from workstation.read_model import Read

MEASUREMENT_COLUMNS = [
    "subject_id", "read_id", "reader", "reader_role", "criteria", "timepoint", "date", "lesion_id", "tracking_uid",
    "role", "organ", "node", "location", "status", "merged_into", "fragment", "long_axis_mm", "short_axis_mm",
    "recist_diameter_mm", "volume_ml", "long_axis_endpoints_mm", "short_axis_endpoints_mm", "study_uid",
    "series_uid", "sop_instance_uid", "frame_of_reference_uid", "origin", "engine", "model_id", "model_version",
    "comment", "point_mm",
]  # fmt: skip
#: The engine's per-timepoint results, as responses.csv carries them.
_RESULT_COLUMNS = [
    "sum_mm", "change_from_baseline_pct", "change_from_nadir_pct", "target_response", "non_target_response",
    "new_lesions", "overall_response", "reason",
]  # fmt: skip
#: iRECIST's new-lesion targets at a visit (empty under RECIST 1.1): their sum, and their ids separated by spaces
_NEW_TARGET_COLUMNS = ["new_lesion_target_sum_mm", "new_lesion_targets"]
#: ``accepted``: Y for the accepted central read of a subject in central review (the concordant primary read or the
#: adjudicator's choice), N for the other central read; empty for a site read, or where no review was exported.
RESPONSE_COLUMNS = [
    "subject_id", "read_id", "reader", "reader_role", "accepted", "criteria", "timepoint", "date", *_RESULT_COLUMNS,
    *_NEW_TARGET_COLUMNS, "signed_by", "signed_at", "locked_by", "locked_at", "locked_not_final",
]  # fmt: skip
#: The engine's per-read results, as best_responses.csv carries them.
_BEST_RESULT_COLUMNS = ["best_overall_response", "best_overall_response_reason", "date_of_progression"]
BEST_COLUMNS = [
    "subject_id", "read_id", "reader", "reader_role", "accepted", "criteria", *_BEST_RESULT_COLUMNS,
    "locked_by", "locked_at", "locked_not_final",
]  # fmt: skip


def measurement_rows(read: Read) -> list[dict[str, Any]]:
    """One row per measurement (a split lesion: one per fragment), or one per assessment with no measurement.

    ``study_uid`` and ``series_uid`` are the timepoint's (the series its images were read on: for a central read, the
    series the review gave the reader), ``series_uid`` the measurement's own where it references one. The SOP instance
    and frame of reference UIDs are the measurement's own only: empty when it references no image."""
    rows: list[dict[str, Any]] = []
    for tp in read.timepoints:
        for lesion_id, a in tp.assessments.items():
            lesion = read.lesions[lesion_id]
            base = {
                "subject_id": read.subject_id, "read_id": read.read_id, "reader": read.reader,
                "reader_role": read.reader_role, "criteria": read.criteria, "timepoint": tp.label,
                "date": tp.date.isoformat(), "lesion_id": lesion_id, "tracking_uid": lesion.tracking_uid,
                "role": lesion.role.value, "organ": lesion.organ, "node": _yes_no(lesion.is_node),
                "location": lesion.location,
                "status": a.status.value, "merged_into": a.merged_into or "", "study_uid": tp.study_uid,
                "series_uid": tp.series_uid, "comment": a.comment,
                "point_mm": json.dumps(list(a.point_mm)) if a.point_mm is not None else "",
            }  # fmt: skip
            if not a.measurements:
                rows.append(base)
            for n, m in enumerate(a.measurements, start=1):
                diameter = m.short_axis_mm if lesion.is_node else m.long_axis_mm
                rows.append(base | {
                    "fragment": n, "long_axis_mm": m.long_axis_mm, "short_axis_mm": m.short_axis_mm,
                    "recist_diameter_mm": diameter, "volume_ml": m.volume_ml,
                    "long_axis_endpoints_mm": json.dumps(m.long_axis_endpoints) if m.long_axis_endpoints else "",
                    "short_axis_endpoints_mm": json.dumps(m.short_axis_endpoints) if m.short_axis_endpoints else "",
                    "series_uid": m.series_uid or tp.series_uid, "sop_instance_uid": m.sop_instance_uid,
                    "frame_of_reference_uid": m.frame_of_reference_uid, "origin": m.origin.value,
                    "engine": m.engine or "", "model_id": m.model_id or "", "model_version": m.model_version or "",
                })  # fmt: skip
    return rows


def _yes_no(flag: bool) -> str:
    """A flag as the tables write it (as the engine's `new_lesions`): ``yes`` / ``no``."""
    return "yes" if flag else "no"


def response_rows(
    read: Read,
    results: Mapping[str, Any],
    lock: tuple[str, str, str] | None = None,
    accepted: Collection[str] | None = None,
) -> list[dict[str, Any]]:
    """One row per timepoint the engine evaluated; ``lock``: (locked by, locked at, what was still open when it was
    locked anyway, "" for final data) when the read's subject is locked for analysis (empty otherwise);
    ``accepted``: the read ids accepted in central review (None: no review exported)."""
    head = _head(read, accepted) | _lock_columns(lock)
    dates = {tp.label: tp.date.isoformat() for tp in read.timepoints}
    signatures = {tp.label: tp.signature for tp in read.timepoints}

    def signed(label: object) -> dict[str, str]:
        sig = signatures.get(str(label))
        return {"signed_by": sig.user, "signed_at": sig.signed_at} if sig else {"signed_by": "", "signed_at": ""}

    return [
        head | {"timepoint": t.get("label"), "date": t.get("date", dates.get(str(t.get("label")), ""))}
        | {c: t.get(c) for c in _RESULT_COLUMNS} | _new_targets(t) | signed(t.get("label"))
        for t in results.get("timepoints", [])
    ]


def _new_targets(t: Mapping[str, Any]) -> dict[str, Any]:
    ids = t.get("new_lesion_targets") or []
    return {"new_lesion_target_sum_mm": t.get("new_lesion_target_sum_mm") if ids else None,
            "new_lesion_targets": " ".join(map(str, ids))}


def best_row(
    read: Read,
    results: Mapping[str, Any],
    lock: tuple[str, str, str] | None = None,
    accepted: Collection[str] | None = None,
) -> dict[str, Any]:
    """One row per read: its best overall response; ``lock`` and ``accepted`` as for `response_rows`."""
    return _head(read, accepted) | {c: results.get(c) for c in _BEST_RESULT_COLUMNS} | _lock_columns(lock)


def _head(read: Read, accepted: Collection[str] | None) -> dict[str, Any]:
    central = read.reader_role in ("central", "adjudicator")
    flag = "" if accepted is None or not central else ("Y" if read.read_id in accepted else "N")
    return {"subject_id": read.subject_id, "read_id": read.read_id, "reader": read.reader,
            "reader_role": read.reader_role, "accepted": flag, "criteria": read.criteria}  # fmt: skip


def _lock_columns(lock: tuple[str, str, str] | None) -> dict[str, str]:
    locked_by, locked_at, not_final = lock or ("", "", "")
    return {"locked_by": locked_by, "locked_at": locked_at, "locked_not_final": not_final}


def write_csv(path: Path, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(columns))
        w.writeheader()
        for row in rows:
            w.writerow({c: "" if row.get(c) is None else row.get(c) for c in columns})
    tmp.replace(path)
    return path


def write_tables(
    reads: Sequence[Read],
    results: Mapping[str, Mapping[str, Any]],
    out_dir: str | Path,
    source: Mapping[str, str] | None = None,
    locks: Mapping[str, tuple[str, str, str]] | None = None,
    accepted: Collection[str] | None = None,
) -> list[Path]:
    """measurements.csv, responses.csv, best_responses.csv and everything.json in ``out_dir``. ``source``: derived
    read id -> the read it was derived from (`workstation.export.both_criteria`): a derived read has responses (its
    read_id says so: ``...+iRECIST``), not measurements of its own, and everything.json names its source. ``locks``:
    subject id -> (locked by, locked at, what was open if locked anyway) of the subjects locked for analysis
    (responses.csv and best_responses.csv say so). ``accepted``: the read ids accepted in central review (their
    ``accepted`` column: Y, N for the other central reads; None: no central review exported, the column is empty)."""
    source, locks = source or {}, locks or {}
    d = Path(out_dir)
    made = [read for read in reads if read.read_id not in source]
    written = [
        write_csv(d / "measurements.csv", MEASUREMENT_COLUMNS, [r for read in made for r in measurement_rows(read)]),
        write_csv(d / "responses.csv", RESPONSE_COLUMNS,
                  [r for read in reads
                   for r in response_rows(read, results.get(read.read_id, {}), locks.get(read.subject_id),
                                          accepted)]),
        write_csv(d / "best_responses.csv", BEST_COLUMNS,
                  [best_row(read, results.get(read.read_id, {}), locks.get(read.subject_id), accepted)
                   for read in reads]),
    ]
    everything = [
        ({"derived_from": source[read.read_id]} if read.read_id in source else {"read": read_to_dict(read)})
        | {"case": read.to_case(), "results": results.get(read.read_id)}
        for read in reads
    ]
    path = d / "everything.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(everything, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
    written.append(path)
    return written
