"""The stored audit trail on SQLite and PostgreSQL: append-only in the database, tampering found by `recist audit
verify` (naming the entry), `recist audit show` and `recist users` from the command line."""

from __future__ import annotations

import io
import json
import sys

import pytest
from sqlalchemy import text

from tests.services import postgres_server as pg
from tests.services.postgres_server import PASSWORD, make_read, make_users
from workstation.cli import main
from workstation.storage import StorageError, audit_log, open_database
from workstation.storage.repository import save_read

# The shared service-test fixtures (pytest finds them by name in this module).
db_url, postgres_server, fast_password_hashing = pg.db_url, pg.postgres_server, pg.fast_password_hashing


@pytest.fixture
def db(db_url: str):
    database = open_database(db_url)
    yield database
    database.close()


def _disable_append_only(conn, dialect: str) -> None:
    """What an attacker with database access would do first."""
    if dialect == "sqlite":
        conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
        conn.exec_driver_sql("DROP TRIGGER audit_log_no_delete")
    else:
        conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")


def _filled(db) -> str:
    people = make_users(db)
    read = make_read()
    save_read(db, read, user=people["site1"], expected_version=None)
    read.timepoints[1].assessments["T1"].measurements[0].long_axis_mm = 28.0
    save_read(db, read, user=people["site1"], expected_version=1)
    return read.subject_id


def test_the_database_refuses_to_change_or_delete_audit_entries(db) -> None:
    _filled(db)
    for statement in ("UPDATE audit_log SET reason = 'x' WHERE seq = 3", "DELETE FROM audit_log WHERE seq = 3"):
        with pytest.raises(StorageError, match="append-only"), db.transaction() as conn:
            conn.execute(text(statement))
    assert audit_log.verify(db).ok


def test_a_tampered_entry_is_named_by_audit_verify(db, capsys) -> None:
    subject = _filled(db)
    entries = audit_log.entries(db, [subject])
    target = next(e for e in entries if e.action == "change")
    assert main(["audit", "verify", "--db", db.url]) == 0
    assert "audit trail intact" in capsys.readouterr().out
    with db.transaction() as conn:
        _disable_append_only(conn, db.dialect)
        forged = json.loads(target.new_value)
        forged["measurements"][0]["long_axis_mm"] = 45.0
        conn.execute(
            text("UPDATE audit_log SET new_value = :v WHERE seq = :s"), {"v": json.dumps(forged), "s": target.seq}
        )
    assert main(["audit", "verify", "--db", db.url]) == 1
    out = capsys.readouterr().out
    assert f"audit trail broken at entry {target.seq}: its content does not match its hash" in out


def test_a_read_changed_in_the_database_by_hand_is_named_by_audit_verify(db, capsys) -> None:
    """A central-review manager's finding: a measurement set to 70 mm with sqlite3 left the chain intact, `audit
    verify` said so, and the accepted read's best response changed, its signature still on it. Every stored read is
    now compared with the values the trail recorded."""
    from sqlalchemy import select

    from tests.services.postgres_server import PASSWORD as _PASSWORD
    from workstation.storage.repository import sign_timepoint
    from workstation.storage.schema import reads as reads_table

    subject = _filled(db)
    with db.reading() as conn:
        (read_id,) = conn.execute(select(reads_table.c.read_id)).one()
    sign_timepoint(db, read_id, 0, username="site1", password=_PASSWORD, meaning="read", expected_version=2)
    assert main(["audit", "verify", "--db", db.url]) == 0
    out = capsys.readouterr().out
    assert "audit trail intact" in out and "stored reads match the audit trail: 1 reads" in out
    with db.transaction() as conn:  # the tables are not append-only: no trigger to drop
        conn.execute(text("UPDATE measurements SET long_axis_mm = 70 WHERE read_id = :r AND lesion_id = 'T1' "
                          "AND timepoint = 1"), {"r": read_id})
        conn.execute(text("UPDATE timepoints SET signed_by = 'someone' WHERE read_id = :r AND position = 0"),
                     {"r": read_id})
        conn.execute(text("DELETE FROM assessments WHERE read_id = :r AND lesion_id = 'NT1' AND timepoint = 1"),
                     {"r": read_id})
    assert main(["audit", "verify", "--db", db.url]) == 1
    out = capsys.readouterr().out
    assert "audit trail intact" in out  # the chain itself is whole: it is the tables that changed
    assert "stored reads differ from the audit trail: 3 entities changed outside the workstation" in out
    assert (f"subject {subject}, read/{read_id}/timepoint/1/assessment/T1: differs from the audit trail "
            "(measurements[0].long_axis_mm: 28.0 -> 70.0)") in out
    assert f"read/{read_id}/timepoint/0/signature: differs from the audit trail (user: 'site1' -> 'someone')" in out
    assert (f"read/{read_id}/timepoint/1/assessment/NT1: recorded in the audit trail, but missing from the "
            "database") in out
    # the re-check: a later save recorded the hand change as its "old" value, and verify then said all matched
    from workstation.storage.repository import load_read

    with db.transaction() as conn:  # put the hand-changed signature back, so that the save is allowed
        conn.execute(text("UPDATE timepoints SET signed_by = 'site1' WHERE read_id = :r AND position = 0"),
                     {"r": read_id})
    stored = load_read(db, read_id)
    stored.read.timepoints[1].assessments["T1"].comment = "seen"
    stored.read.timepoints[1].assessments.pop("NT1", None)
    from workstation.users import get_user

    save_read(db, stored.read, user=get_user(db, "site1"), expected_version=stored.version)
    assert main(["audit", "verify", "--db", db.url]) == 1
    out = capsys.readouterr().out
    assert (f"read/{read_id}/timepoint/1/assessment/T1: changed outside the workstation before audit entry #") in out


