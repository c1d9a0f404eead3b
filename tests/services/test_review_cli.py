"""`recist review assign/status/discordance` on SQLite and a real PostgreSQL: a trial folder of tiny CT series put
into central review (two readers per subject, spread over three readers), progress and states as the reads are made,
signed and adjudicated, discordance per reader pair; user errors are one line."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from tests.dicom.ct_writer import write_ct_series
from tests.services import postgres_server as pg
from tests.services.postgres_server import PASSWORD, make_users
from tests.services.test_review import central_read
from workstation.cli import main
from workstation.review.service import adjudicate, open_blinded_case, pseudonym_of
from workstation.storage import audit_log, open_database
from workstation.users import get_user

db_url, postgres_server, fast_password_hashing = pg.db_url, pg.postgres_server, pg.fast_password_hashing
SUBJECTS = ("SITE01-0001", "SITE01-0002", "SITE01-0003")
DATES = ("20240305", "20240416")


@pytest.fixture(scope="module")
def trial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder per subject, one per timepoint, each a 4-slice 16 x 16 CT series with the subject's identity."""
    root = tmp_path_factory.mktemp("trial")
    for n, subject in enumerate(SUBJECTS):
        for t, when in enumerate(DATES):
            write_ct_series(
                root / subject / f"tp{t}",
                n=4,
                rows=16,
                columns=16,
                seed=n * 10 + t,
                patient={"id": f"PID{n}", "name": f"DOE^SUBJECT{n}", "study_date": when},
            )
    return root


@pytest.fixture
def db(db_url: str):
    database = open_database(db_url)
    make_users(database)
    yield database
    database.close()


def review(capsys, *args: str, password: str = PASSWORD) -> tuple[int, str, str]:
    sys.stdin = io.StringIO(password + "\n")
    try:
        code = main(["review", *args])
    finally:
        sys.stdin = sys.__stdin__
    out = capsys.readouterr()
    return code, out.out, out.err


def test_assign_status_and_discordance_through_a_whole_review(db, trial, capsys):
    auth = ["--db", db.url, "--admin", "admin", "--password-stdin"]
    readers = ["--readers", "reader1", "reader2", "reader3"]
    # One subject first: its pair is the one its place in the trial gives, as in a run over all of them.
    code, out, err = review(capsys, "assign", str(trial), *readers, "--subject", "SITE01-0003", *auth)
    assert code == 0 and "SITE01-0003 -> BICR-" in out and "read by reader3 and reader1" in out, err
    # no trial.json: the engine's defaults, and said so
    assert "response settings of new central reads: SD >= 42 days from baseline, confirmation of CR/PR required " \
        "(defaults: the trial folder states no response_settings)" in out
    code, out, err = review(capsys, "assign", str(trial), *readers, *auth)
    assert code == 0, err
    assert "SITE01-0003: already in central review" in out and "read by reader2 and reader3" in out
    pseudonyms = {s: pseudonym_of(db, s) for s in SUBJECTS}
    assert all(p and p.startswith("BICR-") for p in pseudonyms.values())
    assert f"SITE01-0001 -> {pseudonyms['SITE01-0001']}: 2 timepoints, read by reader1 and reader2" in out
    # the source series are those on disk, found from the headers; assigning again leaves everyone as they are
    case = open_blinded_case(db, pseudonyms["SITE01-0001"], get_user(db, "reader1"))
    assert [tp.study_day for tp in case.timepoints] == [1, 43]
    code, out, _ = review(capsys, "assign", str(trial), "--readers", "reader1", "reader2", *auth)
    assert code == 0 and out.count("left as it is") == 3 and "0 subject(s)" in out and "its reads use" not in out
    # other criteria asked for later: said plainly that the stored reads keep theirs
    code, out, _ = review(capsys, "assign", str(trial), *readers, "--criteria", "iRECIST", *auth)
    assert code == 0 and out.count("left as it is; its reads use RECIST 1.1, not iRECIST") == 3

    code, out, _ = review(capsys, "status", *auth)
    assert code == 0
    assert out.count("0/2 read, 0/2 signed") == 6 and out.count("| reading") == 3

    # subject 1: reader1 sees PR, reader2 PD (discordant); subject 2: both PR (concordant); subject 3 half read
    r1, r2, r3 = (get_user(db, name) for name in ("reader1", "reader2", "reader3"))
    central_read(db, pseudonyms["SITE01-0001"], r1, 20.0, "one")
    central_read(db, pseudonyms["SITE01-0001"], r2, 70.0, "two")
    central_read(db, pseudonyms["SITE01-0002"], r2, 20.0, "two")
    central_read(db, pseudonyms["SITE01-0002"], r3, 21.0, "three")
    central_read(db, pseudonyms["SITE01-0003"], r3, 20.0, "three")
    code, out, _ = review(capsys, "status", *auth)
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert lines["SITE01-0001"].endswith("awaiting adjudication")
    assert lines["SITE01-0002"].endswith("accepted (concordant)")
    assert "reader3 2/2 read, 2/2 signed | reader1 0/2 read, 0/2 signed | reading" in lines["SITE01-0003"]

    code, out, _ = review(capsys, "discordance", *auth)
    assert code == 0
    assert "reader1 + reader2: 1/1 discordant (100 %)" in out and "reader2 + reader3: 0/1 discordant (0 %)" in out
    code, out, _ = review(capsys, "discordance", *auth, "--format", "json")
    rates = {tuple(r["readers"]): r for r in json.loads(out)}
    assert rates[("reader1", "reader2")]["rate"] == 1.0 and rates[("reader2", "reader3")]["discordant"] == 0

    chosen = open_blinded_case(db, pseudonyms["SITE01-0001"], r2).own_read.read.read_id
    adjudicate(
        db, pseudonyms["SITE01-0001"], username="adjud", password=PASSWORD, chosen_read_id=chosen, reason="new lesion"
    )
    code, out, _ = review(capsys, "status", *auth, "--format", "json")
    rows = {r["subject_id"]: r for r in json.loads(out)}
    assert rows["SITE01-0001"]["state"] == "accepted (adjudicated)" and rows["SITE01-0001"]["adjudicator"] == "adjud"
    assert rows["SITE01-0003"]["readers"][0] == {"reader": "reader3", "read": 2, "signed": 2, "timepoints": 2}


