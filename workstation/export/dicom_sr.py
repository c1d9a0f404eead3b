"""DICOM Structured Report, TID 1500 Measurement Report (highdicom), one document per timepoint of a read, and back.

Each document joins the study of its timepoint and holds one TID 1501 measurement group per lesion assessed there:
tracking identifier (the lesion id) and tracking UID (the same for the lesion at every timepoint), finding type
"Lesion", finding site (SNOMED CT), the criteria as the group's method (DCM 126081 "RECIST 1.1"), the timepoint (TID
1502), the long axis and short axis as SCOORD3D polylines (patient mm, frame of reference) with their lengths in mm,
the source image of each, and the algorithm that suggested it. What TID 1500 has no concept for (the lesion's role,
status, nodal flag, location text, merge target and each measurement's origin) is written as qualitative evaluations
in the workstation's local coding scheme ``99RECISTWS`` so the import restores it. The read's id and the reader's role
sit in the Clinical Trial Series module (ClinicalTrialSeriesID / ClinicalTrialSeriesDescription).

A lesion seen but not measured at a timepoint (a non-target, a new lesion declared) with the place the reader saw it
is a TID 1410 planar ROI group instead, its region a SCOORD3D POINT in the timepoint's frame of reference (that of
its measurements, else of the series read), so a viewer can show where it is and the import restores it.

Not carried (they are not DICOM concepts): assessment comments, mask keys, the trial's confirmation and SD-duration
parameters, and the signature's meaning (the signature itself becomes the document's verification).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
from pydicom import Dataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import generate_uid

from imaging.cancel import CancelToken, ProgressCallback, report
from workstation.export.organs import LOCAL_SCHEME, organ_code, organ_name
from workstation.export.terminology import DEFAULT_SPONSOR
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
    is_irecist,
)

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MANUFACTURER = "RECIST workstation"
MM = codes.UCUM.Millimeter
ML = Code("ml", "UCUM", "milliliter")
IRECIST = Code("IRECIST", LOCAL_SCHEME, "iRECIST")


def _local(value: str, meaning: str) -> Code:
    return Code(value, LOCAL_SCHEME, meaning)


ROLE = _local("ROLE", "RECIST lesion role")
STATUS = _local("STATUS", "RECIST lesion status")
NODE = _local("NODE", "Lymph node (short axis measured)")
LOCATION = _local("LOCATION", "Lesion location")
MERGED_INTO = _local("MERGEDINTO", "Merged into lesion")
ORIGIN = _local("ORIGIN", "Measurement origin")
_ROLE_CODES = {r: _local(r.value.upper().replace("-", "")[:16], f"{r.value} lesion") for r in Role}
_STATUS_CODES = {s: _local(s.value.upper().replace("_", "")[:16], s.value) for s in LesionStatus}
_ORIGIN_CODES = {o: _local(o.value.upper(), o.value) for o in MeasurementOrigin}
_YES, _NO = _local("Y", "yes"), _local("N", "no")


class SRExportError(ValueError):
    """A read that cannot become a valid SR (missing identifiers...); names the subject, timepoint and lesion."""


@dataclass(frozen=True)
class WrittenSR:
    path: Path
    timepoint: str
    groups: int


# ---- writing -----------------------------------------------------------------------------------------------------
def _evidence(read: Read, tp: TimepointRead, sop_uids: Sequence[str],
              headers: Mapping[str, Dataset] | None) -> list[Dataset]:
    """The source images, as the SR's evidence: their real headers when given, else what the read knows of them."""
    out: list[Dataset] = []
    for uid in sop_uids:
        if headers is not None and uid in headers:
            out.append(headers[uid])
            continue
        if not tp.study_uid or not tp.series_uid:
            raise SRExportError(f"subject {read.subject_id} timepoint {tp.label}: the read does not know the study and "
                                f"series of image {uid}; give the DICOM folder of the series that was read")
        ds = Dataset()
        ds.SOPClassUID = CT_IMAGE_STORAGE
        ds.SOPInstanceUID = uid
        ds.StudyInstanceUID = tp.study_uid
        ds.SeriesInstanceUID = tp.series_uid
        ds.PatientID = read.subject_id
        ds.PatientName = _person_name(read.subject_id)
        ds.PatientBirthDate = ""
        ds.PatientSex = ""
        ds.AccessionNumber = ""
        ds.StudyID = ""
        ds.StudyDate = tp.date.strftime("%Y%m%d")
        ds.StudyTime = ""
        ds.ReferringPhysicianName = ""
        out.append(ds)
    return out


