"""What the network sees: HU windows and a click-guidance channel, shared by training and inference (numpy only)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

#: (low, high) HU of each intensity channel: a wide window (lung to bone) and a soft-tissue window (W 400, L 40).
HU_WINDOWS: tuple[tuple[float, float], ...] = ((-1000.0, 400.0), (-160.0, 240.0))
#: SD of the Gaussian placed at the click, in mm.
GUIDANCE_SIGMA_MM = 4.0
N_INPUT_CHANNELS = len(HU_WINDOWS) + 1


def network_input(
    image_hu: npt.NDArray[np.floating],
    seed: tuple[int, int, int],
    spacing: tuple[float, float, float],
    hu_windows: tuple[tuple[float, float], ...] = HU_WINDOWS,
    sigma_mm: float = GUIDANCE_SIGMA_MM,
) -> npt.NDArray[np.float32]:
    """(C, K, J, I) float32: each HU window scaled to [-1, 1], then the guidance Gaussian (peak 1 at ``seed``)."""
    img = np.asarray(image_hu, dtype=np.float32)
    channels = []
    for lo, hi in hu_windows:
        channels.append((np.clip(img, lo, hi) - (lo + hi) / 2) / ((hi - lo) / 2))
    channels.append(guidance(img.shape, seed, spacing, sigma_mm))
    return np.stack(channels).astype(np.float32)


def guidance(
    shape: tuple[int, ...],
    seed: tuple[int, int, int],
    spacing: tuple[float, float, float],
    sigma_mm: float = GUIDANCE_SIGMA_MM,
) -> npt.NDArray[np.float32]:
    """A separable Gaussian of SD ``sigma_mm`` around the seed voxel."""
    out = np.ones(shape, dtype=np.float32)
    for axis, (n, c, s) in enumerate(zip(shape, seed, spacing, strict=True)):
        d = (np.arange(n, dtype=np.float32) - c) * s
        g = np.exp(-0.5 * (d / sigma_mm) ** 2).astype(np.float32)
        view = [1, 1, 1]
        view[axis] = n
        out = out * g.reshape(view)
    return out
