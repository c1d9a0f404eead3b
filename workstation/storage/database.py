"""Opening the workstation database: SQLite file by default, PostgreSQL by URL; schema migrations at open.

Every failure to open or use the database becomes a `StorageError` whose message says what went wrong and where
(the file, or the server URL without its password), never a driver traceback.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from workstation import paths

MIGRATIONS = Path(__file__).with_name("migrations")
#: Seconds a SQLite writer waits for another writer before the database counts as locked.
SQLITE_BUSY_TIMEOUT_S = 5.0


class StorageError(Exception):
    """The database cannot be opened or used; the message names the database and what is wrong."""


class NoDatabase(StorageError):
    """``create=False`` and there is no database there yet (no file, or an empty one)."""


def default_database_url() -> str:
    """``$RECIST_DB`` if set, else a SQLite file in the user's data folder (platformdirs)."""
    env = os.environ.get("RECIST_DB")
    if env:
        return env
    return f"sqlite:///{paths.default_sqlite_path()}"


def normalise_url(url: str) -> str:
    """A bare path means a SQLite file; ``postgresql://`` uses the psycopg 3 driver."""
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def describe_url(url: str) -> str:
    try:
        parsed = make_url(url)
    except ArgumentError:
        return re.sub(r"//([^:/@]*):[^@]*@", r"//\1:***@", url)  # never print a password
    if parsed.get_backend_name() == "sqlite":
        return f"database file {parsed.database}"
    return f"database {parsed.render_as_string(hide_password=True)}"


def explain(exc: BaseException, where: str) -> str:
    """One line for the user from a driver error."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    low = text.lower()
    if "database is locked" in low or "database table is locked" in low:
        return f"{where} is locked by another program (still locked after {SQLITE_BUSY_TIMEOUT_S:g} s); try again"
    if "file is not a database" in low or "malformed" in low:
        return (
            f"{where} is not a workstation database, or is damaged ({text}): check --db, and if it is the trial's "
            "database, restore it from a backup"
        )
    if "unable to open database file" in low:
        return f"cannot open {where}: the folder is missing or not writable"
    if "readonly" in low or "read-only" in low:
        return f"{where} is read-only ({text})"
    if "disk is full" in low or "disk i/o error" in low:  # SQLITE_FULL, SQLITE_IOERR: nothing was written
        return (f"{where}: {text}: nothing was saved; check that its disk has free space and is writable, "
                "then try again")
    if "connection refused" in low or "could not connect" in low or "connection failed" in low:
        return f"cannot connect to {where}: {text}"
    if "no such table" in low or "undefinedtable" in low.replace(" ", "") or "does not exist" in low:
        return f"{where} does not have the workstation's tables ({text})"
    return f"{where}: {text}"


def transaction_lock(conn: Connection, name: str, *, shared: bool = False) -> None:
    """PostgreSQL: an advisory lock named ``name`` until the transaction ends (``shared`` ones coexist, an exclusive
    one waits for them all), so that a check and the write it allows are not split by another workstation's write.
    SQLite: nothing to do, its write transaction holds the database's lock already."""
    if conn.dialect.name != "postgresql":
        return
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    conn.execute(text(f"SELECT {function}(:key)"), {"key": key})


