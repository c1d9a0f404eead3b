"""The `Segmenter` interface: a click on a lesion -> a 3-D mask with its provenance.

Engines live in their own modules; `segmentation.engines.create_segmenter(name)` is the one place that names them.
torch and monai are imported lazily, inside the MONAI engine only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from imaging.cancel import CancelToken
from imaging.volume import Volume

PointMM = tuple[float, float, float]


class SegmentationError(Exception):
    """A click that gives no mask (outside the volume or any lesion). The message says why, for the reader."""


@dataclass(frozen=True)
class SegmentationHints:
    """What the reader told us besides the click."""

    is_lymph_node: bool = False
    #: A line the reader drew across the lesion (two points in patient mm), e.g. a rough long axis.
    line_mm: tuple[PointMM, PointMM] | None = None


@dataclass(frozen=True)
class Provenance:
    """Where a suggestion came from, kept with every measurement for audit and export."""

    engine: str  # "monai" | "classical"
    model_id: str | None = None
    model_version: str | None = None
    device: str = "cpu"
    seconds: float = 0.0


@dataclass
class SegmentationResult:
    """A mask on a crop of the volume: ``mask[k, j, i]`` is voxel ``offset + (k, j, i)`` of the volume."""

    mask: npt.NDArray[np.bool_]
    offset: tuple[int, int, int]
    provenance: Provenance
    #: 0..1; below `LOW_CONFIDENCE` the app asks the reader to check.
    confidence: float = 1.0
    warnings: list[str] = field(default_factory=list)
    #: The outline runs to the edge of the region the engine analysed or of the images: it is not closed (a leak, a
    #: lesion larger than the engine can see, or one cut by the scan).
    unbounded: bool = False

    LOW_CONFIDENCE = 0.5

    @property
    def low_confidence(self) -> bool:
        return self.confidence < self.LOW_CONFIDENCE

    def full_mask(self, shape: tuple[int, int, int]) -> npt.NDArray[np.bool_]:
        out = np.zeros(shape, dtype=bool)
        k, j, i = self.offset
        dk, dj, di = self.mask.shape
        out[k : k + dk, j : j + dj, i : i + di] = self.mask
        return out


class Segmenter(Protocol):
    """One engine. ``name`` is what the reader and the audit trail see."""

    name: str

    def segment(
        self,
        volume: Volume,
        seed_mm: PointMM,
        hints: SegmentationHints | None = None,
        cancel: CancelToken | None = None,
    ) -> SegmentationResult: ...


def flag_undecodable_slices(volume: Volume, result: SegmentationResult) -> str | None:
    """Flag an outline made on a region that holds a slice the loader could not decode (shown as air,
    `Volume.undecodable_slices`), or lies next to one: the outline may stop at it, or the engine's view of the tissue
    be skewed by it (a classical outline halved by an air slice 20 mm away), so its diameters cannot be trusted.
    Adds the warning, makes the result low-confidence (the app then asks before accepting it) and returns the
    warning; None when clear."""
    bad = volume.undecodable_slices
    if not bad or not result.mask.any():
        return None
    lo, hi = result.offset[0] - 1, result.offset[0] + result.mask.shape[0]  # the region analysed, and one beyond
    near = sorted(k for k in bad if lo <= k <= hi)
    if not near:
        return None
    where = ", ".join(f"{volume.slice_position_mm(k):.1f}" for k in near)
    warning = (f"the region the outline was found in holds slice(s) at {where} mm that could not be decoded (shown "
               "as air): its diameters cannot be trusted; repair or retrieve the series again, or measure by hand on "
               "the good slices")
    result.warnings.insert(0, warning)
    result.confidence = min(result.confidence, SegmentationResult.LOW_CONFIDENCE - 0.01)
    return warning


def undecodable_click(volume: Volume, k: int) -> str | None:
    """Why a click on slice ``k`` finds nothing when the loader could not decode it (it is shown as air), else None."""
    if k not in volume.undecodable_slices:
        return None
    return (f"the click is on the slice at {volume.slice_position_mm(k):.1f} mm, which could not be decoded (it is "
            "shown as air): repair or retrieve the series again, or measure on another slice")
