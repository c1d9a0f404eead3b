"""What to look for on a PACS (`StudyQuery`) and what it found (`StudyResult`, `SeriesResult`), protocol-neutral."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from pydicom.dataset import Dataset

from imaging.pacs.errors import PacsInputError

_MODALITY = re.compile(r"^[A-Z0-9_]{1,16}$")


def _dicom_date(value: date) -> str:
    return value.strftime("%Y%m%d")


def parse_dicom_date(value: object) -> date | None:
    """A DICOM DA value (``YYYYMMDD``) as a date; None when empty or malformed (PACS data is read tolerantly)."""
    text = str(value or "").strip()
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


@dataclass(frozen=True)
class StudyQuery:
    """Study-level search keys; empty keys match everything. ``patient_id`` may use ``*`` and ``?`` wildcards."""

    patient_id: str = ""
    accession_number: str = ""
    study_date_from: date | None = None
    study_date_to: date | None = None
    modality: str = ""

    def __post_init__(self) -> None:
        if self.study_date_from and self.study_date_to and self.study_date_from > self.study_date_to:
            raise PacsInputError(
                f"study date range is empty: {self.study_date_from} is after {self.study_date_to}"
            )
        if self.modality and not _MODALITY.match(self.modality):
            raise PacsInputError(f"modality '{self.modality}' must be a DICOM modality code such as CT or MR")
        for label in ("patient_id", "accession_number"):
            value = getattr(self, label)
            if "\\" in value or len(value) > 64:
                raise PacsInputError(f"{label} '{value}' must be at most 64 characters without a backslash")

    @property
    def date_range(self) -> str:
        """The DICOM range matching value: ``YYYYMMDD-YYYYMMDD``, open-ended ``YYYYMMDD-`` / ``-YYYYMMDD``, or ''."""
        if not self.study_date_from and not self.study_date_to:
            return ""
        start = _dicom_date(self.study_date_from) if self.study_date_from else ""
        end = _dicom_date(self.study_date_to) if self.study_date_to else ""
        return start if start == end else f"{start}-{end}"

    def matching_keys(self) -> dict[str, str]:
        """The non-empty keys as DICOM keyword -> matching value (shared by QIDO-RS and C-FIND)."""
        keys = {
            "PatientID": self.patient_id,
            "AccessionNumber": self.accession_number,
            "StudyDate": self.date_range,
            "ModalitiesInStudy": self.modality,
        }
        return {k: v for k, v in keys.items() if v}


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword, "")
    if value is None:
        return ""
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def _int(ds: Dataset, keyword: str) -> int | None:
    try:
        value = ds.get(keyword)
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class StudyResult:
    study_uid: str
    patient_id: str = ""
    patient_name: str = ""
    study_date: date | None = None
    accession_number: str = ""
    description: str = ""
    modalities: tuple[str, ...] = ()
    series_count: int | None = None
    instance_count: int | None = None

    @classmethod
    def from_dataset(cls, ds: Dataset) -> StudyResult:
        modalities = tuple(m for m in _text(ds, "ModalitiesInStudy").split("\\") if m)
        return cls(
            study_uid=_text(ds, "StudyInstanceUID"),
            patient_id=_text(ds, "PatientID"),
            patient_name=_text(ds, "PatientName"),
            study_date=parse_dicom_date(ds.get("StudyDate")),
            accession_number=_text(ds, "AccessionNumber"),
            description=_text(ds, "StudyDescription"),
            modalities=modalities,
            series_count=_int(ds, "NumberOfStudyRelatedSeries"),
            instance_count=_int(ds, "NumberOfStudyRelatedInstances"),
        )


@dataclass(frozen=True)
class SeriesResult:
    study_uid: str
    series_uid: str
    modality: str = ""
    series_number: int | None = None
    description: str = ""
    instance_count: int | None = None

    @classmethod
    def from_dataset(cls, ds: Dataset, study_uid: str) -> SeriesResult:
        return cls(
            study_uid=_text(ds, "StudyInstanceUID") or study_uid,
            series_uid=_text(ds, "SeriesInstanceUID"),
            modality=_text(ds, "Modality"),
            series_number=_int(ds, "SeriesNumber"),
            description=_text(ds, "SeriesDescription"),
            instance_count=_int(ds, "NumberOfSeriesRelatedInstances"),
        )


#: Attributes asked for in study- and series-level searches (return keys).
STUDY_RETURN_KEYS = (
    "StudyInstanceUID", "PatientID", "PatientName", "StudyDate", "AccessionNumber", "StudyDescription",
    "ModalitiesInStudy", "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances",
)
SERIES_RETURN_KEYS = (
    "StudyInstanceUID", "SeriesInstanceUID", "Modality", "SeriesNumber", "SeriesDescription",
    "NumberOfSeriesRelatedInstances",
)
