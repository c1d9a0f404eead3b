"""iRECIST: a subject whose read ends on an iUPD not yet confirmed, for the worklist to flag.

Seymour 2017 ("Confirming progression"): an iUPD is confirmed (iCPD) or reset at the next assessment, 4-8 weeks
later; a patient clinically stable continues treatment until then. A site that misses the confirmation scan loses
the iRECIST answer for that subject, so the worklist says which subjects wait for one and when it is due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from workstation.read_model import Read
from workstation.session.response import CriteriaResponse, evaluate

#: The confirmation window: 4 weeks less the iRECIST FAQ's 2 days' variance to 8 weeks after the iUPD (as the engine)
WINDOW_FROM_DAYS, WINDOW_TO_DAYS = 28 - 2, 56


@dataclass(frozen=True)
class AwaitingConfirmation:
    """The iUPD still unconfirmed at the subject's last assessment."""

    label: str
    when: date
    #: timepoints of the subject after the last one read, not read yet (their images are there)
    unread_after: tuple[str, ...]
    #: timepoints read after the iUPD that left it pending (NE, a scan too early, iUPD remains), last one last
    assessed_since: tuple[str, ...] = ()

    @property
    def window(self) -> tuple[date, date]:
        return self.when + timedelta(days=WINDOW_FROM_DAYS), self.when + timedelta(days=WINDOW_TO_DAYS)

    def short(self) -> str:
        return "⚑ iUPD"

    def describe(self, today: date | None = None) -> str:
        start, end = self.window
        if self.assessed_since:
            text = (f"iUPD at {self.label} ({self.when.isoformat()}) still not confirmed at "
                    f"{self.assessed_since[-1]}: the next assessment confirms it (iCPD) or resets it (iRECIST, "
                    "Seymour 2017)")
        else:
            text = (f"iUPD at {self.label} ({self.when.isoformat()}) not confirmed yet: the next scan, from "
                    f"{start.isoformat()} to {end.isoformat()} (4-8 weeks after it), confirms it (iCPD) or resets "
                    "it (iRECIST, Seymour 2017)")
        if self.unread_after:
            return f"{text}. Not read yet: {', '.join(self.unread_after)}"
        if today is not None and today > end and not self.assessed_since:
            return f"{text}. OVERDUE: no scan listed, and the window ended on {end.isoformat()}"
        return text


def awaiting_confirmation(read: Read | None, timepoint_labels: list[str] | None = None,
                          irecist: CriteriaResponse | None = None) -> AwaitingConfirmation | None:
    """The iUPD ``read`` ends on, unconfirmed (the last evaluated iRECIST response is iUPD, NE in between leaving it
    pending), or None. ``timepoint_labels``: the subject's timepoints in the worklist, to name those not read yet;
    ``irecist``: the read's iRECIST responses when already evaluated (the response panel's), else evaluated here."""
    if read is None or not read.timepoints or not read.timepoints[0].assessments:
        return None
    result = irecist if irecist is not None else evaluate(read, "iRECIST")
    if result.error is not None:
        return None
    rows = result.timepoints[1:]
    pending = _pending_iupd(rows)
    if pending is None:
        return None
    since = tuple(str(r["label"]) for r in rows[rows.index(pending) + 1:])
    read_labels = [tp.label for tp in read.timepoints if tp.assessments]
    last = read_labels[-1]
    labels = timepoint_labels if timepoint_labels is not None else [tp.label for tp in read.timepoints]
    after = labels[labels.index(last) + 1:] if last in labels else []
    return AwaitingConfirmation(str(pending["label"]), date.fromisoformat(str(pending["date"])), tuple(after), since)


def _pending_iupd(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first iUPD of the run of iUPD / NE rows the read ends on, when that run holds an iUPD."""
    first: dict[str, Any] | None = None
    for row in reversed(rows):
        response = row.get("overall_response")
        if response == "iUPD":
            first = row
        elif response not in (None, "NE"):
            break
    return first
