"""The read kept in the trial database: every edit saved there, the timepoint signed through the signature dialog;
a study retrieved from PACS joins the worklist as a timepoint of its subject."""

from __future__ import annotations

import shutil

import pytest

from tests.gui.conftest import LESIONS, phantom_subject
from tests.gui.test_reading_flow import _click_on, _open, _wait_pending
from tests.services.postgres_server import PASSWORD


def test_measure_and_sign_in_the_database(qtbot, db_window, monkeypatch):
    from workstation.ui import review

    w = db_window
    _open(qtbot, w)
    _click_on(qtbot, w.current_viewer, LESIONS[0].centre_mm)
    _wait_pending(qtbot, w)
    w.accept_pending()
    stored = w.store.load("S1", "site1")
    assert stored is not None and "T1" in stored.timepoints[0].assessments

    answers = iter(["wrong password", PASSWORD])

    def sign_like_a_person(dialog):
        for _ in range(2):
            dialog.password.setText(next(answers))
            dialog.ok.click()
            if dialog.result():
                break
            assert "password" in dialog.error.text()
        return dialog.result()

    monkeypatch.setattr(review.SignatureDialog, "exec", sign_like_a_person)
    w.sign_timepoint()
    assert w.session.read.timepoints[0].signed
    assert w.session.read.timepoints[0].signature.user == "site1"
    assert "signed" in w.worklist.topLevelItem(0).child(0).text(2)
    assert w.store.load("S1", "site1").timepoints[0].signed

    # deleting a lesion of a signed timepoint says why and changes nothing (it raised, to stderr, and said nothing),
    # before asking (it asked, Yes the default, then refused)
    questions: list[str] = []
    monkeypatch.setattr(w, "confirm", lambda question, default_no=False: questions.append(question) or True)
    w.session.select_lesion("T1")
    w.delete_selected()
    monkeypatch.undo()
    monkeypatch.setattr(review.SignatureDialog, "exec", sign_like_a_person)
    assert "T1" in w.session.read.lesions and "signed" in w.statusBar().currentMessage() and questions == []

    # a signed timepoint changes only as an amendment with a reason; a click there says so before the engine runs
    # (it ran, asked about its confidence, and only the accept was refused: the radiologist's finding)
    _click_on(qtbot, w.current_viewer, LESIONS[1].centre_mm)
    assert w.pending is None and "is signed: changing it is an amendment" in w.statusBar().currentMessage()
    monkeypatch.setattr(review.ReasonDialog, "exec", lambda dialog: dialog.text.setPlainText("missed lesion") or 1)
    w.amend_timepoint()
    amending = w.worklist.topLevelItem(0).child(0)  # the worklist says so (it still said "signed")
    assert amending.text(2) == "✎ amending" and "reason: missed lesion" in amending.toolTip(2)
    _click_on(qtbot, w.current_viewer, LESIONS[1].centre_mm)
    _wait_pending(qtbot, w)
    w.accept_pending()
    assert "T2" in w.session.read.timepoints[0].assessments and not w.session.dirty
    assert "T2" in w.store.load("S1", "site1").timepoints[0].assessments
    # the amendment withdrew the signature (it stayed on values the signer never saw, and Ctrl+Shift+S said "already
    # signed"): the reader is told, and signs again
    assert not w.session.read.timepoints[0].signed and not w.store.load("S1", "site1").timepoints[0].signed
    assert w.resign_label.isVisible() and w.resign_label.text() == "✎ to sign again: baseline"
    # a restart knows it too (it was held in memory only): the audit trail says which signature was withdrawn
    from workstation.session.suggestions import MeasuringService
    from workstation.storage.read_store import DatabaseReadStore
    from workstation.ui.main_window import MainWindow

    again = MainWindow(reader="site1", store=DatabaseReadStore(w.store.db, w.store.user),
                       measuring=MeasuringService(w.measuring._segmenter), data_dir=w.data_dir)  # fmt: skip
    qtbot.addWidget(again)
    again.open_subjects([phantom_subject()])
    qtbot.waitUntil(lambda: again.session is not None, timeout=5000)
    assert again.worklist.topLevelItem(0).child(0).text(2) == "✎ to sign again"
    assert again.session.signatures_withdrawn == {0} and again.resign_label.text() == "✎ to sign again: baseline"
    again.jobs.cancel_all()
    again.jobs.wait(5000)
    again.close()
    assert w.worklist.topLevelItem(0).child(0).text(2) == "✎ to sign again"
    answers = iter([PASSWORD])
    w.sign_timepoint()
    assert w.session.read.timepoints[0].signed and w.store.load("S1", "site1").timepoints[0].signed
    assert "signed" in w.worklist.topLevelItem(0).child(0).text(2) and not w.resign_label.isVisible()
    w.amend_timepoint()  # and the next change is an amendment again

    # the store refuses every edit for good (a central review adjudicated meanwhile): the edit is undone on screen,
    # and the read opens for viewing only (the refused change had stayed on screen, the response computed from it)
    from workstation.session.persistence import ReadClosedError

    def closed(read, reason=""):
        raise ReadClosedError("the central review of BICR-X is adjudicated; its reads can no longer change")

    monkeypatch.setattr(w.session.store, "save", closed)
    asked, w.auto_answer = w.auto_answer, True
    w.session.select_lesion("T2")
    w.delete_selected()
    w.auto_answer = asked
    assert "T2" in w.session.read.lesions and "T2" in w.session.read.timepoints[0].assessments
    assert "undone" in w.statusBar().currentMessage() and w.session.view_only
    w.undo()  # nothing moves in a read open for viewing only, and nothing raises
    assert "T2" in w.session.read.lesions and "viewing only" in w.statusBar().currentMessage()
    w.session.view_only = None  # as if opened again: this time the change the store refuses is an undo
    w.undo()  # (of adding T2): taken back by a redo, not by undoing one step further
    assert "T2" in w.session.read.timepoints[0].assessments and w.session.view_only


