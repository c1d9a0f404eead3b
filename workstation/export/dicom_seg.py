"""DICOM Segmentation (highdicom) of a read's lesion masks, one object per timepoint series, and back.

Each lesion with a stored mask (`Measurement.mask_ref`, `workstation.mask_store.MaskStore`) at a timepoint becomes one
binary segment: label and tracking identifier = the lesion id, tracking UID = `Lesion.tracking_uid` (the same UID as
in the SR), property "Lesion" (SNOMED CT) in category "Morphologically abnormal structure", the organ as anatomic
region, MANUAL or SEMIAUTOMATIC with the model that suggested it. Frames reference the CT slices they lie on; the
source images are the real CT headers (highdicom needs their geometry), found by SOP Instance UID.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import highdicom as hd
import numpy as np
import numpy.typing as npt
from pydicom import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from imaging.cancel import CancelToken, ProgressCallback, report
from workstation.export.dicom_sr import MANUFACTURER
from workstation.export.organs import organ_code
from workstation.mask_store import MaskStore, MaskStoreError, StoredMask
from workstation.read_model import Lesion, Measurement, MeasurementOrigin, Read


class SegExportError(ValueError):
    """Masks that cannot become a SEG (missing source image, mask from another series...); says which."""


@dataclass(frozen=True)
class LesionMask:
    """One lesion's mask as a SEG carries it: per referenced CT slice (SOP Instance UID), a rows x columns plane."""

    lesion_id: str
    tracking_uid: str
    sop_instance_uids: tuple[str, ...]
    planes: npt.NDArray[np.bool_]  # (slices, rows, columns)
    #: The reader who drew it (ContentCreatorName), so masks go back to that reader's read only.
    reader: str = ""


def _lesion_masks(read: Read, index: int, store: MaskStore) -> list[tuple[Lesion, StoredMask, Measurement]]:
    tp = read.timepoints[index]
    out: list[tuple[Lesion, StoredMask, Measurement]] = []
    for lesion_id, a in tp.assessments.items():
        refs = [m for m in a.measurements if m.mask_ref]
        if not refs:
            continue
        where = f"subject {read.subject_id} timepoint {tp.label} lesion {lesion_id}"
        try:
            # A split lesion's fragments are stored one mask each; the SEG segment is their union (see _planes).
            for m in refs:
                assert m.mask_ref is not None
                out.append((read.lesions[lesion_id], store.load(m.mask_ref), m))
        except MaskStoreError as exc:
            raise SegExportError(f"{where}: {exc}") from None
    return out


