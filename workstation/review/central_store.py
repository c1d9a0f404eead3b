"""`CentralReadStore`: a central reader's `DatabaseReadStore` that records in the audit trail each change of the
review's state that a save or a signature of theirs causes.

A subject's central-review state is computed from the two reads (`workstation.review.service.review_state`). A
submitted read (every timepoint signed) is changed only after the administrator reopens it (`reopen_read`), which
puts the review back to reading; the reader's next signature may then decide it differently: a concordant subject,
accepted, becomes discordant and awaits adjudication, or the other way round. Each change is audited (action
``review-state``, entity ``review/<pseudonym>/state``, old and new state, the cause), where the data manager sees it
(`recist audit show`) and the reader does not. The last signature that completes both reads (reading -> accepted or
awaiting adjudication) is recorded the same way: when a subject's review was decided is in the trail too.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping

from workstation.audit import AuditAction, utc_now
from workstation.read_model import Read
from workstation.review.discordance import EvaluationError
from workstation.review.service import ReviewError, ReviewState, review_state
from workstation.storage import audit_log
from workstation.storage.database import StorageError
from workstation.storage.read_store import DatabaseReadStore

log = logging.getLogger(__name__)


class CentralReadStore(DatabaseReadStore):
    """`DatabaseReadStore` for a central reader: saves and signatures as there, each change of review state audited."""

    _watching = False  # a signature saves first: the outer call records, once

    def save(self, read: Read, reason: str | Mapping[int, str] = "") -> None:
        amended = bool(reason.strip() if isinstance(reason, str) else any(r.strip() for r in reason.values()))
        with self._watch(read.subject_id, "an amendment" if amended else "a save"):
            super().save(read, reason)

    def sign(self, read: Read, position: int, *, password: str, meaning: str) -> None:
        label = read.timepoints[position].label if 0 <= position < len(read.timepoints) else f"#{position + 1}"
        with self._watch(read.subject_id, f"the signature of {label}"):
            super().sign(read, position, password=password, meaning=meaning)

    @contextlib.contextmanager
    def _watch(self, pseudonym: str, cause: str) -> Iterator[None]:
        if self._watching:
            yield
            return
        self._watching = True
        try:
            before = self._state(pseudonym)
            yield
            after = self._state(pseudonym)
            if before is not None and after is not None and before != after:
                try:
                    self._record(pseudonym, before, after, cause)
                except StorageError as exc:  # the read is saved; the entry is derived from its audited changes
                    log.error("%s: review state %s -> %s not recorded in the audit trail: %s", pseudonym, before,
                              after, exc)
        finally:
            self._watching = False

    def _state(self, pseudonym: str) -> ReviewState | None:
        """The review's state, None for a subject not in central review (or one the engine cannot evaluate)."""
        try:
            return review_state(self.db, pseudonym)
        except (ReviewError, EvaluationError, StorageError, LookupError):
            return None

    def _record(self, pseudonym: str, before: ReviewState, after: ReviewState, cause: str) -> None:
        who = self.user.username
        with self.db.transaction() as conn:
            audit_log.append(
                conn,
                username=who,
                action=AuditAction.REVIEW_STATE,
                entity=f"review/{pseudonym}/state",
                subject_id=pseudonym,
                old={"state": str(before)},
                new={"state": str(after)},
                reason=f"after {cause} by {who}",
                recorded_at=utc_now(),
            )
