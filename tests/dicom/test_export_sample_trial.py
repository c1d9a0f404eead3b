"""SR and SEG on the bundled sample trial's real (synthetic, RLE) CT: a read built from the ground truth, exported,
validated by dciodvfy and imported back."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from imaging.loader import SeriesLoader
from tests.dicom.test_export_dicom import carried_by_sr, dciodvfy_errors
from workstation.export.dicom_seg import SeriesIndex, attach_masks, export_seg, import_seg, load_headers
from workstation.export.dicom_sr import export_sr, import_sr
from workstation.export.read_json import read_from_case
from workstation.mask_store import MaskStore
from workstation.read_model import Read

SAMPLE = Path(os.environ.get("RECIST_SAMPLE_DIR", Path(__file__).resolve().parents[2] / "sample_dicom"))
SUBJECT = SAMPLE / "SUBJ-001"

pytestmark = pytest.mark.skipif(not (SUBJECT / "ground_truth.json").exists(),
                                reason="sample_dicom/ is not generated (recist generate-sample)")


def read_from_truth(store: MaskStore) -> tuple[Read, dict]:
    """SUBJ-001's RECIST read, each target measured on the slice nearest its true axial plane, with the true end
    points, and a small mask around its centre (positions through the loader's `Volume`, the one mm<->voxel map)."""
    trial = json.loads((SAMPLE / "trial.json").read_text())
    info = next(s for s in trial["subjects"] if s["subject_id"] == "SUBJ-001")
    truth = json.loads((SUBJECT / "ground_truth.json").read_text())
    read = read_from_case(json.loads((SUBJECT / "case_recist.json").read_text()), reader="alice")
    read.reader_role = "central"
    for i, (tp, tpi) in enumerate(zip(read.timepoints, info["timepoints"], strict=True)):
        tp.study_uid, tp.series_uid = tpi["study_uid"], tpi["series_uid"]
        volume = SeriesLoader(SAMPLE / tpi["folder"]).volume  # geometry only, no pixel decoded
        for lesion in truth["lesions"]:
            t = lesion["timepoints"][i]
            if lesion["role"] != "target" or not t["present"]:
                continue
            _, j, col = (int(v) for v in np.rint(volume.patient_to_voxel(t["centre_lps_mm"])))
            # the slice nearest the plane of the axes (the lesion's centre may lie off it)
            k = int(np.rint(volume.patient_to_voxel(t["long_axis_endpoints_lps_mm"][0])[0]))
            m = tp.assessments[lesion["id"]].measurements[0]
            m.long_axis_mm, m.short_axis_mm = t["long_axis_mm"], t["short_axis_mm"]
            m.long_axis_endpoints = tuple(tuple(p) for p in t["long_axis_endpoints_lps_mm"])  # type: ignore[assignment]
            m.short_axis_endpoints = tuple(tuple(p) for p in t["short_axis_endpoints_lps_mm"])  # type: ignore[assignment]
            m.sop_instance_uid, m.series_uid = volume.info.sop_instance_uids[k], tp.series_uid
            m.frame_of_reference_uid = volume.info.frame_of_reference_uid
            yy, xx = np.mgrid[-3:4, -3:4]
            m.mask_ref = store.save((yy**2 + xx**2 <= 9)[None], (k, j - 3, col - 3), volume.shape, tp.series_uid,
                                    m.frame_of_reference_uid, (m.sop_instance_uid,))
    headers = load_headers(sorted(SUBJECT.rglob("*.dcm")))
    return read, headers


def test_sr_and_seg_on_the_sample_trial(tmp_path: Path) -> None:
    store = MaskStore(tmp_path / "masks")
    read, headers = read_from_truth(store)
    srs = export_sr(read, tmp_path / "sr", headers, protocol_id="TIL-PEMBRO-GC-01")
    segs = export_seg(read, store, headers, tmp_path / "seg")
    assert len(srs) == len(segs) == 4
    for path in [w.path for w in srs] + segs:
        assert dciodvfy_errors(path) == [], path
    (back,) = import_sr([w.path for w in srs])
    assert carried_by_sr(back) == carried_by_sr(read)
    masks = import_seg(segs[0])
    assert {m.lesion_id for m in masks} == {lid for lid, a in read.timepoints[0].assessments.items()
                                            if a.measurements and a.measurements[0].mask_ref}
    assert all(m.planes.sum() == 29 for m in masks)  # the 7 x 7 disc of radius 3
    # back onto the imported read, in a fresh mask store, voxel for voxel
    fresh = MaskStore(tmp_path / "masks2")
    index = SeriesIndex([SUBJECT])
    assert sum(attach_masks(back, import_seg(p), index, fresh) for p in segs) == sum(
        1 for tp in read.timepoints for a in tp.assessments.values() for x in a.measurements if x.mask_ref)
    for tp_old, tp_new in zip(read.timepoints, back.timepoints, strict=True):
        for lesion_id, a in tp_old.assessments.items():
            for old, new in zip(a.measurements, tp_new.assessments[lesion_id].measurements, strict=True):
                if old.mask_ref:
                    assert new.mask_ref is not None
                    assert np.array_equal(fresh.load(new.mask_ref).full_mask(), store.load(old.mask_ref).full_mask())
