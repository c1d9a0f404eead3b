"""DICOM SR TID 1500 and SEG: valid by dciodvfy, read back by highdicom, and imported back without loss."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from datetime import date
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.sr.codedict import codes
from pydicom.uid import ExplicitVRLittleEndian

from tests.unit.test_sdtm_known_read import (
    FRAME_OF_REFERENCE,
    MATRIX,
    PIXEL_MM,
    SLICE_MM,
    SLICES,
    KnownSeries,
    known_read,
    known_series,
)
from workstation.export.dicom_seg import SegExportError, export_seg, import_seg, load_headers
from workstation.export.dicom_sr import SRExportError, export_sr, import_sr
from workstation.mask_store import MaskStore
from workstation.read_model import LesionStatus, MeasurementOrigin, Read

CT = "1.2.840.10008.5.1.4.1.1.2"


def write_ct_series(series: KnownSeries, folder: Path) -> list[Path]:
    """A small axial CT series (64 x 64 x 10, 0.8 mm pixels, 5 mm slices) carrying the known read's UIDs."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, uid in enumerate(series.sop_uids):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CT
        meta.MediaStorageSOPInstanceUID = uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(str(folder / f"IM{k:04d}.dcm"), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = CT, uid
        ds.StudyInstanceUID, ds.SeriesInstanceUID = series.study_uid, series.series_uid
        ds.FrameOfReferenceUID, ds.PositionReferenceIndicator = FRAME_OF_REFERENCE, ""
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "Test^Subject", "S001", "", "O"
        ds.StudyDate = series.study_date.strftime("%Y%m%d")
        ds.StudyTime, ds.AccessionNumber, ds.StudyID, ds.ReferringPhysicianName = "101500", "A1", "1", ""
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber, ds.Manufacturer = "CT", 1, k + 1, "test"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [-25.6, -25.6, series.z(k)]
        ds.SliceThickness, ds.PixelSpacing = SLICE_MM, [PIXEL_MM, PIXEL_MM]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows = ds.Columns = MATRIX
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "HU"
        ds.KVP, ds.AcquisitionNumber = 120, 1
        ds.PixelData = np.full((MATRIX, MATRIX), 40, dtype=np.int16).tobytes()
        ds.save_as(folder / f"IM{k:04d}.dcm", enforce_file_format=True)
        paths.append(folder / f"IM{k:04d}.dcm")
    return paths


@pytest.fixture(scope="module")
def ct_headers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pydicom.Dataset]:
    root = tmp_path_factory.mktemp("ct")
    read = known_read()
    files = [
        p for i, tp in enumerate(read.timepoints) for p in write_ct_series(known_series(i, tp.date), root / f"T{i}")
    ]
    return load_headers(files)


def dciodvfy_errors(path: Path) -> list[str]:
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy (Debian dicom3tools) is not installed")
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]


def _f32(ends: tuple | None) -> tuple | None:
    return None if ends is None else tuple(tuple(float(np.float32(v)) for v in p) for p in ends)


def carried_by_sr(read: Read) -> Read:
    """What TID 1500 carries: not comments, mask keys, slice positions, trial parameters, signature meaning; end points
    and where an unmeasured lesion was seen as SCOORD3D holds them (32-bit floats)."""
    r = dataclasses.replace(read, confirmation_required=True, sd_min_days=42)
    r.timepoints = []
    for tp in read.timepoints:
        t = dataclasses.replace(tp, assessments={})
        if tp.signature is not None:
            t.signature = dataclasses.replace(tp.signature, meaning="verified")
        for lesion_id, a in tp.assessments.items():
            ms = [dataclasses.replace(m, slice_position_mm=None, mask_ref=None, long_axis_endpoints=_f32(
                m.long_axis_endpoints), short_axis_endpoints=_f32(m.short_axis_endpoints)) for m in a.measurements]
            point = None if a.point_mm is None or ms else tuple(float(np.float32(v)) for v in a.point_mm)
            t.assessments[lesion_id] = dataclasses.replace(a, measurements=ms, comment="", point_mm=point)
        r.timepoints.append(t)
    return r


# ---- SR ------------------------------------------------------------------------------------------------------------
def test_a_node_given_by_its_short_axis_alone_has_no_long_axis_in_the_sr(tmp_path: Path, ct_headers: dict) -> None:
    """A case file's node: its SR holds the short axis and no long axis (one was invented before), and reads back so,
    beside a node measured on both axes and a split lesion."""
    read = known_read()
    node = read.timepoints[1].assessments["T2"].measurements[0]
    node.long_axis_mm, node.long_axis_endpoints = None, None
    written = export_sr(read, tmp_path, headers=ct_headers)

    def long_axes(path: Path) -> int:
        def walk(items: object) -> int:
            n = 0
            for item in items or []:  # type: ignore[attr-defined]
                name = item.get("ConceptNameCodeSequence")
                n += bool(name) and name[0].CodeValue == codes.SCT.LongAxis.value
                n += walk(item.get("ContentSequence"))
            return n

        return walk(pydicom.dcmread(path).ContentSequence)

    assert [long_axes(w.path) for w in written[:2]] == [2, 1]  # baseline T1 and T2; week 6 T1 only
    (back,) = import_sr([w.path for w in written])
    assert back == carried_by_sr(read)
    assert back.timepoints[1].assessments["T2"].measurements[0].long_axis_mm is None
    assert back.timepoints[0].assessments["T2"].measurements[0].long_axis_mm == 25.0


