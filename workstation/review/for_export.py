"""Every evaluator's reads from the reading database, unblinded, for the trial data manager's export and report.

Site reads come as stored. Central reads are mapped back from the blinded calendar to the subject's real id, dates and
source UIDs (`blinding.unblind_read`), and the accepted one is the central review's own decision
(`service.accepted_read`: the adjudicator's choice, else reader 1's read of a concordant subject). Only signed
timepoints are exported: an unsigned timepoint is work in progress, not a record. Nothing here changes a read; the
export itself is recorded in the audit trail (`record_export`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from workstation.read_model import Read
from workstation.review.blinding import unblind_read
from workstation.review.service import accepted_read, subject_of
from workstation.storage import Database, audit_log
from workstation.storage.locks import subject_lock
from workstation.storage.repository import find_reads, load_read
from workstation.storage.schema import adjudications, reads, review_subjects, review_timepoints

#: The audit trail's action for an unblinded export (the audit module has no export action of its own).
EXPORT_ACTION = "export"


@dataclass(frozen=True)
class AdjudicationDecision:
    """An adjudicator's choice between the two central reads of a subject (real subject id)."""

    subject_id: str
    adjudicator: str
    chosen_read_id: str
    reason: str
    decided_at: str  # UTC ISO 8601


@dataclass(frozen=True)
class SkippedRead:
    subject_id: str
    reader: str
    why: str


@dataclass
class DatabaseExport:
    """What the data manager's export holds: every exported read, the accepted ones, the adjudications."""

    reads: list[Read] = field(default_factory=list)
    accepted_ids: set[str] = field(default_factory=set)
    adjudications: list[AdjudicationDecision] = field(default_factory=list)
    #: Reads left out (nothing signed yet), so the command can say so.
    skipped: list[SkippedRead] = field(default_factory=list)
    #: Subjects in central review without an accepted read yet (still reading, or awaiting adjudication).
    undecided: list[str] = field(default_factory=list)
    #: Central-review pseudonyms asked for, with the subject each stands for, so the command can say so.
    pseudonyms: dict[str, str] = field(default_factory=dict)
    #: Subjects locked for analysis at the export: subject id -> (locked by, locked at, what was still open when it
    #: was locked anyway, "" for final data).
    locks: dict[str, tuple[str, str, str]] = field(default_factory=dict)

    @property
    def subject_ids(self) -> list[str]:
        return sorted({r.subject_id for r in self.reads})

    def accepted_reads(self) -> list[Read]:
        return [r for r in self.reads if r.read_id in self.accepted_ids]


class ExportSelectionError(ValueError):
    """A requested subject that the database does not hold (neither a subject id nor a central-review pseudonym)."""


def signed_part(read: Read) -> Read | None:
    """The read up to its last signed timepoint (timepoints are signed in order); None when nothing is signed.

    Lesions assessed only in unsigned timepoints are left out with them."""
    kept = [tp for tp in read.timepoints if tp.signed]
    if not kept:
        return None
    if len(kept) == len(read.timepoints):
        return read
    out = copy.deepcopy(read)
    out.timepoints = out.timepoints[: len(kept)]
    assessed = {lid for tp in out.timepoints for lid in tp.assessments}
    out.lesions = {lid: lesion for lid, lesion in out.lesions.items() if lid in assessed}
    return out


def _note_unsigned(out: DatabaseExport, role: str, full: Read, signed: Read) -> None:
    """Name the timepoints of a partly signed read that the export leaves out (they are not silently dropped)."""
    unsigned = [tp.label for tp in full.timepoints[len(signed.timepoints) :]]
    if unsigned:
        why = f"{role} read: {', '.join(unsigned)} not signed yet (exported up to {signed.timepoints[-1].label})"
        out.skipped.append(SkippedRead(full.subject_id, full.reader, why))


def subjects_in_database(db: Database) -> list[str]:
    """Real subject ids: those of site reads and of subjects in central review (never a pseudonym)."""
    with db.reading() as conn:
        pseudonyms = set(conn.execute(select(review_subjects.c.pseudonym)).scalars())
        in_review = set(conn.execute(select(review_subjects.c.subject_id)).scalars())
        stored = set(conn.execute(select(reads.c.subject_id).distinct()).scalars())
    return sorted((stored - pseudonyms) | in_review)


