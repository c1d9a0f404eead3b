"""Blinded central review in the real main window: a central reader reads a synthetic subject (DICOM written by
imaging.synthetic, identity in every header) measured by the classical engine and signs it; then every string any
widget shows is searched for the subject's identity, dates and UIDs -- and the same search finds them in site mode.
An adjudicator picks one of two discordant central reads in the adjudication window."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtTest import QTest

from imaging.synthetic.identity import INSTITUTION
from tests.gui.test_reading_flow import _click_on
from tests.services.postgres_server import PASSWORD, make_users

SUBJECT = "SUBJ-001"
ANY_DATE = re.compile(r"\b(19|20)\d\d-?\d\d-?\d\d\b")


@pytest.fixture(scope="module")
def trial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from imaging.synthetic import generate_trial

    out = tmp_path_factory.mktemp("trial")
    generate_trial(out, small=True, subjects=(SUBJECT,))
    return out


def _index(trial: Path) -> dict[str, Any]:
    return json.loads((trial / "trial.json").read_text())["subjects"][0]


def forbidden_strings(trial: Path) -> list[str]:
    """What a blinded reader must never see of the subject: identity from the headers, site id and labels, the real
    study dates (ISO and DICOM), accession numbers and the study/series UIDs."""
    entry = _index(trial)
    out = [SUBJECT, entry["patient_id"], *entry["patient_name"].split("^"), INSTITUTION]
    for tp in entry["timepoints"]:
        when = date.fromisoformat(tp["date"])
        out += [when.isoformat(), when.strftime("%Y%m%d"), tp["accession_number"], tp["study_uid"], tp["series_uid"]]
        out += [tp["folder"].split("/")[-1]] + ([tp["label"]] if tp["label"] != "baseline" else [])  # "week 6"
    return out


def shown_strings(window: Any) -> list[str]:
    """Every string the window and its children show: titles, labels, buttons, tooltips, menus, tables, trees, lists,
    combo boxes, text edits, the status bar, and pyqtgraph text/label items, axis labels and ticks."""
    import pyqtgraph as pg
    from PyQt6.QtGui import QAction
    from PyQt6.QtWidgets import (
        QAbstractButton,
        QComboBox,
        QGraphicsTextItem,
        QLabel,
        QLineEdit,
        QListWidget,
        QPlainTextEdit,
        QTableWidget,
        QTabWidget,
        QTextEdit,
        QTreeWidget,
        QWidget,
    )

    out: list[str] = []
    sb = window.statusBar()
    out.append(sb.currentMessage())
    for w in [window, *window.findChildren(QWidget)]:
        out += [w.windowTitle(), w.toolTip(), w.statusTip(), w.whatsThis()]
        if isinstance(w, QLabel | QAbstractButton):
            out.append(w.text())
        if isinstance(w, QLineEdit):
            out += [w.text(), w.placeholderText()]
        if isinstance(w, QTextEdit | QPlainTextEdit):
            out.append(w.toPlainText())
        if isinstance(w, QComboBox):
            out += [w.itemText(i) for i in range(w.count())] + [
                w.itemData(i, Qt.ItemDataRole.ToolTipRole) or "" for i in range(w.count())
            ]
        if isinstance(w, QTabWidget):
            out += [w.tabText(i) for i in range(w.count())] + [w.tabToolTip(i) for i in range(w.count())]
        if isinstance(w, QTableWidget):
            for c in range(w.columnCount()):
                h = w.horizontalHeaderItem(c)
                out += [h.text(), h.toolTip()] if h is not None else []
            for r in range(w.rowCount()):
                for c in range(w.columnCount()):
                    item = w.item(r, c)
                    out += [item.text(), item.toolTip()] if item is not None else []
        if isinstance(w, QTreeWidget):
            header = w.headerItem()
            out += [header.text(c) for c in range(header.columnCount())] if header is not None else []
            stack = [w.topLevelItem(i) for i in range(w.topLevelItemCount())]
            while stack:
                item = stack.pop()
                if item is None:
                    continue
                out += [item.text(c) for c in range(item.columnCount())]
                out += [item.toolTip(c) for c in range(item.columnCount())]
                stack += [item.child(i) for i in range(item.childCount())]
        if isinstance(w, QListWidget):
            out += [w.item(i).text() for i in range(w.count())] + [w.item(i).toolTip() for i in range(w.count())]
        if isinstance(w, pg.GraphicsView):
            scene = w.scene()
            for item in scene.items() if scene is not None else []:
                if isinstance(item, QGraphicsTextItem):
                    out += [item.toPlainText(), item.toolTip()]
                if isinstance(item, pg.AxisItem):
                    out += [item.labelText, item.labelUnits]
                    for level in item._tickLevels or []:
                        out += [str(text) for _, text in level]
                    try:
                        values = item.tickValues(*item.range, max(item.width(), item.height(), 1))
                        for spacing, ticks in values:
                            out += item.tickStrings(ticks, 1.0, spacing)
                    except Exception:  # some axes have no range yet
                        pass
    out += [a.text() for a in window.findChildren(QAction)] + [a.toolTip() for a in window.findChildren(QAction)]
    return [s for s in out if s]


def leaks(window: Any, forbidden: list[str]) -> list[str]:
    shown = shown_strings(window)
    return sorted({f for f in forbidden for s in shown if f.lower() in s.lower()})


@pytest.fixture
def review_db(tmp_path: Path, trial: Path):
    from workstation.review.service import SourceTimepoint, enrol_subject
    from workstation.storage import open_database

    db = open_database(str(tmp_path / "review.db"))
    people = make_users(db)
    sources = [
        SourceTimepoint(date.fromisoformat(t["date"]), t["study_uid"], t["series_uid"])
        for t in _index(trial)["timepoints"]
    ]
    pseudonym = enrol_subject(db, SUBJECT, sources, readers=("reader1", "reader2"), admin=people["admin"])
    yield db, people, pseudonym
    db.close()


def _window(qtbot, tmp_path: Path, store: Any, reader: str) -> Any:
    from segmentation.engines import create_segmenter
    from workstation.session.suggestions import MeasuringService
    from workstation.ui.main_window import MainWindow

    w = MainWindow(
        reader=reader, store=store, measuring=MeasuringService(create_segmenter("classical")), data_dir=tmp_path
    )
    w.auto_answer = True
    qtbot.addWidget(w)
    w.show()
    return w


def _measure_targets(qtbot, w, truth: dict[str, Any], tp: int) -> None:
    for les in truth["lesions"]:
        if les["role"] != "target":
            continue
        w.node_check.setChecked(les["node"])
        if tp == 0:
            _click_on(qtbot, w.current_viewer, tuple(les["timepoints"][0]["centre_lps_mm"]))
        else:
            w.session.select_lesion(les["id"])
            QTest.keyClick(w, Qt.Key.Key_G)
        qtbot.waitUntil(lambda: w.pending is not None, timeout=30000)
        if tp == 0:
            w.organ_choice.setCurrentText(les["organ"])
            w.node_check.setChecked(les["node"])
        QTest.keyClick(w, Qt.Key.Key_Return)
        assert w.pending is None, w.statusBar().currentMessage()


def test_central_reader_reads_blinded_and_nothing_identifies_the_subject(
    qtbot, tmp_path, trial, review_db, monkeypatch
):
    from workstation.review.central_worklist import central_worklist
    from workstation.review.service import open_blinded_case
    from workstation.session.persistence import JsonReadStore
    from workstation.storage.read_store import DatabaseReadStore
    from workstation.ui import review

    db, people, pseudonym = review_db
    truth = json.loads((trial / SUBJECT / "ground_truth.json").read_text())
    forbidden = forbidden_strings(trial)

    w = _window(qtbot, tmp_path, DatabaseReadStore(db, people["reader1"]), "reader1")
    central = central_worklist(db, people["reader1"], trial)
    w.open_central_review(central.subjects, central.blinder)
    assert w.worklist.topLevelItem(0).text(0) == pseudonym
    assert [w.worklist.topLevelItem(0).child(i).text(1) for i in range(4)] == ["day 1", "day 43", "day 85", "day 127"]
    qtbot.waitUntil(lambda: w.volume(0) is not None, timeout=30000)
    assert w.volume(0).patient.patient_id == _index(trial)["patient_id"]  # the headers do hold the identity

    _measure_targets(qtbot, w, truth, 0)
    monkeypatch.setattr(
        review.SignatureDialog, "exec", lambda d: d.password.setText(PASSWORD) or d.ok.click() or d.result()
    )
    w.sign_timepoint()
    assert w.session.read.timepoints[0].signed
    stored = open_blinded_case(db, pseudonym, people["reader1"]).own_read.read
    assert stored.timepoints[0].signed and stored.reader_role == "central"
    assert {les["id"] for les in truth["lesions"] if les["role"] == "target"} <= set(stored.lesions)
    # What the central read stores of the source (blinding module): its timepoints no study or series UID (the review
    # keeps them; the export puts them back), its measurements the image each was drawn on, for the SR and the masks.
    volume = w.volume(0)
    assert [(tp.study_uid, tp.series_uid) for tp in stored.timepoints] == [("", "")] * 4
    for a in stored.timepoints[0].assessments.values():
        for m in a.measurements:
            assert m.series_uid == volume.info.series_uid and m.sop_instance_uid in volume.info.sop_instance_uids
            assert m.frame_of_reference_uid == volume.info.frame_of_reference_uid != ""
    image_references = [*volume.info.sop_instance_uids, volume.info.frame_of_reference_uid]

    QTest.keyClick(w, Qt.Key.Key_BracketRight)
    qtbot.waitUntil(lambda: w.proposals_final_for == 1 and w.volume(0) is not None, timeout=30000)
    _measure_targets(qtbot, w, truth, 1)
    assert w.response_panel.table.rowCount() == 2
    assert "day 43" in w.current_viewer.corner["tl"].text()
    w.export(tmp_path / "out")  # refused: a central reader does not export
    assert not (tmp_path / "out").exists()
    w.say(f"loader warning in {trial / SUBJECT} at {truth['timepoints'][1]['date']}")  # scrubbed like any message
    for index in range(w.response_panel.count()):
        w.response_panel.setCurrentIndex(index)
        qtbot.wait(10)
    assert leaks(w, forbidden + image_references) == []  # nor the image references its measurements keep
    assert [s for s in shown_strings(w) if ANY_DATE.search(s)] == []  # not even the blinded calendar's dates

    # control: the same search finds the identity when the same images are opened at the site, unblinded
    site = _window(qtbot, tmp_path / "site", JsonReadStore(tmp_path / "site" / "reads"), "site1")
    assert site.open_folder(trial)
    qtbot.waitUntil(lambda: site.volume(0) is not None, timeout=30000)
    site.say(f"{site.volume(0).patient.patient_name} {site.volume(0).info.series_uid}")
    found = leaks(site, forbidden)
    assert SUBJECT in found and truth["timepoints"][0]["date"] in found and "week 6" in found
    assert _index(trial)["patient_name"].split("^")[0] in found
    for win in (w, site):
        win.jobs.cancel_all()
        win.jobs.wait(10000)


def test_adjudicator_picks_one_of_two_discordant_reads(qtbot, tmp_path, review_db, monkeypatch):
    from tests.services.test_review import central_read, site_read, sources
    from workstation.review.service import ReviewState, accepted_read, enrol_subject, review_state
    from workstation.storage.repository import save_read
    from workstation.ui.review import AdjudicationDialog
    from workstation.ui.review.adjudication_worklist import AdjudicationWindow

    db, people, _ = review_db
    site = site_read()
    save_read(db, site, user=people["site1"], expected_version=None)
    pseudonym = enrol_subject(db, site.subject_id, sources(site), readers=("reader1", "reader2"), admin=people["admin"])
    central_read(db, pseudonym, people["reader1"], 20.0, "reader one")  # PR
    central_read(db, pseudonym, people["reader2"], 70.0, "reader two")  # PD
    assert review_state(db, pseudonym) is ReviewState.AWAITING_ADJUDICATION

    win = AdjudicationWindow(db, people["adjud"])
    qtbot.addWidget(win)
    assert [win.subjects.item(i).text() for i in range(win.subjects.count())] == [pseudonym]
    shown: list[str] = []

    def decide(dialog: AdjudicationDialog) -> int:
        shown.extend(shown_strings_dialog(dialog))
        from PyQt6.QtWidgets import QTableWidget

        tables = [  # each read's visits under the other criteria too (the responses tables, not the lesions')
            t for t in dialog.findChildren(QTableWidget) if t.horizontalHeaderItem(0).text() == "Timepoint"
        ]
        assert [t.horizontalHeaderItem(t.columnCount() - 1).text() for t in tables] == ["iRECIST", "iRECIST"]
        dialog.choice.button(2).setChecked(True)
        dialog.reason.setPlainText("new liver lesion confirmed on day 43")
        dialog.password.setText("wrong")
        dialog.ok.click()
        assert "password" in dialog.error.text().lower() and not dialog.result()
        dialog.password.setText(PASSWORD)
        dialog.ok.click()
        return dialog.result()

    monkeypatch.setattr(AdjudicationDialog, "exec", decide)
    win.subjects.setCurrentRow(0)
    win.open_btn.click()
    assert review_state(db, pseudonym) is ReviewState.ACCEPTED_ADJUDICATED
    accepted = accepted_read(db, site.subject_id)
    assert accepted is not None and accepted.reader == "reader2"
    assert win.subjects.count() == 0 and "adjudicated" in win.statusBar().currentMessage()
    assert not [s for s in shown if site.subject_id in s or "2024-" in s or "site1" in s]
    assert any(s.startswith("Best overall response") and "Under iRECIST: " in s for s in shown)  # the other criteria

    from workstation.users import PermissionDenied

    refused = AdjudicationWindow(db, people["reader1"])  # a central reader is no adjudicator: told so, no list
    qtbot.addWidget(refused)
    assert refused.subjects.count() == 0 and "adjudicator" in refused.statusBar().currentMessage()
    assert issubclass(PermissionDenied, Exception)


def shown_strings_dialog(dialog: Any) -> list[str]:
    from PyQt6.QtWidgets import QLabel, QTableWidget, QWidget

    out = [dialog.windowTitle()]
    for w in dialog.findChildren(QWidget):
        if isinstance(w, QLabel):
            out.append(w.text())
        if isinstance(w, QTableWidget):
            out += [
                t
                for r in range(w.rowCount())
                for c in range(w.columnCount())
                if (item := w.item(r, c)) is not None
                for t in (item.text(), item.toolTip())
            ]
    return out


def test_the_app_signs_in_a_central_reader_to_a_blinded_worklist(qtbot, tmp_path, trial, review_db, monkeypatch):
    from workstation.ui import review
    from workstation.ui.app import build_window, parse_args

    _, _, pseudonym = review_db

    def sign_in(dialog) -> int:
        dialog.username.setText("reader2")
        dialog.password.setText(PASSWORD)
        dialog.ok.click()
        return dialog.result()

    monkeypatch.setattr(review.LoginDialog, "exec", sign_in)
    window = build_window(
        parse_args([str(trial), "--database", str(tmp_path / "review.db"), "--data-dir", str(tmp_path)])
    )
    qtbot.addWidget(window)
    window.auto_answer = True
    # Blinded at once, while the images are still being found off the GUI thread.
    assert "blinded" in window.windowTitle() and SUBJECT not in window.windowTitle()
    assert not window.export_action.isEnabled() and not window.open_action.isEnabled()
    file_menu = [a.text() for a in window.menuBar().actions()[0].menu().actions() if a.isVisible() and a.text()]
    assert file_menu == ["&Save read", "&Quit"]  # no folder, PACS (query or send), series choice or export
    assert type(window.store).__name__ == "CentralReadStore"  # a change of review state its saves cause is audited
    qtbot.waitUntil(lambda: bool(window.subjects), timeout=30000)
    assert [s.subject_id for s in window.subjects] == [pseudonym]
    qtbot.waitUntil(lambda: window.volume(0) is not None, timeout=30000)
    window.jobs.cancel_all()
    window.jobs.wait(10000)


def _image_store_without_index(trial: Path, out: Path) -> Path:
    """The trial's images as a reading centre may hold them: folders only, no trial.json (series found by header)."""
    store = out / "image_store"
    shutil.copytree(trial, store, ignore=shutil.ignore_patterns("trial.json", "*.json"))
    return store


