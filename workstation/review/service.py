"""Blinded independent central review: enrolment, two readers per subject, discordance, adjudication, accepted read.

Who sees what is enforced here, not in the UI:
- a central reader gets only subjects assigned to them, under a pseudonym, with study days, and only their own read
  (never the site read, never the other reader's);
- the adjudicator sees both central reads of a discordant subject (still blinded), picks one with a reason, re-entering
  the password; that read becomes the accepted one. A concordant subject's accepted read is reader 1's (the primary
  reader), as is usual in BICR charters;
- a subject locked for analysis (`workstation.storage.locks`) is neither enrolled nor adjudicated (`SubjectLocked`,
  audited as access-denied under the subject): it is left out of the adjudication worklist, and opening it for
  adjudication is refused at once, before a reason or password is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlalchemy import Connection, insert, select, update

from recist.model import Criteria
from workstation.audit import AuditAction, utc_now
from workstation.read_model import Read, ResponseSettings
from workstation.review.blinding import (
    BlindedTimepoint,
    blinded_timepoints,
    new_blinded_read,
    new_pseudonym,
    study_day,
    study_days_in_text,
    unblind_read,
)
from workstation.review.discordance import Comparison, EvaluationError, compare
from workstation.storage import Database, audit_log
from workstation.storage.database import transaction_lock
from workstation.storage.locks import (
    SubjectLock,
    SubjectLocked,
    lock_refusals_audited,
    refuse_if_locked,
    subject_lock,
)
from workstation.storage.repository import StoredRead, load_read, reopen_central_read, save_read_on
from workstation.storage.schema import adjudications, reads, review_subjects, review_timepoints, subject_locks
from workstation.users import (
    PermissionDenied,
    User,
    UserRole,
    authenticate,
    get_user,
    holds_password,
    refusals_audited,
    require_role,
)


class ReviewError(Exception):
    """A review step that the rules refuse; the message says why."""


class AlreadyInReview(ReviewError):
    """The subject was put into central review already (by another assignment, perhaps at the same moment)."""


class CaseChanged(ReviewError):
    """The reads an adjudicator looked at changed before the decision (amended, now concordant, a timepoint added):
    nothing was recorded, and the case is to be looked at again."""


class AlreadyAdjudicated(CaseChanged):
    """Another adjudicator decided the subject first: nothing was recorded; it no longer awaits adjudication."""


class ReviewState(StrEnum):
    READING = "reading"  # at least one central read has an unsigned timepoint
    AWAITING_ADJUDICATION = "awaiting adjudication"
    ACCEPTED_CONCORDANT = "accepted (concordant)"
    ACCEPTED_ADJUDICATED = "accepted (adjudicated)"


@dataclass(frozen=True)
class SourceTimepoint:
    """A timepoint of the subject to be read centrally: its real date and source images (never shown to readers)."""

    date: date
    study_uid: str
    series_uid: str


@dataclass(frozen=True)
class WorklistItem:
    pseudonym: str
    timepoints: int
    signed_timepoints: int


@dataclass(frozen=True)
class BlindedCase:
    """Everything a central reader's screen shows for one subject. The read's measurements hold the UIDs of the
    images they were drawn on (see `blinding`): references for the workstation and the export, never displayed."""

    pseudonym: str
    timepoints: list[BlindedTimepoint]
    own_read: StoredRead


@dataclass(frozen=True)
class AdjudicationCase:
    """Both central reads of a discordant subject, side by side (still blinded)."""

    pseudonym: str
    timepoints: list[BlindedTimepoint]
    read_1: StoredRead
    read_2: StoredRead
    comparison: Comparison


@dataclass(frozen=True)
class PairRate:
    reader_a: str
    reader_b: str
    subjects: int
    discordant: int

    @property
    def rate(self) -> float:
        return self.discordant / self.subjects if self.subjects else 0.0


def _subject(conn: Connection, pseudonym: str) -> dict[str, object]:
    row = conn.execute(select(review_subjects).where(review_subjects.c.pseudonym == pseudonym)).first()
    if row is None:
        raise ReviewError(f"no subject {pseudonym!r} in central review")
    return dict(row._mapping)


def _study_days(conn: Connection, pseudonym: str) -> list[int]:
    q = select(review_timepoints.c.study_day).where(review_timepoints.c.pseudonym == pseudonym)
    return list(conn.execute(q.order_by(review_timepoints.c.position)).scalars())


def pseudonym_of(db: Database, subject_id: str) -> str | None:
    with db.reading() as conn:
        q = select(review_subjects.c.pseudonym).where(review_subjects.c.subject_id == subject_id)
        return conn.execute(q).scalar()


def subject_of(db: Database, pseudonym: str) -> str | None:
    """The real subject id behind a central-review pseudonym (None: no enrolled subject has it). Unblinding: only for
    a signed-in data manager or administrator."""
    with db.reading() as conn:
        q = select(review_subjects.c.subject_id).where(review_subjects.c.pseudonym == pseudonym)
        found = conn.execute(q).scalar()
    return None if found is None else str(found)


def review_criteria_of(db: Database, subject_id: str) -> set[str]:
    """The criteria of an enrolled subject's central reads (one value unless the database was edited by hand)."""
    with db.reading() as conn:
        q = select(reads.c.criteria).join(
            review_subjects,
            (reads.c.read_id == review_subjects.c.read_1_id) | (reads.c.read_id == review_subjects.c.read_2_id),
        )
        return {str(c) for c in conn.execute(q.where(review_subjects.c.subject_id == subject_id)).scalars()}


