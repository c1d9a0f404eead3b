"""Continuous lesion solids: unions of harmonic-perturbed ellipsoids in a random orientation.

A solid is described by an implicit *level* function of the patient position: ``level(p) <= 1`` is inside. Because it is
continuous, any plane can be cut exactly (see `imaging.synthetic.axes`) and the images are rendered from the same
function, so the truth and the pixels agree.

Growth and shrinkage are scalings about the solid's centre (`LesionShape.scaled`), which multiply every diameter by the
same factor and map axial planes to axial planes: the axes need computing once, on the reference shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: Harmonic amplitudes are capped so that ``1 + perturbation`` stays >= this: every lobe stays star-shaped.
_MIN_RADIUS_FACTOR = 0.6


@dataclass(frozen=True)
class Harmonic:
    """Radius perturbation ``amplitude * Re((u_x + i u_y)^order * e^{-i phase})`` on the lobe's unit sphere."""

    order: int
    amplitude: float
    phase: float


@dataclass(frozen=True)
class Lobe:
    """One ellipsoid of the union, in the shape's local frame (mm, before scaling)."""

    offset: tuple[float, float, float]
    semi_axes: tuple[float, float, float]
    harmonics: tuple[Harmonic, ...] = ()
    #: Amplitude of the polar term ``(3 u_z^2 - 1) / 2`` (elongates or flattens the poles).
    polar: float = 0.0

    def max_radius_factor(self) -> float:
        return 1.0 + sum(abs(h.amplitude) for h in self.harmonics) + abs(self.polar)

    def min_radius_factor(self) -> float:
        return 1.0 - sum(abs(h.amplitude) for h in self.harmonics) - abs(self.polar)


@dataclass(frozen=True)
class LesionShape:
    """A solid lesion: the union of lobes around ``centre`` (patient mm), turned by ``rotation``, scaled by ``scale``.

    ``rotation`` columns are the local x, y, z axes in patient coordinates (a proper rotation).
    """

    centre: tuple[float, float, float]
    rotation: tuple[tuple[float, float, float], ...]
    lobes: tuple[Lobe, ...]
    scale: float = 1.0
    _rot: FloatArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rot = np.asarray(self.rotation, dtype=np.float64)
        if rot.shape != (3, 3) or not np.allclose(rot.T @ rot, np.eye(3), atol=1e-9) or np.linalg.det(rot) < 0:
            raise ValueError("rotation must be a proper 3x3 rotation matrix")
        if not self.lobes:
            raise ValueError("a lesion needs at least one lobe")
        for lobe in self.lobes:
            if lobe.min_radius_factor() < _MIN_RADIUS_FACTOR:
                raise ValueError(f"harmonics too strong for a star-shaped lobe: {lobe}")
        if self.scale < 0:
            raise ValueError("scale must be >= 0")
        object.__setattr__(self, "_rot", rot)

    # ---- derived shapes ----------------------------------------------------------------------------------------
    def scaled(self, factor: float) -> LesionShape:
        """The same lesion grown (factor > 1) or shrunk about its centre."""
        return replace(self, scale=self.scale * factor)

    def moved(self, shift_mm: npt.ArrayLike) -> LesionShape:
        """The same lesion translated (the patient lying differently on the table)."""
        c = np.asarray(self.centre, dtype=np.float64) + np.asarray(shift_mm, dtype=np.float64)
        return replace(self, centre=(float(c[0]), float(c[1]), float(c[2])))

    @property
    def is_empty(self) -> bool:
        return self.scale == 0.0

    # ---- geometry ----------------------------------------------------------------------------------------------
    def bounding_radius(self) -> float:
        """A radius about ``centre`` (mm) that contains the whole solid."""
        r = max(
            float(np.linalg.norm(lobe.offset)) + max(lobe.semi_axes) * lobe.max_radius_factor() for lobe in self.lobes
        )
        return r * self.scale

    def z_extent(self, n: int = 48) -> tuple[float, float]:
        """(lowest, highest) z of the solid, from a grid of n^3 points, widened by one grid step (conservative)."""
        c = np.asarray(self.centre)
        r = self.bounding_radius()
        if r == 0.0:
            return float(c[2]), float(c[2])
        axis = np.linspace(-r, r, n)
        gx, gy, gz = np.meshgrid(axis, axis, axis, indexing="ij")
        pts = np.stack([gx, gy, gz], axis=-1) + c
        zs = pts[..., 2][self.level(pts) <= 1.0]
        step = 2 * r / (n - 1)
        return float(zs.min() - step), float(zs.max() + step)

    def level(self, points: npt.ArrayLike) -> FloatArray:
        """Implicit function at patient points (shape (..., 3)): <= 1 inside, > 1 outside, 0 at a lobe's centre."""
        p = np.asarray(points, dtype=np.float64)
        flat = p.reshape(-1, 3)
        if self.scale == 0.0:
            return np.full(flat.shape[0], np.inf).reshape(p.shape[:-1])
        local = ((flat - np.asarray(self.centre)) @ self._rot) / self.scale
        best = np.full(flat.shape[0], np.inf)
        for lobe in self.lobes:
            s = (local - np.asarray(lobe.offset)) / np.asarray(lobe.semi_axes)
            rho = np.sqrt(np.einsum("ij,ij->i", s, s))
            u = s / np.maximum(rho, 1e-300)[:, None]  # direction; 0 at the lobe's centre
            factor = np.ones_like(rho)
            if lobe.harmonics:
                w = u[:, 0] + 1j * u[:, 1]
                for h in lobe.harmonics:
                    factor += h.amplitude * np.real(w**h.order * np.exp(-1j * h.phase))
            if lobe.polar:
                factor += lobe.polar * (1.5 * u[:, 2] ** 2 - 0.5)
            np.minimum(best, rho / factor, out=best)
        return best.reshape(p.shape[:-1])

    def inside(self, points: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        return self.level(points) <= 1.0


def random_rotation(rng: np.random.Generator) -> tuple[tuple[float, float, float], ...]:
    """A rotation drawn uniformly (QR of a Gaussian matrix, signs fixed so that det = +1)."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q @ np.diag(np.sign(np.diag(r)))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return tuple((float(a), float(b), float(c)) for a, b, c in q)


def random_harmonics(rng: np.random.Generator, roughness: float, orders: tuple[int, ...] = (2, 3, 4, 5)) -> tuple[
    Harmonic, ...
]:
    """Low-order harmonics whose amplitudes add up to ``roughness`` (0 = smooth ellipsoid; 0.3 = very irregular)."""
    weights = rng.uniform(0.3, 1.0, size=len(orders))
    weights = weights / weights.sum() * roughness
    return tuple(
        Harmonic(order=o, amplitude=float(a), phase=float(rng.uniform(0, 2 * np.pi)))
        for o, a in zip(orders, weights, strict=True)
    )
