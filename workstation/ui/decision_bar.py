"""The decision bar under the viewers: a measurement waiting for the reader (the engine's suggestion or a hand
drawing), which lesion it is for, and Accept / Reject. It only gathers the reader's choice; the main window records."""

from __future__ import annotations

import html

from PyQt6.QtCore import QEvent, QObject, Qt, pyqtSignal
from PyQt6.QtGui import QResizeEvent, QTextDocument
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from workstation.read_model import Role
from workstation.session.reading import NODE_ORGAN, ReadingSession, non_target_seen_status
from workstation.ui.lesion_table import ORGANS

NEW_CHOICES = {Role.TARGET: "new target", Role.NON_TARGET: "new non-target", Role.NEW: "new lesion"}


#: what the organ box shows until the reader chooses one for a new lesion
ORGAN_PLACEHOLDER = "choose organ…"
#: the hint beside the choices while a new lesion has no organ (short: the line is narrow)
ORGAN_HINT = "⚠ choose its organ"
#: between the controls on a line of choices (pixels)
_SPACING = 6
#: what the bar's place says while no measurement waits
IDLE_HINT = ("Click inside a lesion to get a suggested outline and axes (M) · R ruler · B bidirectional · "
             "G measure the selected lesion at its proposed place · F fit · F1 every shortcut")


