"""`recist report` and `recist endpoints` take the same subjects from a folder of case files (the biostatistician's
findings: a list file, a follow-up without "lesions" and a no-disease subject were dropped by one or both)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from workstation.cli import main


def _case(subject: str, diameters: list[float | None], **fields: Any) -> dict[str, Any]:
    """One 50 mm liver target and a bone non-target, a follow-up every 6 weeks; None: a visit with nothing recorded
    (no "lesions" key, which defaults to empty)."""
    dates = ["2026-01-05", "2026-02-16", "2026-03-30", "2026-05-11", "2026-06-22"]
    tps: list[dict[str, Any]] = [{"label": "baseline", "date": dates[0], "lesions": [
        {"id": "T1", "role": "target", "organ": "liver", "diameter_mm": 50.0},
        {"id": "NT1", "role": "non-target", "organ": "bone", "status": "present"}]}]
    for n, d in enumerate(diameters, 1):
        tp: dict[str, Any] = {"label": f"fu{n}", "date": dates[n]}
        if d is not None:
            tp["lesions"] = [{"id": "T1", "diameter_mm": d}, {"id": "NT1", "status": "present"}]
        tps.append(tp)
    return {"subject_id": subject, "criteria": "RECIST 1.1", "timepoints": tps, **fields}


def _no_disease(subject: str) -> dict[str, Any]:
    return {"subject_id": subject, "timepoints": [{"label": "baseline", "date": "2026-01-05"},
                                                  {"label": "fu1", "date": "2026-02-16"}]}


def _write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _endpoints(folder: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["endpoints", str(folder)]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


def _report_orr(folder: Path, out: Path) -> tuple[int, int]:
    assert main(["report", str(folder), "--out", str(out)]) == 0
    with (out / "endpoints.csv").open() as fh:
        row = next(r for r in csv.DictReader(fh) if r["criteria"] == "RECIST 1.1" and r["endpoint"] == "ORR")
    return int(row["count"]), int(row["n"])


def test_a_file_holding_a_list_of_cases_is_in_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The report took one subject of three (ORR 0/1) where `recist endpoints` took all (2/3)."""
    folder = tmp_path / "cases"
    _write(folder / "site01.json", [_case("Q1", [30, 30]), _case("Q2", [30, 30])])
    _write(folder / "Q3.json", _case("Q3", [70]))
    assert _endpoints(folder, capsys)["orr"]["count"] == 2
    assert _report_orr(folder, tmp_path / "out") == (2, 3)


