"""Order the frames of a series along the slice normal and derive its exact geometry, with what looked wrong.

Nothing is resampled: every slice keeps its exact position (``offsets_mm``). Duplicates are dropped, gaps and uneven
spacing are reported, gantry tilt is reported and kept exact (the slice axis then follows the tilt, so that
``Volume.voxel_to_patient`` reproduces every slice's ImagePositionPatient), mixed orientations and slices that do not
stack on a line are refused with `DicomLoadError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from imaging.discovery import FrameHeader, InstanceHeader, SeriesRecord
from imaging.errors import DicomLoadError
from imaging.volume import LoadWarning

#: positions closer than this along the normal are the same slice (mm)
DUPLICATE_TOLERANCE_MM = 0.01
#: in-plane drift of the last slice relative to the first above which the stack is tilted (mm); below it the drift
#: (rounding of ImagePositionPatient) is far under a pixel and the slice axis is the normal
TILT_TOLERANCE_MM = 0.05
#: slices further than this from the line through the stack make it unloadable (mm)
LINE_TOLERANCE_MM = 0.1


@dataclass(frozen=True)
class SliceRef:
    """One frame of one file, as it will sit in the array."""

    instance: InstanceHeader
    frame_index: int  # 0-based within the instance
    header: FrameHeader

    @property
    def where(self) -> str:
        if self.instance.number_of_frames > 1:
            return f"{self.instance.path} frame {self.frame_index + 1}"
        return str(self.instance.path)


@dataclass
class StackGeometry:
    """Sorted slices and the geometry `Volume` needs."""

    slices: list[SliceRef]
    origin: npt.NDArray[np.float64]
    direction: npt.NDArray[np.float64]
    spacing: tuple[float, float, float]
    offsets_mm: npt.NDArray[np.float64]
    #: position of every slice along the slice normal (mm), as viewers show it
    positions_mm: npt.NDArray[np.float64]
    warnings: list[LoadWarning] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int, int]:
        first = self.slices[0].instance
        return (len(self.slices), first.rows, first.columns)


def _examples(refs: list[SliceRef], n: int = 2) -> str:
    names = [r.where for r in refs[:n]]
    return ", ".join(names) + (f" and {len(refs) - n} more" if len(refs) > n else "")


def _group_by(refs: list[SliceRef], key: object) -> dict[object, list[SliceRef]]:
    groups: dict[object, list[SliceRef]] = {}
    for ref in refs:
        groups.setdefault(key(ref), []).append(ref)  # type: ignore[operator]
    return groups


def _majority_sop_class(refs: list[SliceRef], warnings: list[LoadWarning]) -> list[SliceRef]:
    """Keep the images of the series' main SOP class; others (a dose-report screen capture...) are left out."""
    classes = _group_by(refs, lambda r: r.instance.sop_class_uid)
    if len(classes) == 1:
        return refs
    main = max(classes.values(), key=len)
    for group in classes.values():
        if group is main:
            continue
        for r in group:
            warnings.append(
                LoadWarning(
                    "other-object",
                    f"image of another kind (SOP class {r.instance.sop_class_uid}) left out of the volume",
                    r.where,
                )
            )
    return main


def _check_uniform(refs: list[SliceRef], uid: str) -> None:
    colour = [r for r in refs if r.instance.samples_per_pixel != 1]
    if colour:
        raise DicomLoadError(
            f"series {uid}: colour images (SamplesPerPixel={colour[0].instance.samples_per_pixel}) in "
            f"{_examples(colour)}: not a CT volume"
        )
    sizes = _group_by(refs, lambda r: (r.instance.rows, r.instance.columns))
    if len(sizes) > 1:
        parts = "; ".join(f"{rc[0]}x{rc[1]} in {len(g)} slices ({_examples(g, 1)})" for rc, g in sizes.items())  # type: ignore[index]
        raise DicomLoadError(f"series {uid}: slices of different sizes: {parts}")
    no_spacing = [r for r in refs if r.header.pixel_spacing is None]
    if no_spacing:
        raise DicomLoadError(f"series {uid}: no PixelSpacing in {_examples(no_spacing)}: cannot measure in mm")
    bad = [r for r in refs if min(r.header.pixel_spacing or (0.0,)) <= 0]
    if bad:
        value = list(bad[0].header.pixel_spacing or ())
        raise DicomLoadError(f"series {uid}: impossible PixelSpacing {value} in {_examples(bad)}")
    spacings = _group_by(refs, lambda r: tuple(round(v, 4) for v in r.header.pixel_spacing or ()))
    if len(spacings) > 1:
        parts = "; ".join(f"{list(ps)} mm in {len(g)} slices ({_examples(g, 1)})" for ps, g in spacings.items())  # type: ignore[call-overload]
        raise DicomLoadError(f"series {uid}: slices with different pixel spacing: {parts}")