def _line(kind: Code, length: float, ends: Any, m: Measurement, where: str) -> hd.sr.Measurement:
    coords = None
    if ends is not None:
        if not m.frame_of_reference_uid:
            raise SRExportError(f"{where}: end points without a frame of reference UID cannot be placed in 3-D")
        coords = [hd.sr.CoordinatesForMeasurement3D(
            graphic_type=hd.sr.GraphicTypeValues3D.POLYLINE,
            graphic_data=np.asarray(ends, dtype=float).reshape(2, 3),
            frame_of_reference_uid=m.frame_of_reference_uid,
        )]
    images = [hd.sr.SourceImageForMeasurement(CT_IMAGE_STORAGE, m.sop_instance_uid)] if m.sop_instance_uid else None
    algorithm = None
    if m.engine or m.model_id:
        algorithm = hd.sr.AlgorithmIdentification(
            name=m.engine or m.model_id or "", version=m.model_version or "unknown",
            parameters=[m.model_id] if m.model_id else None,
        )
    return hd.sr.Measurement(name=kind, value=float(length), unit=MM, referenced_images=images,
                             referenced_coordinates=coords, algorithm_id=algorithm)


def _group(
    read: Read, index: int, lesion: Lesion, a: LesionAssessment, frame: str = ""
) -> hd.sr.MeasurementsAndQualitativeEvaluations | hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations:
    """TID 1501 for a measured lesion (or one without a known place); TID 1410 with a POINT region for one seen but
    not measured (a non-target, a new lesion declared), where the reader saw it (``frame``: the timepoint's frame of
    reference)."""
    tp = read.timepoints[index]
    where = f"subject {read.subject_id} timepoint {tp.label} lesion {lesion.lesion_id}"
    measurements: list[hd.sr.Measurement] = []
    for n, m in enumerate(a.measurements):
        w = f"{where} measurement {n + 1}"
        if m.long_axis_mm is not None:  # a node given by its short axis alone has none (never invented)
            measurements.append(_line(codes.SCT.LongAxis, m.long_axis_mm, m.long_axis_endpoints, m, w))
        if m.short_axis_mm is not None:
            measurements.append(_line(codes.SCT.ShortAxis, m.short_axis_mm, m.short_axis_endpoints, m, w))
        if m.volume_ml is not None:
            measurements.append(hd.sr.Measurement(name=codes.SCT.Volume, value=float(m.volume_ml), unit=ML))
    if a.status is LesionStatus.DISAPPEARED and not measurements:
        # RECIST 1.1 sec. 4.3.2 records a target that disappeared as 0 mm: a generic TID 1500 reader sees the number
        # (no image region: there is nothing to point at); the status code says why
        axis = codes.SCT.ShortAxis if lesion.is_node else codes.SCT.LongAxis
        measurements.append(hd.sr.Measurement(name=axis, value=0.0, unit=MM))
    evaluations = [
        hd.sr.QualitativeEvaluation(ROLE, _ROLE_CODES[lesion.role]),
        hd.sr.QualitativeEvaluation(STATUS, _STATUS_CODES[a.status]),
        hd.sr.QualitativeEvaluation(NODE, _YES if lesion.is_node else _NO),
    ]
    if lesion.location:
        evaluations.append(hd.sr.QualitativeEvaluation(LOCATION, _local("LOCATION", lesion.location[:64])))
    if a.merged_into:
        evaluations.append(hd.sr.QualitativeEvaluation(MERGED_INTO, _local("LESION", a.merged_into[:64])))
    evaluations += [hd.sr.QualitativeEvaluation(ORIGIN, _ORIGIN_CODES[m.origin]) for m in a.measurements]
    common: dict[str, Any] = {
        "tracking_identifier": hd.sr.TrackingIdentifier(uid=lesion.tracking_uid, identifier=lesion.lesion_id),
        "time_point_context": hd.sr.TimePointContext(time_point=tp.label[:64], time_point_order=index + 1),
        "finding_type": codes.SCT.Lesion,
        "method": IRECIST if is_irecist(read.criteria) else codes.DCM.RECIST1Point1,
        "finding_sites": [hd.sr.FindingSite(organ_code(lesion.organ))],
        "qualitative_evaluations": evaluations,
    }
    if a.point_mm is not None and not measurements and frame:
        point = hd.sr.ImageRegion3D(
            graphic_type=hd.sr.GraphicTypeValues3D.POINT,
            graphic_data=np.asarray(a.point_mm, dtype=float).reshape(1, 3),
            frame_of_reference_uid=frame,
        )
        return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(referenced_region=point, **common)
    return hd.sr.MeasurementsAndQualitativeEvaluations(measurements=measurements or None, **common)


