"""The decision bar under the viewers: a measurement waiting for the reader (the engine's suggestion or a hand
drawing), which lesion it is for, and Accept / Reject. It only gathers the reader's choice; the main window records."""

from __future__ import annotations

import html

from PyQt6.QtCore import QEvent, QObject, Qt, pyqtSignal
from PyQt6.QtWidgets import QCheckBox, QComboBox, QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout

from workstation.read_model import Role
from workstation.session.reading import NODE_ORGAN, ReadingSession, non_target_seen_status
from workstation.ui.lesion_table import ORGANS

NEW_CHOICES = {Role.TARGET: "new target", Role.NON_TARGET: "new non-target", Role.NEW: "new lesion"}


#: what the organ box shows until the reader chooses one for a new lesion
ORGAN_PLACEHOLDER = "choose organ…"
#: what the bar's place says while no measurement waits
IDLE_HINT = ("Click inside a lesion to get a suggested outline and axes (M) · R ruler · B bidirectional · "
             "G measure the selected lesion at its proposed place · F fit · F1 every shortcut")


class DecisionBar(QFrame):
    """Always takes the same height, shown or hidden, so the viewer above never jumps."""

    accept_requested = pyqtSignal()
    reject_requested = pyqtSignal()

    def __init__(self) -> None:
        super().__init__()
        self.session: ReadingSession | None = None
        #: the organ the reader chose for a new lesion in this offer (kept while switching new target/non-target)
        self._new_organ = ""
        self.setFrameShape(QFrame.Shape.StyledPanel)
        # the bar is dark; its combo boxes (and their drop-down lists) keep dark text on a light ground
        self.setStyleSheet(
            "QFrame { background: #243447; } QLabel, QCheckBox { color: #f0f0f0; } "
            "QComboBox, QComboBox QAbstractItemView { color: #101010; background: #f4f4f4; "
            "selection-background-color: #3d6a99; selection-color: #ffffff; }"
        )
        self.label = QLabel("")
        self.label.setWordWrap(True)
        # long warnings wrap instead of widening the window past the screen
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        # three lines, whatever the text: the diameters, where they go, the engine's doubt
        self.label.setFixedHeight(3 * self.label.fontMetrics().lineSpacing() + 2)
        self._head: list[str] = []
        self._warning = ""
        self.label.installEventFilter(self)
        self.lesion_choice = QComboBox()
        self.organ_choice = QComboBox()
        self.organ_choice.addItems(["", *ORGANS])
        self.organ_choice.setEditable(True)
        line_edit = self.organ_choice.lineEdit()
        if line_edit is not None:
            line_edit.setPlaceholderText(ORGAN_PLACEHOLDER)
        self.organ_choice.currentTextChanged.connect(self._organ_changed)
        self.hint = QLabel("")
        self.hint.setStyleSheet("color: #ffb347;")
        self.node_check = QCheckBox("lymph node")
        self.fragment_check = QCheckBox("split fragment")
        self.fragment_check.setToolTip("The lesion has split: this measurement is one more fragment (summed)")
        self.accept_btn = QPushButton("Accept (Enter)")
        self.reject_btn = QPushButton("Reject (Esc)")
        self.reject_btn.setToolTip("Reject the suggestion and draw the lesion by hand (ruler R, bidirectional B)")
        self.accept_btn.clicked.connect(self.accept_requested)
        self.reject_btn.clicked.connect(self.reject_requested)
        self.lesion_choice.currentIndexChanged.connect(self._lesion_choice_changed)
        self.organ_choice.setMinimumContentsLength(14)
        # two rows that fit beside the docks: what waits, and Accept / Reject; then which lesion it is for
        top = QHBoxLayout()
        top.addWidget(self.label, 1)
        top.addWidget(self.accept_btn)
        top.addWidget(self.reject_btn)
        row = QHBoxLayout()
        for widget in (
            QLabel("as"),
            self.lesion_choice,
            QLabel("organ"),
            self.organ_choice,
            self.node_check,
            self.fragment_check,
            self.hint,
        ):
            row.addWidget(widget)
        row.addStretch(1)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 3, 6, 3)
        outer.setSpacing(2)
        outer.addLayout(top)
        outer.addLayout(row)
        self.setFixedHeight(self.sizeHint().height())
        self._base_height = self.height()  # with a three-line description
        # its width follows the viewers (never the other way round), hidden it keeps its place: the viewers keep
        # their geometry when a measurement comes and goes
        self.setSizePolicy(QSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed))
        #: shown in the bar's place, at the bar's height, while no measurement waits (the window lays it out beside
        #: the bar): one of the two is always there, so the viewers never change size
        self.idle_hint = QLabel(IDLE_HINT)
        self.idle_hint.setWordWrap(True)
        self.idle_hint.setStyleSheet("color: #606060; padding: 4px 8px;")
        self.idle_hint.setSizePolicy(QSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed))
        self.idle_hint.setFixedHeight(self.height())
        #: what the hint says, by layer (`say_below`)
        self._below: dict[str, tuple[str, bool]] = {"shortcuts": (IDLE_HINT, False)}
        super().setVisible(False)  # not ours: the hint has no parent yet and must not show as a window of its own

    def describe(self, head: list[str], warning: str = "") -> None:
        """The waiting measurement's description: ``head`` (rich-text lines: the diameters, where they go), then the
        engine's ``warning`` (plain text) cut to the lines left of three (a long one lost its end behind the organ
        row), refitted whenever the bar's width changes; the whole of it in the tooltip."""
        self._head, self._warning = list(head), warning
        whole = [*head, f"⚠ {html.escape(warning)}"] if warning else head
        self.label.setToolTip("<br>".join(whole))
        self._refit()

    def _refit(self) -> None:
        lines = list(self._head)
        if self._warning:
            # at least one line of its own: with three head lines (the diameters, where they go, "on the outline of
            # T1") the doubt went to a fourth line the bar cut off, unseen
            lines.append(html.escape(self.lines_wide(f"⚠ {self._warning}", max(1, 3 - len(lines)))))
        spacing = self.label.fontMetrics().lineSpacing()
        self.label.setFixedHeight(max(3, len(lines)) * spacing + 2)
        # a fourth line (rare) grows the bar for as long as it is shown; the images give way by that line
        self.setFixedHeight(self._base_height + max(0, len(lines) - 3) * spacing)
        self.label.setText("<br>".join(lines))

    def eventFilter(self, a0: QObject | None, a1: QEvent | None) -> bool:
        if a0 is self.label and a1 is not None and a1.type() == QEvent.Type.Resize and self._warning:
            self._refit()  # laid out at last (or resized with the window): the warning fits the width it has now
        return super().eventFilter(a0, a1)

    def lines_wide(self, text: str, lines: int) -> str:
        """``text`` shortened (…) to what ``lines`` lines of the description hold, as it wraps."""
        width = self.label.width()
        if width <= 50 or lines < 1:
            return text
        fm = self.label.fontMetrics()
        room = lines * fm.lineSpacing() + 2
        budget = width * lines
        while budget > width // 2:  # wrapped lines break between words: shorten until the wrapped text fits
            shown = fm.elidedText(text, Qt.TextElideMode.ElideRight, budget)
            if fm.boundingRect(0, 0, width, 10 * room, Qt.TextFlag.TextWordWrap, shown).height() <= room:
                return shown
            budget -= 4 * fm.averageCharWidth()
        return fm.elidedText(text, Qt.TextElideMode.ElideRight, width // 2)

    #: The hint's layers, lowest first: the shortcuts (or why the read is view only), the open subject's lock, a note on
    #: the reader's last click (no lesion found there). The highest one set is shown.
    BELOW_LAYERS = ("shortcuts", "lock", "note")

    def say_below(self, layer: str, text: str | None, warn: bool = False) -> None:
        """Set what ``layer`` says in the hint below the images (``warn``: in orange), or clear it (None): the
        highest layer set shows, so clearing a note or a lock brings back what was under it."""
        if text is None:
            self._below.pop(layer, None)
        else:
            self._below[layer] = (text, warn)
        shown, warned = next(self._below[n] for n in reversed(self.BELOW_LAYERS) if n in self._below)
        self.idle_hint.setText(shown)
        self.idle_hint.setStyleSheet(f"color: {'#9a4a00' if warned else '#606060'}; padding: 4px 8px;")

    def setVisible(self, visible: bool) -> None:
        super().setVisible(visible)
        self.idle_hint.setVisible(not visible)

    def offer(self, head: list[str], warning: str, session: ReadingSession, guess: str | None) -> None:
        """Show a waiting measurement (`describe`): new-lesion choices for this timepoint, then the lesions it may
        belong to."""
        self.session = session
        self._new_organ = ""
        self.describe(head, warning)
        self.lesion_choice.blockSignals(True)
        self.lesion_choice.clear()
        for role in (Role.TARGET, Role.NON_TARGET) if session.is_baseline else (Role.NEW,):
            self.lesion_choice.addItem(NEW_CHOICES[role], role)
        for lesion_id, lesion in session.read.lesions.items():
            # a non-target is not measured: accepting on it records where it is seen, keeping a status that says it is
            # seen (unequivocal progression stays so), else present
            what = lesion.organ
            if lesion.role is Role.NON_TARGET:
                what += f", non-target: {non_target_seen_status(session, lesion_id).value.replace('_', ' ')}"
            self.lesion_choice.addItem(f"{lesion_id} ({what})", lesion_id)
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
        """The organ chosen for the lesion ("" while a new lesion has none yet)."""
        return self.organ_choice.currentText().strip()

    def missing(self) -> str | None:
        """Why the choice cannot be accepted yet (a new lesion needs its organ), or None."""
        if isinstance(self.choice(), Role) and not self.organ():
            return "choose the organ of the new lesion first"
        return None

    def _organ_changed(self, text: str) -> None:
        if isinstance(self.lesion_choice.currentData(), Role):
            self._new_organ = text.strip()
            if self._new_organ.lower() == NODE_ORGAN:
                self.node_check.setChecked(True)  # a lesion in "lymph node" is measured as one (its short axis)
        self._update_accept()

    def _update_accept(self) -> None:
        why = self.missing()
        self.accept_btn.setEnabled(why is None)
        short = "choose its organ" if why is not None and "organ" in why else why  # short: the row is narrow
        self.hint.setText("" if short is None else f"⚠ {short}")
        self.hint.setToolTip("" if why is None else why)

    def as_fragment(self) -> bool:
        return self.fragment_check.isEnabled() and self.fragment_check.isChecked()

    def _lesion_choice_changed(self) -> None:
        """An existing lesion brings its organ and node flag; a fragment only makes sense where it is measured."""
        data = self.lesion_choice.currentData()
        s = self.session
        existing = isinstance(data, str) and s is not None and data in s.read.lesions
        self.organ_choice.setEnabled(not existing)
        self.node_check.setEnabled(not existing)
        measured = existing and s is not None and s.read.lesions[data].role is not Role.NON_TARGET
        self.fragment_check.setEnabled(bool(measured and s is not None and s.assessment(data) is not None))
        self.fragment_check.setChecked(False)
        self.organ_choice.blockSignals(True)
        if existing and s is not None:
            lesion = s.read.lesions[data]
            self.organ_choice.setCurrentText(lesion.organ)
            self.node_check.setChecked(lesion.is_node)
        else:  # a new lesion's organ is the reader's choice, never the last lesion's
            self.organ_choice.setCurrentText(self._new_organ)
        self.organ_choice.blockSignals(False)
        self._update_accept()
