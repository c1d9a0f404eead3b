"""The trial report over a small trial with known courses: numbers match the engine, every file is written."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_sdtm_known_read import known_read
from workstation.cli import main
from workstation.export.read_json import read_from_case
from workstation.report import build_report, select_reads
from workstation.report.build import ReportError

BASELINE = date(2026, 1, 5)


def case(subject: str, diameters: list[float], new_at: int | None = None, criteria: str = "RECIST 1.1") -> dict:
    """One liver target (plus a lung target) followed every 6 weeks; a new lesion at index ``new_at``."""
    tps: list[dict[str, Any]] = []
    for i, d in enumerate(diameters):
        lesions: list[dict[str, Any]] = [{"id": "T1", "diameter_mm": d}, {"id": "T2", "diameter_mm": 15.0}]
        if i == 0:
            lesions[0] |= {"role": "target", "organ": "liver", "node": False}
            lesions[1] |= {"role": "target", "organ": "lung", "node": False}
        if new_at is not None and i >= new_at:
            lesions.append({"id": "N1", "status": "unequivocal"} | ({"role": "new", "organ": "liver", "node": False}
                                                                     if i == new_at else {}))
        label = "baseline" if i == 0 else f"week {6 * i}"
        tps.append({"label": label, "date": (BASELINE + timedelta(weeks=6 * i)).isoformat(), "lesions": lesions})
    return {"subject_id": subject, "criteria": criteria, "confirmation_required": True, "sd_min_days": 35,
            "timepoints": tps}


#: Sums (T1 + 15): S01 PR confirmed then PD; S02 CR-like deep PR; S03 SD then PD; S04 PD at week 6;
#: S05 PR ongoing; S06 SD ongoing; S07 -27 % then PD over the nadir (BOR SD).
TRIAL = [
    case("S01", [45, 25, 20, 20, 40]),
    case("S02", [35, 10, 5, 5]),
    case("S03", [40, 38, 36, 60]),
    case("S04", [30, 45]),
    case("S05", [50, 30, 25, 24, 24]),
    case("S06", [40, 40, 41]),
    case("S07", [40, 25, 40]),
]


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    reads = [read_from_case(c) for c in TRIAL]
    build_report(reads, out, title="Test trial", generated=date(2026, 11, 26))
    return out


def test_every_file_is_written(report_dir: Path) -> None:
    names = {p.name for p in report_dir.iterdir()}
    assert {"report.html", "report.pdf", "endpoints.csv", "subjects.csv", "km_recist11_pfs.csv",
            "km_recist11_dor.csv"} <= names
    for fig in ("pfs", "dor", "waterfall", "spider", "swimmer"):
        png = report_dir / f"recist11_{fig}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    pdf = (report_dir / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") >= 6
    page = (report_dir / "report.html").read_text()
    # The case files are RECIST 1.1: the iRECIST section comes from the same measurements (both_criteria).
    assert page.count("data:image/png;base64,") == 10 and "Swimmer: time on study and response (iRECIST)" in page
    assert "Objective response rate" in page


def test_numbers_are_the_engines(report_dir: Path) -> None:
    from recist import evaluate_case
    from recist.endpoints import compute_endpoints

    expected = compute_endpoints([evaluate_case(c) for c in TRIAL])
    with (report_dir / "endpoints.csv").open() as fh:
        rows = {r["endpoint"]: r for r in csv.DictReader(fh) if r["criteria"] == "RECIST 1.1"}
    orr = rows["ORR"]
    assert (int(orr["count"]), int(orr["n"])) == (expected["orr"]["count"], expected["orr"]["n"])
    assert float(orr["ci_lower"]) == pytest.approx(expected["orr"]["ci_lower"])
    assert float(orr["ci_upper"]) == pytest.approx(expected["orr"]["ci_upper"])
    assert int(rows["ORR"]["count"]) == 3  # S01, S02, S05: confirmed PR
    assert int(rows["DCR"]["count"]) == 6  # all but S04
    assert int(rows["BOR PD"]["count"]) == 1
    assert rows["PFS median (days)"]["n"] == "7"
    with (report_dir / "subjects.csv").open() as fh:
        rows_by_criteria = [(r["criteria"], r) for r in csv.DictReader(fh)]
    subjects = {r["subject_id"]: r for c, r in rows_by_criteria if c == "RECIST 1.1"}
    assert subjects["S04"]["best_overall_response"] == "PD"
    assert {r["subject_id"]: r for c, r in rows_by_criteria if c == "iRECIST"}["S04"]["best_overall_response"] == "iUPD"
    assert float(subjects["S02"]["best_change_pct"]) == pytest.approx(-60.0)  # 50 -> 20
    assert subjects["S03"]["progression_day"] == "126"


def test_one_read_per_subject_and_criteria_the_adjudicated_first() -> None:
    reads = [known_read("bob"), known_read("alice"), known_read("carol", "adjudicator"), known_read("dan", "site")]
    assert [r.reader for r in select_reads(reads)] == ["carol"]
    assert [r.reader for r in select_reads(reads[:2])] == ["alice"]


def test_cli_report_over_a_folder_and_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "cases"
    src.mkdir()
    for c in TRIAL[:3]:
        (src / f"{c['subject_id']}.json").write_text(json.dumps(c))
    (src / "trial.json").write_text(json.dumps({"format": "recist-synthetic-trial", "subjects": []}))  # passed over
    assert main(["report", str(src), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "report.pdf").exists()
    bad = case("S09", [40, 38])
    bad["timepoints"][1]["date"] = "2025-01-01"  # before baseline: the engine refuses it
    (src / "S09.json").write_text(json.dumps(bad))
    assert main(["report", str(src), "--out", str(tmp_path / "out2")]) == 2
    err = capsys.readouterr().err
    assert "S09" in err and "Traceback" not in err


def test_two_case_files_of_one_subject_are_refused_naming_both(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """The hostile tester's finding: `recist report` over two different case files of one subject reported on one of
    them without a word ("report on 1 subject(s)"); `recist endpoints` refused the same input. Now both refuse."""
    src = tmp_path / "cases"
    src.mkdir()
    (src / "a.json").write_text(json.dumps(case("S01", [45, 25, 20])))
    (src / "b.json").write_text(json.dumps(case("S01", [45, 50])))
    assert main(["report", str(src), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"b.json: subject S01, site reader 'case-file', RECIST 1.1: already in {src / 'a.json'}; "
                        "give one read per subject, reader and criteria"), err
    assert not (tmp_path / "out").exists()
    assert main(["report", str(src / "a.json"), str(src), "--out", str(tmp_path / "out")]) == 2  # still two reads
    (src / "b.json").unlink()
    assert main(["report", str(src / "a.json"), str(src), "--out", str(tmp_path / "out")]) == 0  # one file, named twice


def test_overall_survival_appears_when_the_cases_give_death_dates(tmp_path: Path) -> None:
    cases = [dict(c) for c in TRIAL[:4]]
    cases[3] = dict(cases[3], death_date="2026-04-01")
    for c in cases[:3]:
        c["last_contact_date"] = "2026-06-30"
    reads = [read_from_case(c) for c in cases]
    keys = ("death_date", "last_contact_date")
    extras = {r.read_id: {k: c[k] for k in keys if k in c} for r, c in zip(reads, cases, strict=True)}
    files = build_report(reads, tmp_path, case_extras=extras)
    assert (tmp_path / "recist11_os.png") in files.png
    with (tmp_path / "endpoints.csv").open() as fh:
        os_row = next(r for r in csv.DictReader(fh) if r["endpoint"] == "OS median (days)")
    assert (os_row["n"], os_row["count"]) == ("4", "1")
    # each subject's PFS end, as the engine counts it: progression, death or censored at the last evaluable scan
    with (tmp_path / "subjects.csv").open() as fh:
        rows = {r["subject_id"]: r for r in csv.DictReader(fh) if r["criteria"] == "RECIST 1.1"}
    ends = {s: (r["pfs_end"], r["death_day"], r["last_evaluable_day"], r["last_scan_day"]) for s, r in rows.items()}
    assert ends == {
        "S01": ("progression", "", "168", "168"), "S02": ("censored", "", "126", "126"),
        "S03": ("progression", "", "126", "126"), "S04": ("progression", "86", "42", "42"),
    }  # fmt: skip
    html = (tmp_path / "report.html").read_text()
    assert "OS computed over" in html and "censored at the last contact, or the last scan when later" in html


def test_report_needs_reads(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no read"):
        build_report([], tmp_path)


def test_the_waterfall_bar_stops_at_progression() -> None:
    """PD at week 6 by a new lesion, the targets shrinking after it: the best change is the one up to week 6."""
    from workstation.export.sdtm import evaluate_reads
    from workstation.report.data import subject_result

    read = read_from_case(case("S08", [40, 40, 20, 20], new_at=1))
    result = subject_result(read, evaluate_reads([read])[read.read_id])
    assert result.best_overall_response == "PD" and result.progression_day == 42
    assert result.best_change_pct == pytest.approx(0.0)  # 55 -> 55 mm at week 6; 35 mm later is not drawn


def test_a_report_from_files_warns_where_central_readers_disagree_without_a_decision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Read files carry no review decision: the report would take the first reader's read, maybe the rejected one."""
    from workstation.cli.report import undecided_central_reads
    from workstation.export.read_json import write_read

    rita = read_from_case(case("S01", [45, 50, 60]), reader="rita")  # SD at week 6, then PD: BOR SD
    rob = read_from_case(case("S01", [45, 25, 20]), reader="rob")  # PR
    agree = [read_from_case(case("S02", [40, 40, 41]), reader=n) for n in ("rita", "rob")]
    for r in (rita, rob, *agree):
        r.reader_role = "central"
    assert undecided_central_reads([rita, rob, *agree]) == [
        "subject S01 (RECIST 1.1): the central readers disagree (rita SD, rob PR) and no adjudicator's read is among "
        "the files; the report takes rita's, which may not be the one the review accepted (read files do not carry "
        "its decision: report with --db)"
    ]
    judy = read_from_case(case("S01", [45, 25, 20]), reader="judy")
    judy.reader_role = "adjudicator"
    assert undecided_central_reads([rita, rob, judy, *agree]) == []
    for r in (rita, rob):
        write_read(r, tmp_path / "reads" / f"{r.reader}.json")
    assert main(["report", str(tmp_path / "reads"), "--out", str(tmp_path / "out")]) == 0
    assert "the central readers disagree (rita SD, rob PR)" in capsys.readouterr().err


