"""The data manager's export straight from the reading database (SQLite and a real PostgreSQL): every evaluator's
reads (site, both central readers, the adjudicator's decision), one record set per evaluator, the accepted read
flagged, real subject ids and dates; SR of the accepted read valid by dciodvfy; the report over accepted reads."""

from __future__ import annotations

import copy
import csv
import io
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

from recist import evaluate_case
from tests.dicom.test_export_dicom import dciodvfy_errors, write_ct_series
from tests.services import postgres_server as pg
from tests.services.postgres_server import PASSWORD, make_read, make_users
from tests.unit.test_sdtm_known_read import (
    FRAME_OF_REFERENCE,
    MATRIX,
    SLICES,
    known_read,
    known_series,
    without_frame_of_reference,
)
from workstation.cli import main
from workstation.export import terminology as ct
from workstation.mask_store import MaskStore
from workstation.read_model import Lesion, LesionAssessment, LesionStatus, Measurement, Read, Role, Signature
from workstation.review.for_export import signed_part
from workstation.review.service import (
    SourceTimepoint,
    accepted_read,
    adjudicate,
    adjudication_case,
    enrol_subject,
    open_blinded_case,
    pseudonym_of,
)
from workstation.storage import Database, audit_log, open_database
from workstation.storage.repository import find_reads, save_read, sign_timepoint
from workstation.users import User, get_user

db_url, postgres_server, fast_password_hashing = pg.db_url, pg.postgres_server, pg.fast_password_hashing
#: The unblinded commands sign in a data manager; the password comes on stdin (`password_on_stdin`).
DATA_MANAGER = ["--user", "datamgr", "--password-stdin"]


@pytest.fixture(autouse=True)
def password_on_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{PASSWORD}\n" * 10))


FRAME = "1.2.826.0.1.3680043.8.498.999"
DISPUTED, AGREED, HALF_READ = "SITE01-0042", "SITE01-0007", "SITE01-0013"


def sources(read: Read) -> list[SourceTimepoint]:
    return [SourceTimepoint(tp.date, tp.study_uid, tp.series_uid) for tp in read.timepoints]


def sign_all(db: Database, read_id: str, username: str, version: int, positions: range) -> int:
    for position in positions:
        version = sign_timepoint(
            db,
            read_id,
            position,
            username=username,
            password=PASSWORD,
            meaning="I confirm this read",
            expected_version=version,
        ).version
    return version


def central_read(db: Database, pseudonym: str, reader: User, t1_followup_mm: float) -> None:
    """A central reader measures T1 (with end points on a referenced slice) and the node T2, and signs in order."""
    case = open_blinded_case(db, pseudonym, reader)
    read = copy.deepcopy(case.own_read.read)
    read.lesions = copy.deepcopy(make_read().lesions)
    for i, tp in enumerate(read.timepoints):
        t1 = 50.0 if i == 0 else t1_followup_mm
        sop = f"1.2.826.0.1.3680043.8.498.{i + 100}"
        tp.assessments = {
            "T1": LesionAssessment(
                LesionStatus.MEASURED,
                [
                    Measurement(
                        t1,
                        long_axis_endpoints=((0.0, 40.0, -120.0), (t1, 40.0, -120.0)),
                        sop_instance_uid=sop,
                        frame_of_reference_uid=FRAME,
                    )
                ],
            ),
            "T2": LesionAssessment(LesionStatus.MEASURED, [Measurement(25.0, 16.0 if i == 0 else 12.0)]),
            "NT1": LesionAssessment(LesionStatus.PRESENT),
        }
    version = save_read(db, read, user=reader, expected_version=case.own_read.version)
    sign_all(db, read.read_id, reader.username, version, range(len(read.timepoints)))


