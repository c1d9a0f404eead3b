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


def test_a_central_read_keeps_no_source_study_or_series(tmp_path: Path) -> None:
    """Blinding: the review keeps each timepoint's source study and series; the central read, which the reader's
    views hold, does not (the data manager's export puts them back from the review, `unblind_read`)."""
    from workstation.review.blinding import STUDY_DAY_ONE, new_blinded_read, unblind_read

    read = new_blinded_read("BICR-ABCDEFGH", "rita", [1, 43], "RECIST 1.1")
    store = JsonReadStore(tmp_path)
    session = ReadingSession(read, store)
    session.add_lesion(Role.TARGET, "liver", measurement=Measurement(30.0, 20.0, origin=MeasurementOrigin.MANUAL))
    session.note_images(0, "1.2.3", "1.2.3.4")
    session.note_images(1, "1.2.5", "1.2.5.6")
    session.save()
    saved = store.load("BICR-ABCDEFGH", "rita")
    assert saved is not None and saved.timepoints[0].date == STUDY_DAY_ONE
    assert [(tp.study_uid, tp.series_uid) for tp in saved.timepoints] == [("", ""), ("", "")]
    sources = [("1.2.3", "1.2.3.4"), ("1.2.5", "1.2.5.6")]
    unblinded = unblind_read(saved, "SITE01-0042", date(2024, 3, 5), sources)
    assert [(tp.study_uid, tp.series_uid) for tp in unblinded.timepoints] == sources
