"""The review dialogs (pytest-qt, offscreen) on a real SQLite database: sign-in, signature, adjudication; the
adjudication dialog shows nothing of the subject's identity."""

from __future__ import annotations

from pathlib import Path

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QAbstractButton, QDialog, QGroupBox, QLabel, QTableWidget

from tests.services import postgres_server as pg
from tests.services.postgres_server import PASSWORD, make_read, make_users
from tests.services.test_review import IDENTITY, central_read, site_read, sources
from workstation.review.service import ReviewState, adjudicate, adjudication_case, enrol_subject, review_state
from workstation.storage import audit_log, open_database
from workstation.storage.read_store import DatabaseReadStore
from workstation.storage.repository import load_read
from workstation.ui.review import AdjudicationDialog, LoginDialog, ReasonDialog, SignatureDialog
from workstation.ui.review.signature import MEANINGS

fast_password_hashing = pg.fast_password_hashing


@pytest.fixture
def db(tmp_path: Path):
    database = open_database(str(tmp_path / "workstation.db"))
    yield database
    database.close()


def shown_text(dialog: QDialog) -> list[str]:
    """Every string the dialog shows: title, labels, group titles, buttons, table cells and headers, tooltips."""
    out = [dialog.windowTitle()]
    out += [w.text() for w in dialog.findChildren(QLabel)]
    out += [w.title() for w in dialog.findChildren(QGroupBox)]
    out += [w.text() for w in dialog.findChildren(QAbstractButton)]
    for table in dialog.findChildren(QTableWidget):
        for c in range(table.columnCount()):
            header = table.horizontalHeaderItem(c)
            out.append(header.text() if header else "")
            for r in range(table.rowCount()):
                item = table.item(r, c)
                if item is not None:
                    out += [item.text(), item.toolTip()]
    return out


def test_login_rejects_a_wrong_password_and_accepts_the_right_one(qtbot, db) -> None:
    make_users(db)
    dialog = LoginDialog(db)
    qtbot.addWidget(dialog)
    dialog.username.setText("reader1")
    dialog.password.setText("wrong password")
    dialog.ok.click()
    assert dialog.user is None and "wrong user name or password" in dialog.error.text()
    assert dialog.password.text() == ""
    dialog.password.setText(PASSWORD)
    dialog.ok.click()
    assert dialog.result() == QDialog.DialogCode.Accepted and dialog.user is not None
    assert dialog.user.username == "reader1"