def build_reading_centre(url: str) -> dict[str, str]:
    """Three subjects: one adjudicated (reader 2 chosen), one concordant, one with reader 2 still reading.

    Returns the accepted read id of each decided subject."""
    db = open_database(url)
    try:
        people: dict[str, Any] = make_users(db)
        site = make_read(DISPUTED)
        sign_all(db, site.read_id, "site1", save_read(db, site, user=people["site1"], expected_version=None), range(2))
        disputed = enrol_subject(db, DISPUTED, sources(site), readers=("reader1", "reader2"), admin=people["admin"])
        central_read(db, disputed, people["reader1"], 20.0)  # PR
        central_read(db, disputed, people["reader2"], 70.0)  # PD
        case = adjudication_case(db, disputed, people["adjud"])
        adjudicate(
            db,
            disputed,
            username="adjud",
            password=PASSWORD,
            chosen_read_id=case.read_2.read.read_id,
            reason="T1 growth is real",
        )
        agreed = enrol_subject(db, AGREED, sources(site), readers=("reader2", "reader1"), admin=people["admin"])
        central_read(db, agreed, people["reader1"], 20.0)
        central_read(db, agreed, people["reader2"], 21.0)
        half = enrol_subject(db, HALF_READ, sources(site), readers=("reader1", "reader2"), admin=people["admin"])
        central_read(db, half, people["reader1"], 30.0)
        out = {}
        for subject in (DISPUTED, AGREED):
            accepted = accepted_read(db, subject)
            assert accepted is not None
            out[subject] = accepted.read_id
        return out
    finally:
        db.close()


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_sdtm_from_the_database_has_every_evaluator_and_flags_the_accepted_read(db_url: str, tmp_path: Path) -> None:
    accepted_ids = build_reading_centre(db_url)
    out = tmp_path / "export"
    assert main(["export", "sdtm", "--db", db_url, "--out", str(out), "--study-id", "TIL-GC", *DATA_MANAGER]) == 0
    tu, tr, rs = (rows(out / "sdtm" / f"{d}.csv") for d in ("tu", "tr", "rs"))
    text = "".join((out / "sdtm" / f"{d}.csv").read_text() for d in ("tu", "tr", "rs"))
    assert "BICR-" not in text and "2000-" not in text  # real ids and dates, never the blinded ones

    def evaluators(subject: str) -> dict[tuple[str, str], set[str]]:
        found: dict[tuple[str, str], set[str]] = {}
        for r in tr:
            if r["USUBJID"] == f"TIL-GC-{subject}":
                found.setdefault((r["TREVAL"], r["TREVALID"]), set()).add(r["TRACPTFL"])
        return found

    assert evaluators(DISPUTED) == {
        ("INVESTIGATOR", ""): {""},
        ("INDEPENDENT ASSESSOR", "RADIOLOGIST 1"): {"N"},
        ("INDEPENDENT ASSESSOR", "RADIOLOGIST 2"): {"Y"},  # the adjudicator chose reader2's read
    }
    # Concordant: reader 1 of the review (reader2, slot 1) is accepted, whatever the evaluator numbering.
    assert evaluators(AGREED) == {
        ("INDEPENDENT ASSESSOR", "RADIOLOGIST 1"): {"N"},
        ("INDEPENDENT ASSESSOR", "RADIOLOGIST 2"): {"Y"},
    }
    # Reader 2 has not signed anything yet: only reader 1's signed read, not accepted.
    assert evaluators(HALF_READ) == {("INDEPENDENT ASSESSOR", "RADIOLOGIST 1"): {"N"}}
    assert {(r["TUEVALID"], r["TUACPTFL"]) for r in tu if r["USUBJID"] == f"TIL-GC-{DISPUTED}"} == {
        ("", ""),
        ("RADIOLOGIST 1", "N"),
        ("RADIOLOGIST 2", "Y"),
    }

    # The values are the reads' own, at the real follow-up date.
    def value(subject: str, evalid: str, testcd: str, lnkid: str, visit: int) -> tuple[str, str]:
        (r,) = [
            r
            for r in tr
            if r["USUBJID"] == f"TIL-GC-{subject}"
            and r["TREVALID"] == evalid
            and r["TRTESTCD"] == testcd
            and r["TRLNKID"] == lnkid
            and r["VISITNUM"] == str(visit)
        ]
        return r["TRORRES"], r["TRDTC"]

    assert value(DISPUTED, "", "LDIAM", "T1", 2) == ("30.0", "2024-04-16")
    assert value(DISPUTED, "RADIOLOGIST 1", "LDIAM", "T1", 2) == ("20.0", "2024-04-16")
    assert value(DISPUTED, "RADIOLOGIST 2", "LDIAM", "T1", 2) == ("70.0", "2024-04-16")
    assert value(DISPUTED, "RADIOLOGIST 2", "LPERP", "T2", 2) == ("12.0", "2024-04-16")
    assert value(DISPUTED, "RADIOLOGIST 2", "SUMDIAM", "", 2) == ("82.0", "2024-04-16")
    assert value(AGREED, "RADIOLOGIST 2", "LDIAM", "T1", 2) == ("21.0", "2024-04-16")

    db = open_database(db_url)
    try:
        accepted = accepted_read(db, DISPUTED)
        assert accepted is not None and accepted.read_id == accepted_ids[DISPUTED]
        bor = ct.RESPONSE[str(evaluate_case(accepted.to_case())["best_overall_response"])]
        entries = audit_log.entries(db, [DISPUTED, AGREED, HALF_READ])
        check = audit_log.verify(db)
    finally:
        db.close()
    best = {(r["RSEVALID"], r["RSACPTFL"], r["RSCAT"]): r["RSORRES"] for r in rs
            if r["USUBJID"] == f"TIL-GC-{DISPUTED}" and r["RSTESTCD"] == "BESTRESP"}  # fmt: skip
    assert best[("RADIOLOGIST 2", "Y", "RECIST 1.1")] == bor == "PD"
    assert best[("RADIOLOGIST 1", "N", "RECIST 1.1")] != "PD"
    # The reads are RECIST 1.1: their iRECIST responses come from the same measurements, accepted with them.
    assert best[("RADIOLOGIST 2", "Y", "iRECIST")] == "iUPD"
    assert ("RADIOLOGIST 2", "N", "iRECIST") not in best
    decisions = [r for r in rs if r["RSEVALID"] == "ADJUDICATOR"]  # under the read's RSCAT and the derived one's
    assert [(r["USUBJID"], r["RSTESTCD"], r["RSORRES"], r["RSCAT"]) for r in decisions] == [
        (f"TIL-GC-{DISPUTED}", "ADJSEL", "RADIOLOGIST 2", "RECIST 1.1"),
        (f"TIL-GC-{DISPUTED}", "ADJSEL", "RADIOLOGIST 2", "iRECIST"),
    ]
    assert "ADJSEL" in (out / "sdtm" / "define-notes.md").read_text()
    # The unblinded export is in the audit trail, one entry per subject, and the chain still holds.
    exports = [e for e in entries if e.action == "export"]
    assert sorted(e.subject_id for e in exports) == sorted([DISPUTED, AGREED, HALF_READ])
    assert {e.username for e in exports} == {"datamgr"}  # the signed-in data manager, not the OS login
    assert check.ok