def test_the_blinded_worklist_finds_images_by_header_off_the_gui_thread(qtbot, tmp_path, trial, review_db):
    from workstation.storage.read_store import DatabaseReadStore
    from workstation.ui.review.central_start import FINDING, start_central_review

    db, people, pseudonym = review_db
    store = _image_store_without_index(trial, tmp_path)
    w = _window(qtbot, tmp_path, DatabaseReadStore(db, people["reader1"]), "reader1")
    start_central_review(w, db, people["reader1"], store)
    # The call returns at once: the headers are read by a worker, with the progress bar and Cancel shown.
    assert w.jobs.busy and w.progress.isVisible() and w.cancel_btn.isVisible()
    assert FINDING in w.progress.format() and w.blinder is not None and not w.open_action.isEnabled()
    qtbot.waitUntil(lambda: bool(w.subjects), timeout=30000)
    assert [s.subject_id for s in w.subjects] == [pseudonym]
    qtbot.waitUntil(lambda: w.volume(0) is not None, timeout=30000)  # found by series UID in the headers
    w.jobs.cancel_all()
    w.jobs.wait(10000)


def test_cancelling_the_image_search_still_lists_the_assigned_subjects(qtbot, tmp_path, trial, review_db):
    from workstation.storage.read_store import DatabaseReadStore
    from workstation.ui.review.central_start import start_central_review

    db, people, pseudonym = review_db
    store = _image_store_without_index(trial, tmp_path)
    w = _window(qtbot, tmp_path, DatabaseReadStore(db, people["reader1"]), "reader1")
    said: list[str] = []
    say = w.say
    w.say = lambda message, timeout_ms=8000: said.append(w.shown(message)) or say(message, timeout_ms)
    start_central_review(w, db, people["reader1"], store)
    w.jobs.cancel_all()  # what the Cancel button does
    qtbot.waitUntil(lambda: bool(w.subjects), timeout=30000)
    assert [s.subject_id for s in w.subjects] == [pseudonym]
    assert any("cancelled" in m for m in said) and not any(str(store) in m for m in said)
    qtbot.waitUntil(lambda: not w.jobs.busy, timeout=30000)
    assert w.volume(0) is None


