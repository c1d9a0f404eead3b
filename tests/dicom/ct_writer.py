"""Write small synthetic CT series with pydicom, with exactly the geometry and defects a test asks for.

`write_ct_series` returns a `WrittenSeries`: the files, the HU array in the order the slices should load (sorted along
the slice normal), and every slice's ImagePositionPatient, so tests compare the loaded volume against the truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    CTImageStorage,
    DeflatedExplicitVRLittleEndian,
    EnhancedCTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    generate_uid,
)

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


@dataclass
class WrittenSeries:
    paths: list[Path]
    hu: npt.NDArray[np.int16]  # (slices, rows, columns), sorted along the normal
    positions: npt.NDArray[np.float64]  # ImagePositionPatient of each row of ``hu``
    series_uid: str
    study_uid: str
    sop_uids: list[str] = field(default_factory=list)  # in the order of ``hu``


def phantom(n: int, rows: int, columns: int, seed: int = 0) -> npt.NDArray[np.int16]:
    """A body-like HU phantom that differs from slice to slice (so order errors show)."""
    rng = np.random.default_rng(seed)
    jj, ii = np.mgrid[0:rows, 0:columns]
    body = ((jj - rows / 2) / (rows * 0.42)) ** 2 + ((ii - columns / 2) / (columns * 0.45)) ** 2 <= 1
    out = np.full((n, rows, columns), -1000, dtype=np.int16)
    for k in range(n):
        sl = np.where(body, 40, -1000).astype(np.int16)
        sl[rows // 4 : rows // 4 + 3 + k % 5, columns // 3 : columns // 3 + 4] = 300 + 10 * k  # slice signature
        out[k] = sl + rng.integers(-20, 20, size=(rows, columns), dtype=np.int16)
    return out


def _base(
    series_uid: str,
    study_uid: str,
    frame_uid: str,
    sop_class: str,
    transfer_syntax: str,
    rows: int,
    columns: int,
    patient: dict[str, str],
) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.TransferSyntaxUID = transfer_syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = frame_uid
    ds.Modality = "CT"
    ds.PatientID = patient.get("id", "PAT-001")
    ds.PatientName = patient.get("name", "Doe^Jane")
    ds.PatientBirthDate = patient.get("birth_date", "19600101")
    ds.PatientSex = "F"
    ds.AccessionNumber = patient.get("accession", "ACC123")
    ds.InstitutionName = "Synthetic Hospital"
    ds.StudyDate = patient.get("study_date", "20240115")
    ds.SeriesDate = ds.StudyDate
    ds.AcquisitionDate = ds.StudyDate
    ds.StudyDescription = "CT CHEST ABDOMEN"
    ds.SeriesDescription = patient.get("series_description", "PORTAL VENOUS 2.5")
    ds.SeriesNumber = int(patient.get("series_number", "3"))
    ds.Manufacturer = "pydicom-tests"
    ds.Rows = rows
    ds.Columns = columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    return ds


def write_ct_series(
    folder: Path,
    n: int = 8,
    rows: int = 32,
    columns: int = 40,
    pixel_spacing: tuple[float, float] = (0.7, 0.8),
    slice_spacing: float = 2.5,
    origin: Sequence[float] = (-120.0, -110.0, -300.0),
    orientation: Sequence[float] = AXIAL,
    tilt_deg: float = 0.0,
    offsets: Sequence[float] | None = None,
    transfer_syntax: str = ExplicitVRLittleEndian,
    encoding_plugin: str = "",
    encoding_kwargs: dict[str, object] | None = None,
    unsigned_with_intercept: bool = True,
    bits_stored: int = 12,
    slope: float = 1.0,
    duplicate: Sequence[int] = (),
    omit: Sequence[int] = (),
    file_order: str = "reversed",
    enhanced: bool = False,
    series_uid: str | None = None,
    study_uid: str | None = None,
    patient: dict[str, str] | None = None,
    seed: int = 0,
    hu: npt.NDArray[np.int16] | None = None,
) -> WrittenSeries:
    """Write a CT series to ``folder``; the defects are opt-in (see the parameters)."""
    folder.mkdir(parents=True, exist_ok=True)
    patient = patient or {}
    series_uid = series_uid or generate_uid()
    study_uid = study_uid or generate_uid()
    frame_uid = generate_uid()
    values = phantom(n, rows, columns, seed) if hu is None else hu
    row_dir = np.asarray(orientation[:3], dtype=float)
    col_dir = np.asarray(orientation[3:], dtype=float)
    normal = np.cross(row_dir, col_dir)
    shift = np.tan(np.radians(tilt_deg)) * col_dir  # gantry tilt: slices slide along the column direction
    offs = np.asarray(offsets if offsets is not None else np.arange(n) * slice_spacing, dtype=float)
    positions = np.asarray(origin, dtype=float) + np.outer(offs, normal + shift)
    keep = [k for k in range(n) if k not in set(omit)]
    sop_uids = [generate_uid() for _ in range(n)]
    intercept = -1024.0 if unsigned_with_intercept else 0.0
    stored = (values.astype(np.float64) - intercept) / slope
    stored_dtype = np.uint16 if unsigned_with_intercept else np.int16
    stored_values = np.rint(stored).astype(stored_dtype)
    sop_class = EnhancedCTImageStorage if enhanced else CTImageStorage
    paths: list[Path] = []

    def finish(ds: Dataset, arr: npt.NDArray[np.generic], path: Path) -> None:
        ds.BitsStored = bits_stored
        ds.HighBit = bits_stored - 1
        ds.PixelRepresentation = 0 if unsigned_with_intercept else 1
        if transfer_syntax in (ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian):
            ds.PixelData = arr.tobytes()
            ds["PixelData"].VR = "OW"
        else:
            ds.PixelData = arr.tobytes()
            ds["PixelData"].VR = "OW"
            ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
            kwargs: dict[str, object] = {"encoding_plugin": encoding_plugin} if encoding_plugin else {}
            ds.compress(transfer_syntax, arr, **kwargs, **(encoding_kwargs or {}))
        ds.save_as(path, enforce_file_format=True, implicit_vr=None)
        paths.append(path)

    if enhanced:
        ds = _base(series_uid, study_uid, frame_uid, sop_class, transfer_syntax, rows, columns, patient)
        ds.SOPInstanceUID = sop_uids[0]
        ds.InstanceNumber = 1
        ds.NumberOfFrames = len(keep)
        shared = Dataset()
        measures = Dataset()
        measures.PixelSpacing = list(pixel_spacing)
        measures.SliceThickness = slice_spacing
        plane = Dataset()
        plane.ImageOrientationPatient = list(orientation)
        transform = Dataset()
        transform.RescaleSlope = slope
        transform.RescaleIntercept = intercept
        transform.RescaleType = "HU"
        shared.PixelMeasuresSequence = DicomSequence([measures])
        shared.PlaneOrientationSequence = DicomSequence([plane])
        shared.PixelValueTransformationSequence = DicomSequence([transform])
        ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
        order = keep[::-1] if file_order == "reversed" else keep  # frames stored in reverse order
        frames = []
        for k in order:
            item = Dataset()
            pos = Dataset()
            pos.ImagePositionPatient = [float(v) for v in positions[k]]
            item.PlanePositionSequence = DicomSequence([pos])
            frames.append(item)
        ds.PerFrameFunctionalGroupsSequence = DicomSequence(frames)
        finish(ds, np.ascontiguousarray(stored_values[order]), folder / "enhanced.dcm")
        sop_list = [sop_uids[0]] * len(keep)
    else:
        order = list(keep)
        if file_order == "reversed":
            order = order[::-1]
        elif file_order == "shuffled":
            order = list(np.random.default_rng(seed).permutation(order))
        for number, k in enumerate(order):
            ds = _base(series_uid, study_uid, frame_uid, sop_class, transfer_syntax, rows, columns, patient)
            ds.SOPInstanceUID = sop_uids[k]
            ds.InstanceNumber = number + 1  # deliberately not the anatomical order
            ds.ImagePositionPatient = [float(v) for v in positions[k]]
            ds.ImageOrientationPatient = list(orientation)
            ds.PixelSpacing = list(pixel_spacing)
            ds.SliceThickness = slice_spacing
            ds.RescaleSlope = slope
            ds.RescaleIntercept = intercept
            if tilt_deg:
                ds.GantryDetectorTilt = tilt_deg
            finish(ds, stored_values[k], folder / f"IM{number:04d}.dcm")
            if k in set(duplicate):
                finish(ds, stored_values[k], folder / f"IM{number:04d}_copy.dcm")
        sop_list = [sop_uids[k] for k in keep]
    # expected, sorted along the normal (offsets may be given unsorted)
    kept_offsets = offs[keep]
    sort = np.argsort(kept_offsets, kind="stable")
    expected = (stored_values[keep].astype(np.float64) * slope + intercept)[sort]
    return WrittenSeries(
        paths=paths,
        hu=expected.astype(np.int16) if float(slope).is_integer() else expected,  # type: ignore[arg-type]
        positions=positions[keep][sort],
        series_uid=series_uid,
        study_uid=study_uid,
        sop_uids=[sop_list[i] for i in sort],
    )
