"""Locking subjects for analysis (the data manager's database lock) on SQLite and a real PostgreSQL: a locked subject's
reads are not saved, amended, signed or deleted, it is neither enrolled nor adjudicated, and an import fails, each with
one line that says who locked it, when and why (a blinded reader: the pseudonym only); unlocking restores all of it.
Only a data manager or an administrator locks (a refusal audited), with a reason; lock and unlock are in the audit
trail, which still verifies; `recist lock/unlock`; a database of schema 0004 is upgraded; responses.csv says who
locked each subject. Only final data are locked (every timepoint signed, the central review decided) unless the data
manager says otherwise; every refused change is audited under its subject; the review status, the adjudicator's
worklist, best_responses.csv and the export's summary say which subjects are locked."""

from __future__ import annotations

import copy
import csv
import io
import json
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.services import postgres_server as pg
from tests.services.postgres_server import PASSWORD, make_read, make_users
from tests.services.test_review import central_read, sources
from workstation.audit import AuditAction
from workstation.cli import main
from workstation.export.read_json import write_read
from workstation.export.tables import BEST_COLUMNS, RESPONSE_COLUMNS
from workstation.read_model import Read
from workstation.review.service import (
    adjudicate,
    adjudication_case,
    adjudication_worklist,
    enrol_subject,
    open_blinded_case,
)
from workstation.storage import audit_log, open_database
from workstation.storage import database as database_mod
from workstation.storage.locks import (
    IncompleteSubjects,
    LockError,
    SubjectLocked,
    list_locks,
    lock_subjects,
    open_data,
    refuse_if_locked,
    subject_lock,
    unlock_subjects,
)
from workstation.storage.repository import ReadClosed, delete_read, find_reads, load_read, save_read, sign_timepoint
from workstation.users import PermissionDenied

db_url, postgres_server, fast_password_hashing = pg.db_url, pg.postgres_server, pg.fast_password_hashing

SUBJECT = "SITE01-0042"
MEANING = "I confirm these measurements as the reader of this timepoint"


@pytest.fixture
def db(db_url: str):
    database = open_database(db_url)
    yield database
    database.close()


def signed_site_read(db: Any, people: dict[str, Any], subject_id: str = SUBJECT) -> tuple[Read, int]:
    """A site read of the subject with its baseline signed; returns it with its version."""
    read = make_read(subject_id)
    version = save_read(db, read, user=people["site1"], expected_version=None)
    signed = sign_timepoint(
        db, read.read_id, 0, username="site1", password=PASSWORD, meaning=MEANING, expected_version=version
    )
    return signed.read, signed.version


def final_site_read(db: Any, people: dict[str, Any], subject_id: str = SUBJECT) -> tuple[Read, int]:
    """A site read of the subject signed at every timepoint (its data are final); returns it with its version."""
    read, version = signed_site_read(db, people, subject_id)
    signed = sign_timepoint(
        db, read.read_id, 1, username="site1", password=PASSWORD, meaning=MEANING, expected_version=version
    )
    return signed.read, signed.version


def denials(db: Any, subject_id: str) -> list[tuple[str, str]]:
    """(user, reason) of the access-denied entries filed under a subject (as `recist audit show` lists them)."""
    return [(e.username, e.reason) for e in audit_log.entries(db, [subject_id]) if e.action == "access-denied"]


def refusal(db: Any, subject_id: str = SUBJECT) -> str:
    lock = subject_lock(db, subject_id)
    assert lock is not None
    return (
        f"subject {subject_id} is locked for analysis (by datamgr at {lock.locked_at[:16]}Z: 'primary analysis'); "
        "ask a data manager to unlock it"
    )


