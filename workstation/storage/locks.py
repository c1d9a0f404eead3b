"""Subjects locked for analysis: the trial data manager's database lock before the primary analysis.

A locked subject's data no longer change: no read of it is saved (created, changed, amended), signed or deleted, and
it is neither enrolled nor adjudicated in central review, until a data manager or administrator unlocks it. Reading
and exporting it stay allowed. The refusal (`SubjectLocked`, a `ReadClosed`: no retry saves the edit) is raised by
`refuse_if_locked` inside the transaction that would change something, so nothing slips in between the check and the
commit: on PostgreSQL that transaction holds a shared advisory lock on the subject and locking takes it exclusively
(a save in flight commits before the lock; one that starts later sees it); SQLite writers are serialised already
(BEGIN IMMEDIATE). Lock and unlock need a reason and are audited (``lock`` / ``unlock``).

Only final data are locked: a subject with a read that has unsigned timepoints, or whose central review is still being
read, awaits adjudication or cannot be decided, is refused naming what is open (`IncompleteSubjects`), unless the
caller allows it (``allow_incomplete``: the audit entry then keeps what was open). A change refused because its subject
is locked is audited as ``access-denied`` under the subject (`lock_refusals_audited`), after its transaction rolled
back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from workstation import users as users_mod
from workstation.audit import AuditAction, utc_now
from workstation.storage import audit_log
from workstation.storage.database import Database, transaction_lock
from workstation.storage.repository import ReadClosed, load_read_on
from workstation.storage.schema import adjudications, reads, review_subjects, subject_locks, timepoints

#: Who may lock and unlock subjects.
LOCKING_ROLES = (users_mod.UserRole.DATA_MANAGER, users_mod.UserRole.ADMINISTRATOR)


class LockError(Exception):
    """A lock or unlock the rules refuse (no reason, a subject the database does not hold); the message says which."""


class IncompleteSubjects(LockError):
    """Subjects whose data are not final (``open``: subject id -> what is open, in words): none was locked."""

    def __init__(self, open_data: dict[str, list[str]]) -> None:
        self.open = open_data
        said = "; ".join(f"{subject}: {', '.join(items)}" for subject, items in open_data.items())
        super().__init__(f"not final, so nothing was locked: {said}")


class SubjectLocked(ReadClosed):
    """A change to a subject locked for analysis: refused until a data manager unlocks the subject. ``subject_id``:
    the subject as the audit trail files the refusal (a central read's: its pseudonym)."""

    def __init__(self, message: str, subject_id: str = "") -> None:
        super().__init__(message)
        self.subject_id = subject_id


@dataclass(frozen=True)
class SubjectLock:
    subject_id: str  # the real subject id, never a central-review pseudonym
    locked_by: str
    locked_at: str  # UTC, ISO 8601 with "Z"
    reason: str
    #: what was still open when the subject was locked anyway (``allow_incomplete``), "" when its data were final
    not_final: str = ""

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
    were, ``already_locked`` (locking) with their lock, ``not_locked`` (unlocking); ``incomplete``: the subjects
    locked although their data were not final (``allow_incomplete``), with what was open; ``left_open``: the subjects
    not locked because their data were not final (``final_only``), with what was open."""

    changed: list[SubjectLock] = field(default_factory=list)
    already_locked: list[SubjectLock] = field(default_factory=list)
    not_locked: list[str] = field(default_factory=list)
    incomplete: dict[str, list[str]] = field(default_factory=dict)
    left_open: dict[str, list[str]] = field(default_factory=dict)


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
    transaction_lock(conn, f"subject-lock/{subject_id}", shared=not exclusive)


def refuse_if_locked(conn: Connection, subject_id: str) -> None:
    """`SubjectLocked` if the subject is locked for analysis; called inside the transaction that would change it.
    ``subject_id``: a read's subject (a central read's is its pseudonym: the message then names only that)."""
    real, pseudonym = _real_subject(conn, subject_id)
    _hold(conn, real, exclusive=False)
    lock = subject_lock(conn, real)
    if lock is not None:
        raise SubjectLocked(lock.refusal(pseudonym), subject_id=pseudonym or real)


@contextlib.contextmanager
def lock_refusals_audited(db: Database, user: users_mod.User, what: str) -> Iterator[None]:
    """Around the transaction of a change (outside it): a `SubjectLocked` raised inside is recorded as
    ``access-denied`` under its subject (`users.record_denial`: ``what`` and the refusal) once the transaction has
    rolled back, in a transaction of its own, then raised on."""
    try:
        yield
    except SubjectLocked as exc:
        users_mod.record_denial(db, user, what, str(exc), subject_id=exc.subject_id)
        raise


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
    try:
        users_mod.require_role(user, *LOCKING_ROLES)
    except users_mod.PermissionDenied as exc:  # one entry per subject, filed under it
        for subject_id in wanted or [""]:
            users_mod.record_denial(db, user, what, str(exc), subject_id=subject_id)
        raise
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


def _names(conn: Connection) -> set[str]:
    """Every subject id and central-review pseudonym the database holds."""
    stored = set(conn.execute(select(reads.c.subject_id).distinct()).scalars())
    review = conn.execute(select(review_subjects.c.subject_id, review_subjects.c.pseudonym)).all()
    return stored | {str(r[0]) for r in review} | {str(r[1]) for r in review}


def similar_subject(conn_or_db: Connection | Database, given: str) -> str | None:
    """The subject id (or pseudonym) the database holds that ``given`` matches but for upper and lower case
    (``subj-004`` -> ``SUBJ-004``); None when there is none, or ``given`` itself is held."""
    if isinstance(conn_or_db, Database):
        with conn_or_db.reading() as conn:
            return similar_subject(conn, given)
    wanted = given.strip()
    names = _names(conn_or_db)
    if wanted in names:
        return None
    return next((name for name in sorted(names) if name.casefold() == wanted.casefold()), None)


def _did_you_mean(conn: Connection, given: str) -> str:
    similar = similar_subject(conn, given)
    return "" if similar is None else f"; did you mean {similar}?"


def _timepoints_phrase(labels: list[str]) -> str:
    return f"{len(labels)} unsigned timepoint{'s' if len(labels) > 1 else ''} ({', '.join(labels)})"


def _central_review_open(conn: Connection, review: Any) -> str | None:
    """What keeps a subject's central review from being final, in words; None once it is (accepted: concordant, or
    adjudicated). The response engine decides concordance (`workstation.review.discordance`, pure logic: imported
    here, as the review package builds on this one)."""
    from workstation.review.discordance import EvaluationError, compare

    if conn.execute(select(adjudications.c.pseudonym).where(adjudications.c.pseudonym == review.pseudonym)).first():
        return None
    pair = [(str(review.reader_1), load_read_on(conn, str(review.read_1_id))),
            (str(review.reader_2), load_read_on(conn, str(review.read_2_id)))]  # fmt: skip
    progress = []
    for reader, stored in pair:
        tps = [] if stored is None else stored.read.timepoints
        signed = sum(tp.signed for tp in tps)
        if not tps or signed < len(tps):
            progress.append(f"{reader}: {signed} of {len(tps)} timepoints signed")
    if progress:
        return f"central review still being read ({', '.join(progress)})"
    first, second = (stored.read for _, stored in pair if stored is not None)
    try:
        discordant = compare(first, second).discordant
    except EvaluationError as exc:
        return f"central review undecided ({exc})"
    return "central review awaiting adjudication" if discordant else None


def open_data(conn_or_db: Connection | Database, subject_id: str) -> list[str]:
    """What of a subject (its real id) is not final yet, in words: each read of it with unsigned timepoints
    (``site1's read has 3 unsigned timepoints (week 6, week 12, week 18)``), and a central review still being read,
    awaiting adjudication or that the response engine cannot decide. Empty when every read is signed throughout and
    the central review (if any) has its accepted read."""
    if isinstance(conn_or_db, Database):
        with conn_or_db.reading() as conn:
            return open_data(conn, subject_id)
    conn = conn_or_db
    rows = conn.execute(
        select(reads.c.read_id, reads.c.reader, timepoints.c.label, timepoints.c.signed_by)
        .join(timepoints, timepoints.c.read_id == reads.c.read_id)
        .where(reads.c.subject_id == subject_id)
        .order_by(reads.c.created_at, reads.c.read_id, timepoints.c.position)
    ).all()
    unsigned: dict[str, tuple[str, list[str]]] = {}
    for row in rows:
        _, labels = unsigned.setdefault(str(row.read_id), (str(row.reader), []))
        if row.signed_by is None:
            labels.append(str(row.label))
    out = [f"{reader}'s read has {_timepoints_phrase(labels)}" for reader, labels in unsigned.values() if labels]
    review = conn.execute(select(review_subjects).where(review_subjects.c.subject_id == subject_id)).first()
    if review is not None:
        central = _central_review_open(conn, review)
        if central is not None:
            out.append(central)
    return out


def lock_subjects(
    db: Database,
    subject_ids: Sequence[str],
    *,
    user: users_mod.User,
    reason: str,
    allow_incomplete: bool = False,
    final_only: bool = False,
) -> LockOutcome:
    """Lock subjects for analysis (a data manager or an administrator, with a reason), in one transaction: a subject
    the database does not hold (no read, not in central review) locks none, naming it. A subject already locked is
    left as it is (``already_locked``). A subject whose data are not final (`open_data`) locks none either
    (`IncompleteSubjects`, naming for each what is open), unless ``allow_incomplete``: it is then locked as it is,
    and its audit entry keeps what was open (``not_final``); or ``final_only``: it is left unlocked (``left_open``,
    with what is open) and the final subjects are locked."""
    if allow_incomplete and final_only:
        raise LockError("lock either the final subjects only or every subject as it is, not both")
    wanted = _checked(db, subject_ids, user, reason, "lock")
    out = LockOutcome()
    with db.transaction() as conn:
        for subject_id in wanted:
            _refuse_pseudonym(conn, subject_id, "lock")
            if not _held(conn, subject_id):
                raise LockError(
                    f"no subject {subject_id} in {db.where}: it has no read and is not in central review"
                    f"{_did_you_mean(conn, subject_id)}; nothing was locked"
                )
        to_lock = []
        for subject_id in wanted:
            _hold(conn, subject_id, exclusive=True)  # no signature or save of it commits while this is decided
            existing = subject_lock(conn, subject_id)
            if existing is not None:
                out.already_locked.append(existing)
                continue
            still_open = open_data(conn, subject_id)
            if still_open and final_only:
                out.left_open[subject_id] = still_open
                continue
            to_lock.append(subject_id)
            if still_open:
                out.incomplete[subject_id] = still_open
        if out.incomplete and not allow_incomplete:
            raise IncompleteSubjects(dict(out.incomplete))
        now = utc_now()
        for subject_id in to_lock:
            open_items = "; ".join(out.incomplete.get(subject_id, []))
            lock = SubjectLock(subject_id, user.username, now, reason.strip(), open_items)
            conn.execute(insert(subject_locks).values(**asdict(lock)))
            new: dict[str, Any] = asdict(lock)
            if subject_id in out.incomplete:
                new["not_final"] = out.incomplete[subject_id]
            audit_log.append(
                conn,
                username=user.username,
                action=AuditAction.LOCK,
                entity=f"subject/{subject_id}/lock",
                subject_id=subject_id,
                new=new,
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
        # every subject's lock first (sorted), then the audit entries: an entry takes the audit chain's head, which
        # a reader's save (holding its subject's shared lock) also needs; taking the next subject's lock after an
        # entry deadlocked with such a save on PostgreSQL (the concurrency tester's finding)
        for subject_id in wanted:
            _hold(conn, subject_id, exclusive=True)
        for subject_id in wanted:
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