def test_the_app_sends_a_data_manager_to_the_export_command(qtbot, tmp_path, trial, review_db, monkeypatch, capsys):
    from PyQt6.QtWidgets import QMessageBox

    from workstation.ui import review
    from workstation.ui.app import build_window, parse_args

    def sign_in(dialog) -> int:
        dialog.username.setText("datamgr")
        dialog.password.setText(PASSWORD)
        dialog.ok.click()
        return dialog.result()

    shown: list[str] = []
    monkeypatch.setattr(review.LoginDialog, "exec", sign_in)
    monkeypatch.setattr(QMessageBox, "information", lambda parent, title, text: shown.append(text))
    assert build_window(parse_args([str(trial), "--database", str(tmp_path / "review.db")])) == 1
    assert shown and "recist export FORMAT --db URL --user NAME" in shown[0]
    assert "recist export" in capsys.readouterr().err


def test_the_app_opens_the_adjudication_window_for_an_adjudicator(qtbot, tmp_path, trial, review_db, monkeypatch):
    from workstation.ui import review
    from workstation.ui.app import build_window, parse_args
    from workstation.ui.review.adjudication_worklist import AdjudicationWindow

    def sign_in(dialog) -> int:
        dialog.username.setText("adjud")
        dialog.password.setText(PASSWORD)
        dialog.ok.click()
        return dialog.result()

    monkeypatch.setattr(review.LoginDialog, "exec", sign_in)
    window = build_window(parse_args([str(trial), "--database", str(tmp_path / "review.db")]))
    qtbot.addWidget(window)
    assert isinstance(window, AdjudicationWindow) and window.isVisible()
    assert window.subjects.count() == 0 and window.heading.text() == "0 subject(s) awaiting your adjudication"
    assert not window.open_btn.isEnabled()