def test_signature_dialog_signs_with_the_password_and_shows_refusals(qtbot, db) -> None:
    people = make_users(db)
    store = DatabaseReadStore(db, people["site1"])
    read = make_read()
    store.save(read)
    calls = []

    def sign(password: str, meaning: str) -> None:
        calls.append(meaning)
        store.sign(read, 0, password=password, meaning=meaning)

    dialog = SignatureDialog(people["site1"], "subject SITE01-0042, timepoint TP0", sign)
    qtbot.addWidget(dialog)
    assert any("Sam Site (site1)" in s for s in shown_text(dialog))
    # the meaning is chosen, never typed, and what the reader types first goes into the password box: a password
    # typed into an editable meaning was signed into the audit trail
    dialog.show()
    qtbot.waitExposed(dialog)
    assert not dialog.meaning.isEditable()
    qtbot.keyClicks(dialog.focusWidget(), "typed first")
    assert dialog.password.text() == "typed first" and dialog.meaning.currentText() == MEANINGS[0]
    dialog.password.clear()
    dialog.ok.click()  # nothing typed in the password box: said, and no failed sign-in audited
    assert dialog.error.text() == "enter your password to sign" and calls == []
    assert not [e for e in audit_log.entries(db) if e.action == "login-failed"]
    dialog.password.setText("wrong password")
    dialog.ok.click()
    assert "wrong user name or password" in dialog.error.text() and dialog.result() != QDialog.DialogCode.Accepted
    dialog.password.setText(PASSWORD)
    dialog.ok.click()
    assert dialog.result() == QDialog.DialogCode.Accepted
    signature = load_read(db, read.read_id).read.timepoints[0].signature
    assert signature is not None and signature.meaning == calls[-1]

    reason = ReasonDialog("Timepoint TP0")
    qtbot.addWidget(reason)
    assert not reason.ok.isEnabled()
    reason.text.setPlainText("  ")
    assert not reason.ok.isEnabled()
    reason.text.setPlainText("caliper misplaced")
    assert reason.ok.isEnabled() and reason.reason() == "caliper misplaced"
    # the keyboard (the radiologist's finding: Tab and Enter went into the reason, OK could only be clicked)
    from PyQt6.QtCore import Qt
    from PyQt6.QtTest import QTest

    reason.show()
    reason.text.setFocus()
    QTest.keyClick(reason.text, Qt.Key.Key_Tab)
    assert reason.reason() == "caliper misplaced"
    QTest.keyClick(reason.text, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert "\n" in reason.text.toPlainText()
    QTest.keyClick(reason.text, Qt.Key.Key_Return)
    assert reason.result() == QDialog.DialogCode.Accepted and reason.reason() == "caliper misplaced"
    later = ReasonDialog("Timepoint TP0", also=["TP1", "TP2"])  # the last re-check: it named only the one amended
    qtbot.addWidget(later)
    assert any("withdraws its signature and those of TP1, TP2" in t for t in shown_text(later))
    empty = ReasonDialog("Timepoint TP0")
    qtbot.addWidget(empty)
    QTest.keyClick(empty.text, Qt.Key.Key_Return)  # no reason yet: Enter does nothing
    assert empty.result() != QDialog.DialogCode.Accepted and empty.text.toPlainText() == ""


def test_adjudication_dialog_is_blinded_and_records_the_choice(qtbot, db) -> None:
    people = make_users(db)
    site = site_read()
    pseudonym = enrol_subject(db, site.subject_id, sources(site), readers=("reader1", "reader2"), admin=people["admin"])
    central_read(db, pseudonym, people["reader1"], 20.0, "")
    central_read(db, pseudonym, people["reader2"], 70.0, "")
    case = adjudication_case(db, pseudonym, people["adjud"])

    def record(chosen: str, reason: str, password: str) -> None:
        adjudicate(db, pseudonym, username="adjud", password=password, chosen_read_id=chosen, reason=reason, seen=case)

    dialog = AdjudicationDialog(case, record)
    qtbot.addWidget(dialog)
    text = shown_text(dialog)
    assert any("best overall response SD vs PD; date of progression none vs day 43" in s for s in text), text
    assert not [s for s in text if "2000-" in s]  # the blinded calendar shows as study days, never as dates
    assert any("Progression: day 43" in s for s in text)
    found = sorted({f for s in text for f in IDENTITY + [t.study_uid for t in sources(site)] if f.lower() in s.lower()})
    assert found == []
    # the two reads' figures are what is decided between: no cell can be typed over (one could, double-clicked)
    from PyQt6.QtWidgets import QTableWidget

    tables = dialog.findChildren(QTableWidget)
    assert tables and all(t.editTriggers() == QTableWidget.EditTrigger.NoEditTriggers for t in tables)
    # each read's lesions with their diameters at every timepoint (T1 50 mm, then 20 mm in read 1 and 70 mm in read 2)
    lesions = [t for t in tables if t.verticalHeaderItem(0) and t.verticalHeaderItem(0).text().startswith("T1 target")]
    assert len(lesions) == 2
    assert [[lesions[n].item(0, c).text() for c in range(2)] for n in range(2)] == [["50.0", "20.0"], ["50.0", "70.0"]]
    assert not dialog.ok.isEnabled()
    buttons = dialog.choice.buttons()
    buttons[1].setChecked(True)
    dialog.reason.setPlainText("growth of T1 confirmed on the follow-up series")
    assert not dialog.ok.isEnabled()
    # a stray Esc (or Cancel) does not throw the reason away unasked (it closed the dialog and lost what was typed)
    asked: list[bool] = []
    dialog.confirm_discard = lambda: asked.append(True) or False
    dialog.show()
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert asked == [True] and dialog.isVisible()
    dialog.password.setText("not the password")
    dialog.ok.click()
    assert "wrong user name or password" in dialog.error.text()
    assert review_state(db, pseudonym) is ReviewState.AWAITING_ADJUDICATION
    dialog.password.setText(PASSWORD)
    dialog.ok.click()
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert review_state(db, pseudonym) is ReviewState.ACCEPTED_ADJUDICATED
    assert dialog.chosen_read_id() == case.read_2.read.read_id
