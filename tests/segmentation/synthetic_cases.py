"""Small synthetic cases for the segmentation tests: in-memory Volumes and a DICOM series written to disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from imaging.volume import SeriesInfo, Volume
from segmentation.training.synthetic import LesionPatch, make_patch, patch_volume


def liver_lesion(seed: int = 7, diameter_mm: float = 22.0) -> tuple[LesionPatch, Volume]:
    """A clearly visible hypodense liver lesion, 2.5 mm slices, 0.8 mm pixels, about 90 mm across."""
    rng = np.random.default_rng(seed)
    patch = make_patch(rng, spacing=(2.5, 0.8, 0.8), diameter_mm=diameter_mm, background="liver", extent_mm=90.0)
    return patch, patch_volume(patch)


def lesion_touching_same_density_organ(noise_hu: float = 12.0) -> Volume:
    """A 55 HU nodule in fat, pressed against a 50 HU muscle wall: no boundary between them (ambiguous)."""
    rng = np.random.default_rng(3)
    spacing = (2.5, 0.8, 0.8)
    shape = (40, 140, 140)
    zz, yy, xx = np.meshgrid(*[np.arange(n) * s for n, s in zip(shape, spacing, strict=True)], indexing="ij")
    image = np.full(shape, -100.0)
    image[xx > 60.0] = 50.0  # the muscle wall
    centre = np.array([50.0, 56.0, 52.0])
    r = np.sqrt((zz - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2)
    image[r < 10.0] = 55.0
    image += rng.normal(0, noise_hu, size=shape)
    uids = tuple(f"1.2.3.4.{k}" for k in range(40))
    info = SeriesInfo(study_uid="1.2.3", series_uid="1.2.3.4", sop_instance_uids=uids)
    return Volume(np.rint(image).astype(np.int16), spacing, np.zeros(3), np.eye(3), info)


def write_ct_series(folder: Path, volume: Volume) -> list[Path]:
    """Uncompressed CT Image Storage files of an axial Volume (identity orientation in LPS: rows +y, columns +x)."""
    folder.mkdir(parents=True, exist_ok=True)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    paths = []
    for k in range(volume.shape[0]):
        ds = Dataset()
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta = meta
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality = "CT"
        ds.PatientID = "SEG-TEST"
        ds.PatientName = "Test^Segmentation"
        ds.StudyDate = "20260101"
        ds.SeriesNumber = 2
        ds.InstanceNumber = k + 1
        x, y, z = volume.voxel_to_patient((k, 0, 0))
        ds.ImagePositionPatient = [f"{x:.4f}", f"{y:.4f}", f"{z:.4f}"]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [f"{volume.spacing[1]:.6g}", f"{volume.spacing[2]:.6g}"]
        ds.SliceThickness = f"{volume.spacing[0]:.6g}"
        ds.Rows, ds.Columns = volume.shape[1], volume.shape[2]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = 0, 1
        ds.PixelData = np.ascontiguousarray(volume.array[k].astype(np.int16)).tobytes()
        path = folder / f"IM{k + 1:04d}.dcm"
        pydicom.dcmwrite(path, ds, enforce_file_format=True)
        paths.append(path)
    return paths


def lung_nodule(seed: int, diameter_mm: float = 20.0) -> tuple[LesionPatch, Volume]:
    """A solid lung nodule (high contrast), 2.5 mm slices, 0.8 mm pixels, about 90 mm across."""
    rng = np.random.default_rng(seed)
    patch = make_patch(rng, spacing=(2.5, 0.8, 0.8), diameter_mm=diameter_mm, background="lung", extent_mm=90.0)
    return patch, patch_volume(patch)
