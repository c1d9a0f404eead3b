"""A throw-away PostgreSQL server for the service tests: initdb + pg_ctl in a temp dir, on a free loopback port.

As root, the cluster is owned by and run as the ``postgres`` user (PostgreSQL refuses to run as root). Tests that
need it are skipped, with the reason, only when the Debian PostgreSQL binaries are absent.
"""

from __future__ import annotations

import atexit
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest


def find_pg_bin() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    bindir: Path
    root: Path
    port: int
    run_as: list[str]
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _pg(self, tool: str, *args: str) -> None:
        subprocess.run([*self.run_as, str(self.bindir / tool), *args], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        data = self.root / "data"
        self._pg("initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg("pg_ctl", "-D", str(data), "-o", options, "-l", str(self.root / "log"), "-w", "start")

    def stop(self) -> None:
        self._pg("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")

    def create_database(self) -> str:
        """A fresh, empty database; returns its URL."""
        import psycopg

        name = f"test_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"


def start_postgres() -> PostgresServer:
    bindir = find_pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (Debian package 'postgresql') are not installed; .ci/run installs them")
    root = Path(tempfile.mkdtemp(prefix="recist-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    server = PostgresServer(bindir, root, _free_port(), run_as)
    try:
        server.start()
    except subprocess.CalledProcessError as exc:
        log = (root / "log").read_text() if (root / "log").exists() else ""
        raise RuntimeError(f"could not start PostgreSQL: {exc.stderr.decode()} {log}") from None
    return server


_shared: PostgresServer | None = None


def _stop_shared() -> None:
    if _shared is not None:
        _shared.stop()
        shutil.rmtree(_shared.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    """One server for the whole run, however many test modules use it; stopped when the run ends."""
    global _shared
    if _shared is None:
        _shared = start_postgres()
        atexit.register(_stop_shared)
    return _shared


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database URL, once on SQLite and once on a real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'workstation.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database()


# --- sample data shared by the storage, audit and review tests ---

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2 parameters for tests (the parameters live in each hash, so verifying works the same way)."""
    from argon2 import PasswordHasher

    from workstation import users

    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def make_users(db: object) -> dict[str, object]:
    """An administrator, a site reader, three central readers, an adjudicator and a data manager, all with
    ``PASSWORD``."""
    from workstation.users import UserRole, add_user

    admin = add_user(
        db,
        username="admin",
        full_name="Ada Admin",
        role=UserRole.ADMINISTRATOR,  # type: ignore[arg-type]
        password=PASSWORD,
        created_by=None,
    )
    people = {"admin": admin}
    for username, name, role in [
        ("site1", "Sam Site", UserRole.SITE_READER),
        ("reader1", "Rita Reader", UserRole.CENTRAL_READER),
        ("reader2", "Rob Reader", UserRole.CENTRAL_READER),
        ("reader3", "Rhea Reader", UserRole.CENTRAL_READER),
        ("adjud", "Alex Adjudicator", UserRole.ADJUDICATOR),
        ("datamgr", "Dana Manager", UserRole.DATA_MANAGER),
    ]:
        people[username] = add_user(
            db,
            username=username,
            full_name=name,
            role=role,  # type: ignore[arg-type]
            password=PASSWORD,
            created_by=admin,
        )
    return people


def make_read(subject_id: str = "SITE01-0042", reader: str = "site1", diameters: tuple[float, ...] = (50.0, 30.0)):
    """A two-timepoint read with every field set: AI provenance, end points, a node with short axis, a non-target."""
    from datetime import date

    from workstation.read_model import (
        Lesion,
        LesionAssessment,
        LesionStatus,
        Measurement,
        MeasurementOrigin,
        Read,
        Role,
        TimepointRead,
    )

    read = Read(subject_id=subject_id, reader=reader, criteria="RECIST 1.1", sd_min_days=49)
    read.lesions = {
        "T1": Lesion("T1", Role.TARGET, "liver", location="segment VII"),
        "T2": Lesion("T2", Role.TARGET, "lymph node", is_node=True, location="left gastric"),
        "NT1": Lesion("NT1", Role.NON_TARGET, "peritoneum"),
    }
    dates = [date(2024, 3, 5), date(2024, 4, 16)]
    for i, (when, scale) in enumerate(zip(dates, (1.0, diameters[1] / diameters[0]), strict=True)):
        tp = TimepointRead(
            f"TP{i}",
            when,
            study_uid=f"1.2.826.0.1.3680043.8.498.{i + 1}",
            series_uid=f"1.2.826.0.1.3680043.8.498.{i + 11}",
        )
        tp.assessments["T1"] = LesionAssessment(
            LesionStatus.MEASURED,
            [
                Measurement(
                    long_axis_mm=diameters[0] * scale if i else diameters[0],
                    short_axis_mm=21.123456789012345,
                    long_axis_endpoints=((-10.25, 33.1, -120.0), (15.0 / 3.0, 60.7, -120.0)),
                    short_axis_endpoints=((0.1, 40.0, -120.0), (0.2, 61.123456789, -120.0)),
                    series_uid=tp.series_uid,
                    sop_instance_uid=f"1.2.826.0.1.3680043.8.498.{i + 100}",
                    frame_of_reference_uid="1.2.826.0.1.3680043.8.498.999",
                    slice_position_mm=-120.0,
                    volume_ml=12.5,
                    origin=MeasurementOrigin.ADJUSTED,
                    engine="monai",
                    model_id="lesion-unet",
                    model_version="1.0.3",
                    mask_ref=f"mask-{i}",
                )
            ],
            comment="rim enhancing",
        )
        tp.assessments["T2"] = LesionAssessment(
            LesionStatus.MEASURED, [Measurement(long_axis_mm=25.0, short_axis_mm=16.0 if i == 0 else 9.0)]
        )
        # where the reader saw the non-target (not a measurement), kept to the last digit
        tp.assessments["NT1"] = LesionAssessment(LesionStatus.PRESENT, point_mm=(31.5, -12.0 / 7.0, -98.25 - i))
        read.timepoints.append(tp)
    return read
