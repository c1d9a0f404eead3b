"""The audit trail's SHA-256 chain (pure logic): any altered, inserted, reordered or deleted entry is found."""

from __future__ import annotations

import dataclasses

from workstation.audit import GENESIS_HASH, AuditEntry, entry_hash, to_json, verify_chain


def chain(n: int) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    prev = GENESIS_HASH
    for seq in range(1, n + 1):
        fields = {
            "seq": seq,
            "recorded_at": f"2026-01-05T10:00:{seq:02d}.000000Z",
            "username": "reader1",
            "action": "change",
            "entity": f"read/r1/timepoint/0/assessment/T{seq}",
            "subject_id": "S001",
            "old_value": to_json({"long_axis_mm": 10.0 + seq}),
            "new_value": to_json({"long_axis_mm": 11.0 + seq}),
            "reason": "",
        }
        digest = entry_hash(prev, **fields)
        entries.append(AuditEntry(**fields, prev_hash=prev, entry_hash=digest))
        prev = digest
    return entries


def head(entries: list[AuditEntry]) -> tuple[int, str]:
    return entries[-1].seq, entries[-1].entry_hash


def test_an_intact_chain_verifies() -> None:
    entries = chain(5)
    check = verify_chain(entries, head(entries))
    assert check.ok and check.entries_checked == 5
    assert "5 entries" in check.message()
    assert verify_chain([], (0, GENESIS_HASH)).ok


def test_an_altered_value_is_found_at_its_entry() -> None:
    entries = chain(5)
    entries[2] = dataclasses.replace(entries[2], new_value=to_json({"long_axis_mm": 99.0}))
    check = verify_chain(entries, head(entries))
    assert not check.ok and check.first_broken_seq == 3
    assert check.message().startswith("audit trail broken at entry 3: its content does not match its hash")


def test_a_rehashed_alteration_breaks_the_next_link() -> None:
    entries = chain(5)
    forged = dataclasses.replace(entries[1], username="someone else")
    entries[1] = dataclasses.replace(forged, entry_hash=forged.computed_hash())
    check = verify_chain(entries, head(entries))
    assert check.first_broken_seq == 3 and "does not link" in check.problem


def test_deleted_entries_are_found_in_the_middle_and_at_the_end() -> None:
    entries = chain(5)
    check = verify_chain(entries[:2] + entries[3:], head(entries))
    assert check.first_broken_seq == 3 and "missing" in check.problem
    check = verify_chain(entries[:3], head(entries))
    assert check.first_broken_seq == 4 and "entries 4 to 5 were deleted" in check.problem


def test_values_are_canonical_json() -> None:
    assert to_json({"b": 1, "a": [1.5, None]}) == '{"a":[1.5,null],"b":1}'
    assert to_json(None) is None
