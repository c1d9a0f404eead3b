"""`recist audit verify` checks the tamper-evident chain; `recist audit show SUBJECT --user NAME` lists a subject's
entries (a data manager or administrator: they link the subject to its central-review pseudonym)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from workstation.audit import AuditEntry
from workstation.cli import CommandError
from workstation.cli.users import add_sign_in_arguments, unblinded_user
from workstation.storage import StorageError, audit_log, open_database


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("audit", help="show or verify the tamper-evident audit trail")
    actions = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = actions.add_parser("verify", help="check every entry's hash; name the first broken entry")
    show = actions.add_parser("show", help="list the audit entries of one subject (site id or review pseudonym)")
    show.add_argument("subject", help="subject id (its central-review pseudonym's entries are included)")
    show.add_argument("--format", choices=["table", "json"], default="table")
    add_sign_in_arguments(show, "reading the audit trail")
    for sub in (verify, show):
        sub.add_argument("--db", help="database URL or SQLite file (default: $RECIST_DB or the user data folder)")
    p.set_defaults(func=run)


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
            check = audit_log.verify(db)
            print(check.message())
            return 0 if check.ok else 1
        from workstation.review.service import pseudonym_of

        unblinded_user(db, args)  # it links a subject to its central-review pseudonym
        ids = [args.subject]
        pseudonym = pseudonym_of(db, args.subject)
        if pseudonym:
            ids.append(pseudonym)
        entries = audit_log.entries(db, ids)
        if not entries:
            raise CommandError(f"no audit entries for subject {args.subject!r} in {db.where}", code=1)
        _print_entries(entries, args.format)
        return 0
    except StorageError as exc:
        raise CommandError(str(exc)) from None
    finally:
        db.close()
