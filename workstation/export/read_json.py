"""A read as JSON, losing nothing (the "JSON of everything"), and a read rebuilt from an engine case file.

``read_to_dict`` / ``read_from_dict`` are exact inverses: every field of `Read`, `Lesion`, `TimepointRead`,
`LesionAssessment`, `Measurement` and `Signature` is written. ``read_from_case`` turns the response engine's case file
(docs/case-file.md) back into a read; a case file carries no geometry, so the measurements it gives have diameters only.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from workstation.read_model import (
    Lesion,
    LesionAssessment,
    LesionStatus,
    Measurement,
    MeasurementOrigin,
    Read,
    Role,
    Signature,
    TimepointRead,
)

FORMAT = "recist-workstation/read"
FORMAT_VERSION = 1
#: Rounding of two diameters measured apart: a short axis may exceed the long one by this much and no more.
SHORT_OVER_LONG_TOLERANCE_MM = 0.05


class ReadFileError(ValueError):
    """A read or case file that cannot be understood; the message names the file and the field."""


# ---- Read -> dict ------------------------------------------------------------------------------------------------
def _measurement_to_dict(m: Measurement) -> dict[str, Any]:
    d = asdict(m)
    d["origin"] = m.origin.value
    for key in ("long_axis_endpoints", "short_axis_endpoints"):
        if d[key] is not None:
            d[key] = [list(p) for p in d[key]]
    return d


def read_to_dict(read: Read) -> dict[str, Any]:
    """Everything in ``read`` as plain JSON types."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "read_id": read.read_id,
        "subject_id": read.subject_id,
        "reader": read.reader,
        "reader_role": read.reader_role,
        "criteria": read.criteria,
        "confirmation_required": read.confirmation_required,
        "sd_min_days": read.sd_min_days,
        "treatment_start": read.treatment_start.isoformat() if read.treatment_start else None,
        "lesions": [
            {
                "lesion_id": les.lesion_id,
                "role": les.role.value,
                "organ": les.organ,
                "is_node": les.is_node,
                "location": les.location,
                "tracking_uid": les.tracking_uid,
                "first_timepoint": les.first_timepoint,
            }
            for les in read.lesions.values()
        ],
        "timepoints": [
            {
                "label": tp.label,
                "date": tp.date.isoformat(),
                "study_uid": tp.study_uid,
                "series_uid": tp.series_uid,
                "signature": asdict(tp.signature) if tp.signature else None,
                "assessments": {
                    lesion_id: {
                        "status": a.status.value,
                        "merged_into": a.merged_into,
                        "comment": a.comment,
                        **({"point_mm": list(a.point_mm)} if a.point_mm is not None else {}),
                        "measurements": [_measurement_to_dict(m) for m in a.measurements],
                    }
                    for lesion_id, a in tp.assessments.items()
                },
            }
            for tp in read.timepoints
        ],
    }