def review_settings_of(db: Database, subject_id: str) -> set[tuple[int, bool]]:
    """The (sd_min_days, confirmation_required) of an enrolled subject's central reads (one value unless edited)."""
    with db.reading() as conn:
        q = select(reads.c.sd_min_days, reads.c.confirmation_required).join(
            review_subjects,
            (reads.c.read_id == review_subjects.c.read_1_id) | (reads.c.read_id == review_subjects.c.read_2_id),
        )
        rows = conn.execute(q.where(review_subjects.c.subject_id == subject_id)).all()
        return {(int(r[0]), bool(r[1])) for r in rows}


def check_central_readers(db: Database, readers: Sequence[str]) -> None:
    """Each name is an active central reader's (`ReviewError` naming the first that is not)."""
    for name in readers:
        user = get_user(db, name)
        if user is None:
            raise ReviewError(f"no user {name!r}")
        if user.role is not UserRole.CENTRAL_READER or not user.active:
            raise ReviewError(f"{name} is not an active central reader")


def enrol_subject(
    db: Database,
    subject_id: str,
    timepoints: list[SourceTimepoint],
    *,
    readers: tuple[str, str],
    admin: User,
    criteria: str = "RECIST 1.1",
    settings: ResponseSettings | None = None,
) -> str:
    """Put a subject into central review with two distinct central readers; returns its pseudonym.

    One transaction: the pseudonym, the blinded calendar and both readers' empty reads, or nothing. The reads take
    the protocol's response ``settings`` (the engine's defaults when None); they are kept on the reads themselves.
    A subject locked for analysis is refused (`SubjectLocked`).
    """
    settings = settings or ResponseSettings()
    with refusals_audited(db, admin, f"enrol subject {subject_id} in central review"):
        require_role(admin, UserRole.ADMINISTRATOR)
    if criteria not in {c.value for c in Criteria}:
        raise ReviewError(f"subject {subject_id}: unknown criteria {criteria!r} (RECIST 1.1 or iRECIST)")
    if len(set(readers)) != 2:
        raise ReviewError("central review needs two different readers")
    check_central_readers(db, readers)
    if not timepoints:
        raise ReviewError(f"subject {subject_id} has no timepoints to read")
    ordered = sorted(timepoints, key=lambda t: t.date)
    baseline = ordered[0].date
    days = [study_day(baseline, t.date) for t in ordered]
    pseudonym = new_pseudonym()
    now = utc_now()
    what = f"enrol subject {subject_id} in central review"
    with lock_refusals_audited(db, admin, what), db.transaction() as conn:
        transaction_lock(conn, f"enrol/{subject_id}")  # two assignments at once take turns
        if conn.execute(select(review_subjects.c.pseudonym).where(review_subjects.c.subject_id == subject_id)).first():
            raise AlreadyInReview(f"subject {subject_id} is already in central review")
        refuse_if_locked(conn, subject_id)
        read_ids = []
        for name in readers:
            read = new_blinded_read(pseudonym, name, days, criteria, settings)
            save_read_on(conn, db.where, read, user=admin, expected_version=None)
            read_ids.append(read.read_id)
        conn.execute(
            insert(review_subjects).values(
                pseudonym=pseudonym,
                subject_id=subject_id,
                baseline_date=baseline,
                reader_1=readers[0],
                reader_2=readers[1],
                read_1_id=read_ids[0],
                read_2_id=read_ids[1],
                enrolled_by=admin.username,
                enrolled_at=now,
            )
        )
        conn.execute(
            insert(review_timepoints),
            [
                {
                    "pseudonym": pseudonym,
                    "position": i,
                    "study_day": d,
                    "study_uid": t.study_uid,
                    "series_uid": t.series_uid,
                }
                for i, (d, t) in enumerate(zip(days, ordered, strict=True))
            ],
        )
        audit_log.append(
            conn,
            username=admin.username,
            action=AuditAction.ENROL,
            entity=f"review/{pseudonym}",
            subject_id=subject_id,
            new={
                "pseudonym": pseudonym,
                "readers": list(readers),
                "read_ids": read_ids,
                "study_days": days,
                "response_settings": {
                    "sd_min_days": settings.sd_min_days,
                    "confirmation_required": settings.confirmation_required,
                    "from": "trial.json" if settings.stated else "defaults",
                },
            },
            recorded_at=now,
        )
    return pseudonym


