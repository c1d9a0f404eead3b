"""Subjects locked for analysis: the trial data manager's database lock before the primary analysis.

A locked subject's data no longer change: no read of it is saved (created, changed, amended), signed or deleted, and
it is neither enrolled nor adjudicated in central review, until a data manager or administrator unlocks it. Reading
and exporting it stay allowed. The refusal (`SubjectLocked`, a `ReadClosed`: no retry saves the edit) is raised by
`refuse_if_locked` inside the transaction that would change something, so nothing slips in between the check and the
commit: on PostgreSQL that transaction holds a shared advisory lock on the subject and locking takes it exclusively
(a save in flight commits before the lock; one that starts later sees it); SQLite writers are serialised already
(BEGIN IMMEDIATE). Lock and unlock need a reason and are audited (``lock`` / ``unlock``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from sqlalchemy import Connection, delete, insert, select, text

from workstation import users as users_mod
from workstation.audit import AuditAction, utc_now
from workstation.storage import audit_log
from workstation.storage.database import Database
from workstation.storage.repository import ReadClosed
from workstation.storage.schema import reads, review_subjects, subject_locks

#: Who may lock and unlock subjects.
LOCKING_ROLES = (users_mod.UserRole.DATA_MANAGER, users_mod.UserRole.ADMINISTRATOR)


class LockError(Exception):
    """A lock or unlock the rules refuse (no reason, a subject the database does not hold); the message says which."""


class SubjectLocked(ReadClosed):
    """A change to a subject locked for analysis: refused until a data manager unlocks the subject."""


@dataclass(frozen=True)
class SubjectLock:
    subject_id: str  # the real subject id, never a central-review pseudonym
    locked_by: str
    locked_at: str  # UTC, ISO 8601 with "Z"
    reason: str

    @property
    def when(self) -> str:
        """The time to the minute, as messages give it: ``2026-11-27T14:30Z``."""
        return f"{self.locked_at[:16]}Z"

    def refusal(self, pseudonym: str | None = None) -> str:
        """Why a change is refused. ``pseudonym``: the subject as a blinded reader knows it; their message gives
        neither the time nor the reason (either may say more of the subject than the pseudonym does)."""
        if pseudonym is not None:
            return f"subject {pseudonym} is locked for analysis (by {self.locked_by}); ask a data manager to unlock it"
        return (
            f"subject {self.subject_id} is locked for analysis (by {self.locked_by} at {self.when}: {self.reason!r}); "
            "ask a data manager to unlock it"
        )

    def notice(self, blinded: bool = False) -> str:
        """What the reading window says: ``locked for analysis by dm1 on 2026-11-27: read only`` (no date blinded)."""
        on = "" if blinded else f" on {self.locked_at[:10]}"
        return f"locked for analysis by {self.locked_by}{on}: read only"


@dataclass(frozen=True)
class LockOutcome:
    """What `lock_subjects` / `unlock_subjects` did: ``changed`` the locks made (or lifted); the subjects left as they
    were, ``already_locked`` (locking) with their lock, ``not_locked`` (unlocking)."""

    changed: list[SubjectLock] = field(default_factory=list)
    already_locked: list[SubjectLock] = field(default_factory=list)
    not_locked: list[str] = field(default_factory=list)


def _lock(row: object) -> SubjectLock:
    return SubjectLock(**row._mapping)  # type: ignore[attr-defined]


def subject_lock(conn_or_db: Connection | Database, subject_id: str) -> SubjectLock | None:
    """The lock of a subject (its real id), None when it is not locked."""
    query = select(subject_locks).where(subject_locks.c.subject_id == subject_id)
    if isinstance(conn_or_db, Database):
        with conn_or_db.reading() as conn:
            row = conn.execute(query).first()
    else:
        row = conn_or_db.execute(query).first()
    return None if row is None else _lock(row)


def list_locks(db: Database) -> list[SubjectLock]:
    """Every locked subject, by subject id."""
    with db.reading() as conn:
        return [_lock(r) for r in conn.execute(select(subject_locks).order_by(subject_locks.c.subject_id))]


def _real_subject(conn: Connection, subject_id: str) -> tuple[str, str | None]:
    """(the real subject id, the pseudonym it was given as or None): a central read's subject is its pseudonym."""
    q = select(review_subjects.c.subject_id).where(review_subjects.c.pseudonym == subject_id)
    found = conn.execute(q).scalar()
    return (subject_id, None) if found is None else (str(found), subject_id)


def _hold(conn: Connection, subject_id: str, *, exclusive: bool) -> None:
    """PostgreSQL: an advisory lock on the subject until the transaction ends, shared for a change, exclusive for
    locking or unlocking. (SQLite: the write transaction already holds the database's lock.)"""
    if conn.dialect.name != "postgresql":
        return
    key = int.from_bytes(hashlib.sha256(f"subject-lock/{subject_id}".encode()).digest()[:8], "big", signed=True)
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    conn.execute(text(f"SELECT {function}(:key)"), {"key": key})


