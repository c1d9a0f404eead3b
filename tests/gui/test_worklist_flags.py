"""The worklist flags a subject whose read ends on an iUPD awaiting confirmation (iRECIST)."""

from __future__ import annotations

from tests.unit.test_awaiting_confirmation import DATES, LABELS, _session
from workstation.session.worklist import InMemorySource, SubjectEntry, TimepointEntry


def _subject() -> SubjectEntry:
    from tests.gui.phantom import phantom_volume

    volume = phantom_volume([], uid="1.2.99")
    return SubjectEntry("S1", [TimepointEntry(label, when, InMemorySource(volume))
                               for label, when in zip(LABELS, DATES, strict=True)])


def test_an_unconfirmed_iupd_is_flagged_until_it_is_confirmed_and_a_lock_says_more(qtbot):
    from workstation.ui.worklist_view import WorklistView

    view = WorklistView()
    qtbot.addWidget(view)
    subject = _subject()
    s = _session([40.0, 50.0])
    view.show_subjects([subject], {"S1": s.read})
    top = view.topLevelItem(0)
    assert top.text(2) == "⚑ iUPD"
    tip = " ".join(top.toolTip(2).split())  # wrapped to lines of 90 characters
    assert "iUPD at week 6 (2026-02-16) not confirmed yet" in tip and "Not read yet: week 12, week 18" in tip
    assert max(len(line) for line in top.toolTip(2).splitlines()) <= 90

    confirmed = _session([40.0, 50.0, 56.0])  # +6 mm at week 12: iCPD
    view.update_status(0, confirmed.read)
    assert (top.text(2), top.toolTip(2)) == ("", "")

    view.update_status(0, s.read)
    assert top.text(2) == "⚑ iUPD"
    view.set_locked(0, "S1", "locked for analysis by dm")
    assert top.text(2) == "■ locked" and top.toolTip(2) == "locked for analysis by dm"
    view.set_locked(0, "S1", None)
    assert top.text(2) == "⚑ iUPD"


def test_a_blinded_central_worklist_shows_no_flag(qtbot):
    from workstation.ui.worklist_view import WorklistView

    view = WorklistView()
    qtbot.addWidget(view)
    view.dates_as_days = True
    view.show_subjects([_subject()], {"S1": _session([40.0, 50.0]).read})
    assert view.topLevelItem(0).text(2) == ""
