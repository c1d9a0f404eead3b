"""`Volume`: CT voxels with their patient-space geometry and the DICOM identifiers that go with them.

Conventions (the one place that maps voxels to patient millimetres):

* ``array`` is indexed ``[k, j, i]`` = ``[slice, row, column]``, values in Hounsfield units.
* ``spacing`` is ``(slice, row, column)`` in mm. ``spacing[0]`` is the nominal slice spacing; the exact position of
  every slice along the normal is in ``slice_offsets_mm`` (uneven spacing stays exact, nothing is resampled).
* ``origin`` is the patient position (DICOM LPS, mm) of the centre of voxel ``(0, 0, 0)``.
* ``direction`` is a 3x3 matrix whose *columns* are the unit vectors, in patient LPS, along the array axes
  ``(slice, row, column)``: column 2 is ImageOrientationPatient[0:3] (along a row, increasing column index), column 1 is
  ImageOrientationPatient[3:6] (down a column, increasing row index), column 0 is the slice normal in the direction of
  increasing slice index.

So ``patient = origin + direction @ (offset_along_slice, j * row_spacing, i * column_spacing)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class PatientIdentity:
    """Who the images belong to. Never shown to a blinded reader (see `imaging.deid`)."""

    patient_id: str = ""
    patient_name: str = ""
    birth_date: str = ""
    sex: str = ""
    accession_number: str = ""
    institution: str = ""
    referring_physician: str = ""


@dataclass(frozen=True)
class SeriesInfo:
    """Identifiers and acquisition facts of one series (safe to show a blinded reader, apart from the dates)."""

    study_uid: str
    series_uid: str
    frame_of_reference_uid: str = ""
    modality: str = "CT"
    study_date: date | None = None
    acquisition_date: date | None = None
    study_description: str = ""
    series_description: str = ""
    series_number: int | None = None
    slice_thickness_mm: float | None = None
    manufacturer: str = ""
    sop_class_uid: str = ""
    #: SOP Instance UID of every slice, in array order (for a multi-frame object: the same UID repeated).
    sop_instance_uids: tuple[str, ...] = ()
    #: Frame number (1-based) of every slice within its instance; 1 for single-frame instances.
    frame_numbers: tuple[int, ...] = ()
    #: InstanceNumber of every slice's instance, in array order (None where the file has none): what a PACS viewer
    #: calls the image, for a reader cross-checking a slice there.
    instance_numbers: tuple[int | None, ...] = ()


#: `LoadWarning.code` of a slice the loader could not decode
UNDECODABLE_SLICE = "undecodable-slice"


@dataclass(frozen=True)
class LoadWarning:
    """Something the loader noticed and the reader should know. ``where`` names the file or slice position."""

    code: str
    message: str
    where: str = ""
    #: the slice (array index k) it concerns, where it concerns one
    slice_index: int | None = None

    def __str__(self) -> str:
        return f"{self.message} ({self.where})" if self.where else self.message


@dataclass
class Volume:
    """A CT series as a 3-D array in HU with its geometry. See the module docstring for the conventions."""

    array: npt.NDArray[np.generic]
    spacing: tuple[float, float, float]
    origin: npt.NDArray[np.float64]
    direction: npt.NDArray[np.float64]
    info: SeriesInfo
    patient: PatientIdentity = field(default_factory=PatientIdentity)
    slice_offsets_mm: npt.NDArray[np.float64] | None = None
    warnings: list[LoadWarning] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.origin = np.asarray(self.origin, dtype=np.float64).reshape(3)
        self.direction = np.asarray(self.direction, dtype=np.float64).reshape(3, 3)
        if self.array.ndim != 3:
            raise ValueError(f"a Volume needs a 3-D array, got shape {self.array.shape}")
        if self.slice_offsets_mm is None:
            self.slice_offsets_mm = np.arange(self.array.shape[0], dtype=np.float64) * float(self.spacing[0])
        else:
            self.slice_offsets_mm = np.asarray(self.slice_offsets_mm, dtype=np.float64)
            if self.slice_offsets_mm.shape != (self.array.shape[0],):
                raise ValueError("slice_offsets_mm needs one offset per slice")

    @property
    def undecodable_slices(self) -> frozenset[int]:
        """The slices that could not be decoded (filled with air by the loader, each also a warning)."""
        return frozenset(w.slice_index for w in self.warnings
                         if w.code == UNDECODABLE_SLICE and w.slice_index is not None)

    # ---- shape -------------------------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        s = self.array.shape
        return (int(s[0]), int(s[1]), int(s[2]))

    @property
    def normal(self) -> npt.NDArray[np.float64]:
        return np.asarray(self.direction[:, 0])

    # ---- voxel <-> patient mm ----------------------------------------------------------------------------------
    def _slice_offset(self, k: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Offset along the normal for (possibly fractional) slice indices; linear between and beyond slices."""
        offs = self.slice_offsets_mm
        assert offs is not None
        n = offs.shape[0]
        if n == 1:
            return k * float(self.spacing[0])
        idx = np.arange(n, dtype=np.float64)
        inside = np.interp(k, idx, offs)
        lo = offs[0] + (k - 0) * (offs[1] - offs[0])
        hi = offs[-1] + (k - (n - 1)) * (offs[-1] - offs[-2])
        return np.where(k < 0, lo, np.where(k > n - 1, hi, inside))

    def _slice_index(self, offset: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        offs = self.slice_offsets_mm
        assert offs is not None
        n = offs.shape[0]
        if n == 1:
            return offset / float(self.spacing[0])
        idx = np.arange(n, dtype=np.float64)
        inside = np.interp(offset, offs, idx)
        lo = (offset - offs[0]) / (offs[1] - offs[0])
        hi = (n - 1) + (offset - offs[-1]) / (offs[-1] - offs[-2])
        return np.where(offset < offs[0], lo, np.where(offset > offs[-1], hi, inside))

    def voxel_to_patient(self, kji: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """(k, j, i) voxel indices (fractional allowed; shape (3,) or (N, 3)) -> LPS patient mm."""
        v = np.asarray(kji, dtype=np.float64)
        flat = v.reshape(-1, 3)
        mm = np.stack(
            [self._slice_offset(flat[:, 0]), flat[:, 1] * self.spacing[1], flat[:, 2] * self.spacing[2]], axis=1
        )
        out = self.origin + mm @ self.direction.T
        return out.reshape(v.shape)

    def patient_to_voxel(self, xyz: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """LPS patient mm (shape (3,) or (N, 3)) -> fractional (k, j, i) voxel indices."""
        p = np.asarray(xyz, dtype=np.float64)
        flat = p.reshape(-1, 3)
        # direction is orthonormal for CT (checked by the loader); the inverse is its transpose.
        local = (flat - self.origin) @ np.linalg.inv(self.direction).T
        kji = np.stack(
            [self._slice_index(local[:, 0]), local[:, 1] / self.spacing[1], local[:, 2] / self.spacing[2]], axis=1
        )
        return kji.reshape(p.shape)

    def nearest_voxel(self, xyz: npt.ArrayLike) -> tuple[int, int, int]:
        k, j, i = np.rint(self.patient_to_voxel(xyz)).astype(int).reshape(3)
        return int(k), int(j), int(i)

    def contains_voxel(self, kji: tuple[int, int, int]) -> bool:
        return all(0 <= int(x) < n for x, n in zip(kji, self.shape, strict=True))

    def slice_position_mm(self, k: int) -> float:
        """Position of slice k along the normal as viewers show it (its centre projected on the normal)."""
        return float(np.dot(self.voxel_to_patient((k, 0, 0)), self.normal))

    def sop_instance_uid(self, k: int) -> str:
        uids = self.info.sop_instance_uids
        return uids[k] if 0 <= k < len(uids) else ""
