"""The one voxel <-> patient-mm mapping (imaging/volume.py)."""

from __future__ import annotations

import numpy as np
import pytest

from imaging.volume import SeriesInfo, Volume


def _volume(direction: np.ndarray, offsets: list[float] | None = None) -> Volume:
    n = 5 if offsets is None else len(offsets)
    return Volume(
        array=np.zeros((n, 4, 6), dtype=np.int16),
        spacing=(2.5, 0.7, 0.8),
        origin=np.array([-100.0, -50.0, 20.0]),
        direction=direction,
        info=SeriesInfo(study_uid="1.2", series_uid="1.2.3"),
        slice_offsets_mm=None if offsets is None else np.array(offsets),
    )


def test_axial_mapping_follows_dicom_conventions() -> None:
    # Axial, feet-first-like normal +z: columns along +x (IOP[0:3]), rows along +y (IOP[3:6]).
    vol = _volume(np.column_stack([[0, 0, 1], [0, 1, 0], [1, 0, 0]]).astype(float))
    p = vol.voxel_to_patient((2, 3, 5))
    assert p == pytest.approx([-100 + 5 * 0.8, -50 + 3 * 0.7, 20 + 2 * 2.5])
    assert vol.patient_to_voxel(p) == pytest.approx([2, 3, 5])
    assert vol.slice_position_mm(2) == pytest.approx(25.0)


def test_round_trip_for_an_oblique_orientation_and_many_points() -> None:
    angle = np.deg2rad(17)
    row = np.array([np.cos(angle), np.sin(angle), 0.0])
    col = np.array([-np.sin(angle), np.cos(angle), 0.0])
    vol = _volume(np.column_stack([np.cross(row, col), col, row]))
    kji = np.random.default_rng(0).uniform(-2, 8, size=(50, 3))
    assert vol.patient_to_voxel(vol.voxel_to_patient(kji)) == pytest.approx(kji)
    # In-plane distances are exact in mm whatever the orientation.
    a, b = vol.voxel_to_patient([(1, 0, 0), (1, 3, 4)])
    assert np.linalg.norm(b - a) == pytest.approx(np.hypot(3 * 0.7, 4 * 0.8))


def test_uneven_slice_spacing_is_kept_exactly() -> None:
    vol = _volume(np.eye(3), offsets=[0.0, 2.5, 5.0, 10.0, 12.5])
    assert vol.voxel_to_patient((3, 0, 0))[0] == pytest.approx(-100 + 10.0)
    assert vol.patient_to_voxel((-100 + 7.5, -50, 20))[0] == pytest.approx(2.5)
    assert vol.patient_to_voxel((-100 + 15.0, -50, 20))[0] == pytest.approx(5.0)


def test_a_volume_needs_three_dimensions_and_one_offset_per_slice() -> None:
    with pytest.raises(ValueError, match="3-D"):
        Volume(np.zeros((4, 4)), (1, 1, 1), np.zeros(3), np.eye(3), SeriesInfo("1", "2"))
    with pytest.raises(ValueError, match="one offset per slice"):
        Volume(np.zeros((3, 2, 2)), (1, 1, 1), np.zeros(3), np.eye(3), SeriesInfo("1", "2"),
               slice_offsets_mm=np.zeros(2))
