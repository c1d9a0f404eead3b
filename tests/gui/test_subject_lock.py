"""A subject locked for analysis in the trial database: a lock made while it is open undoes the refused edit; opened
again, it is read only from the start, the window says who locked it and when (below the images and in the status
bar, also for the first subject of a trial folder), the worklist marks it locked, and measuring, signing, amending and
deleting are refused with that message; unlocked, it is edited again. The adjudicator is not offered a locked subject,
and opening one is refused before a reason or password is asked for."""

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
    (lock,) = lock_subjects(w.store.db, ["S1"], user=manager, reason="primary analysis", allow_incomplete=True).changed

    # locked while open: the database refuses the next edit, which is undone on screen
    w.session.select_lesion("T1")
    w.delete_selected()
    assert "T1" in w.session.read.lesions
    said = w.statusBar().currentMessage()
    assert said.startswith("NOT SAVED, and undone: subject S1 is locked for analysis (by datamgr at ") and (
        "'primary analysis'); ask a data manager to unlock it" in said
    )
    top = w.worklist.topLevelItem(0)  # the worklist marks it locked at once, the signed-for-nothing timepoints too
    assert [top.text(2), top.child(0).text(2), top.child(1).text(2)] == ["■ locked"] * 3

    # opened again: read only from the start, and said where the reader looks
    w.open_subjects([phantom_subject()])
    qtbot.waitUntil(lambda: w.current_viewer.volume is not None, timeout=5000)
    notice = f"S1 is locked for analysis by datamgr on {lock.locked_at[:10]}: read only"
    assert w.decision_bar.idle_hint.text().startswith(notice) and w.decision_bar.idle_hint.isVisible()
    assert w.session.view_only == f"{notice}; ask a data manager to unlock it"
    assert w.lock_label.text() == f"■ {notice}" and w.lock_label.isVisible()
    w.say("loading week 6 ...")  # a passing message does not hide the lock
    assert w.lock_label.text() == f"■ {notice}" and w.lock_label.isVisible()
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
    assert w.decision_bar.idle_hint.text() == hint and w.session.view_only is None and not w.lock_label.isVisible()
    assert w.worklist.topLevelItem(0).text(2) == "" and w.worklist.topLevelItem(0).child(0).text(2) != "■ locked"
    _click_on(qtbot, w.current_viewer, LESIONS[1].centre_mm)
    _wait_pending(qtbot, w)
    w.accept_pending()
    assert len(w.store.load("S1", "site1").timepoints[0].assessments) == 2


def test_the_worklist_and_the_status_bar_say_a_subject_is_locked_from_the_start(qtbot, db_window, tmp_path):
    """Opened from a trial folder, the first subject locked: the status bar keeps its lock notice at the right, the
    new reads' settings are said to be for the subjects not locked, and the worklist marks it "locked" where a
    timepoint would be to read or sign."""
    from tests.gui.test_trial_response_settings import _trial
    from workstation.read_model import Read, TimepointRead
    from workstation.session.worklist import scan_trial
    from workstation.storage.locks import lock_subjects, unlock_subjects
    from workstation.users import get_user

    w = db_window
    trial = _trial(tmp_path / "trial")
    [s1, _] = scan_trial(trial)
    read = Read(subject_id="S1", reader="site1", timepoints=[TimepointRead(t.label, t.date) for t in s1.timepoints])
    w.store.save(read)
    manager = get_user(w.store.db, "datamgr")
    (lock,) = lock_subjects(w.store.db, ["S1"], user=manager, reason="primary analysis", allow_incomplete=True).changed

    assert w.open_folder(trial, at_start=True)
    notice = f"S1 is locked for analysis by datamgr on {lock.locked_at[:10]}: read only"
    assert w.session.read.subject_id == "S1" and w.session.view_only.startswith(notice)
    assert w.lock_label.text() == f"■ {notice}" and w.lock_label.isVisible()
    assert w.statusBar().currentMessage().startswith("new reads of subjects not locked: SD >= 35 days")
    assert w.decision_bar.idle_hint.text().startswith(notice)

    def marks(index: int) -> list[str]:
        top = w.worklist.topLevelItem(index)
        return [top.text(2)] + [top.child(i).text(2) for i in range(top.childCount())]

    assert marks(0) == ["■ locked", "■ locked", "■ locked"] and marks(1) == ["", "○ new", "○ new"]
    assert w.worklist.topLevelItem(0).toolTip(2) == notice

    # unlocked, and the subject opened again: the worklist is as it was, and the timepoint can be read
    unlock_subjects(w.store.db, ["S1"], user=manager, reason="query from the sponsor")
    w.open_timepoint(1, 0)
    w.open_timepoint(0, 0)
    assert w.session.view_only is None and marks(0) == ["", "○ new", "○ new"] and not w.lock_label.isVisible()


def test_the_adjudicator_is_not_offered_a_locked_subject_and_opening_one_is_refused_at_once(
    qtbot, tmp_path, monkeypatch
):
    from tests.gui.test_central_review import discordant_subject
    from workstation.storage import audit_log, open_database
    from workstation.storage.locks import lock_subjects
    from workstation.ui.review import AdjudicationDialog
    from workstation.ui.review.adjudication_worklist import AdjudicationWindow

    db = open_database(str(tmp_path / "review.db"))
    try:
        people, site, pseudonym = discordant_subject(db)
        win = AdjudicationWindow(db, people["adjud"])
        qtbot.addWidget(win)
        assert win.subjects.count() == 1
        lock_subjects(db, [site.subject_id], user=people["datamgr"], reason="primary analysis", allow_incomplete=True)

        asked: list[object] = []
        monkeypatch.setattr(AdjudicationDialog, "exec", lambda dialog: asked.append(dialog) or 0)
        win.open_btn.click()  # the list was shown before the lock: opening is refused before any reason or password
        assert asked == []
        said = win.statusBar().currentMessage()
        assert said == f"subject {pseudonym} is locked for analysis (by datamgr); ask a data manager to unlock it"
        assert site.subject_id not in said
        assert win.subjects.count() == 0 and win.heading.text() == "0 subject(s) awaiting your adjudication"
        denied = [e for e in audit_log.entries(db, [pseudonym]) if e.action == "access-denied"]
        assert [(e.username, e.reason) for e in denied] == [("adjud", f"adjudicate {pseudonym}: {said}")]
    finally:
        db.close()

