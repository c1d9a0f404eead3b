"""RECIST diameter geometry against analytic shapes (ellipses at any rotation, anisotropic pixels)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from imaging.volume import SeriesInfo, Volume
from segmentation.base import SegmentationError
from segmentation.diameters import convex_hull, recist_axes


def make_volume(shape, spacing, direction=None, origin=(0.0, 0.0, 0.0)) -> Volume:
    info = SeriesInfo(
        study_uid="1.2.3",
        series_uid="1.2.3.4",
        sop_instance_uids=tuple(f"1.2.3.4.{k}" for k in range(shape[0])),
    )
    return Volume(
        array=np.zeros(shape, dtype=np.int16),
        spacing=spacing,
        origin=np.asarray(origin, dtype=float),
        direction=np.eye(3) if direction is None else direction,
        info=info,
    )


def ellipse_mask(a_mm, b_mm, theta, row_mm, col_mm, centre_shift=(0.3, -0.2)):
    """Pixels whose centre lies inside an ellipse (semi-axes a, b; major axis at angle theta from the column axis)."""
    half = a_mm * 1.1
    nr, nc = int(2 * half / row_mm) + 3, int(2 * half / col_mm) + 3
    y = (np.arange(nr) - nr / 2) * row_mm - centre_shift[0]
    x = (np.arange(nc) - nc / 2) * col_mm - centre_shift[1]
    yy, xx = np.meshgrid(y, x, indexing="ij")
    c, s = math.cos(theta), math.sin(theta)
    u = xx * c + yy * s
    v = -xx * s + yy * c
    return (u / a_mm) ** 2 + (v / b_mm) ** 2 <= 1.0


@pytest.mark.parametrize("theta_deg", [0.0, 17.0, 45.0, 73.5, 90.0, 131.0])
@pytest.mark.parametrize("spacing", [(0.02, 0.02), (0.02, 0.05), (0.045, 0.015)])
def test_ellipse_axes_within_a_tenth_of_a_mm(theta_deg, spacing):
    a, b = 12.0, 7.0
    m2 = ellipse_mask(a, b, math.radians(theta_deg), *spacing)
    vol = make_volume((1, *m2.shape), (2.5, *spacing))
    axes = recist_axes(m2[None], vol)
    assert axes.long_axis_mm == pytest.approx(2 * a, abs=0.1)
    assert axes.short_axis_mm == pytest.approx(2 * b, abs=0.1)


def test_end_points_in_patient_mm_follow_the_volume_geometry():
    theta = math.radians(30.0)
    row_mm, col_mm = 0.05, 0.08
    m2 = ellipse_mask(10.0, 4.0, theta, row_mm, col_mm)
    # An oblique, rotated acquisition: columns along the rotated x axis, rows along the rotated y axis.
    r = math.radians(20.0)
    col_dir = np.array([math.cos(r), math.sin(r), 0.0])
    row_dir = np.array([-math.sin(r), math.cos(r), 0.0])
    normal = np.cross(col_dir, row_dir)
    direction = np.stack([normal, row_dir, col_dir], axis=1)
    vol = make_volume((3, *m2.shape), (2.0, row_mm, col_mm), direction, origin=(-100.0, 50.0, 30.0))
    mask = np.zeros(vol.shape, dtype=bool)
    mask[1] = m2
    axes = recist_axes(mask[1:2], vol, offset=(1, 0, 0))
    assert axes.slice_index == 1
    assert axes.sop_instance_uid == "1.2.3.4.1"
    assert axes.slice_position_mm == pytest.approx(vol.slice_position_mm(1))
    p, q = (np.array(e) for e in axes.long_axis_endpoints)
    s0, s1 = (np.array(e) for e in axes.short_axis_endpoints)
    assert np.linalg.norm(q - p) == pytest.approx(axes.long_axis_mm, abs=1e-6)
    assert np.linalg.norm(s1 - s0) == pytest.approx(axes.short_axis_mm, abs=1e-6)
    # All end points lie on the measurement slice's plane.
    for e in (p, q, s0, s1):
        assert float(np.dot(e, normal)) == pytest.approx(axes.slice_position_mm, abs=1e-6)
    # Exactly perpendicular; long axis along the ellipse's major axis (theta in the image, + r in patient space).
    assert abs(float(np.dot(q - p, s1 - s0))) < 1e-6
    expected = math.cos(theta) * col_dir + math.sin(theta) * row_dir
    assert abs(float(np.dot((q - p) / np.linalg.norm(q - p), expected))) == pytest.approx(1.0, abs=1e-4)


def ellipsoid_mask(a, b, c, spacing, shift=(0.0, 0.0, 0.0)):
    sk, sr, sc = spacing
    nk, nr, nc = (int(2.4 * r / s) + 3 for r, s in ((c, sk), (b, sr), (a, sc)))
    z = (np.arange(nk) - nk // 2) * sk - shift[0]
    y = (np.arange(nr) - nr // 2) * sr - shift[1]
    x = (np.arange(nc) - nc // 2) * sc - shift[2]
    zz, yy, xx = np.meshgrid(z, y, x, indexing="ij")
    return (xx / a) ** 2 + (yy / b) ** 2 + (zz / c) ** 2 <= 1.0


def test_measurement_slice_is_where_the_long_axis_is_longest_and_volume_matches():
    spacing = (1.0, 0.2, 0.2)
    m = ellipsoid_mask(15.0, 8.0, 10.0, spacing)
    vol = make_volume(m.shape, spacing)
    axes = recist_axes(m, vol)
    assert axes.slice_index == m.shape[0] // 2  # the equator (z = 0)
    assert axes.long_axis_mm == pytest.approx(30.0, abs=0.3)
    assert axes.short_axis_mm == pytest.approx(16.0, abs=0.3)
    assert axes.volume_ml == pytest.approx(4 / 3 * math.pi * 15 * 8 * 10 / 1000, rel=0.02)


def test_lymph_node_is_measured_where_the_short_axis_is_longest():
    spacing = (1.0, 0.25, 0.25)
    long_thin = ellipse_mask(18.0, 4.0, 0.0, 0.25, 0.25)  # long but thin
    short_thick = ellipse_mask(12.0, 9.0, 0.0, 0.25, 0.25)  # shorter but thicker
    mask = np.zeros((3, *long_thin.shape), dtype=bool)
    mask[0] = long_thin
    r, c = short_thick.shape
    mask[2, :r, :c] = short_thick
    vol = make_volume(mask.shape, spacing)
    assert recist_axes(mask, vol).slice_index == 0
    node = recist_axes(mask, vol, is_node=True)
    assert node.slice_index == 2
    assert node.short_axis_mm == pytest.approx(18.0, abs=0.5)


def test_single_pixel_and_irregular_masks():
    vol = make_volume((1, 5, 5), (1.0, 0.7, 0.9))
    m = np.zeros((1, 5, 5), dtype=bool)
    m[0, 2, 2] = True
    axes = recist_axes(m, vol)
    assert axes.long_axis_mm == pytest.approx(math.hypot(0.7, 0.9))
    # Through the centre, perpendicular to the diagonal, the chord meets the long sides: 0.7 * diagonal / 0.9.
    assert axes.short_axis_mm == pytest.approx(0.7 * math.hypot(0.7, 0.9) / 0.9, abs=1e-9)
    # An L shape: the longest diameter joins the two outer corners of the arms.
    m = np.zeros((1, 5, 5), dtype=bool)
    m[0, :, 0] = True
    m[0, 4, :] = True
    axes = recist_axes(m, make_volume((1, 5, 5), (1.0, 1.0, 1.0)))
    assert axes.long_axis_mm == pytest.approx(math.hypot(5, 5))


def test_empty_mask_is_a_clear_error():
    with pytest.raises(SegmentationError, match="empty"):
        recist_axes(np.zeros((2, 3, 3), dtype=bool), make_volume((2, 3, 3), (1.0, 1.0, 1.0)))


def test_convex_hull_drops_interior_and_collinear_points():
    pts = np.array([[0, 0], [2, 0], [1, 0], [2, 2], [0, 2], [1, 1]], dtype=float)
    hull = convex_hull(pts)
    assert sorted(map(tuple, hull)) == [(0, 0), (0, 2), (2, 0), (2, 2)]


def _measured_everywhere(mask, volume, is_node):
    """recist_axes's choice with every slice measured (no pruning): the slice with the largest axis, then area."""
    from segmentation.diameters import slice_axes

    row_mm, col_mm = volume.spacing[1], volume.spacing[2]
    best = None
    for k in range(mask.shape[0]):
        if not mask[k].any():
            continue
        a = slice_axes(mask[k], row_mm, col_mm)
        key = (round(a.short_mm if is_node else a.long_mm, 9), a.area_px, -k)
        if best is None or key > best[0]:
            best = (key, k, a)
    return best


