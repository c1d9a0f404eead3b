"""Saving and loading reads: one transaction per save, optimistic locking, signatures, amendments, audit entries.

Rules enforced here (not in the UI), so that no client can bypass them:
- A save is refused if the read changed since it was loaded (``expected_version``), naming who changed it and when.
- A signed timepoint is locked: changing it (its assessments, its lesions' definitions, the read's criteria) is an
  amendment and needs a reason, which the audit trail keeps next to the old and new values.
- Signatures are made only by `sign_timepoint`, which re-checks the password; a save cannot add, alter or remove one.
- Timepoints are signed in order, and never with an unreviewed (suggested) measurement.
- Nothing of a subject locked for analysis changes (`workstation.storage.locks`): no save, signature or deletion.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from recist import CaseError, evaluate_case
from workstation import users as users_mod
from workstation.audit import AuditAction, utc_now
from workstation.read_model import MeasurementOrigin, Read, Signature, central_read_submitted
from workstation.storage import audit_log
from workstation.storage.codec import child_rows, entity_snapshots, read_from_rows, read_row
from workstation.storage.database import Database, transaction_lock
from workstation.storage.schema import (
    adjudications,
    assessments,
    lesions,
    measurements,
    reads,
    review_subjects,
    timepoints,
)
from workstation.storage.schema import audit_log as audit_table
from workstation.storage.validation import read_problems

_CHILD_TABLES = (measurements, assessments, timepoints, lesions)  # delete order (children first)


class ReadError(Exception):
    """A save or signature that the rules refuse; the message says which rule and where."""


class ReadClosed(ReadError):
    """The read can no longer change at all (its central review is adjudicated): no retry will save an edit."""


class ConcurrentChangeError(ReadError):
    """The read was changed by someone else since it was loaded."""


class AmendmentReasonRequired(ReadError):
    """A change to a signed timepoint without a reason."""


@dataclass(frozen=True)
class StoredRead:
    read: Read
    version: int
    updated_by: str
    updated_at: str


def _load(conn: Connection, read_id: str, *, for_update: bool = False) -> StoredRead | None:
    query = select(reads).where(reads.c.read_id == read_id)
    if for_update:
        query = query.with_for_update()
    head = conn.execute(query).first()
    if head is None:
        return None

    def rows(table: Any, *order: Any) -> list[dict[str, Any]]:
        q = select(table).where(table.c.read_id == read_id).order_by(*order)
        return [dict(r._mapping) for r in conn.execute(q)]

    read = read_from_rows(
        dict(head._mapping),
        rows(lesions, lesions.c.position),
        rows(timepoints, timepoints.c.position),
        rows(assessments, assessments.c.timepoint, assessments.c.lesion_id),
        rows(measurements, measurements.c.timepoint, measurements.c.lesion_id, measurements.c.position),
    )
    # Assessment order within a timepoint follows the lesion order, as the read model's dicts do.
    order = {lid: i for i, lid in enumerate(read.lesions)}
    for tp in read.timepoints:
        tp.assessments = dict(sorted(tp.assessments.items(), key=lambda kv: order.get(kv[0], len(order))))
    return StoredRead(read, head.version, head.updated_by, head.updated_at)


def load_read_on(conn: Connection, read_id: str) -> StoredRead | None:
    """A read inside the caller's transaction (None when there is none): what a check made there sees."""
    return _load(conn, read_id)


def load_read(db: Database, read_id: str) -> StoredRead:
    with db.reading() as conn:
        stored = _load(conn, read_id)
    if stored is None:
        raise ReadError(f"no read {read_id} in {db.where}")
    return stored


def find_reads(db: Database, subject_id: str, reader: str | None = None) -> list[StoredRead]:
    query = select(reads.c.read_id).where(reads.c.subject_id == subject_id).order_by(reads.c.created_at)
    if reader is not None:
        query = query.where(reads.c.reader == reader)
    with db.reading() as conn:
        found = [_load(conn, rid) for rid in conn.execute(query).scalars()]
    return [s for s in found if s is not None]