def test_a_deleted_entry_is_found(db) -> None:
    _filled(db)
    with db.transaction() as conn:
        _disable_append_only(conn, db.dialect)
        conn.execute(text("DELETE FROM audit_log WHERE seq = 4"))
    check = audit_log.verify(db)
    assert not check.ok and check.first_broken_seq == 4


def test_audit_show_lists_who_changed_what_when_and_why(db, capsys, monkeypatch) -> None:
    subject = _filled(db)
    manager = ["--db", db.url, "--user", "datamgr", "--password-stdin"]
    _stdin(monkeypatch, PASSWORD, PASSWORD, PASSWORD)
    assert main(["audit", "show", subject, *manager]) == 0
    out = capsys.readouterr().out
    assert "site1  change  read/" in out and "long_axis_mm" in out and "old: " in out and "new: " in out
    assert main(["audit", "show", subject, *manager, "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {e["action"] for e in shown} == {"create", "change", "view-audit"}  # the first show is itself recorded
    (seen,) = [e for e in shown if e["action"] == "view-audit"]
    assert (seen["username"], seen["entity"], seen["subject_id"]) == ("datamgr", f"audit/{subject}", subject)
    assert json.loads(seen["new_value"])["what"] == "recist audit show"
    assert main(["audit", "show", "NOBODY", *manager]) == 1
    assert "no audit entries for subject 'NOBODY'" in capsys.readouterr().err


def test_audit_show_is_for_data_managers_and_administrators_only(db, capsys, monkeypatch) -> None:
    """It links a subject to its central-review pseudonym: a reader who knows the database must not see it."""
    subject = _filled(db)
    _stdin(monkeypatch, PASSWORD)
    assert main(["audit", "show", subject, "--db", db.url, "--user", "reader1", "--password-stdin"]) == 2
    err = capsys.readouterr()
    assert "reader1 is a central reader; this needs a data manager or an administrator" in err.err and not err.out
    (denied,) = [e for e in audit_log.entries(db) if e.action == "access-denied"]  # audited, as failed sign-ins are
    assert (denied.username, denied.reason) == ("reader1", "recist audit: not allowed for a central reader")
    assert main(["audit", "show", subject, "--db", db.url]) == 2
    assert "sign in with --user NAME" in capsys.readouterr().err
    _stdin(monkeypatch, PASSWORD)
    assert main(["audit", "show", subject, "--db", db.url, "--user", "admin", "--password-stdin"]) == 0


def test_audit_show_takes_a_central_review_pseudonym_once_signed_in_to_see_unblinded_data(
    db, capsys, monkeypatch
) -> None:
    """A data manager pastes the pseudonym a review listing shows: the same entries as for the subject id (the site
    read, the enrolment, the central reads under the pseudonym). Anyone else is told why not, and sees nothing."""
    import copy

    from workstation.review.service import SourceTimepoint, enrol_subject, open_blinded_case

    subject = _filled(db)
    people = _people(db)
    site = make_read()
    pseudonym = enrol_subject(
        db,
        subject,
        [SourceTimepoint(tp.date, tp.study_uid, tp.series_uid) for tp in site.timepoints],
        readers=("reader1", "reader2"),
        admin=people["admin"],
    )
    # time never runs backwards along the trail (the enrolment's entry was stamped before the reads it created)
    stamps = [e.recorded_at for e in audit_log.entries(db)]
    assert stamps == sorted(stamps)
    case = open_blinded_case(db, pseudonym, people["reader1"])
    read = copy.deepcopy(case.own_read.read)
    read.timepoints[0].assessments = copy.deepcopy(site.timepoints[0].assessments)
    read.lesions = copy.deepcopy(site.lesions)
    save_read(db, read, user=people["reader1"], expected_version=case.own_read.version)
    manager = ["--db", db.url, "--user", "datamgr", "--password-stdin"]
    _stdin(monkeypatch, PASSWORD, PASSWORD)
    assert main(["audit", "show", subject, *manager]) == 0
    by_id = capsys.readouterr()
    assert main(["audit", "show", pseudonym, *manager]) == 0
    by_pseudonym = capsys.readouterr()
    # The same entries, and the first show's own record (a subject's trail beside its pseudonym unblinds it).
    assert by_pseudonym.out.startswith(by_id.out)
    assert by_pseudonym.out[len(by_id.out) :].split("\n")[0].endswith(f"datamgr  view-audit  audit/{subject}")
    views = [json.loads(e.new_value) for e in audit_log.entries(db, [subject]) if e.action == "view-audit"]
    assert [v["asked_for"] for v in views] == [subject, pseudonym]
    for who_what in ("site1  create  read/", "admin  enrol  review/", "reader1  create  read/"):
        assert who_what in by_pseudonym.out
    assert by_pseudonym.err == f"{pseudonym}: the central-review pseudonym of subject {subject}\n"
    # Not signed in, or signed in as someone who may not see unblinded data: one line saying why, nothing shown.
    _stdin(monkeypatch, PASSWORD)
    assert main(["audit", "show", pseudonym, "--db", db.url, "--user", "reader1", "--password-stdin"]) == 2
    refused = capsys.readouterr()
    assert refused.out == "" and subject not in refused.err
    assert refused.err.strip() == (
        f"recist audit: {pseudonym} is a central-review pseudonym: showing the audit entries of the subject it stands "
        "for unblinds it (reader1 is a central reader; this needs a data manager or an administrator)"
    )
    assert main(["audit", "show", pseudonym, "--db", db.url]) == 2
    refused = capsys.readouterr()
    assert refused.out == "" and "is a central-review pseudonym" in refused.err and "--user NAME" in refused.err
    # a wrong password is said as such (it read as a refusal of the pseudonym)
    _stdin(monkeypatch, "not the password")
    assert main(["audit", "show", pseudonym, "--db", db.url, "--user", "datamgr", "--password-stdin"]) == 2
    refused = capsys.readouterr()
    assert refused.err.strip() == "recist audit: --user datamgr: wrong user name or password" and refused.out == ""


def _people(db) -> dict:
    """The users `_filled` made, by name."""
    from workstation.users import get_user

    return {name: get_user(db, name) for name in ("admin", "site1", "reader1", "reader2", "datamgr")}


def _stdin(monkeypatch, *lines: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{line}\n" for line in lines)))


def test_users_command_for_administrators(db_url: str, capsys, monkeypatch, tmp_path) -> None:
    base = ["--db", db_url, "--password-stdin"]
    _stdin(monkeypatch, PASSWORD)
    assert main(["users", "add", "admin", "--full-name", "Ada Admin", "--role", "central_reader", *base]) == 2
    assert "first user" in (err := capsys.readouterr().err) and "must be an administrator" in err
    assert not (tmp_path / "workstation.db").exists()  # a refused first user leaves no database file behind
    _stdin(monkeypatch, PASSWORD)
    assert main(["users", "add", "admin", "--full-name", "Ada Admin", "--role", "administrator", *base]) == 0
    _stdin(monkeypatch, PASSWORD)
    assert main(["users", "add", "rita", "--full-name", "Rita Reader", "--role", "central_reader", *base]) == 2
    assert "--admin" in capsys.readouterr().err
    _stdin(monkeypatch, PASSWORD, "wrong password")
    assert (
        main(
            [
                "users",
                "add",
                "rita",
                "--full-name",
                "Rita Reader",
                "--role",
                "central_reader",
                "--admin",
                "admin",
                *base,
            ]
        )
        == 2
    )
    # the passwords' order is the new user's, then the administrator's: the message says whose sign-in failed
    assert "--admin admin: wrong user name or password" in capsys.readouterr().err
    _stdin(monkeypatch, "short", PASSWORD)
    assert (
        main(
            [
                "users",
                "add",
                "rita",
                "--full-name",
                "Rita Reader",
                "--role",
                "central_reader",
                "--admin",
                "admin",
                *base,
            ]
        )
        == 2
    )
    assert "at least 10 characters" in capsys.readouterr().err
    _stdin(monkeypatch, PASSWORD, PASSWORD)
    assert (
        main(
            [
                "users",
                "add",
                "rita",
                "--full-name",
                "Rita Reader",
                "--role",
                "central_reader",
                "--admin",
                "admin",
                *base,
            ]
        )
        == 0
    )
    # A reader naming themselves as the administrator is refused, and the refusal is audited.
    for action in (["list"], ["deactivate", "admin", "--reason", "x"]):
        _stdin(monkeypatch, PASSWORD)
        assert main(["users", *action, "--admin", "rita", *base]) == 2
        assert "rita is a central reader; this needs an administrator" in capsys.readouterr().err
    db = open_database(db_url)
    try:
        denied = [(e.username, e.reason) for e in audit_log.entries(db) if e.action == "access-denied"]
    finally:
        db.close()
    assert denied == [
        ("rita", "recist users list: not allowed for a central reader"),
        ("rita", "recist users deactivate: not allowed for a central reader"),
    ]
    _stdin(monkeypatch, PASSWORD)
    assert main(["users", "list", "--admin", "admin", *base]) == 0
    out = capsys.readouterr().out
    assert "rita" in out and "central_reader" in out and "Ada Admin" in out and "$argon2" not in out
    _stdin(monkeypatch, PASSWORD)
    assert main(["users", "deactivate", "rita", "--reason", "left the reading centre", "--admin", "admin", *base]) == 0
    assert "rita is now inactive" in capsys.readouterr().out
    db = open_database(db_url)
    try:
        from workstation.users import AuthenticationError, authenticate

        with pytest.raises(AuthenticationError):
            authenticate(db, "rita", PASSWORD)
        change = [e for e in audit_log.entries(db) if e.entity == "user/rita" and e.action == "change"]
        assert len(change) == 1 and change[0].reason == "left the reading centre" and change[0].username == "admin"
        assert json.loads(change[0].old_value)["active"] is True and json.loads(change[0].new_value)["active"] is False
    finally:
        db.close()


def test_a_damaged_database_gives_one_line_not_a_traceback(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"\x00garbage" * 500)
    assert main(["audit", "verify", "--db", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"database file {bad} is not a workstation database, or is damaged" in err


def test_concurrent_writers_never_fork_the_chain(db, monkeypatch) -> None:
    """Four workstations (own engines) save reads at the same time: one chain, every entry linked, nothing lost."""
    import threading

    from workstation.storage import database as database_mod

    monkeypatch.setattr(database_mod, "SQLITE_BUSY_TIMEOUT_S", 60.0)  # a loaded test machine must not flake

    people = make_users(db)
    errors: list[BaseException] = []

    def workstation(n: int) -> None:
        own = open_database(db.url)
        try:
            for i in range(5):
                save_read(own, make_read(subject_id=f"S{n}-{i}"), user=people["site1"], expected_version=None)
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=workstation, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    check = audit_log.verify(db)
    assert check.ok, check.message()
    created = [e for e in audit_log.entries(db) if e.entity.startswith("read/") and e.entity.count("/") == 1]
    assert len(created) == 20


def test_a_mistyped_database_path_is_not_silently_created(tmp_path, capsys) -> None:
    missing = tmp_path / "typo.db"
    assert main(["audit", "verify", "--db", str(missing)]) == 2
    assert f"there is no database file {missing}" in capsys.readouterr().err
    assert not missing.exists()
    empty = tmp_path / "empty.db"
    empty.touch()  # e.g. made by another tool: it must not silently become a workstation database
    for command in (["audit", "verify"], ["users", "list", "--admin", "admin"]):
        assert main([*command, "--db", str(empty)]) == 2
        assert f"database file {empty} is empty, not a workstation database" in capsys.readouterr().err
    assert empty.stat().st_size == 0
    assert main(["audit", "verify", "--db", str(tmp_path)]) == 2
    assert f"database file {tmp_path} is a folder, not a database file" in capsys.readouterr().err


def test_failed_sign_ins_are_audited(db) -> None:
    from workstation.users import AuthenticationError, authenticate

    make_users(db)
    for name in ("reader1", "nobody"):
        with pytest.raises(AuthenticationError):
            authenticate(db, name, "guessing")
    failed = [e for e in audit_log.entries(db) if e.action == "login-failed"]
    assert [e.entity for e in failed] == ["user/reader1", "user/nobody"]
    assert all("guessing" not in str(e) for e in failed)
    assert audit_log.verify(db).ok


def test_verify_sees_one_consistent_snapshot_while_others_write(db) -> None:
    """A reading centre's chain grows while it is checked: verify must never report a break that is not there."""
    import threading
    import time

    from workstation.users import AuthenticationError, authenticate

    make_users(db)
    stop = threading.Event()

    def writer() -> None:
        own = open_database(db.url)
        try:
            while not stop.is_set():
                with pytest.raises(AuthenticationError):
                    authenticate(own, "reader1", "guess")  # each failure appends an audit entry
        finally:
            own.close()

    thread = threading.Thread(target=writer)
    start = audit_log.verify(db).entries_checked
    thread.start()
    checks = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not checks or checks[-1].entries_checked < start + 20):
            checks.append(audit_log.verify(db))
    finally:
        stop.set()
        thread.join(timeout=60)
    assert all(c.ok for c in checks), [c.message() for c in checks if not c.ok]
    assert checks[-1].entries_checked >= start + 20 and len(checks) > 3  # the chain grew while it was checked


def test_a_user_changes_their_own_password(db) -> None:
    from workstation.users import AuthenticationError, UserError, authenticate, change_password

    make_users(db)
    with pytest.raises(AuthenticationError):
        change_password(db, "reader1", old_password="not mine", new_password="a new long passphrase")
    with pytest.raises(UserError, match="at least 10"):
        change_password(db, "reader1", old_password=PASSWORD, new_password="short")
    change_password(db, "reader1", old_password=PASSWORD, new_password="a new long passphrase")
    assert authenticate(db, "reader1", "a new long passphrase").username == "reader1"
    with pytest.raises(AuthenticationError):
        authenticate(db, "reader1", PASSWORD)
    entries = audit_log.entries(db)
    assert any(e.entity == "user/reader1/password" for e in entries)
    assert all("passphrase" not in str(e) for e in entries)


def test_a_password_asked_for_without_a_terminal_is_one_clear_line(db, capsys, monkeypatch) -> None:
    import getpass

    def no_terminal(prompt: str) -> str:
        raise EOFError

    subject = _filled(db)
    monkeypatch.setattr(getpass, "getpass", no_terminal)
    assert main(["audit", "show", subject, "--db", db.url, "--user", "datamgr"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "recist audit: no terminal to ask for the password of datamgr on: send it on standard input with "
        "--password-stdin"
    )


def test_audit_accounts_lists_failed_sign_ins_and_refused_access(db, capsys, monkeypatch) -> None:
    """Entries about no subject (accounts, failed sign-ins, refused access) are listed for a data manager; `show`,
    which takes a subject, could never reach them."""
    from workstation.users import AuthenticationError, authenticate

    subject = _filled(db)
    with pytest.raises(AuthenticationError):
        authenticate(db, "nobody", "guessing")
    _stdin(monkeypatch, PASSWORD)
    assert main(["audit", "accounts", "--db", db.url, "--user", "reader1", "--password-stdin"]) == 2
    assert "reader1 is a central reader" in capsys.readouterr().err
    _stdin(monkeypatch, PASSWORD, PASSWORD)
    manager = ["--db", db.url, "--user", "datamgr", "--password-stdin"]
    assert main(["audit", "accounts", *manager]) == 0
    out = capsys.readouterr().out
    assert "nobody  login-failed  user/nobody" in out
    assert "reader1  access-denied  user/reader1" in out
    assert "reason: recist audit: not allowed for a central reader" in out
    assert "create  user/datamgr" in out
    assert subject not in out and "read/" not in out  # the subjects' entries stay with `show`
    assert main(["audit", "accounts", *manager, "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {e["action"] for e in shown} == {"create", "login-failed", "access-denied"}
    assert all(e["subject_id"] == "" for e in shown)