def test_a_locked_subject_is_neither_saved_amended_signed_nor_deleted_until_unlocked(db) -> None:
    people = make_users(db)
    read, version = signed_site_read(db, people)  # week 6 (TP1) is not signed: locked as it is
    outcome = lock_subjects(db, [SUBJECT], user=people["datamgr"], reason=" primary analysis ", allow_incomplete=True)
    assert [(lock.subject_id, lock.locked_by, lock.reason) for lock in outcome.changed] == [
        (SUBJECT, "datamgr", "primary analysis")
    ]
    assert outcome.changed[0].locked_at.endswith("Z")
    message = refusal(db)

    change = copy.deepcopy(read)
    change.timepoints[1].assessments["T1"].comment = "a change to an unsigned timepoint"
    amendment = copy.deepcopy(read)
    amendment.timepoints[0].assessments["T1"].measurements[0].long_axis_mm = 55.0
    other = make_read(SUBJECT, reader="admin")  # a new read of the subject (an administrator may save anyone's)
    refused = [
        lambda: save_read(db, change, user=people["site1"], expected_version=version),
        lambda: save_read(db, amendment, user=people["site1"], expected_version=version, reason="typo"),
        lambda: save_read(db, other, user=people["admin"], expected_version=None),
        lambda: sign_timepoint(
            db, read.read_id, 1, username="site1", password=PASSWORD, meaning=MEANING, expected_version=version
        ),
        lambda: delete_read(db, read.read_id, user=people["site1"], expected_version=version, reason="duplicate"),
    ]
    for act in refused:
        with pytest.raises(SubjectLocked) as exc:
            act()
        assert str(exc.value) == message
        assert isinstance(exc.value, ReadClosed)  # the workstation shows it as a closed read: no retry will save it
    # each refusal is in the audit trail under the subject, after its own transaction rolled back
    assert denials(db, SUBJECT) == [
        ("site1", f"save site1's read of subject {SUBJECT}: {message}"),
        ("site1", f"save site1's read of subject {SUBJECT} (typo): {message}"),
        ("admin", f"save admin's read of subject {SUBJECT}: {message}"),
        ("site1", f"signing TP1 of subject {SUBJECT}: {message}"),
        ("site1", f"delete read {read.read_id} (duplicate): {message}"),
    ]
    assert audit_log.verify(db).ok
    stored = load_read(db, read.read_id)  # reading stays allowed, and nothing changed
    assert stored.read == read and stored.version == version
    assert [s.read.read_id for s in find_reads(db, SUBJECT)] == [read.read_id]
    assert [lock.subject_id for lock in list_locks(db)] == [SUBJECT]

    unlock_subjects(db, [SUBJECT], user=people["datamgr"], reason="query from the sponsor")
    assert subject_lock(db, SUBJECT) is None and list_locks(db) == []
    version = save_read(db, amendment, user=people["site1"], expected_version=version, reason="typo")
    for position in (0, 1):  # the amendment withdrew the baseline's signature: signed again, in order
        version = sign_timepoint(
            db, read.read_id, position, username="site1", password=PASSWORD, meaning=MEANING, expected_version=version
        ).version
    delete_read(db, read.read_id, user=people["site1"], expected_version=version, reason="duplicate")
    assert find_reads(db, SUBJECT) == []


def test_a_locked_subject_is_neither_enrolled_nor_adjudicated_and_blinded_users_see_only_its_pseudonym(db) -> None:
    people = make_users(db)
    site, _ = final_site_read(db, people)
    lock_subjects(db, [SUBJECT], user=people["admin"], reason="primary analysis")
    with pytest.raises(SubjectLocked, match=f"^subject {SUBJECT} is locked for analysis \\(by admin at ") as exc:
        enrol_subject(db, SUBJECT, sources(site), readers=("reader1", "reader2"), admin=people["admin"])
    assert denials(db, SUBJECT) == [("admin", f"enrol subject {SUBJECT} in central review: {exc.value}")]
    unlock_subjects(db, [SUBJECT], user=people["admin"], reason="enrolled late")

    pseudonym = enrol_subject(db, SUBJECT, sources(site), readers=("reader1", "reader2"), admin=people["admin"])
    central_read(db, pseudonym, people["reader1"], 20.0, "")  # PR
    central_read(db, pseudonym, people["reader2"], 70.0, "")  # PD: awaiting adjudication
    case = adjudication_case(db, pseudonym, people["adjud"])
    own = open_blinded_case(db, pseudonym, people["reader1"]).own_read
    with pytest.raises(LockError, match=f"{pseudonym} is a central-review pseudonym: lock subject {SUBJECT}"):
        lock_subjects(db, [pseudonym], user=people["datamgr"], reason="primary analysis")
    assert adjudication_worklist(db, people["adjud"]) == [pseudonym]
    lock_subjects(db, [SUBJECT], user=people["datamgr"], reason="primary analysis", allow_incomplete=True)

    blinded = f"subject {pseudonym} is locked for analysis (by datamgr); ask a data manager to unlock it"
    amended = copy.deepcopy(own.read)
    amended.timepoints[1].assessments["NT1"].comment = "second thoughts"
    with pytest.raises(SubjectLocked) as exc:
        save_read(db, amended, user=people["reader1"], expected_version=own.version, reason="second thoughts")
    assert str(exc.value) == blinded  # no subject id, no date, no reason for a blinded reader
    # the adjudicator is offered it no more, and opening it is refused at once (before a reason or the password)
    assert adjudication_worklist(db, people["adjud"]) == []
    with pytest.raises(SubjectLocked) as exc:
        adjudication_case(db, pseudonym, people["adjud"])
    assert str(exc.value) == blinded
    chosen = case.read_2.read.read_id
    with pytest.raises(SubjectLocked) as exc:
        adjudicate(db, pseudonym, username="adjud", password=PASSWORD, chosen_read_id=chosen, reason="T1 grew")
    assert str(exc.value) == blinded
    assert [e for e in audit_log.entries(db, [pseudonym]) if e.action == "adjudicate"] == []
    # each refusal is filed under the pseudonym, as the central reads are: `recist audit show` lists them
    assert denials(db, pseudonym) == [
        ("reader1", f"save reader1's read of subject {pseudonym} (second thoughts): {blinded}"),
        ("adjud", f"adjudicate {pseudonym}: {blinded}"),
        ("adjud", f"adjudicate {pseudonym}: {blinded}"),
    ]

    unlock_subjects(db, [SUBJECT], user=people["datamgr"], reason="adjudication still to come")
    assert adjudication_worklist(db, people["adjud"]) == [pseudonym]
    adjudicate(db, pseudonym, username="adjud", password=PASSWORD, chosen_read_id=chosen, reason="T1 grew")