def _write_children(conn: Connection, read: Read) -> None:
    for table in _CHILD_TABLES:
        conn.execute(delete(table).where(table.c.read_id == read.read_id))
    rows = child_rows(read)
    for name, table in (
        ("lesions", lesions),
        ("timepoints", timepoints),
        ("assessments", assessments),
        ("measurements", measurements),
    ):
        if rows[name]:
            conn.execute(insert(table), rows[name])


def _locked(path: str, read: Read) -> bool:
    """Whether a signature covers this entity: a signed timepoint and everything in it, a lesion assessed in a signed
    timepoint, and the read's own settings (criteria, confirmation) once anything is signed."""
    return bool(_signed_positions(path, read))


def _signed_positions(path: str, read: Read) -> list[int]:
    """The signed timepoints whose signature covers this entity (see `_locked`): the read's own settings are covered
    by every signed one."""
    rid = f"read/{read.read_id}"
    signed = [pos for pos, tp in enumerate(read.timepoints) if tp.signed]
    if path == rid:
        return signed
    out = []
    for pos in signed:
        tpath = f"{rid}/timepoint/{pos}"
        in_it = path == tpath or path.startswith(tpath + "/")
        if in_it or any(path == f"{rid}/lesion/{lid}" for lid in read.timepoints[pos].assessments):
            out.append(pos)
    return out


def _amendment_reason(path: str, read: Read, reason: str | Mapping[int, str]) -> str:
    """The reason an amended entity is changed for: ``reason`` itself, or (by signed timepoint position) the reasons
    given for the signed timepoints covering it."""
    if isinstance(reason, str):
        return reason.strip()
    given = [reason[pos].strip() for pos in _signed_positions(path, read) if reason.get(pos, "").strip()]
    return "; ".join(dict.fromkeys(given))


def _own_reason(path: str, read_id: str, reason: str | Mapping[int, str]) -> str:
    """The reason given (by position) for the timepoint that ``path`` lies in, else ""."""
    if isinstance(reason, str):
        return ""
    parts = path.split("/")
    if parts[:2] != ["read", read_id] or len(parts) < 4 or parts[2] != "timepoint" or not parts[3].isdigit():
        return ""
    return reason.get(int(parts[3]), "").strip()


def _describe(path: str, read: Read) -> str:
    """An entity path (``read/<id>/timepoint/0/assessment/T1``) in words: subject, timepoint label, lesion."""
    parts = path.split("/")[2:]
    words = [f"subject {read.subject_id}"]
    if parts[:1] == ["timepoint"] and len(parts) > 1 and parts[1].isdigit():
        pos = int(parts[1])
        label = read.timepoints[pos].label if pos < len(read.timepoints) else f"#{pos + 1}"
        words.append(f"timepoint {label!r}")
        parts = parts[2:]
    if parts[:1] in (["assessment"], ["lesion"]) and len(parts) > 1:
        words.append(f"lesion {'/'.join(parts[1:])}")
    elif parts[:1] == ["signature"]:
        words.append("signature")
    elif not parts and len(words) == 1:
        words.append("read settings")
    return ", ".join(words)


def _stale(stored: StoredRead, expected: int) -> ConcurrentChangeError:
    r = stored.read
    return ConcurrentChangeError(
        f"the read of subject {r.subject_id} by {r.reader} was changed by {stored.updated_by} at {stored.updated_at} "
        f"(version {stored.version}, you loaded version {expected}); reload it and redo your change"
    )


def _refuse_a_change_to_a_submitted_central_read(stored: StoredRead, read: Read, user: users_mod.User) -> None:
    """A central read changes by its reader's hand only (an administrator's correction left the reader's signature on
    values they never saw), and not once submitted (`submitted`)."""
    if entity_snapshots(stored.read) == entity_snapshots(read):
        return
    if user.username != stored.read.reader:
        raise ReadError(f"{user.username} cannot change {stored.read.reader}'s central read: a central read is "
                        "changed by its reader only")
    why = central_read_submitted(stored.read)
    if why is not None:
        raise ReadClosed(why)