def _readers_slot(db: Database, pseudonym: str, reader: str, admin: User, act: str, doing: str,
                  reason: str) -> tuple[_Status, int]:
    """For an administrator's change to a reader's place (``act`` ``pseudonym``, audited when refused): the review's
    status and ``reader``'s slot (1 or 2); a reason is required (it goes into the audit trail)."""
    with refusals_audited(db, admin, f"{act} {pseudonym}"):
        require_role(admin, UserRole.ADMINISTRATOR)
    if not reason.strip():
        raise ReviewError(f"{doing} needs a reason (it is kept in the audit trail)")
    st = _status(db, pseudonym)
    slots = [slot for slot in (1, 2) if st.subject[f"reader_{slot}"] == reader]
    if not slots:
        raise ReviewError(f"{reader} is not a reader of {pseudonym} (its readers: {st.subject['reader_1']}, "
                          f"{st.subject['reader_2']})")
    return st, slots[0]


def replace_reader(db: Database, pseudonym: str, old: str, new: str, *, admin: User, reason: str) -> str:
    """Give ``old``'s place in a subject's central review to ``new`` (a reader who left, or was deactivated, held the
    subject in "reading" for good). ``new`` starts an empty blinded read; ``old``'s read stays stored, out of the
    review, with its audit trail. Refused once both reads are signed (the review is decided: an adjudication or an
    accepted read rests on them), for a subject locked for analysis, without a reason. Returns the new read's id."""
    st, slot = _readers_slot(db, pseudonym, old, admin, "replace a central reader of", "replacing a reader", reason)
    if new in (st.subject["reader_1"], st.subject["reader_2"]):
        raise ReviewError(f"{new} already reads {pseudonym}: central review needs two different readers")
    if st.both_complete:
        raise ReviewError(f"{pseudonym}: both reads are signed and the review is {_state_of(st)}; a reader is replaced "
                          "only while the subject is being read")
    check_central_readers(db, [new])
    previous = st.read_1 if slot == 1 else st.read_2
    settings = ResponseSettings(previous.read.sd_min_days, previous.read.confirmation_required, stated=True)
    read = new_blinded_read(pseudonym, new, st.days, previous.read.criteria, settings)
    subject_id = str(st.subject["subject_id"])
    what = f"replace a central reader of {subject_id}"
    with lock_refusals_audited(db, admin, what), db.transaction() as conn:
        refuse_if_locked(conn, subject_id)
        current = _subject(conn, pseudonym)
        if current[f"reader_{slot}"] != old or current[f"read_{slot}_id"] != previous.read.read_id:
            raise CaseChanged(f"{pseudonym}: its readers changed meanwhile; nothing was recorded")
        save_read_on(conn, db.where, read, user=admin, expected_version=None)
        conn.execute(
            update(review_subjects)
            .where(review_subjects.c.pseudonym == pseudonym)
            .values({f"reader_{slot}": new, f"read_{slot}_id": read.read_id})
        )
        audit_log.append(
            conn,
            username=admin.username,
            action=AuditAction.ENROL,
            entity=f"review/{pseudonym}/reader_{slot}",
            subject_id=subject_id,
            old={"reader": old, "read_id": previous.read.read_id},
            new={"reader": new, "read_id": read.read_id},
            reason=reason.strip(),
            recorded_at=utc_now(),
        )
    return read.read_id


