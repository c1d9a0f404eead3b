"""Killing the workstation (SIGKILL) in the middle of a save loses no committed measurement and leaves no half-read."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.services import postgres_server as pg
from tests.services.postgres_server import make_read, make_users
from workstation.storage import audit_log, open_database
from workstation.storage.repository import load_read, save_read

# The shared service-test fixtures (pytest finds them by name in this module).
db_url, postgres_server, fast_password_hashing = pg.db_url, pg.postgres_server, pg.fast_password_hashing

REPO = Path(__file__).resolve().parents[2]

#: The child saves the read over and over (every measurement set to one value per save) and, from its fourth save on,
#: stops inside the transaction right after writing a measurement row, so the kill lands mid-save.
CHILD = textwrap.dedent(
    """
    import sys, time
    from sqlalchemy import event
    from workstation.storage import open_database
    from workstation.storage.repository import load_read, save_read
    from workstation.users import get_user

    url, read_id = sys.argv[1], sys.argv[2]
    db = open_database(url)
    user = get_user(db, "site1")
    stored = load_read(db, read_id)
    read, version, armed = stored.read, stored.version, False

    @event.listens_for(db.engine, "after_cursor_execute")
    def pause_mid_save(conn, cursor, statement, params, context, executemany):
        if armed and statement.lstrip().upper().startswith("INSERT INTO MEASUREMENTS"):
            print("mid-save", flush=True)
            time.sleep(120)

    for value in range(61, 200):
        for tp in read.timepoints:
            for assessment in tp.assessments.values():
                for m in assessment.measurements:
                    m.long_axis_mm = float(value)
        version = save_read(db, read, user=user, expected_version=version)
        print(f"committed {version} {value}", flush=True)
        armed = version >= 4
    """
)


@pytest.mark.timeout(120)
def test_sigkill_during_a_save_loses_no_committed_measurement(db_url: str) -> None:
    db = open_database(db_url)
    people = make_users(db)
    read = make_read()
    save_read(db, read, user=people["site1"], expected_version=None)
    db.close()

    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, db_url, read.read_id],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    last_version, last_value = 1, None
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith("committed"):
            _, version, value = line.split()
            last_version, last_value = int(version), float(value)
        elif line.strip() == "mid-save":
            os.kill(child.pid, signal.SIGKILL)
            break
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL, child.stderr.read() if child.stderr else ""
    assert last_version == 4

    db = open_database(db_url)
    try:
        stored = load_read(db, read.read_id)
        assert stored.version == last_version
        values = {
            m.long_axis_mm for tp in stored.read.timepoints for a in tp.assessments.values() for m in a.measurements
        }
        assert values == {last_value}  # every measurement of the last committed save, none of the killed one
        assert stored.read.lesions == read.lesions
        assert audit_log.verify(db).ok
        # ...and the database still takes saves.
        stored.read.timepoints[1].assessments["NT1"].comment = "after the crash"
        assert save_read(db, stored.read, user=people["site1"], expected_version=last_version) == last_version + 1
    finally:
        db.close()
