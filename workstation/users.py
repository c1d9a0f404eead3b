"""Users, roles and passwords (argon2id hashes). Creating a user is audited; the hash never enters the audit trail."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, func, insert, select, update

from workstation.audit import AuditAction, utc_now
from workstation.storage import audit_log
from workstation.storage.database import Database
from workstation.storage.schema import users

MIN_PASSWORD_LENGTH = 10
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
_hasher = PasswordHasher()  # argon2id with the library's current recommended cost


class UserRole(StrEnum):
    SITE_READER = "site_reader"
    CENTRAL_READER = "central_reader"
    ADJUDICATOR = "adjudicator"
    ADMINISTRATOR = "administrator"
    #: exports and reports unblinded data from the reading database, reads the audit trail; reads no images
    DATA_MANAGER = "data_manager"


class UserError(Exception):
    """Invalid user data (name taken, weak password, unknown role)."""


class AuthenticationError(Exception):
    """Wrong user name or password (the message never says which)."""


class PermissionDenied(Exception):
    """The user's role does not allow this action."""


@dataclass(frozen=True)
class User:
    username: str
    full_name: str
    role: UserRole
    active: bool = True


def _user(row: object) -> User:
    m = row._mapping  # type: ignore[attr-defined]
    return User(m["username"], m["full_name"], UserRole(m["role"]), bool(m["active"]))


def _count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(users)).scalar_one())


def with_article(role: UserRole | str) -> str:
    """A role (or a read's reader role) in words with its indefinite article: "an administrator", "a central"."""
    name = (role.value if isinstance(role, UserRole) else role).replace("_", " ")
    return f"{'an' if name[:1] in 'aeiou' else 'a'} {name}"


def require_role(user: User, *roles: UserRole) -> None:
    if not user.active or user.role not in roles:
        wanted = " or ".join(with_article(r) for r in roles)
        raise PermissionDenied(f"{user.username} is {with_article(user.role)}; this needs {wanted}")


def add_user(
    db: Database, *, username: str, full_name: str, role: UserRole | str, password: str, created_by: User | None
) -> User:
    """Add a user. The very first user must be an administrator and needs no ``created_by``; later ones need one."""
    try:
        role = UserRole(role)
    except ValueError:
        raise UserError(f"unknown role {role!r}; use one of: {', '.join(r.value for r in UserRole)}") from None
    if not _USERNAME.match(username):
        raise UserError(f"user name {username!r}: use 2-64 lower-case letters, digits, '.', '_' or '-'")
    if not full_name.strip():
        raise UserError("a user needs a full name (it is shown in every signature)")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    user = User(username, full_name.strip(), role)
    with db.transaction() as conn:
        if _count(conn) == 0:
            if role is not UserRole.ADMINISTRATOR:
                raise UserError("the first user must be an administrator")
            author = username
        else:
            if created_by is None:
                raise PermissionDenied("only an administrator can add users")
            require_role(created_by, UserRole.ADMINISTRATOR)
            author = created_by.username
        if conn.execute(select(users.c.username).where(users.c.username == username)).first():
            raise UserError(f"user {username!r} already exists")
        conn.execute(
            insert(users).values(
                username=username,
                full_name=user.full_name,
                role=role.value,
                password_hash=_hasher.hash(password),
                active=True,
                created_at=utc_now(),
                created_by=author,
            )
        )
        audit_log.append(conn, username=author, action=AuditAction.CREATE, entity=f"user/{username}", new=asdict(user))
    return user


def get_user(db: Database, username: str) -> User | None:
    with db.reading() as conn:
        row = conn.execute(select(users).where(users.c.username == username)).first()
    return _user(row) if row else None


def list_users(db: Database) -> list[User]:
    with db.reading() as conn:
        return [_user(r) for r in conn.execute(select(users).order_by(users.c.username))]


def has_users(db: Database) -> bool:
    with db.reading() as conn:
        return _count(conn) > 0


