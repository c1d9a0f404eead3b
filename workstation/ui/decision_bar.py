"""The decision bar under the viewers: a measurement waiting for the reader (the engine's suggestion or a hand
drawing), which lesion it is for, and Accept / Reject. It only gathers the reader's choice; the main window records."""

from __future__ import annotations

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QCheckBox, QComboBox, QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout

from workstation.read_model import Role
from workstation.session.reading import ReadingSession
from workstation.ui.lesion_table import ORGANS

NEW_CHOICES = {Role.TARGET: "new target", Role.NON_TARGET: "new non-target", Role.NEW: "new lesion"}


class DecisionBar(QFrame):
    accept_requested = pyqtSignal()
    reject_requested = pyqtSignal()

    def __init__(self) -> None:
        super().__init__()
        self.session: ReadingSession | None = None
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("QFrame { background: #243447; } QLabel, QCheckBox { color: #f0f0f0; }")
        self.label = QLabel("")
        self.label.setWordWrap(True)
        # long warnings wrap instead of widening the window past the screen
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.lesion_choice = QComboBox()
        self.organ_choice = QComboBox()
        self.organ_choice.addItems(ORGANS)
        self.organ_choice.setEditable(True)
        self.node_check = QCheckBox("lymph node")
        self.fragment_check = QCheckBox("split: add as a fragment")
        self.fragment_check.setToolTip("The lesion has split: this measurement is one more fragment (summed)")
        self.accept_btn = QPushButton("Accept (Enter)")
        self.reject_btn = QPushButton("Reject, draw by hand (Esc)")
        self.accept_btn.clicked.connect(self.accept_requested)
        self.reject_btn.clicked.connect(self.reject_requested)
        self.lesion_choice.currentIndexChanged.connect(self._lesion_choice_changed)
        row = QHBoxLayout()
        for widget in (
            QLabel("as"),
            self.lesion_choice,
            QLabel("organ"),
            self.organ_choice,
            self.node_check,
            self.fragment_check,
            self.accept_btn,
            self.reject_btn,
        ):
            row.addWidget(widget)
        row.addStretch(1)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 3, 6, 3)
        outer.setSpacing(2)
        outer.addWidget(self.label)
        outer.addLayout(row)
        self.setVisible(False)

    def offer(self, text: str, session: ReadingSession, guess: str | None) -> None:
        """Show a waiting measurement: new-lesion choices for this timepoint, then the lesions it may belong to."""
        self.session = session
        self.label.setText(text)
        self.lesion_choice.blockSignals(True)
        self.lesion_choice.clear()
        for role in (Role.TARGET, Role.NON_TARGET) if session.is_baseline else (Role.NEW,):
            self.lesion_choice.addItem(NEW_CHOICES[role], role)
        for lesion_id, lesion in session.read.lesions.items():
            if lesion.role is not Role.NON_TARGET:
                self.lesion_choice.addItem(f"{lesion_id} ({lesion.organ})", lesion_id)
        index = self.lesion_choice.findData(guess) if guess is not None else 0
        self.lesion_choice.setCurrentIndex(max(index, 0))
        self.lesion_choice.blockSignals(False)
        self._lesion_choice_changed()
        self.setVisible(True)

    def choose(self, choice: Role | str) -> None:
        index = self.lesion_choice.findData(choice)
        if index >= 0:
            self.lesion_choice.setCurrentIndex(index)

    def choice(self) -> Role | str:
        data = self.lesion_choice.currentData()
        return data if isinstance(data, Role) else str(data)

    def organ(self) -> str:
        return self.organ_choice.currentText().strip() or "other"

    def as_fragment(self) -> bool:
        return self.fragment_check.isEnabled() and self.fragment_check.isChecked()

    def _lesion_choice_changed(self) -> None:
        """An existing lesion brings its organ and node flag; a fragment only makes sense where it is measured."""
        data = self.lesion_choice.currentData()
        s = self.session
        existing = isinstance(data, str) and s is not None and data in s.read.lesions
        self.organ_choice.setEnabled(not existing)
        self.node_check.setEnabled(not existing)
        self.fragment_check.setEnabled(bool(existing and s is not None and s.assessment(data) is not None))
        self.fragment_check.setChecked(False)
        if existing and s is not None:
            lesion = s.read.lesions[data]
            self.organ_choice.setCurrentText(lesion.organ)
            self.node_check.setChecked(lesion.is_node)