def test_only_a_data_manager_or_an_administrator_locks_with_a_reason_and_refusals_are_audited(db) -> None:
    people = make_users(db)
    final_site_read(db, people)
    final_site_read(db, people, "SITE01-0043")
    for who in ("site1", "reader1"):
        with pytest.raises(PermissionDenied, match=f"{who} is a .*; this needs a data manager or an administrator"):
            lock_subjects(db, [SUBJECT], user=people[who], reason="primary analysis")
    with pytest.raises(PermissionDenied):
        unlock_subjects(db, [SUBJECT], user=people["adjud"], reason="query")
    denied = [(e.username, e.subject_id, e.reason) for e in audit_log.entries(db) if e.action == "access-denied"]
    assert [(who, subject) for who, subject, _ in denied] == [("site1", SUBJECT), ("reader1", SUBJECT),
                                                              ("adjud", SUBJECT)]  # filed under the subject
    assert [(who, why) for who, _, why in denied] == [
        ("site1", f"lock subject {SUBJECT} for analysis: site1 is a site reader; this needs a data manager or an "
                  "administrator"),
        ("reader1", f"lock subject {SUBJECT} for analysis: reader1 is a central reader; this needs a data manager or "
                    "an administrator"),
        ("adjud", f"unlock subject {SUBJECT} for analysis: adjud is an adjudicator; this needs a data manager or an "
                  "administrator"),
    ]  # fmt: skip
    with pytest.raises(LockError, match="locking a subject for analysis needs a reason"):
        lock_subjects(db, [SUBJECT], user=people["datamgr"], reason="  ")
    with pytest.raises(LockError, match="unlocking a subject for analysis needs a reason"):
        unlock_subjects(db, [SUBJECT], user=people["datamgr"], reason="")
    # a subject the database does not hold is named, and none of the others is locked
    with pytest.raises(LockError, match=r"no subject SITE01-9999 in .*: it has no read and is not in central review"):
        lock_subjects(db, [SUBJECT, "SITE01-9999"], user=people["datamgr"], reason="primary analysis")
    assert list_locks(db) == []

    first = lock_subjects(db, [SUBJECT], user=people["datamgr"], reason="primary analysis")
    entries = len(audit_log.entries(db))
    again = lock_subjects(db, [SUBJECT, "SITE01-0043"], user=people["admin"], reason="interim analysis")
    assert again.already_locked == first.changed  # left as it was, by whom and why
    assert [lock.subject_id for lock in again.changed] == ["SITE01-0043"]
    assert len(audit_log.entries(db)) == entries + 1  # the one lock made
    assert subject_lock(db, SUBJECT) == first.changed[0]
    lifted = unlock_subjects(db, [SUBJECT, SUBJECT, "SITE01-0043", "SITE01-0044"], user=people["admin"], reason="q")
    assert [lock.subject_id for lock in lifted.changed] == [SUBJECT, "SITE01-0043"]
    assert lifted.not_locked == ["SITE01-0044"]