def reopen_central_read(conn: Connection, read_id: str, *, admin: users_mod.User, reason: str) -> str:
    """Withdraw the signature of the last timepoint of a submitted central read, so that its reader can change it
    (they sign it again); the caller checks that the review allows it. Returns the timepoint's label."""
    stored = _load(conn, read_id, for_update=True)
    if stored is None:
        raise ReadError(f"no read {read_id}")
    if central_read_submitted(stored.read) is None:
        raise ReadError(f"{stored.read.reader}'s read of {stored.read.subject_id} is not complete: its reader can "
                        "change it (an amendment)")
    pos = len(stored.read.timepoints) - 1
    tp = stored.read.timepoints[pos]
    assert tp.signature is not None
    now = utc_now()
    _write_signature(conn, read_id, pos, None, stored.version + 1, now, admin.username)
    audit_log.append(
        conn,
        username=admin.username,
        action=AuditAction.AMEND,
        entity=f"read/{read_id}/timepoint/{pos}/signature",
        subject_id=stored.read.subject_id,
        old=asdict(tp.signature),
        new=None,
        reason=f"signature withdrawn: the read reopened for its reader ({reason.strip()})",
        recorded_at=now,
    )
    return tp.label


def withdrawn_signatures(db: Database, read: Read) -> set[int]:
    """The timepoints of a read whose signature was withdrawn (an amendment, a reopened read) and not made again: the
    audit trail's last entry on the timepoint's signature has no new value (looked up under the read's subject, which
    the trail is indexed by: the worklist asks for every subject of a trial)."""
    last: dict[int, bool] = {}
    with db.reading() as conn:
        rows = conn.execute(
            select(audit_table.c.entity, audit_table.c.new_value)
            .where(audit_table.c.subject_id == read.subject_id,
                   audit_table.c.entity.like(f"read/{read.read_id}/timepoint/%/signature"))
            .order_by(audit_table.c.seq)
        )
        for entity, new_value in rows:
            part = str(entity).split("/")[3]
            if part.isdigit():
                last[int(part)] = new_value is None
    return {pos for pos, gone in last.items() if gone}


def _refuse_if_adjudicated(conn: Connection, read: Read) -> None:
    """Once a subject's central review is adjudicated, both central reads are closed: the decision rests on them."""
    rid = read.read_id
    closed = conn.execute(
        select(review_subjects.c.pseudonym)
        .join(adjudications, adjudications.c.pseudonym == review_subjects.c.pseudonym)
        .where((review_subjects.c.read_1_id == rid) | (review_subjects.c.read_2_id == rid))
    ).first()
    if closed is not None:
        raise ReadClosed(f"the central review of {closed.pseudonym} is adjudicated; its reads can no longer change")


def _refuse_if_locked(conn: Connection, subject_id: str) -> None:
    """A subject locked for analysis changes no more (`SubjectLocked`). The locks module builds on this module's
    errors, so it is imported here rather than at the top."""
    from workstation.storage.locks import refuse_if_locked

    refuse_if_locked(conn, subject_id)


def _lock_refusals_audited(db: Database, user: users_mod.User, what: str) -> contextlib.AbstractContextManager[None]:
    """Around a change's transaction: a refusal because its subject is locked is audited as access-denied under the
    subject once the transaction rolled back (`workstation.storage.locks.lock_refusals_audited`)."""
    from workstation.storage.locks import lock_refusals_audited

    return lock_refusals_audited(db, user, what)