def test_the_adjudicator_views_each_read_on_the_images_blinded_and_view_only(
    qtbot, tmp_path, trial, review_db, monkeypatch
):
    import copy

    from tests.services.test_review import central_read
    from workstation.read_model import LesionStatus
    from workstation.review.service import ReviewState, review_state
    from workstation.session.reading import SessionError
    from workstation.storage.repository import find_reads
    from workstation.ui.review import AdjudicationDialog
    from workstation.ui.review.adjudication_worklist import AdjudicationWindow
    from workstation.ui.viewer import Tool

    db, people, pseudonym = review_db
    central_read(db, pseudonym, people["reader1"], 20.0, "reader one")  # PR
    central_read(db, pseudonym, people["reader2"], 70.0, "reader two")  # PD
    assert review_state(db, pseudonym) is ReviewState.AWAITING_ADJUDICATION
    win = AdjudicationWindow(db, people["adjud"], image_root=trial, data_dir=tmp_path)
    qtbot.addWidget(win)

    def look_at_read_2(dialog: AdjudicationDialog) -> int:
        assert set(dialog.view_buttons) == {1, 2}
        dialog.view_buttons[2].click()
        return 0  # closed without a decision

    monkeypatch.setattr(AdjudicationDialog, "exec", look_at_read_2)
    assert not win.open_case(pseudonym)
    (view,) = win.views
    qtbot.addWidget(view)
    view.auto_answer = True
    qtbot.waitUntil(lambda: view.session is not None, timeout=30000)
    read = view.session.read
    assert (read.subject_id, read.reader) == (pseudonym, "reader2")
    assert f"read 2 of {pseudonym}" in view.windowTitle() and "view only" in view.windowTitle()
    qtbot.waitUntil(lambda: view.volume(0) is not None, timeout=30000)  # the subject's images, found by series UID
    assert read.timepoints[1].assessments["T1"].measurements[0].long_axis_mm == 70.0

    # Shown, never changed: no measuring tools, every edit, signature and save refused with the reason.
    before = copy.deepcopy(read)
    with pytest.raises(SessionError, match="view only"):
        view.session.set_status("T1", LesionStatus.NOT_EVALUATED)
    with pytest.raises(SessionError, match="view only"):
        view.session.save()
    view.set_tool(Tool.MEASURE)
    assert view.current_viewer.tool is Tool.WINDOW and not view.tool_actions[Tool.MEASURE].isVisible()
    enabled = [a.text() for a in view.measure_menu.actions() if a.isEnabled() and not a.isSeparator()]
    assert enabled == ["Next timepoint", "Previous timepoint", "Next lesion"] and not view.add_target_btn.isVisible()
    assert not any(a.isEnabled() for a in (view.save_action, view.undo_action, view.redo_action))  # greyed out
    QTest.keyClick(view, Qt.Key.Key_BracketRight)  # the reader's own navigation still works
    assert view.session.current_timepoint == 1
    view.sign_timepoint()
    assert "view only" in view.statusBar().currentMessage()
    assert view.session.read == before
    stored = find_reads(db, pseudonym, "reader2")
    assert stored and stored[0].read.timepoints[1].assessments["T1"].measurements[0].long_axis_mm == 70.0

    # Blinded like the readers' own windows: nothing names the subject, its site, dates or UIDs.
    assert leaks(view, forbidden_strings(trial)) == []
    # Once decided, the windows on the reads decided between close (they stayed open, stale, before).
    view.show()
    monkeypatch.setattr(AdjudicationDialog, "exec", lambda _dialog: 1)  # the decision itself: tests/services
    assert win.open_case(pseudonym)
    assert win.views == [] and not view.isVisible()
    view.jobs.cancel_all()
    view.jobs.wait(10000)