def test_only_final_data_are_locked_unless_the_data_manager_says_so_and_review_status_shows_locks(
    db, capsys: pytest.CaptureFixture[str]
) -> None:
    people = make_users(db)
    final_site_read(db, people)  # every timepoint signed: final
    save_read(db, make_read("SITE01-0043"), user=people["site1"], expected_version=None)  # nothing signed yet
    site = make_read("SITE01-0044")
    pseudonym = enrol_subject(db, "SITE01-0044", sources(site), readers=("reader1", "reader2"), admin=people["admin"])
    central_read(db, pseudonym, people["reader1"], 20.0, "")  # PR
    central_read(db, pseudonym, people["reader2"], 70.0, "")  # PD: awaiting adjudication
    other = enrol_subject(db, "SITE01-0045", sources(make_read("SITE01-0045")), readers=("reader1", "reader3"),
                          admin=people["admin"])  # fmt: skip
    assert open_data(db, SUBJECT) == []
    assert open_data(db, "SITE01-0045") == [
        "central review still being read (reader1: 0 of 2 timepoints signed, reader3: 0 of 2 timepoints signed)"
    ]

    wanted = [SUBJECT, "SITE01-0044", "SITE01-0043"]
    with pytest.raises(IncompleteSubjects) as exc:
        lock_subjects(db, wanted, user=people["datamgr"], reason="primary analysis")
    assert str(exc.value) == (
        "not final, so nothing was locked: SITE01-0043: site1's read has 2 unsigned timepoints (TP0, TP1); "
        "SITE01-0044: central review awaiting adjudication"
    )
    assert exc.value.open == {"SITE01-0043": ["site1's read has 2 unsigned timepoints (TP0, TP1)"],
                              "SITE01-0044": ["central review awaiting adjudication"]}  # fmt: skip
    assert list_locks(db) == [] and [e for e in audit_log.entries(db) if e.action == "lock"] == []
    with pytest.raises(LockError, match="not both"):
        lock_subjects(db, wanted, user=people["datamgr"], reason="x", allow_incomplete=True, final_only=True)
    # only the final ones: the others are named with what is open and left unlocked (and not audited)
    outcome = lock_subjects(db, wanted, user=people["datamgr"], reason="interim analysis", final_only=True)
    assert [lock.subject_id for lock in outcome.changed] == [SUBJECT] and outcome.left_open == exc.value.open
    assert [e.subject_id for e in audit_log.entries(db) if e.action == "lock"] == [SUBJECT]
    unlock_subjects(db, [SUBJECT], user=people["datamgr"], reason="on to the primary analysis")

    outcome = lock_subjects(db, wanted, user=people["datamgr"], reason="primary analysis", allow_incomplete=True)
    assert [lock.subject_id for lock in outcome.changed] == [SUBJECT, "SITE01-0043", "SITE01-0044"]
    assert outcome.incomplete == exc.value.open
    new = {e.subject_id: json.loads(e.new_value) for e in audit_log.entries(db) if e.action == "lock"}
    assert new[SUBJECT]["not_final"] == ""  # the audit entry keeps what was open when it was locked anyway
    assert new["SITE01-0043"]["not_final"] == ["site1's read has 2 unsigned timepoints (TP0, TP1)"]
    assert new["SITE01-0044"]["not_final"] == ["central review awaiting adjudication"]
    # and so does the lock, for everyone to see (lock --list, review status, the exports' locked_not_final)
    not_final = {lock.subject_id: lock.not_final for lock in list_locks(db)}
    assert not_final == {SUBJECT: "", "SITE01-0043": "site1's read has 2 unsigned timepoints (TP0, TP1)",
                         "SITE01-0044": "central review awaiting adjudication"}  # fmt: skip

    # the review status says which subjects are locked
    manager = ["--db", db.url, "--user", "datamgr", "--password-stdin"]
    code, out, err = recist(capsys, "review", "status", "--format", "json", *manager)
    assert code == 0, err
    rows = {row["subject_id"]: row for row in json.loads(out)}
    lock = subject_lock(db, "SITE01-0044")
    assert rows["SITE01-0044"]["locked"] == {
        "by": "datamgr", "at": lock.locked_at, "reason": "primary analysis",
        "not_final": "central review awaiting adjudication",  # locked anyway (--incomplete): said wherever it shows
    }  # fmt: skip
    assert rows["SITE01-0045"]["locked"] is None
    code, out, err = recist(capsys, "review", "status", *manager)
    assert code == 0, err
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert lines["SITE01-0044"].endswith(
        f"| awaiting adjudication | locked for analysis by datamgr at {lock.when} though not final"
    )
    assert lines["SITE01-0045"].endswith("| reading") and other in lines["SITE01-0045"]

    # adjudicated, the central review is final: it is locked without a word
    unlock_subjects(db, ["SITE01-0044"], user=people["datamgr"], reason="adjudication still to come")
    chosen = adjudication_case(db, pseudonym, people["adjud"]).read_2.read.read_id
    adjudicate(db, pseudonym, username="adjud", password=PASSWORD, chosen_read_id=chosen, reason="T1 grew")
    assert open_data(db, "SITE01-0044") == []
    assert lock_subjects(db, ["SITE01-0044"], user=people["datamgr"], reason="primary analysis").incomplete == {}


def test_lock_and_unlock_are_in_the_audit_trail_and_it_verifies(db, capsys: pytest.CaptureFixture[str]) -> None:
    people = make_users(db)
    final_site_read(db, people)
    (lock,) = lock_subjects(db, [SUBJECT], user=people["datamgr"], reason="primary analysis").changed
    unlock_subjects(db, [SUBJECT], user=people["admin"], reason="query from the sponsor")
    entries = [e for e in audit_log.entries(db, [SUBJECT]) if e.action in ("lock", "unlock")]
    assert [(e.action, e.username, e.entity, e.reason) for e in entries] == [
        ("lock", "datamgr", f"subject/{SUBJECT}/lock", "primary analysis"),
        ("unlock", "admin", f"subject/{SUBJECT}/lock", "query from the sponsor"),
    ]
    assert AuditAction.LOCK == "lock" and AuditAction.UNLOCK == "unlock"
    assert json.loads(entries[0].new_value) == {  # what was locked and why, as the unlock's old value has it
        "subject_id": SUBJECT, "locked_by": "datamgr", "locked_at": lock.locked_at, "reason": "primary analysis",
        "not_final": "",
    }  # fmt: skip
    assert entries[1].new_value is None and json.loads(entries[1].old_value)["reason"] == "primary analysis"
    assert audit_log.verify(db).ok
    capsys.readouterr()
    assert main(["audit", "verify", "--db", db.url]) == 0
    assert "audit trail intact" in capsys.readouterr().out
    sys.stdin = io.StringIO(PASSWORD + "\n")
    try:
        assert main(["audit", "show", SUBJECT, "--db", db.url, "--user", "datamgr", "--password-stdin"]) == 0
    finally:
        sys.stdin = sys.__stdin__
    shown = capsys.readouterr().out
    assert f"datamgr  lock  subject/{SUBJECT}/lock" in shown and f"admin  unlock  subject/{SUBJECT}/lock" in shown


