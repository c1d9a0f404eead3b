"""Storage on SQLite and a real PostgreSQL: faithful round trip, optimistic locking, signing and amendments,
all-or-nothing saves, and clear messages for damaged, foreign, newer or locked databases."""

from __future__ import annotations

import contextlib
import copy
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.services import postgres_server as pg
from tests.services.postgres_server import PASSWORD, make_read, make_users
from workstation.read_model import LesionAssessment, LesionStatus, Measurement, MeasurementOrigin
from workstation.storage import StorageError, audit_log, open_database
from workstation.storage import database as database_mod
from workstation.storage.repository import (
    AmendmentReasonRequired,
    ConcurrentChangeError,
    ReadError,
    find_reads,
    load_read,
    save_read,
    sign_timepoint,
)

# The shared service-test fixtures (pytest finds them by name in this module).
db_url, postgres_server, fast_password_hashing = pg.db_url, pg.postgres_server, pg.fast_password_hashing

MEANING = "I confirm these measurements as the reader of this timepoint"


@pytest.fixture
def db(db_url: str):
    database = open_database(db_url)
    yield database
    database.close()


def test_a_read_round_trips_with_every_field(db) -> None:
    from datetime import date

    people = make_users(db)
    read = make_read()
    read.treatment_start = date(2024, 3, 12)
    assert save_read(db, read, user=people["site1"], expected_version=None) == 1
    db.close()
    reopened = open_database(db.url)
    stored = load_read(reopened, read.read_id)
    assert stored.read == read  # dataclass equality: every field, floats exactly, provenance, end points, order
    assert stored.version == 1 and stored.updated_by == "site1"
    assert [s.read.read_id for s in find_reads(reopened, "SITE01-0042", reader="site1")] == [read.read_id]
    reopened.close()


def test_every_change_is_audited_with_old_and_new_value(db) -> None:
    people = make_users(db)
    read = make_read()
    save_read(db, read, user=people["site1"], expected_version=None)
    read.timepoints[1].assessments["T1"].measurements[0].long_axis_mm = 28.0
    del read.timepoints[1].assessments["NT1"]
    assert save_read(db, read, user=people["site1"], expected_version=1) == 2
    entries = audit_log.entries(db, [read.subject_id])
    change = next(e for e in entries if e.action == "change")
    assert change.entity == f"read/{read.read_id}/timepoint/1/assessment/T1" and change.username == "site1"
    assert json.loads(change.old_value)["measurements"][0]["long_axis_mm"] == 30.0
    assert json.loads(change.new_value)["measurements"][0]["long_axis_mm"] == 28.0
    deleted = next(e for e in entries if e.action == "delete")
    assert deleted.entity.endswith("/timepoint/1/assessment/NT1") and deleted.new_value is None
    assert change.recorded_at.endswith("Z")
    assert audit_log.verify(db).ok


def test_a_stale_save_is_refused_naming_who_changed_it(db) -> None:
    """Two workstations (two engines, two connection pools) load the same read; the second save must not overwrite."""
    people = make_users(db)
    read = make_read()
    save_read(db, read, user=people["admin"], expected_version=None)
    other = open_database(db.url)
    try:
        mine, theirs = load_read(db, read.read_id), load_read(other, read.read_id)
        theirs.read.timepoints[0].assessments["T1"].comment = "changed elsewhere"
        save_read(other, theirs.read, user=people["site1"], expected_version=theirs.version)
        mine.read.timepoints[0].assessments["T1"].comment = "my change"
        with pytest.raises(ConcurrentChangeError, match=r"changed by site1 at 20\d\d-.*Z.*reload"):
            save_read(db, mine.read, user=people["site1"], expected_version=mine.version)
        assert load_read(db, read.read_id).read.timepoints[0].assessments["T1"].comment == "changed elsewhere"
    finally:
        other.close()


