"""Find the DICOM series under a folder, reading headers only, in one walk of the tree.

``discover(root)`` opens every file once, reads its header up to the pixel data (never the pixels), and groups the
images by patient / study / series. Each `SeriesRecord` carries what the loader needs to decode the pixels without
parsing the headers again (the file offset of the pixel data, the geometry of every frame), so loading a discovered
series costs little more than reading its bytes.

Files that are not DICOM, not images (SR, presentation states, DICOMDIR...), unreadable or truncated are skipped and
named: those that belong to a series become warnings of that series, the others are listed in ``Discovery.skipped``.
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset

from imaging.cancel import CancelToken, ProgressCallback, report
from imaging.errors import DicomLoadError
from imaging.header_parser import FastHeader, read_fast_header
from imaging.volume import LoadWarning, PatientIdentity

#: A file's header: pydicom's Dataset, or the fast reader's values (both answer ``.get(keyword)``).
Header = Dataset | FastHeader

#: Transfer syntaxes whose pixel data the loader reads straight from the file into the array.
NATIVE_LITTLE_ENDIAN = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"}
RLE_LOSSLESS = "1.2.840.10008.1.2.5"
DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
#: Image storage SOP classes a reader measures on (CT, enhanced CT, MR, enhanced MR, PET, enhanced PET): a header of
#: one of them without Rows/Columns is a damaged or truncated image, not another kind of object.
IMAGE_CLASSES = frozenset({
    "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.2.1", "1.2.840.10008.5.1.4.1.1.4",
    "1.2.840.10008.5.1.4.1.1.4.1", "1.2.840.10008.5.1.4.1.1.128", "1.2.840.10008.5.1.4.1.1.130",
})  # fmt: skip
#: The RescaleSlope of CT images is 1 (or a small factor); beyond these it is a damaged header, not a scale.
RESCALE_SLOPE_RANGE = (1e-3, 1e3)
_UNDEFINED_LENGTH = 0xFFFFFFFF
_PIXEL_DATA_TAG = 0x7FE00010

#: Header elements read at discovery (everything else is skipped without being parsed).
HEADER_TAGS = [
    "SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID",
    "PatientID", "PatientName", "PatientBirthDate", "PatientSex", "AccessionNumber", "InstitutionName",
    "ReferringPhysicianName", "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate", "StudyDescription",
    "SeriesDescription", "SeriesNumber", "Modality", "Manufacturer", "InstanceNumber", "ImagePositionPatient",
    "ImageOrientationPatient", "PixelSpacing", "SliceThickness", "SpacingBetweenSlices", "GantryDetectorTilt",
    "Rows", "Columns", "BitsAllocated", "BitsStored", "PixelRepresentation", "SamplesPerPixel",
    "PhotometricInterpretation", "RescaleSlope", "RescaleIntercept", "NumberOfFrames",
    "SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence", "ImageType",
]  # fmt: skip


@dataclass(frozen=True)
class FrameHeader:
    """Geometry and value mapping of one frame (a single-frame instance has one)."""

    position: tuple[float, float, float] | None
    orientation: tuple[float, float, float, float, float, float] | None
    pixel_spacing: tuple[float, float] | None
    rescale_slope: float = 1.0
    rescale_intercept: float = 0.0
    slice_thickness: float | None = None


@dataclass(frozen=True)
class InstanceHeader:
    """One image file as the loader needs it: where its pixels are and how to decode them."""

    path: Path
    sop_instance_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str
    rows: int
    columns: int
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    samples_per_pixel: int
    photometric: str
    instance_number: int | None
    #: file offset of the Pixel Data element's tag (-1 when unknown, e.g. deflated files).
    pixel_data_offset: int
    #: byte length of the Pixel Data value (``0xFFFFFFFF`` when encapsulated, -1 when unknown).
    pixel_data_length: int
    #: byte offset of the Pixel Data value itself (after the element header), -1 when unknown.
    pixel_value_offset: int
    frames: tuple[FrameHeader, ...]

    @property
    def number_of_frames(self) -> int:
        return len(self.frames)

    @property
    def frame_bytes(self) -> int:
        return self.rows * self.columns * self.samples_per_pixel * (self.bits_allocated // 8)

    @property
    def is_native(self) -> bool:
        return self.transfer_syntax_uid in NATIVE_LITTLE_ENDIAN and self.pixel_value_offset >= 0

    @property
    def is_encapsulated(self) -> bool:
        return self.pixel_data_length == _UNDEFINED_LENGTH


@dataclass
class SeriesRecord:
    """One series as found on disk: identifiers, files and what looked wrong while indexing it."""

    series_uid: str
    study_uid: str
    patient: PatientIdentity
    modality: str = ""
    study_date: date | None = None
    acquisition_date: date | None = None
    study_description: str = ""
    series_description: str = ""
    series_number: int | None = None
    frame_of_reference_uid: str = ""
    manufacturer: str = ""
    instances: list[InstanceHeader] = field(default_factory=list)
    warnings: list[LoadWarning] = field(default_factory=list)

    @property
    def patient_id(self) -> str:
        return self.patient.patient_id

    @property
    def paths(self) -> list[Path]:
        return [inst.path for inst in self.instances]

    @property
    def frame_count(self) -> int:
        return sum(inst.number_of_frames for inst in self.instances)

    def label(self) -> str:
        """Short human description: number, description and UID."""
        number = f"#{self.series_number} " if self.series_number is not None else ""
        desc = f"'{self.series_description}' " if self.series_description else ""
        return f"{number}{desc}{self.modality} ({self.frame_count} frames, UID {self.series_uid})"


class Discovery(list[SeriesRecord]):
    """The series found under a folder (a list), plus ``skipped``: files that belong to no series, with the reason."""

    def __init__(self, series: Iterable[SeriesRecord] = (), skipped: Iterable[LoadWarning] = ()) -> None:
        super().__init__(series)
        self.skipped: list[LoadWarning] = list(skipped)


# ---- small value parsers -----------------------------------------------------------------------------------------
def _text(ds: Header, keyword: str) -> str:
    value = ds.get(keyword, "")
    return "" if value is None else str(value).strip()


def _int(ds: Header, keyword: str) -> int | None:
    value = ds.get(keyword)
    try:
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None


def _float(ds: Header | None, keyword: str) -> float | None:
    if ds is None:
        return None
    value = ds.get(keyword)
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None


def _given(value: float | None, default: float) -> float:
    """``value`` unless it is missing (a 0 is kept: a RescaleSlope of 0 is a damaged header, not a missing one)."""
    return default if value is None else value


def _floats(ds: Header | None, keyword: str, n: int) -> tuple[float, ...] | None:
    if ds is None:
        return None
    value = ds.get(keyword)
    if value is None:
        return None
    try:
        numbers = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    if len(numbers) != n or not all(math.isfinite(v) for v in numbers):
        return None  # a damaged value is treated as a missing one
    return numbers


def parse_date(text: str) -> date | None:
    text = text.strip()
    if len(text) < 8 or not text[:8].isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def _first_date(ds: Header, keywords: tuple[str, ...]) -> date | None:
    return next((d for d in (parse_date(_text(ds, k)) for k in keywords) if d is not None), None)


def _item(ds: Header | None, keyword: str) -> Dataset | None:
    if ds is None:
        return None
    seq = ds.get(keyword)
    return seq[0] if seq else None


# ---- header reading ----------------------------------------------------------------------------------------------
def _frame_headers(ds: Header, n_frames: int) -> tuple[FrameHeader, ...]:
    """Per-frame geometry: from the top level (classic images) or the functional groups (enhanced multi-frame)."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    shared = _item(ds, "SharedFunctionalGroupsSequence")
    if not per_frame and shared is None:
        frame = FrameHeader(
            position=_floats(ds, "ImagePositionPatient", 3),  # type: ignore[arg-type]
            orientation=_floats(ds, "ImageOrientationPatient", 6),  # type: ignore[arg-type]
            pixel_spacing=_floats(ds, "PixelSpacing", 2),  # type: ignore[arg-type]
            rescale_slope=_given(_float(ds, "RescaleSlope"), 1.0),
            rescale_intercept=_float(ds, "RescaleIntercept") or 0.0,
            slice_thickness=_float(ds, "SliceThickness"),
        )
        return (frame,) * max(n_frames, 1)
    frames = []
    for index in range(max(n_frames, 1)):
        own = per_frame[index] if per_frame and index < len(per_frame) else None

        def group(keyword: str, own: Dataset | None = own) -> Dataset | None:
            return _item(own, keyword) or _item(shared, keyword)

        measures = group("PixelMeasuresSequence")
        transform = group("PixelValueTransformationSequence")
        frames.append(
            FrameHeader(
                position=_floats(group("PlanePositionSequence"), "ImagePositionPatient", 3),  # type: ignore[arg-type]
                orientation=_floats(group("PlaneOrientationSequence"), "ImageOrientationPatient", 6),  # type: ignore[arg-type]
                pixel_spacing=_floats(measures, "PixelSpacing", 2),  # type: ignore[arg-type]
                rescale_slope=_given(_float(transform, "RescaleSlope"), _given(_float(ds, "RescaleSlope"), 1.0)),
                rescale_intercept=_float(transform, "RescaleIntercept") or _float(ds, "RescaleIntercept") or 0.0,
                slice_thickness=_float(measures, "SliceThickness") or _float(ds, "SliceThickness"),
            )
        )
    return tuple(frames)


