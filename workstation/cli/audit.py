"""`recist audit verify` checks the tamper-evident chain, and every stored read against it; `recist audit show
SUBJECT --user NAME` lists a subject's entries (a data manager or administrator: they link the subject to its
central-review pseudonym); `recist audit accounts --user NAME` lists the entries that concern no subject: user accounts
created or changed, failed sign-ins and signatures, and access refused to a role (21 CFR 11.300(d): attempts at
unauthorised use must be found).

SUBJECT is a subject id or its central-review pseudonym (BICR-..., as review listings show it): either way the entries
of the subject and of its pseudonym are listed, and a pseudonym is named on stderr with the subject it stands for.
That unblinds it, so it is done only after a data manager or administrator has signed in; anyone else is told why not.
Each listing is itself recorded in the trail (action ``view-audit``), as an unblinded export is.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from workstation.audit import AuditEntry
from workstation.cli import CommandError
from workstation.cli.users import SignInFailed, add_sign_in_arguments, unblinded_user
from workstation.storage import StorageError, audit_log, open_database


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("audit", help="show or verify the tamper-evident audit trail")
    actions = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = actions.add_parser(
        "verify",
        help="check every entry's hash (naming the first broken entry), and that every stored read is what the trail "
             "recorded (naming each entity changed outside the workstation)",
    )
    show = actions.add_parser("show", help="list the audit entries of one subject (site id or review pseudonym)")
    show.add_argument(
        "subject",
        help="subject id or its central-review pseudonym (BICR-...); the entries of both are listed",
    )
    show.add_argument("--format", choices=["table", "json"], default="table")
    add_sign_in_arguments(show, "reading the audit trail")
    accounts = actions.add_parser(
        "accounts",
        help="list the entries about no subject: user accounts, failed sign-ins and signatures, refused access",
    )
    accounts.add_argument("--format", choices=["table", "json"], default="table")
    add_sign_in_arguments(accounts, "reading the audit trail")
    for sub in (verify, show, accounts):
        sub.add_argument("--db", help="database URL or SQLite file (default: $RECIST_DB or the user data folder)")
    p.set_defaults(func=run)


#: The action of the entry a data manager's `audit show` leaves (it shows a subject beside its pseudonym).
VIEW_ACTION = "view-audit"


def _value(text: str | None) -> str:
    return "-" if text is None else text


def _print_entries(entries: list[AuditEntry], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps([e.__dict__ for e in entries], indent=1))
        return
    for e in entries:
        print(f"#{e.seq}  {e.recorded_at}  {e.username}  {e.action}  {e.entity}")
        if e.reason:
            print(f"    reason: {e.reason}")
        if e.old_value is not None:
            print(f"    old: {_value(e.old_value)}")
        if e.new_value is not None:
            print(f"    new: {_value(e.new_value)}")


def run(args: argparse.Namespace) -> int:
    try:
        db = open_database(args.db, create=False)
    except StorageError as exc:
        raise CommandError(str(exc)) from None
    try:
        if args.audit_command == "verify":
            from workstation.storage.consistency import check_reads

            check = audit_log.verify(db)
            print(check.message())
            # the chain proves the trail unchanged, not the tables: each stored read is compared with it too
            stored = check_reads(db)
            print(stored.message())
            return 0 if check.ok and stored.ok else 1
        if args.audit_command == "accounts":
            unblinded_user(db, args)  # who tried what, and when: for a data manager or administrator
            entries = audit_log.entries(db, [""])
            if not entries:
                raise CommandError(f"no audit entries about user accounts or access in {db.where}", code=1)
            _print_entries(entries, args.format)
            return 0
        from workstation.review.blinding import looks_like_pseudonym
        from workstation.review.for_export import ExportSelectionError, resolve_subject
        from workstation.review.service import pseudonym_of

        try:
            user = unblinded_user(db, args)  # it links a subject to its central-review pseudonym
        except SignInFailed:
            raise  # a wrong password is nothing to do with the pseudonym
        except CommandError as exc:
            if looks_like_pseudonym(args.subject):
                raise CommandError(
                    f"{args.subject.strip()} is a central-review pseudonym: showing the audit entries of the subject "
                    f"it stands for unblinds it ({exc})",
                    exc.code,
                ) from None
            raise
        try:
            subject = resolve_subject(db, args.subject)
        except ExportSelectionError:
            subject = args.subject  # not in the reads or the review, but the audit trail may still name it
        if subject != args.subject.strip():
            print(f"{args.subject.strip()}: the central-review pseudonym of subject {subject}", file=sys.stderr)
        ids = [subject]
        pseudonym = pseudonym_of(db, subject)
        if pseudonym:
            ids.append(pseudonym)
        entries = audit_log.entries(db, ids)
        if not entries:
            raise CommandError(f"no audit entries for subject {args.subject!r} in {db.where}", code=1)
        # Seeing a subject's trail beside its pseudonym unblinds it: recorded, as an unblinded export is.
        with db.transaction() as conn:
            audit_log.append(
                conn,
                username=user.username,
                action=VIEW_ACTION,
                entity=f"audit/{subject}",
                subject_id=subject,
                new={"what": "recist audit show", "asked_for": args.subject.strip(), "entries": len(entries)},
            )
        _print_entries(entries, args.format)
        return 0
    except StorageError as exc:
        raise CommandError(str(exc)) from None
    finally:
        db.close()
