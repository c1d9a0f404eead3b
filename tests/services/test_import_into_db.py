"""`recist import --db`: a site's reads kept as files (before it had a reading database) into the database, as their
reader, audited, all or nothing; signatures never travel, central reads are never imported."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from tests.services import postgres_server as pg
from tests.services.postgres_server import PASSWORD, make_read, make_users
from workstation.cli import main
from workstation.export.read_json import write_read
from workstation.read_model import Signature
from workstation.storage import audit_log, open_database
from workstation.storage.repository import find_reads, save_read

db_url, postgres_server, fast_password_hashing = pg.db_url, pg.postgres_server, pg.fast_password_hashing


@pytest.fixture(autouse=True)
def password_on_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{PASSWORD}\n" * 10))


@pytest.fixture
def url(db_url: str) -> str:
    db = open_database(db_url)
    make_users(db)
    db.close()
    return db_url


def _import(url: str, *files: Path, user: str = "site1") -> int:
    return main(["import", *map(str, files), "--db", url, "--user", user, "--password-stdin"])


def test_a_sites_read_files_go_into_the_database_as_its_readers_audited(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    read = make_read()
    read.timepoints[0].signature = Signature("site1", "Sam Site", "2024-03-06T10:00:00+00:00", "read complete")
    path = write_read(read, tmp_path / "reads" / "site1.json")
    case = tmp_path / "case.json"
    case.write_text(json.dumps(make_read("SITE01-0099").to_case()))
    assert _import(url, tmp_path / "reads", case) == 0
    captured = capsys.readouterr()
    assert "timepoint 'TP0': signed by site1 in the file; not carried over, sign it again in the workstation" in (
        captured.err
    )
    db = open_database(url)
    try:
        assert captured.err.strip().endswith(f"2 read(s) imported into {db.where}")
        (stored,) = find_reads(db, "SITE01-0042", reader="site1")
        read.timepoints[0].signature = None
        assert stored.read == read and stored.version == 1
        (from_case,) = find_reads(db, "SITE01-0099", reader="site1")  # a case file names no reader: the importer's
        assert from_case.read.timepoints[1].assessments["T2"].measurements[0].long_axis_mm is None
        entries = audit_log.entries(db)
        assert {e.reason for e in entries if e.subject_id == "SITE01-0042" and e.action == "create"} == {
            f"imported from {path}"
        }
        assert audit_log.verify(db).ok
        from workstation.users import UserRole, add_user, authenticate

        add_user(db, username="site2", full_name="Sue Site", role=UserRole.SITE_READER, password=PASSWORD,
                 created_by=authenticate(db, "admin", PASSWORD))
    finally:
        db.close()
    # a second site reader imports the same case file: a read of their own (it had the first reader's read id)
    assert _import(url, case, user="site2") == 0
    db = open_database(url)
    try:
        (theirs,) = find_reads(db, "SITE01-0099", reader="site2")
        assert theirs.read.read_id != from_case.read.read_id
        assert {le.tracking_uid for le in theirs.read.lesions.values()}.isdisjoint(
            {le.tracking_uid for le in from_case.read.lesions.values()})
    finally:
        db.close()


def test_nothing_is_imported_when_one_read_cannot_be(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_read(make_read("SITE01-0001"), tmp_path / "a" / "one.json")
    write_read(make_read("SITE01-0002", reader="someone"), tmp_path / "b" / "other.json")
    assert _import(url, tmp_path / "a", tmp_path / "b") == 2
    err = capsys.readouterr().err
    assert "other.json: the read of subject SITE01-0002 is someone's; site1 imports only their own" in err
    assert err.strip().endswith("nothing was imported")
    central = make_read("SITE01-0003")
    central.reader_role = "central"
    write_read(central, tmp_path / "c" / "central.json")
    assert _import(url, tmp_path / "a", tmp_path / "c") == 2
    assert "central.json: a central read of subject SITE01-0003 (site1); central and adjudication reads are made in " \
           "the blinded review, never imported" in capsys.readouterr().err
    db = open_database(url)
    try:
        assert find_reads(db, "SITE01-0001") == []
        save_read(db, make_read("SITE01-0004"), user=_site_reader(db), expected_version=None)
    finally:
        db.close()
    write_read(make_read("SITE01-0004"), tmp_path / "d" / "again.json")
    assert _import(url, tmp_path / "a", tmp_path / "d") == 2
    assert "again.json: site1 already has a read of subject SITE01-0004 in" in capsys.readouterr().err
    assert _import(url, tmp_path / "a", user="datamgr") == 2
    assert "datamgr is a data manager; this needs a site reader or an administrator" in capsys.readouterr().err
    # the administrator: a read of no user of the database, or a case file (it names no reader), is refused
    assert _import(url, tmp_path / "b", user="admin") == 2
    assert "the read's reader someone is no user of this database" in capsys.readouterr().err
    case = tmp_path / "e" / "case.json"
    case.parent.mkdir()
    case.write_text(json.dumps(make_read("SITE01-0005").to_case()))
    assert _import(url, case, user="admin") == 2
    assert "a case file names no reader; the site reader whose read it is imports it" in capsys.readouterr().err
    assert main(["import", str(tmp_path / "a"), "--db", url, "--out", str(tmp_path / "x")]) == 2
    assert "give --out (read files) or --db (the reading database), one of them" in capsys.readouterr().err
    db = open_database(url)
    try:
        assert find_reads(db, "SITE01-0001") == []
        denied = [e for e in audit_log.entries(db) if e.action == "access-denied"]
        assert {e.username for e in denied} >= {"site1", "datamgr"}  # refused imports are audited, as exports are
    finally:
        db.close()


def _site_reader(db: object) -> object:
    from workstation.users import authenticate

    return authenticate(db, "site1", PASSWORD)  # type: ignore[arg-type]