def test_an_unconfirmed_iupd_is_said_where_there_is_no_progression() -> None:
    from workstation.review.discordance import ReadOutcome
    from workstation.ui.review.adjudication import _progression

    rows = [{"label": "Baseline", "overall_response": None}, {"label": "Follow-up 1", "overall_response": "iUPD"}]
    pending = ReadOutcome("r1", "iSD", None, {"timepoints": rows})
    assert _progression(pending) == "none (iUPD at Follow-up 1, not confirmed)"
    assert _progression(ReadOutcome("r2", "iSD", None, {"timepoints": rows[:1]})) == "none"


def test_a_case_changed_under_the_adjudicator_is_shown_again_as_it_now_is(qtbot, tmp_path, monkeypatch):
    """A reader amends while the adjudication dialog is open: the decision is refused, the stale dialog closes, and
    the subject is shown again as it now is while it still awaits adjudication (not, once the reads agree)."""
    import copy

    from tests.services.postgres_server import PASSWORD
    from workstation.review.service import open_blinded_case, reopen_read
    from workstation.storage import open_database
    from workstation.storage.repository import save_read, sign_timepoint
    from workstation.ui.review import AdjudicationDialog
    from workstation.ui.review.adjudication_worklist import AdjudicationWindow

    db = open_database(str(tmp_path / "review.db"))
    try:
        people, _, pseudonym = discordant_subject(db)
        win = AdjudicationWindow(db, people["adjud"])
        qtbot.addWidget(win)

        def amend(follow_up_mm: float, reason: str) -> None:  # reopened by the administrator, changed, signed again
            reopen_read(db, pseudonym, "reader2", admin=people["admin"], reason=reason)
            own = open_blinded_case(db, pseudonym, people["reader2"]).own_read
            read = copy.deepcopy(own.read)
            read.timepoints[1].assessments["T1"].measurements[0].long_axis_mm = follow_up_mm
            version = save_read(db, read, user=people["reader2"], expected_version=own.version)
            sign_timepoint(db, read.read_id, 1, username="reader2", password=PASSWORD, meaning="read",
                           expected_version=version)  # fmt: skip

        shown: list[tuple[float, str]] = []
        reasons: list[str] = []

        def exec_(dialog):  # the adjudicator decides for read 2; a reader amends before the decision is recorded
            shown.append((dialog.case.read_2.read.timepoints[1].assessments["T1"].measurements[0].long_axis_mm,
                          dialog.error.text()))  # fmt: skip
            reasons.append(dialog.reason.toPlainText())
            if len(shown) == 1:
                amend(75.0, "re-measured")  # still PD: still discordant
            elif len(shown) == 2:
                amend(20.0, "it was a PR after all")  # now concordant: nothing to adjudicate
            dialog.choice.button(2).setChecked(True)
            dialog.reason.setPlainText("read 2 measured T1 on the right slice")
            dialog.password.setText(PASSWORD)
            dialog.ok.click()
            return dialog.result()

        monkeypatch.setattr(AdjudicationDialog, "exec", exec_)
        assert not win.open_case(pseudonym)
        assert [mm for mm, _ in shown] == [70.0, 75.0]  # opened again, as it now is, once
        assert shown[1][1].endswith("amended since you opened it; reopen the adjudication; shown again as the reads "
                                    "now are (your reason is kept: check it still holds)")  # fmt: skip
        assert reasons == ["", "read 2 measured T1 on the right slice"]  # it was cleared, to be typed again
        assert "the two reads agree" in win.statusBar().currentMessage()
        assert win.subjects.count() == 0
        # off the list, the reason waits for the subject (a reopened read back to awaiting adjudication)
        assert win.drafts == {pseudonym: "read 2 measured T1 on the right slice"}
        assert "the reason you typed is kept" in win.statusBar().currentMessage()
    finally:
        db.close()


def discordant_subject(db: Any) -> tuple[dict[str, Any], Any, str]:
    """Users, a site read and its subject in central review, read PR by reader 1 and PD by reader 2, so awaiting
    adjudication: (the users, the site read, the pseudonym)."""
    from tests.services.postgres_server import make_users
    from tests.services.test_review import central_read, site_read, sources
    from workstation.review.service import enrol_subject
    from workstation.storage.repository import save_read

    people = make_users(db)
    site = site_read()
    save_read(db, site, user=people["site1"], expected_version=None)
    pseudonym = enrol_subject(db, site.subject_id, sources(site), readers=("reader1", "reader2"), admin=people["admin"])
    central_read(db, pseudonym, people["reader1"], 20.0, "")  # PR
    central_read(db, pseudonym, people["reader2"], 70.0, "")  # PD: awaiting adjudication
    return people, site, pseudonym
