"""Do the stored reads say what the audit trail says they are?

The hash chain (`workstation.storage.audit_log.verify`) shows that no entry of the trail was changed; it says nothing
of the tables it describes. A measurement changed in the database by hand (``update measurements set ...``) left
the chain intact and the accepted read's best response changed, with a signature still on it (a central-review
manager's finding). Every change to a read goes through `workstation.storage.repository`, which records each changed
entity's new value in the trail; replaying the trail therefore gives every entity's value as it should be stored,
and any difference is a change made outside the workstation.

Each entry's old value must also be the value the trail held before it: a hand change that a later save wrote over
(the save records the tampered value as "old") is found too. The central review's assignments (readers and their
reads, from enrolment and replacement entries) and adjudications (the chosen read) are compared the same way: a
read pointed to by hand, or a decision changed, changes the accepted read.

Values recorded before a migration added a field (the treatment start, a non-target's place) lack it: a missing
field matches a stored null.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from workstation.storage.codec import entity_snapshots
from workstation.storage.database import Database
from workstation.storage.repository import load_read_on
from workstation.storage.schema import adjudications, reads, review_subjects
from workstation.storage.schema import audit_log as audit_table


@dataclass(frozen=True)
class Mismatch:
    """One read entity whose stored value is not the value the audit trail last recorded for it."""

    subject_id: str
    entity: str
    stored: Any
    audited: Any

    #: the entry whose old value was not the trail's (a hand change written over by a later save), else None
    before_entry: int | None = None

    def describe(self) -> str:
        if self.before_entry is not None:
            return (f"subject {self.subject_id}, {self.entity}: changed outside the workstation before audit entry "
                    f"#{self.before_entry}, which recorded the changed value as the old one")
        if self.audited is None:
            what = "stored, but never recorded in the audit trail"
        elif self.stored is None:
            what = "recorded in the audit trail, but missing from the database"
        else:
            changed = _changed_fields(self.audited, self.stored)
            what = "differs from the audit trail" + (f" ({', '.join(changed)})" if changed else "")
        return f"subject {self.subject_id}, {self.entity}: {what}"


@dataclass(frozen=True)
class ReadsCheck:
    reads_checked: int
    entities_checked: int
    mismatches: list[Mismatch]
    reviews_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def message(self, shown: int = 10) -> str:
        if self.ok:
            return (f"stored reads match the audit trail: {self.reads_checked} reads, {self.entities_checked} "
                    f"entities, {self.reviews_checked} central-review subjects")
        lines = [f"stored reads differ from the audit trail: {len(self.mismatches)} entities changed outside the "
                 "workstation (by hand in the database?)"]
        lines += [f"  {m.describe()}" for m in self.mismatches[:shown]]
        if len(self.mismatches) > shown:
            lines.append(f"  ... and {len(self.mismatches) - shown} more")
        return "\n".join(lines)


def _same(audited: Any, stored: Any) -> bool:
    if isinstance(audited, dict) and isinstance(stored, dict):
        return all(_same(audited.get(k), stored.get(k)) for k in {*audited, *stored})
    if isinstance(audited, list) and isinstance(stored, list):
        return len(audited) == len(stored) and all(_same(a, s) for a, s in zip(audited, stored, strict=True))
    return bool(audited == stored)


def _changed_fields(audited: Any, stored: Any, prefix: str = "") -> list[str]:
    """The fields that differ, as paths (``measurements[0].long_axis_mm: 50.0 -> 70.0``)."""
    if isinstance(audited, dict) and isinstance(stored, dict):
        out: list[str] = []
        for k in sorted({*audited, *stored}):
            out += _changed_fields(audited.get(k), stored.get(k), f"{prefix}.{k}" if prefix else k)
        return out
    if isinstance(audited, list) and isinstance(stored, list) and len(audited) == len(stored):
        out = []
        for i, (a, s) in enumerate(zip(audited, stored, strict=True)):
            out += _changed_fields(a, s, f"{prefix}[{i}]")
        return out
    return [] if _same(audited, stored) else [f"{prefix or 'value'}: {audited!r} -> {stored!r}"]


def check_reads(db: Database) -> ReadsCheck:
    """Replay the audit trail's read entities and compare each stored read with it."""
    with db.reading() as conn:
        audited: dict[str, Any] = {}
        continuity: list[Mismatch] = []
        rows = conn.execute(
            select(audit_table.c.seq, audit_table.c.entity, audit_table.c.subject_id, audit_table.c.old_value,
                   audit_table.c.new_value)
            .where(audit_table.c.entity.like("read/%"))
            .order_by(audit_table.c.seq)
        )
        for seq, entity, subject_id, old_value, new_value in rows:
            old = None if old_value is None else json.loads(old_value)
            if old is not None and not _same(audited.get(entity), old):
                continuity.append(Mismatch(subject_id, entity, old, audited.get(entity), before_entry=seq))
            if new_value is None:
                audited.pop(entity, None)
            else:
                audited[entity] = json.loads(new_value)
        read_ids = [r for (r,) in conn.execute(select(reads.c.read_id).order_by(reads.c.read_id))]
        mismatches: list[Mismatch] = list(continuity)
        entities = 0
        for read_id in read_ids:
            stored = load_read_on(conn, read_id)
            if stored is None:
                continue
            snapshots = json.loads(json.dumps(entity_snapshots(stored.read), default=str))
            prefix = f"read/{read_id}"
            trail = {p: v for p, v in audited.items() if p == prefix or p.startswith(prefix + "/")}
            for path in sorted({*snapshots, *trail}):
                entities += 1
                if not _same(trail.get(path), snapshots.get(path)):
                    mismatches.append(Mismatch(stored.read.subject_id, path, snapshots.get(path), trail.get(path)))
        gone = {p.split("/")[1] for p in audited} - set(read_ids)
        for read_id in sorted(gone):  # a read deleted without its deletion in the trail
            path = f"read/{read_id}"
            row = audited.get(path) or {}
            mismatches.append(Mismatch(str(row.get("subject_id", "?")), path, None, row or True))
        reviews = _check_reviews(conn, mismatches)
    return ReadsCheck(len(read_ids), entities, mismatches, reviews)


