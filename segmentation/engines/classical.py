"""Classical engine (SimpleITK): seeded region growing with an adaptive half-contrast threshold, on a crop.

1. Smooth the crop with a Gaussian of ``SMOOTH_MM`` (in mm, so anisotropic voxels are handled).
2. Start from the voxels within 2.5 mm of the click: their mean is the lesion density. Grow a connected region within
   a window around it, then iterate: the boundary is put half-way between the mean inside and the mean of a 3 mm shell
   outside (the half-maximum of a blurred step, which is where the true edge of a lesion lies), one-sided (hypo- or
   hyperdense), connected to the click.
3. Open with a ~1 mm ball to cut thin bridges to vessels, keep the part at the click, fill holes slice by slice
   (necrotic centres belong to the lesion). A drawn line (hint) bounds the region to a ball around it.

Confidence from the contrast-to-noise ratio between the lesion and its shell, lowered when the region reaches the crop
(leak into a same-density organ) or the line hint had to cut it.
"""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt
import SimpleITK as sitk
from scipy import ndimage

from imaging.cancel import CancelToken
from imaging.volume import Volume
from segmentation.base import PointMM, Provenance, SegmentationError, SegmentationHints, SegmentationResult
from segmentation.crop import (
    EDGE_WARNING,
    CropBox,
    component_at,
    crop_around,
    mask_centre,
    seed_voxel,
    touches_border,
    touches_image_edge,
    unclosed,
)

CROP_EXTENT_MM = (112.0, 112.0, 112.0)
SMOOTH_MM = 1.0
SEED_RADIUS_MM = 2.5
SHELL_MM = 3.0
OPEN_MM = 1.0
#: Contrast-to-noise ratio at which confidence is 0 and 1.
CNR_LOW, CNR_HIGH = 0.8, 2.5
#: Minimum contrast (HU) to call anything a boundary.
MIN_CONTRAST_HU = 15.0
#: An outline grown again from its own deepest point must overlap the first this much (Dice), or it is doubtful.
CONSISTENT_DICE = 0.8
#: Fraction of the region's close surroundings that must be rim tissue to call the region a necrotic centre.
RIM_ENCLOSURE = 0.85


def algorithm_version() -> str:
    """The engine's version, as a DICOM SR's algorithm identification names it: the workstation's (this engine has no
    model of its own; "unknown" was written before)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("recist-workstation")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "source"


def _ball(spacing: tuple[float, float, float], radius_mm: float) -> npt.NDArray[np.bool_]:
    r = [max(0, int(radius_mm / s)) for s in spacing]
    grid = np.ogrid[tuple(slice(-n, n + 1) for n in r)]
    d = sum((g * s / max(radius_mm, 1e-6)) ** 2 for g, s in zip(grid, spacing, strict=True))
    return np.asarray(d <= 1.0)


def _bbox_window(region: npt.NDArray[np.bool_], margin: tuple[int, ...]) -> tuple[slice, ...]:
    idx = np.argwhere(region)
    lo = np.maximum(idx.min(axis=0) - margin, 0)
    hi = np.minimum(idx.max(axis=0) + np.asarray(margin) + 1, region.shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))


def _shell(region: npt.NDArray[np.bool_], spacing: tuple[float, float, float], mm: float) -> npt.NDArray[np.bool_]:
    """Voxels outside ``region`` within ``mm`` of it (distance in mm), computed on the region's bounding box."""
    win = _bbox_window(region, tuple(int(np.ceil(mm / s)) + 1 for s in spacing))
    dist = ndimage.distance_transform_edt(~region[win], sampling=spacing)
    out = np.zeros_like(region)
    out[win] = (dist > 0) & (dist <= mm)
    return out


def _open(region: npt.NDArray[np.bool_], spacing: tuple[float, float, float], mm: float) -> npt.NDArray[np.bool_]:
    """Morphological opening with a ball of ``mm`` radius, on the region's bounding box."""
    if not region.any():
        return region
    ball = _ball(spacing, mm)
    win = _bbox_window(region, tuple(b for b in ball.shape))
    out = np.zeros_like(region)
    out[win] = ndimage.binary_opening(region[win], structure=ball)
    return out


