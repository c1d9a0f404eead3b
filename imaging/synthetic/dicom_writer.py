"""Write a rendered series as CT Image Storage files, RLE Lossless, with every type 1/2 attribute of the CT IOD."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, CTImageStorage, ExplicitVRLittleEndian, RLELossless

from imaging.cancel import CancelToken, ProgressCallback, report
from imaging.synthetic.identity import (
    INSTITUTION,
    PATIENT_COMMENT,
    PROTOCOL_ID,
    PROTOCOL_NAME,
    SITE_ID,
    SPONSOR,
    FakeIdentity,
)
from imaging.synthetic.render import AIR_HU, SliceGrid

RESCALE_INTERCEPT = -1024


@dataclass(frozen=True)
class SeriesHeader:
    """What differs between series: identity, UIDs, dates and acquisition facts."""

    identity: FakeIdentity
    subject_id: str
    timepoint_label: str
    study_uid: str
    series_uid: str
    frame_of_reference_uid: str
    sop_uids: tuple[str, ...]
    study_date: str  # YYYYMMDD
    study_time: str  # HHMMSS
    accession_number: str
    study_id: str
    series_number: int = 2
    kvp: float = 120.0
    exposure_mas: int = 180
    manufacturer: str = "RECIST workstation synthetic CT"
    model: str = "imaging.synthetic"


def _base_dataset(h: SeriesHeader, grid: SliceGrid) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CTImageStorage
    ds.StudyDate = h.study_date
    ds.SeriesDate = h.study_date
    ds.AcquisitionDate = h.study_date
    ds.ContentDate = h.study_date
    ds.StudyTime = h.study_time
    ds.SeriesTime = h.study_time
    ds.AcquisitionTime = h.study_time
    ds.ContentTime = h.study_time
    ds.AccessionNumber = h.accession_number
    ds.Modality = "CT"
    ds.Manufacturer = h.manufacturer
    ds.InstitutionName = INSTITUTION
    ds.ReferringPhysicianName = h.identity.referring_physician
    ds.StudyDescription = "CT THORAX ABDOMEN WITH CONTRAST"
    ds.SeriesDescription = f"Portal venous {grid.thickness_mm:g} mm"
    ds.ManufacturerModelName = h.model
    ds.PatientName = h.identity.patient_name
    ds.PatientID = h.identity.patient_id
    ds.PatientBirthDate = h.identity.birth_date
    ds.PatientSex = h.identity.sex
    ds.PatientComments = PATIENT_COMMENT
    ds.ClinicalTrialSponsorName = SPONSOR
    ds.ClinicalTrialProtocolID = PROTOCOL_ID
    ds.ClinicalTrialProtocolName = PROTOCOL_NAME
    ds.ClinicalTrialSiteID = SITE_ID
    ds.ClinicalTrialSiteName = INSTITUTION
    ds.ClinicalTrialSubjectID = h.subject_id
    ds.ClinicalTrialTimePointID = h.timepoint_label
    ds.BodyPartExamined = "CHEST"
    ds.ContrastBolusAgent = "IODINATED CONTRAST (PORTAL VENOUS PHASE)"
    ds.ContrastBolusRoute = "IV"
    ds.SliceThickness = f"{grid.thickness_mm:g}"
    ds.KVP = f"{h.kvp:g}"
    ds.DataCollectionDiameter = "500"
    ds.ReconstructionDiameter = f"{grid.columns * grid.pixel_mm:.2f}"
    ds.ConvolutionKernel = "STANDARD"
    ds.PatientPosition = "HFS"
    ds.Exposure = str(h.exposure_mas)
    ds.StudyInstanceUID = h.study_uid
    ds.SeriesInstanceUID = h.series_uid
    ds.StudyID = h.study_id
    ds.SeriesNumber = h.series_number
    ds.AcquisitionNumber = 1
    ds.FrameOfReferenceUID = h.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = grid.rows
    ds.Columns = grid.columns
    ds.PixelSpacing = [f"{grid.pixel_mm:g}", f"{grid.pixel_mm:g}"]
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.WindowCenter = "40"
    ds.WindowWidth = "400"
    ds.RescaleIntercept = str(RESCALE_INTERCEPT)
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    return ds


def write_series(folder: Path, hu: npt.NDArray[np.int16], grid: SliceGrid, header: SeriesHeader, *,
                 progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> list[Path]:
    """One file per slice, ``IM0001.dcm`` ... in head-to-feet order (InstanceNumber = file number).

    Files of an earlier run in ``folder`` (``IM*.dcm``) are removed first, so that a shorter series never keeps stale
    slices of a longer one.
    """
    if hu.shape != (len(grid.slice_z), grid.rows, grid.columns):
        raise ValueError(f"pixel array {hu.shape} does not match the grid")
    if len(header.sop_uids) != hu.shape[0]:
        raise ValueError("one SOP Instance UID per slice is needed")
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("IM*.dcm"):
        old.unlink()
    base = _base_dataset(header, grid)
    stored = (hu.astype(np.int32) - RESCALE_INTERCEPT).clip(0, 4095).astype(np.uint16)
    if int(hu.min()) < AIR_HU:
        raise ValueError("HU below -1024 cannot be stored with intercept -1024")
    paths: list[Path] = []
    for k in range(hu.shape[0]):
        if cancel is not None:
            cancel.raise_if_cancelled()
        ds = base.copy()
        ds.SOPInstanceUID = header.sop_uids[k]
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [f"{grid.x0:.4f}", f"{grid.y0:.4f}", f"{grid.slice_z[k]:.4f}"]
        ds.SliceLocation = f"{grid.slice_z[k]:.4f}"
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        meta.ImplementationVersionName = "RECIST_SYNTH_1"
        ds.file_meta = meta
        ds.PixelData = stored[k].tobytes()
        ds.compress(RLELossless, encoding_plugin="pylibjpeg", generate_instance_uid=False)
        path = folder / f"IM{k + 1:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
        report(progress, k + 1, hu.shape[0], "writing DICOM")
    return paths
