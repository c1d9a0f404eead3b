"""Widgets shared by the review dialogs: the OK/Cancel row, the password field, the error line."""

from __future__ import annotations

from PyQt6.QtWidgets import QDialogButtonBox, QLabel, QLineEdit, QPushButton


def ok_cancel(ok_text: str) -> tuple[QDialogButtonBox, QPushButton]:
    box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    ok = box.button(QDialogButtonBox.StandardButton.Ok)
    if ok is None:  # Qt always creates it; this satisfies the type checker
        raise RuntimeError("Qt did not create the OK button")
    ok.setText(ok_text)
    return box, ok


def password_field() -> QLineEdit:
    field = QLineEdit()
    field.setEchoMode(QLineEdit.EchoMode.Password)
    return field


def error_label() -> QLabel:
    """Where a dialog says what went wrong (a wrong password, a refused signature)."""
    label = QLabel()
    label.setStyleSheet("color: #c0392b")
    label.setWordWrap(True)
    return label
