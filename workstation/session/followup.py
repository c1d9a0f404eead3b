"""Where is each baseline lesion now? Proposals for the follow-up click.

A lesion's position at an earlier timepoint (the middle of its long axis) is carried to the current series by patient
position; where the two series do not share a frame of reference, or the patient lies differently, a rigid registration
(SimpleITK, on down-sampled images, run in a worker) refines it. The registration is kept only where it helps: when it
lowers the image mismatch compared with patient position alone.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from imaging.cancel import CancelToken, ProgressCallback, report
from imaging.volume import Volume
from workstation.read_model import Measurement, Point, Read


@dataclass(frozen=True)
class LesionProposal:
    lesion_id: str
    point_mm: Point
    #: "patient position" or "registration"
    method: str
    #: the timepoint whose measurement it came from
    from_timepoint: int


@dataclass(frozen=True)
class RigidMapping:
    """Maps a point of the earlier series into the current one. ``method`` says how it was obtained."""

    matrix: npt.NDArray[np.float64]
    translation: npt.NDArray[np.float64]
    method: str

    def apply(self, p: Point) -> Point:
        q = self.matrix @ np.asarray(p, dtype=np.float64) + self.translation
        return (float(q[0]), float(q[1]), float(q[2]))

    def invert(self, q: Point) -> Point:
        """The earlier series' point that `apply` maps to ``q``."""
        p = np.linalg.solve(self.matrix, np.asarray(q, dtype=np.float64) - self.translation)
        return (float(p[0]), float(p[1]), float(p[2]))


IDENTITY = RigidMapping(np.eye(3), np.zeros(3), "patient position")


SeedFinder = Callable[[Measurement], "Point | None"]


def mask_seed_point(mask: npt.NDArray[np.bool_], offset: tuple[int, int, int], volume: Volume) -> Point:
    """A point inside the lesion: the mask voxel nearest to the mask's centroid (a crescent's centroid is outside)."""
    voxels = np.argwhere(mask).astype(np.float64)
    if voxels.size == 0:
        raise ValueError("empty mask")
    centroid = voxels.mean(axis=0)
    inside = voxels[int(np.argmin(((voxels - centroid) ** 2).sum(axis=1)))] + np.asarray(offset, dtype=np.float64)
    p = volume.voxel_to_patient(inside)
    return (float(p[0]), float(p[1]), float(p[2]))


def lesion_centres(read: Read, before_tp: int, seed_for: SeedFinder | None = None) -> dict[str, tuple[int, Point]]:
    """Where each lesion was last measured or seen at or before timepoint ``before_tp``: a point inside its mask when
    ``seed_for`` finds one, else the middle of its long axis; for a lesion not measured (a non-target), where the
    reader saw it (`LesionAssessment.point_mm`)."""
    out: dict[str, tuple[int, Point]] = {}
    for lesion_id in read.lesions:
        for idx in range(before_tp, -1, -1):
            a = read.timepoints[idx].assessments.get(lesion_id)
            m = next((m for m in (a.measurements if a else []) if m.long_axis_endpoints), None)
            if (m is None or m.long_axis_endpoints is None) and a is not None and a.point_mm is not None:
                out[lesion_id] = (idx, a.point_mm)
                break
            if m is None or m.long_axis_endpoints is None:
                continue
            seed = seed_for(m) if seed_for is not None else None
            if seed is None:
                ends = m.long_axis_endpoints
                c = (np.asarray(ends[0]) + np.asarray(ends[1])) / 2.0
                seed = (float(c[0]), float(c[1]), float(c[2]))
            out[lesion_id] = (idx, seed)
            break
    return out


