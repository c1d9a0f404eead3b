"""The committed sample trial (sample_dicom/): complete, consistent, valid, small, and its expected responses are what
the response engine computes from its case files."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

from imaging.synthetic.cases import build_case

BUNDLE = Path(__file__).resolve().parents[2] / "sample_dicom"
SIZE_BUDGET_BYTES = 40 * 1024 * 1024
CRITERIA = (("recist", "RECIST 1.1"), ("irecist", "iRECIST"))


@pytest.fixture(scope="module")
def index() -> dict[str, Any]:
    path = BUNDLE / "trial.json"
    assert path.is_file(), "sample_dicom/trial.json is missing: run `recist generate-sample --out sample_dicom`"
    return dict(json.loads(path.read_text()))


def test_bundle_fits_the_size_budget() -> None:
    total = sum(f.stat().st_size for f in BUNDLE.rglob("*") if f.is_file())
    assert total < SIZE_BUDGET_BYTES, f"sample_dicom/ is {total / 2**20:.1f} MiB"


def test_every_listed_file_is_there_and_nothing_else(index: dict[str, Any]) -> None:
    assert len(index["subjects"]) >= 3
    listed = {BUNDLE / "trial.json"}
    for subject in index["subjects"]:
        assert len(subject["timepoints"]) >= 4
        listed.add(BUNDLE / subject["ground_truth"])
        listed.update(BUNDLE / p for p in subject["case_files"].values())
        listed.update(BUNDLE / p for p in subject["expected"].values())
        dates = [date.fromisoformat(tp["date"]) for tp in subject["timepoints"]]
        assert all((b - a).days == 42 for a, b in itertools.pairwise(dates))
        for tp in subject["timepoints"]:
            files = sorted((BUNDLE / tp["folder"]).glob("*.dcm"))
            assert len(files) == tp["slices"]
            listed.update(files)
            for f in (files[0], files[-1]):
                ds = pydicom.dcmread(f, stop_before_pixels=True)
                assert (ds.StudyInstanceUID, ds.SeriesInstanceUID) == (tp["study_uid"], tp["series_uid"])
                assert ds.ClinicalTrialSubjectID == subject["subject_id"]
    present = {f for f in BUNDLE.rglob("*") if f.is_file()}
    assert present == listed, f"unlisted: {sorted(map(str, present - listed))}; missing: {listed - present}"


def test_case_files_follow_from_the_ground_truth(index: dict[str, Any]) -> None:
    for subject in index["subjects"]:
        truth = json.loads((BUNDLE / subject["ground_truth"]).read_text())
        for criteria, path in subject["case_files"].items():
            assert json.loads((BUNDLE / path).read_text()) == build_case(truth, criteria)


def test_new_reads_of_the_bundle_take_its_case_files_protocol_settings(index: dict[str, Any]) -> None:
    """The app's reads of the bundled trial use the rules its expected responses were computed under."""
    settings = index["response_settings"]
    for subject in index["subjects"]:
        for path in subject["case_files"].values():
            case = json.loads((BUNDLE / path).read_text())
            assert (case["sd_min_days"], case["confirmation_required"]) == (
                settings["sd_min_days"],
                settings["confirmation_required"],
            )


def _engine() -> Any:
    try:
        from recist import evaluate_case
    except ImportError:
        return None
    return evaluate_case


@pytest.mark.skipif(_engine() is None, reason="recist.evaluate_case (the response engine, issue 2) is not available")
def test_engine_reproduces_the_expected_responses(index: dict[str, Any]) -> None:
    evaluate_case = _engine()
    for subject in index["subjects"]:
        for criteria in ("RECIST 1.1", "iRECIST"):
            case = json.loads((BUNDLE / subject["case_files"][criteria]).read_text())
            expected = json.loads((BUNDLE / subject["expected"][criteria]).read_text())
            got = evaluate_case(case)
            where = f"{subject['subject_id']} {criteria}"
            assert got["best_overall_response"] == expected["best_overall_response"], where
            assert [t["label"] for t in got["timepoints"]] == [t["label"] for t in expected["timepoints"]], where
            for tp_got, tp_exp in zip(got["timepoints"], expected["timepoints"], strict=True):
                for key, value in tp_exp.items():
                    if key != "reasoning":
                        assert tp_got[key] == value, f"{where} {tp_exp['label']} {key}: {tp_got[key]!r} != {value!r}"


def test_the_loader_reads_every_series_without_warnings(index: dict[str, Any]) -> None:
    loader = pytest.importorskip("imaging.loader", reason="the series loader (issue 3) is not available")
    for subject in index["subjects"]:
        truth = json.loads((BUNDLE / subject["ground_truth"]).read_text())
        for n, tp in enumerate(subject["timepoints"]):
            vol = loader.load_series(BUNDLE / tp["folder"])
            assert vol.shape == (tp["slices"], tp["rows"], tp["columns"])
            assert not vol.warnings, f"{tp['folder']}: {[str(w) for w in vol.warnings]}"
            assert vol.spacing[1:] == pytest.approx(tuple(tp["pixel_spacing_mm"]))
            for lesion in truth["lesions"]:
                row = lesion["timepoints"][n]
                if row["present"] and row["centre_lps_mm"] is not None:
                    kji = vol.patient_to_voxel(row["centre_lps_mm"])
                    assert all(0 <= v <= s - 1 for v, s in zip(kji, vol.shape, strict=True)), lesion["id"]


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy (Debian dicom3tools) is not installed")
def test_dciodvfy_finds_no_error_in_the_bundle(index: dict[str, Any]) -> None:
    for subject in index["subjects"]:
        for tp in subject["timepoints"]:
            files = sorted((BUNDLE / tp["folder"]).glob("*.dcm"))
            for f in (files[0], files[len(files) // 2]):
                res = subprocess.run(["dciodvfy", str(f)], capture_output=True, text=True, timeout=60)
                problems = [ln for ln in (res.stdout + res.stderr).splitlines() if ln.startswith(("Error", "Warning"))]
                assert not problems, f"{f}: {problems}"


def test_identities_look_real_but_say_they_are_fictitious(index: dict[str, Any]) -> None:
    names = set()
    for subject in index["subjects"]:
        ds = pydicom.dcmread(sorted((BUNDLE / subject["timepoints"][0]["folder"]).glob("*.dcm"))[0],
                             stop_before_pixels=True)
        assert "^" in str(ds.PatientName) and len(ds.PatientBirthDate) == 8 and ds.AccessionNumber
        assert "FICTITIOUS" in ds.InstitutionName and "SYNTHETIC" in ds.PatientComments
        names.add(str(ds.PatientName))
    assert len(names) == len(index["subjects"])
    assert np.all([len(s["patient_id"]) > 3 for s in index["subjects"]])
