"""The lesion table: one row per lesion; per timepoint its diameter or status; the baseline rule for each target.

It shows the session's read and calls the session to change it (status, role, organ, node flag, delete); selecting a
row selects the lesion in the session, and the main window jumps the viewer there.
"""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtCore import QPoint, Qt, pyqtSignal
from PyQt6.QtGui import QAction, QBrush, QColor
from PyQt6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QTableWidget, QTableWidgetItem, QWidget

from workstation.read_model import LesionStatus, MeasurementOrigin, Point, Role
from workstation.session.baseline_rules import RuleFinding
from workstation.session.reading import ReadingSession, allowed_statuses
from workstation.ui.mm_text import mm

ORGANS = ("liver", "lung", "lymph node", "stomach", "oesophagus", "peritoneum", "pleura", "bone", "adrenal", "other")

_ORIGIN_MARK = {
    MeasurementOrigin.ACCEPTED: "",
    MeasurementOrigin.ADJUSTED: " (adj)",
    MeasurementOrigin.MANUAL: " (hand)",
    MeasurementOrigin.SUGGESTED: " (?)",
}
_STATUS_TEXT = {
    LesionStatus.DISAPPEARED: "0 (gone)",
    LesionStatus.TOO_SMALL: "too small (5 mm)",
    LesionStatus.MERGED: "merged",
    LesionStatus.NOT_EVALUATED: "not evaluated",
    LesionStatus.PRESENT: "present",
    LesionStatus.ABSENT: "absent",
    LesionStatus.UNEQUIVOCAL_PROGRESSION: "unequivocal progression",
    LesionStatus.FURTHER_INCREASE: "further increase",
    LesionStatus.UNEQUIVOCAL: "unequivocal",
    LesionStatus.EQUIVOCAL: "equivocal",
}
FIXED_COLUMNS = ("Lesion", "Role", "Organ", "Node")


def _finding_text(finding: RuleFinding) -> str:
    """✗ a rule broken; ⚠ within the rules, with something to check (a bone target); ✓ fine; then why."""
    if not finding.ok:
        return f"✗ {finding.reason}"
    return f"⚠ {finding.caution}; {finding.reason}" if finding.caution else f"✓ {finding.reason}"


def cell_text(session: ReadingSession, lesion_id: str, tp_index: int) -> str:
    a = session.assessment(lesion_id, tp_index)
    if a is None:
        return ""
    if a.status is LesionStatus.MEASURED:
        lesion = session.read.lesions[lesion_id]
        parts = []
        for m in a.measurements:
            d = m.short_axis_mm if lesion.is_node else m.long_axis_mm
            parts.append(f"{mm(d)} mm{_ORIGIN_MARK[m.origin]}" if d is not None else "?")
        if len(parts) > 1:  # a split lesion: the fragments' sum counts (RECIST 1.1 sec. 4.3.2)
            sizes = [m.short_axis_mm if lesion.is_node else m.long_axis_mm for m in a.measurements]
            if all(d is not None for d in sizes):
                return f"{mm(sum(d for d in sizes if d is not None))} mm = " + " + ".join(parts)
        return " + ".join(parts) if parts else "measured"
    if a.status is LesionStatus.MERGED:
        return f"merged into {a.merged_into}"
    return _STATUS_TEXT.get(a.status, a.status.value)


