"""Test data made by the tests: a small CT phantom with spherical and ellipsoidal lesions, and a thresholding
segmenter standing in for an engine (the real engines are tested in tests/segmentation)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from imaging.cancel import CancelToken
from imaging.volume import SeriesInfo, Volume
from segmentation.base import PointMM, Provenance, SegmentationError, SegmentationHints, SegmentationResult


@dataclass(frozen=True)
class PhantomLesion:
    centre_mm: tuple[float, float, float]
    radii_mm: tuple[float, float, float]  # x, y, z semi-axes


def phantom_volume(
    lesions: list[PhantomLesion],
    shape: tuple[int, int, int] = (40, 128, 128),
    spacing: tuple[float, float, float] = (2.5, 1.0, 1.0),
    shift_mm: tuple[float, float, float] = (0.0, 0.0, 0.0),
    uid: str = "1.2.3",
    seed: int = 0,
) -> Volume:
    """Liver-like background (60 HU) in a body (air outside), hypodense lesions (-10 HU), axial head-first supine.

    ``shift_mm`` moves the patient (the anatomy and lesions) in LPS, as a repositioning at follow-up would.
    """
    n, rows, cols = shape
    origin = np.array([-cols / 2 * spacing[2], -rows / 2 * spacing[1], 0.0])
    k, j, i = np.meshgrid(np.arange(n), np.arange(rows), np.arange(cols), indexing="ij")
    x = origin[0] + i * spacing[2] - shift_mm[0]
    y = origin[1] + j * spacing[1] - shift_mm[1]
    z = origin[2] + k * spacing[0] - shift_mm[2]
    rng = np.random.default_rng(seed)
    arr = np.full(shape, -1000.0, dtype=np.float32)
    body = (x / (cols * 0.45 * spacing[2])) ** 2 + (y / (rows * 0.4 * spacing[1])) ** 2 <= 1.0
    arr[body] = 60.0
    arr[body & (y < -rows * 0.2 * spacing[1]) & (np.abs(x) < 10)] = 400.0  # a "vertebra" for registration
    for les in lesions:
        cx, cy, cz = les.centre_mm
        rx, ry, rz = les.radii_mm
        inside = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 + ((z - cz) / rz) ** 2 <= 1.0
        arr[inside] = -10.0
    arr += rng.normal(0, 4.0, shape).astype(np.float32)
    info = SeriesInfo(
        study_uid=uid + ".1",
        series_uid=uid + ".2",
        frame_of_reference_uid="1.2.3.9",
        slice_thickness_mm=spacing[0],
        sop_instance_uids=tuple(f"{uid}.3.{kk}" for kk in range(n)),
        frame_numbers=(1,) * n,
    )
    # columns: slice normal (+z, towards the head), down a column (+y, posterior), along a row (+x, patient left)
    direction = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    return Volume(np.rint(arr).astype(np.int16), spacing, origin, direction, info)


class ThresholdSegmenter:
    """Connected voxels below 25 HU around the click: exact for the phantom's lesions."""

    name = "threshold-test"

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.calls = 0

    def segment(
        self,
        volume: Volume,
        seed_mm: PointMM,
        hints: SegmentationHints | None = None,
        cancel: CancelToken | None = None,
    ) -> SegmentationResult:
        self.calls += 1
        time.sleep(self.delay_s)
        k, j, i = volume.nearest_voxel(seed_mm)
        arr = np.asarray(volume.array)
        low = (arr < 25) & (arr > -300)
        if not volume.contains_voxel((k, j, i)) or not low[k, j, i]:
            raise SegmentationError("no lesion under the click")
        labels, _ = ndimage.label(low)
        mask = labels == labels[k, j, i]
        return SegmentationResult(mask, (0, 0, 0), Provenance(engine="threshold-test", model_id="test", seconds=0.0))