def test_signing_locks_a_timepoint_and_a_change_needs_a_reason(db) -> None:
    people = make_users(db)
    read = make_read()
    save_read(db, read, user=people["site1"], expected_version=None)
    with pytest.raises(Exception, match="wrong user name or password"):
        sign_timepoint(
            db, read.read_id, 0, username="site1", password="wrong password", meaning=MEANING, expected_version=1
        )
    with pytest.raises(ReadError, match="signed in order"):
        sign_timepoint(db, read.read_id, 1, username="site1", password=PASSWORD, meaning=MEANING, expected_version=1)
    with pytest.raises(ReadError, match="only its reader"):
        sign_timepoint(db, read.read_id, 0, username="reader1", password=PASSWORD, meaning=MEANING, expected_version=1)
    signed = sign_timepoint(
        db, read.read_id, 0, username="site1", password=PASSWORD, meaning=MEANING, expected_version=1
    )
    sig = load_read(db, read.read_id).read.timepoints[0].signature
    assert sig is not None and sig.full_name == "Sam Site" and sig.meaning == MEANING and sig.signed_at.endswith("Z")

    edited = copy.deepcopy(signed.read)
    edited.timepoints[0].assessments["T1"].measurements[0].long_axis_mm = 55.0
    with pytest.raises(
        AmendmentReasonRequired,
        match=r"subject SITE01-0042, timepoint 'TP0', lesion T1 is signed: changing it is an amendment and needs a",
    ):
        save_read(db, edited, user=people["site1"], expected_version=signed.version)
    relabelled = copy.deepcopy(signed.read)
    relabelled.lesions["T1"].organ = "lung"  # the lesion is assessed in the signed timepoint: also an amendment
    with pytest.raises(AmendmentReasonRequired, match=r"subject SITE01-0042, lesion T1 is signed"):
        save_read(db, relabelled, user=people["site1"], expected_version=signed.version)
    assert load_read(db, read.read_id).read.timepoints[0].assessments["T1"].measurements[0].long_axis_mm == 50.0

    # Work on the unsigned follow-up needs no reason.
    followup = copy.deepcopy(signed.read)
    followup.timepoints[1].assessments["NT1"].comment = "stable"
    version = save_read(db, followup, user=people["site1"], expected_version=signed.version)
    edited = copy.deepcopy(followup)
    edited.timepoints[0].assessments["T1"].measurements[0].long_axis_mm = 55.0
    version = save_read(db, edited, user=people["site1"], expected_version=version, reason="caliper misplaced")
    amend = [e for e in audit_log.entries(db, [read.subject_id]) if e.action == "amend"]
    assert [e.entity.split("/", 2)[2] for e in amend] == ["timepoint/0/assessment/T1", "timepoint/0/signature"]
    assert amend[0].reason == "caliper misplaced"
    assert json.loads(amend[0].old_value)["measurements"][0]["long_axis_mm"] == 50.0
    assert json.loads(amend[0].new_value)["measurements"][0]["long_axis_mm"] == 55.0
    # the signature attested 50 mm: the amendment withdraws it (21 CFR 11.70), in the trail, and the reader signs again
    assert amend[1].reason == "signature withdrawn by the amendment (caliper misplaced): sign again"
    assert json.loads(amend[1].old_value)["full_name"] == "Sam Site" and amend[1].new_value in (None, "null")
    assert not load_read(db, read.read_id).read.timepoints[0].signed and not edited.timepoints[0].signed
    version = sign_timepoint(db, read.read_id, 0, username="site1", password=PASSWORD, meaning=MEANING,
                             expected_version=version).version  # fmt: skip
    edited = load_read(db, read.read_id).read

    # An amendment's reason is the amended timepoint's own: a change to the unsigned follow-up saved with it carries
    # none (the reader gave no reason for it), and a reason given for another timepoint does not amend this one.
    both = copy.deepcopy(edited)
    both.timepoints[0].assessments["T1"].measurements[0].long_axis_mm = 54.0
    both.timepoints[1].assessments["NT1"].comment = "stable, unchanged"
    with pytest.raises(AmendmentReasonRequired, match="timepoint 'TP0', lesion T1 is signed"):
        save_read(db, both, user=people["site1"], expected_version=version, reason={1: "not the signed one"})
    save_read(db, both, user=people["site1"], expected_version=version, reason={0: "re-measured on the longest slice"})
    last = audit_log.entries(db, [read.subject_id])[-3:]
    assert [(e.action, e.entity.split("/", 2)[2], e.reason) for e in last] == [
        ("amend", "timepoint/0/assessment/T1", "re-measured on the longest slice"),
        ("change", "timepoint/1/assessment/NT1", ""),
        ("amend", "timepoint/0/signature",
         "signature withdrawn by the amendment (re-measured on the longest slice): sign again"),
    ]


