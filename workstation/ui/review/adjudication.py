"""The adjudication dialog: both central reads of a discordant subject side by side (blinded), pick one with a reason.

It shows only what `workstation.review.adjudication_case` returns: the pseudonym, study days, generic labels, each
read's responses with their reasons, and (a second tab) each read's lesions with their diameters or states at every
timepoint (`workstation.review.lesion_grid`). ``adjudicate(chosen_read_id, reason, password)`` records the choice, e.g.
``workstation.review.service.adjudicate(db, pseudonym, username=..., password=password, chosen_read_id=chosen,
reason=reason, seen=case)`` (``seen`` refuses the decision if a read was amended meanwhile); a refusal is shown and
the dialog stays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PyQt6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workstation.review.blinding import study_days_in_text
from workstation.review.discordance import ReadOutcome
from workstation.review.lesion_grid import lesion_grid
from workstation.review.service import AdjudicationCase, CaseChanged
from workstation.ui.review.buttons import error_label, ok_cancel, password_field

COLUMNS = ["Timepoint", "Day", "Sum (mm)", "Target", "Non-target", "New", "Overall"]


def _day(iso: str | None) -> str:
    return "none" if iso is None else study_days_in_text(iso)


def _progression(outcome: ReadOutcome) -> str:
    """The date of progression; with none, an iUPD still unconfirmed at the last assessment is said (it was "none")."""
    if outcome.date_of_progression is not None:
        return _day(outcome.date_of_progression)
    rows = [r for r in outcome.result.get("timepoints", []) if r.get("overall_response")]
    if rows and rows[-1].get("overall_response") == "iUPD":
        return f"none (iUPD at {rows[-1].get('label')}, not confirmed)"
    return "none"


class AdjudicationDialog(QDialog):
    def __init__(
        self,
        case: AdjudicationCase,
        adjudicate: Callable[[str, str, str], None],
        parent: QWidget | None = None,
        view_on_images: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self._adjudicate = adjudicate
        #: opens read 1 or 2 on the subject's images (view only); no button when None
        self._view_on_images = view_on_images
        self.view_buttons: dict[int, QPushButton] = {}
        #: why the dialog closed without a decision because the reads changed under it (`CaseChanged`), else None
        self.changed: str | None = None
        #: asked before Esc or Cancel throws away a reason typed (a stray Esc closed the dialog, and the reason)
        self.confirm_discard: Callable[[], bool] = self._ask_discard
        self.case = case
        self.setWindowTitle(f"Adjudication: {case.pseudonym}")
        self.resize(1400, 720)  # both reads' tables whole, every column in view
        self.choice = QButtonGroup(self)
        self.choice.setExclusive(True)
        columns = QHBoxLayout()
        self._read_ids: dict[int, str] = {}
        outcomes = (case.comparison.first, case.comparison.second)
        for slot, (stored, outcome) in enumerate(zip((case.read_1, case.read_2), outcomes, strict=True), start=1):
            columns.addWidget(self._read_panel(slot, outcome, case))
            self._read_ids[slot] = stored.read.read_id
        self.reason = QPlainTextEdit()
        self.reason.setPlaceholderText("Why this read (the images and rule that decide it)")
        self.password = password_field()
        self.error = error_label()
        form = QFormLayout()
        form.addRow("Reason", self.reason)
        form.addRow("Password", self.password)
        self.buttons, self.ok = ok_cancel("Accept the chosen read")
        self.buttons.accepted.connect(self._try_adjudicate)
        self.buttons.rejected.connect(self.reject)
        for signal in (self.reason.textChanged, self.password.textChanged, self.choice.buttonToggled):
            signal.connect(self._update_ok)
        self._update_ok()
        layout = QVBoxLayout(self)
        reasons = study_days_in_text("; ".join(case.comparison.reasons()))
        layout.addWidget(QLabel(f"The reads disagree: {reasons}"))
        layout.addLayout(columns)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def _read_panel(self, slot: int, outcome: ReadOutcome, case: AdjudicationCase) -> QGroupBox:
        box = QGroupBox(f"Read {slot}")
        radio = QRadioButton(f"Accept read {slot}")
        self.choice.addButton(radio, slot)
        other = case.comparison.other  # the same read under the other criteria: a disagreement there counts too
        also = (other.first, other.second)[slot - 1] if other is not None else None
        under_other = (
            f"Under {case.comparison.other_criteria}: {also.best_overall_response}, progression "
            f"{_progression(also)}\n"
            if also is not None
            else ""
        )
        summary = QLabel(
            f"Best overall response: {outcome.best_overall_response}\n"
            f"Progression: {_progression(outcome)}\n"
            f"{under_other}"
            f"{study_days_in_text(str(outcome.result.get('best_overall_response_reason', '')))}"
        )
        summary.setWordWrap(True)
        columns = [*COLUMNS, *([case.comparison.other_criteria] if also is not None else [])]
        table = QTableWidget(len(case.timepoints), len(columns))
        table.setHorizontalHeaderLabels(columns)
        other_rows = {str(r.get("label")): r for r in (also.result.get("timepoints", []) if also else [])}
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)  # what is decided between, never typed over
        rows: list[dict[str, Any]] = outcome.result.get("timepoints", [])
        for r, (tp, row) in enumerate(zip(case.timepoints, rows, strict=False)):
            values = [
                tp.label,
                str(tp.study_day),
                row.get("sum_mm"),
                row.get("target_response"),
                row.get("non_target_response"),
                row.get("new_lesions"),
                row.get("overall_response"),
                *([other_rows.get(str(row.get("label")), {}).get("overall_response")] if also is not None else []),
            ]
            for c, value in enumerate(values):
                item = QTableWidgetItem("" if value is None else str(value))
                item.setToolTip(study_days_in_text(str(row.get("reason") or "")))
                table.setItem(r, c, item)
        layout = QVBoxLayout(box)
        layout.addWidget(summary)
        tabs = QTabWidget()
        tabs.addTab(table, "Responses")
        tabs.addTab(self._lesion_table(case.read_1.read if slot == 1 else case.read_2.read), "Lesions (mm)")
        layout.addWidget(tabs)
        if self._view_on_images is not None:
            view = QPushButton(f"View read {slot} on the images…")
            view.setToolTip("its measurements on the subject's images, blinded and view only")
            view.clicked.connect(lambda _checked=False, s=slot: self._view_on_images and self._view_on_images(s))
            self.view_buttons[slot] = view
            layout.addWidget(view)
        layout.addWidget(radio)
        return box

    @staticmethod
    def _lesion_table(read: Any) -> QTableWidget:
        """Each lesion of the read at every timepoint: its diameter (a node's short axis) or its state."""
        grid = lesion_grid(read)
        table = QTableWidget(len(grid.rows), len(grid.timepoints))
        table.setHorizontalHeaderLabels(grid.timepoints)
        table.setVerticalHeaderLabels([label for label, _ in grid.rows])
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for r, (_, cells) in enumerate(grid.rows):
            for c, text in enumerate(cells):
                table.setItem(r, c, QTableWidgetItem(text))
        table.resizeColumnsToContents()
        return table

    def chosen_read_id(self) -> str | None:
        slot = self.choice.checkedId()
        return self._read_ids.get(slot)

    def _update_ok(self, *_: object) -> None:
        ready = bool(self.chosen_read_id() and self.reason.toPlainText().strip() and self.password.text())
        self.ok.setEnabled(ready)

    def reject(self) -> None:
        """Esc or Cancel: closes without a decision; a reason typed is only thrown away once the adjudicator says so."""
        if self.changed is None and self.reason.toPlainText().strip() and not self.confirm_discard():
            return
        super().reject()

    def _ask_discard(self) -> bool:
        answer = QMessageBox.question(
            self, "Adjudication", "Close without a decision? The reason you typed is not kept.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No,
        )  # fmt: skip
        return answer == QMessageBox.StandardButton.Yes

    def _try_adjudicate(self) -> None:
        chosen = self.chosen_read_id()
        if chosen is None:
            return
        try:
            self._adjudicate(chosen, self.reason.toPlainText().strip(), self.password.text())
        except CaseChanged as exc:  # what is shown is no longer the case: closed, to be opened again as it now is
            self.changed = str(exc)
            self.password.clear()
            self.reject()
            return
        except Exception as exc:  # the service's one-line refusal
            self.error.setText(str(exc))
            self.password.clear()
            return
        self.password.clear()
        self.accept()