def test_two_assignments_at_once_each_finish_and_leave_the_other_ones_subjects(db, trial, capsys, monkeypatch):
    """The concurrency tester's finding: of two `recist review assign` runs at once, the one that found a subject just
    put in by the other stopped there with exit 2 ("already in central review"; on PostgreSQL a raw key error),
    leaving the subjects after it unprocessed. It now says so, leaves that subject, and goes on."""
    import workstation.cli.review as review_cli

    auth = ["--db", db.url, "--admin", "admin", "--password-stdin"]
    readers = ["--readers", "reader1", "reader2"]
    code, _, err = review(capsys, "assign", str(trial), *readers, "--subject", "SITE01-0002", *auth)
    assert code == 0, err
    real = review_cli.pseudonym_of
    raced: set[str] = set()

    def not_yet(database, subject_id):  # the other run enrols SITE01-0002 between our check and our enrolment
        if subject_id == "SITE01-0002" and subject_id not in raced:
            raced.add(subject_id)
            return None
        return real(database, subject_id)

    monkeypatch.setattr(review_cli, "pseudonym_of", not_yet)
    code, out, err = review(capsys, "assign", str(trial), *readers, *auth)
    assert code == 0, err
    assert f"SITE01-0002: already in central review as {real(db, 'SITE01-0002')} (put in by another assignment " \
        "just now; left as it is)" in out
    assert "SITE01-0003 -> BICR-" in out and "2 subject(s) put into central review" in out


def test_central_reads_take_the_protocols_response_settings_from_trial_json(db, trial, tmp_path, capsys):
    auth = ["--db", db.url, "--admin", "admin", "--password-stdin"]
    index = {
        "subjects": [
            {
                "subject_id": subject,
                "timepoints": [
                    {"label": f"tp{t}", "date": f"{when[:4]}-{when[4:6]}-{when[6:]}", "folder": f"{subject}/tp{t}"}
                    for t, when in enumerate(DATES)
                ],
            }
            for subject in SUBJECTS[:2]
        ],
        "response_settings": {"sd_min_days": 35, "confirmation_required": False},
    }
    (tmp_path / "trial.json").write_text(json.dumps(index))
    for subject in SUBJECTS[:2]:
        (tmp_path / subject).symlink_to(trial / subject, target_is_directory=True)
    code, out, err = review(
        capsys, "assign", str(tmp_path), "--readers", "reader1", "reader2", "--subject", SUBJECTS[0], *auth
    )
    assert code == 0, err
    assert "response settings of new central reads: SD >= 35 days from baseline, confirmation of CR/PR not " \
        "required (trial.json)" in out
    pseudonym = pseudonym_of(db, SUBJECTS[0])
    for name in ("reader1", "reader2"):
        read = open_blinded_case(db, pseudonym, get_user(db, name)).own_read.read
        assert (read.sd_min_days, read.confirmation_required) == (35, False)
    # the protocol's settings changed afterwards: the enrolled subject's reads are left as they are, and named
    index["response_settings"] = {"sd_min_days": 28, "confirmation_required": False}
    (tmp_path / "trial.json").write_text(json.dumps(index))
    code, out, _ = review(capsys, "assign", str(tmp_path), "--readers", "reader1", "reader2", *auth)
    assert code == 0 and "SD >= 28 days" in out
    assert f"{SUBJECTS[0]}: already in central review as {pseudonym} (left as it is; its reads use other response " \
        "settings: SD >= 35 days, confirmation not required)" in out
    read = open_blinded_case(db, pseudonym, get_user(db, "reader1")).own_read.read
    assert read.sd_min_days == 35
    new = open_blinded_case(db, pseudonym_of(db, SUBJECTS[1]), get_user(db, "reader2")).own_read.read
    assert new.sd_min_days == 28