def test_an_export_of_the_exported_read_files_keeps_the_reviews_decisions_and_studyid(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The data manager's finding: exporting the database export's own read files again moved ACPTFL to another
    central reader, lost the adjudicated subject's accepted read, and fell back to STUDYID RECIST-TRIAL (every USUBJID
    changed). The read files now come with the review's decisions (reads/review.json): the same SDTM comes out."""
    build_reading_centre(db_url)
    out = tmp_path / "export"
    assert main(["export", "all", "--db", db_url, "--out", str(out), "--study-id", "TIL-GC", *DATA_MANAGER]) == 0
    assert (out / "reads" / "review.json").is_file()
    again = tmp_path / "again"
    capsys.readouterr()
    assert main(["export", "sdtm", str(out / "reads"), "--out", str(again)]) == 0
    err = capsys.readouterr().err
    assert "STUDYID TIL-GC (the protocol_id of" in err and "the central review's decisions" in err

    def keyed(folder: Path, domain: str) -> list[tuple[str, ...]]:  # --SEQ follows the order the reads came in
        return sorted(tuple(v for k, v in r.items() if not k.endswith("SEQ"))
                      for r in rows(folder / "sdtm" / f"{domain}.csv"))

    for domain in ("tu", "tr", "rs"):
        assert keyed(again, domain) == keyed(out, domain), domain


def test_sdtm_visit_is_the_same_for_every_evaluator_and_the_notes_say_which_read_is_accepted(tmp_path: Path) -> None:
    """Site records (visits TP0, TP1) and unblinded central ones (blinded labels) of one VISITNUM have one VISIT; the
    define notes say the concordant subject's accepted read is reader 1 of the review (here RADIOLOGIST 2)."""
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    build_reading_centre(url)
    out = tmp_path / "export"
    assert main(["export", "sdtm", "--db", url, "--out", str(out), *DATA_MANAGER]) == 0
    records = [r for d in ("tu", "tr", "rs") for r in rows(out / "sdtm" / f"{d}.csv") if r["VISITNUM"]]
    visits: dict[str, set[str]] = {}
    for r in records:
        visits.setdefault(r["VISITNUM"], set()).add(r["VISIT"])
    assert visits == {"1": {"BASELINE"}, "2": {"FOLLOW-UP 1"}}
    assert {r["TREVALID"] for r in records if r.get("TREVALID") is not None} == {"", "RADIOLOGIST 1", "RADIOLOGIST 2"}
    notes = " ".join((out / "sdtm" / "define-notes.md").read_text().split())
    assert "the read of reader 1 of the review assignment, which may be RADIOLOGIST 1 or RADIOLOGIST 2" in notes
    assert "RADIOLOGIST 1's" not in notes and "reader order" not in notes


