"""SDTM of the bundled sample trial checked against its ground truth and hand-reasoned expected responses."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from workstation.export.read_json import read_from_case
from workstation.export.sdtm import build_sdtm, evaluate_reads, visit_name

SAMPLE = Path(os.environ.get("RECIST_SAMPLE_DIR", Path(__file__).resolve().parents[2] / "sample_dicom"))
CASES = sorted(SAMPLE.glob("SUBJ-*/case_*.json"))

pytestmark = pytest.mark.skipif(not CASES, reason="sample_dicom/ is not generated (recist generate-sample)")


def _load(path: Path) -> Any:
    return json.loads(path.read_text())


@pytest.mark.parametrize("case_path", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_sdtm_matches_ground_truth_and_expected_responses(case_path: Path) -> None:
    truth = _load(case_path.parent / "ground_truth.json")
    expected = _load(case_path.parent / case_path.name.replace("case_", "expected_"))
    read = read_from_case(_load(case_path))
    results = evaluate_reads([read])
    ds = build_sdtm([read], results, study_id="TIL-PEMBRO-GC-01")
    usubjid = f"TIL-PEMBRO-GC-01-{truth['subject_id']}"
    assert {r["USUBJID"] for r in ds.tu + ds.tr + ds.rs} == {usubjid}

    # TU: every lesion of the truth, with its role and location.
    tu = {r["TULNKID"]: r for r in ds.tu}
    assert set(tu) == {les["id"] for les in truth["lesions"]}
    for les in truth["lesions"]:
        assert tu[les["id"]]["TUORRES"] == les["role"].upper()
        assert tu[les["id"]]["TULOC"] == ("LYMPH NODE" if les["node"] else les["organ"].upper())

    # VISIT is derived from VISITNUM (the timepoint's place in the read), not from the case's own labels.
    visit = {tp.label: visit_name(i + 1) for i, tp in enumerate(read.timepoints)}

    # TR: the recorded diameter of every measured target is the truth's axis (short for nodes), 0 once gone.
    tr = {(r["VISIT"], r["TRLNKID"], r["TRTESTCD"]): r for r in ds.tr}
    for les in truth["lesions"]:
        if les["role"] != "target":
            continue
        testcd = "LPERP" if les["node"] else "LDIAM"
        for t in les["timepoints"]:
            axis = t["short_axis_mm"] if les["node"] else t["long_axis_mm"]
            want = round(axis, 1) if t["present"] else 0.0
            assert tr[(visit[t["label"]], les["id"], testcd)]["TRSTRESN"] == pytest.approx(want, abs=0.05)
    sums = [r["TRSTRESN"] for r in ds.tr if r["TRTESTCD"] == "SUMDIAM"]
    assert sums == pytest.approx([t["sum_mm"] for t in expected["timepoints"]])

    # RS: overall response per follow-up and the best response, as reasoned by hand.
    overall = {r["VISIT"]: r["RSORRES"] for r in ds.rs if r["RSTESTCD"] == "OVRLRESP"}
    checked = [t for t in expected["timepoints"][1:] if "overall_response" in t]  # after PD: arithmetic only
    assert checked
    for t in checked:
        code = t["overall_response"]
        assert overall[visit[t["label"]]] == (code if code.startswith("i") else code.upper().replace("NON-I", "NON-i"))
    (best,) = [r["RSORRES"] for r in ds.rs if r["RSTESTCD"] == "BESTRESP"]
    assert best == expected["best_overall_response"]
    assert {r["RSCAT"] for r in ds.rs} == {"iRECIST" if read.criteria == "iRECIST" else "RECIST 1.1"}
    new_by_visit = {r["VISIT"]: r["RSORRES"] for r in ds.rs if r["RSTESTCD"] == "NEWLPROG"}
    for t in expected["timepoints"][1:]:
        has_new = any(les["role"] == "new" and any(x["label"] == t["label"] and x["present"] for x in les["timepoints"])
                      for les in truth["lesions"])
        assert new_by_visit[visit[t["label"]]] == ("Y" if has_new else "N")