def _radial_start(
    smooth: npt.NDArray[np.float32],
    seed: tuple[int, int, int],
    spacing: tuple[float, float, float],
    mu_in: float,
    jump: float,
) -> npt.NDArray[np.bool_]:
    """First guess of the lesion: the voxels on the click's side of the half-way density between the click and the
    first shell (1 mm radial bins) whose median differs from the click's density by more than ``jump``."""
    grids = np.ogrid[tuple(slice(0, n) for n in smooth.shape)]
    r2 = sum(((g - c) * s) ** 2 for g, c, s in zip(grids, seed, spacing, strict=True))
    radius = np.sqrt(r2).astype(np.float32)
    bins = np.minimum(radius.astype(np.int32), 80)
    sums = np.bincount(bins.ravel(), weights=smooth.ravel(), minlength=81)
    counts = np.bincount(bins.ravel(), minlength=81)
    profile = sums / np.maximum(counts, 1)
    for r in range(1, 80):
        if counts[r] and abs(profile[r] - mu_in) > jump:
            outside = float(np.median(smooth[(bins >= r) & (bins <= r + 4)]))
            mid = (mu_in + outside) / 2
            inside = smooth > mid if mu_in > outside else smooth < mid
            return component_at(inside & (radius <= r + 5), seed, (1, 1, 1))
    return np.zeros(smooth.shape, dtype=bool)


def _include_rim(
    region: npt.NDArray[np.bool_],
    smooth: npt.NDArray[np.float32],
    spacing: tuple[float, float, float],
    seed: tuple[int, int, int],
    allowed: npt.NDArray[np.bool_],
    mu_in: float,
    mu_out: float,
) -> tuple[npt.NDArray[np.bool_], float, float]:
    """A click in a necrotic centre grows the necrosis only. When the region's shell is a ring of tissue that differs
    from what lies beyond it (the viable rim of the lesion), grow the rim too (to the half-way density between rim and
    far background) and take the whole lesion, necrosis included."""
    if not region.any() or abs(mu_in - mu_out) < MIN_CONTRAST_HU:
        return region, mu_in, mu_out
    win = _bbox_window(region, tuple(int(np.ceil(30.0 / s)) + 1 for s in spacing))
    dist = np.full(region.shape, np.inf, dtype=np.float64)
    dist[win] = ndimage.distance_transform_edt(~region[win], sampling=spacing)
    far = (dist > 8.0) & (dist <= 14.0)
    if not far.any():
        return region, mu_in, mu_out
    mu_far = float(np.median(smooth[far]))
    # A rim: the shell differs from the far background, and the core is on the far side of neither (necrosis is
    # darker than the rim, the background is another density than the rim).
    if abs(mu_out - mu_far) < MIN_CONTRAST_HU or abs(mu_in - mu_far) < abs(mu_out - mu_far) / 2:
        return region, mu_in, mu_out
    mid = (mu_out + mu_far) / 2
    rim_side = smooth > mid if mu_out > mu_far else smooth < mid
    # The rim must enclose the region and be thicker than the blur of an edge: rim tissue both right at the region and
    # 2.5-4 mm out (a partial-volume fringe of a plain lesion fades within ~2 mm).
    for lo, hi in ((0.0, 2.0), (2.5, 4.0)):
        ring = (dist > lo) & (dist <= hi)
        if not ring.any() or float(rim_side[ring].mean()) < RIM_ENCLOSURE:
            return region, mu_in, mu_out  # no ring of viable tissue around the region: no necrotic centre here
    grown = component_at((rim_side | region) & allowed, seed, (1, 1, 1))
    if grown.sum() > 30 * region.sum() or grown.sum() <= region.sum():
        return region, mu_in, mu_out  # a leak, or no rim: keep the first region
    filled = grown.copy()
    for k in np.flatnonzero(filled.any(axis=(1, 2))):
        filled[k] = ndimage.binary_fill_holes(filled[k])
    return filled, float(np.median(smooth[filled])), mu_far