def test_a_target_that_disappeared_is_0_mm_in_the_sr(tmp_path: Path, ct_headers: dict) -> None:
    """The data manager's finding: a disappeared target carried only the local status code, so a generic TID 1500
    reader missed it; RECIST 1.1 sec. 4.3.2 records it as 0 mm. The node T2 gone at week 12 has a short axis NUM of
    0 mm (no image region), and reads back as disappeared without a measurement."""
    read = known_read()
    written = export_sr(read, tmp_path, headers=ct_headers)
    sr = hd.sr.srread(written[2].path)
    (group,) = [g for g in [*sr.content.get_image_measurement_groups(), *sr.content.get_planar_roi_measurement_groups()]
                if g.tracking_identifier == "T2"]
    (axis,) = [m for m in group.get_measurements() if m.name != codes.DCM.TimePointOrder]
    assert (axis.name, float(axis.value), axis.unit.value) == (codes.SCT.ShortAxis, 0.0, "mm")
    (back,) = import_sr([w.path for w in written])
    gone = back.timepoints[2].assessments["T2"]
    assert gone.status is LesionStatus.DISAPPEARED and gone.measurements == []


def test_sr_round_trip_loses_nothing_the_format_carries(tmp_path: Path, ct_headers: dict) -> None:
    read = known_read()
    read.timepoints[1].assessments["T1"].measurements[0].volume_ml = 4.2
    read.timepoints[1].assessments["T1"].measurements[0].origin = MeasurementOrigin.SUGGESTED
    written = export_sr(read, tmp_path, headers=ct_headers)
    assert [w.timepoint for w in written] == ["baseline", "week 6", "week 12"]
    (back,) = import_sr([w.path for w in reversed(written)])  # file order does not matter
    assert back == carried_by_sr(read)
    # iRECIST's non-target "further increase since the last assessment" comes back as itself
    read.timepoints[2].assessments["NT1"].status = LesionStatus.FURTHER_INCREASE
    (back,) = import_sr([w.path for w in export_sr(read, tmp_path / "again", headers=ct_headers)])
    assert back.timepoints[2].assessments["NT1"].status is LesionStatus.FURTHER_INCREASE


