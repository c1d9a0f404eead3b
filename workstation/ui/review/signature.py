"""Electronic signature and amendment-reason dialogs.

The signature dialog shows who signs, what, and what the signature means (21 CFR 11.50: one of fixed statements,
chosen, never typed), asks for the password again (11.200; the cursor starts there) and calls ``sign(password,
meaning)``, e.g. ``DatabaseReadStore.sign``; a refusal is shown, the dialog stays.
"""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtCore import QEvent, QObject, Qt
from PyQt6.QtGui import QKeyEvent
from PyQt6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from workstation.ui.review.buttons import error_label, ok_cancel, password_field
from workstation.users import User

MEANINGS = [
    "I confirm these measurements and responses as the reader of this timepoint",
    "I have reviewed and approve this timepoint",
]


class SignatureDialog(QDialog):
    def __init__(self, user: User, what: str, sign: Callable[[str, str], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._sign = sign
        self.setWindowTitle("Sign")
        # The meaning is one of the fixed statements, never typed: a password typed into an editable meaning (the
        # cursor was there) was signed into the append-only audit trail and the exports.
        self.meaning = QComboBox()
        self.meaning.addItems(MEANINGS)
        self.password = password_field()
        self.error = error_label()
        form = QFormLayout()
        form.addRow("Signing", QLabel(what))
        form.addRow("Signed by", QLabel(f"{user.full_name} ({user.username})"))
        form.addRow("Meaning", self.meaning)
        form.addRow("Password", self.password)
        self.buttons, self.ok = ok_cancel("Sign")
        self.buttons.accepted.connect(self._try_sign)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("Once signed, the timepoint is locked; later changes are amendments with a reason."))
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.password.setFocus()  # what the reader types first is the password

    def _try_sign(self) -> None:
        meaning = self.meaning.currentText().strip()
        if not meaning:
            self.error.setText("a signature needs its meaning")
            return
        if not self.password.text():  # nothing typed there: not a failed sign-in to audit
            self.error.setText("enter your password to sign")
            self.password.setFocus()
            return
        try:
            self._sign(self.password.text(), meaning)
        except Exception as exc:  # the service's one-line refusal (wrong password, stale read, order, ...)
            self.error.setText(str(exc))
            self.password.clear()
            return
        self.password.clear()
        self.accept()


class ReasonDialog(QDialog):
    """Asks for the reason of an amendment (or a deletion); OK stays disabled until a reason is typed."""

    def __init__(self, what: str, parent: QWidget | None = None, also: list[str] | None = None) -> None:
        """``also``: the signed timepoints after it, whose signatures the amendment withdraws too (said)."""
        super().__init__(parent)
        self.setWindowTitle("Reason for the change")
        self.text = QPlainTextEdit()
        self.text.setPlaceholderText("Why is this signed record being changed? (Enter: OK, Shift+Enter: new line)")
        self.text.setTabChangesFocus(True)  # Tab went into the reason ("test amendment\t\n\n\no" was stored)
        self.text.installEventFilter(self)
        self.buttons, self.ok = ok_cancel("OK")
        self.ok.setEnabled(False)
        self.text.textChanged.connect(lambda: self.ok.setEnabled(bool(self.reason())))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        withdrawn = f"its signature and those of {', '.join(also)}" if also else "its signature"
        note = QLabel(f"{what} is signed. The change is kept as an amendment, with the old value and your reason; "
                      f"the first change saved withdraws {withdrawn}: sign again when done.")
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addWidget(self.text)
        layout.addWidget(self.buttons)

    def reason(self) -> str:
        return self.text.toPlainText().strip()

    def eventFilter(self, a0: QObject | None, a1: QEvent | None) -> bool:
        """Enter in the reason box is OK (once a reason is typed); Shift+Enter starts a new line."""
        if (a0 is self.text and isinstance(a1, QKeyEvent) and a1.type() == QEvent.Type.KeyPress
                and a1.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
                and not a1.modifiers() & Qt.KeyboardModifier.ShiftModifier):
            if self.ok.isEnabled():
                self.accept()
            return True
        return super().eventFilter(a0, a1)
