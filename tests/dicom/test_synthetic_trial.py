"""The generated trial (small mode): files agree with trial.json and the ground truth, pixels with the anatomy,
the same seed gives the same bytes, and every file passes dciodvfy."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

from imaging.synthetic import generate_subject, generate_trial
from imaging.synthetic.anatomy import Body, build_anatomy
from imaging.synthetic.cases import build_case, recorded_mm
from imaging.synthetic.render import _CODES, _paint_plane

SUBJECTS = ("SUBJ-003", "SUBJ-004")


@pytest.fixture(scope="module")
def trial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("trial")
    generate_trial(out, small=True, subjects=SUBJECTS)
    return out


def _index(trial: Path) -> dict[str, Any]:
    return json.loads((trial / "trial.json").read_text())


def _volume(folder: Path) -> tuple[np.ndarray, list[pydicom.Dataset]]:
    files = sorted(folder.glob("*.dcm"))
    dss = [pydicom.dcmread(f) for f in files]
    dss.sort(key=lambda d: -float(d.ImagePositionPatient[2]))  # head first, as the generator writes them
    hu = np.stack([d.pixel_array.astype(np.int32) * int(d.RescaleSlope) + int(d.RescaleIntercept) for d in dss])
    return hu, dss


def test_trial_json_states_the_response_settings_its_case_files_use(trial: Path) -> None:
    idx = _index(trial)
    assert idx["response_settings"] == {"sd_min_days": 35, "confirmation_required": True}
    for subject in idx["subjects"]:
        for case_file in subject["case_files"].values():
            case = json.loads((trial / case_file).read_text())
            assert {k: case[k] for k in idx["response_settings"]} == idx["response_settings"]


def test_trial_json_matches_the_files(trial: Path) -> None:
    idx = _index(trial)
    assert [s["subject_id"] for s in idx["subjects"]] == list(SUBJECTS)
    for subject in idx["subjects"]:
        truth = json.loads((trial / subject["ground_truth"]).read_text())
        studies = set()
        for n, tp in enumerate(subject["timepoints"]):
            _, dss = _volume(trial / tp["folder"])
            assert len(dss) == tp["slices"]
            first = dss[0]
            assert (first.Rows, first.Columns) == (tp["rows"], tp["columns"])
            assert first.file_meta.TransferSyntaxUID == pydicom.uid.RLELossless
            assert {d.StudyInstanceUID for d in dss} == {tp["study_uid"]}
            assert {d.SeriesInstanceUID for d in dss} == {tp["series_uid"]}
            assert {d.FrameOfReferenceUID for d in dss} == {subject["frame_of_reference_uid"]}
            assert len({d.SOPInstanceUID for d in dss}) == len(dss)
            assert first.StudyDate == tp["date"].replace("-", "")
            assert first.AccessionNumber == tp["accession_number"]
            assert first.PatientID == subject["patient_id"] and str(first.PatientName) == subject["patient_name"]
            assert first.ClinicalTrialSubjectID == subject["subject_id"]
            assert first.ClinicalTrialTimePointID == tp["label"] == truth["timepoints"][n]["label"]
            assert float(first.SliceThickness) == tp["slice_thickness_mm"]
            assert tp["day"] == 42 * n
            studies.add(tp["study_uid"])
        assert len(studies) == len(subject["timepoints"])  # one study per visit
        shifts = np.array([tp["patient_shift_mm"] for tp in truth["timepoints"]])
        assert np.abs(np.diff(shifts, axis=0)).max() > 1.0  # the patient lies differently at each visit


def test_case_files_are_the_truth_as_recorded(trial: Path) -> None:
    for sid in SUBJECTS:
        truth = json.loads((trial / sid / "ground_truth.json").read_text())
        for stem, criteria in (("recist", "RECIST 1.1"), ("irecist", "iRECIST")):
            case = json.loads((trial / sid / f"case_{stem}.json").read_text())
            assert case == build_case(truth, criteria)
            expected = json.loads((trial / sid / f"expected_{stem}.json").read_text())
            for tp_case, tp_exp in zip(case["timepoints"], expected["timepoints"], strict=True):
                targets = [e for e in tp_case["lesions"] if "diameter_mm" in e and e["id"].startswith("T")]
                assert sum(e["diameter_mm"] for e in targets) == pytest.approx(tp_exp["sum_mm"])
        for lesion in truth["lesions"]:
            for row in lesion["timepoints"]:
                if row["present"] and lesion["measure"] != "none":
                    axis = row["short_axis_mm"] if lesion["node"] else row["long_axis_mm"]
                    assert recorded_mm(lesion, row) == pytest.approx(axis, abs=0.05)
                    assert row["short_axis_mm"] <= row["long_axis_mm"] + 1e-6


#: HU the 3 x 3 voxels at a lesion's centre must show (small mode: 2.2 mm pixels) while it is there / once it is gone.
CENTRE_HU = {
    "liver": ((-40, 75), (80, 140)), "lung": ((-400, 100), (-1100, -600)), "lymph node": ((-20, 90), None),
    "pleura": ((-20, 50), (-1100, -600)), "peritoneum": ((-30, 60), None),
}


def test_lesions_sit_where_the_truth_says(trial: Path) -> None:
    """The voxels at each lesion's centre have the lesion's attenuation; where a lesion has gone, the organ's."""
    idx = _index(trial)
    checked = set()
    for subject in idx["subjects"]:
        truth = json.loads((trial / subject["ground_truth"]).read_text())
        for n, tp in enumerate(subject["timepoints"]):
            hu, dss = _volume(trial / tp["folder"])
            x0, y0 = (float(v) for v in dss[0].ImagePositionPatient[:2])
            px = float(dss[0].PixelSpacing[0])
            zs = np.array([float(d.ImagePositionPatient[2]) for d in dss])
            for lesion in truth["lesions"]:
                row = lesion["timepoints"][n]
                if lesion["organ"] not in CENTRE_HU:
                    continue
                there, gone = CENTRE_HU[lesion["organ"]]
                big_enough = lesion["measure"] == "none" or (row["present"] and (
                    row["short_axis_mm"] if lesion["node"] else row["long_axis_mm"]) >= 12)
                centre = row["centre_lps_mm"] or truth_centre_at(truth, lesion, n)
                k = int(np.argmin(np.abs(zs - centre[2])))
                j, i = round((centre[1] - y0) / px), round((centre[0] - x0) / px)
                value = hu[k, j - 1:j + 2, i - 1:i + 2].mean()
                where = f"{subject['subject_id']} {lesion['id']} at {tp['label']}: {value:.0f} HU"
                if row["present"] and big_enough:
                    assert there[0] <= value <= there[1], where
                    checked.add((lesion["organ"], True))
                elif not row["present"] and gone is not None:
                    assert gone[0] <= value <= gone[1], where
                    checked.add((lesion["organ"], False))
    assert len(checked) >= 7, checked


