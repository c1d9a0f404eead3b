"""Render solids into CT slices: sub-voxel sampling (partial volume), a Gaussian point-spread blur and quantum noise.

Each voxel is the mean of ``supersample`` x ``supersample`` points in-plane times ``z_samples`` planes across the slice
thickness (a box slice profile), each point taking the attenuation of the last solid that contains it. Air outside the
body is exactly -1024 HU (it keeps RLE small); inside, correlated Gaussian noise is added.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from imaging.cancel import CancelToken, ProgressCallback, report
from imaging.synthetic.anatomy import TISSUE_HU
from imaging.synthetic.solids import Solid

AIR_HU = -1024
_CODES = {name: i for i, name in enumerate(TISSUE_HU)}
_HU_BY_CODE = np.array(list(TISSUE_HU.values()), dtype=np.float32)


@dataclass(frozen=True)
class SliceGrid:
    """Geometry of an axial series: pixel (0, 0) of slice k is at patient (x0, y0, slice_z[k]); rows run along +y."""

    rows: int
    columns: int
    pixel_mm: float
    thickness_mm: float
    x0: float
    y0: float
    slice_z: tuple[float, ...]


def _sub_positions(start: float, n: int, step: float, ss: int) -> npt.NDArray[np.float64]:
    """Centres of ``ss`` equal sub-intervals of each of ``n`` pixels (pixel centres at start + i * step)."""
    offsets = ((np.arange(ss) + 0.5) / ss - 0.5) * step
    return np.asarray((start + np.arange(n)[:, None] * step + offsets[None, :]).reshape(-1), dtype=np.float64)


def _paint_plane(solids: Sequence[Solid], xa: npt.NDArray[np.float64], ya: npt.NDArray[np.float64],
                 z: float, cache: dict[int, npt.NDArray[np.bool_]]) -> npt.NDArray[np.int16]:
    """Tissue codes on the (len(ya), len(xa)) grid of anatomical points at height z.

    ``cache`` keeps the masks of z-invariant solids between planes of the same grid (keyed by position in ``solids``).
    """
    labels = np.full((ya.size, xa.size), _CODES["air"], dtype=np.int16)
    for n, solid in enumerate(solids):
        box = solid.bounds_at(z)
        if box is None:
            continue
        i0, i1 = np.searchsorted(xa, box[0]), np.searchsorted(xa, box[2], side="right")
        j0, j1 = np.searchsorted(ya, box[1]), np.searchsorted(ya, box[3], side="right")
        if i0 >= i1 or j0 >= j1:
            continue
        if solid.z_invariant and n in cache:
            mask = cache[n].copy()
        else:
            gx, gy = np.broadcast_arrays(xa[None, i0:i1], ya[j0:j1, None])
            mask = solid.inside(gx, gy, np.full(gx.shape, z))
            if solid.z_invariant:
                cache[n] = mask.copy()
        crop = labels[j0:j1, i0:i1]
        if solid.only_within:
            allowed = np.zeros(len(_CODES), dtype=bool)
            allowed[[_CODES[t] for t in solid.only_within]] = True
            mask &= allowed[crop]
        crop[mask] = _CODES[solid.tissue]
    return labels


def _gaussian_kernel(sigma: float) -> npt.NDArray[np.float64]:
    radius = max(1, math.ceil(3 * sigma))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return np.asarray(k / k.sum(), dtype=np.float64)


def gaussian_blur(image: npt.NDArray[np.float32], sigma: float) -> npt.NDArray[np.float32]:
    """Separable Gaussian blur (edges replicated)."""
    if sigma <= 0:
        return image
    k = _gaussian_kernel(sigma)
    r = (k.size - 1) // 2
    out = image.astype(np.float32)
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (r, r)
        padded = np.pad(out, pad, mode="edge")
        acc = np.zeros_like(out)
        n = out.shape[axis]
        for i, w in enumerate(k):
            acc += np.float32(w) * (padded[i:i + n, :] if axis == 0 else padded[:, i:i + n])
        out = acc
    return out


def render_slice(solids: Sequence[Solid], grid: SliceGrid, k: int, shift_mm: Sequence[float], *,
                 supersample: int = 2, z_samples: int = 2, cache: dict[int, npt.NDArray[np.bool_]] | None = None,
                 ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Noise-free HU of slice k and the fraction of each voxel inside the body (both float32, rows x columns).

    Pass the same ``cache`` for every slice of one grid and shift (and only then).
    """
    cache = {} if cache is None else cache
    ss = supersample
    xa = _sub_positions(grid.x0, grid.columns, grid.pixel_mm, ss) - shift_mm[0]
    ya = _sub_positions(grid.y0, grid.rows, grid.pixel_mm, ss) - shift_mm[1]
    hu = np.zeros((grid.rows * ss, grid.columns * ss), dtype=np.float32)
    body = np.zeros_like(hu)
    for zs in range(z_samples):
        z = grid.slice_z[k] + ((zs + 0.5) / z_samples - 0.5) * grid.thickness_mm - shift_mm[2]
        labels = _paint_plane(solids, xa, ya, float(z), cache)
        hu += _HU_BY_CODE[labels]
        body += labels != _CODES["air"]
    shape = (grid.rows, ss, grid.columns, ss)
    hu = hu.reshape(shape).mean(axis=(1, 3)) / z_samples
    body = body.reshape(shape).mean(axis=(1, 3)) / z_samples
    return hu.astype(np.float32), body.astype(np.float32)


def render_series(solids: Sequence[Solid], grid: SliceGrid, shift_mm: Sequence[float], rng: np.random.Generator, *,
                  noise_sigma_hu: float, psf_sigma_px: float = 0.55, supersample: int = 2,
                  progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
                  ) -> npt.NDArray[np.int16]:
    """All slices as int16 HU, (slices, rows, columns). Deterministic for a given ``rng`` state."""
    z_samples = max(2, round(grid.thickness_mm / 1.25))
    out = np.empty((len(grid.slice_z), grid.rows, grid.columns), dtype=np.int16)
    noise_kernel = _gaussian_kernel(0.7)
    noise_gain = float(np.sqrt((noise_kernel**2).sum()) ** 2)  # std of white noise after the 2-D blur
    cache: dict[int, npt.NDArray[np.bool_]] = {}
    for k in range(len(grid.slice_z)):
        if cancel is not None:
            cancel.raise_if_cancelled()
        hu, body = render_slice(solids, grid, k, shift_mm, supersample=supersample, z_samples=z_samples, cache=cache)
        hu = gaussian_blur(hu, psf_sigma_px)
        body = gaussian_blur(body, psf_sigma_px)
        white = rng.standard_normal(hu.shape).astype(np.float32)
        noise = gaussian_blur(white, 0.7) * np.float32(noise_sigma_hu / noise_gain)
        hu = hu + noise * np.clip(body * 4.0, 0.0, 1.0)
        # Outside the body (no part of the voxel in it, after the blur) the scanner shows pure air.
        hu[body < 1e-3] = AIR_HU
        out[k] = np.clip(np.rint(hu), AIR_HU, 3071).astype(np.int16)
        report(progress, k + 1, len(grid.slice_z), "rendering slices")
    return out