def build_seg(read: Read, index: int, store: MaskStore, headers: Mapping[str, Dataset],
              series_number: int = 950) -> hd.seg.Segmentation | None:
    """The SEG of ``read`` at timepoint ``index``, or None when no lesion there has a stored mask."""
    tp = read.timepoints[index]
    entries = _lesion_masks(read, index, store)
    if not entries:
        return None
    # Slice index (k) of every referenced SOP in the series' array order, from the masks themselves.
    k_of: dict[str, int] = {}
    for lesion, stored, _ in entries:
        if len(stored.sop_instance_uids) != stored.mask.shape[0]:
            raise SegExportError(f"subject {read.subject_id} timepoint {tp.label} lesion {lesion.lesion_id}: the "
                                 "stored mask does not name the CT slice of each of its planes")
        for n, uid in enumerate(stored.sop_instance_uids):
            k_of[uid] = stored.offset[0] + n
    sops = sorted(k_of, key=k_of.__getitem__)
    missing = [uid for uid in sops if uid not in headers]
    if missing:
        raise SegExportError(f"subject {read.subject_id} timepoint {tp.label}: source image {missing[0]} is not in "
                             "the DICOM folder given")
    sources = [headers[uid] for uid in sops]
    rows, cols = int(sources[0].Rows), int(sources[0].Columns)
    lesion_ids = list(dict.fromkeys(lesion.lesion_id for lesion, _, _ in entries))
    pixels = np.zeros((len(sops), rows, cols, len(lesion_ids)), dtype=bool)
    provenance: dict[str, Measurement] = {}
    for lesion, stored, measurement in entries:
        _, j0, i0 = stored.offset
        _, dj, di = stored.mask.shape
        if j0 + dj > rows or i0 + di > cols:
            raise SegExportError(f"lesion {lesion.lesion_id}: its mask lies outside the {rows}x{cols} images")
        s = lesion_ids.index(lesion.lesion_id)
        for n, uid in enumerate(stored.sop_instance_uids):
            pixels[sops.index(uid), j0 : j0 + dj, i0 : i0 + di, s] |= stored.mask[n]
        provenance.setdefault(lesion.lesion_id, measurement)
    descriptions = []
    for number, lesion_id in enumerate(lesion_ids, start=1):
        lesion = read.lesions[lesion_id]
        m = provenance[lesion_id]
        manual = m.origin is MeasurementOrigin.MANUAL or not (m.engine or m.model_id)
        descriptions.append(hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=lesion_id[:64],
            segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
            segmented_property_type=codes.SCT.Lesion,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL if manual
            else hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC,
            algorithm_identification=None if manual else hd.AlgorithmIdentificationSequence(
                name=(m.model_id or m.engine or "")[:64], family=codes.cid7162.ArtificialIntelligence,
                version=m.model_version or "unknown"),
            tracking_uid=lesion.tracking_uid,
            tracking_id=lesion_id[:64],
            anatomic_regions=[organ_code(lesion.organ)],
        ))  # fmt: skip
    return hd.seg.Segmentation(
        source_images=sources,
        pixel_array=pixels.astype(np.uint8),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=generate_uid(),
        series_number=series_number + index,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        manufacturer_model_name="RECIST workstation",
        software_versions="0.1.0",
        device_serial_number="none",
        content_label="LESIONS",
        content_description=f"{read.criteria} lesions, {tp.label}"[:64],
        content_creator_name=read.reader if "^" in read.reader else f"{read.reader}^",
        series_description=f"Lesion masks {tp.label}"[:64],
    )


