"""The sign-in dialog: user name and password, checked against the workstation database."""

from __future__ import annotations

from PyQt6.QtWidgets import QDialog, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from workstation.storage import Database, StorageError
from workstation.ui.review.buttons import error_label, ok_cancel, password_field
from workstation.users import AuthenticationError, User, authenticate


class LoginDialog(QDialog):
    """`exec()` returns Accepted with `user` set once the password is right; a wrong one shows a message and stays."""

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.user: User | None = None
        self.setWindowTitle("Sign in")
        self.username = QLineEdit()
        self.password = password_field()
        self.error = error_label()
        form = QFormLayout()
        form.addRow("User name", self.username)
        form.addRow("Password", self.password)
        self.buttons, self.ok = ok_cancel("Sign in")
        self.buttons.accepted.connect(self._try_sign_in)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Workstation database: {db.where}"))
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def _try_sign_in(self) -> None:
        try:
            self.user = authenticate(self.db, self.username.text().strip(), self.password.text())
        except (AuthenticationError, StorageError) as exc:
            self.error.setText(str(exc))
            self.password.clear()
            self.password.setFocus()
            return
        self.password.clear()
        self.accept()