def test_user_errors_are_one_line(db, trial, tmp_path, capsys):
    auth = ["--db", db.url, "--admin", "admin", "--password-stdin"]
    code, _, err = review(capsys, "assign", str(trial), "--readers", "reader1", *auth)
    assert code == 2 and "at least two readers" in err and "Traceback" not in err
    code, _, err = review(capsys, "assign", str(trial), "--readers", "reader1", "site1", *auth)
    assert code == 2 and "site1 is not an active central reader" in err
    assert pseudonym_of(db, SUBJECTS[0]) is None  # nothing half-enrolled
    code, _, err = review(capsys, "assign", str(tmp_path / "nowhere"), "--readers", "reader1", "reader2", *auth)
    assert code == 2 and "nowhere" in err
    code, _, err = review(capsys, "assign", str(trial), "--readers", "reader1", "reader2", "--subject", "X9", *auth)
    assert code == 2 and "no subject X9" in err
    code, _, err = review(capsys, "status", "--db", db.url, "--admin", "reader1", "--password-stdin")
    assert code == 2 and "reader1 is a central reader; this needs a data manager or an administrator" in err
    code, _, err = review(
        capsys, "assign", str(trial), "--readers", "reader1", "reader2", "--criteria", "RECIST2", *auth
    )
    assert code == 2 and "unknown criteria 'RECIST2'" in err and pseudonym_of(db, SUBJECTS[0]) is None
    # The trial's data manager follows the review (--user; --admin is the older name); assigning is an administrator's.
    manager = ["--db", db.url, "--user", "datamgr", "--password-stdin"]
    code, _, err = review(capsys, "assign", str(trial), "--readers", "reader1", "reader2", *manager)
    assert code == 2 and "datamgr is a data manager; this needs an administrator" in err
    code, _, err = review(capsys, "assign", str(trial), "--readers", "reader1", "reader2", "--user", "reader1",
                          "--db", db.url, "--password-stdin")  # fmt: skip
    assert code == 2 and "reader1 is a central reader; this needs an administrator" in err
    denials = [e for e in audit_log.entries(db) if e.action == "access-denied"]
    assert [(e.username, e.reason) for e in denials[-2:]] == [
        ("datamgr", "recist review assign: not allowed for a data manager"),
        ("reader1", "recist review assign: not allowed for a central reader"),
    ]
    code, _, err = review(capsys, "assign", str(trial), "--readers", "reader1", "reader2", *auth)
    assert code == 0 and pseudonym_of(db, SUBJECTS[0]) is not None, err
    # Every subject is enrolled now; a reader who is not a central reader is still named, not passed over.
    code, _, err = review(capsys, "assign", str(trial), "--readers", "reader1", "adjud", *auth)
    assert code == 2 and "adjud is not an active central reader" in err
    for action in ("status", "discordance"):
        code, out, err = review(capsys, action, *manager)
        assert code == 0, err
    code, out, _ = review(capsys, "status", *manager)
    assert SUBJECTS[0] in out
    code, _, err = review(capsys, "status", *auth, password="wrong")
    assert code == 2 and "password" in err.lower()
    code, _, err = review(capsys, "status", "--db", str(tmp_path / "missing.db"), "--admin", "admin")
    assert code == 2 and "missing.db" in err and len(err.strip().splitlines()) == 1