def test_an_amendment_withdraws_the_signatures_of_its_timepoint_and_those_after_it(db) -> None:
    """A radiologist's and a central-review manager's finding: after an amendment the signature stayed on values the
    signer never saw (21 CFR 11.70), and the amended timepoint could not be signed again. Now the amended timepoint
    and every signed one after it (measured against it; signed in order) are unsigned until signed again; a change
    of the treatment start (a clinic date, not the reader's assessment) is an amendment that leaves them."""
    from datetime import date

    people = make_users(db)
    read = make_read()
    version = save_read(db, read, user=people["site1"], expected_version=None)
    for position in (0, 1):
        version = sign_timepoint(db, read.read_id, position, username="site1", password=PASSWORD, meaning=MEANING,
                                 expected_version=version).version  # fmt: skip
    signed = load_read(db, read.read_id).read

    dated = copy.deepcopy(signed)
    dated.treatment_start = date(2024, 3, 9)
    with pytest.raises(AmendmentReasonRequired):
        save_read(db, dated, user=people["site1"], expected_version=version)
    version = save_read(db, dated, user=people["site1"], expected_version=version, reason="infusion date")
    assert all(tp.signed for tp in load_read(db, read.read_id).read.timepoints)

    followup = copy.deepcopy(dated)  # the follow-up alone: its signature goes, the baseline's stays
    followup.timepoints[1].assessments["NT1"].comment = "stable"
    version = save_read(db, followup, user=people["site1"], expected_version=version, reason={1: "comment"})
    assert [tp.signed for tp in load_read(db, read.read_id).read.timepoints] == [True, False]
    assert [tp.signed for tp in followup.timepoints] == [True, False]  # the read in memory is as stored
    version = sign_timepoint(db, read.read_id, 1, username="site1", password=PASSWORD, meaning=MEANING,
                             expected_version=version).version  # fmt: skip

    baseline = load_read(db, read.read_id).read  # the baseline: both go (the follow-up is measured against it)
    baseline.timepoints[0].assessments["T1"].measurements[0].long_axis_mm = 52.0
    save_read(db, baseline, user=people["site1"], expected_version=version, reason={0: "longest slice"})
    assert [tp.signed for tp in load_read(db, read.read_id).read.timepoints] == [False, False]
    withdrawn = [e for e in audit_log.entries(db, [read.subject_id]) if e.entity.endswith("/signature")][-2:]
    assert [(e.action, e.entity.split("/")[-2], e.reason) for e in withdrawn] == [
        ("amend", "0", "signature withdrawn by the amendment (longest slice): sign again"),
        ("amend", "1", "signature withdrawn: 'TP0' before it was amended (longest slice); its responses may change: "
                       "sign again"),
    ]
    # the amendment goes on (the baseline unsigned now): its changes carry its reason (the last re-check: "change"
    # entries with none)
    more = load_read(db, read.read_id)
    more.read.timepoints[0].assessments["T1"].measurements[0].long_axis_mm = 53.0
    save_read(db, more.read, user=people["site1"], expected_version=more.version, reason={0: "longest slice"})
    last = audit_log.entries(db, [read.subject_id])[-1]
    assert (last.action, last.entity.split("/", 2)[2], last.reason) == ("change", "timepoint/0/assessment/T1",
                                                                       "longest slice")
    assert audit_log.verify(db).ok