def test_truth_does_not_depend_on_the_image_size_and_matches_the_bundle(trial: Path) -> None:
    """Small mode changes only the pixels: its truth is the bundled trial's (so the bundle is up to date too)."""
    bundle = Path(__file__).resolve().parents[2] / "sample_dicom"
    for sid in SUBJECTS:
        small = json.loads((trial / sid / "ground_truth.json").read_text())
        full = json.loads((bundle / sid / "ground_truth.json").read_text())
        assert (small.pop("small"), full.pop("small")) == (True, False)
        assert small == full, f"{sid}: sample_dicom/ is stale; run `recist generate-sample --out sample_dicom`"


def truth_centre_at(truth: dict[str, Any], lesion: dict[str, Any], n: int) -> list[float]:
    """Where an absent lesion was (its centre at another visit, moved by the change of the patient's position)."""
    ref = next(i for i, r in enumerate(lesion["timepoints"]) if r["present"])
    shift = np.subtract(truth["timepoints"][n]["patient_shift_mm"], truth["timepoints"][ref]["patient_shift_mm"])
    return list(np.add(lesion["timepoints"][ref]["centre_lps_mm"], shift))


TISSUE_LIMITS = {  # HU ranges of the mean over the interior of each tissue (portal-venous phase)
    "lung": (-880, -820), "fat": (-120, -80), "muscle": (30, 65), "liver": (85, 125), "spleen": (95, 130),
    "aorta": (150, 250), "cancellous bone": (200, 300), "gastric fluid": (-5, 30),
}