def save_read(
    db: Database,
    read: Read,
    *,
    user: users_mod.User,
    expected_version: int | None,
    reason: str | Mapping[int, str] = "",
) -> int:
    """Save the whole read in one transaction and return its new version.

    ``expected_version`` is the version it was loaded at (None for a new read). Every changed entity gets an audit
    entry with old and new value; a change to a signed timepoint needs ``reason``: one for the whole save, or by
    signed timepoint position (the reasons given for each timepoint amended). Only the amended entities carry it (and
    every entity of a new read, e.g. "imported from ..."): a change to an unsigned timepoint saved with them has none.
    """
    if user.username != read.reader and user.role is not users_mod.UserRole.ADMINISTRATOR:
        why = f"{user.username} cannot save the read of {read.reader}: a reader edits only their own read"
        users_mod.record_denial(db, user, f"save a read of subject {read.subject_id}", why)
        raise ReadError(why)
    current = users_mod.get_user(db, user.username)
    if current is None or not current.active:  # deactivated while their workstation was open: it kept saving
        with db.reading() as conn:
            stored = _load(conn, read.read_id)
        if stored is not None and entity_snapshots(stored.read) == entity_snapshots(read):
            return stored.version  # nothing to save (a signature saves first: its own refusal says what happened)
        why = (f"{user.username}'s account is deactivated: nothing is saved under it (ask the administrator; the "
               "read stays as it was last saved)")
        users_mod.record_denial(db, user, f"save a read of subject {read.subject_id}", why, read.subject_id)
        raise ReadError(why)
    what = f"save {read.reader}'s read of subject {read.subject_id}"
    given = [reason] if isinstance(reason, str) else list(reason.values())
    said = "; ".join(dict.fromkeys(r.strip() for r in given if r.strip()))
    if said.strip():
        what += f" ({said.strip()})"
    with _lock_refusals_audited(db, user, what), db.transaction() as conn:
        version, withdrawn = _save(conn, db.where, read, user=user, expected_version=expected_version, reason=reason)
    _withdraw(read, withdrawn)  # stored: the read in memory loses them too
    return version


def _withdraw(read: Read, positions: list[int]) -> None:
    for pos in positions:
        read.timepoints[pos].signature = None


#: Read settings that are not the reader's assessment: amending them needs a reason, and leaves the signatures (the
#: treatment start is PFS's and OS's origin, a date from the clinic; no response depends on it)
NOT_ATTESTED = frozenset({"treatment_start"})


def _withdrawn_signatures(stored: Read, amended_paths: list[str], old: Mapping[str, Any],
                          new: Mapping[str, Any]) -> list[int]:
    """The signatures an amendment withdraws: those of the signed timepoints it changes (21 CFR 11.70: a signature
    attests what was signed, and the amended timepoint is no longer that), and of every signed timepoint after the
    first of them (their responses are measured against it, and timepoints are signed in order)."""

    def attested(path: str) -> bool:
        if path != f"read/{stored.read_id}":
            return True
        before, after = old.get(path) or {}, new.get(path) or {}
        return any(before.get(k) != after.get(k) for k in {*before, *after} - NOT_ATTESTED)

    covered = {pos for path in amended_paths if attested(path) for pos in _signed_positions(path, stored)}
    if not covered:
        return []
    first = min(covered)
    return [pos for pos, tp in enumerate(stored.timepoints) if pos >= first and tp.signed]


def _refuse_a_second_read(conn: Connection, read: Read) -> None:
    """One read per subject, reader, role and criteria. The same reader starting a subject on two workstations made
    two reads with their first saves; each workstation then showed only the newest, hiding the other's saved
    measurements, and the hidden read could never be signed (the subject never final). The second first save is
    refused. On PostgreSQL a transaction lock on (subject, reader) orders two first saves; SQLite's writers are
    serialised already."""
    transaction_lock(conn, f"new-read/{read.subject_id}/{read.reader}/{read.reader_role}/{read.criteria}")
    other = conn.execute(
        select(reads.c.read_id, reads.c.updated_by, reads.c.updated_at).where(
            reads.c.subject_id == read.subject_id, reads.c.reader == read.reader,
            reads.c.reader_role == read.reader_role, reads.c.criteria == read.criteria, reads.c.read_id != read.read_id,
        )
    ).first()
    if other is not None:
        raise ConcurrentChangeError(
            f"{read.reader} already has a {read.criteria} read of subject {read.subject_id} (saved by "
            f"{other.updated_by} at {other.updated_at}, perhaps on another workstation); nothing was saved: open "
            "the subject again to continue from that read"
        )


