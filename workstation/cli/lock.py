"""`recist lock SUBJECT ... --reason TEXT`: lock subjects for analysis (the trial data manager's database lock before
the primary analysis); `recist lock --list`: the locked subjects; `recist unlock SUBJECT ... --reason TEXT`.

A locked subject's reads are no longer saved, amended, signed or deleted, and it is neither enrolled nor adjudicated
in central review, until it is unlocked; it is still read and exported. For a signed-in data manager or administrator
(--user NAME; the password on the terminal or with --password-stdin); every lock and unlock is in the audit trail
with its reason. SUBJECT is a subject id or its central-review pseudonym (BICR-..., as review listings show it; the
subject it stands for is named on stderr). A subject already locked (or, unlocking, not locked) is said and left as
it is; a subject the database does not hold stops the command, and nothing is locked.
"""

from __future__ import annotations

import argparse
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
    p.add_argument("--list", action="store_true", help="list the locked subjects: subject, locked by, at, reason")
    p.set_defaults(func=run)


def add_unlock_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "unlock",
        help="unlock subjects locked for analysis (with a reason)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(p, "unlock")
    p.set_defaults(func=run, list=False)


def _subjects(db: Database, given: list[str], verb: str) -> list[str]:
    """The real subject ids of ``given`` (a pseudonym is named on stderr with the subject it stands for)."""
    from workstation.review.for_export import ExportSelectionError, resolve_subject

    out = []
    for name in given:
        try:
            subject = resolve_subject(db, name)
        except ExportSelectionError as exc:
            raise CommandError(f"{exc}; nothing was {verb}ed") from None
        if subject != name.strip():
            print(f"{name.strip()}: the central-review pseudonym of subject {subject}", file=sys.stderr)
        out.append(subject)
    return out


def _list(db: Database) -> int:
    from workstation.storage.locks import list_locks

    locks = list_locks(db)
    if not locks:
        print(f"no subject is locked in {db.where}")
        return 0
    width = max(len("subject"), *(len(lock.subject_id) for lock in locks))
    by = max(len("locked by"), *(len(lock.locked_by) for lock in locks))
    print(f"{'subject':<{width}}  {'locked by':<{by}}  {'at':<17}  reason")
    for lock in locks:
        print(f"{lock.subject_id:<{width}}  {lock.locked_by:<{by}}  {lock.when:<17}  {lock.reason}")
    return 0


def _change(db: Database, args: argparse.Namespace, user: Any) -> int:
    from workstation.storage.locks import lock_subjects, unlock_subjects

    verb = args.command
    subjects = _subjects(db, args.subjects, verb)
    change = lock_subjects if verb == "lock" else unlock_subjects
    outcome = change(db, subjects, user=user, reason=args.reason)
    for lock in outcome.changed:
        print(f"{lock.subject_id}: {verb}ed" + (f" for analysis at {lock.when}" if verb == "lock" else ""))
    for lock in outcome.already_locked:
        print(f"{lock.subject_id}: already locked (by {lock.locked_by} at {lock.when}: {lock.reason!r}); left as it is")
    for subject_id in outcome.not_locked:
        print(f"{subject_id}: not locked; left as it is")
    print(f"{len(outcome.changed)} subject(s) {verb}ed in {db.where}", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    from workstation.storage.locks import LOCKING_ROLES, LockError

    verb = args.command
    if args.list and (args.subjects or args.reason):
        raise CommandError("--list lists the locked subjects: give it no SUBJECT and no --reason")
    if not args.list and not args.subjects:
        raise CommandError(f"name the subjects to {verb}" + (" (or --list the locked ones)" if verb == "lock" else ""))
    if not args.list and not (args.reason or "").strip():
        raise CommandError(f"--reason is needed: why the subjects are {verb}ed (it is kept in the audit trail)")
    try:
        db = open_database(args.db, create=False)
    except StorageError as exc:
        raise CommandError(str(exc)) from None
    try:
        user = unblinded_user(db, args, LOCKING_ROLES, f"recist {verb}")
        return _list(db) if args.list else _change(db, args, user)
    except (LockError, PermissionDenied, StorageError) as exc:
        raise CommandError(str(exc)) from None
    finally:
        db.close()
