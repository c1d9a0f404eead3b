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


def test_a_blinded_message_shows_no_moment_of_the_real_calendar():
    """A central-review manager's finding: the stale-save message in the blinded window said "changed by r1 at
    2026-11-27T23:33:30Z" (a real date: the study calendar's dates become day N, this one matched no pattern)."""
    from workstation.review.blinding import STUDY_DAY_ONE
    from workstation.review.central_worklist import TextBlinder

    blind = TextBlinder()
    said = blind("the read of subject BICR-X by r1 was changed by r1 at 2026-11-27T23:33:30.123Z (version 4)")
    assert said == "the read of subject BICR-X by r1 was changed by r1 at [time] (version 4)"
    assert blind("saved 2026-11-27 23:33:30+01:00") == "saved [time]"
    assert blind(f"PR at {STUDY_DAY_ONE.isoformat()}") == "PR at day 1"  # the study calendar's dates as before