@pytest.mark.parametrize("is_node", [False, True])
def test_slices_skipped_by_the_diameter_bound_could_never_win(is_node):
    """Slices are measured in order of a bound of their diameter and the rest skipped: the result must be the one
    measuring every slice gives, on blobs, thin lines and single pixels at anisotropic spacing."""
    from segmentation.diameters import _slice_diameter_bounds_mm, slice_axes

    rng = np.random.default_rng(20261127)
    for trial in range(40):
        shape = (int(rng.integers(1, 9)), int(rng.integers(3, 30)), int(rng.integers(3, 30)))
        spacing = (float(rng.uniform(0.5, 5)), float(rng.uniform(0.3, 1.5)), float(rng.uniform(0.3, 1.5)))
        volume = make_volume(shape, spacing)
        mask = rng.random(shape) > rng.uniform(0.3, 0.995)
        mask[rng.integers(shape[0]), rng.integers(shape[1]), rng.integers(shape[2])] = True
        ks = np.flatnonzero(mask.reshape(shape[0], -1).any(axis=1))
        bounds = _slice_diameter_bounds_mm(mask, ks, spacing[1], spacing[2])
        for k, bound in zip(ks, bounds, strict=True):
            assert slice_axes(mask[k], spacing[1], spacing[2]).long_mm <= bound, (trial, k)
        got = recist_axes(mask, volume, is_node=is_node)
        _, k, a = _measured_everywhere(mask, volume, is_node)
        assert got.slice_index == k, trial
        assert (got.long_axis_mm, got.short_axis_mm) == (a.long_mm, a.short_mm), trial