def test_sr_is_valid_and_highdicom_reads_the_groups(tmp_path: Path, ct_headers: dict) -> None:
    read = known_read()
    written = export_sr(read, tmp_path, headers=ct_headers)
    uids_by_lesion: dict[str, set[str]] = {}
    for w in written:
        assert dciodvfy_errors(w.path) == [], w.path
        sr = hd.sr.srread(w.path)
        assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
        groups = [*sr.content.get_image_measurement_groups(), *sr.content.get_planar_roi_measurement_groups()]
        assert len(groups) == w.groups
        for g in groups:
            uids_by_lesion.setdefault(str(g.tracking_identifier), set()).add(str(g.tracking_uid))
        assert sr.PatientName == "Test^Subject"  # patient and study from the real source images
    assert {k: len(v) for k, v in uids_by_lesion.items()} == {"T1": 1, "T2": 1, "NT1": 1, "N1": 1}
    sr = hd.sr.srread(written[0].path)
    (t2,) = sr.content.get_image_measurement_groups(tracking_uid="2.25.7002")
    assert t2.finding_sites[0].value == codes.SCT.LymphNode
    axes = {m.name.meaning: m for m in t2.get_measurements() if m.unit == codes.UCUM.Millimeter}
    assert axes["Long axis"].value == 25.0 and axes["Short axis"].value == 18.0
    short = axes["Short axis"].referenced_coordinates[0]
    assert short.GraphicType == "POLYLINE" and short.ReferencedFrameOfReferenceUID == FRAME_OF_REFERENCE
    assert np.allclose(np.asarray(short.value).reshape(2, 3), [[12.5, -9.0, 30.0], [12.5, 9.0, 30.0]])
    ref = axes["Long axis"].referenced_images[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID
    assert ref == known_series(0, date(2026, 1, 5)).sop_uids[6]
    assert sr.VerificationFlag == "VERIFIED"  # the signed baseline
    # The bone non-target, not measured, is a TID 1410 group whose region is where the reader saw it.
    (nt1,) = sr.content.get_planar_roi_measurement_groups(tracking_uid="2.25.7003")
    assert nt1.roi.GraphicType == "POINT" and nt1.roi.ReferencedFrameOfReferenceUID == FRAME_OF_REFERENCE
    assert np.allclose(np.asarray(nt1.roi.value).reshape(-1), [5.5, -20.25, 12.0])
    assert str(nt1.tracking_identifier) == "NT1"
    assert not [m for m in nt1.get_measurements() if m.unit == codes.UCUM.Millimeter]


def test_sr_without_source_headers_still_valid(tmp_path: Path) -> None:
    written = export_sr(known_read(), tmp_path)
    assert all(dciodvfy_errors(w.path) == [] for w in written)
    (back,) = import_sr([w.path for w in written])
    assert back == carried_by_sr(known_read())


def test_sr_needs_a_source_image(tmp_path: Path) -> None:
    read = known_read()
    for a in read.timepoints[1].assessments.values():
        a.measurements = []
        a.status = LesionStatus.NOT_EVALUATED
    with pytest.raises(SRExportError, match="timepoint week 6: no source image"):
        export_sr(read, tmp_path)


# ---- SEG -----------------------------------------------------------------------------------------------------------
def _disc(radius: float) -> np.ndarray:
    yy, xx = np.mgrid[-12:13, -12:13]
    return (yy**2 + xx**2) <= radius**2


def test_seg_round_trip_valid_and_tracked(tmp_path: Path, ct_headers: dict) -> None:
    read = known_read()
    store = MaskStore(tmp_path / "masks")
    s0 = known_series(0, read.timepoints[0].date)
    t1 = np.stack([_disc(6), _disc(9), _disc(5)])  # slices 2..4
    t2 = np.stack([_disc(4)])  # slice 6
    read.timepoints[0].assessments["T1"].measurements[0].mask_ref = store.save(
        t1, (2, 10, 20), (SLICES, MATRIX, MATRIX), s0.series_uid, FRAME_OF_REFERENCE, s0.sop_uids[2:5]
    )
    read.timepoints[0].assessments["T2"].measurements[0].mask_ref = store.save(
        t2, (6, 30, 30), (SLICES, MATRIX, MATRIX), s0.series_uid, FRAME_OF_REFERENCE, s0.sop_uids[6:7]
    )
    (path,) = export_seg(read, store, ct_headers, tmp_path / "seg")
    assert dciodvfy_errors(path) == []
    seg = hd.seg.segread(path)
    assert [d.tracking_uid for d in seg.SegmentSequence] == ["2.25.7001", "2.25.7002"]
    assert seg.SegmentSequence[1].SegmentAlgorithmType == "SEMIAUTOMATIC"  # T2 was suggested by a model
    masks = {m.lesion_id: m for m in import_seg(path)}
    expected_t1 = store.load(read.timepoints[0].assessments["T1"].measurements[0].mask_ref or "")
    assert masks["T1"].sop_instance_uids == expected_t1.sop_instance_uids
    full = np.zeros((3, MATRIX, MATRIX), dtype=bool)
    _, j, i = expected_t1.offset
    full[:, j : j + expected_t1.mask.shape[1], i : i + expected_t1.mask.shape[2]] = expected_t1.mask
    assert np.array_equal(masks["T1"].planes, full)
    assert masks["T2"].planes.sum() == t2.sum() and masks["T2"].tracking_uid == "2.25.7002"


def test_seg_names_a_missing_source_image(tmp_path: Path) -> None:
    read = known_read()
    store = MaskStore(tmp_path / "masks")
    s0 = known_series(0, read.timepoints[0].date)
    read.timepoints[0].assessments["T1"].measurements[0].mask_ref = store.save(
        _disc(5)[None], (3, 10, 10), (SLICES, MATRIX, MATRIX), s0.series_uid, FRAME_OF_REFERENCE, s0.sop_uids[3:4]
    )
    with pytest.raises(SegExportError, match=f"source image {s0.sop_uids[3]} is not in"):
        export_seg(read, store, {}, tmp_path)


def test_a_report_not_written_by_us_is_refused_by_name(tmp_path: Path) -> None:
    from workstation.export.dicom_sr import SRImportError

    (written, *_) = export_sr(known_read(), tmp_path)
    ds = pydicom.dcmread(written.path)

    def strip(item: pydicom.Dataset) -> None:
        if "ContentSequence" in item:
            item.ContentSequence = [
                c for c in item.ContentSequence if c.ConceptNameCodeSequence[0].CodeValue != "ROLE"
            ]
            for c in item.ContentSequence:
                strip(c)

    strip(ds)
    ds.save_as(written.path)
    with pytest.raises(SRImportError, match="lesion T1: no 'RECIST lesion role' evaluation"):
        import_sr([written.path])
    with pytest.raises(SRImportError, match="not a readable DICOM SR"):
        import_sr([tmp_path / "missing.dcm"])