def reopen_read(db: Database, pseudonym: str, reader: str, *, admin: User, reason: str) -> str:
    """Reopen ``reader``'s submitted read of a subject (every timepoint signed: its reader can no longer change it) by
    withdrawing the signature of its last timepoint; the reader changes what they must and signs again. Refused once
    the review is adjudicated (the decision rests on the reads), for a subject locked for analysis, without a reason.
    The review's state goes back to reading (audited). Returns the label of the timepoint unsigned."""
    st, slot = _readers_slot(db, pseudonym, reader, admin, "reopen a central read of", "reopening a read", reason)
    if st.adjudication is not None:
        raise ReviewError(f"{pseudonym} is adjudicated: its reads can no longer change (the decision rests on them)")
    before = _state_of(st)
    subject_id = str(st.subject["subject_id"])
    read_id = str(st.subject[f"read_{slot}_id"])
    with lock_refusals_audited(db, admin, f"reopen a central read of {subject_id}"), db.transaction() as conn:
        refuse_if_locked(conn, subject_id)
        label = reopen_central_read(conn, read_id, admin=admin, reason=reason)
        if before is ReviewState.READING:  # the other read not complete yet: no decision undone
            return label
        audit_log.append(
            conn,
            username=admin.username,
            action=AuditAction.REVIEW_STATE,
            entity=f"review/{pseudonym}/state",
            subject_id=pseudonym,
            old={"state": str(before)},
            new={"state": str(ReviewState.READING)},
            reason=f"after {reader}'s read was reopened by {admin.username}: {reason.strip()}",
            recorded_at=utc_now(),
        )
    return label


def _own_slot(subject: dict[str, object], reader: User) -> int:
    require_role(reader, UserRole.CENTRAL_READER)
    for slot in (1, 2):
        if subject[f"reader_{slot}"] == reader.username:
            return slot
    raise PermissionDenied(f"{reader.username} is not assigned to {subject['pseudonym']}")


def worklist(db: Database, reader: User) -> list[WorklistItem]:
    """The subjects assigned to this central reader, by pseudonym only."""
    with refusals_audited(db, reader, "the central-review worklist"):
        require_role(reader, UserRole.CENTRAL_READER)
    items = []
    with db.reading() as conn:
        rows = conn.execute(
            select(review_subjects)
            .where((review_subjects.c.reader_1 == reader.username) | (review_subjects.c.reader_2 == reader.username))
            .order_by(review_subjects.c.pseudonym)
        ).all()
    for row in rows:
        subject = dict(row._mapping)
        read = load_read(db, str(subject[f"read_{_own_slot(subject, reader)}_id"])).read
        items.append(WorklistItem(row.pseudonym, len(read.timepoints), sum(tp.signed for tp in read.timepoints)))
    return items


def open_blinded_case(db: Database, pseudonym: str, reader: User) -> BlindedCase:
    """The reader's own central read of one assigned subject, with the blinded calendar."""
    with db.reading() as conn:
        subject = _subject(conn, pseudonym)
        days = _study_days(conn, pseudonym)
    with refusals_audited(db, reader, f"open the central read of {pseudonym}"):
        slot = _own_slot(subject, reader)
    return BlindedCase(pseudonym, blinded_timepoints(days), load_read(db, str(subject[f"read_{slot}_id"])))


