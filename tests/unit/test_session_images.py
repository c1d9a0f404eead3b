"""The session remembers which study and series each timepoint was read on (DICOM SR and SDTM need them)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from workstation.read_model import Measurement, MeasurementOrigin, Read, Role, TimepointRead
from workstation.session.persistence import JsonReadStore
from workstation.session.reading import ReadingSession


def test_images_noted_on_load_survive_undo_and_reach_the_saved_read(tmp_path: Path) -> None:
    read = Read("S1", "alice", timepoints=[TimepointRead("baseline", date(2026, 1, 5)),
                                           TimepointRead("week 6", date(2026, 2, 16))])
    store = JsonReadStore(tmp_path)
    session = ReadingSession(read, store)
    session.add_lesion(Role.TARGET, "liver", measurement=Measurement(30.0, 20.0, origin=MeasurementOrigin.MANUAL))
    session.note_images(0, "1.2.3", "1.2.3.4")
    session.note_images(1, "1.2.5", "1.2.5.6")
    session.undo()  # back to a snapshot taken before the images loaded
    session.save()
    saved = store.load("S1", "alice")
    assert saved is not None
    assert [(tp.study_uid, tp.series_uid) for tp in saved.timepoints] == [("1.2.3", "1.2.3.4"), ("1.2.5", "1.2.5.6")]