def test_on_postgresql_a_lock_waits_for_a_save_in_flight(db) -> None:
    """The save's transaction checked the subject is not locked and has not committed yet: the lock waits for it
    (else the save would commit after the lock, unnoticed)."""
    if db.dialect != "postgresql":
        pytest.skip("SQLite writers are serialised by the database lock (BEGIN IMMEDIATE)")
    people = make_users(db)
    final_site_read(db, people)
    done = threading.Event()

    def lock() -> None:
        lock_subjects(db, [SUBJECT], user=people["datamgr"], reason="primary analysis")
        done.set()

    with db.transaction() as conn:
        refuse_if_locked(conn, SUBJECT)  # a save in flight
        worker = threading.Thread(target=lock)
        worker.start()
        time.sleep(1.0)
        assert not done.is_set()
    worker.join(10)
    assert done.is_set() and subject_lock(db, SUBJECT) is not None


def test_on_postgresql_unlocking_several_subjects_never_deadlocks_with_a_save(db) -> None:
    """The concurrency tester's finding: `recist unlock S1 S2` wrote S1's audit entry (taking the audit chain's head),
    then waited for S2's lock, held by a save that then waited for the audit head: "deadlock detected", and both the
    unlock and the save failed. The unlock now takes every subject's lock before writing any entry."""
    if db.dialect != "postgresql":
        pytest.skip("SQLite writers are serialised by the database lock (BEGIN IMMEDIATE)")
    people = make_users(db)
    final_site_read(db, people)
    other = "SITE01-0099"
    lock_subjects(db, [SUBJECT], user=people["datamgr"], reason="primary analysis")
    failures: list[BaseException] = []

    def unlock() -> None:
        try:
            unlock_subjects(db, [SUBJECT, other], user=people["datamgr"], reason="query from the sponsor")
        except BaseException as exc:  # recorded for the assertion below
            failures.append(exc)

    with db.transaction() as conn:
        refuse_if_locked(conn, other)  # a save of the other subject in flight: it holds that subject's shared lock
        worker = threading.Thread(target=unlock)
        worker.start()
        time.sleep(1.0)  # the unlock is waiting for the other subject's lock
        audit_log.append(conn, username="site1", action=AuditAction.CHANGE, entity=f"subject/{other}/x",
                         subject_id=other, new=1)  # the save's own audit entry: it must not wait for the unlock
    worker.join(10)
    assert not worker.is_alive() and failures == [] and subject_lock(db, SUBJECT) is None
    assert audit_log.verify(db).ok


# --- the command line ------------------------------------------------------------------------------------------------


def recist(capsys: pytest.CaptureFixture[str], *args: str, password: str = PASSWORD) -> tuple[int, str, str]:
    sys.stdin = io.StringIO(password + "\n")
    try:
        code = main(list(args))
    finally:
        sys.stdin = sys.__stdin__
    out = capsys.readouterr()
    return code, out.out, out.err


def test_recist_lock_unlock_and_list(db, capsys: pytest.CaptureFixture[str]) -> None:
    people = make_users(db)
    final_site_read(db, people)
    final_site_read(db, people, "SITE01-0043")
    site = make_read("SITE01-0044")
    pseudonym = enrol_subject(db, "SITE01-0044", sources(site), readers=("reader1", "reader2"), admin=people["admin"])
    manager = ["--db", db.url, "--user", "datamgr", "--password-stdin"]

    code, out, err = recist(capsys, "lock", "--list", *manager)
    assert code == 0 and out.strip() == f"no subject is locked in {db.where}", err
    code, out, err = recist(capsys, "lock", "--list", "--format", "json", *manager)
    assert code == 0 and json.loads(out) == [], err
    # SITE01-0044's central review is still being read: nothing is locked without --incomplete
    code, out, err = recist(capsys, "lock", SUBJECT, pseudonym, "--reason", "primary analysis", *manager)
    assert code == 2 and err.strip().endswith(
        "not final, so nothing was locked: SITE01-0044: central review still being read (reader1: 0 of 2 timepoints "
        "signed, reader2: 0 of 2 timepoints signed); to lock them as they are, add --incomplete; to lock only the "
        "final ones, --final-only"
    ), err
    assert list_locks(db) == []
    code, out, err = recist(capsys, "lock", SUBJECT, pseudonym, "--reason", "primary analysis", "--incomplete",
                            *manager)  # fmt: skip
    assert code == 0, err
    assert f"{pseudonym}: the central-review pseudonym of subject SITE01-0044" in err
    assert f"{SUBJECT}: locked for analysis by datamgr at " in out
    assert "SITE01-0044: locked for analysis by datamgr at " in out
    assert out.splitlines()[1].endswith(
        ", though not final: central review still being read (reader1: 0 of 2 timepoints signed, reader2: 0 of 2 "
        "timepoints signed)"
    )
    assert err.strip().endswith(f"2 subject(s) locked in {db.where}")
    (entry,) = [e for e in audit_log.entries(db, ["SITE01-0044"]) if e.action == "lock"]
    assert json.loads(entry.new_value)["not_final"] == [
        "central review still being read (reader1: 0 of 2 timepoints signed, reader2: 0 of 2 timepoints signed)"
    ]
    code, out, err = recist(capsys, "lock", SUBJECT, "SITE01-0043", "--reason", "interim", *manager)
    assert code == 0, err
    assert f"{SUBJECT}: already locked (by datamgr at " in out and "'primary analysis'); left as it is" in out
    assert "SITE01-0043: locked for analysis" in out
    # re-locking only locked subjects says so once: no "0 subject(s) locked" after it
    code, out, err = recist(capsys, "lock", SUBJECT, "--reason", "interim", *manager)
    assert code == 0 and err == "" and len(out.splitlines()) == 1, (out, err)
    assert out.startswith(f"{SUBJECT}: already locked (by datamgr at ") and out.strip().endswith("left as it is")
    code, out, err = recist(capsys, "lock", "--list", *manager)
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["subject", "locked", "by", "at", "reason"], err
    assert [line.split()[:2] for line in lines[1:]] == [[SUBJECT, "datamgr"], ["SITE01-0043", "datamgr"],
                                                        ["SITE01-0044", "datamgr"]]  # fmt: skip
    assert lines[1].endswith("Z  primary analysis") and lines[2].endswith("  interim")
    assert lines[3].endswith("primary analysis (locked though not final: central review still being read (reader1: 0 "
                             "of 2 timepoints signed, reader2: 0 of 2 timepoints signed))")  # fmt: skip
    code, out, err = recist(capsys, "lock", "--list", "--format", "json", *manager)
    assert code == 0, err
    listed = json.loads(out)
    assert [(x["subject_id"], x["locked_by"], x["reason"]) for x in listed] == [
        (SUBJECT, "datamgr", "primary analysis"), ("SITE01-0043", "datamgr", "interim"),
        ("SITE01-0044", "datamgr", "primary analysis"),
    ]  # fmt: skip
    assert listed[0]["locked_at"] == subject_lock(db, SUBJECT).locked_at

    code, out, err = recist(capsys, "unlock", SUBJECT, "SITE01-0045", "--reason", "query", *manager)
    assert code == 2 and "no subject 'SITE01-0045'" in err and "nothing was unlocked" in err
    code, out, err = recist(capsys, "unlock", SUBJECT, "--reason", "query", *manager)
    assert code == 0 and out.strip() == f"{SUBJECT}: unlocked", err
    code, out, err = recist(capsys, "unlock", SUBJECT, "--reason", "query", *manager)
    assert code == 0 and out.strip() == f"{SUBJECT}: not locked; left as it is" and err == "", err
    assert [lock.subject_id for lock in list_locks(db)] == ["SITE01-0043", "SITE01-0044"]