def source_series(db: Database, pseudonym: str, position: int, reader: User) -> tuple[str, str]:
    """(study UID, series UID) of a timepoint's source images, for loading pixels through the imaging layer's
    de-identification. Not for display."""
    with db.reading() as conn:
        subject = _subject(conn, pseudonym)
        row = conn.execute(
            select(review_timepoints.c.study_uid, review_timepoints.c.series_uid).where(
                review_timepoints.c.pseudonym == pseudonym, review_timepoints.c.position == position
            )
        ).first()
    if reader.role is not UserRole.ADJUDICATOR:
        with refusals_audited(db, reader, f"load the images of {pseudonym}"):
            _own_slot(subject, reader)
    if row is None:
        raise ReviewError(f"{pseudonym} has no timepoint {position}")
    return str(row.study_uid), str(row.series_uid)


def _complete(read: Read) -> bool:
    return bool(read.timepoints) and all(tp.signed for tp in read.timepoints)


@dataclass(frozen=True)
class _Status:
    subject: dict[str, object]
    days: list[int]
    read_1: StoredRead
    read_2: StoredRead
    adjudication: dict[str, object] | None

    @property
    def both_complete(self) -> bool:
        return _complete(self.read_1.read) and _complete(self.read_2.read)


def _status(db: Database, pseudonym: str) -> _Status:
    with db.reading() as conn:
        subject = _subject(conn, pseudonym)
        days = _study_days(conn, pseudonym)
        adj = conn.execute(select(adjudications).where(adjudications.c.pseudonym == pseudonym)).first()
    return _Status(
        subject,
        days,
        load_read(db, str(subject["read_1_id"])),
        load_read(db, str(subject["read_2_id"])),
        dict(adj._mapping) if adj else None,
    )


def review_state(db: Database, pseudonym: str) -> ReviewState:
    return _state_of(_status(db, pseudonym))


def _state_of(st: _Status) -> ReviewState:
    if not st.both_complete:
        return ReviewState.READING
    if st.adjudication is not None:
        return ReviewState.ACCEPTED_ADJUDICATED
    if compare(st.read_1.read, st.read_2.read).discordant:
        return ReviewState.AWAITING_ADJUDICATION
    return ReviewState.ACCEPTED_CONCORDANT


def _locked(db: Database, pseudonym: str) -> SubjectLock | None:
    """The lock for analysis of the subject behind ``pseudonym`` (None: not locked)."""
    subject_id = subject_of(db, pseudonym)
    return None if subject_id is None else subject_lock(db, subject_id)


def adjudication_case(db: Database, pseudonym: str, adjudicator: User) -> AdjudicationCase:
    """Both reads of a discordant subject for its adjudicator. A subject locked for analysis is refused here, at
    once (`SubjectLocked`, audited), rather than after the adjudicator has given a reason and the password."""
    with refusals_audited(db, adjudicator, f"adjudicate {pseudonym}"):
        require_role(adjudicator, UserRole.ADJUDICATOR)
        st = _status(db, pseudonym)
        if adjudicator.username in (st.subject["reader_1"], st.subject["reader_2"]):
            raise PermissionDenied(f"{adjudicator.username} read {pseudonym} and cannot adjudicate it")
    lock = _locked(db, pseudonym)
    if lock is not None:  # the adjudicator is blinded: the refusal names the pseudonym only
        with lock_refusals_audited(db, adjudicator, f"adjudicate {pseudonym}"):
            raise SubjectLocked(lock.refusal(pseudonym), subject_id=pseudonym)
    if not st.both_complete:
        raise ReviewError(f"{pseudonym}: both central reads must be signed at every timepoint before adjudication")
    comparison = compare(st.read_1.read, st.read_2.read)
    if not comparison.discordant:
        raise ReviewError(f"{pseudonym}: the two reads agree; there is nothing to adjudicate")
    return AdjudicationCase(pseudonym, blinded_timepoints(st.days), st.read_1, st.read_2, comparison)


