"""The tamper-evident audit trail: entries, their SHA-256 chain, and the check that finds the first broken entry.

Pure logic (standard library only); `workstation.storage.audit_log` stores the entries. Each entry's hash covers its
own fields exactly as stored (values are JSON text) and the previous entry's hash, so changing, inserting or deleting
any entry breaks the chain at that entry (21 CFR 11.10(e): a secure, time-stamped audit trail that never hides earlier
values).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

GENESIS_HASH = "0" * 64


class AuditAction(StrEnum):
    CREATE = "create"
    CHANGE = "change"
    DELETE = "delete"
    AMEND = "amend"  # a change to a signed timepoint (needs a reason)
    SIGN = "sign"
    ENROL = "enrol"
    ADJUDICATE = "adjudicate"
    LOCK = "lock"  # a subject locked for analysis by the data manager (needs a reason)
    UNLOCK = "unlock"  # ... and unlocked again (needs a reason)
    #: a central review's state changed by a reader's save or signature (`workstation.review.central_store`)
    REVIEW_STATE = "review-state"
    LOGIN_FAILED = "login-failed"
    #: a signed-in user refused a command their role does not allow (e.g. a reader asking for unblinded data)
    ACCESS_DENIED = "access-denied"


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    recorded_at: str  # UTC, ISO 8601 with "Z"
    username: str
    action: str
    entity: str
    subject_id: str
    old_value: str | None  # JSON text, as stored
    new_value: str | None
    reason: str
    prev_hash: str
    entry_hash: str

    def computed_hash(self) -> str:
        return entry_hash(
            self.prev_hash,
            seq=self.seq,
            recorded_at=self.recorded_at,
            username=self.username,
            action=self.action,
            entity=self.entity,
            subject_id=self.subject_id,
            old_value=self.old_value,
            new_value=self.new_value,
            reason=self.reason,
        )


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def to_json(value: Any) -> str | None:
    """A value as canonical JSON text (sorted keys), or None for "no value" (before a create, after a delete)."""
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(prev_hash: str, **fields: Any) -> str:
    payload = json.dumps({"prev": prev_hash, **fields}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    entries_checked: int
    first_broken_seq: int | None = None
    problem: str = ""

    def message(self) -> str:
        if self.ok:
            return f"audit trail intact: {self.entries_checked} entries, every hash verified"
        return f"audit trail broken at entry {self.first_broken_seq}: {self.problem}"


def verify_chain(entries: Iterable[AuditEntry], head: tuple[int, str] | None = None) -> ChainCheck:
    """Check the chain in ``seq`` order; ``head`` is the stored (last_seq, last_hash) that catches a deleted tail."""
    prev_hash = GENESIS_HASH
    expected_seq = 1
    count = 0
    for entry in entries:
        if entry.seq != expected_seq:
            return ChainCheck(False, count, expected_seq, f"entry {expected_seq} is missing (next is {entry.seq})")
        if entry.prev_hash != prev_hash:
            return ChainCheck(False, count, entry.seq, "it does not link to the previous entry (previous hash differs)")
        if entry.computed_hash() != entry.entry_hash:
            return ChainCheck(False, count, entry.seq, "its content does not match its hash (the entry was altered)")
        prev_hash = entry.entry_hash
        expected_seq += 1
        count += 1
    if head is not None:
        last_seq, last_hash = head
        if last_seq != count or last_hash != prev_hash:
            first_missing = count + 1
            return ChainCheck(
                False,
                count,
                first_missing,
                f"entries {first_missing} to {last_seq} were deleted (the chain's head says "
                f"{last_seq} entries, {count} are present)"
                if last_seq > count
                else "the chain's head does not match its last entry",
            )
    return ChainCheck(True, count)
