"""`recist review assign/status/discordance`: blinded central review, for trial data managers and administrators.

- ``assign FOLDER --readers A B [C ...]`` puts every subject of a trial folder (or those named with ``--subject``) into
  central review with two central readers each: with two readers both read every subject; with more, subject *i*
  gets readers *i* and *i+1* (mod n), so the work and the pairs are spread evenly. The source study and series UIDs of
  each timepoint are taken from the images; subjects already in review are left as they are, and a subject locked
  for analysis is named and not enrolled.
- ``status`` lists per subject the pseudonym, each reader's progress (timepoints read and signed) and the state:
  reading, awaiting adjudication, accepted (concordant) or accepted (adjudicated); and whether the subject is locked
  for analysis (by whom, when; ``locked`` in --format json, null when it is not).
- ``discordance`` gives the discordance rate per reader pair (best overall response or date of progression differ).
- ``replace-reader SUBJECT --old A --new B --reason TEXT`` gives reader A's place in a subject's review to B (A left
  the trial, or was deactivated: the subject stayed "reading" for good); B starts an empty read, A's stays stored
  out of the review; refused once both reads are signed.
- ``reopen SUBJECT --reader A --reason TEXT`` reopens A's submitted read (every timepoint signed: A can no longer
  change it) by withdrawing its last timepoint's signature; refused once the review is adjudicated.

``status`` and ``discordance`` are for a signed-in data manager or administrator, ``assign``, ``replace-reader`` and
``reopen`` (they change readers' reads) for an administrator (``--user``, or ``--admin`` as before; password on the
terminal or ``--password-stdin``).
The output is unblinded (real subject ids next to pseudonyms): it is for the data manager, never for readers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from recist.model import Criteria
from workstation.cli import CommandError
from workstation.cli.users import unblinded_user
from workstation.review.discordance import EvaluationError
from workstation.review.service import (
    AlreadyInReview,
    ReviewError,
    SourceTimepoint,
    check_central_readers,
    discordance_rates,
    enrol_subject,
    pseudonym_of,
    reopen_read,
    replace_reader,
    review_criteria_of,
    review_overview,
    review_settings_of,
    subject_of,
)
from workstation.session.worklist import DicomFolderSource, SubjectEntry, TimepointEntry, WorklistError, scan_trial
from workstation.storage import Database, StorageError, open_database
from workstation.storage.locks import SubjectLocked
from workstation.users import PermissionDenied, UserRole, list_users


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("review", help="blinded central review: assign readers, progress, discordance")
    actions = p.add_subparsers(dest="review_command", metavar="ACTION", required=True)
    assign = actions.add_parser("assign", help="put a trial folder's subjects into central review, two readers each")
    assign.add_argument("folder", type=Path, help="trial folder (trial.json, or one folder per subject)")
    assign.add_argument("--readers", nargs="+", required=True, metavar="READER", help="two or more central readers")
    assign.add_argument("--subject", action="append", default=None, help="only this subject (repeatable)")
    assign.add_argument(
        "--criteria",
        default="RECIST 1.1",
        help="criteria of the central reads: " + " or ".join(c.value for c in Criteria) + " (default RECIST 1.1)",
    )
    status = actions.add_parser("status", help="per subject: reads done, signed, concordant/discordant/adjudicated")
    discordance = actions.add_parser("discordance", help="discordance rates per reader pair")
    replace = actions.add_parser(
        "replace-reader", help="give a central reader's place in a subject's review to another (while it is read)"
    )
    replace.add_argument("subject", help="subject id or its central-review pseudonym (BICR-...)")
    replace.add_argument("--old", required=True, metavar="READER", help="the reader leaving the subject's review")
    replace.add_argument("--new", required=True, metavar="READER", help="the central reader taking their place")
    replace.add_argument("--reason", required=True, help="why (kept in the audit trail)")
    reopen = actions.add_parser(
        "reopen", help="reopen a reader's submitted read (every timepoint signed) so that they can change it"
    )
    reopen.add_argument("subject", help="subject id or its central-review pseudonym (BICR-...)")
    reopen.add_argument("--reader", required=True, help="whose read")
    reopen.add_argument("--reason", required=True, help="why (kept in the audit trail)")
    for sub, who in (
        (assign, "the administrator doing this (it creates the readers' reads; password asked)"),
        (reopen, "the administrator doing this (it withdraws a signature; password asked)"),
        (replace, "the administrator doing this (it creates the new reader's read; password asked)"),
        (status, "the data manager or administrator doing this (password asked)"),
        (discordance, "the data manager or administrator doing this (password asked)"),
    ):
        sub.add_argument("--db", help="database URL or SQLite file (default: $RECIST_DB or the user data folder)")
        sub.add_argument("--user", "--admin", dest="user", help=who)
        sub.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    for sub in (status, discordance):
        sub.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=run)


def reader_pairs(readers: list[str], subjects: int) -> list[tuple[str, str]]:
    """Two distinct readers per subject, spread evenly when there are more than two readers."""
    if len(set(readers)) != len(readers):
        raise CommandError("a reader is named twice in --readers")
    if len(readers) < 2:
        raise CommandError("central review needs at least two readers (--readers A B)")
    n = len(readers)
    return [(readers[i % n], readers[(i + 1) % n]) for i in range(subjects)]


def source_timepoints(subject: SubjectEntry) -> list[SourceTimepoint]:
    """Each timepoint's date and source study/series UIDs, read from the images' headers."""
    return [_source(subject.subject_id, tp) for tp in subject.timepoints]


def _source(subject_id: str, tp: TimepointEntry) -> SourceTimepoint:
    from imaging.discovery import discover
    from imaging.errors import DicomLoadError

    where = f"{subject_id} {tp.label}"
    if not isinstance(tp.source, DicomFolderSource):
        raise CommandError(f"{where}: its images are not in a folder")
    try:
        series = list(discover(tp.source.path))
    except DicomLoadError as exc:
        raise CommandError(f"{where}: {exc}") from None
    if tp.source.series_uid:
        series = [s for s in series if s.series_uid == tp.source.series_uid]
    if not series:
        raise CommandError(f"{where}: no DICOM series in {tp.source.path}")
    if len(series) > 1:
        raise CommandError(
            f"{where}: {len(series)} series in {tp.source.path}; name the one to read in trial.json (series_uid)"
        )
    return SourceTimepoint(tp.date, series[0].study_uid, series[0].series_uid)


def _assign(db: Database, args: argparse.Namespace, admin: Any) -> int:
    try:
        subjects = scan_trial(args.folder)
    except WorklistError as exc:
        raise CommandError(str(exc)) from None
    # A subject's pair follows from its place in the whole trial, so enrolling a few subjects at a time (--subject)
    # spreads the readers as one run over all of them would.
    pair_of = dict(zip([s.subject_id for s in subjects], reader_pairs(args.readers, len(subjects)), strict=True))
    if args.subject:
        unknown = sorted(set(args.subject) - {s.subject_id for s in subjects})
        if unknown:
            raise CommandError(f"no subject {', '.join(unknown)} in {args.folder}")
        subjects = [s for s in subjects if s.subject_id in args.subject]
    check_central_readers(db, args.readers)  # also when every subject is enrolled already: a mistyped name is said
    settings = subjects[0].settings if subjects else None
    if settings is not None:
        print(f"response settings of new central reads: {settings.describe()}")
    enrolled = refused = 0
    for subject in subjects:
        pair = pair_of[subject.subject_id]
        existing = pseudonym_of(db, subject.subject_id)
        if existing is not None:
            stored = review_criteria_of(db, subject.subject_id)
            differs = (
                f"; its reads use {', '.join(sorted(stored))}, not {args.criteria}" if stored != {args.criteria} else ""
            )
            wanted = (subject.settings.sd_min_days, subject.settings.confirmation_required)
            stored_settings = review_settings_of(db, subject.subject_id)
            if stored_settings - {wanted}:
                differs += f"; its reads use other response settings: {_settings_text(stored_settings)}"
            print(f"{subject.subject_id}: already in central review as {existing} (left as it is{differs})")
            continue
        try:
            pseudonym = enrol_subject(
                db,
                subject.subject_id,
                source_timepoints(subject),
                readers=pair,
                admin=admin,
                criteria=args.criteria,
                settings=subject.settings,
            )
        except SubjectLocked as exc:  # its data are final: said, and the others are enrolled
            print(f"{subject.subject_id}: not put into central review: {exc}")
            refused += 1
            continue
        except AlreadyInReview:  # another assignment put it in just now: left as it is, the others go on
            print(f"{subject.subject_id}: already in central review as {pseudonym_of(db, subject.subject_id)} "
                  "(put in by another assignment just now; left as it is)")
            continue
        enrolled += 1
        tps = len(subject.timepoints)
        print(f"{subject.subject_id} -> {pseudonym}: {tps} timepoints, read by {pair[0]} and {pair[1]}")
    print(f"{enrolled} subject(s) put into central review in {db.where}")
    if refused:  # a script running the assignment must not take the refusals for success
        print(f"{refused} subject(s) refused: locked for analysis", file=sys.stderr)
        return 1
    return 0


def _settings_text(stored: set[tuple[int, bool]]) -> str:
    return "; ".join(
        f"SD >= {days} days, confirmation {'required' if confirm else 'not required'}"
        for days, confirm in sorted(stored)
    )


def _status(db: Database, args: argparse.Namespace, admin: Any) -> int:
    rows = review_overview(db, admin)
    if args.format == "json":
        out = [
            {
                "subject_id": r.subject_id,
                "pseudonym": r.pseudonym,
                "readers": [
                    {"reader": p.reader, "read": p.read, "signed": p.signed, "timepoints": p.timepoints}
                    for p in (r.progress_1, r.progress_2)
                    if p is not None
                ],
                "state": None if r.state is None else r.state.value,
                "adjudicator": r.adjudicator,
                "problem": r.problem,
                "locked": None
                if r.lock is None
                else {
                    "by": r.lock.locked_by,
                    "at": r.lock.locked_at,
                    "reason": r.lock.reason,
                    "not_final": r.lock.not_final,
                },
            }
            for r in rows
        ]
        print(json.dumps(out, indent=1))
        return 0
    if not rows:
        print(f"no subjects in central review in {db.where}")
        return 0
    inactive = {u.username for u in list_users(db) if not u.active}

    def progress(p: Any, reading: bool) -> str:  # a deactivated reader holds a subject being read until replaced
        return f"{p}{' (inactive: see replace-reader)' if reading and p is not None and p.reader in inactive else ''}"

    for r in rows:
        state = r.problem if r.state is None else r.state.value
        by = f" by {r.adjudicator}" if r.adjudicator else ""
        locked = "" if r.lock is None else f" | locked for analysis by {r.lock.locked_by} at {r.lock.when}"
        if r.lock is not None and r.lock.not_final:
            locked += " though not final"
        reading = r.state is None or r.state.value == "reading"
        print(f"{r.subject_id:<14} {r.pseudonym:<14} {progress(r.progress_1, reading)} | "
              f"{progress(r.progress_2, reading)} | {state}{by}{locked}")
    return 0


def _pseudonym(db: Database, given: str) -> str:
    pseudonym = given if subject_of(db, given) is not None else pseudonym_of(db, given)
    if pseudonym is None:
        raise CommandError(f"{given} is not in central review (review status lists the subjects)")
    return pseudonym


def _reopen(db: Database, args: argparse.Namespace, admin: Any) -> int:
    given = args.subject.strip()
    label = reopen_read(db, _pseudonym(db, given), args.reader.strip(), admin=admin, reason=args.reason)
    print(f"{given}: {args.reader.strip()}'s read reopened ({label} unsigned): they may change it and sign again")
    return 0


def _replace_reader(db: Database, args: argparse.Namespace, admin: Any) -> int:
    given = args.subject.strip()
    pseudonym = _pseudonym(db, given)
    replace_reader(db, pseudonym, args.old.strip(), args.new.strip(), admin=admin, reason=args.reason)
    print(f"{given}: {args.new.strip()} reads it in place of {args.old.strip()}, from an empty read "
          f"({args.old.strip()}'s read is kept, out of the review)")
    return 0


def _discordance(db: Database, args: argparse.Namespace, admin: Any) -> int:
    rates = discordance_rates(db)
    if args.format == "json":
        print(
            json.dumps(
                [
                    {
                        "readers": [p.reader_a, p.reader_b],
                        "subjects": p.subjects,
                        "discordant": p.discordant,
                        "rate": round(p.rate, 4),
                    }
                    for p in rates
                ],
                indent=1,
            )
        )
        return 0
    if not rates:
        print("no subject has two finished central reads yet")
        return 0
    for p in rates:
        print(f"{p.reader_a} + {p.reader_b}: {p.discordant}/{p.subjects} discordant ({100 * p.rate:.0f} %)")
    total = sum(p.subjects for p in rates)
    print(f"all pairs: {sum(p.discordant for p in rates)}/{total} discordant")
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        db = open_database(args.db, create=False)
    except StorageError as exc:
        raise CommandError(str(exc)) from None
    try:
        if args.review_command in ("assign", "replace-reader", "reopen"):  # readers' reads change: an administrator's
            admin = unblinded_user(db, args, (UserRole.ADMINISTRATOR,), f"recist review {args.review_command}")
        else:
            admin = unblinded_user(db, args)
        action = {"assign": _assign, "status": _status, "discordance": _discordance,
                  "replace-reader": _replace_reader, "reopen": _reopen}[args.review_command]
        return action(db, args, admin)
    except (ReviewError, EvaluationError, PermissionDenied, StorageError) as exc:
        raise CommandError(str(exc)) from None
    finally:
        db.close()