def propose_positions(
    read: Read,
    current_tp: int,
    mapping: RigidMapping = IDENTITY,
    seed_for: SeedFinder | None = None,
    baseline_to: Mapping[int, RigidMapping] | None = None,
) -> list[LesionProposal]:
    """Where each lesion measured before ``current_tp`` should be now; ``mapping`` is baseline -> current.

    A lesion measured at baseline starts from its baseline position, so that one registration, baseline to current,
    serves every lesion (lesions change size about their own centre, so the centre stays a good seed for the click).
    A lesion first measured later (a new lesion) starts from its latest position, taken back to baseline space with
    ``baseline_to`` (baseline -> that timepoint; patient position where unknown), then forward to the current one.
    """
    if current_tp <= 0:
        return []
    at_baseline = lesion_centres(read, 0, seed_for)
    latest = lesion_centres(read, current_tp - 1, seed_for)
    out: list[LesionProposal] = []
    for lesion_id in read.lesions:
        if lesion_id in at_baseline:
            tp, point = at_baseline[lesion_id]
        elif lesion_id in latest:
            tp, later_point = latest[lesion_id]
            point = (baseline_to or {}).get(tp, IDENTITY).invert(later_point)
        else:
            continue
        out.append(LesionProposal(lesion_id, mapping.apply(point), mapping.method, tp))
    return out


def _sitk() -> Any:
    return importlib.import_module("SimpleITK")


def _to_sitk(volume: Volume, shrink: int) -> Any:
    sitk = _sitk()

    img = sitk.GetImageFromArray(np.asarray(volume.array, dtype=np.float32))
    img.SetSpacing((float(volume.spacing[2]), float(volume.spacing[1]), float(volume.spacing[0])))
    img.SetOrigin(tuple(float(x) for x in volume.origin))
    d = volume.direction
    # SimpleITK's axes are (x, y, z) = (column, row, slice): their unit vectors are direction's columns 2, 1, 0.
    cols = np.stack([d[:, 2], d[:, 1], d[:, 0]], axis=1)
    img.SetDirection(tuple(float(x) for x in cols.reshape(-1)))
    img = sitk.Clamp(img, sitk.sitkFloat32, -200.0, 300.0)  # soft tissue drives the match, not air/bone edges
    return sitk.Shrink(img, [shrink, shrink, max(1, shrink // 2)])


def register_rigid(
    earlier: Volume,
    current: Volume,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    shrink: int = 4,
    iterations: int = 60,
) -> RigidMapping:
    """A rigid map from ``earlier`` to ``current`` patient space; patient position where registration does not help."""
    sitk = _sitk()

    if cancel is not None:
        cancel.raise_if_cancelled()
    report(progress, 0, iterations, "registering the timepoints")
    fixed = _to_sitk(current, shrink)
    moving = _to_sitk(earlier, shrink)
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMeanSquares()
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    reg.SetMetricSamplingPercentage(0.2, seed=7)
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsRegularStepGradientDescent(4.0, 0.05, iterations, relaxationFactor=0.6)
    reg.SetOptimizerScalesFromPhysicalShift()
    start = sitk.Euler3DTransform()
    reg.SetInitialTransform(start, inPlace=False)
    reg.SetShrinkFactorsPerLevel([2, 1])
    reg.SetSmoothingSigmasPerLevel([2.0, 1.0])

    def on_iteration() -> None:
        if cancel is not None and cancel.cancelled:
            reg.StopRegistration()
        report(progress, min(reg.GetOptimizerIteration(), iterations), iterations, "registering the timepoints")

    reg.AddCommand(sitk.sitkIterationEvent, on_iteration)
    try:
        final = reg.Execute(fixed, moving)
    except RuntimeError:
        return IDENTITY  # registration did not converge: patient position alone is the honest answer
    if cancel is not None:
        cancel.raise_if_cancelled()
    metric_after = reg.GetMetricValue()
    check = sitk.ImageRegistrationMethod()
    check.SetMetricAsMeanSquares()
    check.SetMetricSamplingStrategy(check.RANDOM)
    check.SetMetricSamplingPercentage(0.2, seed=7)
    check.SetInterpolator(sitk.sitkLinear)
    check.SetInitialTransform(sitk.Euler3DTransform())
    metric_before = check.MetricEvaluate(fixed, moving)
    report(progress, iterations, iterations, "registration done")
    if not metric_after < 0.9 * metric_before:
        return IDENTITY
    # The transform maps current (fixed) points to earlier (moving) points; lesions travel the other way: invert it.
    inverse = final.GetInverse()
    origin_image = np.asarray(inverse.TransformPoint((0.0, 0.0, 0.0)))
    matrix = np.stack([np.asarray(inverse.TransformPoint(tuple(e))) - origin_image for e in np.eye(3)], axis=1)
    return RigidMapping(matrix, origin_image, "registration")
