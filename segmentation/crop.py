"""The region around a click that an engine works on: native resolution, sized in mm, clipped to the volume."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from imaging.volume import Volume
from segmentation.base import PointMM, SegmentationError


@dataclass(frozen=True)
class CropBox:
    """Voxel box ``[start, stop)`` per axis (k, j, i) inside the volume."""

    start: tuple[int, int, int]
    stop: tuple[int, int, int]

    @property
    def slices(self) -> tuple[slice, slice, slice]:
        return (
            slice(self.start[0], self.stop[0]),
            slice(self.start[1], self.stop[1]),
            slice(self.start[2], self.stop[2]),
        )

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.stop[0] - self.start[0], self.stop[1] - self.start[1], self.stop[2] - self.start[2])

    def local(self, kji: tuple[int, int, int]) -> tuple[int, int, int]:
        return (kji[0] - self.start[0], kji[1] - self.start[1], kji[2] - self.start[2])


#: Below this (median of the click's 3 x 3 pixels) the click is on air: outside the body, bowel gas, airway. No lesion
#: is air; a lung nodule is soft tissue, so a click on one is far above this.
AIR_BELOW_HU = -900.0


def seed_voxel(volume: Volume, seed_mm: PointMM) -> tuple[int, int, int]:
    """The voxel under a click in patient mm; a clear error when the point is outside the volume or on air."""
    kji = volume.nearest_voxel(seed_mm)
    x, y, z = seed_mm
    if not volume.contains_voxel(kji):
        n = np.array(volume.shape) - 1
        corners = volume.voxel_to_patient([(a, b, c) for a in (0, n[0]) for b in (0, n[1]) for c in (0, n[2])])
        lo, hi = corners.min(axis=0), corners.max(axis=0)
        span = ", ".join(f"{axis} {a:.0f} to {b:.0f}" for axis, a, b in zip("xyz", lo, hi, strict=True))
        raise SegmentationError(f"the point ({x:.1f}, {y:.1f}, {z:.1f}) mm is outside the image volume ({span} mm)")
    k, j, i = kji
    around = volume.array[k, max(j - 1, 0) : j + 2, max(i - 1, 0) : i + 2]
    hu = float(np.median(around.astype(np.float64)))
    if hu < AIR_BELOW_HU:
        raise SegmentationError(f"no lesion at ({x:.1f}, {y:.1f}, {z:.1f}) mm: the click is on air ({hu:.0f} HU)")
    return kji


def crop_around(
    volume: Volume, centre: tuple[int, int, int], extent_mm: tuple[float, float, float], multiple: int = 1
) -> CropBox:
    """A box about ``extent_mm`` across centred on ``centre``; each side a multiple of ``multiple`` where the volume
    allows, shifted (not shrunk) to stay inside the volume."""
    start, stop = [], []
    for c, n, s, e in zip(centre, volume.shape, volume.spacing, extent_mm, strict=True):
        size = max(multiple, math.ceil(e / float(s) / multiple) * multiple)
        size = min(size, n)
        lo = int(c) - size // 2
        lo = max(0, min(lo, n - size))
        start.append(lo)
        stop.append(lo + size)
    return CropBox((start[0], start[1], start[2]), (stop[0], stop[1], stop[2]))


def pad_to_multiple(
    array: npt.NDArray[np.float32], multiple: int | tuple[int, ...]
) -> tuple[npt.NDArray[np.float32], tuple[int, ...]]:
    """Edge-pad each axis at its end up to a multiple (one for all axes, or one per axis); returns the padded array
    and the original shape."""
    multiples = (multiple,) * array.ndim if isinstance(multiple, int) else multiple
    pads = [(0, (-n) % m) for n, m in zip(array.shape, multiples, strict=True)]
    if not any(p for _, p in pads):
        return array, array.shape
    return np.pad(array, pads, mode="edge"), array.shape


def touches_border(mask: npt.NDArray[np.bool_], box: CropBox, volume_shape: tuple[int, int, int]) -> bool:
    """True when the mask reaches a face of the crop that is not also a face of the volume (the lesion may go on)."""
    for axis in range(3):
        first = np.take(mask, 0, axis=axis)
        last = np.take(mask, mask.shape[axis] - 1, axis=axis)
        if box.start[axis] > 0 and first.any():
            return True
        if box.stop[axis] < volume_shape[axis] and last.any():
            return True
    return False


def component_at(
    mask: npt.NDArray[np.bool_], seed: tuple[int, int, int], search_vox: tuple[int, int, int]
) -> npt.NDArray[np.bool_]:
    """The connected component of ``mask`` holding ``seed``, or the one nearest to it within ``search_vox``; empty if
    none is that close."""
    from scipy import ndimage

    labels, n = ndimage.label(mask)
    if n == 0:
        return np.zeros_like(mask)
    label = int(labels[seed])
    if label == 0:
        lo = [max(0, c - r) for c, r in zip(seed, search_vox, strict=True)]
        hi = [min(m, c + r + 1) for c, r, m in zip(seed, search_vox, mask.shape, strict=True)]
        window = labels[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
        if not window.any():
            return np.zeros_like(mask)
        idx = np.argwhere(window > 0) + np.asarray(lo)
        d = (((idx - np.asarray(seed)) / np.maximum(np.asarray(search_vox), 1)) ** 2).sum(axis=1)
        label = int(labels[tuple(idx[int(np.argmin(d))])])
    return np.asarray(labels == label)


def mask_centre(mask: npt.NDArray[np.bool_], box: CropBox) -> tuple[int, int, int]:
    """Centre of the mask's bounding box, in volume voxels."""
    idx = np.argwhere(mask)
    mid = (idx.min(axis=0) + idx.max(axis=0)) // 2
    return (int(mid[0]) + box.start[0], int(mid[1]) + box.start[1], int(mid[2]) + box.start[2])


