"""load_series: HU values, slice order along the normal and patient geometry against every slice's header."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imaging import DicomLoadError, Volume, load_series
from tests.dicom.ct_writer import write_ct_series


def assert_geometry_matches(volume: Volume, positions: np.ndarray) -> None:
    """voxel (k, 0, 0) must be ImagePositionPatient of slice k, and in-plane steps follow the orientation."""
    assert volume.shape[0] == len(positions)
    for k, ipp in enumerate(positions):
        np.testing.assert_allclose(volume.voxel_to_patient((k, 0, 0)), ipp, atol=1e-6)
        back = volume.patient_to_voxel(ipp)
        np.testing.assert_allclose(back, (k, 0, 0), atol=1e-6)


@pytest.mark.parametrize("file_order", ["reversed", "shuffled", "sorted"])
def test_slices_sorted_along_normal_whatever_the_file_order(tmp_path: Path, file_order: str) -> None:
    written = write_ct_series(tmp_path, file_order=file_order, seed=3)
    volume = load_series(tmp_path)
    np.testing.assert_array_equal(volume.array, written.hu)
    assert volume.array.dtype == np.int16
    assert_geometry_matches(volume, written.positions)
    assert volume.info.sop_instance_uids == tuple(written.sop_uids)
    assert volume.info.frame_numbers == (1,) * 8
    # InstanceNumber follows the file order here, not the anatomy: each slice keeps its own (a PACS viewer's "image")
    order = {"sorted": list(range(8)), "reversed": list(range(8))[::-1]}.get(
        file_order, [int(k) for k in np.random.default_rng(3).permutation(8)]
    )
    assert volume.info.instance_numbers == tuple(order.index(k) + 1 for k in range(8))
    assert volume.warnings == []


def test_spacing_origin_direction_and_identity(tmp_path: Path) -> None:
    written = write_ct_series(tmp_path, pixel_spacing=(0.68, 0.74), slice_spacing=1.25)
    volume = load_series(tmp_path)
    assert volume.spacing == pytest.approx((1.25, 0.68, 0.74))
    np.testing.assert_allclose(volume.origin, written.positions[0])
    np.testing.assert_allclose(volume.direction, np.eye(3)[:, [2, 1, 0]])  # axial: normal +z, rows +y, columns +x
    np.testing.assert_allclose(volume.slice_offsets_mm, np.arange(8) * 1.25)
    # a pixel one row down and two columns right is 0.68 mm along y and 1.48 mm along x
    np.testing.assert_allclose(
        volume.voxel_to_patient((0, 1, 2)) - volume.voxel_to_patient((0, 0, 0)), [1.48, 0.68, 0], atol=1e-9
    )
    assert volume.info.series_uid == written.series_uid
    assert volume.info.study_uid == written.study_uid
    assert volume.info.modality == "CT"
    assert str(volume.info.study_date) == "2024-01-15"
    assert volume.info.series_number == 3
    assert volume.info.slice_thickness_mm == pytest.approx(1.25)
    assert volume.patient.patient_name == "Doe^Jane"
    assert volume.patient.patient_id == "PAT-001"
    assert volume.patient.accession_number == "ACC123"


def test_oblique_orientation_geometry(tmp_path: Path) -> None:
    c, s = np.cos(np.radians(20)), np.sin(np.radians(20))
    orientation = (c, s, 0.0, 0.0, 0.0, -1.0)  # a rotated coronal plane
    written = write_ct_series(tmp_path, orientation=orientation, slice_spacing=3.0)
    volume = load_series(tmp_path)
    np.testing.assert_array_equal(volume.array, written.hu)
    assert_geometry_matches(volume, written.positions)
    np.testing.assert_allclose(volume.direction.T @ volume.direction, np.eye(3), atol=1e-9)
    np.testing.assert_allclose(volume.direction[:, 2], orientation[:3])
    np.testing.assert_allclose(volume.direction[:, 1], orientation[3:])


def test_implicit_vr_and_signed_storage(tmp_path: Path) -> None:
    written = write_ct_series(
        tmp_path, transfer_syntax="1.2.840.10008.1.2", unsigned_with_intercept=False, bits_stored=16
    )
    volume = load_series(tmp_path)
    np.testing.assert_array_equal(volume.array, written.hu)
    assert volume.array.dtype == np.int16


def test_non_integral_rescale_gives_float_hu(tmp_path: Path) -> None:
    written = write_ct_series(tmp_path, slope=0.5)
    volume = load_series(tmp_path)
    assert volume.array.dtype == np.float32
    np.testing.assert_allclose(volume.array, written.hu, atol=0.5)


def test_garbage_above_bits_stored_is_masked(tmp_path: Path) -> None:
    written = write_ct_series(tmp_path, n=2, bits_stored=12)
    # set bit 13 in every stored value of the first file, as an old overlay would
    import pydicom

    ds = pydicom.dcmread(written.paths[0])
    values = ds.pixel_array.astype(np.uint16) | 0x2000
    ds.PixelData = values.tobytes()
    ds.save_as(written.paths[0])
    volume = load_series(tmp_path)
    np.testing.assert_array_equal(volume.array, written.hu)


def test_enhanced_multiframe_ct(tmp_path: Path) -> None:
    written = write_ct_series(tmp_path, enhanced=True, file_order="reversed")
    volume = load_series(tmp_path / "enhanced.dcm")
    np.testing.assert_array_equal(volume.array, written.hu)
    assert_geometry_matches(volume, written.positions)
    # frames were stored top-down: slice 0 (lowest) is the last frame
    assert volume.info.frame_numbers == tuple(range(8, 0, -1))
    assert len(set(volume.info.sop_instance_uids)) == 1
    assert volume.info.sop_class_uid == "1.2.840.10008.5.1.4.1.1.2.1"


def test_single_file_path_loads_a_one_slice_volume(tmp_path: Path) -> None:
    written = write_ct_series(tmp_path, n=3)
    volume = load_series(written.paths[0])
    assert volume.shape == (1, 32, 40)
    assert volume.spacing[0] == pytest.approx(2.5)  # falls back to the slice thickness


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DicomLoadError, match="no such file or folder"):
        load_series(tmp_path / "nowhere")
    with pytest.raises(DicomLoadError, match="no DICOM image series"):
        load_series(tmp_path)


def test_rounded_positions_of_an_oblique_stack_are_not_a_tilt(tmp_path: Path) -> None:
    import pydicom

    c, s = np.cos(np.radians(17)), np.sin(np.radians(17))
    written = write_ct_series(tmp_path, orientation=(c, s, 0.0, -s, c, 0.0), slice_spacing=1.25, n=12)
    for path in written.paths:  # scanners often write positions to 2 decimals
        ds = pydicom.dcmread(path)
        ds.ImagePositionPatient = [round(float(v), 2) for v in ds.ImagePositionPatient]
        ds.save_as(path)
    volume = load_series(tmp_path)
    assert volume.warnings == []
    for k, ipp in enumerate(written.positions):
        np.testing.assert_allclose(volume.voxel_to_patient((k, 0, 0)), ipp, atol=0.02)


def test_a_half_degree_tilt_is_still_reported(tmp_path: Path) -> None:
    written = write_ct_series(tmp_path, tilt_deg=0.5, n=8)
    volume = load_series(tmp_path)
    assert [w.code for w in volume.warnings] == ["gantry-tilt"]
    assert_geometry_matches(volume, written.positions)


def test_full_16_bit_unsigned_storage_is_exact_or_clipped_with_a_warning(tmp_path: Path) -> None:
    import pydicom

    hu = np.full((3, 32, 40), -1000, dtype=np.int16)
    hu[:, 5, 5] = 31000  # stored 32024: above what a 15-bit reinterpretation could hold
    written = write_ct_series(tmp_path, n=3, bits_stored=16, hu=hu)
    volume = load_series(tmp_path)
    np.testing.assert_array_equal(volume.array, written.hu)
    assert volume.warnings == []
    ds = pydicom.dcmread(written.paths[0])  # reversed order: slice 2
    values = ds.pixel_array.copy()
    values[7, 7] = 65535  # HU 64511: beyond int16
    ds.PixelData = values.tobytes()
    ds.save_as(written.paths[0])
    volume = load_series(tmp_path)
    assert [w.code for w in volume.warnings] == ["hu-clipped"]
    assert "slice 2" in volume.warnings[0].message and volume.warnings[0].where == str(written.paths[0])
    assert volume.array[2, 7, 7] == 32767
    np.testing.assert_array_equal(volume.array[:2], written.hu[:2])