def adjudicate(
    db: Database,
    pseudonym: str,
    *,
    username: str,
    password: str,
    chosen_read_id: str,
    reason: str,
    seen: AdjudicationCase | None = None,
) -> None:
    """Record the adjudicator's choice (password re-entered, reason mandatory); the chosen read becomes accepted.

    ``seen`` is the case the adjudicator looked at: if either read was amended since, nothing is recorded. A subject
    locked for analysis is refused (`SubjectLocked`).
    """
    adjudicator = authenticate(db, username, password, purpose=f"adjudicating {pseudonym}", subject_id=pseudonym)
    if not reason.strip():
        raise ReviewError("an adjudication needs a reason")
    if holds_password(reason, password):
        raise ReviewError("not adjudicated: the reason contains your password; type the reason again")
    try:
        case = adjudication_case(db, pseudonym, adjudicator)
    except ReviewError as exc:
        if seen is None:
            raise
        raise CaseChanged(f"{exc}: the reads changed since you opened them, and nothing was recorded") from None
    if chosen_read_id not in (case.read_1.read.read_id, case.read_2.read.read_id):
        raise ReviewError(f"{chosen_read_id} is not one of the two central reads of {pseudonym}")
    now = utc_now()
    with lock_refusals_audited(db, adjudicator, f"adjudicate {pseudonym}"), db.transaction() as conn:
        # Lock both reads until the decision commits, and make sure they are still the ones the adjudicator saw. Taken
        # first: two adjudicators deciding at once then take turns, and the second sees the first one's decision
        # (on PostgreSQL both saw none and the second failed on the table's key).
        versions = dict(
            conn.execute(
                select(reads.c.read_id, reads.c.version)
                .where(reads.c.read_id.in_([case.read_1.read.read_id, case.read_2.read.read_id]))
                .with_for_update()
            ).all()
        )
        earlier = conn.execute(select(adjudications).where(adjudications.c.pseudonym == pseudonym)).first()
        if earlier is not None:
            raise AlreadyAdjudicated(
                f"{pseudonym} was adjudicated by {earlier.adjudicator} at {earlier.decided_at}; nothing was recorded"
            )
        refuse_if_locked(conn, pseudonym)  # the adjudicator is blinded: the refusal names the pseudonym only
        for stored in (seen or case).read_1, (seen or case).read_2:
            if versions.get(stored.read.read_id) != stored.version:
                raise CaseChanged(
                    f"{pseudonym}: a central read was amended since you opened it; reopen the adjudication"
                )
        conn.execute(
            insert(adjudications).values(
                pseudonym=pseudonym,
                adjudicator=adjudicator.username,
                chosen_read_id=chosen_read_id,
                reason=reason.strip(),
                decided_at=now,
            )
        )
        audit_log.append(
            conn,
            username=adjudicator.username,
            action=AuditAction.ADJUDICATE,
            entity=f"review/{pseudonym}/adjudication",
            subject_id=pseudonym,
            new={
                "chosen_read_id": chosen_read_id,
                # as the adjudicator saw it: study days, not the blinded calendar's dates
                "discordance": [study_days_in_text(r) for r in case.comparison.reasons()],
                "meaning": "adjudication: the chosen read is the accepted central read",
            },
            reason=reason.strip(),
            recorded_at=now,
        )


def accepted_read(db: Database, subject_id: str) -> Read | None:
    """The accepted central read of a subject with its real id, dates and source UIDs; None while not decided."""
    pseudonym = pseudonym_of(db, subject_id)
    if pseudonym is None:
        raise ReviewError(f"subject {subject_id} is not in central review")
    st = _status(db, pseudonym)
    if not st.both_complete:
        return None
    if st.adjudication is not None:
        chosen = st.adjudication["chosen_read_id"]
        read = st.read_1.read if chosen == st.read_1.read.read_id else st.read_2.read
    elif compare(st.read_1.read, st.read_2.read).discordant:
        return None
    else:
        read = st.read_1.read
    with db.reading() as conn:
        sources = conn.execute(
            select(review_timepoints.c.study_uid, review_timepoints.c.series_uid)
            .where(review_timepoints.c.pseudonym == pseudonym)
            .order_by(review_timepoints.c.position)
        ).all()
    return unblind_read(read, subject_id, st.subject["baseline_date"], [(s[0], s[1]) for s in sources])  # type: ignore[arg-type]


