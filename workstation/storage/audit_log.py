"""Storing audit entries: appended in the same transaction as the change they record, read back for show/verify."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from workstation.audit import AuditEntry, ChainCheck, entry_hash, to_json, utc_now, verify_chain
from workstation.storage.database import Database
from workstation.storage.schema import audit_head, audit_log


def append(
    conn: Connection,
    *,
    username: str,
    action: str,
    entity: str,
    subject_id: str = "",
    old: Any = None,
    new: Any = None,
    reason: str = "",
    recorded_at: str | None = None,
) -> AuditEntry:
    """Append one entry inside the caller's transaction (so the change and its record commit together or not at all)."""
    # Locks the head row until commit on PostgreSQL: two workstations appending at once take turns, so the chain
    # never forks. (SQLite transactions here are BEGIN IMMEDIATE, which already serialises writers.)
    head = conn.execute(select(audit_head.c.last_seq, audit_head.c.last_hash).with_for_update()).one()
    stamp = recorded_at or utc_now()
    # Time never runs backwards along the trail: a caller's time taken before it waited for the lock, or before the
    # entries its own transaction appended first (an enrolment's read creations), would read as out of order.
    last = conn.execute(select(audit_log.c.recorded_at).where(audit_log.c.seq == head.last_seq)).scalar()
    if last is not None and stamp < str(last):
        stamp = str(last)
    fields: dict[str, Any] = {
        "seq": head.last_seq + 1,
        "recorded_at": stamp,
        "username": username,
        "action": str(action),
        "entity": entity,
        "subject_id": subject_id,
        "old_value": to_json(old),
        "new_value": to_json(new),
        "reason": reason,
    }
    digest = entry_hash(head.last_hash, **fields)
    conn.execute(insert(audit_log).values(**fields, prev_hash=head.last_hash, entry_hash=digest))
    conn.execute(update(audit_head).values(last_seq=fields["seq"], last_hash=digest))
    return AuditEntry(**fields, prev_hash=head.last_hash, entry_hash=digest)


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(**row._mapping)


def entries(db: Database, subject_ids: list[str] | None = None) -> list[AuditEntry]:
    query = select(audit_log).order_by(audit_log.c.seq)
    if subject_ids is not None:
        query = query.where(audit_log.c.subject_id.in_(subject_ids))
    with db.reading() as conn:
        return [_entry(row) for row in conn.execute(query)]


def verify(db: Database) -> ChainCheck:
    """Walk the whole chain in order and report the first broken entry."""
    with db.reading() as conn:
        head = conn.execute(select(audit_head.c.last_seq, audit_head.c.last_hash)).one()
        rows = conn.execute(select(audit_log).order_by(audit_log.c.seq))
        return verify_chain((_entry(r) for r in rows), head=(head.last_seq, head.last_hash))