class ClassicalSegmenter:
    """Region growing with SimpleITK; no model needed."""

    name = "classical"

    def __init__(self, device: str = "cpu", check_consistency: bool = True) -> None:
        self.device = "cpu"  # SimpleITK runs on the CPU whatever was asked
        #: Set by `create_segmenter("auto")` when it fell back to this engine, and why.
        self.fallback_reason: str | None = None
        #: Grow the region again from the outline's deepest point: an outline that changes with the click is doubtful.
        self.check_consistency = check_consistency

    def segment(
        self,
        volume: Volume,
        seed_mm: PointMM,
        hints: SegmentationHints | None = None,
        cancel: CancelToken | None = None,
    ) -> SegmentationResult:
        t0 = time.perf_counter()
        seed = seed_voxel(volume, seed_mm)
        centre = seed
        result = None
        for attempt in range(2):
            if cancel is not None:
                cancel.raise_if_cancelled()
            box = crop_around(volume, centre, CROP_EXTENT_MM)
            result = self._grow(volume, box, seed, hints)
            mask = result[0]
            if attempt == 0 and touches_border(mask, box, volume.shape) and mask.mean() < 0.3:
                centre = mask_centre(mask, box)
                continue
            break
        assert result is not None
        mask, confidence, warnings = result
        if touches_border(mask, box, volume.shape):
            if mask.mean() > 0.3:
                x, y, z = seed_mm
                raise SegmentationError(
                    f"no lesion found at ({x:.1f}, {y:.1f}, {z:.1f}) mm: the region grown from the click has no "
                    "boundary (it fills the analysed region)"
                )
            confidence = min(confidence, 0.3)
            warnings.append("the region reaches the edge of the analysed region (a leak into a same-density organ?)")
        if touches_image_edge(mask, box, volume.shape):
            confidence = min(confidence, 0.3)
            warnings.append(EDGE_WARNING)
        if self.check_consistency and confidence >= 0.5:
            agreement = self._regrown_agreement(volume, box, mask, seed, hints)
            if agreement < CONSISTENT_DICE:
                confidence = min(confidence, 0.4)
                warnings.append(
                    f"the outline depends on where the click is (grown again from its centre it overlaps only "
                    f"{agreement:.0%}): check it"
                )
        provenance = Provenance(
            engine=self.name, model_version=algorithm_version(), device="cpu", seconds=time.perf_counter() - t0
        )
        return SegmentationResult(mask, box.start, provenance, confidence, warnings, unclosed(mask, box, volume.shape))

    def _regrown_agreement(
        self,
        volume: Volume,
        box: CropBox,
        mask: npt.NDArray[np.bool_],
        seed: tuple[int, int, int],
        hints: SegmentationHints | None,
    ) -> float:
        """Dice between the outline and the one grown from its deepest point (1.0 when that point is the click)."""
        spacing = (float(volume.spacing[0]), float(volume.spacing[1]), float(volume.spacing[2]))
        depth = ndimage.distance_transform_edt(mask, sampling=spacing)
        deepest = tuple(int(v) for v in np.unravel_index(int(np.argmax(depth)), mask.shape))
        local = box.local(seed)
        if sum(((a - b) * s) ** 2 for a, b, s in zip(deepest, local, spacing, strict=True)) < 2.0**2:
            return 1.0
        try:
            again = self._grow(
                volume, box, (deepest[0] + box.start[0], deepest[1] + box.start[1], deepest[2] + box.start[2]), hints
            )[0]
        except SegmentationError:
            return 0.0
        total = int(mask.sum()) + int(again.sum())
        return 2.0 * int((mask & again).sum()) / total if total else 1.0

    def _grow(
        self, volume: Volume, box: CropBox, seed: tuple[int, int, int], hints: SegmentationHints | None
    ) -> tuple[npt.NDArray[np.bool_], float, list[str]]:
        spacing = (float(volume.spacing[0]), float(volume.spacing[1]), float(volume.spacing[2]))
        raw = np.asarray(volume.array[box.slices], dtype=np.float32)
        img = sitk.GetImageFromArray(raw)
        img.SetSpacing((spacing[2], spacing[1], spacing[0]))  # type: ignore[no-untyped-call]
        smoothed = sitk.SmoothingRecursiveGaussian(img, SMOOTH_MM)  # type: ignore[no-untyped-call]
        smooth = sitk.GetArrayFromImage(smoothed)
        local = box.local(seed)
        warnings: list[str] = []

        seed_ball = np.zeros(raw.shape, dtype=bool)
        ball = _ball(spacing, SEED_RADIUS_MM)
        r = [b // 2 for b in ball.shape]
        lo = [max(0, c - rr) for c, rr in zip(local, r, strict=True)]
        hi = [min(n, c + rr + 1) for c, rr, n in zip(local, r, raw.shape, strict=True)]
        sub = ball[
            lo[0] - local[0] + r[0] : hi[0] - local[0] + r[0],
            lo[1] - local[1] + r[1] : hi[1] - local[1] + r[1],
            lo[2] - local[2] + r[2] : hi[2] - local[2] + r[2],
        ]
        seed_ball[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] = sub

        allowed = np.ones(raw.shape, dtype=bool)
        if hints is not None and hints.line_mm is not None:
            allowed = self._line_bound(volume, box, hints)
        k, j, i = local
        near = smooth[max(0, k - 1) : k + 2, max(0, j - 1) : j + 2, max(0, i - 1) : i + 2]
        mu_in = float(np.median(near))
        residual = (raw - smooth)[seed_ball]
        noise = max(1.4826 * float(np.median(np.abs(residual - np.median(residual)))), 3.0)
        # Where does the density change? The median of the smoothed image on spheres of growing radius around the
        # click: the first radius where it departs clearly from the click's density is the lesion's edge, and the
        # density just beyond it is the background the lesion stands out from.
        region = _radial_start(smooth, local, spacing, mu_in, max(3.0 * float(np.std(smooth[seed_ball])), 15.0))
        region &= allowed
        if not region.any():
            region = seed_ball & allowed
        mu_out = mu_in
        for _ in range(3):
            if not region.any():
                break
            shell = _shell(region, spacing, SHELL_MM)
            if not shell.any():
                break
            mu_in = float(np.median(smooth[region]))
            mu_out = float(np.median(smooth[shell]))
            if abs(mu_in - mu_out) < MIN_CONTRAST_HU:
                break
            mid = (mu_in + mu_out) / 2
            inside = smooth > mid if mu_in > mu_out else smooth < mid
            grown = component_at(inside & allowed, local, (1, 1, 1))
            if grown.sum() > 8 * max(region.sum(), 1) and touches_border(grown, box, volume.shape):
                break  # a leak: keep the previous, tighter region
            region = grown
        region, mu_in, mu_out = _include_rim(region, smooth, spacing, local, allowed, mu_in, mu_out)
        opened = _open(region, spacing, OPEN_MM)
        search = tuple(max(1, round(SEED_RADIUS_MM / s)) for s in spacing)
        mask = component_at(opened, local, search)  # type: ignore[arg-type]
        if not mask.any():
            mask = region
        if not mask.any():
            raise SegmentationError("no lesion found at the click: nothing around it differs from its surroundings")
        for sl in np.flatnonzero(mask.any(axis=(1, 2))):
            mask[sl] = ndimage.binary_fill_holes(mask[sl])
        contrast = abs(mu_in - mu_out)
        cnr = contrast / max(noise, 1.0)
        confidence = float(np.clip((cnr - CNR_LOW) / (CNR_HIGH - CNR_LOW), 0.0, 1.0))
        if contrast < MIN_CONTRAST_HU:
            confidence = min(confidence, 0.2)
            warnings.append(f"no clear boundary: the lesion differs from its surroundings by {contrast:.0f} HU only")
        elif confidence < 0.5:
            warnings.append(f"weak boundary (contrast {contrast:.0f} HU, noise {noise:.0f} HU): check the outline")
        if hints is not None and hints.line_mm is not None and (mask & ~ndimage.binary_erosion(allowed)).any():
            confidence = min(confidence, 0.4)
            warnings.append("the region was cut at the limit set by the drawn line: check the outline")
        return mask, confidence, warnings

    @staticmethod
    def _line_bound(volume: Volume, box: CropBox, hints: SegmentationHints) -> npt.NDArray[np.bool_]:
        """A ball around the drawn line's middle, radius 0.6 x its length + 3 mm."""
        assert hints.line_mm is not None
        a, b = (np.asarray(p, dtype=float) for p in hints.line_mm)
        radius = 0.6 * float(np.linalg.norm(b - a)) + 3.0
        kk, jj, ii = np.meshgrid(*[np.arange(s, e) for s, e in zip(box.start, box.stop, strict=True)], indexing="ij")
        pts = volume.voxel_to_patient(np.stack([kk, jj, ii], axis=-1).reshape(-1, 3))
        inside = np.linalg.norm(pts - (a + b) / 2, axis=1) <= radius
        return np.asarray(inside.reshape(box.shape))
