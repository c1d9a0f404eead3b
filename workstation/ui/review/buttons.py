"""The OK/Cancel row shared by the review dialogs."""

from __future__ import annotations

from PyQt6.QtWidgets import QDialogButtonBox, QPushButton


def ok_cancel(ok_text: str) -> tuple[QDialogButtonBox, QPushButton]:
    box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    ok = box.button(QDialogButtonBox.StandardButton.Ok)
    if ok is None:  # Qt always creates it; this satisfies the type checker
        raise RuntimeError("Qt did not create the OK button")
    ok.setText(ok_text)
    return box, ok