class Database:
    """An open, migrated database. Use `transaction()` for every unit of work (one save = one transaction)."""

    def __init__(self, engine: Engine, url: str, file: Path | None = None) -> None:
        self.engine = engine
        self.url = url
        self.where = describe_url(url)
        #: a SQLite file's path and identity (device, inode) when it was opened: a file deleted or replaced since
        #: (a restored backup copied in its place) must not take saves that would go to the unlinked old file
        self._file: tuple[Path, tuple[int, int]] | None = None
        if file is not None:
            with contextlib.suppress(OSError):
                st = file.stat()
                self._file = (file, (st.st_dev, st.st_ino))

    def _check_file(self) -> None:
        """Refuse to write when the SQLite file was deleted or replaced since it was opened: the writes would go to the
        old, unlinked file and be lost on close, while saying they were saved."""
        if self._file is None:
            return
        path, identity = self._file
        try:
            st = path.stat()
        except OSError:
            raise StorageError(f"{self.where} was deleted or moved since it was opened; nothing was saved. Restore "
                               "the file, or close and reopen the workstation on another database") from None
        if (st.st_dev, st.st_ino) != identity:
            raise StorageError(f"{self.where} was replaced by another file since it was opened; nothing was saved. "
                               "Close and reopen the workstation to use the new file") from None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A transaction that commits on success and rolls back on any error (never a half-written change)."""
        self._check_file()
        try:
            with self.engine.begin() as conn:
                yield conn
        except DBAPIError as exc:
            raise StorageError(explain(exc, self.where)) from None

    @contextlib.contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read-only transaction on one consistent snapshot (several SELECTs see the same committed state: a read and
        its rows, the audit chain and its head). On SQLite it never waits for a writer (WAL); on PostgreSQL it is
        REPEATABLE READ, which never fails for a transaction that only reads."""
        options: dict[str, str] = (
            {"sqlite_begin": "DEFERRED"} if self.dialect == "sqlite" else {"isolation_level": "REPEATABLE READ"}
        )
        try:
            with self.engine.connect().execution_options(**options) as conn, conn.begin():
                yield conn
        except DBAPIError as exc:
            raise StorageError(explain(exc, self.where)) from None

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _sqlite_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # a new file is readable by its owner only (SQLite gives its -wal and -shm files the same permissions)
        with contextlib.suppress(FileExistsError):
            os.close(os.open(parsed.database, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event own the transaction, so writes take the lock up front (BEGIN IMMEDIATE)
        # instead of failing half-way when a read lock cannot be upgraded.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer; a crash never loses a commit
        cur.execute("PRAGMA synchronous=FULL")  # fsync at every commit: a power loss keeps what was saved
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {'DEFERRED' if mode == 'DEFERRED' else 'IMMEDIATE'}")

    return engine


def _alembic_config(conn: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def _migrate(engine: Engine, where: str) -> None:
    """Bring the schema up to date. Checked first in a read-only transaction, which on SQLite never waits for a
    writer, so opening an up-to-date database (every open but the first after an update) takes no write lock: a
    workstation or a read-only command opens it while another one saves. Only an upgrade takes the write lock, and
    checks again under it (another program may have upgraded it meanwhile)."""
    with engine.connect().execution_options(sqlite_begin="DEFERRED") as conn, conn.begin():
        if _outdated(conn, where) is None:
            return
    with engine.begin() as conn:
        current = _outdated(conn, where)
        if current is None:
            return
        command.upgrade(_alembic_config(conn), "head")
        if current:  # not a new database: say so, an older workstation can no longer open it
            logging.getLogger(__name__).warning(
                "%s: schema upgraded from %s to %s; older versions of the workstation cannot open it any more",
                where, ", ".join(sorted(current)), ", ".join(sorted(_heads(conn))),
            )  # fmt: skip


def _heads(conn: Connection) -> set[str]:
    return set(ScriptDirectory.from_config(_alembic_config(conn)).get_heads())


def _outdated(conn: Connection, where: str) -> tuple[str, ...] | None:
    """The schema versions the database is at when it needs an upgrade (empty for a new database), None when it is up
    to date; a foreign database or one of a newer workstation is refused."""
    cfg = _alembic_config(conn)
    known = {rev.revision for rev in ScriptDirectory.from_config(cfg).walk_revisions()}
    current = MigrationContext.configure(conn).get_current_heads()
    tables = set(inspect(conn).get_table_names())
    if not current and tables - {"alembic_version"}:
        raise StorageError(
            f"{where} is not a workstation database (it has tables {', '.join(sorted(tables)[:5])}, "
            "but no schema version); open another file"
        )
    unknown = [rev for rev in current if rev not in known]
    if unknown:
        raise StorageError(
            f"{where} has schema version {unknown[0]}, which this version of the workstation does not know "
            "(it was written by a newer version); update the workstation"
        )
    return None if set(current) == _heads(conn) else tuple(current)


def open_database(url: str | None = None, *, create: bool = True) -> Database:
    """Open the database at ``url`` (creating a SQLite file if ``create``) and bring its schema up to date.

    Raises `StorageError` with a clear message for a damaged, locked, foreign or newer-schema database.
    """
    url = normalise_url(url or default_database_url())
    where = describe_url(url)
    try:
        parsed = make_url(url)
        is_sqlite = parsed.get_backend_name() == "sqlite"
        in_file = is_sqlite and parsed.database not in (None, "", ":memory:")
        if in_file and Path(str(parsed.database)).is_dir():
            raise StorageError(f"{where} is a folder, not a database file (check --db or $RECIST_DB)")
        if in_file and not create and not Path(str(parsed.database)).is_file():
            raise NoDatabase(f"there is no {where} (check --db or $RECIST_DB)")
        if in_file and not create and Path(str(parsed.database)).stat().st_size == 0:
            raise NoDatabase(f"{where} is empty, not a workstation database (check --db or $RECIST_DB)")
        engine = _sqlite_engine(url) if is_sqlite else create_engine(url, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise StorageError(f"not a database URL I can open: {describe_url(url)} ({type(exc).__name__})") from None
    except OSError as exc:
        raise StorageError(f"cannot create the folder for {where}: {exc.strerror or exc}") from None
    try:
        if is_sqlite:
            with engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
                check = conn.exec_driver_sql("PRAGMA quick_check").scalar()
            if check != "ok":
                found = " ".join(str(check).split())[:200]
                raise StorageError(f"{where} is damaged (SQLite quick_check: {found}); restore it from a backup")
        if not create:
            with engine.connect().execution_options(sqlite_begin="DEFERRED") as conn, conn.begin():
                empty = not inspect(conn).get_table_names()
            if empty:  # an empty file or database: opening it would silently make it a workstation database
                raise NoDatabase(f"{where} is empty, not a workstation database (check --db or $RECIST_DB)")
        _migrate(engine, where)
    except StorageError:  # NoDatabase included
        engine.dispose()
        raise
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StorageError(explain(exc, where)) from None
    return Database(engine, url, Path(str(parsed.database)) if in_file else None)
