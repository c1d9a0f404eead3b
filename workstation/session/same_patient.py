"""Whether a subject's timepoints are images of one patient: a series filed under the wrong subject or timepoint (two
patients' studies in one folder, a PACS retrieve of the wrong accession) would be read and measured as this subject's.

Compares the DICOM PatientID of the series read at each timepoint (and of the series a timepoint folder offers); an
empty PatientID says nothing. The message names the timepoints, never the IDs: a blinded reader must not see them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def _patient_id(volume_or_record: Any) -> str:
    patient = getattr(volume_or_record, "patient", None)
    return str(getattr(patient, "patient_id", "") or "").strip()


def other_patient(label: str, volume: Any, loaded: Mapping[str, Any]) -> str | None:
    """``volume`` (read at timepoint ``label``) against the subject's other loaded volumes (label -> volume): a
    sentence for the reader when their PatientIDs differ, else None."""
    mine = _patient_id(volume)
    if not mine:
        return None
    others = [other for other, v in loaded.items() if other != label and _patient_id(v) not in ("", mine)]
    if not others:
        return None
    return (f"the images of {label} belong to another patient than those of {', '.join(others)} (their DICOM "
            "Patient IDs differ): check that the right series was filed under this subject and timepoint before "
            "measuring")


def patients_in_folder(records: Iterable[Any]) -> int:
    """How many patients (distinct non-empty PatientIDs) the series of one timepoint folder belong to."""
    return len({pid for r in records if (pid := _patient_id(r))})