def test_tissues_have_their_hounsfield_units(trial: Path) -> None:
    idx = _index(trial)
    subject = idx["subjects"][1]
    truth = json.loads((trial / subject["ground_truth"]).read_text())
    tp = subject["timepoints"][0]
    hu, dss = _volume(trial / tp["folder"])
    shift = np.asarray(truth["timepoints"][0]["patient_shift_mm"])
    x0, y0 = (float(v) for v in dss[0].ImagePositionPatient[:2])
    px = float(dss[0].PixelSpacing[0])
    xs = x0 + np.arange(hu.shape[2]) * px - shift[0]
    ys = y0 + np.arange(hu.shape[1]) * px - shift[1]
    solids = build_anatomy(np.random.default_rng(0), Body())  # vessel trees differ; lung vessels are masked below
    means: dict[str, list[float]] = {t: [] for t in TISSUE_LIMITS}
    assert (hu[:, 0, :] == -1024).all() and (hu[:, :, 0] == -1024).all()  # air outside the body is exactly -1024
    for k in range(0, hu.shape[0], 3):
        z = float(dss[k].ImagePositionPatient[2]) - shift[2]
        planes = [_paint_plane(solids, xs, ys, z + dz, {}) for dz in (-0.6 * tp["slice_thickness_mm"], 0.0,
                                                                        0.6 * tp["slice_thickness_mm"])]
        for tissue in TISSUE_LIMITS:
            code = _CODES[tissue]
            same = np.ones(hu.shape[1:], dtype=bool)
            for labels in planes:
                m = labels == code
                for dj in (-2, 0, 2):  # interior: the tissue all around, so no partial volume
                    for di in (-2, 0, 2):
                        same &= np.roll(np.roll(m, dj, 0), di, 1)
            if same.sum() > 20:
                means[tissue].append(float(np.median(hu[k][same])))
    for tissue, (lo, hi) in TISSUE_LIMITS.items():
        assert means[tissue], f"no interior voxels of {tissue}"
        value = float(np.median(means[tissue]))
        assert lo <= value <= hi, f"{tissue}: {value:.0f} HU outside {lo}..{hi}"


def test_same_seed_same_pixels_and_uids(trial: Path) -> None:
    again = generate_subject(SUBJECTS[0], small=True)
    idx = _index(trial)
    subject = idx["subjects"][0]
    for tp_mem, tp in zip(again.timepoints, subject["timepoints"], strict=True):
        hu, dss = _volume(trial / tp["folder"])
        assert np.array_equal(hu, tp_mem.hu.astype(np.int32))
        assert tp_mem.header.study_uid == tp["study_uid"]
        assert [d.SOPInstanceUID for d in dss] == list(tp_mem.header.sop_uids)
    other = generate_subject(SUBJECTS[0], seed=7, small=True)
    assert other.timepoints[0].header.study_uid != subject["timepoints"][0]["study_uid"]
    assert not np.array_equal(other.timepoints[0].hu, again.timepoints[0].hu)


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy (Debian dicom3tools) is not installed")
def test_dciodvfy_finds_no_error(trial: Path) -> None:
    files = [sorted((trial / tp["folder"]).glob("*.dcm"))[0]
             for s in _index(trial)["subjects"] for tp in s["timepoints"]]
    for f in files:
        res = subprocess.run(["dciodvfy", str(f)], capture_output=True, text=True, timeout=60)
        problems = [ln for ln in (res.stdout + res.stderr).splitlines() if ln.startswith(("Error", "Warning"))]
        assert not problems, f"{f}: {problems}"