def test_a_reader_deactivated_while_reading_saves_and_signs_nothing_more(db) -> None:
    """A central-review manager's finding: a workstation opened before `recist users deactivate r3` still saved, and
    r3's failed signature was audited only as a wrong password."""
    from workstation.storage.read_store import DatabaseReadStore
    from workstation.users import set_active

    people = make_users(db)
    read = make_read()
    store = DatabaseReadStore(db, people["site1"])  # the workstation's, signed in before the deactivation
    store.save(read)
    set_active(db, "site1", active=False, admin=people["admin"], reason="left the site")
    read.timepoints[0].assessments["T1"].measurements[0].long_axis_mm = 51.0
    with pytest.raises(Exception, match="site1's account is deactivated: nothing is saved under it"):
        store.save(read)
    assert load_read(db, read.read_id).read.timepoints[0].assessments["T1"].measurements[0].long_axis_mm == 50.0
    read.timepoints[0].assessments["T1"].measurements[0].long_axis_mm = 50.0  # as stored: nothing to save
    with pytest.raises(Exception, match="wrong user name or password"):  # told no more than for a typo
        store.sign(read, 0, password=PASSWORD, meaning=MEANING)  # (it saves first: not refused as a save)
    trail = [(e.action, e.reason) for e in audit_log.entries(db) if e.username == "site1"][-2:]
    assert trail[0] == ("access-denied", f"save a read of subject {read.subject_id}: site1's account is deactivated: "
                        "nothing is saved under it (ask the administrator; the read stays as it was last saved)")
    assert trail[1][0] == "login-failed" and trail[1][1].startswith("the account is deactivated (signing")


def test_a_password_typed_into_the_meaning_or_the_reason_is_refused_never_stored(db) -> None:
    """Typed into the wrong box, a password would be kept for good in the append-only audit trail and the exports."""
    people = make_users(db)
    read = make_read()
    save_read(db, read, user=people["site1"], expected_version=None)
    with pytest.raises(ReadError, match="the signature's meaning contains your password"):
        sign_timepoint(db, read.read_id, 0, username="site1", password=PASSWORD, meaning=f"{MEANING}{PASSWORD}]",
                       expected_version=1)  # fmt: skip
    assert not load_read(db, read.read_id).read.timepoints[0].signed
    assert not [e for e in audit_log.entries(db) if PASSWORD in f"{e.new_value} {e.old_value} {e.reason}"]


def test_a_save_cannot_forge_or_remove_a_signature_nor_sign_a_suggestion(db) -> None:
    people = make_users(db)
    read = make_read()
    save_read(db, read, user=people["site1"], expected_version=None)
    signed = sign_timepoint(
        db, read.read_id, 0, username="site1", password=PASSWORD, meaning=MEANING, expected_version=1
    )
    unsigned = copy.deepcopy(signed.read)
    unsigned.timepoints[0].signature = None
    with pytest.raises(ReadError, match="signature can only be made by signing"):
        save_read(db, unsigned, user=people["site1"], expected_version=signed.version, reason="want to edit")
    forged = copy.deepcopy(signed.read)
    forged.timepoints[1].signature = copy.deepcopy(signed.read.timepoints[0].signature)
    with pytest.raises(ReadError, match="signature can only be made by signing"):
        save_read(db, forged, user=people["site1"], expected_version=signed.version)
    suggested = copy.deepcopy(signed.read)
    suggested.timepoints[1].assessments["NT1"] = LesionAssessment(LesionStatus.PRESENT)
    suggested.timepoints[1].assessments["T1"].measurements.append(
        Measurement(long_axis_mm=31.0, origin=MeasurementOrigin.SUGGESTED, engine="monai")
    )
    version = save_read(db, suggested, user=people["site1"], expected_version=signed.version)
    with pytest.raises(ReadError, match="lesion T1: accept, adjust or delete the suggested measurement"):
        sign_timepoint(
            db, read.read_id, 1, username="site1", password=PASSWORD, meaning=MEANING, expected_version=version
        )


