"""Fixtures for the GUI tier: a main window on an in-memory trial of phantom volumes (no DICOM, no model)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.gui.phantom import PhantomLesion, ThresholdSegmenter, phantom_volume
from tests.services import postgres_server as pg
from tests.services.postgres_server import make_users
from workstation.session.persistence import JsonReadStore
from workstation.session.suggestions import MeasuringService
from workstation.session.worklist import InMemorySource, SubjectEntry, TimepointEntry

#: baseline lesions: T1 liver 30 mm long axis, T2 liver 24 mm; at week 6 both at 60 % of their size (PR: -40 %)
LESIONS = [
    PhantomLesion((20.0, 10.0, 50.0), (15.0, 9.0, 7.0)),
    PhantomLesion((-25.0, -5.0, 45.0), (12.0, 8.0, 6.0)),
]


def scaled(factor: float) -> list[PhantomLesion]:
    return [PhantomLesion(les.centre_mm, tuple(r * factor for r in les.radii_mm)) for les in LESIONS]  # type: ignore[misc]


def phantom_subject(subject_id: str = "S1") -> SubjectEntry:
    start = date(2026, 1, 5)
    volumes = [
        phantom_volume(LESIONS, uid="1.2.10"),
        phantom_volume(scaled(0.6), shift_mm=(3.0, -2.0, 0.0), uid="1.2.11", seed=1),
    ]
    labels = ["baseline", "week 6"]
    return SubjectEntry(
        subject_id,
        [
            TimepointEntry(label, start + timedelta(days=42 * n), InMemorySource(v, description=label))
            for n, (label, v) in enumerate(zip(labels, volumes, strict=True))
        ],
    )


@pytest.fixture
def window(qtbot, tmp_path: Path) -> Iterator[object]:
    from workstation.ui.main_window import MainWindow

    segmenter = ThresholdSegmenter()
    w = MainWindow(
        reader="tester",
        store=JsonReadStore(tmp_path / "reads"),
        measuring=MeasuringService(segmenter),
        data_dir=tmp_path,
    )
    w.auto_answer = True
    w.segmenter = segmenter  # type: ignore[attr-defined]
    qtbot.addWidget(w)
    w.show()
    yield w
    w.jobs.cancel_all()
    w.jobs.wait(5000)


#: cheap argon2 parameters for every GUI test that signs in or signs (autouse)
fast_password_hashing = pg.fast_password_hashing


@pytest.fixture
def db_window(qtbot, tmp_path: Path):
    from workstation.session.suggestions import MeasuringService
    from workstation.storage import open_database
    from workstation.storage.read_store import DatabaseReadStore
    from workstation.ui.main_window import MainWindow

    db = open_database(str(tmp_path / "workstation.db"))
    users = make_users(db)
    store = DatabaseReadStore(db, users["site1"])  # type: ignore[arg-type]
    w = MainWindow(reader="site1", store=store, measuring=MeasuringService(ThresholdSegmenter()), data_dir=tmp_path)
    w.auto_answer = True
    qtbot.addWidget(w)
    w.show()
    yield w
    w.jobs.cancel_all()
    w.jobs.wait(5000)
    db.close()
