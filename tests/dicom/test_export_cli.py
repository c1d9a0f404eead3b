"""`recist export` and `recist import` end to end: files on disk, dciodvfy-clean DICOM, and the read back unchanged."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest

from tests.dicom.test_export_dicom import carried_by_sr, dciodvfy_errors, write_ct_series
from tests.unit.test_sdtm_known_read import (
    FRAME_OF_REFERENCE,
    MATRIX,
    SLICES,
    known_read,
    known_series,
    without_frame_of_reference,
)
from workstation.cli import main
from workstation.export.read_json import load_read, write_read
from workstation.export.xport import read_xport
from workstation.mask_store import MaskStore


@pytest.fixture(scope="module")
def trial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("trial")
    read = known_read()
    for i, tp in enumerate(read.timepoints):
        write_ct_series(known_series(i, tp.date), root / "ct" / f"T{i}")
    store = MaskStore(root / "masks")
    s0 = known_series(0, read.timepoints[0].date)
    yy, xx = np.mgrid[-8:9, -8:9]
    disc = (yy**2 + xx**2) <= 49
    read.timepoints[0].assessments["T1"].measurements[0].mask_ref = store.save(
        np.stack([disc, disc]), (3, 20, 12), (SLICES, MATRIX, MATRIX), s0.series_uid, FRAME_OF_REFERENCE,
        s0.sop_uids[3:5])
    write_read(read, root / "reads" / "alice.json")
    write_read(known_read("bob"), root / "reads" / "bob.json")
    return root


def test_export_all_then_import_gives_the_read_back(trial: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = trial / "out"
    code = main(["export", "all", str(trial / "reads"), "--out", str(out), "--dicom", str(trial / "ct"),
                 "--masks", str(trial / "masks"), "--study-id", "TIL01", "--sponsor", "Example Cancer Centre"])
    assert code == 0, capsys.readouterr().err
    assert len(list((out / "sr").glob("*.dcm"))) == 6 and len(list((out / "seg").glob("*.dcm"))) == 1
    # the data manager's finding: the sponsor was always "RECIST workstation"
    assert {str(pydicom.dcmread(f).ClinicalTrialSponsorName) for f in (out / "sr").glob("*.dcm")} == {
        "Example Cancer Centre"}
    for f in [*(out / "sr").glob("*.dcm"), *(out / "seg").glob("*.dcm")]:
        assert dciodvfy_errors(f) == [], f
    _, _, tu = read_xport(out / "sdtm" / "tu.xpt")
    assert {r["USUBJID"] for r in tu} == {"TIL01-S001"} and len(tu) == 8
    with (out / "tables" / "responses.csv").open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["reader"] == "alice"]
    assert [r["overall_response"] for r in rows if r["criteria"] == "RECIST 1.1"] == ["", "PR", "PD"]
    # alice read under RECIST 1.1: her iRECIST responses come from the same measurements (a derived read)
    irecist = [r for r in rows if r["criteria"] == "iRECIST"]
    assert [r["overall_response"] for r in irecist] == ["", "iPR", "iUPD"]
    assert {r["read_id"] for r in irecist} == {"read-alice+iRECIST"}
    case = json.loads((out / "cases" / "S001_alice_RECIST1.1.json").read_text())
    assert case == known_read().to_case()
    assert load_read(out / "reads" / "S001_read-alice.json") == load_read(trial / "reads" / "alice.json")

    imported = trial / "imported"
    code = main(["import", str(out / "sr"), str(out / "seg"), "--out", str(imported), "--dicom", str(trial / "ct"),
                 "--masks", str(trial / "masks2")])
    assert code == 0, capsys.readouterr().err
    reads = {r.reader: r for r in (load_read(p) for p in imported.glob("*.json"))}
    original = load_read(trial / "reads" / "alice.json")
    alice = reads["alice"]
    new_ref = alice.timepoints[0].assessments["T1"].measurements[0].mask_ref
    assert new_ref is not None
    old_mask = MaskStore(trial / "masks").load(original.timepoints[0].assessments["T1"].measurements[0].mask_ref or "")
    new_mask = MaskStore(trial / "masks2").load(new_ref)
    assert np.array_equal(new_mask.full_mask(), old_mask.full_mask())
    assert new_mask.sop_instance_uids == old_mask.sop_instance_uids
    assert carried_by_sr(alice) == carried_by_sr(original)
    assert carried_by_sr(reads["bob"]) == carried_by_sr(known_read("bob"))


def test_user_errors_are_one_line(trial: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "seg", str(trial / "reads"), "--out", str(tmp_path)]) == 2
    assert "seg needs --masks (the mask store) and --dicom (the source CT images)" in capsys.readouterr().err
    assert main(["export", "seg", str(trial / "reads"), "--out", str(tmp_path), "--dicom", str(trial / "ct")]) == 2
    assert capsys.readouterr().err.strip().endswith("seg needs --masks (the mask store)")  # --dicom was given
    assert main(["export", "all", str(trial / "reads"), "--out", str(tmp_path / "all"), "--study-id", "T1"]) == 0
    assert "no SEG: it needs --masks (the mask store) and --dicom (the source CT images)" in capsys.readouterr().err
    missing = tmp_path / "no-masks"
    assert main(["export", "seg", str(trial / "reads"), "--out", str(tmp_path), "--masks", str(missing),
                 "--dicom", str(trial / "ct")]) == 2
    assert f"--masks {missing}: no such folder" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "recist-workstation/read", "subject_id": "S1", "reader": "x", "read_id": "r", '
                      '"lesions": [], "timepoints": [{"label": "b", "date": "yesterday"}]}')
    assert main(["export", "sdtm", str(broken), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "broken.json timepoint b" in err and "not a date" in err and "Traceback" not in err
    not_dicom = tmp_path / "x.dcm"
    not_dicom.write_bytes(b"not dicom")
    assert main(["import", str(not_dicom), "--out", str(tmp_path / "i")]) == 2
    assert "x.dcm: not a DICOM SR or SEG (not readable as DICOM)" in capsys.readouterr().err
    ct = next((trial / "ct" / "T0").glob("*.dcm"))
    assert main(["import", str(ct), "--out", str(tmp_path / "i")]) == 2
    assert "(modality CT)" in capsys.readouterr().err
    # a folder holding the engine's results and ground truth beside its case files: those are passed over, as
    # `recist export` passes them over (the data manager's finding), and a file named twice is read once
    folder = tmp_path / "subject"
    write_read(known_read(), folder / "alice.json")
    (folder / "expected_recist.json").write_text('{"subject_id": "S001", "timepoints": [{"label": "b"}]}')
    (folder / "trial.json").write_text('{"subjects": []}')
    assert main(["import", str(folder), str(folder / "alice.json"), "--out", str(tmp_path / "j")]) == 0
    assert [p.name for p in (tmp_path / "j").iterdir()] == ["S001_alice_read-alice.json"]
    # --user signs in for --db only: with read files it is refused, not silently ignored.
    for command in (["export", "csv"], ["report"]):
        assert main([*command, str(trial / "reads"), "--out", str(tmp_path / "u"), "--user", "dm"]) == 2
        assert "sign in for --db" in capsys.readouterr().err


def test_import_never_replaces_a_saved_read(trial: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = trial / "reads" / "alice.json"
    assert main(["import", str(src), "--out", str(tmp_path)]) == 0
    (saved,) = tmp_path.glob("*.json")
    saved.write_text(saved.read_text().replace('"segment VII"', '"segment VIII"'))  # a reader's later edit
    before = saved.read_text()
    assert main(["import", str(src), "--out", str(tmp_path)]) == 2
    assert "never replaced without --overwrite" in capsys.readouterr().err
    assert saved.read_text() == before
    assert main(["import", str(src), "--out", str(tmp_path), "--overwrite"]) == 0


def test_an_output_path_that_is_a_file_is_named(trial: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    assert main(["export", "csv", str(trial / "reads"), "--out", str(a_file)]) == 2
    assert capsys.readouterr().err.strip() == f"recist export: --out {a_file} is a file, not a folder"
    assert main(["report", str(trial / "reads"), "--out", str(a_file / "report")]) == 2
    assert f"cannot create the folder ({a_file} is a file)" in capsys.readouterr().err
    assert a_file.read_text() == "not a folder"


def test_an_export_from_files_is_all_or_nothing(trial: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The formats written before a failing one are not left behind; an output folder keeps what it held."""
    reads = tmp_path / "reads"
    write_read(known_read(), reads / "alice.json")
    write_read(without_frame_of_reference(known_read("bob")), reads / "bob.json")
    out = tmp_path / "out"
    # SR asked for by name: bob's cannot be built, so none is written (alice's came first).
    assert main(["export", "sr", str(reads), "--out", str(out), "--dicom", str(trial / "ct"), "--study-id", "T1",
                 "--sponsor", "S"]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        f"recist export: writing SR failed for subject S001, read read-bob (bob) from {reads / 'bob.json'}: subject "
        "S001 timepoint baseline "
        "lesion T1 measurement 1: end points without a frame of reference UID cannot be placed in 3-D; "
        f"nothing was written to {out}"
    ]
    assert captured.out == "" and not out.exists()
    # SEG asked for by name from a mask store without the masks: it fails, and the output folder keeps what it held.
    out.mkdir()
    (out / "notes.txt").write_text("kept")
    empty = tmp_path / "empty-store"
    empty.mkdir()
    args = ["export", "seg", str(trial / "reads"), "--out", str(out), "--dicom", str(trial / "ct")]
    assert main([*args, "--masks", str(empty)]) == 2
    err = capsys.readouterr().err
    assert "recist export: writing SEG failed for subject S001, read read-alice (alice) from " in err  # the file
    assert err.strip().endswith(f"nothing was written to {out}")
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_export_all_leaves_out_a_seg_whose_masks_are_missing(
    trial: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A data manager exporting everything gets every other format, and a line naming the SEG left out and why."""
    empty = tmp_path / "empty-store"
    empty.mkdir()
    out = tmp_path / "out"
    args = ["export", "all", str(trial / "reads"), "--out", str(out), "--dicom", str(trial / "ct")]
    assert main([*args, "--masks", str(empty), "--study-id", "T1"]) == 0
    err = capsys.readouterr().err
    assert "no SEG for subject S001 (alice, RECIST 1.1, read read-alice): subject S001 timepoint " in err
    assert err.strip().splitlines()[-1].endswith("left out (named above): the SEG of 1 read(s)")
    assert {p.name for p in out.iterdir()} >= {"sdtm", "tables", "reads", "sr"}
    assert not list(out.rglob("*.SEG.dcm"))


def test_export_all_from_files_leaves_out_an_sr_it_cannot_build(
    trial: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    reads = tmp_path / "reads"
    write_read(known_read(), reads / "alice.json")
    write_read(without_frame_of_reference(known_read("bob")), reads / "bob.json")
    out = tmp_path / "out"
    assert main(["export", "all", str(reads), "--out", str(out), "--dicom", str(trial / "ct"), "--study-id", "T1"]) == 0
    err = capsys.readouterr().err
    assert "no SR for subject S001 (bob, RECIST 1.1, read read-bob): subject S001 timepoint baseline lesion T1" in err
    assert err.strip().splitlines()[-1].endswith("left out (named above): the SR of 1 read(s)")
    assert {p.name.split("_")[1] for p in (out / "sr").glob("*.dcm")} == {"alice"}
    assert {p.name for p in (out / "reads").iterdir()} == {"S001_read-alice.json", "S001_read-bob.json"}


def test_the_default_study_id_is_said(tmp_path, capsys):
    write_read(known_read(), tmp_path / "reads" / "alice.json")
    assert main(["export", "sdtm", str(tmp_path / "reads"), "--out", str(tmp_path / "out")]) == 0
    assert "STUDYID RECIST-TRIAL (the default): give --study-id with the protocol's id" in capsys.readouterr().err
    args = ["export", "sdtm", str(tmp_path / "reads"), "--out", str(tmp_path / "o2"), "--study-id", "TIL01"]
    assert main(args) == 0
    assert "STUDYID" not in capsys.readouterr().err


def test_the_study_id_is_the_trials_own_protocol_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A case file in a trial folder: STUDYID is the protocol_id of the trial.json above it (it was the default)."""
    subject = tmp_path / "trial" / "SUBJ-001"
    write_read(known_read(), subject / "alice.json")
    (tmp_path / "trial" / "trial.json").write_text(json.dumps({"protocol_id": "TIL-PEMBRO-GC-01", "subjects": []}))
    assert main(["export", "sdtm", str(subject / "alice.json"), "--out", str(tmp_path / "out")]) == 0
    assert f"STUDYID TIL-PEMBRO-GC-01 (the protocol_id of {tmp_path / 'trial' / 'trial.json'})" in (
        capsys.readouterr().err
    )
    with (tmp_path / "out" / "sdtm" / "tu.csv").open() as f:
        assert {row["STUDYID"] for row in csv.DictReader(f)} == {"TIL-PEMBRO-GC-01"}
    args = ["export", "sdtm", str(subject), "--out", str(tmp_path / "o2"), "--study-id", "OTHER"]
    assert main(args) == 0
    assert "note: --study-id OTHER differs from" in capsys.readouterr().err
    other = tmp_path / "other"
    write_read(known_read("bob"), other / "bob.json")
    (other / "trial.json").write_text(json.dumps({"protocol_id": "ANOTHER-01", "subjects": []}))
    assert main(["export", "sdtm", str(subject), str(other), "--out", str(tmp_path / "o3")]) == 2
    assert "trials with different protocol ids: TIL-PEMBRO-GC-01" in capsys.readouterr().err
    (other / "trial.json").write_text('{"protocol_id": 7}')
    assert main(["export", "sdtm", str(other), "--out", str(tmp_path / "o4")]) == 2
    assert "trial.json is unreadable ('protocol_id' must be a non-empty text, got 7)" in capsys.readouterr().err


def test_an_sdtm_export_of_another_subject_or_study_does_not_replace_one_in_the_same_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A data manager's report: `export sdtm` of subject 2 (another study id) into the folder of subject 1's export
    exited 0 and tu.csv held only subject 2. Refused now, naming what the folder holds; nothing is written."""

    def case(subject: str) -> Path:
        p = tmp_path / f"{subject}.json"
        p.write_text(json.dumps({"subject_id": subject, "timepoints": [{"label": "baseline", "date": "2026-01-05",
                                 "lesions": [{"id": "T1", "role": "target", "organ": "liver", "diameter_mm": 40}]}]}))
        return p

    out = tmp_path / "out"
    assert main(["export", "sdtm", str(case("S1")), "--out", str(out), "--study-id", "TIL01"]) == 0
    before = (out / "sdtm" / "tu.csv").read_text()
    capsys.readouterr()
    assert main(["export", "sdtm", str(case("S2")), "--out", str(out), "--study-id", "OTHER"]) == 2
    assert "holds an export of study 'TIL01'; this one is of study 'OTHER'" in capsys.readouterr().err
    assert main(["export", "sdtm", str(case("S2")), "--out", str(out), "--study-id", "TIL01"]) == 2
    assert "1 read(s) this one does not have (subject S1)" in capsys.readouterr().err
    assert (out / "sdtm" / "tu.csv").read_text() == before
    both = [str(case("S1")), str(case("S2"))]
    assert main(["export", "sdtm", *both, "--out", str(out), "--study-id", "TIL01"]) == 0  # more reads: fine
    assert "TIL01-S2" in (out / "sdtm" / "tu.csv").read_text()


def test_export_takes_the_case_files_the_report_and_endpoints_take(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A case file holding a list of cases, and a follow-up without 'lesions' (nothing recorded), were passed over by
    `recist export` (the biostatistician's finding, fixed in the report and endpoints, left in export and import);
    other JSON files in the folder are named as left out."""
    base = {"label": "baseline", "date": "2026-01-05",
            "lesions": [{"id": "T1", "role": "target", "organ": "liver", "diameter_mm": 30}]}
    cases = [{"subject_id": f"Q{n}", "criteria": "RECIST 1.1", "timepoints": [
        base, {"label": "week 6", "date": "2026-02-16", "lesions": [{"id": "T1", "diameter_mm": 20}]}]}
        for n in (1, 2)]
    folder = tmp_path / "cases"
    folder.mkdir()
    (folder / "site01.json").write_text(json.dumps(cases), encoding="utf-8")
    (folder / "K3.json").write_text(json.dumps({"subject_id": "K3", "timepoints": [
        base, {"label": "week 6", "date": "2026-02-16"}]}), encoding="utf-8")
    (folder / "trial.json").write_text(json.dumps({"subjects": []}), encoding="utf-8")
    assert main(["export", "csv", str(folder), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "3 read(s)" in err and "left out 1 JSON file(s) that are no read or case file" in err
    assert "trial.json" in err
