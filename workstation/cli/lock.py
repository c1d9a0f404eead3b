"""`recist lock SUBJECT ... --reason TEXT`: lock subjects for analysis (the trial data manager's database lock before
the primary analysis); `recist lock --all --reason TEXT`: every subject the database holds; `recist lock --list`: the
locked subjects (--format json); `recist unlock SUBJECT ... --reason TEXT` (or --all: every locked subject).

A locked subject's reads are no longer saved, amended, signed or deleted, and it is neither enrolled nor adjudicated
in central review, until it is unlocked; it is still read and exported. For a signed-in data manager or administrator
(--user NAME; the password on the terminal or with --password-stdin); every lock and unlock is in the audit trail
with its reason. SUBJECT is a subject id or its central-review pseudonym (BICR-..., as review listings show it; the
subject it stands for is named on stderr). Only final data are locked: a subject with an unsigned timepoint in any
read, or whose central review is still being read or awaits adjudication, stops the command naming what is open, and
nothing is locked, unless --incomplete is given (the audit entry then keeps what was open) or --final-only (the
final subjects are locked; each of the others is named with what is open in it and left unlocked). A subject already
locked (or, unlocking, not locked) is said and left as it is; a subject the database does not hold stops the command,
and nothing is locked.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from workstation.cli import CommandError
from workstation.cli.users import add_sign_in_arguments, unblinded_user
from workstation.storage import Database, StorageError, open_database
from workstation.users import PermissionDenied


def _common(p: argparse.ArgumentParser, verb: str) -> None:
    p.add_argument("subjects", nargs="*", metavar="SUBJECT", help="subject id or its central-review pseudonym")
    p.add_argument("--reason", help=f"why the subjects are {verb}ed (kept in the audit trail)")
    p.add_argument("--db", help="database URL or SQLite file (default: $RECIST_DB or the user data folder)")
    add_sign_in_arguments(p, f"{verb}ing")


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "lock",
        help="lock subjects for analysis (no read of theirs changes until unlocked), or --list the locked ones",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(p, "lock")
    p.add_argument("--all", action="store_true", help="lock every subject the database holds (reads or central review)")
    p.add_argument(
        "--incomplete",
        action="store_true",
        help="lock even though reads are unsigned or the central review undecided",
    )
    p.add_argument(
        "--final-only",
        action="store_true",
        help="lock the subjects whose data are final and leave the others unlocked, naming what is open in each",
    )
    p.add_argument("--list", action="store_true", help="list the locked subjects: subject, locked by, at, reason")
    p.add_argument("--format", choices=["table", "json"], default="table", help="how --list lists them")
    p.set_defaults(func=run)


def add_unlock_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "unlock",
        help="unlock subjects locked for analysis (with a reason)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(p, "unlock")
    p.add_argument("--all", action="store_true", help="unlock every locked subject")
    p.set_defaults(func=run, list=False, incomplete=False, final_only=False, format="table")


def _subjects(db: Database, given: list[str], verb: str) -> list[str]:
    """The real subject ids of ``given`` (a pseudonym is named on stderr with the subject it stands for); a name the
    database holds only in other upper and lower case is asked about (``did you mean SUBJ-004?``)."""
    from workstation.review.for_export import ExportSelectionError, resolve_subject
    from workstation.storage.locks import similar_subject

    out = []
    for name in given:
        try:
            subject = resolve_subject(db, name)
        except ExportSelectionError as exc:
            similar = similar_subject(db, name)
            if similar is not None:
                raise CommandError(f"no subject {name.strip()}; did you mean {similar}? nothing was {verb}ed") from None
            raise CommandError(f"{exc}; nothing was {verb}ed") from None
        if subject != name.strip():
            print(f"{name.strip()}: the central-review pseudonym of subject {subject}", file=sys.stderr)
        out.append(subject)
    return out


def _list(db: Database, fmt: str) -> int:
    from dataclasses import asdict

    from workstation.storage.locks import list_locks

    locks = list_locks(db)
    if fmt == "json":
        print(json.dumps([asdict(lock) for lock in locks], indent=1))
        return 0
    if not locks:
        print(f"no subject is locked in {db.where}")
        return 0
    width = max(len("subject"), *(len(lock.subject_id) for lock in locks))
    by = max(len("locked by"), *(len(lock.locked_by) for lock in locks))
    print(f"{'subject':<{width}}  {'locked by':<{by}}  {'at':<17}  reason")
    for lock in locks:
        not_final = f" (locked though not final: {lock.not_final})" if lock.not_final else ""
        print(f"{lock.subject_id:<{width}}  {lock.locked_by:<{by}}  {lock.when:<17}  {lock.reason}{not_final}")
    return 0


def _change(db: Database, args: argparse.Namespace, user: Any) -> int:
    from workstation.review.for_export import subjects_in_database
    from workstation.storage.locks import (
        IncompleteSubjects,
        LockOutcome,
        list_locks,
        lock_subjects,
        unlock_subjects,
    )

    verb = args.command
    if args.all and verb == "unlock":
        subjects = [lock.subject_id for lock in list_locks(db)]
        if not subjects:
            print(f"no subject is locked in {db.where}; nothing was unlocked")
            return 0
    elif args.all:
        subjects = subjects_in_database(db)
        if not subjects:
            raise CommandError(f"no subject in {db.where}: it holds no read and no subject in central review")
    else:
        subjects = _subjects(db, args.subjects, verb)
    outcome: LockOutcome
    if verb == "lock":
        try:
            outcome = lock_subjects(
                db, subjects, user=user, reason=args.reason, allow_incomplete=args.incomplete,
                final_only=args.final_only,
            )  # fmt: skip
        except IncompleteSubjects as exc:
            raise CommandError(
                f"{exc}; to lock them as they are, add --incomplete; to lock only the final ones, --final-only"
            ) from None
    else:
        outcome = unlock_subjects(db, subjects, user=user, reason=args.reason)
    for lock in outcome.changed:
        if verb == "unlock":
            print(f"{lock.subject_id}: unlocked")
            continue
        still_open = outcome.incomplete.get(lock.subject_id)
        though = f", though not final: {', '.join(still_open)}" if still_open else ""
        print(f"{lock.subject_id}: locked for analysis by {lock.locked_by} at {lock.when}{though}")
    for lock in outcome.already_locked:
        print(f"{lock.subject_id}: already locked (by {lock.locked_by} at {lock.when}: {lock.reason!r}); left as it is")
    for subject_id in outcome.not_locked:
        print(f"{subject_id}: not locked; left as it is")
    for subject_id, still_open in outcome.left_open.items():
        print(f"{subject_id}: not locked, not final: {', '.join(still_open)}")
    if outcome.changed:  # a subject left as it was is said above, once
        left = f"; {len(outcome.left_open)} not final, left unlocked" if outcome.left_open else ""
        print(f"{len(outcome.changed)} subject(s) {verb}ed in {db.where}{left}", file=sys.stderr)
    elif outcome.left_open:
        print(f"no subject locked in {db.where}: none of them is final", file=sys.stderr)
    return 0


def _check(args: argparse.Namespace) -> None:
    verb = args.command
    if args.list and (args.subjects or args.reason or args.all or args.incomplete or args.final_only):
        raise CommandError(
            "--list lists the locked subjects: give it no SUBJECT, --all, --incomplete, --final-only or --reason"
        )
    if args.incomplete and args.final_only:
        raise CommandError("give either --incomplete (lock them as they are) or --final-only (only the final ones)")
    if args.format != "table" and not args.list:
        raise CommandError(f"--format {args.format} is for --list")
    if args.all and args.subjects:
        raise CommandError("give either SUBJECT ... or --all, not both")
    if not args.list and not args.subjects and not args.all:
        also = " (or --all of them, or --list the locked ones)" if verb == "lock" else " (or --all the locked ones)"
        raise CommandError(f"name the subjects to {verb}{also}")
    if not args.list and not (args.reason or "").strip():
        raise CommandError(f"--reason is needed: why the subjects are {verb}ed (it is kept in the audit trail)")


def _refused_as(args: argparse.Namespace) -> tuple[str, list[str]]:
    """What a refused sign-in tried, for the audit trail, and the subjects it names (an entry under each)."""
    if args.list:
        return "listing the locked subjects (recist lock --list)", []
    if args.all:
        return f"recist {args.command} --all (every {'' if args.command == 'lock' else 'locked '}subject)", []
    names = list(dict.fromkeys(name.strip() for name in args.subjects if name.strip()))
    return f"recist {args.command} of subject{'s' if len(names) > 1 else ''} {', '.join(names)}", names


def run(args: argparse.Namespace) -> int:
    from workstation.storage.locks import LOCKING_ROLES, LockError

    _check(args)
    try:
        db = open_database(args.db, create=False)
    except StorageError as exc:
        raise CommandError(str(exc)) from None
    try:
        what, named = _refused_as(args)
        user = unblinded_user(db, args, LOCKING_ROLES, what, named)
        return _list(db, args.format) if args.list else _change(db, args, user)
    except (LockError, PermissionDenied, StorageError) as exc:
        raise CommandError(str(exc)) from None
    finally:
        db.close()
