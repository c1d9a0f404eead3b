"""Primitive solids for the synthetic anatomy, each with an exact inside test and a bounding box.

Coordinates are anatomical millimetres in the LPS convention (x to the patient's left, y posterior, z towards the
head), before the patient is placed on the table. A solid is painted with one tissue, optionally only over voxels
already holding certain tissues (``only_within``: vessels inside the lung, the lumen inside the oesophagus wall).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from imaging.synthetic.shapes import LesionShape

BoolArray = npt.NDArray[np.bool_]
Arr = npt.NDArray[np.float64]
Clip = Callable[[Arr, Arr, Arr], BoolArray]
INF = 1e9


@dataclass(frozen=True)
class Solid:
    """Base: a region painted with ``tissue``; ``clip`` further restricts it (e.g. below the diaphragm)."""

    tissue: str
    clip: Clip | None = field(default=None, kw_only=True, compare=False)
    only_within: frozenset[str] = field(default=frozenset(), kw_only=True)

    def bounds(self) -> tuple[Arr, Arr]:  # pragma: no cover - every solid overrides it
        raise NotImplementedError

    def bounds_at(self, z: float) -> tuple[float, float, float, float] | None:
        """(x_min, y_min, x_max, y_max) of the section at height z, or None when the plane misses the solid."""
        lo, hi = self.bounds()
        if z < lo[2] or z > hi[2]:
            return None
        return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])

    def _inside(self, x: Arr, y: Arr, z: Arr) -> BoolArray:  # pragma: no cover
        raise NotImplementedError

    @property
    def z_invariant(self) -> bool:
        """True when the in-plane section is the same at every z it exists (its mask can be reused between slices)."""
        return False

    def inside(self, x: Arr, y: Arr, z: Arr) -> BoolArray:
        m = self._inside(x, y, z)
        if self.clip is not None:
            m &= self.clip(x, y, z)
        return m


@dataclass(frozen=True)
class EllipticCylinder(Solid):
    """A super-elliptic prism along z: ``|dx/ax|^n + |dy/ay|^n <= 1`` for ``z0 <= z <= z1``."""

    cx: float = 0.0
    cy: float = 0.0
    ax: float = 1.0
    ay: float = 1.0
    z0: float = -INF
    z1: float = INF
    exponent: float = 2.0

    @property
    def z_invariant(self) -> bool:
        return self.clip is None

    def bounds(self) -> tuple[Arr, Arr]:
        return np.array([self.cx - self.ax, self.cy - self.ay, self.z0]), np.array(
            [self.cx + self.ax, self.cy + self.ay, self.z1]
        )

    def _inside(self, x: Arr, y: Arr, z: Arr) -> BoolArray:
        n = self.exponent
        if n == 2.0:
            v = ((x - self.cx) / self.ax) ** 2 + ((y - self.cy) / self.ay) ** 2
        else:
            v = np.abs((x - self.cx) / self.ax) ** n + np.abs((y - self.cy) / self.ay) ** n
        return np.asarray((v <= 1.0) & (z >= self.z0) & (z <= self.z1))


@dataclass(frozen=True)
class Ellipsoid(Solid):
    """An ellipsoid with semi-axes ``radii`` along its own axes, turned by ``yaw`` degrees about z."""

    centre: tuple[float, float, float] = (0.0, 0.0, 0.0)
    radii: tuple[float, float, float] = (1.0, 1.0, 1.0)
    yaw: float = 0.0

    def bounds(self) -> tuple[Arr, Arr]:
        r = max(self.radii[0], self.radii[1])
        c = np.asarray(self.centre)
        half = np.array([r, r, self.radii[2]])
        return c - half, c + half

    def bounds_at(self, z: float) -> tuple[float, float, float, float] | None:
        t = (z - self.centre[2]) / self.radii[2]
        if abs(t) > 1.0:
            return None
        r = max(self.radii[0], self.radii[1]) * math.sqrt(1.0 - t * t)
        return self.centre[0] - r, self.centre[1] - r, self.centre[0] + r, self.centre[1] + r

    def _inside(self, x: Arr, y: Arr, z: Arr) -> BoolArray:
        c = self.centre
        dx, dy = x - c[0], y - c[1]
        if self.yaw:
            a = np.deg2rad(self.yaw)
            dx, dy = np.cos(a) * dx + np.sin(a) * dy, -np.sin(a) * dx + np.cos(a) * dy
        v = (dx / self.radii[0]) ** 2 + (dy / self.radii[1]) ** 2 + ((z - c[2]) / self.radii[2]) ** 2
        return np.asarray(v <= 1.0)


@dataclass(frozen=True)
class Capsule(Solid):
    """A tube between two points whose radius tapers linearly from ``r0`` to ``r1`` (vessels, oesophagus)."""

    p0: tuple[float, float, float] = (0.0, 0.0, 0.0)
    p1: tuple[float, float, float] = (0.0, 0.0, 1.0)
    r0: float = 1.0
    r1: float = 1.0

    def bounds(self) -> tuple[Arr, Arr]:
        a, b = np.asarray(self.p0), np.asarray(self.p1)
        r = max(self.r0, self.r1)
        return np.minimum(a, b) - r, np.maximum(a, b) + r

    def bounds_at(self, z: float) -> tuple[float, float, float, float] | None:
        a, b = np.asarray(self.p0), np.asarray(self.p1)
        r = max(self.r0, self.r1)
        dz = b[2] - a[2]
        if abs(dz) < 1e-9:
            t0, t1 = 0.0, 1.0
            if abs(z - a[2]) > r:
                return None
        else:
            ta, tb = sorted(((z - r - a[2]) / dz, (z + r - a[2]) / dz))
            t0, t1 = max(ta, 0.0), min(tb, 1.0)
            if t0 > t1:
                return None
        p, q = a + t0 * (b - a), a + t1 * (b - a)
        return (float(min(p[0], q[0]) - r), float(min(p[1], q[1]) - r),
                float(max(p[0], q[0]) + r), float(max(p[1], q[1]) + r))

    def _inside(self, x: Arr, y: Arr, z: Arr) -> BoolArray:
        a = np.asarray(self.p0)
        d = np.asarray(self.p1) - a
        dd = float(d @ d)
        px, py, pz = x - a[0], y - a[1], z - a[2]
        t = np.clip((px * d[0] + py * d[1] + pz * d[2]) / dd, 0.0, 1.0)
        ex, ey, ez = px - t * d[0], py - t * d[1], pz - t * d[2]
        r = self.r0 + t * (self.r1 - self.r0)
        return np.asarray(ex * ex + ey * ey + ez * ez <= r * r)


@dataclass(frozen=True)
class Rib(Solid):
    """A rib: a tube of elliptic section following an ellipse around the chest and sloping down anteriorly.

    ``angle`` is measured from the posterior midline (0) towards the patient's left (+) or right (-), in radians.
    """

    cx: float = 0.0
    cy: float = 0.0
    ax: float = 1.0
    ay: float = 1.0
    z_posterior: float = 0.0
    drop: float = 40.0
    angle_from: float = 0.3
    angle_to: float = 2.4
    side: int = 1
    half_thickness: float = 4.5
    half_height: float = 6.5

    def bounds(self) -> tuple[Arr, Arr]:
        return (
            np.array([self.cx - self.ax - 10, self.cy - self.ay - 10, self.z_posterior - self.drop - 10]),
            np.array([self.cx + self.ax + 10, self.cy + self.ay + 10, self.z_posterior + 10]),
        )

    def bounds_at(self, z: float) -> tuple[float, float, float, float] | None:
        # z_rib falls monotonically with the angle: the section at z is the arc where |z - z_rib| <= half_height.
        def angle(zr: float) -> float:
            frac = min(max((self.z_posterior - zr) / self.drop, 0.0), 1.0)
            return float(math.pi * frac ** (1.0 / 1.3))

        a0 = max(angle(z + self.half_height), self.angle_from)
        a1 = min(angle(z - self.half_height), self.angle_to)
        if a0 > a1:
            return None
        th = np.linspace(a0, a1, 16)
        xs = self.cx + self.side * self.ax * np.sin(th)
        ys = self.cy + self.ay * np.cos(th)
        m = self.half_thickness + 2.0
        return float(xs.min() - m), float(ys.min() - m), float(xs.max() + m), float(ys.max() + m)

    def _inside(self, x: Arr, y: Arr, z: Arr) -> BoolArray:
        dx, dy = (x - self.cx) / self.ax, (y - self.cy) / self.ay
        theta = np.arctan2(self.side * dx, dy)  # 0 at the back, +pi/2 at the side, pi at the front
        rnorm = np.sqrt(dx * dx + dy * dy)
        radial = (rnorm - 1.0) * np.sqrt((self.ax * np.sin(theta)) ** 2 + (self.ay * np.cos(theta)) ** 2)
        frac = np.clip(theta / np.pi, 0.0, 1.0)
        z_rib = self.z_posterior - self.drop * frac**1.3
        v = (radial / self.half_thickness) ** 2 + ((z - z_rib) / self.half_height) ** 2
        return np.asarray((v <= 1.0) & (theta >= self.angle_from) & (theta <= self.angle_to))


@dataclass(frozen=True)
class LesionSolid(Solid):
    """A lesion: the continuous `LesionShape`, inside where its level is <= ``threshold`` (< 1 for a necrotic core)."""

    shape: LesionShape | None = None
    threshold: float = 1.0

    def bounds(self) -> tuple[Arr, Arr]:
        assert self.shape is not None
        c = np.asarray(self.shape.centre)
        r = self.shape.bounding_radius()
        return c - r, c + r

    def bounds_at(self, z: float) -> tuple[float, float, float, float] | None:
        assert self.shape is not None
        c = self.shape.centre
        r2 = self.shape.bounding_radius() ** 2 - (z - c[2]) ** 2
        if r2 < 0:
            return None
        r = math.sqrt(r2)
        return c[0] - r, c[1] - r, c[0] + r, c[1] + r

    def _inside(self, x: Arr, y: Arr, z: Arr) -> BoolArray:
        assert self.shape is not None
        pts = np.stack([x, y, z], axis=-1)
        return np.asarray(self.shape.level(pts) <= self.threshold)
