"""A subject locked for analysis in the trial database: a lock made while it is open undoes the refused edit; opened
again, it is read only from the start, the window says who locked it and when (below the images and in the status
bar), and measuring, signing, amending and deleting are refused with that message; unlocked, it is edited again."""

from __future__ import annotations

from tests.gui.conftest import LESIONS, phantom_subject
from tests.gui.test_reading_flow import _click_on, _open, _wait_pending


def test_a_locked_subject_opens_read_only_and_says_who_locked_it(qtbot, db_window):
    from workstation.storage.locks import lock_subjects, unlock_subjects
    from workstation.users import get_user

    w = db_window
    _open(qtbot, w)
    _click_on(qtbot, w.current_viewer, LESIONS[0].centre_mm)
    _wait_pending(qtbot, w)
    w.accept_pending()
    assert "T1" in w.store.load("S1", "site1").timepoints[0].assessments
    hint = w.decision_bar.idle_hint.text()
    manager = get_user(w.store.db, "datamgr")
    (lock,) = lock_subjects(w.store.db, ["S1"], user=manager, reason="primary analysis").changed

    # locked while open: the database refuses the next edit, which is undone on screen
    w.session.select_lesion("T1")
    w.delete_selected()
    assert "T1" in w.session.read.lesions
    said = w.statusBar().currentMessage()
    assert said.startswith("NOT SAVED, and undone: subject S1 is locked for analysis (by datamgr at ") and (
        "'primary analysis'); ask a data manager to unlock it" in said
    )

    # opened again: read only from the start, and said where the reader looks
    w.open_subjects([phantom_subject()])
    qtbot.waitUntil(lambda: w.current_viewer.volume is not None, timeout=5000)
    notice = f"S1 is locked for analysis by datamgr on {lock.locked_at[:10]}: read only"
    assert w.decision_bar.idle_hint.text().startswith(notice) and w.decision_bar.idle_hint.isVisible()
    assert w.session.view_only == f"{notice}; ask a data manager to unlock it"
    assert w.statusBar().currentMessage() == notice
    refused = w.session.view_only
    for act in (
        lambda: _click_on(qtbot, w.current_viewer, LESIONS[1].centre_mm),
        w.sign_timepoint,
        w.amend_timepoint,
        w.delete_selected,
    ):
        w.statusBar().clearMessage()
        w.session.select_lesion("T1")
        act()
        assert w.statusBar().currentMessage() == refused
        assert w.pending is None and "T1" in w.session.read.timepoints[0].assessments
    assert not w.session.read.timepoints[0].signed

    # unlocked: the measuring hint is back and the read is edited again
    unlock_subjects(w.store.db, ["S1"], user=manager, reason="query from the sponsor")
    w.open_subjects([phantom_subject()])
    qtbot.waitUntil(lambda: w.current_viewer.volume is not None, timeout=5000)
    assert w.decision_bar.idle_hint.text() == hint and w.session.view_only is None
    _click_on(qtbot, w.current_viewer, LESIONS[1].centre_mm)
    _wait_pending(qtbot, w)
    w.accept_pending()
    assert len(w.store.load("S1", "site1").timepoints[0].assessments) == 2