def _frame_of_reference(tp: TimepointRead, headers: Mapping[str, Dataset] | None) -> str:
    """The timepoint's frame of reference: its measurements', else that of the series read (from its headers)."""
    for a in tp.assessments.values():
        for m in a.measurements:
            if m.frame_of_reference_uid:
                return m.frame_of_reference_uid
    for h in (headers or {}).values():
        if h.get("SeriesInstanceUID") == tp.series_uid and h.get("FrameOfReferenceUID"):
            return str(h.FrameOfReferenceUID)
    return ""


def build_sr(read: Read, index: int, headers: Mapping[str, Dataset] | None = None,
             protocol_id: str = "RECIST-TRIAL", sponsor: str = DEFAULT_SPONSOR) -> hd.sr.Comprehensive3DSR:
    """The TID 1500 measurement report of ``read`` at timepoint ``index``."""
    tp = read.timepoints[index]
    frame = _frame_of_reference(tp, headers)
    groups = [
        _group(read, index, lesion, tp.assessments[lesion_id], frame)
        for lesion_id, lesion in read.lesions.items()
        if lesion_id in tp.assessments
    ]
    sops = list(dict.fromkeys(m.sop_instance_uid for a in tp.assessments.values() for m in a.measurements
                              if m.sop_instance_uid))
    if not sops and headers:  # nothing measured at this visit: reference the series that was read
        sops = [uid for uid, h in headers.items() if h.get("SeriesInstanceUID") == tp.series_uid][:1]
    if not sops:
        raise SRExportError(f"subject {read.subject_id} timepoint {tp.label}: no source image is referenced; "
                            "give the DICOM folder of the series that was read")
    evidence = _evidence(read, tp, sops, headers)
    observer = hd.sr.ObserverContext(
        observer_type=codes.cid270.Person,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
            name=_person_name(read.reader), login_name=read.reader
        ),
    )
    report_content = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_person_context=observer),
        procedure_reported=codes.LN.CTUnspecifiedBodyRegion,
        imaging_measurements=groups,
        title=codes.cid7021.ImagingMeasurementReport,
    )
    sig = tp.signature
    sr = hd.sr.Comprehensive3DSR(
        evidence=evidence,
        content=report_content[0],
        series_instance_uid=generate_uid(),
        series_number=900 + index,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        is_complete=True,
        is_final=sig is not None,
        is_verified=sig is not None,
        verifying_observer_name=_person_name(sig.full_name) if sig else None,
        verifying_organization=sponsor if sig else None,
        series_description=f"{read.criteria} measurements"[:64],
    )
    if sig is not None:
        signed = datetime.fromisoformat(sig.signed_at)
        sr.VerifyingObserverSequence[0].VerificationDateTime = signed.strftime("%Y%m%d%H%M%S.%f%z")
        sr.VerifyingObserverSequence[0].VerifyingObserverIdentificationCodeSequence = []
    # The local coding scheme is declared, as PS3.3 C.12.1.1.7 asks of a private scheme.
    scheme = Dataset()
    scheme.CodingSchemeDesignator = LOCAL_SCHEME
    scheme.CodingSchemeName = "RECIST workstation lesion and measurement attributes"
    scheme.CodingSchemeResponsibleOrganization = sponsor[:64]
    sr.CodingSchemeIdentificationSequence = [scheme]
    # Clinical Trial Subject / Study / Series modules: who, which visit, which read.
    sr.ClinicalTrialSponsorName = sponsor[:64]
    sr.ClinicalTrialProtocolID = protocol_id[:64]
    sr.ClinicalTrialProtocolName = ""
    sr.ClinicalTrialSiteID = ""
    sr.ClinicalTrialSiteName = ""
    sr.ClinicalTrialSubjectID = read.subject_id[:64]
    sr.ClinicalTrialTimePointID = tp.label[:64]
    sr.ClinicalTrialCoordinatingCenterName = ""
    sr.ClinicalTrialSeriesID = read.read_id[:64]
    sr.ClinicalTrialSeriesDescription = f"{read.reader_role} read by {read.reader}"[:64]
    return sr