def save_read_on(
    conn: Connection,
    where: str,
    read: Read,
    *,
    user: users_mod.User,
    expected_version: int | None,
    reason: str | Mapping[int, str] = "",
) -> int:
    """`save_read` inside the caller's transaction (for services that save a read together with other rows)."""
    version, withdrawn = _save(conn, where, read, user=user, expected_version=expected_version, reason=reason)
    _withdraw(read, withdrawn)
    return version


def _save(
    conn: Connection,
    where: str,
    read: Read,
    *,
    user: users_mod.User,
    expected_version: int | None,
    reason: str | Mapping[int, str] = "",
) -> tuple[int, list[int]]:
    """`save_read_on`, without touching ``read``: the new version, and the positions of the signatures the save
    withdrew (an amendment's, `_withdrawn_signatures`)."""
    if user.username != read.reader and user.role is not users_mod.UserRole.ADMINISTRATOR:
        raise ReadError(f"{user.username} cannot save the read of {read.reader}: a reader edits only their own read")
    problems = read_problems(read)
    if problems:
        raise ReadError(f"not saved: {problems[0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
    stored = _load(conn, read.read_id, for_update=True)
    _refuse_if_locked(conn, read.subject_id)
    if stored is not None and stored.read.reader_role == "central":
        _refuse_a_change_to_a_submitted_central_read(stored, read, user)
    _refuse_if_adjudicated(conn, read)
    now = utc_now()
    if stored is None:
        if expected_version is not None:
            raise ReadError(f"the read of subject {read.subject_id} by {read.reader} no longer exists in {where}")
        if any(tp.signed for tp in read.timepoints):
            raise ReadError("a new read cannot arrive signed: sign its timepoints with sign_timepoint")
        _refuse_a_second_read(conn, read)
        conn.execute(
            insert(reads).values(**read_row(read), version=1, created_at=now, updated_at=now, updated_by=user.username)
        )
        _write_children(conn, read)
        for path, value in entity_snapshots(read).items():
            audit_log.append(
                conn,
                username=user.username,
                action=AuditAction.CREATE,
                entity=path,
                subject_id=read.subject_id,
                new=value,
                reason=reason.strip() if isinstance(reason, str) else "",
                recorded_at=now,
            )
        return 1, []
    if expected_version is None:
        raise ReadError(f"a read {read.read_id} already exists; load it and save it with its version")
    if (stored.read.subject_id, stored.read.reader) != (read.subject_id, read.reader):
        raise ReadError(
            f"the read of subject {stored.read.subject_id} by {stored.read.reader} cannot change its subject or reader"
        )
    if stored.version != expected_version:
        raise _stale(stored, expected_version)
    old, new = entity_snapshots(stored.read), entity_snapshots(read)
    changed = [p for p in dict.fromkeys([*old, *new]) if old.get(p) != new.get(p)]
    if not changed:
        return stored.version, []
    for path in changed:
        if path.endswith("/signature"):
            raise ReadError(
                f"{_describe(path, stored.read)}: a signature can only be made by signing (with the password), "
                "never by a save"
            )
    amended = {p: _amendment_reason(p, stored.read, reason) for p in changed if _locked(p, stored.read)}
    for path, why in amended.items():
        if not why:
            raise AmendmentReasonRequired(
                f"{_describe(path, stored.read)} is signed: changing it is an amendment and needs a reason"
            )
    withdrawn = _withdrawn_signatures(stored.read, list(amended), old, new)
    if withdrawn:  # what is stored and audited is the read without them; the reader signs again, with the password
        read = copy.deepcopy(read)
        _withdraw(read, withdrawn)
        new = entity_snapshots(read)
        first = stored.read.timepoints[min(withdrawn)].label
        for pos in withdrawn:
            path = f"read/{read.read_id}/timepoint/{pos}/signature"
            changed.append(path)
            why = _amendment_reason(path, stored.read, reason)
            amended[path] = (
                f"signature withdrawn by the amendment ({why}): sign again" if why
                else f"signature withdrawn: {first!r} before it was amended ({amended_reasons(amended)}); its "
                     "responses may change: sign again"
            )
    result = conn.execute(
        update(reads)
        .where(reads.c.read_id == read.read_id, reads.c.version == expected_version)
        .values(**read_row(read), version=expected_version + 1, updated_at=now, updated_by=user.username)
    )
    if result.rowcount != 1:  # cannot happen under the row lock; refuse rather than overwrite
        raise _stale(stored, expected_version)
    _write_children(conn, read)
    for path in changed:
        if path not in old:
            action = AuditAction.CREATE
        elif path not in new:
            action = AuditAction.DELETE
        else:
            action = AuditAction.CHANGE
        if path in amended:
            action = AuditAction.AMEND
        audit_log.append(
            conn,
            username=user.username,
            action=action,
            entity=path,
            subject_id=read.subject_id,
            old=old.get(path),
            new=new.get(path),
            # a change to an unsigned timepoint has no reason of its own, unless one was given for that timepoint
            # (its amendment, after the first save withdrew its signature: the changes that follow carry it too)
            reason=amended.get(path, "") or _own_reason(path, read.read_id, reason),
            recorded_at=now,
        )
    return expected_version + 1, withdrawn


def amended_reasons(amended: Mapping[str, str]) -> str:
    """The amendment's reasons, once each (for the audit entry of a later timepoint's withdrawn signature)."""
    return "; ".join(dict.fromkeys(r for p, r in amended.items() if r and not p.endswith("/signature")))


def sign_timepoint(
    db: Database,
    read_id: str,
    position: int,
    *,
    username: str,
    password: str,
    meaning: str,
    expected_version: int,
) -> StoredRead:
    """Sign one timepoint (21 CFR 11.50/11.200: name, UTC time, meaning; the password is re-entered each time)."""
    with db.reading() as conn:
        before = _load(conn, read_id)
    what, subject = f"signing read {read_id}", ""
    if before is not None:
        subject = before.read.subject_id
        label = before.read.timepoints[position].label if 0 <= position < len(before.read.timepoints) else position
        what = f"signing {label} of subject {subject}"
    user = users_mod.authenticate(db, username, password, purpose=what, subject_id=subject)
    if not meaning.strip():
        raise ReadError("a signature needs its meaning (e.g. 'I confirm these measurements as the reader')")
    if users_mod.holds_password(meaning, password):
        raise ReadError("not signed: the signature's meaning contains your password; choose the meaning again")
    if before is not None and user.username != before.read.reader:  # audited, as a refused command is
        why = f"{user.username} cannot sign the read of {before.read.reader}: only its reader signs it"
        users_mod.record_denial(db, user, f"sign a read of subject {before.read.subject_id}", why)
        raise ReadError(why)
    with _lock_refusals_audited(db, user, what), db.transaction() as conn:
        stored = _load(conn, read_id, for_update=True)
        if stored is None:
            raise ReadError(f"no read {read_id} in {db.where}")
        _refuse_if_locked(conn, stored.read.subject_id)
        if stored.version != expected_version:
            raise _stale(stored, expected_version)
        read = stored.read
        if user.username != read.reader:
            raise ReadError(f"{user.username} cannot sign the read of {read.reader}: only its reader signs it")
        if not 0 <= position < len(read.timepoints):
            raise ReadError(f"the read of subject {read.subject_id} has no timepoint {position}")
        tp = read.timepoints[position]
        where = f"subject {read.subject_id}, timepoint {tp.label!r}"
        if tp.signed:
            raise ReadError(f"{where} is already signed")
        unsigned = [t.label for t in read.timepoints[:position] if not t.signed]
        if unsigned:
            raise ReadError(f"{where}: timepoints are signed in order; sign {unsigned[0]!r} first")
        for lesion_id, a in tp.assessments.items():
            if any(m.origin is MeasurementOrigin.SUGGESTED for m in a.measurements):
                raise ReadError(
                    f"{where}, lesion {lesion_id}: accept, adjust or delete the suggested measurement first"
                )
        _check_evaluable(read, position)
        now = utc_now()
        tp.signature = Signature(user.username, user.full_name, now, meaning.strip())
        _write_signature(conn, read_id, position, tp.signature, stored.version + 1, now, user.username)
        audit_log.append(
            conn,
            username=user.username,
            action=AuditAction.SIGN,
            entity=f"read/{read_id}/timepoint/{position}/signature",
            subject_id=read.subject_id,
            new=asdict(tp.signature),
            recorded_at=now,
        )
    return StoredRead(read, stored.version + 1, user.username, now)


def _write_signature(conn: Connection, read_id: str, position: int, signature: Signature | None, version: int,
                     now: str, username: str) -> None:
    """Store a timepoint's signature (None: withdrawn) and the read's new ``version``; the caller audits it."""
    conn.execute(
        update(timepoints)
        .where(timepoints.c.read_id == read_id, timepoints.c.position == position)
        .values(
            signed_by=signature.user if signature else None,
            signer_full_name=signature.full_name if signature else None,
            signed_at=signature.signed_at if signature else None,
            signature_meaning=signature.meaning if signature else None,
        )
    )
    conn.execute(
        update(reads).where(reads.c.read_id == read_id).values(version=version, updated_at=now, updated_by=username)
    )


def _check_evaluable(read: Read, position: int) -> None:
    """Refuse to sign what the response engine cannot evaluate (e.g. six targets, a lesion never declared)."""
    upto = copy.copy(read)
    upto.timepoints = read.timepoints[: position + 1]
    try:
        evaluate_case(upto.to_case())
    except (CaseError, ValueError) as exc:
        raise ReadError(f"cannot sign: {exc}") from None


def delete_read(db: Database, read_id: str, *, user: users_mod.User, expected_version: int, reason: str) -> None:
    """Delete a read (audited with its full content as the old value). Needs a reason."""
    if not reason.strip():
        raise ReadError("deleting a read needs a reason")
    with _lock_refusals_audited(db, user, f"delete read {read_id} ({reason.strip()})"), db.transaction() as conn:
        stored = _load(conn, read_id, for_update=True)
        if stored is None:
            raise ReadError(f"no read {read_id} in {db.where}")
        in_review = conn.execute(
            select(review_subjects.c.pseudonym).where(
                (review_subjects.c.read_1_id == read_id) | (review_subjects.c.read_2_id == read_id)
            )
        ).first()
        if in_review is not None:
            raise ReadError(f"this is a central read of {in_review.pseudonym}; central reads are never deleted")
        _refuse_if_locked(conn, stored.read.subject_id)
        if stored.version != expected_version:
            raise _stale(stored, expected_version)
        if user.username != stored.read.reader and user.role is not users_mod.UserRole.ADMINISTRATOR:
            raise ReadError(f"{user.username} cannot delete the read of {stored.read.reader}")
        for table in _CHILD_TABLES:
            conn.execute(delete(table).where(table.c.read_id == read_id))
        conn.execute(delete(reads).where(reads.c.read_id == read_id))
        now = utc_now()
        for path, value in entity_snapshots(stored.read).items():
            audit_log.append(
                conn,
                username=user.username,
                action=AuditAction.DELETE,
                entity=path,
                subject_id=stored.read.subject_id,
                old=value,
                reason=reason.strip(),
                recorded_at=now,
            )