def _check_reviews(conn: Any, mismatches: list[Mismatch]) -> int:
    """The central review's assignments and decisions against their enrolment, replacement and adjudication
    entries; returns how many subjects were checked."""
    expected: dict[str, dict[str, Any]] = {}
    rows = conn.execute(
        select(audit_table.c.action, audit_table.c.entity, audit_table.c.subject_id, audit_table.c.username,
               audit_table.c.new_value, audit_table.c.reason)
        .where(audit_table.c.entity.like("review/%"))
        .order_by(audit_table.c.seq)
    )
    for action, entity, subject_id, username, new_value, reason in rows:
        parts = entity.split("/")
        value = json.loads(new_value) if new_value else {}
        if action == "enrol" and len(parts) == 2:
            readers, read_ids = value.get("readers", []), value.get("read_ids", [])
            expected[parts[1]] = {"subject_id": subject_id, "reader_1": readers[0], "reader_2": readers[1],
                                  "read_1_id": read_ids[0], "read_2_id": read_ids[1]}
        elif action == "enrol" and len(parts) == 3 and parts[2].startswith("reader_") and parts[1] in expected:
            slot = parts[2].removeprefix("reader_")
            expected[parts[1]].update({f"reader_{slot}": value.get("reader"), f"read_{slot}_id": value.get("read_id")})
        elif action == "adjudicate" and len(parts) == 3 and parts[1] in expected:
            expected[parts[1]]["adjudication"] = {"adjudicator": username, "chosen_read_id":
                                                  value.get("chosen_read_id"), "reason": reason}
    stored: dict[str, dict[str, Any]] = {}
    for row in conn.execute(select(review_subjects)):
        r = dict(row._mapping)
        stored[r["pseudonym"]] = {k: r[k] for k in ("subject_id", "reader_1", "reader_2", "read_1_id", "read_2_id")}
    for row in conn.execute(select(adjudications)):
        r = dict(row._mapping)
        if r["pseudonym"] in stored:
            stored[r["pseudonym"]]["adjudication"] = {k: r[k] for k in ("adjudicator", "chosen_read_id", "reason")}
    for pseudonym in sorted({*expected, *stored}):
        want, have = expected.get(pseudonym), stored.get(pseudonym)
        if not _same(want, have):
            subject = str((have or want or {}).get("subject_id", "?"))
            mismatches.append(Mismatch(subject, f"review/{pseudonym}", have, want))
    return len(stored)
