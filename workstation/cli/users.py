"""`recist users add/list/deactivate/reactivate`: user accounts and roles, for administrators.

The first user of a new database must be an administrator and needs no one to authorise it. Passwords are asked for
on the terminal, or read one per line from standard input with ``--password-stdin`` (the new user's, then the
administrator's).
"""

from __future__ import annotations

import argparse
import getpass
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from workstation.cli import CommandError
from workstation.storage import Database, StorageError, open_database
from workstation.storage.database import NoDatabase
from workstation.users import (
    AuthenticationError,
    PermissionDenied,
    User,
    UserError,
    UserRole,
    add_user,
    authenticate,
    has_users,
    list_users,
    record_denial,
    require_role,
    set_active,
    with_article,
)


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("users", help="manage workstation users and roles")
    actions = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add a user (the first user must be an administrator)")
    add.add_argument("username")
    add.add_argument("--full-name", required=True, help="shown in every signature")
    add.add_argument("--role", required=True, choices=[r.value for r in UserRole])
    lst = actions.add_parser("list", help="list users and roles")
    deactivate = actions.add_parser("deactivate", help="deactivate an account (users are never deleted)")
    reactivate = actions.add_parser("reactivate", help="reactivate a deactivated account")
    for sub in (deactivate, reactivate):
        sub.add_argument("username")
        sub.add_argument("--reason", required=True, help="why (kept in the audit trail)")
    stdin_help = {
        add: "read the passwords from stdin, one per line: the new user's first, then --admin's (none for the "
        "first user)",
        lst: "read --admin's password from stdin",
        deactivate: "read --admin's password from stdin",
        reactivate: "read --admin's password from stdin",
    }
    for sub in (add, lst, deactivate, reactivate):
        sub.add_argument("--admin", help="the administrator authorising this (not needed for the first user)")
        sub.add_argument("--password-stdin", action="store_true", help=stdin_help[sub])
        sub.add_argument("--db", help="database URL or SQLite file (default: $RECIST_DB or the user data folder)")
    p.set_defaults(func=run)


def password_reader(from_stdin: bool) -> Callable[[str], str]:
    def ask(prompt: str) -> str:
        if from_stdin:
            line = sys.stdin.readline()
            if not line:
                raise CommandError(f"standard input ended before the {prompt}")
            return line.rstrip("\n")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", getpass.GetPassWarning)  # it would read the password echoed
                return getpass.getpass(f"{prompt}: ")
        except (EOFError, getpass.GetPassWarning):
            raise CommandError(
                f"no terminal to ask for the {prompt} on: send it on standard input with --password-stdin"
            ) from None

    return ask


def administrator(db: Database, args: argparse.Namespace, ask: Callable[[str], str]) -> User:
    if not args.admin:
        raise CommandError("name the administrator authorising this with --admin")
    try:
        admin = authenticate(db, args.admin, ask(f"password of administrator {args.admin}"))
        require_role(admin, UserRole.ADMINISTRATOR)
    except AuthenticationError as exc:  # which sign-in failed (the name is the caller's own, so it discloses nothing)
        raise CommandError(f"--admin {args.admin}: {exc}") from None
    except PermissionDenied as exc:
        record_denial(db, admin, f"recist users {args.users_command}")
        raise CommandError(str(exc)) from None
    return admin


def add_sign_in_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--user", help=f"who is {what}: a data manager or administrator (password asked)")
    parser.add_argument("--password-stdin", action="store_true", help="read the password from stdin")


def refuse_sign_in_without_db(args: argparse.Namespace) -> None:
    """READS files are exported or reported by whoever holds them: a --user given with them would sign in no one, so
    it is refused rather than silently ignored (the user may have meant --db)."""
    if getattr(args, "user", None) or getattr(args, "password_stdin", False):
        raise CommandError("--user and --password-stdin sign in for --db (the reading database); READS files need none")


class SignInFailed(CommandError):
    """--user could not sign in (a wrong name or password): said as such, whatever the command was asked for."""


def unblinded_user(
    db: Database,
    args: argparse.Namespace,
    roles: tuple[UserRole, ...] = (UserRole.DATA_MANAGER, UserRole.ADMINISTRATOR),
    what: str = "",
    subject_ids: Sequence[str] = (),
) -> User:
    """The data manager (or administrator) running a command that shows unblinded data (real subject ids, dates, the
    central-review pseudonyms): named with --user and signed in, so that a reader who knows the database's address
    cannot unblind themselves with it, and the audit trail names a person, not an operating-system login. ``roles``:
    who may (an act such as assigning readers is an administrator's alone); a refusal is audited as ``what`` (default
    the command's name), once under each of ``subject_ids`` when the command names subjects."""
    wanted = " or ".join(with_article(r) for r in roles)
    if not args.user:
        raise CommandError(f"this shows unblinded data: sign in with --user NAME ({wanted})")
    try:
        user = authenticate(db, args.user, password_reader(args.password_stdin)(f"password of {args.user}"))
    except AuthenticationError as exc:  # audited by authenticate
        raise SignInFailed(f"--user {args.user}: {exc}") from None
    try:
        require_role(user, *roles)
    except PermissionDenied as exc:
        for subject_id in subject_ids or [""]:
            record_denial(db, user, what or f"recist {args.command}", subject_id=subject_id)
        raise CommandError(str(exc)) from None
    return user


def run(args: argparse.Namespace) -> int:
    ask = password_reader(args.password_stdin)
    # Only the first user, an administrator, creates a database: any other role needs one that has an administrator,
    # so a refused first user leaves no empty database file behind.
    creates = args.users_command == "add" and args.role == UserRole.ADMINISTRATOR.value
    try:
        db = open_database(args.db, create=creates)
    except NoDatabase as exc:
        if args.users_command == "add" and not creates:
            raise CommandError(f"{exc}; the first user of a new database must be an administrator") from None
        raise CommandError(str(exc)) from None
    except StorageError as exc:
        raise CommandError(str(exc)) from None
    try:
        if args.users_command == "add":
            password = ask(f"new password for {args.username}")
            if not args.password_stdin and getpass.getpass("repeat it: ") != password:
                raise CommandError("the two passwords differ")
            admin = administrator(db, args, ask) if has_users(db) else None
            user = add_user(
                db,
                username=args.username,
                full_name=args.full_name,
                role=args.role,
                password=password,
                created_by=admin,
            )
            print(f"added {user.username} ({user.full_name}) as {user.role.value} to {db.where}")
            return 0
        if args.users_command in ("deactivate", "reactivate"):
            admin = administrator(db, args, ask)
            user = set_active(
                db, args.username, active=args.users_command == "reactivate", admin=admin, reason=args.reason
            )
            print(f"{user.username} is now {'active' if user.active else 'inactive'}")
            return 0
        if has_users(db):
            administrator(db, args, ask)
        for u in list_users(db):
            print(f"{u.username:<20} {u.role.value:<15} {'active' if u.active else 'inactive':<9} {u.full_name}")
        return 0
    except (UserError, PermissionDenied, StorageError) as exc:
        raise CommandError(str(exc)) from None
    finally:
        db.close()