def test_signing_without_the_database_says_what_is_needed(qtbot, window):
    _open(qtbot, window)
    window.sign_timepoint()
    assert "--database" in window.statusBar().currentMessage()


def test_retrieved_study_joins_the_worklist(qtbot, window, tmp_path):
    from tests.dicom.ct_writer import write_ct_series

    window.open_subjects([phantom_subject("S1")])
    folder = tmp_path / "cache" / "study"
    write_ct_series(folder, n=4, patient={"id": "PAT-9"})

    class Retrieved:
        study_folder = folder

    window.add_retrieved_study(Retrieved())
    top = window.worklist.topLevelItem(1)
    assert top is not None and top.text(0) == "PAT-9" and top.childCount() == 1
    window.open_timepoint(1, 0)
    qtbot.waitUntil(lambda: window.volume(0) is not None, timeout=10000)
    assert window.current_viewer.volume.shape[0] == 4


def test_a_study_retrieved_twice_is_listed_once_and_another_series_can_be_chosen(qtbot, window, tmp_path, monkeypatch):
    """The PACS helper's findings: retrieving a study again listed it twice (and a new read then held it twice); a
    study holding a second series (or the SEG sent back) could not be opened at all."""
    from PyQt6.QtWidgets import QInputDialog

    from tests.dicom.ct_writer import write_ct_series

    folder = tmp_path / "cache" / "study"
    first = write_ct_series(folder / "a", n=6, patient={"id": "PAT-9"})
    second = write_ct_series(folder / "b", n=3, patient={"id": "PAT-9"}, study_uid=first.study_uid, seed=1)
    window.open_subjects([phantom_subject("S1")])

    class Retrieved:
        study_folder = folder

    window.add_retrieved_study(Retrieved())
    window.add_retrieved_study(Retrieved())
    assert "is already in the worklist" in window.statusBar().currentMessage()
    top = window.worklist.topLevelItem(1)
    assert top is not None and top.text(0) == "PAT-9" and top.childCount() == 1
    window.open_timepoint(1, 0)
    qtbot.waitUntil(lambda: window.volume(0) is not None, timeout=10000)
    assert window.current_viewer.volume.shape[0] == 6  # the series with the most images
    assert "2 image series in this study" in window.statusBar().currentMessage()
    assert window.session.read.timepoints[0].series_uid == first.series_uid
    monkeypatch.setattr(QInputDialog, "getItem", lambda _p, _t, _l, items, _i, _e: (items[1], True))
    window.choose_series()
    qtbot.waitUntil(lambda: window.volume(0) is not None, timeout=10000)
    assert window.current_viewer.volume.shape[0] == 3
    assert window.session.read.timepoints[0].series_uid == second.series_uid