def export_sr(read: Read, out_dir: str | Path, headers: Mapping[str, Dataset] | None = None,
              progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
              **kwargs: str) -> list[WrittenSR]:
    """One SR file per timepoint of ``read`` in ``out_dir`` (a follow-up with nothing assessed yet has none).

    Every timepoint's SR is built before the first is written: a read that cannot become SR (`SRExportError`) leaves
    no file of it behind, rather than its first timepoints."""
    d = Path(out_dir)
    built: list[tuple[int, TimepointRead, hd.sr.Comprehensive3DSR]] = []
    for i, tp in enumerate(read.timepoints):
        if cancel is not None:
            cancel.raise_if_cancelled()
        if i > 0 and not tp.assessments:
            continue
        built.append((i, tp, build_sr(read, i, headers, **kwargs)))
        report(progress, i + 1, len(read.timepoints), f"SR {tp.label}")
    d.mkdir(parents=True, exist_ok=True)
    written: list[WrittenSR] = []
    for i, tp, sr in built:
        path = d / f"{_safe(read.subject_id)}_{_safe(read.reader)}_T{i}_{_safe(tp.label)}.SR.dcm"
        tmp = path.with_suffix(".tmp")
        sr.save_as(tmp, enforce_file_format=True)
        tmp.replace(path)
        written.append(WrittenSR(path, tp.label, len(tp.assessments)))
    return written


def _person_name(text: str) -> str:
    """A DICOM PN; a one-word name gets the trailing caret that marks it as a family name on purpose."""
    return text if "^" in text else f"{text}^"


def _from_person_name(text: str) -> str:
    return text[:-1] if text.endswith("^") and text.count("^") == 1 else text


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "_" for c in text) or "x"


# ---- reading -----------------------------------------------------------------------------------------------------
class SRImportError(ValueError):
    """An SR that is not one of ours or is inconsistent; names the file and what is wrong."""


def _items(ds: Dataset, concept: Code | hd.sr.CodedConcept) -> list[Dataset]:
    return [
        item for item in getattr(ds, "ContentSequence", [])
        if item.ConceptNameCodeSequence[0].CodeValue == concept.value
        and item.ConceptNameCodeSequence[0].CodingSchemeDesignator == concept.scheme_designator
    ]  # fmt: skip


def _algorithm(item: Dataset) -> tuple[str | None, str | None, str | None]:
    name = version = model = None
    for child in getattr(item, "ContentSequence", []):
        code = child.ConceptNameCodeSequence[0].CodeValue
        if code == "111001":
            name = str(child.TextValue)
        elif code == "111003":
            version = str(child.TextValue)
        elif code == "111002":
            model = str(child.TextValue)
    return name, model, version if version != "unknown" else None


def _ends(m: hd.sr.Measurement) -> tuple[Any, str]:
    coords = m.referenced_coordinates
    if not coords:
        return None, ""
    data = np.asarray(coords[0].value, dtype=float).reshape(-1, 3)
    ends = (tuple(float(v) for v in data[0]), tuple(float(v) for v in data[1]))
    return ends, str(coords[0].ReferencedFrameOfReferenceUID)


