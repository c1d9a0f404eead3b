"""What a blinded central reader may see of a series: a pseudonym, the day relative to baseline, and geometry.

`blinded_attributes` builds the dictionary from scratch (an allow-list): nothing of the patient's identity (name, ID,
birth date, sex, accession number, institution, physician), no calendar date, and no DICOM UID (UIDs often embed dates
and times and link back to the PACS). Free-text descriptions are scrubbed of anything that looks like a date or repeats
an identifier of the patient.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from imaging.discovery import SeriesRecord
from imaging.errors import DicomLoadError
from imaging.volume import PatientIdentity, Volume

_DATE_LIKE = re.compile(
    r"\b(\d{8}|\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})\b"
)  # 20240115, 2024-01-15, 15/01/2024, 1.15.24


def _as_date(value: date | str) -> date:
    if isinstance(value, date):
        return value
    text = value.strip().replace("-", "")
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except (ValueError, IndexError) as exc:
        raise ValueError(f"baseline date {value!r} is not YYYYMMDD or YYYY-MM-DD") from exc


def scrub_text(text: str, patient: PatientIdentity) -> str:
    """Remove date-like strings and any identifier of ``patient`` from free text."""
    out = _DATE_LIKE.sub("[date]", text)
    name_parts = [p for p in re.split(r"[\^\s,]+", patient.patient_name) if len(p) >= 2]
    for secret in [patient.patient_id, patient.accession_number, patient.birth_date, patient.institution, *name_parts]:
        if secret and len(secret.strip()) >= 2:
            out = re.sub(rf"\b{re.escape(secret.strip())}\b", "[removed]", out, flags=re.IGNORECASE)
    return out.strip()


def study_day(acquired: date, baseline: date) -> int:
    """CDISC study day: day 1 is the baseline date, the day before it is day -1 (there is no day 0)."""
    delta = (acquired - baseline).days
    return delta + 1 if delta >= 0 else delta


def blinded_attributes(
    volume_or_record: Volume | SeriesRecord, subject_pseudonym: str, baseline_date: date | str
) -> dict[str, Any]:
    """The attributes of a series that a blinded reader may see.

    Keys: ``subject`` (the pseudonym), ``days_from_baseline`` (0 on the baseline scan; None when the series has no
    date), ``study_day`` (CDISC convention, day 1 = baseline), ``modality``, ``series_description`` (scrubbed),
    ``slices``, ``rows``, ``columns``, ``spacing_mm`` [slice, row, column], ``slice_thickness_mm``, ``origin_mm`` and
    ``direction`` (patient geometry, needed to place measurements; it identifies nobody).
    """
    if not subject_pseudonym.strip():
        raise ValueError("a blinded view needs a subject pseudonym")
    baseline = _as_date(baseline_date)
    out: dict[str, Any] = {"subject": subject_pseudonym.strip()}
    if isinstance(volume_or_record, Volume):
        info, patient = volume_or_record.info, volume_or_record.patient
        acquired = info.acquisition_date or info.study_date
        modality, description = info.modality, info.series_description
        geometry: dict[str, Any] = {
            "slices": volume_or_record.shape[0],
            "rows": volume_or_record.shape[1],
            "columns": volume_or_record.shape[2],
            "spacing_mm": [round(float(s), 4) for s in volume_or_record.spacing],
            "slice_thickness_mm": info.slice_thickness_mm,
            "origin_mm": [round(float(v), 3) for v in volume_or_record.origin],
            "direction": [[round(float(v), 6) for v in row] for row in volume_or_record.direction],
        }
    else:
        record = volume_or_record
        patient = record.patient
        acquired = record.acquisition_date or record.study_date
        modality, description = record.modality, record.series_description
        first = record.instances[0] if record.instances else None
        geometry = {
            "slices": record.frame_count,
            "rows": first.rows if first else None,
            "columns": first.columns if first else None,
        }
        try:
            from imaging.slice_geometry import stack_geometry

            stack = stack_geometry(record)
            geometry.update(
                slices=len(stack.slices),
                spacing_mm=[round(float(s), 4) for s in stack.spacing],
                slice_thickness_mm=stack.slices[0].header.slice_thickness,
                origin_mm=[round(float(v), 3) for v in stack.origin],
                direction=[[round(float(v), 6) for v in row] for row in stack.direction],
            )
        except DicomLoadError:
            pass  # geometry unknown: the reader sees only the size
    days = (acquired - baseline).days if acquired is not None else None
    out.update(
        days_from_baseline=days,
        study_day=study_day(acquired, baseline) if acquired is not None else None,
        modality=modality,
        series_description=scrub_text(description, patient),
        **geometry,
    )
    return out