def refuse_if_locked(conn: Connection, subject_id: str) -> None:
    """`SubjectLocked` if the subject is locked for analysis; called inside the transaction that would change it.
    ``subject_id``: a read's subject (a central read's is its pseudonym: the message then names only that)."""
    real, pseudonym = _real_subject(conn, subject_id)
    _hold(conn, real, exclusive=False)
    lock = subject_lock(conn, real)
    if lock is not None:
        raise SubjectLocked(lock.refusal(pseudonym))


def lock_notice(db: Database, subject_id: str) -> str | None:
    """What the reading window shows of a locked subject (a site subject id or a central read's pseudonym), None when
    it is not locked."""
    with db.reading() as conn:
        real, pseudonym = _real_subject(conn, subject_id)
        lock = subject_lock(conn, real)
    return None if lock is None else lock.notice(blinded=pseudonym is not None)


def _checked(db: Database, subject_ids: Sequence[str], user: users_mod.User, reason: str, verb: str) -> list[str]:
    """The subjects asked for (each once, sorted: advisory locks are taken in one order), once the role and the
    reason are checked; a refused role is audited."""
    wanted = sorted({s.strip() for s in subject_ids if s.strip()})
    what = f"{verb} subject{'s' if len(wanted) > 1 else ''} {', '.join(wanted)} for analysis"
    with users_mod.refusals_audited(db, user, what):
        users_mod.require_role(user, *LOCKING_ROLES)
    if not wanted:
        raise LockError(f"name the subjects to {verb}")
    if not reason.strip():
        raise LockError(f"{verb}ing a subject for analysis needs a reason (it is kept in the audit trail)")
    return wanted


def _refuse_pseudonym(conn: Connection, subject_id: str, verb: str) -> None:
    real, pseudonym = _real_subject(conn, subject_id)
    if pseudonym is not None:
        raise LockError(f"{pseudonym} is a central-review pseudonym: {verb} subject {real}, which it stands for")


def _held(conn: Connection, subject_id: str) -> bool:
    """Whether the database holds the subject: a read of it, or its place in central review."""
    read = conn.execute(select(reads.c.read_id).where(reads.c.subject_id == subject_id).limit(1)).first()
    review = conn.execute(select(review_subjects.c.pseudonym).where(review_subjects.c.subject_id == subject_id)).first()
    return read is not None or review is not None


def lock_subjects(db: Database, subject_ids: Sequence[str], *, user: users_mod.User, reason: str) -> LockOutcome:
    """Lock subjects for analysis (a data manager or an administrator, with a reason), in one transaction: a subject
    the database does not hold (no read, not in central review) locks none, naming it. A subject already locked is
    left as it is (``already_locked``)."""
    wanted = _checked(db, subject_ids, user, reason, "lock")
    out = LockOutcome()
    with db.transaction() as conn:
        for subject_id in wanted:
            _refuse_pseudonym(conn, subject_id, "lock")
            if not _held(conn, subject_id):
                raise LockError(
                    f"no subject {subject_id} in {db.where}: it has no read and is not in central review; nothing "
                    "was locked"
                )
        now = utc_now()
        for subject_id in wanted:
            _hold(conn, subject_id, exclusive=True)
            existing = subject_lock(conn, subject_id)
            if existing is not None:
                out.already_locked.append(existing)
                continue
            lock = SubjectLock(subject_id, user.username, now, reason.strip())
            conn.execute(insert(subject_locks).values(**asdict(lock)))
            audit_log.append(
                conn,
                username=user.username,
                action=AuditAction.LOCK,
                entity=f"subject/{subject_id}/lock",
                subject_id=subject_id,
                new={"locked_by": lock.locked_by, "locked_at": lock.locked_at},
                reason=lock.reason,
                recorded_at=now,
            )
            out.changed.append(lock)
    return out


def unlock_subjects(db: Database, subject_ids: Sequence[str], *, user: users_mod.User, reason: str) -> LockOutcome:
    """Unlock subjects (a data manager or an administrator, with a reason), in one transaction; the lock lifted is
    the audit entry's old value. A subject that is not locked is left as it is (``not_locked``)."""
    wanted = _checked(db, subject_ids, user, reason, "unlock")
    out = LockOutcome()
    with db.transaction() as conn:
        for subject_id in wanted:
            _refuse_pseudonym(conn, subject_id, "unlock")
        now = utc_now()
        for subject_id in wanted:
            _hold(conn, subject_id, exclusive=True)
            existing = subject_lock(conn, subject_id)
            if existing is None:
                out.not_locked.append(subject_id)
                continue
            conn.execute(delete(subject_locks).where(subject_locks.c.subject_id == subject_id))
            audit_log.append(
                conn,
                username=user.username,
                action=AuditAction.UNLOCK,
                entity=f"subject/{subject_id}/lock",
                subject_id=subject_id,
                old=asdict(existing),
                reason=reason.strip(),
                recorded_at=now,
            )
            out.changed.append(existing)
    return out