def test_only_a_signed_in_data_manager_or_administrator_exports_or_reports_unblinded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    build_reading_centre(url)
    out = tmp_path / "export"
    # A central reader knows the database's address (their workstation uses it): it must not unblind them.
    assert main(["export", "sdtm", "--db", url, "--out", str(out), "--user", "reader1", "--password-stdin"]) == 2
    assert "reader1 is a central reader; this needs a data manager or an administrator" in capsys.readouterr().err
    assert main(["report", "--db", url, "--out", str(out), "--user", "adjud", "--password-stdin"]) == 2
    assert "needs a data manager or an administrator" in capsys.readouterr().err
    assert main(["export", "sdtm", "--db", url, "--out", str(out)]) == 2
    assert "sign in with --user NAME" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("not the password\n"))
    assert main(["export", "csv", "--db", url, "--out", str(out), *DATA_MANAGER]) == 2
    assert "wrong user name or password" in capsys.readouterr().err
    assert not out.exists()
    db = open_database(url)
    try:
        entries = audit_log.entries(db, [DISPUTED, AGREED, HALF_READ])
        assert not [e for e in entries if e.action == "export"]
    finally:
        db.close()
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{PASSWORD}\n"))
    assert main(["export", "csv", "--db", url, "--out", str(out), "--user", "admin", "--password-stdin"]) == 0


def test_sr_of_the_accepted_read_is_valid_and_unblinded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    build_reading_centre(url)
    out = tmp_path / "export"
    assert main(["export", "sr", "--db", url, "--subject", DISPUTED, "--out", str(out), *DATA_MANAGER]) == 0
    files = sorted((out / "sr").glob("*.dcm"))
    readers = {p.name.split("_")[1] for p in files}
    assert readers == {"site1", "reader1", "reader2"}
    accepted = [p for p in files if p.name.split("_")[1] == "reader2"]
    assert len(accepted) == 2
    for path in accepted:
        assert dciodvfy_errors(path) == [], path
        ds = pydicom.dcmread(path)
        assert ds.PatientID == DISPUTED and not str(ds.StudyDate).startswith("2000")
    assert {pydicom.dcmread(p).StudyDate for p in accepted} == {"20240305", "20240416"}


def test_report_and_tables_over_the_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    accepted_ids = build_reading_centre(url)
    assert main(["export", "csv", "--db", url, "--out", str(tmp_path / "tables"), *DATA_MANAGER]) == 0
    manifest = rows(tmp_path / "tables" / "evaluators.csv")
    # the reads evaluated under iRECIST too are listed, accepted with their source: responses.csv's read ids join
    accepted = set(accepted_ids.values())
    assert {r["read_id"] for r in manifest if r["ACPTFL"] == "Y"} == accepted | {f"{a}+iRECIST" for a in accepted}
    assert {r["criteria"] for r in manifest if r["read_id"].endswith("+iRECIST")} == {"iRECIST"}
    # the response tables say which central read is the accepted one themselves (no join to evaluators.csv needed)
    for table in ("responses.csv", "best_responses.csv"):
        flags = {(r["read_id"], r["accepted"]) for r in rows(tmp_path / "tables" / "tables" / table)}
        central = {r["read_id"] for r in manifest if r["ACPTFL"] in ("Y", "N")}
        assert {f for f in flags if f[0] in central} == {(r, "Y" if r in accepted or r.removesuffix("+iRECIST")
                                                          in accepted else "N") for r in central}, table
        assert {f[1] for f in flags if f[0] not in central} == {""}, table  # the site reads
    adjudicated = [r for r in manifest if r["adjudicator"]]  # the read and its iRECIST evaluation
    assert [(r["subject_id"], r["criteria"], r["adjudicator"], r["adjudication_reason"]) for r in adjudicated] == [
        (DISPUTED, "RECIST 1.1", "adjud", "T1 growth is real"),
        (DISPUTED, "iRECIST", "adjud", "T1 growth is real"),
    ]
    capsys.readouterr()
    assert main(["report", "--db", url, "--out", str(tmp_path / "report"), *DATA_MANAGER]) == 0
    err = capsys.readouterr().err
    assert f"subject {HALF_READ}: central review not decided yet" in err
    subjects = rows(tmp_path / "report" / "subjects.csv")
    assert sorted({r["subject_id"] for r in subjects}) == sorted([DISPUTED, AGREED])
    assert (tmp_path / "report" / "report.pdf").stat().st_size > 0


def test_measurements_csv_takes_the_series_of_a_central_read_from_its_review(tmp_path: Path) -> None:
    """A central measurement that references no series (or no image at all) is on the series the review gave the
    reader for that timepoint; the slice and frame of reference are never made up."""
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    build_reading_centre(url)
    out = tmp_path / "export"
    assert main(["export", "csv", "--db", url, "--subject", DISPUTED, "--out", str(out), *DATA_MANAGER]) == 0
    enrolled = {tp.date.isoformat(): tp for tp in make_read(DISPUTED).timepoints}  # the series enrolled for review
    central = [r for r in rows(out / "tables" / "measurements.csv") if r["reader_role"] == "central"]
    assert {r["reader"] for r in central} == {"reader1", "reader2"} and len(central) == 12
    for r in central:
        assert (r["study_uid"], r["series_uid"]) == (enrolled[r["date"]].study_uid, enrolled[r["date"]].series_uid)
    measured_on_a_slice = {r["sop_instance_uid"] for r in central if r["lesion_id"] == "T1"}
    assert measured_on_a_slice == {"1.2.826.0.1.3680043.8.498.100", "1.2.826.0.1.3680043.8.498.101"}
    assert {(r["sop_instance_uid"], r["frame_of_reference_uid"]) for r in central if r["lesion_id"] == "T2"} == {
        ("", "")
    }