def export_seg(read: Read, store: MaskStore, headers: Mapping[str, Dataset], out_dir: str | Path,
               progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> list[Path]:
    """One SEG file per timepoint that has lesion masks. Every timepoint's SEG is built before any is written, so a
    read whose masks cannot all be exported leaves no file behind."""
    built: list[tuple[int, hd.seg.Segmentation]] = []
    for i, tp in enumerate(read.timepoints):
        if cancel is not None:
            cancel.raise_if_cancelled()
        seg = build_seg(read, i, store, headers)
        if seg is not None:
            built.append((i, seg))
        report(progress, i + 1, len(read.timepoints), f"SEG {tp.label}")
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for i, seg in built:
        name = "".join(c if c.isalnum() or c in "-." else "_" for c in f"{read.subject_id}_{read.reader}_T{i}")
        path = d / f"{name}.SEG.dcm"
        tmp = path.with_suffix(".tmp")
        seg.save_as(tmp, enforce_file_format=True)
        tmp.replace(path)
        written.append(path)
    return written


def import_seg(path: str | Path) -> list[LesionMask]:
    """The lesion masks of one of our SEG files, per referenced CT slice."""
    try:
        seg = hd.seg.segread(path)
    except Exception as exc:  # pydicom/highdicom raise many types for a file that is not a SEG
        raise SegExportError(f"{path}: not a readable DICOM SEG ({type(exc).__name__}: {exc})") from None
    sops = [str(uid) for _, _, uid in seg.get_source_image_uids()]
    creator = str(seg.get("ContentCreatorName", ""))
    creator = creator[:-1] if creator.endswith("^") and creator.count("^") == 1 else creator
    out: list[LesionMask] = []
    numbers = seg.get_segment_numbers()
    planes = seg.get_pixels_by_source_instance(source_sop_instance_uids=sops, segment_numbers=numbers)
    for n, number in enumerate(numbers):
        desc = seg.get_segment_description(number)
        masks = planes[..., n].astype(bool)
        keep = [i for i in range(len(sops)) if masks[i].any()]
        out.append(LesionMask(
            lesion_id=str(desc.tracking_id or desc.segment_label),
            tracking_uid=str(desc.tracking_uid or ""),
            sop_instance_uids=tuple(sops[i] for i in keep),
            planes=masks[keep],
            reader=creator,
        ))  # fmt: skip
    return out


def load_headers(paths: Sequence[str | Path]) -> dict[str, Dataset]:
    """CT headers by SOP Instance UID (pixel data left on disk), for the SR evidence and the SEG source images."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    out: dict[str, Dataset] = {}
    for p in paths:
        try:
            ds = pydicom.dcmread(p, stop_before_pixels=True)
        except (InvalidDicomError, OSError):
            continue  # not DICOM (a README, a JSON file...): the folder may hold other things
        uid = ds.get("SOPInstanceUID")
        if uid is not None and "Rows" in ds:
            out[str(uid)] = ds
    return out


@dataclass(frozen=True)
class SeriesSlices:
    """A series' slices in array order (as `imaging.loader` sorts them), its shape and frame of reference."""

    series_uid: str
    sop_instance_uids: tuple[str, ...]
    shape: tuple[int, int, int]
    frame_of_reference_uid: str


class SeriesIndex:
    """The CT series under some folders, indexed once (headers only) by the project's discovery and loader."""

    def __init__(self, folders: Sequence[str | Path]) -> None:
        from imaging.discovery import discover

        self._records = {r.series_uid: r for f in folders for r in discover(f)}
        self.series_of_sop = {inst.sop_instance_uid: uid for uid, r in self._records.items() for inst in r.instances}
        self._cache: dict[str, SeriesSlices] = {}

    def slices(self, series_uid: str) -> SeriesSlices:
        from imaging.errors import DicomLoadError
        from imaging.loader import SeriesLoader

        if series_uid not in self._cache:
            if series_uid not in self._records:
                raise SegExportError(f"series {series_uid} is not in the DICOM folders given")
            try:
                # The loader's geometry (slice order along the normal) without decoding a pixel.
                volume = SeriesLoader(self._records[series_uid]).volume
            except DicomLoadError as exc:
                raise SegExportError(str(exc)) from None
            self._cache[series_uid] = SeriesSlices(series_uid, volume.info.sop_instance_uids, volume.shape,
                                                   volume.info.frame_of_reference_uid)
        return self._cache[series_uid]


def attach_masks(read: Read, masks: Sequence[LesionMask], index: SeriesIndex, store: MaskStore) -> int:
    """Store imported SEG masks and point the matching measurements at them (``mask_ref``); returns how many.

    A mask belongs to the lesion with its tracking UID (drawn by the read's reader), at the timepoint whose series
    holds its slices; it goes to the first measurement there that has no mask yet.
    """
    by_tracking = {lesion.tracking_uid: lesion_id for lesion_id, lesion in read.lesions.items()}
    attached = 0
    for m in masks:
        lesion_id = by_tracking.get(m.tracking_uid, m.lesion_id if m.lesion_id in read.lesions else None)
        if lesion_id is None or not m.sop_instance_uids or (m.reader and m.reader != read.reader):
            continue
        series_uid = index.series_of_sop.get(m.sop_instance_uids[0])
        if series_uid is None:
            raise SegExportError(f"lesion {m.lesion_id}: source image {m.sop_instance_uids[0]} is not in the DICOM "
                                 "folders given")
        series = index.slices(series_uid)
        order = list(series.sop_instance_uids)
        ks = [order.index(uid) for uid in m.sop_instance_uids if uid in order]
        if len(ks) != len(m.sop_instance_uids):
            raise SegExportError(f"lesion {m.lesion_id}: its slices are not all in series {series_uid}")
        tp = next((t for t in read.timepoints if t.series_uid == series_uid and lesion_id in t.assessments), None)
        if tp is None:
            continue
        target = next((x for x in tp.assessments[lesion_id].measurements if not x.mask_ref), None)
        if target is None:
            continue
        lo, hi = min(ks), max(ks) + 1
        crop = np.zeros((hi - lo, *m.planes.shape[1:]), dtype=bool)
        for k, plane in zip(ks, m.planes, strict=True):
            crop[k - lo] |= plane
        target.mask_ref = store.save(crop, (lo, 0, 0), series.shape, series_uid, series.frame_of_reference_uid,
                                     tuple(order[lo:hi]))
        attached += 1
    return attached
