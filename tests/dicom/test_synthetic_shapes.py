"""True RECIST axes of the synthetic lesions, checked against fine rasters of the same continuous shapes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import ConvexHull

from imaging.synthetic.axes import axial_axes, long_axis_on_plane
from imaging.synthetic.courses import SUBJECTS
from imaging.synthetic.lesions import reference_shape
from imaging.synthetic.shapes import Harmonic, LesionShape, Lobe, random_rotation

IDENTITY = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
STEP = 0.04  # mm, raster pitch of the reference measurements


def _raster(shape: LesionShape, z: float, step: float = STEP) -> tuple[np.ndarray, np.ndarray]:
    """Centres (N, 2) of the raster pixels inside the section at z."""
    c = np.asarray(shape.centre)
    r = shape.bounding_radius()
    axis = np.arange(-r, r + step, step)
    gx, gy = np.meshgrid(c[0] + axis, c[1] + axis, indexing="xy")
    inside = shape.inside(np.stack([gx, gy, np.full_like(gx, z)], axis=-1))
    return np.stack([gx[inside], gy[inside]], axis=1), inside


def _raster_feret(shape: LesionShape, z: float) -> float:
    pts, _ = _raster(shape, z)
    if len(pts) < 3:
        return 0.0
    hull = pts[ConvexHull(pts).vertices]
    d = np.sqrt(((hull[:, None, :] - hull[None, :, :]) ** 2).sum(-1))
    return float(d.max())


def _longest_perpendicular_run(shape: LesionShape, z: float, a: np.ndarray, b: np.ndarray) -> float:
    """Longest inside run along lines perpendicular to a-b, sampled every 0.02 mm (brute force)."""
    along = (b - a) / np.linalg.norm(b - a)
    across = np.array([-along[1], along[0]])
    r = shape.bounding_radius()
    ts = np.arange(0.0, np.linalg.norm(b - a), 0.05)
    vs = np.arange(-2 * r, 2 * r, 0.02)
    best = 0.0
    for chunk in np.array_split(ts, max(1, len(ts) // 100)):
        xy = a + chunk[:, None, None] * along + vs[None, :, None] * across
        inside = shape.inside(np.concatenate([xy, np.full((*xy.shape[:-1], 1), z)], axis=-1))
        padded = np.pad(inside, ((0, 0), (1, 1)))
        for row in padded:
            edges = np.flatnonzero(np.diff(row.astype(np.int8)))
            if edges.size:
                best = max(best, float((edges[1::2] - edges[0::2]).max()) * 0.02)
    return best


def test_axis_aligned_ellipsoid_has_its_textbook_axes() -> None:
    shape = LesionShape((10.0, -5.0, 3.0), IDENTITY, (Lobe((0.0, 0.0, 0.0), (20.0, 10.0, 5.0)),))
    ax = axial_axes(shape)
    assert ax.long_mm == pytest.approx(40.0, abs=1e-3)
    assert ax.short_mm == pytest.approx(20.0, abs=1e-3)
    assert ax.z_mm == pytest.approx(3.0, abs=1e-3)
    assert {round(p[0], 3) for p in ax.long_endpoints} == {-10.0, 30.0}


def test_ellipsoid_turned_about_z_keeps_its_axes() -> None:
    c, s = np.cos(0.7), np.sin(0.7)
    rot = ((c, -s, 0.0), (s, c, 0.0), (0.0, 0.0, 1.0))
    shape = LesionShape((0.0, 0.0, 0.0), rot, (Lobe((0.0, 0.0, 0.0), (12.0, 7.0, 9.0)),))
    ax = axial_axes(shape)
    assert (ax.long_mm, ax.short_mm) == (pytest.approx(24.0, abs=1e-3), pytest.approx(14.0, abs=1e-3))
    d = np.subtract(ax.long_endpoints[1], ax.long_endpoints[0])[:2]
    assert abs(abs(np.dot(d / np.linalg.norm(d), [c, s])) - 1.0) < 1e-5


def _trial_shapes() -> list[tuple[str, LesionShape, bool]]:
    out = []
    for subject in SUBJECTS[:2]:
        for n, plan in enumerate(subject.lesions):
            if plan.recorded_mm is not None:
                out.append((f"{subject.subject_id}/{plan.id}", reference_shape(plan, np.random.default_rng(n)),
                            plan.node))
    return out


@pytest.mark.parametrize(("name", "shape", "node"), _trial_shapes()[:4], ids=[t[0] for t in _trial_shapes()[:4]])
def test_true_axes_agree_with_a_fine_raster(name: str, shape: LesionShape, node: bool) -> None:
    ax = axial_axes(shape)
    assert _raster_feret(shape, ax.z_mm) == pytest.approx(ax.long_mm, abs=2 * STEP)
    a, b = np.asarray(ax.long_endpoints[0][:2]), np.asarray(ax.long_endpoints[1][:2])
    assert _longest_perpendicular_run(shape, ax.z_mm, a, b) == pytest.approx(ax.short_mm, abs=0.06)
    # The end points lie on the outline, and the short axis is perpendicular to the long one.
    for p in (*ax.long_endpoints, *ax.short_endpoints):
        assert shape.level(np.asarray(p)) == pytest.approx(1.0, abs=1e-4)
    d_long = np.subtract(ax.long_endpoints[1], ax.long_endpoints[0])
    d_short = np.subtract(ax.short_endpoints[1], ax.short_endpoints[0])
    assert abs(np.dot(d_long, d_short)) / (np.linalg.norm(d_long) * np.linalg.norm(d_short)) < 1e-3
    # No other axial plane has a longer long axis.
    for dz in (-4.0, -2.0, -1.0, -0.5, 0.5, 1.0, 2.0, 4.0):
        assert long_axis_on_plane(shape, ax.z_mm + dz)[0] <= ax.long_mm + 0.01, f"{name}: plane {dz:+} mm is longer"


def test_scaling_about_the_centre_scales_every_axis() -> None:
    rng = np.random.default_rng(5)
    lobes = (Lobe((0.0, 0.0, 0.0), (9.0, 7.0, 6.0), (Harmonic(3, 0.1, 0.4), Harmonic(2, 0.05, 1.0)), 0.03),
             Lobe((5.0, 2.0, 1.0), (4.0, 4.0, 3.5)))
    shape = LesionShape((3.0, 4.0, -20.0), random_rotation(rng), lobes)
    ref = axial_axes(shape)
    grown = axial_axes(shape.scaled(1.6))
    predicted = ref.scaled_about(shape.centre, 1.6, (0.0, 0.0, 0.0))
    assert grown.long_mm == pytest.approx(predicted.long_mm, rel=1e-4)
    assert grown.short_mm == pytest.approx(predicted.short_mm, rel=2e-3)
    assert grown.z_mm == pytest.approx(predicted.z_mm, abs=0.05)
    moved = shape.moved((1.0, -2.0, 3.0))
    assert moved.level(np.add(ref.long_endpoints[0], (1.0, -2.0, 3.0))) == pytest.approx(1.0, abs=1e-4)


def test_impossible_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="rotation"):
        LesionShape((0.0, 0.0, 0.0), ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, -1.0)),
                    (Lobe((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),))
    with pytest.raises(ValueError, match="star-shaped"):
        LesionShape((0.0, 0.0, 0.0), IDENTITY, (Lobe((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), (Harmonic(2, 0.5, 0.0),)),))
    with pytest.raises(ValueError, match="at least one lobe"):
        LesionShape((0.0, 0.0, 0.0), IDENTITY, ())