#: the lines the description of a waiting measurement always has (the hint in its place keeps them): four, so that a
#: re-measure's two-line "↻ ..." with the diameters and a doubt does not grow the bar and move the images (the
#: laptop radiologist's re-check: with three the images jumped 15 px as the line just drawn was described)
DESCRIPTION_LINES = 4

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
        # DESCRIPTION_LINES lines, whatever the text: the diameters, where they go (a re-measure's "↻ on the outline
        # of T4: Enter re-measures T4 ..." takes two in a narrow bar), the engine's doubt
        self.label.setFixedHeight(DESCRIPTION_LINES * self.label.fontMetrics().lineSpacing() + 2)
        self._head: list[str] = []
        self._warning = ""
        self.label.installEventFilter(self)
        self.lesion_choice = QComboBox()
        # as wide as its longest item ("T3 (lymph node, non-target: present)"), never cut to "new targe"
        self.lesion_choice.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.organ_choice = QComboBox()
        self.organ_choice.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.organ_choice.addItems(["", *ORGANS])
        self.organ_choice.setEditable(True)
        line_edit = self.organ_choice.lineEdit()
        if line_edit is not None:
            line_edit.setPlaceholderText(ORGAN_PLACEHOLDER)
        self.organ_choice.currentTextChanged.connect(self._organ_changed)
        self.hint = QLabel(ORGAN_HINT)
        self.hint.setStyleSheet("color: #ffb347;")
        self.hint.ensurePolished()
        self.hint.setMinimumWidth(self.hint.sizeHint().width())  # its place kept: the lines do not change with it
        self.hint.setText("")
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
        #: shown in the bar's place, at the bar's height, while no measurement waits (the window lays it out beside
        #: the bar): one of the two is always there, so the viewers never change size
        self.idle_hint = QLabel(IDLE_HINT)
        self.idle_hint.setWordWrap(True)
        self.idle_hint.setStyleSheet("color: #606060; padding: 4px 8px;")
        self.idle_hint.setSizePolicy(QSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed))
        self.idle_hint.installEventFilter(self)  # resized while the bar is hidden: the bar's lines follow its width
        # what waits, and Accept / Reject; then which lesion it is for, on as many lines as the width needs
        top = QHBoxLayout()
        top.addWidget(self.label, 1)
        top.addWidget(self.accept_btn)
        top.addWidget(self.reject_btn)
        #: the choices in groups kept on one line; a narrow bar (1366 px with the docks, or at 200 %) wraps them onto
        #: more lines, each control at its full width (squeezed, they showed "new targe", "lymph noc", "⚠ choose its o")
        self._groups: list[tuple[QWidget, ...]] = [
            (QLabel("as"), self.lesion_choice),
            (QLabel("organ"), self.organ_choice),
            (self.node_check,),
            (self.fragment_check,),
            (self.hint,),
        ]
        self._lines: list[QHBoxLayout] = []
        rows = QVBoxLayout()
        rows.setSpacing(2)
        for _ in self._groups:
            line = QHBoxLayout()
            line.setSpacing(_SPACING)
            line.addStretch(1)
            rows.addLayout(line)
            self._lines.append(line)
        # every line of choices as high as the tallest control: the bar's height depends on the number of lines
        # only, never on which controls share one (a combo box moving onto the checkboxes' line made it 5 px taller
        # than the hint in its place, and the images moved when a measurement came)
        tallest = max(w.sizeHint().height() for group in self._groups for w in group)
        for group in self._groups:
            for widget in group:
                widget.setMinimumHeight(tallest)
        self._packing: tuple[int, ...] = ()  # groups per line
        self._fitted_width = -1  # the description's width its text was fitted to
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 3, 6, 3)
        outer.setSpacing(2)
        outer.addLayout(top)
        outer.addLayout(rows)
        self._wrap(1 << 16)  # on one line until the bar has a width
        # its width follows the viewers (never the other way round), hidden it keeps its place: the viewers keep
        # their geometry when a measurement comes and goes
        self.setSizePolicy(QSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed))
        #: what the hint says, by layer (`say_below`)
        self._below: dict[str, tuple[str, bool]] = {"shortcuts": (IDLE_HINT, False)}
        super().setVisible(False)  # not ours: the hint has no parent yet and must not show as a window of its own

    def describe(self, head: list[str], warning: str = "") -> None:
        """The waiting measurement's description: ``head`` (rich-text lines: the diameters, where they go), then the
        engine's ``warning`` (plain text) cut to the lines left of `DESCRIPTION_LINES` (a long one lost its end behind
        the organ
        row), refitted whenever the bar's width changes; the whole of it in the tooltip."""
        self._head, self._warning = list(head), warning
        whole = [*head, f"⚠ {html.escape(warning)}"] if warning else head
        self.label.setToolTip("<br>".join(whole))
        self._refit()

    def _refit(self) -> None:
        width = self.label.width()
        self._fitted_width = width
        spacing = self.label.fontMetrics().lineSpacing()
        lines = list(self._head)
        if self._warning:
            # at least one line of its own, after the lines the head takes at this width (a head line wraps in a
            # narrow bar: counted as one, the doubt's second line was cut through the middle)
            used = round(self._text_height("<br>".join(lines), width) / spacing) if lines else 0
            lines.append(html.escape(self.lines_wide(f"⚠ {self._warning}", max(1, DESCRIPTION_LINES - used))))
        text = "<br>".join(lines)
        # three lines, or as many as the text takes: a fourth line (rare) grows the bar for as long as it is shown;
        # the images give way by that line
        shown = (max(DESCRIPTION_LINES, round(self._text_height(text, width) / spacing)) if width > 50
                 else max(DESCRIPTION_LINES, len(lines)))
        self.label.setFixedHeight(shown * spacing + 2)
        self.label.setText(text)
        self._fit_height()

    def _text_height(self, text: str, width: int) -> float:
        """The height of the description's rich ``text`` wrapped to ``width``, as the label lays it out."""
        doc = QTextDocument()
        doc.setDefaultFont(self.label.font())
        doc.setDocumentMargin(0)
        doc.setHtml(text)
        doc.setTextWidth(width)
        return float(doc.size().height())

    def _fit_height(self) -> None:
        """The bar as high as its description and its lines of choices; the hint in its place while none waits as
        high as the bar with a description of `DESCRIPTION_LINES` lines."""
        layout = self.layout()
        assert layout is not None
        _invalidate(layout)  # a changed line or label height: the nested lines keep their old size hints otherwise
        whole = self.sizeHint().height()
        self.setFixedHeight(whole)
        reserved = DESCRIPTION_LINES * self.label.fontMetrics().lineSpacing() + 2
        self.idle_hint.setFixedHeight(whole - (self.label.minimumHeight() - reserved))

    def _wrap(self, width: int) -> None:
        """The choices on as few lines as ``width`` holds with every control at its full width."""
        layout = self.layout()
        assert layout is not None
        margins, inner = self.contentsMargins(), layout.contentsMargins()
        room = width - margins.left() - margins.right() - inner.left() - inner.right()
        packing: list[int] = []  # groups per line
        used = 0
        for group in self._groups:
            need = sum(w.sizeHint().expandedTo(w.minimumSize()).width() for w in group) + _SPACING * (len(group) - 1)
            if packing and used + _SPACING + need <= room:
                packing[-1] += 1
                used += _SPACING + need
            else:
                packing.append(1)
                used = need
        if tuple(packing) == self._packing:
            return
        self._packing = tuple(packing)
        groups = iter(self._groups)
        for line, count in zip(self._lines, packing, strict=False):
            for _ in range(count):
                for widget in next(groups):
                    for other in self._lines:
                        other.removeWidget(widget)
                    line.insertWidget(line.count() - 1, widget)  # before the line's stretch
        self._fit_height()

    def _shown_width(self) -> int:
        """The width of the bar's place: the bar's, or the hint's while the hint is there instead."""
        return self.idle_hint.width() if self.isHidden() and not self.idle_hint.isHidden() else self.width()

    def resizeEvent(self, a0: QResizeEvent | None) -> None:
        super().resizeEvent(a0)
        self._wrap(self.width())

    def eventFilter(self, a0: QObject | None, a1: QEvent | None) -> bool:
        if a1 is not None and a1.type() == QEvent.Type.Resize:
            if a0 is self.label and self.label.width() != self._fitted_width:
                self._refit()  # laid out at last (or resized with the window): the text fits the width it has now
            elif a0 is self.idle_hint and self.isHidden():
                self._wrap(self.idle_hint.width())
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
        # the one going first: showing a widget lays the window out at once, and with both there (two lines of
        # choices each) the images' place needed more than it had and took it from the response dock for good
        if visible:
            self.idle_hint.setVisible(False)
            super().setVisible(True)
        else:
            super().setVisible(False)
            self.idle_hint.setVisible(True)

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
        self._wrap(self._shown_width())  # the lesions' names may be longer than the last offer's
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
        self.hint.setText("" if why is None else ORGAN_HINT if "organ" in why else f"⚠ {why}")
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


def _invalidate(layout: QLayout) -> None:
    """Forget the size hints of ``layout`` and of every layout in it."""
    for n in range(layout.count()):
        item = layout.itemAt(n)
        child = item.layout() if item is not None else None
        if child is not None:
            _invalidate(child)
    layout.invalidate()