def test_studies_retrieved_from_pacs_are_in_the_worklist_again_after_a_restart(qtbot, window, tmp_path, monkeypatch):
    from tests.dicom.ct_writer import write_ct_series
    from workstation.ui.main_window import MainWindow

    folder = tmp_path / "cache" / "study"
    write_ct_series(folder, n=4, patient={"id": "PAT-9"})

    class Retrieved:
        study_folder = folder

    window.open_subjects([phantom_subject("S1")])
    window.add_retrieved_study(Retrieved())
    again = MainWindow(reader="tester", store=window.store, measuring=window.measuring, data_dir=tmp_path)
    again.auto_answer = True
    qtbot.addWidget(again)
    empty = tmp_path / "empty-trial"
    empty.mkdir()
    assert again.open_folder(empty)  # no subject folders there, but the retrieved study
    top = again.worklist.topLevelItem(0)
    assert top is not None and top.text(0) == "PAT-9" and top.childCount() == 1
    assert "1 study retrieved from PACS earlier is in the worklist" in again.statusBar().currentMessage()
    shutil.rmtree(folder)  # removed from the cache since: passed over
    assert not again.open_folder(empty)
    # at the start (the folder on the command line), nothing to read is said in the status bar, not in a message box
    # before the window is even used (a reader starting the app to retrieve from PACS first)
    from PyQt6.QtWidgets import QMessageBox

    again.auto_answer = None
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: pytest.fail("a message box at the start"))
    assert not again.open_folder(empty, at_start=True)
    assert "File > Query/retrieve from PACS (Ctrl+Shift+O)" in again.statusBar().currentMessage()


def test_a_study_of_the_subject_being_read_joins_its_read(qtbot, window, tmp_path):
    """It was refused ("finish or close its read"), with no way to close a read: the read is saved, the study added
    and the read opened again with the new timepoint where its date puts it, its measurements kept."""
    from datetime import date

    from tests.dicom.ct_writer import write_ct_series

    first = tmp_path / "cache" / "first"
    write_ct_series(first, n=4, patient={"id": "PAT-9", "study_date": "20240110"})
    later = tmp_path / "cache" / "later"
    write_ct_series(later, n=3, patient={"id": "PAT-9", "study_date": "20240301"})

    class Retrieved:
        study_folder = first

    window.add_retrieved_study(Retrieved())
    window.open_timepoint(0, 0)
    qtbot.waitUntil(lambda: window.volume(0) is not None, timeout=10000)
    from workstation.read_model import Measurement, MeasurementOrigin, Role

    window.session.add_lesion(Role.NON_TARGET, "liver")  # unsaved: saved before the subject's timepoints change
    window.session.add_lesion(Role.TARGET, "liver", measurement=Measurement(22.0, origin=MeasurementOrigin.MANUAL))
    Retrieved.study_folder = later
    window.add_retrieved_study(Retrieved())
    assert [t.date for t in window.subjects[0].timepoints] == [date(2024, 1, 10), date(2024, 3, 1)]
    assert [t.date for t in window.session.read.timepoints] == [date(2024, 1, 10), date(2024, 3, 1)]
    assert window.session.current_timepoint == 0
    assert window.session.read.timepoints[0].assessments["T1"].measurements[0].long_axis_mm == 22.0
    assert set(window.session.read.lesions) == {"T1", "NT1"}
    window.go_to_timepoint(1)
    qtbot.waitUntil(lambda: window.volume(1) is not None, timeout=10000)
    assert window.current_viewer.volume.shape[0] == 3


def test_signing_out_of_order_or_again_is_said_before_the_password_is_asked(qtbot, db_window, monkeypatch):
    """The radiologist's finding: "sign 'baseline' first" came only after the password was typed."""
    from workstation.ui import review

    w = db_window
    _open(qtbot, w)
    asked: list[object] = []
    monkeypatch.setattr(review.SignatureDialog, "exec", lambda dialog: asked.append(dialog) or 0)
    w.go_to_timepoint(1)
    w.sign_timepoint()
    assert not asked and "timepoints are signed in order: sign baseline first" in w.statusBar().currentMessage()


def test_a_central_reader_is_told_before_the_reason_that_a_submitted_read_needs_reopening(qtbot, window, monkeypatch):
    """The BICR manager's finding: an amendment was refused only for an adjudicated subject, telling the blinded
    reader that their read had disagreed with the other. A submitted central read is refused alike for every
    subject, before the reason is asked for."""
    from workstation.read_model import Signature
    from workstation.ui import review

    w = window
    _open(qtbot, w)
    read = w.session.read
    read.reader_role = "central"
    for tp in read.timepoints:
        tp.signature = Signature("tester", "T. Ester", "2026-01-01T00:00:00Z", "read")
    asked: list[object] = []
    monkeypatch.setattr(review.ReasonDialog, "exec", lambda dialog: asked.append(dialog) or 0)
    w.amend_timepoint()
    assert asked == [] and not w.session.amendment_reasons
    assert w.statusBar().currentMessage().startswith(f"your read of {read.subject_id} is complete: every timepoint "
                                                      "is signed and submitted to the central review")
    read.timepoints[-1].signature = None  # reopened by the administrator: the reader amends as before
    w.go_to_timepoint(0)
    monkeypatch.setattr(review.ReasonDialog, "exec", lambda dialog: dialog.text.setPlainText("query") or 1)
    w.amend_timepoint()
    assert w.session.amendment_reasons == {0: "query"}