def test_recist_lock_all_locks_every_subject_held_once_final(db, capsys: pytest.CaptureFixture[str]) -> None:
    people = make_users(db)
    final_site_read(db, people)
    signed_site_read(db, people, "SITE01-0043")  # week 6 unsigned
    site = make_read("SITE01-0044")  # only in central review, whose reads are both signed and agree
    pseudonym = enrol_subject(db, "SITE01-0044", sources(site), readers=("reader1", "reader2"), admin=people["admin"])
    central_read(db, pseudonym, people["reader1"], 20.0, "")
    central_read(db, pseudonym, people["reader2"], 20.0, "")
    manager = ["--db", db.url, "--user", "datamgr", "--password-stdin"]

    code, _, err = recist(capsys, "lock", "--all", "--reason", "primary analysis", *manager)
    assert code == 2 and err.strip().endswith(
        "not final, so nothing was locked: SITE01-0043: site1's read has 1 unsigned timepoint (TP1); to lock them as "
        "they are, add --incomplete; to lock only the final ones, --final-only"
    ), err
    assert list_locks(db) == []
    code, out, err = recist(capsys, "lock", "--all", "--reason", "primary analysis", "--incomplete", *manager)
    assert code == 0, err
    assert [line.split(":")[0] for line in out.splitlines()] == [SUBJECT, "SITE01-0043", "SITE01-0044"]
    assert "SITE01-0043: locked for analysis by datamgr at " in out
    assert "not final: site1's read has 1 unsigned timepoint" in out
    assert [lock.subject_id for lock in list_locks(db)] == [SUBJECT, "SITE01-0043", "SITE01-0044"]  # no pseudonym
    code, out, err = recist(capsys, "unlock", "--all", "--reason", "reopened", *manager)
    assert code == 0 and out.splitlines() == [f"{SUBJECT}: unlocked", "SITE01-0043: unlocked", "SITE01-0044: unlocked"]
    assert err.strip() == f"3 subject(s) unlocked in {db.where}" and list_locks(db) == []
    code, out, err = recist(capsys, "unlock", "--all", "--reason", "reopened", *manager)
    assert code == 0 and out.strip() == f"no subject is locked in {db.where}; nothing was unlocked", err

    # --final-only: the final subjects are locked, the one with an unsigned timepoint is named and left unlocked
    code, out, err = recist(capsys, "lock", "--all", "--final-only", "--reason", "interim analysis", *manager)
    assert code == 0, err
    assert out.splitlines()[0].startswith(f"{SUBJECT}: locked for analysis by datamgr at ")
    assert out.splitlines()[1].startswith("SITE01-0044: locked for analysis by datamgr at ")
    assert out.splitlines()[2] == "SITE01-0043: not locked, not final: site1's read has 1 unsigned timepoint (TP1)"
    assert err.strip() == f"2 subject(s) locked in {db.where}; 1 not final, left unlocked"
    assert [lock.subject_id for lock in list_locks(db)] == [SUBJECT, "SITE01-0044"]
    assert all(lock.not_final == "" for lock in list_locks(db))
    code, out, err = recist(capsys, "lock", "SITE01-0043", "--final-only", "--reason", "interim", *manager)
    assert code == 0 and err.strip() == f"no subject locked in {db.where}: none of them is final", (out, err)
    assert list_locks(db)[-1].subject_id == "SITE01-0044"
    for args, said in [
        (["lock", "--all", SUBJECT, "--reason", "x"], "give either SUBJECT ... or --all, not both"),
        (["lock", "--list", "--all"], "--list lists the locked subjects"),
        (["lock", SUBJECT, "--reason", "x", "--format", "json"], "--format json is for --list"),
        (["lock", SUBJECT, "--reason", "x", "--incomplete", "--final-only"], "either --incomplete"),
        (["lock", "--list", "--final-only"], "--list lists the locked subjects"),
        (["unlock", "--reason", "x"], "name the subjects to unlock (or --all the locked ones)"),
    ]:
        code, _, err = recist(capsys, *args, *manager)
        assert code == 2 and said in err, (args, err)


