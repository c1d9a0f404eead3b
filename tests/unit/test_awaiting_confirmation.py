"""iRECIST: the worklist flags a subject whose read ends on an iUPD not confirmed yet (Seymour 2017)."""

from __future__ import annotations

from datetime import date

from workstation.read_model import LesionStatus, Measurement, Read, Role, TimepointRead
from workstation.session.awaiting_confirmation import awaiting_confirmation
from workstation.session.reading import ReadingSession

DATES = [date(2026, 1, 5), date(2026, 2, 16), date(2026, 3, 30), date(2026, 5, 11)]
LABELS = ["baseline", "week 6", "week 12", "week 18"]


def _m(long_mm: float) -> Measurement:
    return Measurement(long_axis_mm=long_mm, short_axis_mm=None,
                       long_axis_endpoints=((0.0, 0.0, 10.0), (long_mm, 0.0, 10.0)))


def _session(sums: list[float | None]) -> ReadingSession:
    """One liver target measured ``sums`` (None: not evaluated) at the first timepoints."""
    read = Read(subject_id="S1", reader="alice",
                timepoints=[TimepointRead(label, when) for label, when in zip(LABELS, DATES, strict=True)])
    s = ReadingSession(read)
    t1 = s.add_lesion(Role.TARGET, "liver")
    for k, mm in enumerate(sums):
        s.go_to_timepoint(k)
        if mm is None:
            s.set_status(t1, LesionStatus.NOT_EVALUATED)
        else:
            s.record_measurement(t1, _m(mm))
    return s


def test_an_iupd_at_the_last_scan_is_flagged_with_its_window_and_the_scans_not_read():
    s = _session([40.0, 50.0])  # +25 % and +10 mm: iUPD at week 6
    found = awaiting_confirmation(s.read, LABELS)
    assert found is not None
    assert (found.label, found.when, found.unread_after) == ("week 6", date(2026, 2, 16), ("week 12", "week 18"))
    assert found.window == (date(2026, 3, 14), date(2026, 4, 13))
    text = found.describe(date(2026, 2, 20))
    assert "iUPD at week 6 (2026-02-16) not confirmed yet" in text and "2026-03-14 to 2026-04-13" in text
    assert text.endswith("Not read yet: week 12, week 18")


def test_no_scan_listed_after_the_window_is_overdue():
    s = _session([40.0, 50.0])
    found = awaiting_confirmation(s.read, LABELS[:2])
    assert found is not None and found.unread_after == ()
    assert "OVERDUE" not in found.describe(date(2026, 4, 13))
    assert "OVERDUE: no scan listed, and the window ended on 2026-04-13" in found.describe(date(2026, 4, 14))


def test_a_scan_not_evaluable_after_the_iupd_leaves_it_pending_from_the_iupd():
    s = _session([40.0, 50.0, None])
    found = awaiting_confirmation(s.read, LABELS)
    assert found is not None and (found.label, found.assessed_since) == ("week 6", ("week 12",))
    text = found.describe()
    assert "still not confirmed at week 12" in text and "Not read yet: week 18" in text


def test_confirmed_reset_or_never_progressed_is_not_flagged():
    assert awaiting_confirmation(_session([40.0, 50.0, 56.0]).read, LABELS) is None  # +6 mm: iCPD
    assert awaiting_confirmation(_session([40.0, 50.0, 40.0]).read, LABELS) is None  # reset: iSD
    assert awaiting_confirmation(_session([40.0, 38.0]).read, LABELS) is None
    assert awaiting_confirmation(_session([40.0]).read, LABELS) is None
    assert awaiting_confirmation(None, LABELS) is None


def test_an_iupd_after_a_reset_is_flagged_from_its_own_date():
    s = _session([40.0, 50.0, 40.0, 50.0])
    found = awaiting_confirmation(s.read, LABELS)
    assert found is not None and (found.label, found.assessed_since) == ("week 18", ())