def discordance_rates(db: Database) -> list[PairRate]:
    """Per reader pair: subjects both have finished, and how many of them were discordant (BOR or progression date)."""
    with db.reading() as conn:
        pseudonyms = list(conn.execute(select(review_subjects.c.pseudonym)).scalars())
    counts: dict[tuple[str, str], list[int]] = {}
    for pseudonym in pseudonyms:
        st = _status(db, pseudonym)
        if not st.both_complete:
            continue
        a, b = sorted((str(st.subject["reader_1"]), str(st.subject["reader_2"])))
        entry = counts.setdefault((a, b), [0, 0])
        entry[0] += 1
        entry[1] += int(compare(st.read_1.read, st.read_2.read).discordant)
    return [PairRate(a, b, n, d) for (a, b), (n, d) in sorted(counts.items())]


@dataclass(frozen=True)
class ReadProgress:
    """How far one central read has got: timepoints with any assessment, signed timepoints, of how many."""

    reader: str
    read: int
    signed: int
    timepoints: int

    def __str__(self) -> str:
        return f"{self.reader} {self.read}/{self.timepoints} read, {self.signed}/{self.timepoints} signed"


def _progress(reader: str, read: Read) -> ReadProgress:
    done = sum(1 for tp in read.timepoints if tp.assessments)
    return ReadProgress(reader, done, sum(tp.signed for tp in read.timepoints), len(read.timepoints))


@dataclass(frozen=True)
class ReviewOverviewRow:
    """One subject's place in central review, for administrators and data managers (not blinded).

    ``problem`` says why the state could not be decided (a complete read the response engine refuses)."""

    subject_id: str
    pseudonym: str
    reader_1: str
    reader_2: str
    state: ReviewState | None
    progress_1: ReadProgress | None = None
    progress_2: ReadProgress | None = None
    adjudicator: str | None = None
    problem: str | None = None
    #: the subject's lock for analysis (who, when, why), None while it is not locked
    lock: SubjectLock | None = None


def review_overview(db: Database, user: User) -> list[ReviewOverviewRow]:
    with refusals_audited(db, user, "the central-review overview"):
        require_role(user, UserRole.ADMINISTRATOR, UserRole.DATA_MANAGER)
    with db.reading() as conn:
        rows = conn.execute(select(review_subjects).order_by(review_subjects.c.subject_id)).all()
    out = []
    for r in rows:
        st = _status(db, r.pseudonym)
        state: ReviewState | None
        try:
            state, problem = _state_of(st), None
        except EvaluationError as exc:
            state, problem = None, str(exc)
        out.append(
            ReviewOverviewRow(
                r.subject_id,
                r.pseudonym,
                r.reader_1,
                r.reader_2,
                state,
                _progress(r.reader_1, st.read_1.read),
                _progress(r.reader_2, st.read_2.read),
                None if st.adjudication is None else str(st.adjudication["adjudicator"]),
                problem,
                subject_lock(db, r.subject_id),
            )
        )
    return out


def adjudication_worklist(db: Database, adjudicator: User) -> list[str]:
    """Pseudonyms awaiting adjudication that this adjudicator may decide (not the ones they read). A subject locked
    for analysis is left out: it cannot be adjudicated until a data manager unlocks it."""
    with refusals_audited(db, adjudicator, "the adjudication worklist"):
        require_role(adjudicator, UserRole.ADJUDICATOR)
    with db.reading() as conn:
        rows = conn.execute(
            select(review_subjects)
            .where(review_subjects.c.subject_id.not_in(select(subject_locks.c.subject_id)))
            .order_by(review_subjects.c.pseudonym)
        ).all()
    return [
        r.pseudonym
        for r in rows
        if adjudicator.username not in (r.reader_1, r.reader_2)
        and review_state(db, r.pseudonym) is ReviewState.AWAITING_ADJUDICATION
    ]