def test_help_says_who_may_run_each_action(capsys):
    """assign creates the readers' reads: only an administrator may (the command refuses a data manager)."""
    for action, who in (("assign", "the administrator doing this"), ("status", "the data manager or administrator")):
        with pytest.raises(SystemExit):
            main(["review", action, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert who in text, action
        if action == "assign":
            assert "data manager" not in text


def test_a_deactivated_reader_is_shown_and_replaced_while_the_subject_is_read(db, trial, capsys):
    """A central-review manager's finding: a reader deactivated mid-review held the subject in "reading" for good:
    `review status` did not say so and `assign` left the subject as it was; there was no way to replace them."""
    from workstation.review.service import review_state
    from workstation.users import set_active

    auth = ["--db", db.url, "--user", "admin", "--password-stdin"]
    code, _, err = review(capsys, "assign", str(trial), "--readers", "reader1", "reader2", "--subject", SUBJECTS[0],
                          *auth)  # fmt: skip
    assert code == 0, err
    pseudonym = pseudonym_of(db, SUBJECTS[0])
    people = {name: get_user(db, name) for name in ("reader1", "reader2", "reader3", "admin")}
    central_read(db, pseudonym, people["reader1"], 20.0, "")
    set_active(db, "reader2", active=False, admin=people["admin"], reason="left the trial")
    code, out, _ = review(capsys, "status", *auth)
    assert "reader2 0/2 read, 0/2 signed (inactive: see replace-reader)" in out

    code, _, err = review(capsys, "replace-reader", SUBJECTS[0], "--old", "reader2", "--new", "reader1",
                          "--reason", "x", *auth)  # fmt: skip
    assert code != 0 and "reader1 already reads" in err
    code, out, err = review(capsys, "replace-reader", pseudonym, "--old", "reader2", "--new", "reader3",
                            "--reason", "reader2 left the trial", *auth)  # fmt: skip
    assert code == 0 and f"{pseudonym}: reader3 reads it in place of reader2" in out, err
    case = open_blinded_case(db, pseudonym, people["reader3"])  # reader3's worklist has it, with an empty read
    assert not any(tp.assessments for tp in case.own_read.read.timepoints)
    entry = [e for e in audit_log.entries(db, [SUBJECTS[0]]) if e.entity.endswith("/reader_2")][-1]
    assert (entry.action, entry.reason) == ("enrol", "reader2 left the trial")
    assert json.loads(entry.old_value)["reader"] == "reader2" and json.loads(entry.new_value)["reader"] == "reader3"
    central_read(db, pseudonym, people["reader3"], 20.0, "")
    assert review_state(db, pseudonym).value == "accepted (concordant)"
    set_active(db, "reader3", active=False, admin=people["admin"], reason="left too")
    code, out, _ = review(capsys, "status", *auth)  # decided: no reader to replace, none pointed to
    assert "inactive" not in out
    code, _, err = review(capsys, "replace-reader", pseudonym, "--old", "reader3", "--new", "reader2",
                          "--reason", "again", *auth)  # fmt: skip
    assert code != 0 and "both reads are signed" in err


def test_reopen_lets_a_reader_change_a_submitted_read(db, trial, capsys):
    """A submitted central read (every timepoint signed) is changed by its reader only after the administrator
    reopens it; never once adjudicated."""
    from workstation.review.service import review_state

    auth = ["--db", db.url, "--user", "admin", "--password-stdin"]
    code, _, err = review(capsys, "assign", str(trial), "--readers", "reader1", "reader2", "--subject", SUBJECTS[1],
                          *auth)  # fmt: skip
    assert code == 0, err
    pseudonym = pseudonym_of(db, SUBJECTS[1])
    people = {name: get_user(db, name) for name in ("reader1", "reader2")}
    central_read(db, pseudonym, people["reader1"], 20.0, "")
    central_read(db, pseudonym, people["reader2"], 20.0, "")
    assert review_state(db, pseudonym).value == "accepted (concordant)"
    code, out, err = review(capsys, "reopen", SUBJECTS[1], "--reader", "reader2", "--reason", "query on T1", *auth)
    assert code == 0 and f"{SUBJECTS[1]}: reader2's read reopened (Follow-up 1 unsigned)" in out, err
    assert review_state(db, pseudonym).value == "reading"
    code, _, err = review(capsys, "reopen", pseudonym, "--reader", "reader2", "--reason", "again", *auth)
    assert code != 0 and "reader2's read of" in err and "is not complete" in err
    code, _, err = review(capsys, "reopen", pseudonym, "--reader", "reader3", "--reason", "x", *auth)
    assert code != 0 and "reader3 is not a reader of" in err
    entries = [e for e in audit_log.entries(db, [pseudonym]) if e.entity.endswith("/signature")]
    assert entries[-1].action == "amend" and entries[-1].username == "admin"
    assert entries[-1].reason == "signature withdrawn: the read reopened for its reader (query on T1)"
    from workstation.storage.consistency import check_reads

    assert audit_log.verify(db).ok and check_reads(db).ok  # the stored reads are what the trail says
    # the re-check: pointing a review at another read by hand changes the accepted read; verify said all matched
    from sqlalchemy import text

    with db.transaction() as conn:
        conn.execute(text("UPDATE review_subjects SET read_2_id = read_1_id WHERE pseudonym = :p"), {"p": pseudonym})
    check = check_reads(db)
    assert not check.ok and f"subject {SUBJECTS[1]}, review/{pseudonym}: differs from the audit trail (read_2_id: " \
        in check.message()