def _orientation(refs: list[SliceRef], uid: str) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Unit row and column directions shared by every slice; refuses mixed orientations."""
    groups: list[tuple[npt.NDArray[np.float64], list[SliceRef]]] = []
    for ref in refs:
        iop = np.asarray(ref.header.orientation, dtype=np.float64)
        for known, members in groups:
            if np.allclose(known, iop, atol=1e-3):
                members.append(ref)
                break
        else:
            groups.append((iop, [ref]))
    if len(groups) > 1:
        parts = "; ".join(
            f"{len(m)} slices with ImageOrientationPatient {[round(float(v), 3) for v in iop]} ({_examples(m, 1)})"
            for iop, m in groups
        )
        raise DicomLoadError(f"series {uid}: mixed slice orientations, not loaded as one volume: {parts}")
    iop = groups[0][0]
    row, col = iop[:3], iop[3:]
    if abs(np.linalg.norm(row) - 1) > 1e-2 or abs(np.linalg.norm(col) - 1) > 1e-2 or abs(np.dot(row, col)) > 1e-2:
        raise DicomLoadError(
            f"series {uid}: ImageOrientationPatient {[round(float(v), 4) for v in iop]} is not two perpendicular unit "
            f"vectors ({refs[0].where})"
        )
    row = row / np.linalg.norm(row)
    col = col - np.dot(col, row) * row
    return row, col / np.linalg.norm(col)


def _drop_duplicates(
    refs: list[SliceRef], d: npt.NDArray[np.float64], warnings: list[LoadWarning], uid: str
) -> tuple[list[SliceRef], npt.NDArray[np.float64]]:
    """Keep one slice per position. Many distinct images at the same positions mean several volumes: refused."""
    keep = [0]
    distinct: list[SliceRef] = []
    for k in range(1, len(refs)):
        if abs(d[k] - d[keep[-1]]) < DUPLICATE_TOLERANCE_MM:
            kept, dropped = refs[keep[-1]], refs[k]
            same = dropped.instance.sop_instance_uid == kept.instance.sop_instance_uid and (
                dropped.frame_index == kept.frame_index
            )
            if not same:
                distinct.append(dropped)
            why = "same SOP Instance UID" if same else "same position, different SOP Instance UID"
            warnings.append(
                LoadWarning(
                    "duplicate-slice",
                    f"duplicate slice at {d[k]:.2f} mm dropped ({why}; kept {kept.where})",
                    dropped.where,
                )
            )
            continue
        keep.append(k)
    if len(keep) == 1 and distinct:
        raise DicomLoadError(
            f"series {uid}: all {len(refs)} images lie at one position (e.g. {_examples(distinct)}): a stack of "
            "images at one place, not a volume (their ImagePositionPatient is the same); not loaded"
        )
    if len(distinct) > 2 and len(distinct) >= len(keep) // 4:
        raise DicomLoadError(
            f"series {uid}: {len(distinct)} images lie at positions that another image already takes (of "
            f"{len(keep)} positions; e.g. {_examples(distinct)}): several phases or reconstructions in one series? "
            "not loaded as one volume"
        )
    return [refs[k] for k in keep], d[keep]


def _spacing_warnings(
    refs: list[SliceRef], d: npt.NDArray[np.float64], step: npt.NDArray[np.float64], warnings: list[LoadWarning]
) -> None:
    """Warn about gaps that are whole missing slices, then about any other uneven step."""
    nominal = float(np.median(step))
    tolerance = max(0.01, 0.01 * nominal)
    gaps: set[int] = set()
    for k, gap in enumerate(step):
        ratio = float(gap) / nominal
        missing = round(ratio) - 1
        if missing >= 1 and abs(ratio - round(ratio)) < 0.1:
            gaps.add(k)
            warnings.append(
                LoadWarning(
                    "missing-slice",
                    f"{missing} slice(s) missing between slice {k} at {d[k]:.2f} mm and slice {k + 1} at "
                    f"{d[k + 1]:.2f} mm (gap {gap:.2f} mm, nominal {nominal:.2f} mm)",
                    f"after {refs[k].where}",
                )
            )
    irregular = [k for k in np.flatnonzero(np.abs(step - nominal) > tolerance) if k not in gaps]
    if irregular:
        k = int(irregular[0])
        lo, hi = float(step[irregular].min()), float(step[irregular].max())
        warnings.append(
            LoadWarning(
                "uneven-spacing",
                f"uneven slice spacing: {len(irregular)} step(s) of {lo:.3f} to {hi:.3f} mm "
                f"(nominal {nominal:.3f} mm), first between slice {k} at {d[k]:.2f} mm and slice {k + 1} at "
                f"{d[k + 1]:.2f} mm; exact positions kept, nothing resampled",
                refs[k + 1].where,
            )
        )


def stack_geometry(record: SeriesRecord) -> StackGeometry:
    """Sort the frames of ``record`` along the normal and derive origin, direction, spacing and exact offsets."""
    uid = record.series_uid
    refs = [SliceRef(inst, f, header) for inst in record.instances for f, header in enumerate(inst.frames)]
    if not refs:
        raise DicomLoadError(f"series {uid}: no image frames")
    warnings: list[LoadWarning] = []
    placed = [r for r in refs if r.header.position is not None and r.header.orientation is not None]
    if not placed:
        raise DicomLoadError(
            f"series {uid}: no ImagePositionPatient/ImageOrientationPatient in {_examples(refs)}: "
            "the slices cannot be placed in patient space"
        )
    for r in refs:
        if r.header.position is None or r.header.orientation is None:
            warnings.append(
                LoadWarning(
                    "no-position", "slice without a usable ImagePositionPatient/ImageOrientationPatient (missing, or "
                    "not finite numbers) left out", r.where
                )
            )
    refs = _majority_sop_class(placed, warnings)
    _check_uniform(refs, uid)
    row, col = _orientation(refs, uid)
    normal = np.cross(row, col)
    positions = np.array([r.header.position for r in refs], dtype=np.float64)
    d = positions @ normal
    order = sorted(
        range(len(refs)),
        key=lambda k: (
            round(float(d[k]), 4),
            refs[k].instance.instance_number or 0,
            str(refs[k].instance.path),
            refs[k].frame_index,
        ),
    )
    refs = [refs[k] for k in order]
    d = d[order]
    refs, d = _drop_duplicates(refs, d, warnings, uid)
    positions = np.array([r.header.position for r in refs], dtype=np.float64)

    slice_axis = normal
    if len(refs) > 1:
        along = d - d[0]
        drift = positions - positions[0] - np.outer(along, normal)  # in-plane displacement of each slice
        per_mm = np.linalg.lstsq(along[:, None], drift, rcond=None)[0][0]  # drift per mm along the normal
        residual = np.linalg.norm(drift - np.outer(along, per_mm), axis=1)
        worst = int(np.argmax(residual))
        if residual[worst] > LINE_TOLERANCE_MM:
            raise DicomLoadError(
                f"series {uid}: slice positions do not lie on one line ({refs[worst].where} is "
                f"{residual[worst]:.2f} mm off): not loaded as one volume"
            )
        if float(np.linalg.norm(per_mm)) * float(along[-1]) > TILT_TOLERANCE_MM:
            stacking = normal + per_mm
            angle = math.degrees(math.atan(float(np.linalg.norm(per_mm))))
            slice_axis = stacking / np.linalg.norm(stacking)
            warnings.append(
                LoadWarning(
                    "gantry-tilt",
                    f"gantry tilt of {angle:.1f} degrees: slices are kept as acquired, not resampled; in-plane "
                    "measurements are exact, the slice axis is oblique to the image plane",
                    str(refs[0].instance.path.parent),
                )
            )
        # distance along the slice axis: equal to the distance along the normal unless the gantry is tilted
        offsets = along * float(np.linalg.norm(normal + per_mm)) if slice_axis is not normal else along
        step = np.diff(offsets)
        _spacing_warnings(refs, d, step, warnings)
        nominal = float(np.median(step))
    else:
        offsets = np.zeros(1)
        nominal = refs[0].header.slice_thickness or 1.0
    row_spacing, column_spacing = refs[0].header.pixel_spacing  # type: ignore[misc]
    direction = np.column_stack([slice_axis, col, row])
    if record.modality and record.modality != "CT":
        warnings.append(
            LoadWarning("not-ct", f"modality {record.modality}: values are not Hounsfield units", record.series_uid)
        )
    return StackGeometry(
        slices=refs,
        origin=positions[0].copy(),
        direction=direction,
        spacing=(nominal, float(row_spacing), float(column_spacing)),
        offsets_mm=np.asarray(offsets, dtype=np.float64),
        positions_mm=np.asarray(d, dtype=np.float64),
        warnings=warnings,
    )
