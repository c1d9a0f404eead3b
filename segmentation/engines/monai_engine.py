"""MONAI engine: a small 3-D UNet on a native-resolution crop around the click, with a click-guidance channel.

The first crop has the size of a training patch in voxels (112 pixels in-plane, 16-32 slices; the network's
instance-norm statistics then match training); when the mask reaches a face of it, a second crop of ``crop_extent_mm``
(112 mm, so a lesion up to ~80 mm fits) is centred on the mask. Never a whole-volume sliding window. CUDA with
autocast in bfloat16 (the precision it was trained in; float16 overflowed to NaN on an H100), float32 again if that
gives a non-finite value; CPU otherwise, deterministic. Optional test-time mirroring (``test_time_flips`` in the
bundle) averages the probabilities of mirrored passes. The mask is the connected component of the thresholded
probability at (or within 3 mm of) the click; with ``edge_threshold_range`` in the bundle, the threshold is then
chosen per lesion where the image's edge is (`segmentation.edge_threshold`).

Confidence (0..1) comes from the probability map: how decided the voxels in and around the lesion are (the soft Dice
between the probability map and the mask, near 1 when every voxel is clearly in or out; 0.5 at a soft Dice of 0.85),
lowered when the outline spreads into a faint halo beyond the clearly detected core (a leak), when the lesion still
reaches the crop after re-centring, or when the probability at the click is low; it is measured on the network's own
outline (at the bundle's threshold), before the edge choice. Below 0.5 the app asks the reader to check. A flagged
halo is cut back to within ``FAR_MM`` of the core (on the sample trial this halved the outlines off by more than 5 mm;
on validation seed 778 it changed nothing; on the held-out benchmark it cost 0.1 mm of median error), unless the
image's edge moved the outline out. An optional edge refinement (``refine_edges`` in the bundle) is off in the shipped
bundle: on the validation seeds it did not improve the outline.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from imaging.cancel import CancelToken
from imaging.volume import Volume
from segmentation.base import (
    PointMM,
    Provenance,
    SegmentationError,
    SegmentationHints,
    SegmentationResult,
)
from segmentation.bundle import DEFAULT_BUNDLE, BundleConfig, load_network, read_bundle, size_multiples
from segmentation.crop import (
    EDGE_WARNING,
    CropBox,
    component_at,
    crop_around,
    lesion_box,
    mask_centre,
    pad_to_multiple,
    seed_voxel,
    touches_border,
    touches_image_edge,
    unclosed,
)
from segmentation.distance import farther_than
from segmentation.doubt import same_density_doubt
from segmentation.edge_threshold import edge_threshold
from segmentation.morphology import dilate_cross
from segmentation.network_inputs import network_input
from segmentation.threads import start

SEARCH_MM = 3.0
#: The autocast type on a GPU: bfloat16, the type the model was trained in. float16 overflows this network's
#: activations to NaN (seen on an H100; `tests/segmentation/test_engines.py` shows it on the CPU too).
REDUCED_PRECISION = "bfloat16"
#: Axes (slice, row, column) mirrored for each test-time pass, in the order they are used.
FLIP_SETS: tuple[tuple[int, ...], ...] = ((), (2,), (1,), (1, 2), (0,), (0, 2), (0, 1), (0, 1, 2))
#: The halo check: calibrated with the shipped threshold (0.3) on validation seed 778 and the sample trial (never on
#: the benchmark's seed); see MODEL_CARD.md for the flag rates. The soft Dice mapped to confidence 0..1 is the
#: bundle's own (`BundleConfig.confidence_sharpness`): a sharper model needs a higher bar.
#: The lesion's core is where the probability is at least CORE_PROBABILITY; an outline with more than FAR_FRACTION
#: of its voxels over FAR_MM outside the core has spread into a faint halo (a leak into a similar organ).
CORE_PROBABILITY, FAR_MM, FAR_FRACTION = 0.8, 2.0, 0.10


def resolve_device(device: str) -> str:
    """ "auto" -> "cuda" when torch sees a GPU, else "cpu"; "cuda" without a GPU is an error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise SegmentationError("--device cuda was asked for, but torch sees no CUDA GPU on this machine")
    if device not in ("cpu", "cuda"):
        raise SegmentationError(f"unknown device '{device}' (auto, cpu or cuda)")
    return device