def resolve_subject(db: Database, given: str) -> str:
    """The real subject id of ``given``: a subject id of the database, or the central-review pseudonym of an enrolled
    subject (as review listings show them). Unblinding: only for a signed-in data manager or administrator."""
    wanted = given.strip()
    if wanted in subjects_in_database(db):  # pseudonyms are never among them
        return wanted
    enrolled = subject_of(db, wanted)
    if enrolled is not None:
        return enrolled
    raise ExportSelectionError(
        f"no subject {given!r} in {db.where} (neither a subject id nor a central-review pseudonym)"
    )


def _central_reads(db: Database, subject_id: str, out: DatabaseExport) -> None:
    with db.reading() as conn:
        subject = conn.execute(select(review_subjects).where(review_subjects.c.subject_id == subject_id)).first()
        if subject is None:
            return
        sources = conn.execute(
            select(review_timepoints.c.study_uid, review_timepoints.c.series_uid)
            .where(review_timepoints.c.pseudonym == subject.pseudonym)
            .order_by(review_timepoints.c.position)
        ).all()
        adjudication = conn.execute(select(adjudications).where(adjudications.c.pseudonym == subject.pseudonym)).first()
    baseline: date = subject.baseline_date
    # the subject's treatment start, as the site's read states it (from trial.json); none when they disagree
    starts = {s.read.treatment_start for s in find_reads(db, subject_id) if s.read.reader_role == "site"} - {None}
    start = next(iter(starts)) if len(starts) == 1 else None
    for read_id in (subject.read_1_id, subject.read_2_id):
        if read_id is None:
            continue
        blinded = load_read(db, str(read_id)).read
        full = unblind_read(blinded, subject_id, baseline, [(s[0], s[1]) for s in sources], start)
        read = signed_part(full)
        if read is None:
            out.skipped.append(SkippedRead(subject_id, blinded.reader, "central read: no timepoint signed yet"))
            continue
        _note_unsigned(out, "central", full, read)
        out.reads.append(read)
    if adjudication is not None:  # final: both reads are closed once adjudicated
        out.accepted_ids.add(str(adjudication.chosen_read_id))
    else:
        accepted = accepted_read(db, subject_id)
        if accepted is None:
            out.undecided.append(subject_id)
        else:
            out.accepted_ids.add(accepted.read_id)
    if adjudication is not None:
        out.adjudications.append(
            AdjudicationDecision(
                subject_id,
                adjudication.adjudicator,
                adjudication.chosen_read_id,
                adjudication.reason,
                adjudication.decided_at,
            )
        )


def reads_for_export(db: Database, subject_ids: Sequence[str] | None = None) -> DatabaseExport:
    """Every evaluator's signed reads of ``subject_ids`` (subject ids or central-review pseudonyms; default: every
    subject), with real ids and dates."""
    out = DatabaseExport()
    if subject_ids:
        resolved = {given: resolve_subject(db, given) for given in subject_ids}
        out.pseudonyms = {given.strip(): real for given, real in resolved.items() if given.strip() != real}
        wanted = list(dict.fromkeys(resolved.values()))
    else:
        wanted = subjects_in_database(db)
    for subject_id in wanted:
        for stored in find_reads(db, subject_id):
            if stored.read.reader_role != "site":
                continue  # a central read is only ever reached through its review subject
            read = signed_part(stored.read)
            if read is None:
                out.skipped.append(SkippedRead(subject_id, stored.read.reader, "site read: no timepoint signed yet"))
            else:
                _note_unsigned(out, "site", stored.read, read)
                out.reads.append(read)
        _central_reads(db, subject_id, out)
        lock = subject_lock(db, subject_id)
        if lock is not None:
            out.locks[subject_id] = (lock.locked_by, lock.locked_at, lock.not_final)
    return out


def record_export(
    db: Database,
    export: DatabaseExport,
    *,
    username: str,
    what: str,
    destination: str,
    not_written: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Audit entries for an unblinded export, one per subject (so `recist audit show SUBJECT` lists it): who, which
    reads, which formats, where to, and (``not_written``, by subject) a format of a read that was left out and why.
    One transaction."""
    with db.transaction() as conn:
        for subject_id in export.subject_ids:
            new: dict[str, object] = {
                "what": what,
                "destination": destination,
                "read_ids": [r.read_id for r in export.reads if r.subject_id == subject_id],
                "unblinded": True,
            }
            if not_written and not_written.get(subject_id):
                new["not_written"] = list(not_written[subject_id])
            audit_log.append(
                conn,
                username=username,
                action=EXPORT_ACTION,
                entity=f"export/{subject_id}",
                subject_id=subject_id,
                new=new,
            )