# ---- dict -> Read ------------------------------------------------------------------------------------------------
def _enum(kind: type[Any], value: Any, where: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(v.value for v in kind)
        raise ReadFileError(f"{where}: {value!r} is not one of {allowed}") from None


def _point(value: Any, where: str) -> tuple[float, float, float]:
    if not isinstance(value, list | tuple) or len(value) != 3:
        raise ReadFileError(f"{where}: a point needs three coordinates in mm, got {value!r}")
    return (float(value[0]), float(value[1]), float(value[2]))


def _endpoints(value: Any, where: str) -> tuple[tuple[float, float, float], tuple[float, float, float]] | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ReadFileError(f"{where}: a line needs two end points, got {value!r}")
    return (_point(value[0], where), _point(value[1], where))


def _date(value: Any, where: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ReadFileError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def _measurement_from_dict(d: dict[str, Any], where: str) -> Measurement:
    if "long_axis_mm" not in d:
        raise ReadFileError(f"{where}: long_axis_mm is missing (null for a lymph node measured on its short axis only)")
    try:
        long_axis = None if d["long_axis_mm"] is None else float(d["long_axis_mm"])
    except (TypeError, ValueError):
        raise ReadFileError(f"{where}: long_axis_mm is not a number") from None
    try:
        short_axis = None if d.get("short_axis_mm") is None else float(d["short_axis_mm"])
    except (TypeError, ValueError):
        raise ReadFileError(f"{where}: short_axis_mm is not a number") from None
    if long_axis is None and short_axis is None:
        raise ReadFileError(f"{where}: a measurement needs a long axis, or a short axis for a lymph node")
    if not all(v is None or math.isfinite(v) for v in (long_axis, short_axis)):
        raise ReadFileError(f"{where}: a diameter must be a finite number of mm")
    if (long_axis is not None and long_axis < 0) or (short_axis is not None and short_axis < 0):
        raise ReadFileError(f"{where}: a diameter cannot be negative")
    if short_axis is not None and long_axis is not None and short_axis > long_axis + SHORT_OVER_LONG_TOLERANCE_MM:
        raise ReadFileError(
            f"{where}: the short axis ({short_axis:g} mm) is longer than the long axis ({long_axis:g} mm); the short "
            "axis is the longest diameter perpendicular to the long one (RECIST 1.1 sec. 3.1.1)"
        )
    return Measurement(
        long_axis_mm=long_axis,
        short_axis_mm=short_axis,
        long_axis_endpoints=_endpoints(d.get("long_axis_endpoints"), where),
        short_axis_endpoints=_endpoints(d.get("short_axis_endpoints"), where),
        series_uid=str(d.get("series_uid", "")),
        sop_instance_uid=str(d.get("sop_instance_uid", "")),
        frame_of_reference_uid=str(d.get("frame_of_reference_uid", "")),
        slice_position_mm=None if d.get("slice_position_mm") is None else float(d["slice_position_mm"]),
        volume_ml=None if d.get("volume_ml") is None else float(d["volume_ml"]),
        origin=_enum(MeasurementOrigin, d.get("origin", "manual"), f"{where} origin"),
        engine=d.get("engine"),
        model_id=d.get("model_id"),
        model_version=d.get("model_version"),
        mask_ref=d.get("mask_ref"),
    )


def read_from_dict(d: dict[str, Any], source: str = "read") -> Read:
    """Inverse of `read_to_dict`. Raises `ReadFileError` naming ``source`` and the field at fault."""
    if d.get("format") != FORMAT:
        raise ReadFileError(f"{source}: not a workstation read file (format is {d.get('format')!r})")
    version = d.get("format_version", FORMAT_VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= FORMAT_VERSION:
        raise ReadFileError(
            f"{source}: format_version {version!r} is not one this workstation reads (1 to {FORMAT_VERSION}): "
            "written by a newer version, or damaged"
        )
    where = f"{source} subject {d.get('subject_id')}"  # the place named when a required field is missing
    try:
        read = Read(
            subject_id=str(d["subject_id"]),
            reader=str(d["reader"]),
            criteria=str(d.get("criteria", "RECIST 1.1")),
            read_id=str(d["read_id"]),
            reader_role=str(d.get("reader_role", "site")),
            confirmation_required=bool(d.get("confirmation_required", True)),
            sd_min_days=int(d.get("sd_min_days", 42)),
            treatment_start=None if d.get("treatment_start") is None else _date(d["treatment_start"], source),
        )
        for ld in d.get("lesions", []):
            where = f"{source} lesion {ld.get('lesion_id')}"
            lesion = Lesion(
                lesion_id=str(ld["lesion_id"]),
                role=_enum(Role, ld["role"], f"{where} role"),
                organ=str(ld["organ"]),
                is_node=bool(ld.get("is_node", False)),
                location=str(ld.get("location", "")),
                tracking_uid=str(ld["tracking_uid"]),
                first_timepoint=int(ld.get("first_timepoint", 0)),
            )
            if lesion.lesion_id in read.lesions:
                raise ReadFileError(f"{where}: declared twice in 'lesions'")
            read.lesions[lesion.lesion_id] = lesion
        for td in d.get("timepoints", []):
            where = f"{source} timepoint {td.get('label')}"
            sig = td.get("signature")
            tp = TimepointRead(
                label=str(td["label"]),
                date=_date(td["date"], where),
                study_uid=str(td.get("study_uid", "")),
                series_uid=str(td.get("series_uid", "")),
                signature=Signature(**sig) if sig else None,
            )
            for lesion_id, ad in td.get("assessments", {}).items():
                w = f"{where} lesion {lesion_id}"
                if lesion_id not in read.lesions:
                    raise ReadFileError(f"{w}: assessed but never declared in 'lesions'")
                measurements = [_measurement_from_dict(m, w) for m in ad.get("measurements", [])]
                if not read.lesions[lesion_id].is_node and any(m.long_axis_mm is None for m in measurements):
                    raise ReadFileError(
                        f"{w}: a measurement without a long axis; only a lymph node may be given its short axis alone "
                        "(RECIST 1.1 sec. 4.2)"
                    )
                tp.assessments[lesion_id] = LesionAssessment(
                    status=_enum(LesionStatus, ad["status"], f"{w} status"),
                    measurements=measurements,
                    merged_into=ad.get("merged_into"),
                    comment=str(ad.get("comment", "")),
                    point_mm=None if ad.get("point_mm") is None else _point(ad["point_mm"], f"{w} point_mm"),
                )
            read.timepoints.append(tp)
    except KeyError as exc:
        raise ReadFileError(f"{where}: required field {exc.args[0]!r} is missing") from None
    except (TypeError, AttributeError) as exc:
        raise ReadFileError(f"{source}: malformed read file ({exc})") from None
    return read


# ---- case file -> Read -------------------------------------------------------------------------------------------
_CASE_STATUS = {
    "not_evaluated": LesionStatus.NOT_EVALUATED,
    "present": LesionStatus.PRESENT,
    "absent": LesionStatus.ABSENT,
    "unequivocal_progression": LesionStatus.UNEQUIVOCAL_PROGRESSION,
    "further_increase": LesionStatus.FURTHER_INCREASE,
    "unequivocal": LesionStatus.UNEQUIVOCAL,
    "equivocal": LesionStatus.EQUIVOCAL,
}


def _case_assessment(lesion: Lesion, e: dict[str, Any], where: str, at_baseline: bool = False) -> LesionAssessment:
    if e.get("too_small"):
        return LesionAssessment(LesionStatus.TOO_SMALL)
    if e.get("merged_into"):
        return LesionAssessment(LesionStatus.MERGED, merged_into=str(e["merged_into"]))
    if "diameter_mm" in e:
        raw = e["diameter_mm"]
        values = raw if isinstance(raw, list) else [raw]
        try:
            diameters = [float(v) for v in values]
        except (TypeError, ValueError):
            raise ReadFileError(f"{where}: diameter_mm {raw!r} is not a number") from None
        if any(v < 0 for v in diameters):
            raise ReadFileError(f"{where}: a diameter cannot be negative")
        if len(diameters) == 1 and diameters[0] == 0.0:  # gone (a new lesion: absent, as the engine reads 0 mm)
            return LesionAssessment(LesionStatus.ABSENT if lesion.role is Role.NEW else LesionStatus.DISAPPEARED)
        if lesion.role is Role.NEW and e.get("status") == "equivocal":
            # equivocal, though measured: not progression (RECIST 1.1 sec. 4.3.5); a read's equivocal new lesion has
            # no measurement (it became an unequivocal one, PD in TR/RS)
            return LesionAssessment(LesionStatus.EQUIVOCAL)
        # A node's RECIST diameter is its short axis; the case file does not carry the long axis, so none is given.
        ms = [
            Measurement(long_axis_mm=None, short_axis_mm=v) if lesion.is_node else Measurement(long_axis_mm=v)
            for v in diameters
        ]
        return LesionAssessment(LesionStatus.MEASURED, measurements=ms)
    status = e.get("status")
    if status is None and at_baseline and lesion.role is Role.NON_TARGET:
        status = "present"  # as the engine reads it (docs/case-file.md: a baseline non-target is present)
    if status is None:
        if lesion.role is Role.TARGET:
            raise ReadFileError(
                f"{where}: no diameter_mm; a target needs its diameter, or too_small, merged_into or a status "
                f"({', '.join(_CASE_STATUS)})"
            )
        raise ReadFileError(f"{where}: no status; give one of {', '.join(_CASE_STATUS)}")
    if status not in _CASE_STATUS:
        raise ReadFileError(f"{where}: status {status!r} is not one of {', '.join(_CASE_STATUS)}")
    return LesionAssessment(_CASE_STATUS[status])


def case_tracking_uid(subject_id: str, reader: str, lesion_id: str) -> str:
    """A case file's lesion's tracking UID (DICOM SR TID 1500), the same every time it is exported: derived from the
    subject, the reader and the lesion (a case file carries none), as a 2.25 UUID-derived UID (PS3.5 B.2)."""
    key = json.dumps([subject_id, reader, lesion_id])
    return f"2.25.{uuid.uuid5(_CASE_UID_NAMESPACE, key).int}"


#: Namespace of `case_tracking_uid` (fixed: changing it would change every exported case file's tracking UIDs).
_CASE_UID_NAMESPACE = uuid.UUID("6f1c8a52-3d0e-4f7b-9a41-2b5e8d7c9e10")


#: The reader of a read made from an engine case file, which names none.
CASE_FILE_READER = "case-file"


def read_from_case(case: dict[str, Any], reader: str = CASE_FILE_READER, source: str = "case") -> Read:
    """A read from the response engine's case file. ``to_case()`` of the result gives the same case back (a follow-up
    listed with no lesion comes back with its lesions not evaluated, which the engine reads the same)."""
    where = f"{source} subject {case.get('subject_id')}"  # the place named when a required field is missing
    try:
        read = Read(
            subject_id=str(case["subject_id"]),
            reader=reader,
            criteria=str(case.get("criteria", "RECIST 1.1")),
            # Stable, so that exporting the same case file twice gives the same identifiers.
            read_id=f"{case['subject_id']}-{str(case.get('criteria', 'RECIST 1.1')).replace(' ', '')}-{reader}",
            confirmation_required=bool(case.get("confirmation_required", True)),
            sd_min_days=int(case.get("sd_min_days", 42)),
            treatment_start=None if case.get("treatment_start") is None else _date(case["treatment_start"], source),
        )
        for index, td in enumerate(case["timepoints"]):
            where = f"{source} subject {read.subject_id} timepoint {td.get('label')}"
            tp = TimepointRead(label=str(td["label"]), date=_date(td["date"], where))
            for e in td.get("lesions", []):
                lesion_id = str(e["id"])
                w = f"{where} lesion {lesion_id}"
                if lesion_id in tp.assessments:
                    # the last entry would silently win (the response engine refuses the same file)
                    raise ReadFileError(f"{w}: listed twice at this timepoint")
                if lesion_id not in read.lesions:
                    if "role" not in e:
                        raise ReadFileError(f"{w}: first appearance gives no role")
                    read.lesions[lesion_id] = Lesion(
                        lesion_id=lesion_id,
                        role=_enum(Role, e["role"], f"{w} role"),
                        organ=str(e.get("organ", "")),
                        is_node=bool(e.get("node", False)),
                        first_timepoint=index,
                        tracking_uid=case_tracking_uid(read.subject_id, reader, lesion_id),
                    )
                tp.assessments[lesion_id] = _case_assessment(read.lesions[lesion_id], e, w, at_baseline=index == 0)
            if index > 0 and not tp.assessments:
                # a follow-up listed with no lesion is a visit where nothing was evaluated (the engine: NE), not one
                # not read yet, which a read without assessments would be (left out of the export)
                for lesion_id in read.lesions:
                    tp.assessments[lesion_id] = LesionAssessment(LesionStatus.NOT_EVALUATED)
            read.timepoints.append(tp)
    except KeyError as exc:
        raise ReadFileError(f"{where}: required field {exc.args[0]!r} is missing") from None
    except (TypeError, AttributeError) as exc:
        raise ReadFileError(f"{source}: malformed case file ({exc})") from None
    return read


# ---- files -------------------------------------------------------------------------------------------------------
class _DuplicateKey(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def load_json(path: str | Path) -> Any:
    """A JSON file; a key given twice in one object is refused (JSON readers keep the last one silently)."""
    p = Path(path)
    try:
        return json.loads(p.read_text(encoding="utf-8-sig"), object_pairs_hook=_no_duplicate_keys)
    except FileNotFoundError:
        raise ReadFileError(f"{p}: no such file") from None
    except _DuplicateKey as exc:
        raise ReadFileError(f"{p}: the key {exc.args[0]!r} is given twice in one object") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReadFileError(f"{p}: not valid JSON ({exc})") from None
    except RecursionError:
        raise ReadFileError(f"{p}: its JSON is nested too deeply to read") from None
    except ValueError as exc:  # e.g. a number of more digits than Python converts
        raise ReadFileError(f"{p}: cannot be read ({exc})") from None


def load_read(path: str | Path) -> Read:
    """A read from our read JSON (exported, or saved by the reading session) or an engine case file (told apart by
    their content)."""
    data = load_json(path)
    if not isinstance(data, dict):
        raise ReadFileError(f"{path}: expected a JSON object")
    if data.get("format") == FORMAT:
        return read_from_dict(data, source=str(path))
    if "timepoints" in data and "subject_id" in data:
        return read_from_case(data, source=str(path))
    raise ReadFileError(f"{path}: neither a workstation read file nor an engine case file")


def write_read(read: Read, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text(json.dumps(read_to_dict(read), indent=2) + "\n", encoding="utf-8")
    tmp.replace(p)
    return p


def hidden_under(path: Path, root: Path) -> bool:
    """Whether ``path`` is hidden below ``root`` (itself or a folder on the way): not an input when a folder is given
    (an export's `.export-scope.json`, a staging folder's leftovers)."""
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def collect_reads(paths: list[str] | list[Path]) -> list[tuple[Path, Read]]:
    """Reads from read files and case files (one case or a list of them), files and folders, as the report and
    `recist endpoints` take them (`collect_report_inputs`): a file named explicitly must be a read or case file;
    inside a folder, other JSON files (trial indexes, ground truth, expected results) are passed over."""
    return collect_report_inputs(paths).reads


def is_read_file(data: Any) -> bool:
    """Whether parsed JSON is a workstation read file (exported, or saved by the reading session)."""
    return isinstance(data, dict) and (data.get("format") == FORMAT or ("read" in data and "format_version" in data))



#: Keys that mark an object with a subject_id and timepoints as no case file: the engine's results and expected results
#: give the best overall response; a ground truth or a read file lists its lesions at the top level, not per timepoint.
NOT_CASE_KEYS = ("best_overall_response", "lesions")


def case_problem(item: Any) -> str | None:
    """Why ``item`` is no case object, None when it is one: a case has ``subject_id`` and ``timepoints``, each with
    ``label`` and ``date`` (docs/case-file.md); ``lesions`` may be left out (a follow-up where nothing was recorded)."""
    if not isinstance(item, dict):
        return "not a JSON object"
    if "subject_id" not in item:
        return "no subject_id"
    timepoints = item.get("timepoints")
    if not isinstance(timepoints, list) or not timepoints:
        return "no timepoints"
    for n, t in enumerate(timepoints, 1):
        if not isinstance(t, dict) or "label" not in t or "date" not in t:
            return f"timepoint {n} gives no label and date"
    marker = next((k for k in NOT_CASE_KEYS if k in item), None)
    return None if marker is None else f"it gives {marker!r} at the top level (results, or a ground truth)"


def _meant_as_case(item: Any) -> bool:
    """A subject's timepoints written as a case's, one with a fault: they list lesions, or a key is the case's but for
    its case ("Date")."""
    if not isinstance(item, dict) or any(k in item for k in NOT_CASE_KEYS):
        return False
    tps = [t for t in item.get("timepoints") or [] if isinstance(t, dict)]
    mistyped = any(k.lower() in ("date", "label") and k not in ("date", "label") for t in tps for k in t)
    return mistyped or any("lesions" in t for t in tps)


def cases_in(data: Any, source: str) -> list[dict[str, Any]] | None:
    """The cases a JSON file holds (one case object, or a list of them), None when it is no case file. A list that holds
    a case beside something else, or a subject_id with timepoints of which one lacks its label or date (a mistyped
    "Date"), is refused, naming the file and the item (leaving it out would change the endpoints silently)."""
    items = data if isinstance(data, list) else [data]
    problems = [case_problem(item) for item in items]
    meant = [n for n, (item, problem) in enumerate(zip(items, problems, strict=True), 1)
             if problem is not None and problem.startswith("timepoint ") and _meant_as_case(item)]
    if meant and not isinstance(data, list):  # a subject_id with timepoints, one mistyped ("Date"): never left out
        raise ReadFileError(f"{source}: subject {data['subject_id']}: {problems[0]} (docs/case-file.md)")
    if not items or (all(p is not None for p in problems) and not meant):
        return None
    for n, (item, problem) in enumerate(zip(items, problems, strict=True), 1):
        if problem is not None:
            subject = f" (subject {item['subject_id']})" if isinstance(item, dict) and "subject_id" in item else ""
            raise ReadFileError(f"{source}: case {n} of {len(items)}{subject} is not a case: {problem} "
                                "(docs/case-file.md)")
    return [item for item in items if isinstance(item, dict)]


@dataclass
class ReportInputs:
    """What `collect_report_inputs` found: the reads, the case each case-file read was made from (by read id: the
    report evaluates it as given, as `recist endpoints` does; a read drops fields such as slice_thickness_mm, death_date
    or confirmation_min_days, and a follow-up where nothing was recorded), and the JSON files left out."""

    reads: list[tuple[Path, Read]] = field(default_factory=list)
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    left_out: list[Path] = field(default_factory=list)


def collect_report_inputs(paths: list[str] | list[Path]) -> ReportInputs:
    """Reads from read files and case files (one case or a list of them, as `recist endpoints` takes them), files and
    folders. A file named explicitly must be a read or case file; inside a folder, other JSON files are left out and
    listed."""
    out = ReportInputs()
    files: list[tuple[Path, bool]] = []  # (file, named explicitly)
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files += [(f, False) for f in sorted(x for x in p.rglob("*.json") if not hidden_under(x, p))]
        elif p.exists():
            files.append((p, True))
        else:
            raise ReadFileError(f"{p}: no such file or folder")
    seen: set[Path] = set()
    for f, named in files:
        if f.resolve() in seen:
            continue
        seen.add(f.resolve())
        data = load_json(f)
        if is_read_file(data):
            out.reads.append((f, load_read(f)))
            continue
        cases = cases_in(data, str(f))
        if cases is None and named:
            raise ReadFileError(f"{f}: neither a workstation read file nor an engine case file")
        if cases is None:
            out.left_out.append(f)
        for case in cases or []:
            read = read_from_case(case, source=str(f))
            out.reads.append((f, read))
            out.cases[read.read_id] = case
    _one_of_each_read(out.reads)
    return out


def _each_file_once(found: list[tuple[Path, Read]]) -> list[tuple[Path, Read]]:
    """Each file once: a folder and a file in it may both be named."""
    files: set[Path] = set()
    out = []
    for path, read in found:
        if path.resolve() not in files:
            files.add(path.resolve())
            out.append((path, read))
    return out


def _one_of_each_read(found: list[tuple[Path, Read]]) -> list[tuple[Path, Read]]:
    """One read per subject, reader, role and criteria: two files holding one (a copy, or two case files of a subject)
    would be counted twice, or one of them silently dropped by the report."""
    seen: dict[tuple[str, str, str, str], Path] = {}
    for path, read in found:
        key = (read.subject_id, read.reader, read.reader_role, read.criteria)
        if key in seen:
            raise ReadFileError(
                f"{path}: subject {read.subject_id}, {read.reader_role} reader {read.reader!r}, {read.criteria}: "
                f"already in {seen[key]}; give one read per subject, reader and criteria"
            )
        seen[key] = path
    return found