def test_the_spider_plot_marks_progression_and_an_unconfirmed_iupd() -> None:
    """On each subject's line: X where it progressed (PD; under iRECIST the iUPD that was confirmed, whose date is the
    progression's), an orange diamond where an iUPD was not (yet) confirmed, each named in the legend only when
    drawn."""
    from workstation.report.data import SubjectResult, TimepointPoint
    from workstation.report.plots import spider

    def subject(name: str, course: list[tuple[int, float, str]], progression: int | None, bor: str) -> SubjectResult:
        points = tuple(TimepointPoint(f"TP{i}", day, 40.0, pct, r) for i, (day, pct, r) in enumerate(course))
        return SubjectResult(name, "r", "iRECIST", bor, points, None, progression, course[-1][0], {})

    pseudo = subject("S1", [(0, 0.0, ""), (56, 25.0, "iUPD"), (84, -10.0, "iSD")], None, "iSD")
    confirmed = subject("S2", [(0, 0.0, ""), (56, 22.0, "iUPD"), (84, 40.0, "iCPD")], 56, "iCPD")

    def markers(fig: object) -> dict[str, list[tuple[float, float]]]:
        ax = fig.axes[0]  # type: ignore[attr-defined]
        out: dict[str, list[tuple[float, float]]] = {}
        for line in ax.lines:
            if line.get_marker() in ("X", "D"):
                out.setdefault(line.get_marker(), []).append((line.get_xdata()[0], line.get_ydata()[0]))
        return out

    fig = spider([pseudo, confirmed], "iRECIST")
    assert markers(fig) == {"D": [(8.0, 25.0)], "X": [(8.0, 22.0)]}
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["iSD", "iCPD", "progression", "iUPD, unconfirmed"]
    fig = spider([subject("S3", [(0, 0.0, ""), (56, -35.0, "PR")], None, "PR")], "RECIST 1.1")
    assert markers(fig) == {} and [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["PR"]


def test_a_read_made_under_a_criteria_is_reported_before_one_derived_from_another_reader(tmp_path: Path) -> None:
    """Central alice read under iRECIST, central bob under RECIST 1.1: the RECIST 1.1 section is bob's read, the
    iRECIST section alice's; alice's read evaluated under RECIST 1.1 stood in for bob's (it ranks first by name)."""
    alice = read_from_case(case("S01", [40, 60, 20], criteria="iRECIST"))
    alice.reader, alice.read_id = "alice", "read-alice"
    bob = read_from_case(case("S01", [40, 20, 15]))
    bob.reader, bob.read_id = "bob", "read-bob"
    build_report([alice, bob], tmp_path, title="T", generated=date(2026, 11, 27))
    with (tmp_path / "subjects.csv").open() as fh:
        rows = {r["criteria"]: (r["reader"], r["best_overall_response"]) for r in csv.DictReader(fh)}
    assert rows == {"RECIST 1.1": ("bob", "PR"), "iRECIST": ("alice", rows["iRECIST"][1])}
    # a subject read under one criteria only is reported under the other from the same measurements
    build_report([bob], tmp_path / "one", title="T", generated=date(2026, 11, 27))
    with (tmp_path / "one" / "subjects.csv").open() as fh:
        assert {(r["criteria"], r["reader"]) for r in csv.DictReader(fh)} == {("RECIST 1.1", "bob"), ("iRECIST", "bob")}


def test_the_report_names_the_subjects_whose_follow_up_ends_on_an_unconfirmed_iupd(report_dir: Path) -> None:
    html = (report_dir / "report.html").read_text()
    # every subject whose RECIST 1.1 PD is the last visit: under iRECIST an iUPD never confirmed
    assert "Follow-up ends on an iUPD never confirmed (PFS censored there)</th><td>S01, S03, S04, S07</td>" in html
    # the pseudo-progression count, shown under iRECIST also when it is none (here no iUPD is followed by a reset)
    assert "Pseudo-progression (an iUPD not confirmed, then iSD or better)</th><td>0</td>" in html


def test_the_report_counts_pfs_as_the_endpoints_do_with_the_gap_rule(tmp_path: Path) -> None:
    """An unconfirmed iUPD followed by a death is a PFS event at the death (subjects.csv said so, the summary said
    "censored there"); with --censor-after-gap, events after missed visits are censored and named."""
    src = tmp_path / "cases"
    src.mkdir()
    for c in (case("S01", [45, 25, 20]), dict(case("S02", [40, 55]), death_date="2026-10-01"), case("S03", [40, 38])):
        (src / f"{c['subject_id']}.json").write_text(json.dumps(c))
    assert main(["report", str(src), "--out", str(tmp_path / "out")]) == 0
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Unconfirmed iUPD, then death (PFS event at death)</th><td>S02</td>" in html
    assert "Follow-up ends on an iUPD never confirmed" not in html
    assert "after missed visits is counted as an event at its date" in html
    assert main(["report", str(src), "--out", str(tmp_path / "gap"), "--censor-after-gap", "91"]) == 0
    with (tmp_path / "gap" / "subjects.csv").open() as fh:
        ends = {(r["criteria"], r["subject_id"]): r["pfs_end"] for r in csv.DictReader(fh)}
    assert ends[("RECIST 1.1", "S02")] == "progression" and ends[("iRECIST", "S02")] == "censored after a gap"
    html = (tmp_path / "gap" / "report.html").read_text()
    assert "PFS event more than 91 days after the last evaluable assessment (censored there)</th><td>S02</td>" in html
    assert "Follow-up ends on an iUPD never confirmed (PFS censored there)</th><td>S02</td>" in html


def test_the_report_gives_the_methods_warnings_and_the_last_evaluable_assessment(tmp_path: Path) -> None:
    """Mixed response settings are warned about in the report (and on stderr); the subjects' table gives the last
    evaluable assessment PFS is censored at (it said "Last assessment" over the last scan, evaluable or not)."""
    cases = [case("S01", [45, 25, 20]), dict(case("S02", [40, 38, 36]), sd_min_days=28)]
    cases[1]["timepoints"][2]["lesions"][0] = {"id": "T1", "status": "not_evaluated"}  # week 12 NE
    reads = [read_from_case(c) for c in cases]
    files = build_report(reads, tmp_path, cases={r.read_id: c for r, c in zip(reads, cases, strict=True)})
    assert files.warnings and files.warnings[0].startswith("RECIST 1.1: subjects evaluated under different response")
    html = (tmp_path / "report.html").read_text()
    assert "<th>Warning</th><td>subjects evaluated under different response settings" in html
    assert "<th>Time</th><td>days = end date - start date" in html and "<th>Kaplan-Meier</th>" in html
    assert "<th>Last evaluable assessment (day)</th>" in html and "Last assessment (day)" not in html
    # S02: no response, progression or death; last evaluable assessment week 6 (week 12 NE); censored there
    row = "<td>S02</td><td>case-file</td><td>SD</td><td>-3.6 %</td>" + "<td>-</td>" * 3 + "<td>42</td><td>censored"
    assert row in html


def test_the_swimmer_plot_marks_death_and_draws_a_confirmed_iupd_episode_as_progression() -> None:
    """The biostatistician's findings: a subject who died was drawn with the "no progression yet" arrow and no death;
    the week-12 iUPD of an episode confirmed at week 18 was drawn "iUPD, unconfirmed" (so in the spider plot)."""
    from workstation.report.data import SubjectResult, TimepointPoint
    from workstation.report.plots import spider, swimmer

    def subject(name: str, course: list[tuple[int, str]], progression: int | None, bor: str,
                death: int | None = None) -> SubjectResult:
        points = tuple(TimepointPoint(f"TP{i}", day, 40.0, 10.0, r) for i, (day, r) in enumerate(course))
        return SubjectResult(name, "r", "iRECIST", bor, points, None, progression, course[-1][0], {}, death_day=death)

    died = subject("S1", [(0, ""), (42, "iSD"), (84, "iSD")], None, "iSD", death=120)
    alive = subject("S2", [(0, ""), (42, "iSD"), (126, "iSD")], None, "iSD")
    confirmed = subject("S3", [(0, ""), (42, "iUPD"), (84, "iUPD"), (126, "iCPD")], 42, "iCPD")
    assert confirmed.unconfirmed_iupd_days == [] and died.unconfirmed_iupd_days == []
    pseudo = subject("S4", [(0, ""), (42, "iUPD"), (84, "iSD"), (126, "iUPD"), (168, "iCPD")], 126, "iCPD")
    assert pseudo.unconfirmed_iupd_days == [42]

    fig = swimmer([died, alive, confirmed], "iRECIST")
    ax = fig.axes[0]
    marks = {m: [(line.get_xdata()[-1], line.get_ydata()[-1]) for line in ax.lines if line.get_marker() == m]
             for m in ("s", "D", "X")}
    order = {s: y for y, s in enumerate(["S1", "S2", "S3"])}  # by last scan
    assert marks == {"s": [(120 / 7, order["S1"])], "D": [], "X": [(6.0, order["S3"])]}
    arrows = [a.xy[1] for a in ax.texts if getattr(a, "arrow_patch", None) is not None]
    assert arrows == [order["S2"]]  # alive without progression only
    assert [t.get_text() for t in ax.get_legend().get_texts()][-2:] == ["death", "no progression yet"]
    assert not any(line.get_marker() == "D" for line in spider([confirmed], "iRECIST").axes[0].lines)