def test_a_failure_inside_a_save_leaves_the_previous_read_whole(db, monkeypatch) -> None:
    people = make_users(db)
    read = make_read()
    save_read(db, read, user=people["site1"], expected_version=None)
    before = load_read(db, read.read_id)
    changed = copy.deepcopy(read)
    changed.timepoints[1].assessments["T1"].measurements[0].long_axis_mm = 25.0
    changed.lesions.pop("NT1")
    for tp in changed.timepoints:
        tp.assessments.pop("NT1")

    def power_cut(*args, **kwargs):
        raise OSError("simulated failure after the rows were written")

    monkeypatch.setattr(audit_log, "append", power_cut)
    with pytest.raises(OSError):
        save_read(db, changed, user=people["site1"], expected_version=1)
    monkeypatch.undo()
    after = load_read(db, read.read_id)
    assert after.read == before.read and after.version == 1
    assert audit_log.verify(db).ok


def test_a_damaged_file_gives_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "reads.db"
    path.write_bytes(b"this is not a database at all" * 200)
    with pytest.raises(StorageError, match=rf"database file {path} is not a workstation database, or is damaged"):
        open_database(str(path))
    assert path.read_bytes().startswith(b"this is not")  # untouched


def test_a_foreign_or_newer_database_is_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "other.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE patients (id INTEGER)")
    with pytest.raises(StorageError, match=rf"{foreign} is not a workstation database"):
        open_database(str(foreign))
    newer = tmp_path / "newer.db"
    open_database(str(newer)).close()
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099_future'")
    with pytest.raises(StorageError, match=r"schema version 0099_future.*newer version"):
        open_database(str(newer))


@contextlib.contextmanager
def _another_program_writing(path: Path) -> Iterator[None]:
    """Another program holds the database's write lock while inside."""
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


def _saved(path: Path, monkeypatch) -> tuple[Any, dict, Any]:
    """A database at ``path`` with one saved read (busy timeout shortened); (database, users, read)."""
    monkeypatch.setattr(database_mod, "SQLITE_BUSY_TIMEOUT_S", 0.2)
    db = open_database(str(path))
    people = make_users(db)
    read = make_read()
    save_read(db, read, user=people["site1"], expected_version=None)
    return db, people, read


