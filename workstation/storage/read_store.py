"""`DatabaseReadStore`: the reading session's `ReadStore` interface on top of the database, for one signed-in user.

It remembers the version of every read it loaded or saved, so each save is checked against concurrent changes; all
failures arrive as `ReadStoreError` with a one-line message (a stale read says who changed it and when). Signing and
amendments go through the repository's rules: `sign` re-checks the password, `save(read, reason=...)` amends. A
subject locked for analysis (`workstation.storage.locks`) is refused as a closed read is (`ReadClosedError`), and
`lock_notice` says so when it is opened.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from workstation.read_model import Read
from workstation.session.persistence import ReadClosedError, ReadStoreError
from workstation.storage.database import Database, StorageError
from workstation.storage.locks import lock_notice
from workstation.storage.repository import (
    ReadClosed,
    ReadError,
    find_reads,
    save_read,
    sign_timepoint,
    withdrawn_signatures,
)
from workstation.users import AuthenticationError, User, UserRole, record_denial


class DatabaseReadStore:
    def __init__(self, db: Database, user: User) -> None:
        self.db = db
        self.user = user
        self._versions: dict[str, int] = {}

    def load(self, subject_id: str, reader: str) -> Read | None:
        """The user's own newest read of a subject (an administrator may load anyone's)."""
        if reader != self.user.username and self.user.role is not UserRole.ADMINISTRATOR:
            why = f"{self.user.username} may open only their own reads, not {reader}'s"
            with contextlib.suppress(StorageError):  # audited, as a refused save is (21 CFR 11.300(d))
                record_denial(self.db, self.user, f"open {reader}'s read of subject {subject_id}", why, subject_id)
            raise ReadStoreError(why)
        try:
            found = find_reads(self.db, subject_id, reader=reader)
        except StorageError as exc:
            raise ReadStoreError(str(exc)) from None
        if not found:
            return None
        latest = found[-1]
        self._versions[latest.read.read_id] = latest.version
        return latest.read

    def save(self, read: Read, reason: str | Mapping[int, str] = "") -> None:
        try:
            self._versions[read.read_id] = save_read(
                self.db, read, user=self.user, expected_version=self._versions.get(read.read_id), reason=reason
            )
        except ReadClosed as exc:
            with contextlib.suppress(StorageError):  # a change tried on a closed read is audited too
                record_denial(self.db, self.user, f"change a read of subject {read.subject_id}", str(exc),
                              read.subject_id)
            raise ReadClosedError(str(exc)) from None
        except (ReadError, StorageError) as exc:
            raise ReadStoreError(str(exc)) from None

    def sign(self, read: Read, position: int, *, password: str, meaning: str) -> None:
        """Save pending changes, then sign timepoint ``position``; the read in memory gets the stored signature."""
        self.save(read)
        try:
            stored = sign_timepoint(
                self.db,
                read.read_id,
                position,
                username=self.user.username,
                password=password,
                meaning=meaning,
                expected_version=self._versions[read.read_id],
            )
        except ReadClosed as exc:
            raise ReadClosedError(str(exc)) from None
        except (ReadError, StorageError, AuthenticationError) as exc:
            raise ReadStoreError(str(exc)) from None
        self._versions[read.read_id] = stored.version
        read.timepoints[position].signature = stored.read.timepoints[position].signature

    def withdrawn(self, read: Read) -> set[int]:
        """The timepoints of ``read`` whose signature an amendment (or a reopening) withdrew, still to be signed again
        (from the audit trail: the workstation says so after a restart too)."""
        try:
            gone = withdrawn_signatures(self.db, read)
        except StorageError as exc:
            raise ReadStoreError(str(exc)) from None
        return {i for i in gone if i < len(read.timepoints) and not read.timepoints[i].signed}

    def lock_notice(self, subject_id: str) -> str | None:
        """``locked for analysis by dm1 on 2026-11-27: read only`` when the subject (or the pseudonym of a central
        read) is locked for analysis, None when it is not."""
        try:
            return lock_notice(self.db, subject_id)
        except StorageError as exc:
            raise ReadStoreError(str(exc)) from None