def _pixel_element(fp: Any, implicit_vr: bool) -> tuple[int, int, int]:
    """At the Pixel Data tag: (tag offset, value length, value offset); (-1, -1, -1) when there is none."""
    start = fp.tell()
    head = fp.read(12)
    if len(head) < 8:
        return -1, -1, -1
    group, element = struct.unpack("<HH", head[:4])
    if (group << 16 | element) != _PIXEL_DATA_TAG:
        return -1, -1, -1
    if implicit_vr:
        return start, struct.unpack("<I", head[4:8])[0], start + 8
    if len(head) < 12:
        return -1, -1, -1
    return start, struct.unpack("<I", head[8:12])[0], start + 12


def _looks_like_dicom(fp: Any) -> tuple[bool, bool]:
    """(is DICOM, has the Part 10 preamble) from the first bytes, without parsing."""
    head = fp.read(132)
    fp.seek(0)
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True, True
    # preamble-less files (old exports) start with a group 0x0008 element, implicit or explicit VR little endian
    return len(head) >= 8 and head[:2] == b"\x08\x00" and head[3:4] == b"\x00", False


class _Skip(Exception):
    """A file left out, with a code, a reason and (when its header named it) its series."""

    def __init__(self, code: str, reason: str, series: SeriesRecord | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.series = series


def _read_with_pydicom(path: Path) -> tuple[Dataset, str, str, tuple[int, int, int]]:
    """The reference reader, for what the fast one leaves: (header, transfer syntax, media SOP class, pixel place)."""
    try:
        with open(path, "rb") as fp:
            is_dicom, _ = _looks_like_dicom(fp)
            if not is_dicom:
                raise _Skip("not-dicom", "not a DICOM file")
            ds = pydicom.dcmread(fp, stop_before_pixels=True, specific_tags=HEADER_TAGS, force=True)
            meta = getattr(ds, "file_meta", None)
            ts = str(getattr(meta, "TransferSyntaxUID", "") or "1.2.840.10008.1.2")
            media_class = str(getattr(meta, "MediaStorageSOPClassUID", "") or "")
            place = (-1, -1, -1)
            if ts in NATIVE_LITTLE_ENDIAN or ts.startswith("1.2.840.10008.1.2.4") or ts == RLE_LOSSLESS:
                place = _pixel_element(fp, implicit_vr=(ts == "1.2.840.10008.1.2"))
    except _Skip:
        raise
    except OSError as exc:
        raise _Skip("unreadable", f"cannot read the file: {exc.strerror or exc}") from exc
    except MemoryError:
        raise
    except Exception as exc:  # pydicom raises many kinds of error on a damaged header; all mean the same here
        raise _Skip("corrupt", f"unreadable DICOM header ({type(exc).__name__}: {exc})") from exc
    return ds, ts, media_class, place


def read_instance_header(path: Path) -> tuple[SeriesRecord, InstanceHeader]:
    """Read one file's header (no pixels): its series (identifiers only, no instances) and the instance.

    Raises ``_Skip`` with a reason when the file is not a usable image.
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise _Skip("unreadable", f"cannot read the file: {exc.strerror or exc}") from exc
    if size == 0:
        raise _Skip("empty-file", "empty file (0 bytes)")
    fast = read_fast_header(path, HEADER_TAGS)
    if fast is not None:
        ds: Header = fast
        ts = fast.transfer_syntax_uid
        media_class = fast.media_sop_class_uid
        place = (fast.pixel_data_offset, fast.pixel_data_length, fast.pixel_value_offset)
    else:
        ds, ts, media_class, place = _read_with_pydicom(path)
    try:
        return _interpret(path, size, ds, ts, media_class, place)
    except _Skip:
        raise
    except MemoryError:
        raise
    except Exception as exc:  # pydicom converts values lazily: a damaged value fails only when it is read
        raise _Skip("corrupt", f"damaged DICOM header ({type(exc).__name__}: {exc})") from exc


def _interpret(
    path: Path, size: int, ds: Header, ts: str, media_class: str, place: tuple[int, int, int]
) -> tuple[SeriesRecord, InstanceHeader]:
    offset, length, value_offset = place
    sop_class = _text(ds, "SOPClassUID") or media_class
    if sop_class == DICOMDIR_CLASS:
        raise _Skip("dicomdir", "DICOMDIR (a directory index, not an image)")
    rows, columns = _int(ds, "Rows"), _int(ds, "Columns")
    if not rows or not columns:
        if sop_class in IMAGE_CLASSES:
            raise _Skip("truncated" if offset < 0 else "corrupt",
                        f"an image (SOP class {sop_class}) whose header has no Rows/Columns"
                        f"{' and no pixel data: the file is truncated' if offset < 0 else ' (Rows or Columns 0)'}")
        raise _Skip("not-image", f"not an image (SOP class {sop_class or 'unknown'})")
    if not _text(ds, "SeriesInstanceUID"):
        raise _Skip("corrupt", "no SeriesInstanceUID")
    series = _new_record(ds)
    n_frames = _int(ds, "NumberOfFrames") or 1
    bits_allocated = _int(ds, "BitsAllocated") or 16
    inst = InstanceHeader(
        path=path,
        sop_instance_uid=_text(ds, "SOPInstanceUID"),
        sop_class_uid=sop_class,
        transfer_syntax_uid=ts,
        rows=rows,
        columns=columns,
        bits_allocated=bits_allocated,
        bits_stored=_int(ds, "BitsStored") or bits_allocated,
        pixel_representation=_int(ds, "PixelRepresentation") or 0,
        samples_per_pixel=_int(ds, "SamplesPerPixel") or 1,
        photometric=_text(ds, "PhotometricInterpretation") or "MONOCHROME2",
        instance_number=_int(ds, "InstanceNumber"),
        pixel_data_offset=offset,
        pixel_data_length=length,
        pixel_value_offset=value_offset,
        frames=_frame_headers(ds, n_frames),
    )
    if offset < 0 and ts in NATIVE_LITTLE_ENDIAN | {RLE_LOSSLESS}:
        raise _Skip("truncated", "no pixel data (truncated before the pixels)", series)
    if inst.is_native:
        needed = inst.frame_bytes * inst.number_of_frames
        if length < needed or value_offset + needed > size:
            have = max(0, min(length, size - value_offset))
            raise _Skip("truncated", f"truncated: pixel data has {have} of the {needed} bytes the header describes "
                        "(or the header does not match the pixels)", series)
        if length > needed + 1:  # one byte of padding to an even length is allowed (PS3.5 sec. 8.1.1)
            raise _Skip("corrupt", f"pixel data has {length} bytes, but the header (Rows {rows} x Columns {columns} x "
                        f"{bits_allocated} bits x {inst.number_of_frames} frame(s)) describes {needed}: the header "
                        "does not match the pixels", series)
    elif inst.is_encapsulated and value_offset >= size - 8:
        raise _Skip("truncated", "truncated: no compressed frames after the header", series)
    for frame in inst.frames if series.modality.upper() == "CT" else ():
        slope = frame.rescale_slope
        if not math.isfinite(slope) or not RESCALE_SLOPE_RANGE[0] <= slope <= RESCALE_SLOPE_RANGE[1]:
            raise _Skip("corrupt", f"RescaleSlope {slope:g} is not a CT scale (the header is damaged)", series)
        if not math.isfinite(frame.rescale_intercept) or abs(frame.rescale_intercept) > 1e5:
            raise _Skip("corrupt", f"RescaleIntercept {frame.rescale_intercept:g} is not a CT offset (the header is "
                        "damaged)", series)
    return series, inst


def _walk(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            yield Path(dirpath) / name


def _new_record(ds: Header) -> SeriesRecord:
    return SeriesRecord(
        series_uid=_text(ds, "SeriesInstanceUID"),
        study_uid=_text(ds, "StudyInstanceUID"),
        patient=PatientIdentity(
            patient_id=_text(ds, "PatientID"),
            patient_name=_text(ds, "PatientName"),
            birth_date=_text(ds, "PatientBirthDate"),
            sex=_text(ds, "PatientSex"),
            accession_number=_text(ds, "AccessionNumber"),
            institution=_text(ds, "InstitutionName"),
            referring_physician=_text(ds, "ReferringPhysicianName"),
        ),
        modality=_text(ds, "Modality"),
        study_date=parse_date(_text(ds, "StudyDate")),
        acquisition_date=_first_date(ds, ("AcquisitionDate", "SeriesDate", "ContentDate", "StudyDate")),
        study_description=_text(ds, "StudyDescription"),
        series_description=_text(ds, "SeriesDescription"),
        series_number=_int(ds, "SeriesNumber"),
        frame_of_reference_uid=_text(ds, "FrameOfReferenceUID"),
        manufacturer=_text(ds, "Manufacturer"),
    )


def _series_key(series: SeriesRecord) -> tuple[str, str, str]:
    return (series.patient.patient_id, series.study_uid, series.series_uid)


def discover(
    root: str | os.PathLike[str],
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Discovery:
    """Index every DICOM image under ``root`` (a folder or one file), grouped by patient, study and series.

    Reads headers only, each file once. Returns the series sorted by patient, study date, study and series number;
    files skipped for a series' sake (truncated, unreadable header naming the series) are that series' warnings,
    the rest are in ``.skipped``. Raises `DicomLoadError` when ``root`` does not exist.
    """
    root_path = Path(root)
    if not root_path.exists():
        raise DicomLoadError(f"{root_path}: no such file or folder")
    paths = list(_walk(root_path))
    # keyed by patient and study too: a series UID reused for another patient (a careless anonymiser) stays apart
    records: dict[tuple[str, str, str], SeriesRecord] = {}
    skipped: list[LoadWarning] = []
    for n, path in enumerate(paths):
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            template, inst = read_instance_header(path)
        except _Skip as skip:
            warning = LoadWarning(skip.code, f"skipped: {skip}", str(path))
            if skip.series is not None:  # an image of a known series that cannot be used: tell that series
                records.setdefault(_series_key(skip.series), skip.series).warnings.append(warning)
            elif skip.code != "dicomdir":
                skipped.append(warning)
            report(progress, n + 1, len(paths), path.name)
            continue
        record = records.setdefault(_series_key(template), template)
        record.instances.append(inst)
        report(progress, n + 1, len(paths), path.name)
    series = [r for r in records.values() if r.instances]
    by_uid: dict[str, list[SeriesRecord]] = {}
    for r in series:
        by_uid.setdefault(r.series_uid, []).append(r)
    for shared in (group for group in by_uid.values() if len(group) > 1):
        for r in shared:
            r.warnings.append(
                LoadWarning(
                    "shared-series-uid",
                    f"series UID also used by {len(shared) - 1} other patient(s)/study(ies): files kept apart by "
                    "patient and study",
                    str(r.instances[0].path.parent),
                )
            )
    for r in records.values():
        if not r.instances:
            skipped.extend(r.warnings)
    series.sort(
        key=lambda r: (r.patient.patient_id, r.study_date or date.min, r.study_uid, r.series_number or 0, r.series_uid)
    )
    return Discovery(series, skipped)