def test_case_files_are_told_by_subject_id_and_timepoints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A follow-up with nothing recorded (no "lesions": NE) dropped the subject from the report; a no-disease subject
    (no "lesions" anywhere) dropped its whole list file from both commands. Other JSON files are named as left out."""
    folder = tmp_path / "cases"
    _write(folder / "K1.json", _case("K1", [30, 30]))
    _write(folder / "K2.json", _case("K2", [30, 30, None, 40]))
    _write(folder / "site01.json", [_case("L0", [30, 30]), _no_disease("L9")])
    _write(folder / "P0.json", _case("P0", [70]))
    _write(folder / "K1" / "expected_recist.json", {"subject_id": "K1", "best_overall_response": "PR",
                                                    "timepoints": [{"label": "baseline", "sum_mm": 50}]})
    _write(folder / "K1" / "ground_truth.json", {"subject_id": "K1", "lesions": [],
                                                 "timepoints": [{"label": "baseline", "date": "2026-01-05"}]})
    out = _endpoints(folder, capsys)
    assert (out["subjects"], out["orr"]["count"], out["orr"]["n"]) == (5, 3, 4)  # L9: no measurable disease
    left_out = [str(folder / "K1" / "expected_recist.json"), str(folder / "K1" / "ground_truth.json")]
    assert out["files_left_out"] == left_out
    assert main(["endpoints", str(folder), "--format", "table"]) == 0
    assert f"Left out: 2 JSON file(s) that are not case files: {', '.join(left_out)}" in capsys.readouterr().out
    assert _report_orr(folder, tmp_path / "out") == (3, 4)
    with (tmp_path / "out" / "subjects.csv").open() as fh:
        rows = {r["subject_id"]: r for r in csv.DictReader(fh) if r["criteria"] == "RECIST 1.1"}
    assert set(rows) == {"K1", "K2", "L0", "L9", "P0"} and rows["L9"]["best_overall_response"] == "NED"
    assert "Left out: 2 JSON files that are not read or case files" in (tmp_path / "out" / "report.html").read_text()
    assert "left out 2 JSON files that are not read or case files" in capsys.readouterr().err


def test_a_list_with_something_that_is_no_case_is_refused_naming_the_file_and_the_case(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "cases"
    _write(folder / "site01.json", [_case("L0", [30, 30]), {"subject_id": "L1", "timepoints": [{"label": "b"}]}])
    expected = (f"{folder / 'site01.json'}: case 2 of 2 (subject L1) is not a case: timepoint 1 gives no label and "
                "date (docs/case-file.md)")
    assert main(["endpoints", str(folder)]) == 1
    assert capsys.readouterr().err.strip() == f"recist endpoints: {expected}"
    assert main(["report", str(folder), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip() == f"recist report: {expected}"
    assert not (tmp_path / "out").exists()


def test_the_report_evaluates_the_case_as_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """confirmation_min_days (56 here) was lost on the way to the report, which confirmed a PR 42 days later."""
    folder = tmp_path / "cases"
    _write(folder / "W1.json", _case("W1", [30, 30], confirmation_min_days=56))
    _write(folder / "W2.json", _case("W2", [30, 30, 30], confirmation_min_days=56))
    assert _endpoints(folder, capsys)["orr"]["count"] == 1
    assert _report_orr(folder, tmp_path / "out") == (1, 2)


def test_contradictory_dates_are_refused_naming_the_file_and_the_fields(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A death before the treatment start said "<folder>: subject V1: PFS event ... before its origin"; a last contact
    after the death was accepted. Both are refused naming the file and the fields; a treatment start over a year before
    the baseline scan is warned about, naming the subject."""
    folder = tmp_path / "cases"
    _write(folder / "V1.json", _case("V1", [], treatment_start="2026-01-15", death_date="2026-01-10"))
    v1 = f"{folder / 'V1.json'}: subject V1: death_date 2026-01-10 is before treatment_start 2026-01-15"
    assert main(["endpoints", str(folder)]) == 1
    assert capsys.readouterr().err.startswith(f"recist endpoints: {v1} (the origin of PFS and OS)")
    assert main(["report", str(folder), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"recist report: {folder / 'V1.json'}: RECIST 1.1: subject V1: death_date")
    assert "Traceback" not in err
    (folder / "V1.json").unlink()
    _write(folder / "V2.json", _case("V2", [30], death_date="2026-04-15", last_contact_date="2026-07-24"))
    assert main(["endpoints", str(folder)]) == 1
    assert capsys.readouterr().err.strip() == (
        f"recist endpoints: {folder / 'V2.json'}: subject V2: last_contact_date 2026-07-24 is after death_date "
        "2026-04-15 (a subject is not seen alive after death)")
    assert main(["report", str(folder), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "V2.json: RECIST 1.1: subject V2: last_contact_date 2026-07-24 is after death_date" in err
    (folder / "V2.json").unlink()
    _write(folder / "V3.json", _case("V3", [30], treatment_start="2024-12-01"))
    warning = ("subject V3: treatment_start 2024-12-01 is 400 days before the baseline scan 2026-01-05 (PFS and OS "
               "count from it): check the date")
    assert main(["endpoints", str(folder), "--format", "table"]) == 0
    assert f"Warning: {warning}" in capsys.readouterr().out
    assert main(["report", str(folder), "--out", str(tmp_path / "out")]) == 0
    assert f"recist report: warning: RECIST 1.1: {warning}" in capsys.readouterr().err
    assert f"<th>Warning</th><td>{warning}</td>" in (tmp_path / "out" / "report.html").read_text()


def test_endpoints_take_workstation_read_files_as_the_report_does(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The re-check's finding: `recist endpoints` passed over read files ("not case files"), ORR 1/2 against the
    report's 2/4 from the same folder."""
    from workstation.export.read_json import read_from_case, write_read

    folder = tmp_path / "mix"
    for subject, sizes in (("R1", [30, 30]), ("R2", [70])):
        write_read(read_from_case(_case(subject, sizes)), folder / f"{subject}.read.json")
    _write(folder / "C1.json", _case("C1", [30, 30]))
    _write(folder / "C2.json", _case("C2", [70]))
    out = _endpoints(folder, capsys)
    assert (out["orr"]["count"], out["orr"]["n"]) == (2, 4) and out["files_left_out"] == []
    assert _report_orr(folder, tmp_path / "out") == (2, 4)


def test_a_case_file_with_a_mistyped_timepoint_is_refused_not_left_out(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The re-check's finding: "Date" for "date" made the file "not a case file", and the subject left the ORR
    denominator with only a "left out" line."""
    folder = tmp_path / "cases"
    bad = _case("B1", [30, 30])
    bad["timepoints"][2]["Date"] = bad["timepoints"][2].pop("date")
    _write(folder / "B1.json", bad)
    _write(folder / "A1.json", _case("A1", [30, 30]))
    assert main(["endpoints", str(folder)]) != 0
    assert "B1.json: subject B1: timepoint 3 gives no label and date" in capsys.readouterr().err
    assert main(["report", str(folder), "--out", str(tmp_path / "out")]) != 0
    assert "B1.json: subject B1: timepoint 3 gives no label and date" in capsys.readouterr().err


def test_the_export_evaluates_case_files_as_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The data manager's findings: `recist export` evaluated each case file's read, which rounded diameters to 0.1 mm
    (35.02 mm of 50 became -30 %: PR where the case gives SD) and dropped confirmation_min_days (PR confirmed at 42
    days against the case's 56)."""
    folder = tmp_path / "cases"
    _write(folder / "R1.json", _case("R1", [35.02, 41.98]))  # -29.96 %, then +19.87 % over the nadir
    case = _case("R2", [30, 30])
    case["confirmation_min_days"] = 56
    _write(folder / "R2.json", case)
    assert main(["export", "sdtm", str(folder), "--out", str(tmp_path / "out"), "--study-id", "DM"]) == 0
    with (tmp_path / "out" / "sdtm" / "rs.csv").open() as fh:
        rs = list(csv.DictReader(fh))
    best = {(r["USUBJID"], r["RSCAT"]): r["RSORRES"] for r in rs if r["RSTESTCD"] == "BESTRESP"}
    assert best[("DM-R1", "RECIST 1.1")] == "SD" and best[("DM-R2", "RECIST 1.1")] == "SD"
    assert [r["RSORRES"] for r in rs if r["USUBJID"] == "DM-R1" and r["RSTESTCD"] == "OVRLRESP"
            and r["RSCAT"] == "RECIST 1.1"] == ["SD", "SD"]
    with (tmp_path / "out" / "sdtm" / "tr.csv").open() as fh:
        tr = [r for r in csv.DictReader(fh) if r["USUBJID"] == "DM-R1" and r["VISITNUM"] == "2" and r["TRSTRESN"]]
    assert {r["TRTESTCD"]: r["TRSTRESN"] for r in tr} == {"LDIAM": "35.02", "SUMDIAM": "35.02"}
    assert {r["TRTESTCD"]: r["TRORRES"] for r in tr} == {"LDIAM": "35.02", "SUMDIAM": "35.02"}


def test_a_measured_equivocal_new_lesion_stays_equivocal_in_the_read(tmp_path: Path) -> None:
    """The data manager's finding: a case file's equivocal new lesion with a diameter became an unequivocal one in the
    read made from it (TR UNEQUIVOCAL, and PD wherever the read was evaluated)."""
    from recist import evaluate_case
    from workstation.export.read_json import read_from_case
    from workstation.read_model import LesionStatus

    case = _case("E1", [50, 50])
    case["timepoints"][1]["lesions"].append(
        {"id": "N1", "role": "new", "organ": "lung", "status": "equivocal", "diameter_mm": 6.0})
    read = read_from_case(case)
    assert read.timepoints[1].assessments["N1"].status is LesionStatus.EQUIVOCAL
    assert [t["overall_response"] for t in evaluate_case(read.to_case())["timepoints"][1:]] == ["SD", "SD"]
