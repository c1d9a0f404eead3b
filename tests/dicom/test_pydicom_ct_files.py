"""pydicom's real CT test files: values match pydicom's own decoding, geometry matches the header."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from imaging import load_series

CT_FILES = ["CT_small.dcm", "693_J2KI.dcm", "J2K_pixelrep_mismatch.dcm"]


@pytest.mark.parametrize("name", CT_FILES)
def test_real_ct_file_values_and_geometry(name: str) -> None:
    path = get_testdata_file(name)
    ds = pydicom.dcmread(path)
    volume = load_series(path)
    expected = ds.pixel_array.astype(np.float64) * float(ds.get("RescaleSlope", 1)) + float(
        ds.get("RescaleIntercept", 0)
    )
    np.testing.assert_array_equal(volume.array[0], expected)
    assert volume.shape == (1, ds.Rows, ds.Columns)
    if "ImagePositionPatient" in ds:
        np.testing.assert_allclose(volume.voxel_to_patient((0, 0, 0)), [float(v) for v in ds.ImagePositionPatient])
        row_dir = np.array([float(v) for v in ds.ImageOrientationPatient[:3]])
        spacing = [float(v) for v in ds.PixelSpacing]
        np.testing.assert_allclose(
            volume.voxel_to_patient((0, 0, 10)) - volume.voxel_to_patient((0, 0, 0)), 10 * spacing[1] * row_dir
        )
    assert volume.info.sop_instance_uids == (str(ds.SOPInstanceUID),)
    assert volume.patient.patient_id == str(ds.get("PatientID", ""))


def test_ct_small_repeated_as_a_stack(tmp_path: Path) -> None:
    """CT_small written at five positions (shuffled names): a real header, sorted and placed like the writer's."""
    src = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ipp = np.array([float(v) for v in src.ImagePositionPatient])
    iop = np.array([float(v) for v in src.ImageOrientationPatient])
    normal = np.cross(iop[:3], iop[3:])
    for k, name in zip(range(5), ["c", "a", "e", "b", "d"], strict=True):
        ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
        ds.SOPInstanceUID = f"{src.SOPInstanceUID}.{k}"
        ds.ImagePositionPatient = [float(v) for v in ipp + 5.0 * k * normal]
        ds.save_as(tmp_path / f"{name}.dcm")
    volume = load_series(tmp_path)
    assert volume.shape == (5, 128, 128)
    assert volume.spacing[0] == pytest.approx(5.0)
    for k in range(5):
        np.testing.assert_allclose(volume.voxel_to_patient((k, 0, 0)), ipp + 5.0 * k * normal, atol=1e-6)
    assert [uid.rsplit(".", 1)[1] for uid in volume.info.sop_instance_uids] == ["0", "1", "2", "3", "4"]