class MonaiSegmenter:
    """Click-guided segmentation with a MONAI bundle (`models/lesion_seg/` by default)."""

    name = "monai"

    def __init__(self, bundle: Path | str = DEFAULT_BUNDLE, device: str = "auto", refine: bool | None = None) -> None:
        self.config: BundleConfig = read_bundle(bundle)
        self.device = resolve_device(device)
        self._net: Any = None
        self._net_lock = threading.Lock()
        #: Put the edge at the half-way density between lesion and surroundings (see `refine_edges`).
        self.refine = bool(self.config.refine_edges if refine is None else refine)
        #: Cut a flagged halo back to within FAR_MM of the clearly detected core (the outline stays flagged).
        self.trim_halo = True
        #: Flag an outline that runs along tissue of the lesion's own density (`segmentation.doubt`); `auto` turns
        #: it off (see `segmentation.engines.consensus`).
        self.same_density_check = True
        #: Test-time passes (1 = none; up to 8 mirrorings), from the bundle.
        self.flips = self.config.test_time_flips

    @property
    def network(self) -> Any:
        with self._net_lock:  # loaded once, whichever thread asks first (a warm-up, or the first click)
            if self._net is None:
                self._net = load_network(self.config, self.device)
            return self._net

    def warm_up(self) -> None:
        """Load the network and run it once on an empty first-pass crop, so that the reader's first click is as
        fast as the next (importing torch, building the network and the first run take seconds on a CPU)."""
        import torch

        n = self.config.first_crop_inplane
        shape = (self.config.first_crop_slices[0], n, n)
        multiples = size_multiples(self.config.network_args)
        padded = [-(-d // m) * m for d, m in zip(shape, multiples, strict=True)]
        with torch.inference_mode():
            self._logits(torch.zeros((1, len(self.config.hu_windows) + 1, *padded), device=self.device))

    def first_extent_mm(self, volume: Volume) -> tuple[float, float, float]:
        """The first crop: the training patch size in voxels (slices from the in-plane extent, within bounds)."""
        n = self.config.first_crop_inplane
        lo, hi = self.config.first_crop_slices
        inplane_mm = n * float(volume.spacing[1])
        slices = int(np.clip(round(inplane_mm / float(volume.spacing[0]) / 8) * 8, lo, hi))
        return (slices * float(volume.spacing[0]), n * float(volume.spacing[1]), n * float(volume.spacing[2]))

    def probability(
        self, image_hu: npt.NDArray[np.float32], seed: tuple[int, int, int], spacing: tuple[float, ...]
    ) -> npt.NDArray[np.float32]:
        """Lesion probability for a crop (any shape; padded to the network's multiple inside)."""
        import torch

        padded, shape = pad_to_multiple(
            np.asarray(image_hu, dtype=np.float32), size_multiples(self.config.network_args)
        )
        sp = (float(spacing[0]), float(spacing[1]), float(spacing[2]))
        x = network_input(padded, seed, sp, self.config.hu_windows, self.config.guidance_sigma_mm)
        with torch.inference_mode():
            t = torch.from_numpy(x[None]).to(self.device)
            passes = FLIP_SETS[: max(1, min(self.flips, len(FLIP_SETS)))]
            total = torch.zeros_like(t[:, :1])
            for dims in passes:
                # Test-time flips: the network sees the crop mirrored; the probabilities are mirrored back and averaged.
                axes = [d + 2 for d in dims]
                p = torch.sigmoid(self._logits(t.flip(axes) if axes else t).float())
                total += p.flip(axes) if axes else p
            prob = (total / len(passes))[0, 0].cpu().numpy()
        return np.asarray(prob[: shape[0], : shape[1], : shape[2]], dtype=np.float32)

    def _logits(self, t: Any, reduced_precision: bool | None = None) -> Any:
        """The network's logits; on CUDA (or when asked) in the reduced precision it was trained in, float32 again
        if that gives a non-finite value."""
        import torch

        if not (self.device == "cuda" if reduced_precision is None else reduced_precision):
            return self.network(t)
        with torch.autocast(self.device, dtype=getattr(torch, REDUCED_PRECISION)):
            logits = self.network(t)
        if not bool(torch.isfinite(logits).all()):
            logits = self.network(t)  # full precision
        return logits

    def segment(
        self,
        volume: Volume,
        seed_mm: PointMM,
        hints: SegmentationHints | None = None,
        cancel: CancelToken | None = None,
    ) -> SegmentationResult:
        t0 = time.perf_counter()
        seed = seed_voxel(volume, seed_mm)
        warnings: list[str] = []
        centre = seed
        if hints is not None and hints.line_mm is not None:
            # A drawn line: centre the crop on its middle (the lesion is around it).
            a, b = (np.asarray(p, dtype=float) for p in hints.line_mm)
            mid = volume.nearest_voxel((a + b) / 2)
            if volume.contains_voxel(mid):
                centre = mid
        mask = prob = None
        box: CropBox | None = None
        for attempt in range(2):
            if cancel is not None:
                cancel.raise_if_cancelled()
            extent = self.first_extent_mm(volume) if attempt == 0 else self.config.crop_extent_mm
            box = crop_around(volume, centre, extent)
            image = np.asarray(volume.array[box.slices], dtype=np.float32)
            local_seed = box.local(seed)
            prob = self.probability(image, local_seed, volume.spacing)
            search = tuple(max(1, round(SEARCH_MM / float(s))) for s in volume.spacing)
            mask = component_at(prob >= self.config.threshold, local_seed, search)  # type: ignore[arg-type]
            if not mask.any():
                x, y, z = seed_mm
                raise SegmentationError(
                    f"no lesion found at ({x:.1f}, {y:.1f}, {z:.1f}) mm: the model sees no lesion within "
                    f"{SEARCH_MM:g} mm of the click (highest probability in the region around: {float(prob.max()):.2f})"
                    if attempt == 0
                    else "the lesion was lost when the analysed region was enlarged around it"
                )
            if attempt == 0 and touches_border(mask, box, volume.shape):
                centre = mask_centre(mask, box)  # a large lesion: the full-size crop, centred on it
                continue
            break
        assert mask is not None and prob is not None and box is not None
        # Confidence is the network's: how decided it is about its own outline (before the edge choice below,
        # which runs beside it).
        judged = start(
            outline_confidence, prob, mask, box.local(seed), volume.spacing, self.config.confidence_sharpness
        )
        chosen = self.config.threshold
        if self.config.edge_threshold_range is not None:
            low_high, own = self.config.edge_threshold_range, self.config.threshold
            chosen, mask = edge_threshold(image, prob, mask, box.local(seed), volume.spacing, own, low_high, search)  # type: ignore[arg-type]
        confidence, reasons, halo = judged.result()
        if self.refine:
            mask = refine_edges(image, prob, mask, box.local(seed), volume.spacing)
        if self.trim_halo and halo and chosen >= self.config.threshold:
            mask = trim_to_core(prob, mask, box.local(seed), volume.spacing)
        if self.same_density_check:
            doubt = same_density_doubt(image, mask, volume.spacing)
            if doubt is not None:
                confidence = min(confidence, 0.4)
                reasons.append(doubt)
        if touches_border(mask, box, volume.shape):
            confidence = min(confidence, 0.3)
            reasons.append("the lesion reaches the edge of the analysed region (larger than ~80 mm or leaking)")
        if touches_image_edge(mask, box, volume.shape):
            confidence = min(confidence, 0.3)
            reasons.append(EDGE_WARNING)
        warnings.extend(reasons)
        provenance = Provenance(
            engine=self.name,
            model_id=self.config.model_id,
            model_version=self.config.version,
            device=self.device,
            seconds=time.perf_counter() - t0,
        )
        return SegmentationResult(mask, box.start, provenance, confidence, warnings, unclosed(mask, box, volume.shape))


def _local(seed: tuple[int, int, int], box: tuple[slice, ...]) -> tuple[int, int, int]:
    return (seed[0] - box[0].start, seed[1] - box[1].start, seed[2] - box[2].start)


def outline_confidence(
    prob: npt.NDArray[np.float32],
    mask: npt.NDArray[np.bool_],
    seed: tuple[int, int, int],
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
    sharpness: tuple[float, float] = (0.80, 0.90),
) -> tuple[float, list[str], bool]:
    """Confidence 0..1, the reasons it is low, and whether the outline spreads into a faint halo, from the
    probability map around the mask. ``sharpness``: the soft Dice given confidence 0 and 1 (0.5 half-way)."""

    sp = (float(spacing[0]), float(spacing[1]), float(spacing[2]))
    search = tuple(max(1, round(2.0 / s)) for s in sp)
    # Every voxel these measures look at lies within 2 voxels (the dilation) or the search window of mask and seed.
    box = lesion_box(mask, seed, tuple(max(2, r) for r in search))  # type: ignore[arg-type]
    prob, mask, seed = prob[box], mask[box], _local(seed, box)
    near = dilate_cross(mask, iterations=2)
    p = prob[near].astype(np.float64)
    m = mask[near]
    soft_dice = float(2 * (p * m).sum() / (p.sum() + m.sum() + 1e-9))
    low, high = sharpness
    confidence = float(np.clip((soft_dice - low) / (high - low), 0.0, 1.0))
    reasons: list[str] = []
    if confidence < 0.5:
        reasons.append(f"the outline is uncertain (boundary sharpness {soft_dice:.2f}): check it")
    if float(prob[seed]) < 0.5:
        confidence = min(confidence, 0.4)
        reasons.append("the click itself is not clearly inside the lesion")
    core = component_at((prob >= CORE_PROBABILITY) & mask, seed, search)  # type: ignore[arg-type]
    far = 1.0
    if core.any():
        far = float((mask & farther_than(core, sp, FAR_MM)).sum() / mask.sum())
    halo = far > FAR_FRACTION
    if halo:
        confidence = min(confidence, 0.4)
        reasons.append(
            f"the outline spreads into a faint region ({far:.0%} of it more than {FAR_MM:g} mm outside the "
            "clearly detected lesion): a leak into a neighbouring structure? check it"
        )
    return confidence, reasons, halo


def trim_to_core(
    prob: npt.NDArray[np.float32],
    mask: npt.NDArray[np.bool_],
    seed: tuple[int, int, int],
    spacing: tuple[float, float, float],
) -> npt.NDArray[np.bool_]:
    """The part of ``mask`` within ``FAR_MM`` of its core (probability >= ``CORE_PROBABILITY``, connected to the
    click), connected to the click; the mask unchanged when there is no core."""

    sp = (float(spacing[0]), float(spacing[1]), float(spacing[2]))
    search = tuple(max(1, round(2.0 / s)) for s in sp)
    box = lesion_box(mask, seed, search)  # type: ignore[arg-type]
    local_prob, local_mask, local_seed = prob[box], mask[box], _local(seed, box)
    core = component_at((local_prob >= CORE_PROBABILITY) & local_mask, local_seed, search)  # type: ignore[arg-type]
    if not core.any():
        return mask
    near = local_mask & ~farther_than(core, sp, FAR_MM)
    trimmed = component_at(near, local_seed, search)  # type: ignore[arg-type]
    if not trimmed.any():
        return mask
    out = np.zeros_like(mask)
    out[box] = trimmed
    return out


REFINE_BAND_MM = 3.0
REFINE_MIN_CONTRAST_HU = 15.0


def refine_edges(
    image_hu: npt.NDArray[np.float32],
    prob: npt.NDArray[np.float32],
    mask: npt.NDArray[np.bool_],
    seed: tuple[int, int, int],
    spacing: tuple[float, float, float],
) -> npt.NDArray[np.bool_]:
    """Place the network's outline on the image's edge: within ``REFINE_BAND_MM`` of the mask, keep the voxels whose
    (1 mm smoothed) density is nearer the lesion's core than the surrounding shell's, connected to the click.

    The network decides *which* structure is the lesion (not the vessel, not the organ); the half-way density between
    lesion and surroundings is where the edge of a blurred step lies, which the network's 0.5 level only approximates.
    Skipped when the contrast is under ``REFINE_MIN_CONTRAST_HU`` (no edge to find)."""
    from scipy import ndimage

    sp = (float(spacing[0]), float(spacing[1]), float(spacing[2]))
    smooth = ndimage.gaussian_filter(image_hu, [1.0 / s for s in sp])
    grids = np.ogrid[tuple(slice(0, n) for n in mask.shape)]
    r2 = sum(((g - c) * s) ** 2 for g, c, s in zip(grids, seed, sp, strict=True))
    core = mask & (r2 <= 2.5**2)  # the lesion's density: where the reader clicked
    if core.sum() < 3:
        core = mask
    dist_out = ndimage.distance_transform_edt(~mask, sampling=sp)
    shell = (dist_out > 1.5) & (dist_out <= 1.5 + REFINE_BAND_MM)
    if shell.sum() < 3:
        return mask
    mu_in, mu_out = float(np.median(smooth[core])), float(np.median(smooth[shell]))
    if abs(mu_in - mu_out) < REFINE_MIN_CONTRAST_HU:
        return mask
    mid = (mu_in + mu_out) / 2
    lesion_like = smooth > mid if mu_in > mu_out else smooth < mid
    band = dist_out <= REFINE_BAND_MM
    refined = component_at(lesion_like & band, seed, (1, 1, 1))
    if refined.sum() < 0.3 * mask.sum():
        return mask  # the click is in an atypical part (e.g. necrosis): trust the network
    for k in np.flatnonzero(refined.any(axis=(1, 2))):
        refined[k] = ndimage.binary_fill_holes(refined[k])
    return np.asarray(refined)