def test_a_locked_database_gives_a_clear_message_and_keeps_the_read(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "reads.db"
    db, people, read = _saved(path, monkeypatch)
    with _another_program_writing(path):
        read.timepoints[0].assessments["T1"].comment = "edit"
        with pytest.raises(StorageError, match=rf"database file {path} is locked by another program"):
            save_read(db, read, user=people["site1"], expected_version=1)
        assert load_read(db, read.read_id).version == 1  # reading never waits for a writer (WAL)
        assert audit_log.verify(db).ok
    assert save_read(db, read, user=people["site1"], expected_version=1) == 2
    db.close()


def test_a_database_file_deleted_or_replaced_while_open_refuses_saves(tmp_path: Path, monkeypatch) -> None:
    """The hostile tester's finding: with the file deleted under a running workstation, saves went to the unlinked
    old file and said "read saved"; after a backup was copied back, the change was in neither. Now a save is refused
    with a message naming the file, and the file then at the path is left as it was."""
    path = tmp_path / "reads.db"
    db, people, read = _saved(path, monkeypatch)
    backup = tmp_path / "backup.db"
    with contextlib.closing(sqlite3.connect(path)) as source, contextlib.closing(sqlite3.connect(backup)) as copy_:
        source.backup(copy_)
    for name in ("reads.db", "reads.db-wal", "reads.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    read.timepoints[0].assessments["T1"].comment = "edit"
    with pytest.raises(StorageError, match=rf"database file {path} was deleted or moved since it was opened; nothing "
                                           "was saved"):
        save_read(db, read, user=people["site1"], expected_version=1)
    backup.rename(path)  # a restored backup: another file at the same path
    with pytest.raises(StorageError, match="was replaced by another file since it was opened; nothing was saved"):
        save_read(db, read, user=people["site1"], expected_version=1)
    db.close()
    reopened = open_database(str(path), create=False)
    assert load_read(reopened, read.read_id).version == 1  # the backup as it was; saving works once reopened
    assert save_read(reopened, read, user=people["site1"], expected_version=1) == 2
    reopened.close()


def test_a_database_opens_and_reads_while_another_program_writes(tmp_path: Path, monkeypatch) -> None:
    """Opening an up-to-date database takes no write lock: a workstation or `recist audit verify` opens it and reads
    while another program holds a write transaction (it waited, then said the file was locked)."""
    path = tmp_path / "reads.db"
    db, _, read = _saved(path, monkeypatch)
    db.close()
    with _another_program_writing(path):
        other = open_database(str(path), create=False)
        assert load_read(other, read.read_id).version == 1
        assert audit_log.verify(other).ok
        other.close()


def test_an_unreachable_server_or_bad_url_gives_a_clear_message_without_the_password() -> None:
    with pytest.raises(StorageError, match="cannot connect to database postgresql") as info:
        open_database("postgresql://nobody:secret@127.0.0.1:1/none")
    assert "secret" not in str(info.value)
    with pytest.raises(StorageError, match="not a database URL I can open") as info:
        open_database("nosuchdb://nobody:secret@host/x")
    assert "secret" not in str(info.value)


def test_passwords_are_stored_as_argon2id_hashes_with_production_cost(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.undo()  # the real hasher, not the tests' cheap one
    from workstation.users import add_user, authenticate

    db = open_database(str(tmp_path / "users.db"))
    add_user(db, username="admin", full_name="Ada Admin", role="administrator", password=PASSWORD, created_by=None)
    with sqlite3.connect(tmp_path / "users.db") as conn:
        (stored,) = conn.execute("SELECT password_hash FROM users").fetchone()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert int(stored.split("$m=")[1].split(",")[0]) >= 19 * 1024  # OWASP minimum memory cost
    assert authenticate(db, "admin", PASSWORD).username == "admin"
    assert PASSWORD not in "".join(str(e) for e in audit_log.entries(db))
    db.close()


def test_the_reading_session_store_saves_signs_and_reports_conflicts(db) -> None:
    from workstation.session.persistence import ReadStoreError
    from workstation.storage.read_store import DatabaseReadStore

    people = make_users(db)
    store, other = DatabaseReadStore(db, people["site1"]), DatabaseReadStore(db, people["site1"])
    assert store.load("SITE01-0042", "site1") is None
    read = make_read()
    store.save(read)
    mine, theirs = store.load(read.subject_id, "site1"), other.load(read.subject_id, "site1")
    assert mine == read and theirs == read
    with pytest.raises(ReadStoreError, match="reader1 may open only their own reads"):
        DatabaseReadStore(db, people["reader1"]).load(read.subject_id, "site1")
    with pytest.raises(ReadStoreError, match="wrong user name or password"):
        store.sign(mine, 0, password="nope", meaning=MEANING)
    failed = [e for e in audit_log.entries(db) if e.action == "login-failed"][-1]
    assert failed.subject_id == read.subject_id
    signing = f"signing {read.timepoints[0].label} of subject {read.subject_id}"
    assert failed.reason == f"wrong user name or password ({signing})"
    store.sign(mine, 0, password=PASSWORD, meaning=MEANING)
    assert mine.timepoints[0].signature is not None and mine.timepoints[0].signature.full_name == "Sam Site"
    theirs.timepoints[1].assessments["NT1"].comment = "stale edit"
    with pytest.raises(ReadStoreError, match=r"changed by site1 at .* reload it"):
        other.save(theirs)
    mine.timepoints[0].assessments["NT1"].comment = "after signing"
    with pytest.raises(ReadStoreError, match="needs a reason"):
        store.save(mine)
    store.save(mine, reason="typo in the comment")
    assert load_read(db, read.read_id).read.timepoints[0].assessments["NT1"].comment == "after signing"


def test_a_timepoint_the_criteria_cannot_evaluate_cannot_be_signed(db) -> None:
    from workstation.read_model import Lesion, Role

    people = make_users(db)
    read = make_read()
    for i in range(3, 8):  # seven targets in all: RECIST 1.1 allows five
        read.lesions[f"T{i}"] = Lesion(f"T{i}", Role.TARGET, f"organ {i}")
        read.timepoints[0].assessments[f"T{i}"] = LesionAssessment(LesionStatus.MEASURED, [Measurement(20.0)])
    save_read(db, read, user=people["site1"], expected_version=None)
    with pytest.raises(ReadError, match=r"cannot sign: subject SITE01-0042.*at most 5"):
        sign_timepoint(db, read.read_id, 0, username="site1", password=PASSWORD, meaning=MEANING, expected_version=1)
    assert load_read(db, read.read_id).read.timepoints[0].signature is None


def test_the_migrations_create_exactly_the_declared_schema(db) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from workstation.storage.schema import metadata

    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_deleting_a_read_needs_a_reason_and_keeps_every_value_in_the_audit_trail(db) -> None:
    from workstation.storage.repository import delete_read

    people = make_users(db)
    read = make_read()
    save_read(db, read, user=people["site1"], expected_version=None)
    with pytest.raises(ReadError, match="needs a reason"):
        delete_read(db, read.read_id, user=people["site1"], expected_version=1, reason=" ")
    with pytest.raises(ReadError, match="cannot delete the read of site1"):
        delete_read(db, read.read_id, user=people["reader1"], expected_version=1, reason="wrong subject")
    delete_read(db, read.read_id, user=people["site1"], expected_version=1, reason="entered under the wrong subject")
    with pytest.raises(ReadError, match="no read"):
        load_read(db, read.read_id)
    deleted = [e for e in audit_log.entries(db, [read.subject_id]) if e.action == "delete"]
    measurement = next(e for e in deleted if e.entity.endswith("/timepoint/0/assessment/T1"))
    assert json.loads(measurement.old_value)["measurements"][0]["model_id"] == "lesion-unet"
    assert all(e.reason == "entered under the wrong subject" and e.new_value is None for e in deleted)
    assert audit_log.verify(db).ok


def test_a_read_cannot_be_taken_over_by_another_reader(db) -> None:
    people = make_users(db)
    read = make_read()
    save_read(db, read, user=people["site1"], expected_version=None)
    taken = copy.deepcopy(read)
    taken.reader = "reader1"
    with pytest.raises(ReadError, match="by site1 cannot change its subject or reader"):
        save_read(db, taken, user=people["reader1"], expected_version=1)
    assert load_read(db, read.read_id).read.reader == "site1"


def test_a_database_with_damaged_pages_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "reads.db"
    db = open_database(str(path))
    people = make_users(db)
    for i in range(20):
        save_read(db, make_read(subject_id=f"S{i}"), user=people["site1"], expected_version=None)
    db.close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    data[8192 : 8192 + 3000] = b"\xab" * 3000  # a disk error across pages 3 and 4
    path.write_bytes(bytes(data))
    with pytest.raises(
        StorageError, match=rf"database file {path} is damaged \(SQLite quick_check: .*\); restore"
    ) as e:
        open_database(str(path))
    assert "\n" not in str(e.value)


def test_a_node_given_by_its_short_axis_alone_is_stored_without_a_long_axis(db) -> None:
    people = make_users(db)
    read = make_read()
    read.timepoints[1].assessments["T2"].measurements[0].long_axis_mm = None
    save_read(db, read, user=people["site1"], expected_version=None)
    stored = load_read(db, read.read_id).read.timepoints[1].assessments["T2"].measurements[0]
    assert stored.long_axis_mm is None and stored.short_axis_mm == 9.0


def test_a_lesion_other_than_a_node_without_a_long_axis_is_refused(db) -> None:
    people = make_users(db)
    read = make_read()
    read.timepoints[0].assessments["T1"].measurements[0].long_axis_mm = None
    with pytest.raises(ReadError, match=r"TP0.*T1: no long axis, which only a lymph node may lack"):
        save_read(db, read, user=people["site1"], expected_version=None)


def test_a_database_of_the_first_schema_is_upgraded_keeping_its_measurements(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from alembic import command
    from sqlalchemy import MetaData

    from workstation.storage.codec import child_rows, read_row

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = database_mod._sqlite_engine(url)
    read = make_read()
    with engine.begin() as conn:  # a database written before 0002: the long axis NOT NULL, no treatment start
        command.upgrade(database_mod._alembic_config(conn), "0001_initial")
        old = MetaData()
        old.reflect(conn)  # the read's rows as the first schema holds them (today's code cannot save there)
        now = "2024-03-06T10:00:00+00:00"
        conn.execute(old.tables["reads"].insert(), [{
            **{k: v for k, v in read_row(read).items() if k in old.tables["reads"].c},
            "version": 1, "created_at": now, "updated_at": now, "updated_by": "site1"}])
        for name, rows in child_rows(read).items():
            if rows:
                columns = old.tables[name].c
                conn.execute(old.tables[name].insert(), [{k: v for k, v in r.items() if k in columns} for r in rows])
    engine.dispose()
    with sqlite3.connect(tmp_path / "old.db") as conn:
        columns = {row[1]: row[3] for row in conn.execute("PRAGMA table_info(measurements)")}
    assert columns["long_axis_mm"] == 1  # NOT NULL before the upgrade
    reopened = open_database(url)
    people = make_users(reopened)
    assert "schema upgraded from 0001_initial to 0005_subject_locks; older versions" in caplog.text
    for tp in read.timepoints:  # the first schema kept no point: none comes back
        tp.assessments["NT1"].point_mm = None
    assert load_read(reopened, read.read_id).read == read
    read.timepoints[1].assessments["T2"].measurements[0].long_axis_mm = None
    save_read(reopened, read, user=people["site1"], expected_version=1)
    assert load_read(reopened, read.read_id).read == read
    reopened.close()


def test_a_full_disk_says_so_and_that_nothing_was_saved() -> None:
    """The hostile tester's finding: a database on a full disk said only "disk I/O error"."""
    for driver in ("disk I/O error", "database or disk is full"):
        said = database_mod.explain(sqlite3.OperationalError(driver), "database file /x/reads.db")
        assert said == (f"database file /x/reads.db: {driver}: nothing was saved; check that its disk has free space "
                        "and is writable, then try again")


def test_a_reader_starting_one_subject_on_two_workstations_gets_one_read(db) -> None:
    """The concurrency tester's finding: two first saves of one subject by one reader (the subject opened on two
    workstations before either saved) made two reads; each workstation then showed only the newest, hiding the other
    one's saved measurements, and the hidden read could never be signed. The second first save is refused."""
    people = make_users(db)
    first, second = make_read(), make_read()
    assert first.read_id != second.read_id and (first.subject_id, first.reader) == (second.subject_id, second.reader)
    save_read(db, first, user=people["site1"], expected_version=None)
    with pytest.raises(ReadError, match=rf"site1 already has a RECIST 1.1 read of subject {first.subject_id} \(saved "
                                        r"by site1 at .*\); nothing was saved: open the subject again"):
        save_read(db, second, user=people["site1"], expected_version=None)
    assert [s.read.read_id for s in find_reads(db, first.subject_id)] == [first.read_id]
    second.criteria = "iRECIST"  # the same evaluator's read under the other criteria is another read
    save_read(db, second, user=people["site1"], expected_version=None)
    assert audit_log.verify(db).ok


def test_a_new_sqlite_database_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """A central-review manager's finding: the SQLite file was created world-readable (0644), and it holds the table
    linking each central-review pseudonym to its subject."""
    import stat

    db = open_database(str(tmp_path / "trial.db"))
    try:
        make_users(db)
    finally:
        db.close()
    for name in ("trial.db", "trial.db-wal"):
        path = tmp_path / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, name


def test_opening_anothers_read_is_refused_and_audited(db) -> None:
    """A central-review manager's finding: r1 opening r2's read was refused without a trace in the audit trail."""
    from workstation.session.persistence import ReadStoreError
    from workstation.storage.read_store import DatabaseReadStore

    people = make_users(db)
    read = make_read(reader="reader2")
    save_read(db, read, user=people["reader2"], expected_version=None)
    with pytest.raises(ReadStoreError, match="reader1 may open only their own reads, not reader2's"):
        DatabaseReadStore(db, people["reader1"]).load(read.subject_id, "reader2")
    denied = [e for e in audit_log.entries(db, [read.subject_id]) if e.action == "access-denied"]
    assert [(e.username, e.reason) for e in denied] == [
        ("reader1", f"open reader2's read of subject {read.subject_id}: reader1 may open only their own reads, not "
                    "reader2's")]
