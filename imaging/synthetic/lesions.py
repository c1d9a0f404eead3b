"""Build each planned lesion's continuous reference shape (random, lobulated, oriented) from the subject's seed."""

from __future__ import annotations

import math

import numpy as np

from imaging.synthetic.courses import LesionPlan
from imaging.synthetic.shapes import LesionShape, Lobe, random_harmonics, random_rotation

#: Mean semi-axis (mm) of a reference shape before it is scaled to the scripted diameter.
_REFERENCE_RADIUS_MM = 10.0


def _rotation_about(axis: np.ndarray, angle: float) -> np.ndarray:
    a = axis / np.linalg.norm(axis)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.asarray(np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * (k @ k), dtype=np.float64)


def _frame_with_z(normal: np.ndarray, spin: float) -> np.ndarray:
    """A rotation whose third column is ``normal`` (unit), turned by ``spin`` about it."""
    n = normal / np.linalg.norm(normal)
    helper = np.array([1.0, 0.0, 0.0]) if abs(n[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(helper, n)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(n, e1)
    frame = np.stack([e1, e2, n], axis=1)
    return np.asarray(_rotation_about(n, spin) @ frame)


def _as_tuple(m: np.ndarray) -> tuple[tuple[float, float, float], ...]:
    return tuple((float(r[0]), float(r[1]), float(r[2])) for r in m)


def reference_shape(plan: LesionPlan, rng: np.random.Generator) -> LesionShape:
    """The lesion at its reference size (about 20 mm; bone lesions at ``size_mm``), centred at ``plan.centre``."""
    base = plan.size_mm / 2.0 if plan.size_mm else _REFERENCE_RADIUS_MM
    px, py, pz = (base * p * float(rng.uniform(0.93, 1.07)) for p in plan.proportions)
    semi = (px, py, pz)
    if plan.orientation == "craniocaudal":
        tilt_axis = np.array([math.cos(a := rng.uniform(0, 2 * math.pi)), math.sin(a), 0.0])
        tilted = _rotation_about(tilt_axis, math.radians(rng.uniform(0.0, 18.0))) @ np.array([0.0, 0.0, 1.0])
        rotation = _as_tuple(_frame_with_z(tilted, rng.uniform(0, 2 * math.pi)))
    elif plan.orientation == "wall":
        rotation = _as_tuple(_frame_with_z(np.asarray(plan.wall_normal), rng.uniform(0, 2 * math.pi)))
    else:
        rotation = random_rotation(rng)
    lobes = [Lobe((0.0, 0.0, 0.0), semi, random_harmonics(rng, plan.roughness), float(rng.uniform(-0.05, 0.05)))]
    for _ in range(plan.extra_lobes):
        d = rng.normal(size=3)
        d /= np.linalg.norm(d)
        if plan.orientation == "wall":
            d[2] *= 0.3  # lobes of a wall mass spread along the wall
        mean = float(np.mean(semi))
        offset = d * mean * rng.uniform(0.45, 0.62)
        lx, ly, lz = (mean * float(rng.uniform(0.45, 0.62)) for _ in range(3))
        lobe_semi = (lx, ly, lz)
        lobes.append(Lobe((float(offset[0]), float(offset[1]), float(offset[2])), lobe_semi,
                          random_harmonics(rng, plan.roughness / 2)))
    return LesionShape(centre=plan.centre, rotation=rotation, lobes=tuple(lobes))