class LesionTable(QTableWidget):
    lesion_selected = pyqtSignal(object)  # lesion id or None
    lesion_clicked = pyqtSignal(str)  # a click on the selected lesion's row: show it again
    message = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session: ReadingSession | None = None
        self.findings: dict[str, RuleFinding] = {}
        #: where a lesion given a status that says it is seen (present, ...) was seen, when the reader placed it
        #: nowhere here yet: the window's proposal at this follow-up (as the status box does); None: nowhere
        self.point_for: Callable[[str, LesionStatus], Point | None] = lambda _lesion, _status: None
        #: a Yes/No question to the reader (the window's); without one the answer is No
        self.ask: Callable[[str], bool] = lambda _question: False
        self._updating = False
        # a click on a row selects the lesion and leaves the keys with the images (the arrows moved the table's
        # selection, and both viewers jumped to the next lesion); Tab cycles the lesions from anywhere
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().setVisible(False)  # type: ignore[union-attr]
        self.setAlternatingRowColors(True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)
        self.itemSelectionChanged.connect(self._selection_changed)
        # a click on the row already selected changes no selection, but the reader expects to be taken to it
        self.cellClicked.connect(self._clicked)

    def show_session(self, session: ReadingSession | None, findings: dict[str, RuleFinding]) -> None:
        self.session = session
        self.findings = findings
        self._updating = True
        try:
            self.clear()
            if session is None:
                self.setRowCount(0)
                self.setColumnCount(0)
                return
            tps = session.read.timepoints
            headers = [*FIXED_COLUMNS, *(tp.label for tp in tps), "Baseline rule"]
            self.setColumnCount(len(headers))
            self.setHorizontalHeaderLabels(headers)
            ids = session.read.lesion_ids_in_order()
            self.setRowCount(len(ids))
            for row, lesion_id in enumerate(ids):
                lesion = session.read.lesions[lesion_id]
                values = [lesion_id, lesion.role.value, lesion.organ, "yes" if lesion.is_node else ""]
                values += [cell_text(session, lesion_id, t) for t in range(len(tps))]
                finding = findings.get(lesion_id)
                values.append("" if finding is None else _finding_text(finding))
                for col, text in enumerate(values):
                    item = QTableWidgetItem(text)
                    item.setData(Qt.ItemDataRole.UserRole, lesion_id)
                    if col == len(FIXED_COLUMNS) + session.current_timepoint:
                        f = item.font()
                        f.setBold(True)
                        item.setFont(f)
                    if finding is not None and (not finding.ok or finding.caution) and col == len(values) - 1:
                        item.setForeground(QBrush(QColor("#d9534f" if not finding.ok else "#c77c02")))
                        item.setToolTip(f"{finding.caution}; {finding.reason}" if finding.caution else finding.reason)
                    self.setItem(row, col, item)
                if lesion_id == session.selected_lesion:
                    self.selectRow(row)
            header = self.horizontalHeader()
            assert header is not None
            header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
            header.setStretchLastSection(True)
            if self.rowCount():  # the timepoint being read in view (on a laptop week 12 showed as "22.2 m")
                top = max(0, self.rowAt(0))  # the row shown at the top: only the columns move
                current = self.item(top, len(FIXED_COLUMNS) + session.current_timepoint)
                if current is not None:
                    self.scrollToItem(current, QAbstractItemView.ScrollHint.EnsureVisible)
        finally:
            self._updating = False

    def select(self, lesion_id: str | None) -> None:
        self._updating = True
        try:
            self.clearSelection()
            for row in range(self.rowCount()):
                item = self.item(row, 0)
                if item is not None and item.text() == lesion_id:
                    self.selectRow(row)
        finally:
            self._updating = False

    def selected_lesion(self) -> str | None:
        rows = self.selectionModel().selectedRows() if self.selectionModel() else []  # type: ignore[union-attr]
        if not rows:
            return None
        item = self.item(rows[0].row(), 0)
        return None if item is None else item.text()

    def _selection_changed(self) -> None:
        if not self._updating:
            self.lesion_selected.emit(self.selected_lesion())

    def _clicked(self, row: int, _column: int) -> None:
        item = self.item(row, 0)
        if not self._updating and item is not None and item.text() == self.selected_lesion():
            self.lesion_clicked.emit(item.text())

    def _context_menu(self, pos: QPoint) -> None:
        item = self.itemAt(pos)
        if item is None or self.session is None:
            return
        menu = self.lesion_menu(str(item.data(Qt.ItemDataRole.UserRole)))
        viewport = self.viewport()
        assert viewport is not None
        menu.exec(viewport.mapToGlobal(pos))

    def lesion_menu(self, lesion_id: str) -> QMenu:
        """The right-click menu of a lesion's row: its status here, merge, role, organ, node, clear, delete."""
        session = self.session
        assert session is not None
        lesion = session.read.lesions[lesion_id]
        menu = QMenu(self)
        status_menu = menu.addMenu(f"Status at {session.timepoint.label}")
        assert status_menu is not None
        for status in status_choices(session, lesion.role):
            act = QAction(_STATUS_TEXT.get(status, status.value), status_menu)
            act.triggered.connect(lambda _=False, s=status: self._run(
                lambda: session.set_status(lesion_id, s, point=self.point_for(lesion_id, s))))
            status_menu.addAction(act)
        if lesion.role is Role.TARGET and not session.is_baseline:  # a target merges at a follow-up only
            merge_menu = menu.addMenu("Merged into")
            assert merge_menu is not None
            candidates = session.merge_candidates(lesion_id)  # targets of the same organ
            for other in candidates:
                act = QAction(other, merge_menu)
                act.triggered.connect(lambda _=False, o=other: self._run(lambda: self._merge(session, lesion_id, o)))
                merge_menu.addAction(act)
            if not candidates:
                none = QAction(f"no other target in {lesion.organ}", merge_menu)
                none.setEnabled(False)
                merge_menu.addAction(none)
        if session.is_baseline and lesion.role is not Role.NEW:
            other_role = Role.NON_TARGET if lesion.role is Role.TARGET else Role.TARGET
            act = QAction(f"Make {other_role.value}", menu)
            act.triggered.connect(lambda: self._run(lambda: session.update_lesion(lesion_id, role=other_role)))
            menu.addAction(act)
        organ_menu = menu.addMenu("Organ")
        assert organ_menu is not None
        for organ in ORGANS:
            act = QAction(organ, organ_menu)
            act.setCheckable(True)
            act.setChecked(organ == lesion.organ)
            act.triggered.connect(lambda _=False, o=organ: self._run(lambda: session.update_lesion(lesion_id, organ=o)))
            organ_menu.addAction(act)
        node = QAction("Lymph node", menu)
        node.setCheckable(True)
        node.setChecked(lesion.is_node)
        node.triggered.connect(lambda checked: self._run(lambda: session.update_lesion(lesion_id, is_node=checked)))
        menu.addAction(node)
        menu.addSeparator()
        clear = QAction(f"Clear {lesion_id} at {session.timepoint.label}", menu)
        clear.triggered.connect(lambda: self._run(lambda: session.clear_assessment(lesion_id)))
        menu.addAction(clear)
        delete = QAction(f"Delete {lesion_id} (all timepoints)", menu)
        delete.triggered.connect(lambda: self._run(lambda: session.remove_lesion(lesion_id)))
        menu.addAction(delete)
        return menu

    def _merge(self, session: ReadingSession, lesion_id: str, into: str) -> None:
        """Merge, asking first whether a measurement of the host here is already the coalesced lesion's."""
        host = session.assessment(into)
        coalesced = host is not None and host.status is LesionStatus.MEASURED and self.ask(
            f"Is {into}'s measurement here already of the coalesced lesion ({into} and {lesion_id} together)? Yes: "
            f"keep it. No: it is taken back, and you measure {into} again as the coalesced lesion")
        self.message.emit(session.merge(lesion_id, into, host_measured_as_coalesced=coalesced))

    def _run(self, action: object) -> None:
        try:
            action()  # type: ignore[operator]
        except Exception as exc:  # SessionError and friends: one line for the reader
            self.message.emit(str(exc))


def status_choices(session: ReadingSession, role: Role) -> list[LesionStatus]:
    """The statuses the menu offers a lesion at the session's timepoint (measuring and merging have their own ways;
    at baseline only what the session accepts there: present for a non-target, nothing for a target)."""
    return [s for s in allowed_statuses(role, at_baseline=session.is_baseline)
            if s not in (LesionStatus.MEASURED, LesionStatus.MERGED)]