def touches_image_edge(mask: npt.NDArray[np.bool_], box: CropBox, volume_shape: tuple[int, int, int]) -> bool:
    """True when the mask reaches a face of the volume itself (a lesion cut by the scan's field, or a leak)."""
    for axis in range(3):
        if box.start[axis] == 0 and np.take(mask, 0, axis=axis).any():
            return True
        if box.stop[axis] == volume_shape[axis] and np.take(mask, mask.shape[axis] - 1, axis=axis).any():
            return True
    return False


def unclosed(mask: npt.NDArray[np.bool_], box: CropBox, volume_shape: tuple[int, int, int]) -> bool:
    """True when the outline reaches a face of the crop or of the volume: it is not a closed lesion
    (`SegmentationResult.unbounded`)."""
    return touches_border(mask, box, volume_shape) or touches_image_edge(mask, box, volume_shape)


EDGE_WARNING = ("the outline reaches the edge of the images: a lesion cut by the scan, a structure that runs beyond it "
                "(a vessel, bowel, the spine: not a lesion), or a leak: check it")


def lesion_box(
    mask: npt.NDArray[np.bool_], seed: tuple[int, int, int], margin: tuple[int, int, int]
) -> tuple[slice, ...]:
    """The mask's bounding box and the seed, widened by ``margin`` voxels and clipped to the array: post-processing
    works there instead of on the whole crop (on a GPU, whole-crop checks were a third of a click's time)."""
    lo, hi = np.asarray(seed), np.asarray(seed)
    if mask.any():  # the bounding box from each axis' projection (faster than listing every voxel)
        first, last = [], []
        for axis in range(mask.ndim):
            present = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
            first.append(present[0])
            last.append(present[-1])
        lo, hi = np.minimum(first, seed), np.maximum(last, seed)
    return tuple(
        slice(max(0, int(a) - m), min(n, int(b) + m + 1)) for a, b, m, n in zip(lo, hi, margin, mask.shape, strict=True)
    )