def _measurements(group: hd.sr.MeasurementsAndQualitativeEvaluations, series_of: Mapping[str, str],
                  where: str) -> list[Measurement]:
    out: list[Measurement] = []
    for m in group.get_measurements():
        value = float(m.value)
        # A measurement starts at its long axis, or at a short axis with none before it (a lymph node given by its
        # short axis alone): every node measurement has a short axis, every other lesion's a long one.
        starts = m.name == codes.SCT.LongAxis or (
            m.name == codes.SCT.ShortAxis and (not out or out[-1].short_axis_mm is not None)
        )
        if starts:
            frame = _ends(m)[1]
            images = m.referenced_images
            sop = str(images[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID) if images else ""
            engine, model, version = _algorithm(m[0])
            out.append(Measurement(long_axis_mm=None, frame_of_reference_uid=frame, sop_instance_uid=sop,
                                   series_uid=series_of.get(sop, ""), engine=engine, model_id=model,
                                   model_version=version))
        if m.name == codes.SCT.LongAxis:
            out[-1].long_axis_mm = value
            out[-1].long_axis_endpoints = _ends(m)[0]
        elif m.name == codes.SCT.ShortAxis:
            out[-1].short_axis_mm = value
            out[-1].short_axis_endpoints = _ends(m)[0]
        elif m.name != codes.SCT.Volume:
            continue  # e.g. the time point order of TID 1502
        elif not out:
            raise SRImportError(f"{where}: a {m.name.meaning} comes before any long or short axis")
        else:
            out[-1].volume_ml = value
    return out


def _evaluations(group: hd.sr.MeasurementsAndQualitativeEvaluations) -> list[tuple[str, Any]]:
    return [(e.name.value, e.value) for e in group.get_qualitative_evaluations()
            if e.name.scheme_designator == LOCAL_SCHEME]


def _lookup(codes_by_key: Mapping[Any, Code], value: str, where: str) -> Any:
    for key, code in codes_by_key.items():
        if code.value == value:
            return key
    raise SRImportError(f"{where}: unknown code {value!r}")


def import_sr(paths: Sequence[str | Path]) -> list[Read]:
    """Reads rebuilt from our own TID 1500 documents (one per timepoint), grouped by ClinicalTrialSeriesID."""
    docs: dict[str, list[tuple[tuple[str, int], Path, Any]]] = {}
    for p in paths:
        try:
            sr = hd.sr.srread(p)
        except Exception as exc:  # pydicom/highdicom raise many types for a file that is not an SR
            raise SRImportError(f"{p}: not a readable DICOM SR ({type(exc).__name__}: {exc})") from None
        read_id = str(sr.get("ClinicalTrialSeriesID", "")) or str(sr.SeriesInstanceUID)
        # Visits in date order (the engine requires it), the TID 1502 order breaking ties.
        docs.setdefault(read_id, []).append(((str(sr.get("StudyDate", "")), _tp_order(sr)), Path(p), sr))
    return [_read_from_docs(read_id, items) for read_id, items in docs.items()]


def _groups(sr: Any) -> list[Any]:
    """The lesions' measurement groups: TID 1501 (measured) and TID 1410 (a point where an unmeasured one was seen)."""
    return [*sr.content.get_image_measurement_groups(), *sr.content.get_planar_roi_measurement_groups()]


def _point(group: Any) -> tuple[float, float, float] | None:
    """Where a TID 1410 group's POINT region lies (patient mm), None for a TID 1501 group."""
    if not isinstance(group, hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations):
        return None
    roi = group.roi
    if roi is None or str(roi.GraphicType) != "POINT":
        return None
    x, y, z = (float(v) for v in np.asarray(roi.value, dtype=float).reshape(-1)[:3])
    return (x, y, z)


def _tp_order(sr: Any) -> int:
    for group in _groups(sr):
        for item in group[0].ContentSequence:
            if item.ConceptNameCodeSequence[0].CodeValue == "126073":  # Time Point Order
                return int(item.MeasuredValueSequence[0].NumericValue)
    return 0


def _read_from_docs(read_id: str, items: list[tuple[tuple[str, int], Path, Any]]) -> Read:
    items = sorted(items, key=lambda t: t[0])
    first = items[0][2]
    description = str(first.get("ClinicalTrialSeriesDescription", ""))
    role = description.split(" read by ", 1)[0] if " read by " in description else "site"
    observers = first.content.get_observer_contexts()
    reader = _from_person_name(str(observers[0].observer_identifying_attributes.name)) if observers else ""
    read = Read(subject_id=str(first.get("ClinicalTrialSubjectID", "") or first.PatientID), reader=reader,
                read_id=read_id, reader_role=role)
    for index, (_, path, sr) in enumerate(items):
        series_of_sop = {
            str(sop.ReferencedSOPInstanceUID): str(series.SeriesInstanceUID)
            for study in getattr(sr, "CurrentRequestedProcedureEvidenceSequence", [])
            for series in study.ReferencedSeriesSequence
            for sop in series.ReferencedSOPSequence
        }
        label = str(sr.get("ClinicalTrialTimePointID", "")) or f"timepoint {index + 1}"
        tp = TimepointRead(label=label, date=datetime.strptime(str(sr.StudyDate), "%Y%m%d").date(),
                           study_uid=str(sr.StudyInstanceUID))
        series_uids = set(series_of_sop.values())
        tp.series_uid = series_uids.pop() if len(series_uids) == 1 else ""
        if sr.get("VerificationFlag") == "VERIFIED":
            v = sr.VerifyingObserverSequence[0]
            tp.signature = Signature(user=reader, full_name=_from_person_name(str(v.VerifyingObserverName)),
                                     signed_at=_dicom_datetime(str(v.VerificationDateTime)), meaning="verified")
        for group in _groups(sr):
            lesion_id = str(group.tracking_identifier)
            where = f"{path} lesion {lesion_id}"
            if group.method is not None and group.method.value == IRECIST.value:
                read.criteria = "iRECIST"
            evaluations = _evaluations(group)
            values = {name: value for name, value in evaluations}
            for needed in (ROLE, STATUS, NODE):
                if needed.value not in values:
                    raise SRImportError(f"{where}: no {needed.meaning!r} evaluation: not a measurement report "
                                        "written by this workstation")
            if lesion_id not in read.lesions:
                sites = group.finding_sites
                site = sites[0].value if sites else None
                read.lesions[lesion_id] = Lesion(
                    lesion_id=lesion_id,
                    role=_lookup(_ROLE_CODES, values[ROLE.value].value, where),
                    organ=organ_name(site.value, site.scheme_designator, site.meaning) if site else "",
                    is_node=values[NODE.value].value == _YES.value,
                    location=values[LOCATION.value].meaning if LOCATION.value in values else "",
                    tracking_uid=str(group.tracking_uid),
                    first_timepoint=index,
                )
            measurements = _measurements(group, series_of_sop, where)
            status = _lookup(_STATUS_CODES, values[STATUS.value].value, where)
            if status is LesionStatus.DISAPPEARED:  # its 0 mm is the status written as a number, not a measurement
                measurements = [m for m in measurements if m.long_axis_mm or m.short_axis_mm or m.long_axis_endpoints]
            origins = [_lookup(_ORIGIN_CODES, v.value, where) for name, v in evaluations if name == ORIGIN.value]
            if len(origins) != len(measurements):
                raise SRImportError(f"{where}: {len(measurements)} measurements but {len(origins)} origins")
            for m, origin in zip(measurements, origins, strict=True):
                m.origin = origin
            tp.assessments[lesion_id] = LesionAssessment(
                status=status,
                measurements=measurements,
                merged_into=values[MERGED_INTO.value].meaning if MERGED_INTO.value in values else None,
                point_mm=_point(group),
            )
        read.timepoints.append(tp)
    return read


def _dicom_datetime(text: str) -> str:
    for fmt in ("%Y%m%d%H%M%S.%f%z", "%Y%m%d%H%M%S%z", "%Y%m%d%H%M%S.%f", "%Y%m%d%H%M%S"):
        try:
            return datetime.strptime(text, fmt).isoformat()
        except ValueError:
            continue
    return text