def test_subject_by_its_central_review_pseudonym(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A data manager pastes the pseudonym a review listing shows: it selects that subject, and stderr says which."""
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    build_reading_centre(url)
    db = open_database(url)
    try:
        pseudonym = pseudonym_of(db, DISPUTED)
    finally:
        db.close()
    assert pseudonym is not None
    out = tmp_path / "export"
    capsys.readouterr()
    args = ["export", "csv", "--db", url, "--subject", pseudonym, "--subject", DISPUTED, "--out", str(out)]
    assert main([*args, *DATA_MANAGER]) == 0
    err = capsys.readouterr().err
    assert f"--subject {pseudonym}: the central-review pseudonym of subject {DISPUTED}" in err
    manifest = rows(out / "evaluators.csv")
    assert {r["subject_id"] for r in manifest} == {DISPUTED}
    assert sorted((r["reader"], r["criteria"]) for r in manifest) == [  # once each per criteria, not twice
        ("reader1", "RECIST 1.1"), ("reader1", "iRECIST"), ("reader2", "RECIST 1.1"), ("reader2", "iRECIST"),
        ("site1", "RECIST 1.1"), ("site1", "iRECIST"),
    ]  # fmt: skip
    assert pseudonym not in (out / "tables" / "measurements.csv").read_text()
    # An id that is neither: one line naming it, nothing written, nothing audited.
    unknown = tmp_path / "unknown"
    assert main(["export", "csv", "--db", url, "--subject", "BICR-NOSUCH22", "--out", str(unknown), *DATA_MANAGER]) == 2
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert err_lines == [
        f"recist export: no subject 'BICR-NOSUCH22' in database file {tmp_path / 'centre.db'} "
        "(neither a subject id nor a central-review pseudonym)"
    ]
    assert not unknown.exists()
    db = open_database(url)
    try:
        exports = [e for e in audit_log.entries(db) if e.action == "export"]
    finally:
        db.close()
    assert [e.subject_id for e in exports] == [DISPUTED]  # the real id, once, for the export that wrote files


def test_an_export_from_the_database_that_writes_nothing_records_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing written, nothing disclosed: no `export` entry in the audit trail (the chain still holds)."""
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    build_reading_centre(url)
    unsigned, unreferenced = "SITE01-0099", "SITE01-0100"
    db = open_database(url)
    try:
        site1 = get_user(db, "site1")
        assert site1 is not None
        save_read(db, make_read(unsigned), user=site1, expected_version=None)  # nothing signed yet
        read = make_read(unreferenced)
        for tp in read.timepoints:
            for a in tp.assessments.values():
                for m in a.measurements:
                    m.sop_instance_uid = ""  # measured without image references: no SR to write
        sign_all(db, read.read_id, "site1", save_read(db, read, user=site1, expected_version=None), range(2))
        before = len(audit_log.entries(db))
    finally:
        db.close()
    capsys.readouterr()
    out = tmp_path / "export"
    # --subject selecting no signed timepoint: refused, the unsigned read named, nothing written.
    assert main(["export", "csv", "--db", url, "--subject", unsigned, "--out", str(out), *DATA_MANAGER]) == 2
    err = capsys.readouterr().err
    assert f"not exported: subject {unsigned}, site1: site read: no timepoint signed yet" in err
    assert err.strip().splitlines()[-1] == (
        f"recist export: no signed read of subject {unsigned} to export in database file {tmp_path / 'centre.db'}"
    )
    # Signed, but the format has nothing to write (SR of a read that references no image).
    assert main(["export", "sr", "--db", url, "--subject", unreferenced, "--out", str(out), *DATA_MANAGER]) == 0
    err = capsys.readouterr().err
    assert f"no SR for subject {unreferenced} (site1, RECIST 1.1, read " in err and "0 file(s) written" in err
    assert "audit trail" not in err
    assert not out.exists()
    db = open_database(url)
    try:
        after = audit_log.entries(db)
        check = audit_log.verify(db)
    finally:
        db.close()
    assert after[before:] == []  # no export entry, nor any other
    assert check.ok


def test_a_database_that_cannot_be_reached_gives_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"postgresql://nobody:secret@127.0.0.1:{pg._free_port()}/reading"  # nobody listens there
    assert main(["export", "sdtm", "--db", url, "--out", str(tmp_path / "x"), *DATA_MANAGER]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot connect" in err[0] and "secret" not in err[0] and "Traceback" not in err[0]
    assert main(["report", "--db", str(tmp_path / "missing.db"), "--out", str(tmp_path / "y"), *DATA_MANAGER]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "there is no database file" in err[0]
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    empty = open_database(url)
    make_users(empty)
    empty.close()
    assert (
        main(["export", "sdtm", "--db", url, "--subject", "SITE09-0001", "--out", str(tmp_path / "z"), *DATA_MANAGER])
        != 0
    )
    assert (
        capsys.readouterr().err.strip()
        == f"recist export: no subject 'SITE09-0001' in database file {tmp_path / 'empty.db'} "
        "(neither a subject id nor a central-review pseudonym)"
    )
    assert not (tmp_path / "x").exists() and not (tmp_path / "z").exists()


def test_seg_from_the_database_uses_the_workstations_mask_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The read in the database keeps only a mask key; the mask is where the workstation stored it."""
    monkeypatch.setenv("RECIST_DATA_DIR", str(tmp_path / "data"))
    store = MaskStore(tmp_path / "data" / "masks")
    read = known_read("site1", "site")
    for i, tp in enumerate(read.timepoints):
        tp.signature = None
        write_ct_series(known_series(i, tp.date), tmp_path / "ct" / f"T{i}")
    s0 = known_series(0, read.timepoints[0].date)
    yy, xx = np.mgrid[-8:9, -8:9]
    disc = (yy**2 + xx**2) <= 49
    read.timepoints[0].assessments["T1"].measurements[0].mask_ref = store.save(
        np.stack([disc, disc]), (3, 20, 12), (SLICES, MATRIX, MATRIX), s0.series_uid, FRAME_OF_REFERENCE,
        s0.sop_uids[3:5],
    )  # fmt: skip
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    db = open_database(url)
    try:
        people: dict[str, Any] = make_users(db)
        version = save_read(db, read, user=people["site1"], expected_version=None)
        sign_all(db, read.read_id, "site1", version, range(len(read.timepoints)))
    finally:
        db.close()
    out = tmp_path / "export"
    assert (
        main(["export", "seg", "--db", url, "--out", str(out), "--dicom", str(tmp_path / "ct"), *DATA_MANAGER]) == 0
    ), capsys.readouterr().err
    (seg,) = (out / "seg").glob("*.dcm")
    assert dciodvfy_errors(seg) == []
    ds = pydicom.dcmread(seg)
    assert ds.Modality == "SEG" and ds.PatientID == "S001" and len(ds.SegmentSequence) == 1


def test_only_signed_timepoints_are_exported() -> None:
    read = make_read()
    assert signed_part(read) is None
    read.timepoints[0].signature = Signature("site1", "Sam Site", "2024-03-06T09:00:00Z", "read")
    read.lesions["N1"] = Lesion("N1", Role.NEW, "bone")
    read.timepoints[1].assessments["N1"] = LesionAssessment(LesionStatus.UNEQUIVOCAL)
    part = signed_part(read)
    assert part is not None and [tp.label for tp in part.timepoints] == ["TP0"]
    assert list(part.lesions) == ["T1", "T2", "NT1"]  # the new lesion exists only in the unsigned follow-up
    assert len(read.timepoints) == 2 and "N1" in read.lesions  # the stored read is left as it is
    read.timepoints[1].signature = Signature("site1", "Sam Site", "2024-04-17T09:00:00Z", "read")
    assert signed_part(read) is read


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, hidden ones too, by relative path."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_an_export_from_the_database_that_fails_writes_nothing_and_records_nothing(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """All or nothing: the formats written before the failing one stay in the staging folder, which goes; the output
    folder keeps what an earlier export left there, and there is no `export` entry (nothing unblinded landed).
    A mask store without the site read's masks leaves out that read's SEG and exports the rest; the disk filling up
    while SEG is written fails the export."""
    import workstation.export.dicom_seg as dicom_seg

    build_reading_centre(db_url)
    out = tmp_path / "export"
    assert main(["export", "case", "--db", db_url, "--subject", AGREED, "--out", str(out), *DATA_MANAGER]) == 0
    before = _files(out)
    db = open_database(db_url)
    try:
        audited = len(audit_log.entries(db))
        (site,) = [s.read for s in find_reads(db, DISPUTED) if s.read.reader_role == "site"]
    finally:
        db.close()
    (tmp_path / "ct").mkdir()
    (tmp_path / "masks").mkdir()  # a mask store without the site read's masks
    capsys.readouterr()
    args = ["export", "all", "--db", db_url, "--out", str(tmp_path / "left-out"), "--dicom", str(tmp_path / "ct")]
    assert main([*args, "--masks", str(tmp_path / "masks"), *DATA_MANAGER]) == 0
    err = capsys.readouterr().err
    assert f"no SEG for subject {DISPUTED} (site1, RECIST 1.1, read {site.read_id}): " in err
    assert "mask mask-0 is missing" in err
    assert "left out (named above): the SEG of 1 read(s)" in err.strip().splitlines()[-1]
    assert (tmp_path / "left-out" / "sdtm" / "tu.csv").is_file() and not (tmp_path / "left-out" / "seg").exists()
    db = open_database(db_url)
    try:
        audited = len(audit_log.entries(db))  # that export's entry is in
    finally:
        db.close()

    def disk_full(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dicom_seg, "export_seg", disk_full)
    args = ["export", "all", "--db", db_url, "--out", str(out), "--dicom", str(tmp_path / "ct")]
    assert main([*args, "--masks", str(tmp_path / "masks"), *DATA_MANAGER]) == 2
    assert _files(out) == before  # no SDTM, tables, reads, SR of this export; no staging folder left
    assert [p.name for p in out.iterdir()] == ["cases"]
    captured = capsys.readouterr()
    last = captured.err.strip().splitlines()[-1]
    assert last.startswith("recist export: writing SEG failed for subject ")
    assert "No space left on device" in last and last.endswith(f"nothing was written to {out}")
    assert "Traceback" not in captured.err and captured.out == ""  # no file named as written
    db = open_database(db_url)
    try:
        assert len(audit_log.entries(db)) == audited
        assert audit_log.verify(db).ok
    finally:
        db.close()


def test_the_sr_of_a_read_without_frames_of_reference_is_left_out_and_the_rest_exported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A site read measured with end points but no frame of reference cannot be placed in an SR; its SDTM, tables and
    read file are what the data manager needs, so only its SR is left out, named on stderr and in the audit entry."""
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    build_reading_centre(url)
    subject = "SITE01-0200"
    db = open_database(url)
    try:
        site1 = get_user(db, "site1")
        assert site1 is not None
        read = without_frame_of_reference(make_read(subject))
        sign_all(db, read.read_id, "site1", save_read(db, read, user=site1, expected_version=None), range(2))
    finally:
        db.close()
    out = tmp_path / "export"
    capsys.readouterr()
    assert main(["export", "all", "--db", url, "--out", str(out), *DATA_MANAGER]) == 0
    err = capsys.readouterr().err
    assert (
        f"no SR for subject {subject} (site1, RECIST 1.1, read {read.read_id}): subject {subject} timepoint TP0 "
        "lesion T1 measurement 1: end points without a frame of reference UID cannot be placed in 3-D; "
        "the read's other formats are exported"
    ) in err
    assert "left out (named above): the SR of 1 read(s)" in err.strip().splitlines()[-1]
    assert not [p for p in (out / "sr").iterdir() if p.name.startswith(subject)]
    assert {p.name.split("_")[0] for p in (out / "sr").iterdir()} == {DISPUTED, AGREED, HALF_READ}
    assert {r["subject_id"] for r in rows(out / "tables" / "measurements.csv")} >= {subject}
    assert f"RECIST-TRIAL-{subject}" in (out / "sdtm" / "tu.csv").read_text()
    assert (out / "reads" / f"{subject}_{read.read_id}.json").is_file()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    db = open_database(url)
    try:
        (entry,) = [e for e in audit_log.entries(db, [subject]) if e.action == "export"]
    finally:
        db.close()
    assert entry.new_value is not None and f'"not_written":["no SR of read {read.read_id} (site1): ' in entry.new_value
    # The SR alone: every other read's SR is written, this one's named; nothing fails.
    assert main(["export", "sr", "--db", url, "--subject", subject, "--out", str(tmp_path / "sr"), *DATA_MANAGER]) == 0
    assert f"no SR for subject {subject} (site1, RECIST 1.1, read {read.read_id})" in capsys.readouterr().err
    assert not (tmp_path / "sr").exists()


def test_a_report_from_the_database_that_fails_writes_nothing_and_records_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report is unblinded too: its PDF and figures, written before the tables fail (a full disk here), go."""
    import workstation.report.build as build

    url = f"sqlite:///{tmp_path / 'centre.db'}"
    build_reading_centre(url)

    def disk_full(*_: object) -> list[Path]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(build, "_csv", disk_full)
    out = tmp_path / "report"
    capsys.readouterr()
    assert main(["report", "--db", url, "--out", str(out), *DATA_MANAGER]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines()[-1] == (
        f"recist report: [Errno 28] No space left on device; nothing was written to {out}"
    )
    assert captured.out == "" and not out.exists()
    db = open_database(url)
    try:
        assert not [e for e in audit_log.entries(db) if e.action == "export"]
    finally:
        db.close()
    monkeypatch.undo()
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{PASSWORD}\n"))
    assert main(["report", "--db", url, "--out", str(out), *DATA_MANAGER]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"report.html", "report.pdf", "endpoints.csv", "subjects.csv"} <= names
    # no staging folder left; only what the report covers (a later report of fewer reads is refused)
    assert [n for n in names if n.startswith(".")] == [".export-scope.json"]
    assert str(out / "report.pdf") in capsys.readouterr().out


def _audit_entries(url: str) -> int:
    """How many entries the audit trail holds."""
    db = open_database(url)
    try:
        return len(audit_log.entries(db))
    finally:
        db.close()


def test_a_file_that_cannot_be_moved_into_place_is_found_before_the_export_is_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder named like an output file: the export stops before its audit entry, and says nothing was written."""
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    build_reading_centre(url)
    out = tmp_path / "export"
    (out / "sdtm" / "tu.csv").mkdir(parents=True)
    audited = _audit_entries(url)
    capsys.readouterr()
    assert main(["export", "sdtm", "--db", url, "--out", str(out), *DATA_MANAGER]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == (
        f"recist export: cannot write {out / 'sdtm' / 'tu.csv'}: a folder of that name is in the way; "
        f"nothing was written to {out}"
    )
    assert [p.relative_to(out).as_posix() for p in sorted(out.rglob("*"))] == ["sdtm", "sdtm/tu.csv"]
    assert _audit_entries(url) == audited


def test_an_export_into_a_folder_holding_an_earlier_exports_files_is_refused_and_not_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An earlier export's SR of another subject would be shipped beside this one: refused before the audit entry,
    naming the file; the same export again (every file replaced) goes through."""
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    build_reading_centre(url)
    out = tmp_path / "export"
    assert main(["export", "sr", "--db", url, "--out", str(out), *DATA_MANAGER]) == 0
    assert main(["export", "sr", "--db", url, "--out", str(out), *DATA_MANAGER]) == 0  # the same files again
    (out / "sr" / "SITE09-0001_reader_T0.SR.dcm").write_bytes(b"an earlier export's")
    audited = _audit_entries(url)
    capsys.readouterr()
    assert main(["export", "sr", "--db", url, "--out", str(out), *DATA_MANAGER]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"recist export: {out} already holds 1 file(s) this export would not replace (")
    assert "sr/SITE09-0001_reader_T0.SR.dcm): the folder would mix two exports" in last
    assert last.endswith(f"nothing was written to {out}")
    assert _audit_entries(url) == audited


def test_an_empty_out_is_refused_not_the_current_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "all", "--db", "sqlite:///nowhere.db", "--out", ""]) == 2
    assert capsys.readouterr().err.strip() == "recist export: --out is empty: name the folder to write into"


def test_the_unsigned_timepoints_of_a_partly_signed_read_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A site read signed at baseline only is exported up to it, and the export says which visits it left out."""
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    db = open_database(url)
    try:
        people: dict[str, Any] = make_users(db)
        site = make_read("SITE01-0099")
        sign_all(db, site.read_id, "site1", save_read(db, site, user=people["site1"], expected_version=None), [0])
    finally:
        db.close()
    capsys.readouterr()
    assert main(["export", "csv", "--db", url, "--out", str(tmp_path / "out"), *DATA_MANAGER]) == 0
    labels = [tp.label for tp in site.timepoints]
    assert (
        f"not exported: subject SITE01-0099, site1: site read: {labels[1]} not signed yet (exported up to {labels[0]})"
        in capsys.readouterr().err
    )


def test_an_accepted_central_read_is_exported_with_the_subjects_treatment_start(db_url: str) -> None:
    """A blinded central read carries no treatment start (it would give the calendar away); its unblinded export takes
    the one the site's read states (trial.json's), so its PFS counts from the infusion as the site read's does."""
    from datetime import date

    from workstation.review.for_export import reads_for_export

    build_reading_centre(db_url)
    db = open_database(db_url)
    try:
        (site,) = [s for s in find_reads(db, DISPUTED) if s.read.reader_role == "site"]
        site.read.treatment_start = date(2024, 3, 9)
        save_read(db, site.read, user=get_user(db, "site1"), expected_version=site.version, reason="infusion date")
        assert all(s.read.treatment_start is None for s in find_reads(db, DISPUTED) if s.read.reader_role != "site")
        export = reads_for_export(db, [DISPUTED])
    finally:
        db.close()
    assert {r.reader_role for r in export.reads} >= {"site", "central"}
    assert {r.treatment_start for r in export.reads} == {date(2024, 3, 9)}