def authenticate(db: Database, username: str, password: str, *, purpose: str = "", subject_id: str = "") -> User:
    """The user, if the password is right and the account active; else `AuthenticationError`. ``purpose``: what the
    password was re-entered for (a signature, an adjudication), kept with a failure in the audit trail, under
    ``subject_id`` when it concerns one; a plain sign-in gives none."""
    with db.reading() as conn:
        row = conn.execute(select(users).where(users.c.username == username)).first()
    if row is None or not row.active:
        _hasher_dummy_verify(password)  # same time whether or not the user exists
        # the one saying it is the trail, for the data manager: the person trying is told no more than for a typo
        _record_failure(db, username, purpose, subject_id, "" if row is None else "the account is deactivated")
        raise AuthenticationError("wrong user name or password")
    try:
        _hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        _record_failure(db, username, purpose, subject_id)
        raise AuthenticationError("wrong user name or password") from None
    return _user(row)


def holds_password(text: str, password: str) -> bool:
    """Whether ``text`` (a signature's meaning, an adjudication's reason) contains the password just given: typed into
    the wrong box, it would be kept for good in the append-only audit trail and the exports, so it is refused."""
    return len(password) >= 4 and password in text


def _record_failure(db: Database, username: str, purpose: str = "", subject_id: str = "", why: str = "") -> None:
    """Failed sign-ins and signatures are audited (21 CFR 11.300(d): detect attempts at unauthorised use), with what
    the password was for when it was re-entered for an act (signing, adjudicating, changing it)."""
    with db.transaction() as conn:
        audit_log.append(
            conn,
            username=username[:64],
            action=AuditAction.LOGIN_FAILED,
            entity=f"user/{username[:64]}",
            subject_id=subject_id,
            reason=(why or "wrong user name or password") + (f" ({purpose})" if purpose else ""),
        )


def record_denial(db: Database, user: User, what: str, why: str = "", subject_id: str = "") -> None:
    """A signed-in user refused ``what`` for their role (or for ``why``) is audited, as failed sign-ins are (21 CFR
    11.300(d)); under ``subject_id`` when it concerns one (a central read's: its pseudonym), so that `recist audit
    show SUBJECT` lists it. Called after the refused transaction rolled back: the entry has a transaction of its own."""
    with db.transaction() as conn:
        audit_log.append(
            conn,
            username=user.username,
            action=AuditAction.ACCESS_DENIED,
            entity=f"user/{user.username}",
            subject_id=subject_id[:64],
            reason=f"{what}: {why or f'not allowed for {with_article(user.role)}'}",
        )


@contextlib.contextmanager
def refusals_audited(db: Database, user: User, what: str) -> Iterator[None]:
    """Inside: a `PermissionDenied` (the wrong role, a subject not assigned, someone else's read) is recorded with
    `record_denial`, then raised on: a refusal by a service is audited as one by a command is."""
    try:
        yield
    except PermissionDenied as exc:
        record_denial(db, user, what, str(exc))
        raise


def _hasher_dummy_verify(password: str) -> None:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("not a real password")
    with contextlib.suppress(VerificationError):
        _hasher.verify(_dummy_hash, password)


_dummy_hash: str | None = None


def set_active(db: Database, username: str, *, active: bool, admin: User, reason: str) -> User:
    """Deactivate (or reactivate) an account. Users are never deleted: their names stay behind their signatures."""
    require_role(admin, UserRole.ADMINISTRATOR)
    if not reason.strip():
        raise UserError("deactivating or reactivating a user needs a reason")
    if username == admin.username and not active:
        raise UserError("an administrator cannot deactivate their own account")
    with db.transaction() as conn:
        row = conn.execute(select(users).where(users.c.username == username).with_for_update()).first()
        if row is None:
            raise UserError(f"no user {username!r}")
        before = _user(row)
        conn.execute(update(users).where(users.c.username == username).values(active=active))
        after = User(before.username, before.full_name, before.role, active)
        audit_log.append(
            conn,
            username=admin.username,
            action=AuditAction.CHANGE,
            entity=f"user/{username}",
            old=asdict(before),
            new=asdict(after),
            reason=reason.strip(),
        )
    return after


def change_password(db: Database, username: str, *, old_password: str, new_password: str) -> None:
    """A user changes their own password (the old one is checked first); audited without either password."""
    authenticate(db, username, old_password, purpose="changing the password")
    if len(new_password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    with db.transaction() as conn:
        conn.execute(update(users).where(users.c.username == username).values(password_hash=_hasher.hash(new_password)))
        audit_log.append(
            conn,
            username=username,
            action=AuditAction.CHANGE,
            entity=f"user/{username}/password",
            reason="password changed by its owner",
        )