def test_a_subject_in_other_case_is_asked_about(db, capsys: pytest.CaptureFixture[str]) -> None:
    people = make_users(db)
    final_site_read(db, people, "SUBJ-004")
    manager = ["--db", db.url, "--user", "datamgr", "--password-stdin"]
    for verb in ("lock", "unlock"):
        code, _, err = recist(capsys, verb, "subj-004", "--reason", "x", *manager)
        assert code == 2 and err.strip() == f"recist {verb}: no subject subj-004; did you mean SUBJ-004? nothing was "\
            f"{verb}ed", err
    with pytest.raises(LockError, match=r"no subject subj-004 in .*; did you mean SUBJ-004\?; nothing was locked"):
        lock_subjects(db, ["subj-004"], user=people["datamgr"], reason="x")
    assert list_locks(db) == []


def test_recist_lock_errors_are_one_line(db, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    people = make_users(db)
    signed_site_read(db, people)
    manager = ["--db", db.url, "--user", "datamgr", "--password-stdin"]
    for args, said in [
        (["lock", SUBJECT, *manager], "--reason is needed: why the subjects are locked"),
        (["unlock", SUBJECT, "--reason", " ", *manager], "--reason is needed: why the subjects are unlocked"),
        (["lock", "--reason", "x", *manager], "name the subjects to lock (or --all of them, or --list the locked "
                                              "ones)"),
        (["lock", "--list", SUBJECT, *manager], "--list lists the locked subjects: give it no SUBJECT"),
        (["lock", "SITE01-9999", "--reason", "x", *manager], "no subject 'SITE01-9999'"),
        (["lock", SUBJECT, "--reason", "x", "--db", db.url, "--password-stdin"], "sign in with --user NAME"),
        (["lock", SUBJECT, "--reason", "x", "--db", db.url, "--user", "site1", "--password-stdin"],
         "site1 is a site reader; this needs a data manager or an administrator"),
        (["lock", "--list", "--db", str(tmp_path / "missing.db"), "--user", "datamgr"], "missing.db"),
    ]:  # fmt: skip
        code, _, err = recist(capsys, *args)
        assert code == 2 and said in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, args
    code, _, err = recist(capsys, "lock", "--list", *manager, password="wrong password")
    assert code == 2 and "wrong user name or password" in err
    assert list_locks(db) == []
    # a reader's refused lock, unlock and listing: each subject named, the entry filed under it; a listing as such
    reader = ["--db", db.url, "--user", "reader1", "--password-stdin"]
    for args in (["lock", SUBJECT, "SITE01-0043", "--reason", "x"], ["unlock", SUBJECT, "--reason", "x"],
                 ["lock", "--list"]):  # fmt: skip
        code, _, err = recist(capsys, *args, *reader)
        assert code == 2 and "reader1 is a central reader; this needs a data manager or an administrator" in err
    denied = [(e.username, e.subject_id, e.reason) for e in audit_log.entries(db) if e.action == "access-denied"]
    assert denied == [
        ("site1", SUBJECT, f"recist lock of subject {SUBJECT}: not allowed for a site reader"),
        ("reader1", SUBJECT, f"recist lock of subjects {SUBJECT}, SITE01-0043: not allowed for a central reader"),
        ("reader1", "SITE01-0043", f"recist lock of subjects {SUBJECT}, SITE01-0043: not allowed for a central "
                                   "reader"),
        ("reader1", SUBJECT, f"recist unlock of subject {SUBJECT}: not allowed for a central reader"),
        ("reader1", "", "listing the locked subjects (recist lock --list): not allowed for a central reader"),
    ]  # fmt: skip


def test_importing_a_read_of_a_locked_subject_fails_with_one_line(
    db, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    people = make_users(db)
    final_site_read(db, people)
    lock_subjects(db, [SUBJECT], user=people["datamgr"], reason="primary analysis")
    path = write_read(make_read(SUBJECT, reader="site2"), tmp_path / "reads" / "site2.json")
    from workstation.users import UserRole, add_user

    add_user(db, username="site2", full_name="Sue Site", role=UserRole.SITE_READER, password=PASSWORD,
             created_by=people["admin"])  # fmt: skip
    code, _, err = recist(capsys, "import", str(path), "--db", db.url, "--user", "site2", "--password-stdin")
    assert code == 2 and err.strip() == f"recist import: {path}: {refusal(db)}; nothing was imported"
    assert find_reads(db, SUBJECT, reader="site2") == []
    assert denials(db, SUBJECT) == [("site2", f"recist import of {path}: {refusal(db)}")]


def test_review_assign_leaves_a_locked_subject_out(db, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.dicom.ct_writer import write_ct_series
    from workstation.review.service import pseudonym_of

    people = make_users(db)
    for n, subject in enumerate(("SITE01-0001", "SITE01-0002")):
        for t, when in enumerate(("20240305", "20240416")):
            write_ct_series(tmp_path / "trial" / subject / f"tp{t}", n=4, rows=16, columns=16, seed=n * 10 + t,
                            patient={"id": subject, "name": "DOE^JOHN", "study_date": when})  # fmt: skip
        final_site_read(db, people, subject)
    lock_subjects(db, ["SITE01-0001"], user=people["datamgr"], reason="primary analysis")
    code, out, err = recist(capsys, "review", "assign", str(tmp_path / "trial"), "--readers", "reader1", "reader2",
                            "--db", db.url, "--user", "admin", "--password-stdin")  # fmt: skip
    assert code == 1 and err.strip() == "1 subject(s) refused: locked for analysis", err  # a script sees it
    assert f"SITE01-0001: not put into central review: {refusal(db, 'SITE01-0001')}" in out
    assert pseudonym_of(db, "SITE01-0001") is None and pseudonym_of(db, "SITE01-0002") is not None
    assert "1 subject(s) put into central review" in out
    assert denials(db, "SITE01-0001") == [
        ("admin", f"enrol subject SITE01-0001 in central review: {refusal(db, 'SITE01-0001')}")
    ]


# --- schema and export -----------------------------------------------------------------------------------------------


def test_a_database_of_schema_0004_is_upgraded_to_keep_locks(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from alembic import command

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = database_mod._sqlite_engine(url)
    with engine.begin() as conn:
        command.upgrade(database_mod._alembic_config(conn), "0004_assessment_point")
    engine.dispose()
    with sqlite3.connect(tmp_path / "old.db") as conn:
        assert "subject_locks" not in {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    db = open_database(url)
    try:
        assert "schema upgraded from 0004_assessment_point to 0005_subject_locks" in caplog.text
        people = make_users(db)
        final_site_read(db, people)
        lock_subjects(db, [SUBJECT], user=people["datamgr"], reason="primary analysis")
        assert [lock.subject_id for lock in list_locks(db)] == [SUBJECT]
    finally:
        db.close()
    with sqlite3.connect(tmp_path / "old.db") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("0005_subject_locks",)]
        columns = [row[1] for row in conn.execute("PRAGMA table_info(subject_locks)")]
    assert columns == ["subject_id", "locked_by", "locked_at", "reason", "not_final"]


def test_the_tables_say_who_locked_each_subject_and_when_and_the_summary_how_many(
    db, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    people = make_users(db)
    final_site_read(db, people)
    final_site_read(db, people, "SITE01-0043")
    export = ["export", "csv", "--db", db.url, "--user", "datamgr", "--password-stdin"]
    code, _, err = recist(capsys, *export, "--out", str(tmp_path / "before"))
    assert code == 0 and "locked for analysis" not in err, err  # no lock in the database: not a word of it
    (lock,) = lock_subjects(db, [SUBJECT], user=people["datamgr"], reason="primary analysis").changed
    code, _, err = recist(capsys, *export, "--out", str(tmp_path / "out"))
    assert code == 0, err
    assert err.strip().splitlines()[-1].endswith(
        "; 1 of 2 subjects locked for analysis; not locked: SITE01-0043"
    ), err
    with (tmp_path / "out" / "tables" / "responses.csv").open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    assert reader.fieldnames == RESPONSE_COLUMNS and RESPONSE_COLUMNS[-5:] == [
        "signed_by", "signed_at", "locked_by", "locked_at", "locked_not_final"
    ]  # fmt: skip
    locked = {(r["subject_id"], r["locked_by"], r["locked_at"], r["locked_not_final"]) for r in rows}
    assert locked == {(SUBJECT, "datamgr", lock.locked_at, ""), ("SITE01-0043", "", "", "")}
    assert {r["signed_by"] for r in rows} == {"site1"}
    # best_responses.csv (the ORR table): the same two columns, last
    with (tmp_path / "out" / "tables" / "best_responses.csv").open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        best = list(reader)
    assert reader.fieldnames == BEST_COLUMNS and BEST_COLUMNS[-3:] == ["locked_by", "locked_at", "locked_not_final"]
    assert {(r["subject_id"], r["locked_by"], r["locked_at"], r["locked_not_final"]) for r in best} == locked
    assert all(r["best_overall_response"] for r in best)

    lock_subjects(db, ["SITE01-0043"], user=people["datamgr"], reason="primary analysis")
    code, _, err = recist(capsys, *export, "--out", str(tmp_path / "all"))
    assert code == 0 and err.strip().splitlines()[-1].endswith("; 2 of 2 subjects locked for analysis"), err
