"""The main window: worklist, two viewers (an earlier scan and the current one, kept in step), lesion table, response
panel. The earlier scan is the baseline, the previous scan or the nadir, as the reader chooses.

It wires views to the Qt-free session (`workstation.session`): views show session state and call session methods;
slow work (loading, segmentation, registration) runs in `JobRunner` workers with progress and cancel.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PyQt6.QtCore import QObject, Qt, pyqtSignal
from PyQt6.QtGui import QAction, QCloseEvent, QKeySequence
from PyQt6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from imaging.cancel import CancelToken, ProgressCallback
from imaging.volume import Volume
from workstation import paths
from workstation.mask_store import MaskStore, MaskStoreError
from workstation.read_model import LesionStatus, Measurement, Read, Role
from workstation.session.baseline_rules import check_baseline
from workstation.session.compare_with import CompareWith, compare_role, compare_timepoint
from workstation.session.followup import (
    IDENTITY,
    LesionProposal,
    RigidMapping,
    mask_seed_point,
    propose_positions,
    register_rigid,
)
from workstation.session.persistence import JsonReadStore, ReadClosedError, ReadStore, ReadStoreError
from workstation.session.reading import SEEN_STATUSES, Change, ReadingSession, SessionError, allowed_statuses
from workstation.session.response import summarize
from workstation.session.retrieved import add_remembered, remembered
from workstation.session.same_patient import other_patient, patients_in_folder
from workstation.session.series_choice import choice_note
from workstation.session.suggestions import MeasuringService
from workstation.session.worklist import (
    DicomFolderSource,
    SubjectEntry,
    WorklistError,
    new_read,
    reconcile_timepoints,
    scan_trial,
    settings_mismatch,
    use_recorded_series,
)
from workstation.ui.decision_bar import DecisionBar
from workstation.ui.lesion_table import LesionTable
from workstation.ui.measuring_actions import MeasuringMixin, Pending, middle_of
from workstation.ui.read_actions import ReadActionsMixin
from workstation.ui.response_panel import ResponsePanel, SubjectCurve, curve_for
from workstation.ui.viewer import PRESETS, VIEWER_KEYS, OverlayLine, Plane, SliceViewer, Tool, preset_name
from workstation.ui.workers import Job, JobRunner

log = logging.getLogger(__name__)


class _Bridge(QObject):
    """Carries a callback from a worker thread to the GUI thread."""

    first_slice = pyqtSignal(object, object, int)  # key, volume, slice index


class MainWindow(MeasuringMixin, ReadActionsMixin, QMainWindow):
    def __init__(
        self,
        reader: str = "reader",
        store: ReadStore | None = None,
        measuring: MeasuringService | None = None,
        data_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.setWindowTitle("RECIST workstation")
        self.reader = reader
        self.data_dir = data_dir or paths.data_dir()
        self.store: ReadStore = store or JsonReadStore(paths.reads_dir(self.data_dir))
        self.measuring = measuring or MeasuringService()
        if self.measuring.mask_store is None:  # every accepted outline is kept, for DICOM SEG and redrawing
            self.measuring.mask_store = MaskStore(paths.masks_dir(self.data_dir))
        self.measuring.warm_up_in_background()  # the model loads while the reader opens a subject
        self.jobs = JobRunner()
        self.jobs.idle.connect(self._all_jobs_done)
        self.subjects: list[SubjectEntry] = []
        self.subject_index = -1
        self.session: ReadingSession | None = None
        self.volumes: dict[tuple[str, int], Volume] = {}
        self._loading: dict[tuple[str, int], Job] = {}
        #: what the second viewer shows at a follow-up (the reader's choice, kept from follow-up to follow-up) ...
        self.compare_with = CompareWith.BASELINE
        #: ... and the timepoint that is, at the follow-up open
        self.compare_tp = 0
        #: baseline -> timepoint mappings found by registration, per timepoint of the open subject
        self.mappings: dict[int, RigidMapping] = {}
        self._registering: set[int] = set()
        #: timepoints whose registration failed (kept in step by patient position, not tried again)
        self._unregistered: set[int] = set()
        self._curves: dict[str, SubjectCurve] = {}
        self._last_progress_redraw = 0.0
        self.proposals: list[LesionProposal] = []
        #: the timepoint whose proposals are final (registration done, or not needed)
        self.proposals_final_for: int | None = None
        #: (timepoint, slice) the viewer was taken to for the selected lesion when its images came in
        self._shown_at: tuple[int, int] | None = None
        #: set while the viewers follow the selected lesion again without a word (after registration)
        self._quiet_selection = False
        #: set while an edit the store will never take is undone (nothing to save then)
        self._rolling_back = False
        self.pending: Pending | None = None
        self.sendable: dict[str, list[Path]] = {}
        self._suggest_job: Job | None = None
        #: where the reader last clicked or drew (patient mm): which lesion a measurement is for is guessed from it
        self._click_point: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self._click_slice = 0  #: the slice the last click was on
        #: the subject and timepoint of ``_click_point`` (None before any click)
        self._clicked_at: tuple[str, int] | None = None
        #: the lesion the reader asked to measure with G (None for a plain click or a drawing)
        self._intended_lesion: str | None = None
        #: outlines of measured lesions read from the mask store (a stored mask never changes)
        self._outline_cache: dict[str, tuple[Any, tuple[int, int, int]]] = {}
        self._bridge = _Bridge()
        self._bridge.first_slice.connect(self._first_slice_ready)
        self._syncing = False
        #: answers to questions in tests: None asks the person
        self.auto_answer: bool | None = None
        #: set for a blinded central read (`open_central_review`): every text shown passes through it
        self.blinder: Callable[[str], str] | None = None
        #: when set, reads are shown and never changed (`enter_view_only`); the message says why
        self.view_only: str | None = None
        self._replaced: str | None = None
        #: the lock notice of the subject open (None: not locked), kept in the status bar (`lock_label`)
        self.lock_said: str | None = None
        self._build()

    # ---- layout --------------------------------------------------------------------------------------------------
    def _build(self) -> None:
        from workstation.ui.worklist_view import WorklistView

        self.compare_viewer = SliceViewer("compare")
        self.current_viewer = SliceViewer("current")
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.compare_viewer)
        self.splitter.addWidget(self.current_viewer)
        self.current_viewer.slice_changed.connect(self._sync_from_current)
        self.compare_viewer.slice_changed.connect(self._sync_from_compare)
        self.current_viewer.window_changed.connect(lambda w, lv: self._sync_window(self.compare_viewer, w, lv))
        self.compare_viewer.window_changed.connect(lambda w, lv: self._sync_window(self.current_viewer, w, lv))
        # the same millimetres per pixel in both while they are kept in step (a zoom on one left the other as it was)
        self.current_viewer.link_zoom(self.compare_viewer, lambda: self.sync_check.isChecked())
        self.current_viewer.clicked.connect(self.suggest_at)
        self.current_viewer.line_drawn.connect(self._line_drawn)
        self.current_viewer.endpoint_moved.connect(self._endpoint_moved)

        self.decision_bar = DecisionBar()
        self.decision_bar.accept_requested.connect(self.accept_pending)
        self.decision_bar.reject_requested.connect(self.reject_pending)
        # the bar's inputs, as the reader sets them (also driven by shortcuts N and T)
        self.lesion_choice = self.decision_bar.lesion_choice
        self.organ_choice = self.decision_bar.organ_choice
        self.node_check = self.decision_bar.node_check
        self.node_check.toggled.connect(self._node_changed)
        self.fragment_check = self.decision_bar.fragment_check
        self.organ_choice.activated.connect(lambda _i: self.current_viewer.setFocus())
        centre = QWidget()
        v = QVBoxLayout(centre)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(self.splitter, 1)
        v.addWidget(self.decision_bar.idle_hint)
        v.addWidget(self.decision_bar)
        self.setCentralWidget(centre)

        self.worklist = WorklistView()
        self.worklist.signing = getattr(self.store, "sign", None) is not None  # the trial database signs
        self.worklist.setMinimumWidth(230)
        self.worklist.timepoint_activated.connect(self.open_timepoint)
        self.worklist.timepoint_activated.connect(lambda _s, _t: self.current_viewer.setFocus())
        worklist_dock = self._dock("Worklist", self.worklist, Qt.DockWidgetArea.LeftDockWidgetArea)

        lesion_page = QWidget()
        lv = QVBoxLayout(lesion_page)
        lv.setContentsMargins(2, 2, 2, 2)
        buttons = QHBoxLayout()
        self.add_target_btn = QPushButton("Target… (T)")
        self.add_nontarget_btn = QPushButton("Non-target (Shift+N)")
        self.add_new_btn = QPushButton("New lesion (Shift+L)")
        self.add_target_btn.setToolTip("Click on a lesion in the current image, then accept as a new target")
        self.add_nontarget_btn.clicked.connect(lambda: self.declare_lesion(Role.NON_TARGET))
        self.add_new_btn.clicked.connect(lambda: self.declare_lesion(Role.NEW))
        self.add_target_btn.clicked.connect(lambda: self._choose_new(Role.TARGET))
        for b in (self.add_target_btn, self.add_nontarget_btn, self.add_new_btn):
            buttons.addWidget(b)
        self.status_combo = QComboBox()
        self.status_combo.setToolTip("Status of the selected lesion at this timepoint")
        self.status_combo.activated.connect(self._status_chosen)
        self.status_combo.activated.connect(lambda _i: self.current_viewer.setFocus())
        self.status_label = QLabel("status:")
        lv.addLayout(buttons)
        # the selected lesion's status on a line of its own: beside the buttons the dock could not be narrower than
        # 508 px, and on a 1366 px laptop (or at 200 %) the images got what was left
        status_row = QHBoxLayout()
        status_row.addWidget(self.status_label)
        status_row.addWidget(self.status_combo, 1)
        lv.addLayout(status_row)
        self.lesion_table = LesionTable()
        self.lesion_table.lesion_selected.connect(self._table_selected)
        self.lesion_table.lesion_clicked.connect(self._selection_changed)
        self.lesion_table.message.connect(self.say)
        self.lesion_table.point_for = self._proposed_point  # the menu places a lesion seen as the status box does
        self.lesion_table.ask = lambda question: self.confirm(question, default_no=True)
        lv.addWidget(self.lesion_table)
        lesion_dock = self._dock("Lesions", lesion_page, Qt.DockWidgetArea.RightDockWidgetArea)

        self.response_panel = ResponsePanel()
        response_dock = self._dock("Response", self.response_panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)

        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setVisible(False)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setVisible(False)
        self.cancel_btn.clicked.connect(self.cancel_work)
        #: the lock notice of the subject open, kept at the right of the status bar whatever else is said there
        self.lock_label = QLabel()
        self.lock_label.setStyleSheet("QLabel { color: #b00020; font-weight: bold; padding: 0 6px; }")
        self.lock_label.setVisible(False)
        #: shown from a save that failed until one succeeds: a later message in the status bar must not hide it
        self.unsaved_label = QLabel()
        self.unsaved_label.setStyleSheet("QLabel { color: #b00020; font-weight: bold; padding: 0 6px; }")
        self.unsaved_label.setVisible(False)
        sb = self.statusBar()
        assert sb is not None
        sb.addPermanentWidget(self.unsaved_label)
        #: the timepoints an amendment unsigned, until they are signed again (a message would be overwritten)
        self.resign_label = QLabel()
        self.resign_label.setStyleSheet("QLabel { color: #b00020; font-weight: bold; padding: 0 6px; }")
        self.resign_label.setVisible(False)
        sb.addPermanentWidget(self.resign_label)
        sb.addPermanentWidget(self.lock_label)
        sb.addPermanentWidget(self.progress)
        sb.addPermanentWidget(self.cancel_btn)
        self._build_actions()
        self._fit_to_screen(1600, 1000)
        # the worklist wide enough for a central-review pseudonym, a follow-up's label and "● to sign" without eliding;
        # on a small screen the lesion table and the responses give way to the images (at 1366 x 768 the viewer was
        # 485 x 280 px beside a lesion table 580 px wide and mostly empty)
        self.resizeDocks([worklist_dock, lesion_dock], [270, max(360, min(600, int(0.3 * self.width())))],
                         Qt.Orientation.Horizontal)
        self.resizeDocks([response_dock], [max(180, min(260, int(0.28 * self.height())))], Qt.Orientation.Vertical)

    def choose_organ(self) -> None:
        """The organ box of the measurement waiting, from the keyboard (Tab is "next lesion": it never got there, and
        a name typed elsewhere ran the tools' shortcuts, r the ruler)."""
        if self.pending is None or not self.organ_choice.isVisible():
            self.say("O chooses the organ of the measurement waiting in the bar below the images")
            return
        choice = self.decision_bar.choice()
        if not self.organ_choice.isEnabled() and isinstance(choice, str) and self.session is not None:
            lesion = self.session.read.lesions.get(choice)  # a re-measure: the organ is the lesion's own
            organ = f" ({lesion.organ})" if lesion is not None else ""
            self.say(f"{choice}'s organ{organ} was recorded when it was declared: change it from its row in the "
                     "Lesions table (right-click); Enter accepts the measurement", 0)
            return
        self.organ_choice.setFocus()
        if not self.organ_choice.isEditable():
            self.organ_choice.showPopup()

    def _fit_to_screen(self, width: int, height: int) -> None:
        """``width`` x ``height``, or the screen's available area where that is smaller (1600 x 1000 on a 1366 x 768
        laptop put the status bar, which carries the errors, off the screen)."""
        screen = self.screen() or QApplication.primaryScreen()
        if screen is not None:
            room = screen.availableGeometry()
            frame = 40  # the window manager's title bar and borders
            width, height = min(width, room.width()), min(height, room.height() - frame)
            self.resize(width, height)
            self.move(room.x() + (room.width() - width) // 2, room.y() + max(0, (room.height() - frame - height) // 2))
            return
        self.resize(width, height)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(area, dock)
        return dock

    def _action(self, text: str, shortcut: str | QKeySequence.StandardKey | None, slot: Any, menu: Any) -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        act.triggered.connect(lambda _=False: slot())
        menu.addAction(act)
        self.addAction(act)
        return act

    def _build_actions(self) -> None:
        mb = self.menuBar()
        assert mb is not None
        file_menu = mb.addMenu("&File")
        self.open_action = self._action(
            "&Open trial folder…", QKeySequence.StandardKey.Open, self.choose_folder, file_menu
        )
        self.pacs_action = self._action("Query/retrieve from &PACS…", "Ctrl+Shift+O", self.open_pacs, file_menu)
        self.series_action = self._action(
            "Choose the &series of this timepoint…", None, self.choose_series, file_menu
        )
        self.save_action = self._action("&Save read", QKeySequence.StandardKey.Save, self.save, file_menu)
        self.export_action = self._action(
            "&Export this read (SDTM, SR, SEG, CSV/JSON)…", "Ctrl+E", self.choose_export_folder, file_menu
        )
        self.send_action = self._action("Send the exported SR and SEG to P&ACS…", None, self.send_to_pacs, file_menu)
        file_menu.addSeparator()  # type: ignore[union-attr]
        self._action("&Quit", QKeySequence.StandardKey.Quit, self.close, file_menu)
        edit = mb.addMenu("&Edit")
        self.undo_action = self._action("&Undo", QKeySequence.StandardKey.Undo, self.undo, edit)
        self.redo_action = self._action("&Redo", QKeySequence.StandardKey.Redo, self.redo, edit)
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        measure = mb.addMenu("&Measure")
        assert measure is not None
        self.measure_menu: QMenu = measure
        self._action("Accept measurement", "Return", self.accept_pending, measure)
        self._action("Make the measurement a new target", "T", lambda: self._choose_new(Role.TARGET), measure)
        self._action("Lymph node (the next click, or the measurement waiting)", "N", self._toggle_node, measure)
        self._action("Reject suggestion, draw by hand", "Escape", self.reject_pending, measure)
        self._action("Measure selected lesion at its proposed position", "G", self.suggest_at_proposal, measure)
        self._action(
            "New non-target at this position", "Shift+N", lambda: self.declare_lesion(Role.NON_TARGET), measure
        )
        self._action("New lesion (follow-up)", "Shift+L", lambda: self.declare_lesion(Role.NEW), measure)
        self._action("Choose the organ (type its name, Enter)", "O", self.choose_organ, measure)
        #: the Measure menu's actions that only move (they stay in a view-only window)
        self.navigation_actions = [
            self._action("Next timepoint", "]", lambda: self.step_timepoint(1), measure),
            self._action("Previous timepoint", "[", lambda: self.step_timepoint(-1), measure),
            self._action("Next lesion", "Tab", lambda: self.step_lesion(1), measure),
        ]
        self._action("Delete selected lesion", "Delete", self.delete_selected, measure)
        measure.addSeparator()
        self._action("Sign this timepoint…", "Ctrl+Shift+S", self.sign_timepoint, measure)
        self._action("Amend this signed timepoint…", "Ctrl+Shift+A", self.amend_timepoint, measure)
        tools = mb.addMenu("&Tools")
        self.tool_bar = QToolBar("Tools")
        self.tool_bar.setObjectName("tools")
        self.addToolBar(self.tool_bar)
        self.tool_actions: dict[Tool, QAction] = {}
        for tool, key, text in (
            (Tool.MEASURE, "M", "Click to measure (M)"),
            (Tool.RULER, "R", "Ruler (R)"),
            (Tool.BIDIRECTIONAL, "B", "Bidirectional (B)"),
            (Tool.WINDOW, "W", "Window/level (W)"),
            (Tool.PAN, "P", "Pan (P)"),
        ):
            act = self._action(text, key, lambda t=tool: self.set_tool(t), tools)
            act.setCheckable(True)
            self.tool_actions[tool] = act
            self.tool_bar.addAction(act)
        self.tool_actions[Tool.MEASURE].setChecked(True)
        self.tool_bar.addSeparator()
        view = mb.addMenu("&View")
        self.preset_combo = QComboBox()
        self.preset_combo.addItems(list(PRESETS))
        self.preset_combo.setPlaceholderText("custom")  # a window dragged off every preset: not a preset's name
        self.current_viewer.window_changed.connect(self._show_preset)
        self.preset_combo.activated.connect(lambda i: self.apply_preset(list(PRESETS)[i]))
        self.preset_combo.activated.connect(lambda _i: self.current_viewer.setFocus())
        self.tool_bar.addWidget(QLabel(" window "))
        self.tool_bar.addWidget(self.preset_combo)
        for n, name in enumerate(PRESETS, start=1):
            self._action(f"{name} window", str(n), lambda p=name: self.apply_preset(p), view)
        self.plane_combo = QComboBox()
        self.plane_combo.addItems([p.value for p in Plane])
        self.plane_combo.activated.connect(lambda i: self.set_plane(list(Plane)[i]))
        self.plane_combo.activated.connect(lambda _i: self.current_viewer.setFocus())
        self.tool_bar.addWidget(QLabel(" plane "))
        self.tool_bar.addWidget(self.plane_combo)
        self._action("Axial", "Ctrl+1", lambda: self.set_plane(Plane.AXIAL), view)
        self._action("Coronal", "Ctrl+2", lambda: self.set_plane(Plane.CORONAL), view)
        self._action("Sagittal", "Ctrl+3", lambda: self.set_plane(Plane.SAGITTAL), view)
        self.fit_action = self._action("&Fit to window (reset zoom and pan)", "F", self.fit_to_window, view)
        self.sync_check = QCheckBox("keep in step")
        self.sync_check.setChecked(True)
        self.sync_check.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # a click on it leaves the keys with the images
        self.tool_bar.addWidget(self.sync_check)
        self.compare_combo = QComboBox()
        for choice, tip in (
            (CompareWith.BASELINE, "the baseline scan: response is measured against the baseline sum"),
            (CompareWith.PREVIOUS, "the scan before this one: the lesion's course"),
            (CompareWith.NADIR, "the scan with the smallest sum so far: progression is measured against the nadir "
                                "(RECIST 1.1 sec. 4.3.1)"),
        ):
            self.compare_combo.addItem(choice.value, choice)
            self.compare_combo.setItemData(self.compare_combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.compare_combo.setToolTip("The earlier scan shown beside a follow-up (C: the next choice)")
        self.compare_combo.activated.connect(lambda i: self.set_compare(list(CompareWith)[i]))
        self.compare_combo.activated.connect(lambda _i: self.current_viewer.setFocus())
        self.tool_bar.addWidget(QLabel(" beside "))
        self.tool_bar.addWidget(self.compare_combo)
        view.addSeparator()  # type: ignore[union-attr]
        self._action("Beside a follow-up: the &baseline", None, lambda: self.set_compare(CompareWith.BASELINE), view)
        self._action("Beside a follow-up: the &previous scan", None,
                     lambda: self.set_compare(CompareWith.PREVIOUS), view)
        self._action("Beside a follow-up: the &nadir", None, lambda: self.set_compare(CompareWith.NADIR), view)
        self._action("Beside a follow-up: the next of baseline, previous, nadir", "C",
                     lambda: self.set_compare(self.compare_with.following()), view)
        help_menu = mb.addMenu("&Help")
        self._action("Keyboard shortcuts", "F1", self.show_shortcuts, help_menu)

    # ---- messages ------------------------------------------------------------------------------------------------
    def shown(self, text: str) -> str:
        """``text`` as this reader may see it (scrubbed in a blinded central read)."""
        return text if self.blinder is None else self.blinder(text)

    def say(self, message: str, timeout_ms: int = 8000) -> None:
        message = self.shown(message)
        sb = self.statusBar()
        if sb is not None:
            sb.showMessage(message, timeout_ms)
        log.info(message)

    def warn(self, title: str, message: str, timeout_ms: int = 0) -> None:
        """A problem the reader must see: a message box (none when answers are automatic, in tests) and the status
        bar, both scrubbed by the blinder in a blinded read."""
        if self.auto_answer is None:
            QMessageBox.warning(self, title, self.shown(message))
        self.say(message, timeout_ms)

    def confirm(self, question: str, default_no: bool = False) -> bool:
        """Ask Yes / No; ``default_no``: Enter answers No (where Yes records something the reader should look at)."""
        if self.auto_answer is not None:
            return self.auto_answer
        answer = self.question_box(question, default_no).exec()
        self.current_viewer.setFocus()  # the keys go back to the images once the dialog closes
        return answer == QMessageBox.StandardButton.Yes

    def question_box(self, question: str, default_no: bool) -> QMessageBox:
        """The Yes / No box `confirm` asks with. Where No is the default, Tab never reaches Yes: the reader's next
        lesion key (Tab) moved the focus to Yes, and the Enter after G accepted an outline the engine doubted."""
        box = QMessageBox(QMessageBox.Icon.Question, "RECIST workstation", self.shown(question),
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        no, yes = box.button(QMessageBox.StandardButton.No), box.button(QMessageBox.StandardButton.Yes)
        assert no is not None and yes is not None
        box.setDefaultButton(QMessageBox.StandardButton.No if default_no else QMessageBox.StandardButton.Yes)
        if default_no:
            yes.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Yes by a click or Alt+Y only
            if isinstance(yes, QPushButton):
                yes.setAutoDefault(False)
        return box

    def shortcuts_text(self) -> str:
        """Every keyboard shortcut: the window's actions, then the keys the image viewer handles itself."""
        lines = [
            f"{' / '.join(k.toString() for k in a.shortcuts()):>12}   {a.text().replace('&', '')}"
            for a in self.actions()
            if not a.shortcut().isEmpty() and a.isVisible()
        ]
        viewer = [f"{keys:>12}   {what}" for keys, what in VIEWER_KEYS]
        return "\n".join([*lines, "", "In the image:", *viewer])

    def show_shortcuts(self) -> None:
        QMessageBox.information(self, "Keyboard shortcuts", self.shortcuts_text())
        self.current_viewer.setFocus()

    def fit_to_window(self) -> None:
        """Reset zoom and pan of both viewers: the whole image fits the viewer again."""
        for viewer in (self.current_viewer, self.compare_viewer):
            viewer.redraw(reset_view=True)
        self.current_viewer.setFocus()

    def _busy(self, text: str, total: int = 0) -> None:
        self.progress.setVisible(True)
        self.progress.setRange(0, total)
        self.progress.setFormat(text + (" %p%" if total else ""))
        self.cancel_btn.setVisible(True)
        self.say(text, 0)

    def _idle(self) -> None:
        """One job ended: the busy cursor goes; the progress bar goes with the last job (`_all_jobs_done`)."""
        while QApplication.overrideCursor() is not None:
            QApplication.restoreOverrideCursor()

    def _all_jobs_done(self) -> None:
        sb = self.statusBar()
        if sb is not None and sb.currentMessage() == self.progress.format().replace(" %p%", ""):
            sb.clearMessage()
        self.progress.setVisible(False)
        self.cancel_btn.setVisible(False)
        self._idle()

    def cancel_work(self) -> None:
        self.jobs.cancel_all()
        self.say("cancelled")

    # ---- trial and subject ---------------------------------------------------------------------------------------
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a trial folder (one folder per subject)")
        if folder:
            self.open_folder(Path(folder))

    def open_folder(self, folder: Path, at_start: bool = False) -> bool:
        """Open a trial folder; ``at_start`` (the folder given on the command line): a folder with nothing to read is
        said in the status bar, with what to do, rather than in a message box before the window is even used."""
        if self.blinder is not None:
            self.say("a blinded central read shows only the subjects assigned to you")
            return False
        try:
            subjects = scan_trial(folder)
        except WorklistError as exc:
            if not remembered(paths.retrieved_studies_file(self.data_dir)):
                if at_start:
                    self.say(f"{exc}: File > Open trial folder (Ctrl+O), or File > Query/retrieve from PACS "
                             "(Ctrl+Shift+O)", 0)
                else:
                    self.warn("Open trial", str(exc), 8000)
                return False
            subjects = []  # the studies retrieved from PACS earlier are the worklist
        added, problems = add_remembered(subjects, paths.retrieved_studies_file(self.data_dir))
        self.open_subjects(subjects)
        self.setWindowTitle(f"RECIST workstation — {folder}")
        said = [*problems]
        if added:
            one = added == 1
            said.append(f"{added} stud{'y' if one else 'ies'} retrieved from PACS earlier {'is' if one else 'are'} in "
                        "the worklist")
        if subjects:  # new reads take the protocol's response settings: say which, and where they came from
            # (the first subject open may be locked for analysis, said at the right: no new read of it is made)
            of = " of subjects not locked" if self.lock_said is not None else ""
            said.append(f"new reads{of}: {subjects[0].settings.describe()}")
        if said:
            self.say("; ".join(said), 12000)
        return True

    def open_central_review(self, subjects: list[SubjectEntry], blinder: Callable[[str], str]) -> None:
        """Blinded central reading: the assigned subjects by pseudonym, study days instead of dates, no import or
        export (the accepted read is exported by the data manager), every message scrubbed by ``blinder``."""
        self.enter_blinded(blinder)
        self.open_subjects(subjects)
        if not subjects:
            self.say("no subjects are assigned to you for central review", 0)

    def enter_blinded(self, blinder: Callable[[str], str]) -> None:
        """From now on: no folder, PACS, series choice or export; dates as study days; every message scrubbed by
        ``blinder``."""
        self.blinder = blinder
        for act in (self.open_action, self.pacs_action, self.series_action, self.export_action, self.send_action):
            act.setEnabled(False)
            act.setVisible(False)
        self.worklist.dates_as_days = True
        self.response_panel.text_filter = blinder
        self.setWindowTitle(f"RECIST workstation — blinded central review ({self.reader})")

    def enter_view_only(self, why: str) -> None:
        """From now on the reads are looked at, not changed: the measuring tools go (window/level and pan stay),
        and any edit, signature or save is refused with ``why``."""
        self.view_only = why
        self.set_tool(Tool.WINDOW)
        for tool in (Tool.MEASURE, Tool.RULER, Tool.BIDIRECTIONAL):
            self.tool_actions[tool].setEnabled(False)
            self.tool_actions[tool].setVisible(False)
        for action in self.measure_menu.actions():  # their shortcuts too (accept, new lesion, G, sign...)
            action.setEnabled(action in self.navigation_actions)
        for action in (self.save_action, self.undo_action, self.redo_action):  # nothing here is changed or saved
            action.setEnabled(False)
        edits = (self.add_target_btn, self.add_nontarget_btn, self.add_new_btn, self.status_label, self.status_combo)
        for widget in edits:
            widget.setVisible(False)
        self.decision_bar.say_below("shortcuts", f"{why[0].upper()}{why[1:]} · W window/level · P pan · F fit")

    def run_in_background(
        self,
        text: str,
        work: Callable[[ProgressCallback, CancelToken], Any],
        on_success: Callable[[Any], None],
        on_error: Callable[[str], None],
        on_cancel: Callable[[], None],
    ) -> Job:
        """Slow work off the GUI thread, with the progress bar and the Cancel button; each callback runs on the GUI
        thread after the busy indicator is cleared."""

        def progress(done: int, total: int, _message: str) -> None:
            self.progress.setRange(0, max(total, 1))
            self.progress.setValue(done)

        def then(callback: Callable[..., None]) -> Callable[..., None]:
            def run(*args: Any) -> None:
                self._idle()
                callback(*args)

            return run

        self._busy(text, 0)
        return self.jobs.start(
            text,
            work,
            on_success=then(on_success),
            on_error=then(on_error),
            on_progress=progress,
            on_cancel=then(on_cancel),
        )

    def when_text(self, tp_index: int) -> str:
        """A timepoint's date, or its study day in a blinded read."""
        when = self.subjects[self.subject_index].timepoints[tp_index].date
        if self.blinder is None:
            return when.isoformat()
        from workstation.review.blinding import STUDY_DAY_ONE, study_day

        return f"day {study_day(STUDY_DAY_ONE, when)}"

    def timepoint_title(self) -> str:
        """Subject, timepoint and date (study day when blinded) of the timepoint being read."""
        s = self.session
        if s is None:
            return ""
        return f"{s.read.subject_id}, {s.timepoint.label} ({self.when_text(s.current_timepoint)})"

    def open_subjects(self, subjects: list[SubjectEntry]) -> None:
        if self.session is not None:
            if not self._leave_subject():
                return
            self._clear_pending()
            self.session = None
        self.subject_index = -1
        self.subjects = subjects
        self._show_lock(None)  # no subject open yet: no lock to say (the first one opened below says its own)
        reads, locks, withdrawn = {}, {}, {}
        for s in subjects:
            try:
                reads[s.subject_id] = self.store.load(s.subject_id, self.reader)
            except ReadStoreError as exc:
                reads[s.subject_id] = None
                self.say(str(exc))
            withdrawn[s.subject_id] = self._withdrawn(reads[s.subject_id])
            locked = self._lock_notice(s.subject_id)
            if locked is not None:
                locks[s.subject_id] = locked
        self.worklist.show_subjects(subjects, reads, locks, withdrawn)
        left_out = [*getattr(subjects, "left_out", []),  # subject folders (`TrialSubjects`), then timepoint folders
                    *(f"{s.subject_id}: {why}" for s in subjects for why in s.left_out)]
        if left_out:  # a folder without images: the reader should know it is not in the worklist
            self.warn("Folders left out", "\n".join(left_out[:10]) + (
                f"\n... and {len(left_out) - 10} more" if len(left_out) > 10 else ""), 15000)
        self._refresh_curves(reload=True)
        if subjects:
            self.open_timepoint(0, 0)

    def open_timepoint(self, subject_index: int, tp_index: int) -> None:
        if subject_index != self.subject_index and not self._leave_subject():
            self._mark_shown()  # the reader stays: the worklist goes back to what is on screen
            return
        if subject_index != self.subject_index:
            subject = self.subjects[subject_index]
            try:
                saved = self.store.load(subject.subject_id, self.reader)
                read = new_read(subject, self.reader) if saved is None else reconcile_timepoints(saved, subject)
            except (ReadStoreError, WorklistError) as exc:
                self.warn("Saved read", str(exc), 8000)
                self._mark_shown()
                return
            mismatch = None if saved is None else settings_mismatch(saved, subject)
            if mismatch is not None:
                self.warn("Response settings", mismatch, 0)
            locked = self._lock_notice(subject.subject_id)
            view_only = self.view_only or (f"{locked}; ask a data manager to unlock it" if locked else None)
            session = ReadingSession(read, self.store, view_only=view_only)
            session.signatures_withdrawn = self._withdrawn(saved)  # after a restart too: the audit trail knows
            self._set_session(session, subject_index)
            self._show_lock(locked)
            self.worklist.set_locked(subject_index, subject.subject_id, locked)  # locked or unlocked since listed
            self.worklist.update_status(subject_index, read, withdrawn=session.signatures_withdrawn)
        self.go_to_timepoint(tp_index)

    def _withdrawn(self, read: Read | None) -> set[int]:
        """The timepoints of a stored read whose signature an amendment withdrew (the trial database's audit trail);
        none without the database."""
        withdrawn = getattr(self.store, "withdrawn", None)
        if read is None or withdrawn is None:
            return set()
        try:
            return set(withdrawn(read))
        except ReadStoreError as exc:
            self.say(str(exc))
            return set()

    def _mark_shown(self) -> None:
        if self.session is not None and self.subject_index >= 0:
            self.worklist.mark_current(self.subject_index, self.session.current_timepoint)

    def _lock_notice(self, subject_id: str) -> str | None:
        """``SITE01-0004 is locked for analysis by dm1 on 2026-11-27: read only`` when the trial database holds the
        subject locked for analysis (`workstation.storage.locks`); None when it does not, or keeps no locks."""
        notice = getattr(self.store, "lock_notice", None)
        if notice is None:
            return None
        try:
            found = notice(subject_id)
        except ReadStoreError as exc:
            self.say(str(exc))
            return None
        return None if found is None else f"{subject_id} is {found}"

    def _show_lock(self, locked: str | None) -> None:
        """Say that the subject opened is locked, below the images (where the measuring hint is) and at the right of
        the status bar, where no passing message (loading, saving) replaces it; the hint comes back for a subject
        that is not."""
        self.decision_bar.say_below("note", None)  # a note on the last click (no lesion found): the subject left's
        self.lock_said = locked
        self.lock_label.setText("" if locked is None else f"■ {self.shown(locked)}")
        self.lock_label.setToolTip("" if locked is None else self.shown(f"{locked}; ask a data manager to unlock it"))
        self.lock_label.setVisible(locked is not None)
        if locked is None:
            self.decision_bar.say_below("lock", None)
            return
        self.decision_bar.say_below("lock", self.shown(f"{locked} · W window/level · P pan · F fit"))

    def _set_session(self, session: ReadingSession, subject_index: int) -> None:
        # only the subject being read keeps its volumes in memory (a CT timepoint is ~150 MB)
        self.volumes = {k: v for k, v in self.volumes.items() if k[0] == session.read.subject_id}
        if self.session is not None:
            self.session.changed.disconnect(self._session_changed)
        self._clear_pending()
        self.session = session
        self.subject_index = subject_index
        session.changed.connect(self._session_changed)
        session.selection_changed.connect(self._selection_changed)
        session.timepoint_changed.connect(lambda _i: self._show_timepoint())
        session.current_timepoint = -1  # force a refresh on the first go_to_timepoint
        self.mappings = {}
        self._registering = set()
        self._unregistered = set()

    def _reopen_subject(self) -> None:
        """Open the current subject again after its timepoints changed (a study added from PACS): its saved read is
        loaded and reconciled with them; volumes and loads of its old timepoint numbers are dropped."""
        s = self.session
        if s is None:
            return
        subject = self.subjects[self.subject_index]
        at = (s.timepoint.label, s.timepoint.date)
        for key in [k for k in self._loading if k[0] == subject.subject_id]:
            self._loading.pop(key).cancel()
        self.volumes = {k: v for k, v in self.volumes.items() if k[0] != subject.subject_id}
        index, self.subject_index = self.subject_index, -1
        tp = next((i for i, t in enumerate(subject.timepoints) if (t.label, t.date) == at), 0)
        self.open_timepoint(index, tp)

    def _leave_subject(self) -> bool:
        if self.pending is not None and not self.confirm("Discard the measurement that is not accepted yet?",
                                                         default_no=True):  # Enter keeps it
            return False
        if self.session is not None and self.session.dirty:
            try:
                self.session.save()
            except (ReadStoreError, SessionError) as exc:
                self.note_saved(exc)
                if not self.confirm(f"The read could not be saved ({exc}). Leave it anyway and lose the changes?",
                                    default_no=True):
                    return False
        self.note_saved(None)
        return True

    def note_saved(self, failure: Exception | None) -> None:
        """Keep "NOT SAVED" in the status bar from a failed save until a save succeeds (or the read is left)."""
        self.unsaved_label.setVisible(failure is not None)
        self.unsaved_label.setText("" if failure is None else "● NOT SAVED")
        self.unsaved_label.setToolTip("" if failure is None else self.shown(
            f"The last change was not saved: {failure}. Fix the cause, then File > Save read"))

    def go_to_timepoint(self, tp_index: int) -> None:
        s = self.session
        if s is None:
            return
        if self.pending is not None and tp_index != s.current_timepoint:
            if not self.confirm("Discard the measurement that is not accepted yet?", default_no=True):
                return
            self._clear_pending()
        s.go_to_timepoint(tp_index)

    def step_timepoint(self, delta: int) -> None:
        if self.session is not None:
            n = len(self.session.read.timepoints)
            self.go_to_timepoint(int(np.clip(self.session.current_timepoint + delta, 0, n - 1)))

    def _show_timepoint(self) -> None:
        s = self.session
        assert s is not None
        if self._suggest_job is not None and not self._suggest_job.done:
            self._suggest_job.cancel()
        subject = self.subjects[self.subject_index]
        tp = s.current_timepoint
        self.worklist.mark_current(self.subject_index, tp)
        self.compare_viewer.setVisible(tp > 0)
        self.current_viewer.title = f"{subject.subject_id} · {subject.timepoints[tp].label} · {self.when_text(tp)}"
        self.proposals = []
        self._refresh_read()  # first: the nadir beside a follow-up is the responses' to show
        self.compare_tp = self._compare_timepoint()
        self._title_compare()
        self._load(tp, self.current_viewer)
        if tp > 0:
            self._load(self.compare_tp, self.compare_viewer)
            if self.compare_tp != 0:
                self._load(0, None)  # the lesions' positions here are proposed from the baseline's
        self._update_overlays()

    # ---- the earlier scan beside a follow-up ---------------------------------------------------------------------
    def _compare_timepoint(self) -> int:
        s = self.session
        if s is None:
            return 0
        return compare_timepoint(self.compare_with, s.current_timepoint, *self._labels_and_sums())

    def _labels_and_sums(self) -> tuple[list[str], list[dict[str, Any]]]:
        s = self.session
        summary = self.response_panel.summary
        labels = [tp.label for tp in s.read.timepoints] if s is not None else []
        return labels, (list(summary.recist.timepoints) if summary is not None else [])

    def _title_compare(self) -> None:
        s = self.session
        if s is None:
            return
        subject = self.subjects[self.subject_index]
        c = self.compare_tp
        label = subject.timepoints[c].label
        roles = [r for r in compare_role(c, s.current_timepoint, *self._labels_and_sums()).split(", ")
                 if r and r != label.strip().lower()]
        role = f" ({', '.join(roles)})" if roles else ""
        self.compare_viewer.title = f"{subject.subject_id} · {label}{role} · {self.when_text(c)}"

    def set_compare(self, choice: CompareWith) -> None:
        """Show ``choice`` (the baseline, the previous scan or the nadir) beside this and later follow-ups."""
        self.compare_with = choice
        self.compare_combo.setCurrentIndex(list(CompareWith).index(choice))
        s = self.session
        if s is None or s.current_timepoint == 0:
            self.say(f"beside a follow-up: its {choice.value}")
            return
        tp = self._compare_timepoint()
        subject = self.subjects[self.subject_index]
        changed = tp != self.compare_tp
        self.compare_tp = tp
        self._title_compare()
        if changed:
            self._load(tp, self.compare_viewer)
            self._update_overlays()
        same = "" if choice.value in self.compare_viewer.title else f" (also the {choice.value})"
        self.say(f"beside: {subject.timepoints[tp].label}{same}")

    # ---- loading -------------------------------------------------------------------------------------------------
    def _key(self, tp_index: int) -> tuple[str, int]:
        return (self.subjects[self.subject_index].subject_id, tp_index)

    def volume(self, tp_index: int) -> Volume | None:
        return self.volumes.get(self._key(tp_index))

    def _load(self, tp_index: int, viewer: SliceViewer | None) -> None:
        """Show timepoint ``tp_index`` in ``viewer`` (None: only load it), loading it in a worker if need be."""
        key = self._key(tp_index)
        volume = self.volumes.get(key)
        if volume is not None:
            if viewer is not None:
                if viewer.volume is not volume:
                    viewer.set_volume(volume)
                viewer.loading_text = ""
                viewer.redraw()
            self._volume_ready(tp_index)
            return
        if viewer is not None:
            viewer.set_volume(None)
            viewer.loading_text = "loading…"
        if key in self._loading:
            return
        source = self.subjects[self.subject_index].timepoints[tp_index].source
        if self.session is not None and tp_index < len(self.session.read.timepoints):
            use_recorded_series(source, self.session.read.timepoints[tp_index])

        def work(progress: ProgressCallback, cancel: CancelToken) -> Volume:
            return source.load(progress, cancel, lambda v, k: self._bridge.first_slice.emit(key, v, k))

        self._busy(f"loading {source.description}", 100)
        self._loading[key] = self.jobs.start(
            f"loading {source.description}",
            work,
            on_success=lambda v: self._loaded(key, v),
            on_error=lambda msg: self._load_failed(key, msg),
            on_progress=lambda d, t, _m: self._load_progress(key, d, t),
            on_cancel=lambda: self._load_failed(key, "loading cancelled"),
        )

    def _viewers_for(self, key: tuple[str, int]) -> list[SliceViewer]:
        if self.session is None or key[0] != self.subjects[self.subject_index].subject_id:
            return []
        out = []
        if key[1] == self.session.current_timepoint:
            out.append(self.current_viewer)
        if key[1] == self.compare_tp and self.session.current_timepoint > 0:
            out.append(self.compare_viewer)
        return out

    def _first_slice_ready(self, key: tuple[str, int], volume: Volume, k: int) -> None:
        self._learn_identity(volume)
        for viewer in self._viewers_for(key):
            if viewer.volume is not volume:
                viewer.set_volume(volume, slice_index=k)

    def _load_progress(self, key: tuple[str, int], done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        now = time.monotonic()
        if now - self._last_progress_redraw < 0.15 and done < total:
            return  # slices arrive faster than anyone can see: redraw a few times a second, not once per file
        self._last_progress_redraw = now
        for viewer in self._viewers_for(key):
            viewer.loading_text = f"loading {100 * done // max(total, 1)} %"
            viewer.redraw()

    def _learn_identity(self, volume: Volume) -> None:
        learn = getattr(self.blinder, "learn", None)
        if learn is not None:  # the loaded headers' identity is scrubbed from every later message
            learn(volume)

    def _loaded(self, key: tuple[str, int], volume: Volume) -> None:
        self._loading.pop(key, None)
        self._learn_identity(volume)
        self.volumes[key] = volume
        for viewer in self._viewers_for(key):
            if viewer.volume is not volume:
                viewer.set_volume(volume)
            viewer.loading_text = ""
            viewer.redraw()
        # the subject the volume belongs to (the reader may have moved to another while it loaded)
        subject = next((s for s in self.subjects if s.subject_id == key[0]), None)
        entry = subject.timepoints[key[1]] if subject is not None and key[1] < len(subject.timepoints) else None
        label = entry.label if entry is not None else f"timepoint {key[1] + 1}"
        for w in volume.warnings:
            self.say(f"{key[0]} {label}: {w}")
        if entry is not None and isinstance(entry.source, DicomFolderSource) and entry.source.series_uid is not None:
            note = choice_note(entry.source.options, entry.source.series_uid)
            if note is not None and patients_in_folder(o.record for o in entry.source.options if o.record) > 1:
                self.warn("Several patients in one folder", f"{key[0]} {label}: {note}", 0)  # a note would be missed
            elif note is not None:
                self.say(f"{key[0]} {label}: {note}", 15000)
        if entry is not None and entry.incomplete:
            self.warn("Incomplete study", f"{key[0]} {label}: {entry.incomplete}", 0)
        if subject is not None:
            loaded = {subject.timepoints[i].label: v for (sid, i), v in self.volumes.items()
                      if sid == key[0] and i < len(subject.timepoints)}
            other = other_patient(label, volume, loaded)
            if other is not None:
                self.warn("Another patient's images?", f"{key[0]}: {other}", 0)
        self._idle()
        if self.session is not None and key[0] == self.subjects[self.subject_index].subject_id:
            self.session.note_images(key[1], volume.info.study_uid, volume.info.series_uid)
            self._volume_ready(key[1])

    def _reload_timepoint(self, tp_index: int) -> None:
        """Load timepoint ``tp_index`` again (on the series its source now names); registrations start over."""
        self.volumes.pop(self._key(tp_index), None)
        self.mappings = {}
        self._registering = set()
        self._unregistered = set()
        s = self.session
        self._load(tp_index, self.current_viewer if s is None or tp_index == s.current_timepoint else None)
        if s is not None and tp_index == self.compare_tp and s.current_timepoint > 0:
            self._load(tp_index, self.compare_viewer)

    def _load_failed(self, key: tuple[str, int], message: str) -> None:
        self._loading.pop(key, None)
        message = self.shown(message)
        for viewer in self._viewers_for(key):
            viewer.loading_text = message
            viewer.redraw()
        self.say(message)
        self._idle()

    def _volume_ready(self, tp_index: int) -> None:
        """Both volumes of a follow-up are in: propose where the baseline lesions are, then refine by registration."""
        s = self.session
        if s is None or s.current_timepoint == 0:
            self._update_overlays()
            self._refresh_read()
            self._show_selected()
            return
        current, baseline = self.volume(s.current_timepoint), self.volume(0)
        if tp_index not in (0, s.current_timepoint):  # only the earlier scan beside it came in
            if tp_index == self.compare_tp and current is not None:
                self._compare_ready()
            return
        if current is None or baseline is None:
            return
        self._sync_from_current(self.current_viewer.slice_index)
        self.proposals = propose_positions(s.read, s.current_timepoint, self.mapping, self._seed_for, self.mappings)
        self._update_overlays()
        self._show_selected()
        if s.current_timepoint not in self.mappings:  # the patient never lies exactly the same way twice
            if s.current_timepoint not in self._registering:
                self._register(s.current_timepoint, baseline, current)
        else:
            self.proposals_final_for = s.current_timepoint
        self._compare_ready()

    def _compare_ready(self) -> None:
        """The scan beside the follow-up and the follow-up are both in: in step, the selected lesion beside its
        measurement; the earlier scan is registered to the baseline too, so that the two are in step anatomically."""
        s = self.session
        c = self.compare_tp
        earlier, current, baseline = self.volume(c), self.volume(s.current_timepoint if s else 0), self.volume(0)
        if s is None or s.current_timepoint == 0 or earlier is None or current is None:
            return
        self._sync_from_current(self.current_viewer.slice_index)
        if s.selected_lesion is not None:
            self._compare_beside(s.selected_lesion)
        if c > 0 and c not in self.mappings.keys() | self._registering | self._unregistered and baseline is not None:
            self._register(c, baseline, earlier)

    def _register(self, tp: int, baseline: Volume, current: Volume) -> None:
        """Register the baseline to timepoint ``tp`` (the follow-up read, or the earlier scan beside it)."""

        def work(progress: ProgressCallback, cancel: CancelToken) -> RigidMapping:
            return register_rigid(baseline, current, progress, cancel)

        self._registering.add(tp)
        subject = self.session.read.subject_id if self.session else ""

        def done(mapping: RigidMapping) -> None:
            self._registering.discard(tp)
            if self.session is None or self.session.read.subject_id != subject:
                return
            self.mappings[tp] = mapping
            if self.session.current_timepoint != tp:
                if tp == self.compare_tp:  # the scan beside the follow-up: now in step anatomically
                    self._compare_ready()
                    self._idle()
                return
            self.proposals_final_for = tp
            self.proposals = propose_positions(self.session.read, tp, mapping, self._seed_for, self.mappings)
            self._update_overlays()
            if self._shown_at == (tp, self.current_viewer.slice_index):  # the reader has not moved meanwhile
                self._show_selected(announce=False)  # said once already, when the images came in
            self.say(f"lesion positions proposed by {mapping.method}")
            self._idle()

        def failed(message: str) -> None:
            self._registering.discard(tp)
            if self.session is not None and self.session.current_timepoint == tp:
                self.proposals_final_for = tp  # patient position stays the proposal
            else:
                self._unregistered.add(tp)  # the scan beside it: kept in step by patient position
            self.say(message)
            self._idle()

        def cancelled() -> None:
            self._registering.discard(tp)
            self._idle()

        self.jobs.start("registration", work, on_success=done, on_error=failed, on_cancel=cancelled)

    def _seed_for(self, m: Measurement) -> tuple[float, float, float] | None:
        """A point inside a measured lesion, from its stored mask on its own series (None for a hand-drawn one, or
        when that series is not loaded)."""
        store = self.measuring.mask_store
        volume = next((v for v in self.volumes.values() if v.info.series_uid == m.series_uid), None)
        if m.mask_ref is None or store is None or volume is None:
            return None
        try:
            stored = store.load(m.mask_ref)
        except MaskStoreError as exc:
            self.say(str(exc))
            return None
        return mask_seed_point(stored.mask, stored.offset, volume)

    @property
    def mapping(self) -> RigidMapping:
        """Baseline -> current timepoint (patient position until registration has answered)."""
        tp = self.session.current_timepoint if self.session else 0
        return self.mappings.get(tp, IDENTITY)

    # ---- viewers in step -----------------------------------------------------------------------------------------
    def _mapping_to(self, tp: int) -> RigidMapping:
        """Baseline -> timepoint ``tp`` (patient position until registration has answered)."""
        return IDENTITY if tp == 0 else self.mappings.get(tp, IDENTITY)

    def carry(self, point: tuple[float, float, float], from_tp: int, to_tp: int) -> tuple[float, float, float]:
        """Where a point of timepoint ``from_tp``'s scan lies in timepoint ``to_tp``'s, through the baseline."""
        return self._mapping_to(to_tp).apply(self._mapping_to(from_tp).invert(point))

    def _sync_from_current(self, k: int) -> None:
        s = self.session
        earlier, cur = self.compare_viewer.volume, self.current_viewer.volume
        if self._syncing or not self.sync_check.isChecked() or earlier is None or cur is None or s is None:
            return
        self._syncing = True
        try:
            _, rows, cols = cur.shape
            centre = cur.voxel_to_patient((k, rows / 2, cols / 2))
            there = self.carry((float(centre[0]), float(centre[1]), float(centre[2])), s.current_timepoint,
                               self.compare_tp)
            self.compare_viewer.set_slice(round(float(earlier.patient_to_voxel(there)[0])))
        finally:
            self._syncing = False

    def _sync_from_compare(self, k: int) -> None:
        s = self.session
        earlier, cur = self.compare_viewer.volume, self.current_viewer.volume
        if self._syncing or not self.sync_check.isChecked() or earlier is None or cur is None or s is None:
            return
        self._syncing = True
        try:
            _, rows, cols = earlier.shape
            centre = earlier.voxel_to_patient((k, rows / 2, cols / 2))
            here = self.carry((float(centre[0]), float(centre[1]), float(centre[2])), self.compare_tp,
                              s.current_timepoint)
            self.current_viewer.set_slice(round(float(cur.patient_to_voxel(here)[0])))
        finally:
            self._syncing = False

    def _sync_window(self, other: SliceViewer, width: float, level: float) -> None:
        if self.sync_check.isChecked() and (other.width_hu, other.level_hu) != (width, level):
            other.set_window(width, level)

    def _show_preset(self, width: float, level: float) -> None:
        """The window box names the preset only while the images are shown at its values, else says "custom"."""
        name = preset_name(width, level)
        if name is None:
            self.preset_combo.setCurrentIndex(-1)
        else:
            self.preset_combo.setCurrentText(name)

    def apply_preset(self, name: str) -> None:
        w, lv = PRESETS[name]
        self.preset_combo.setCurrentText(name)
        self.current_viewer.set_window(w, lv)
        self.compare_viewer.set_window(w, lv)

    def set_plane(self, plane: Plane) -> None:
        self.plane_combo.setCurrentText(plane.value)
        self.current_viewer.set_plane(plane)
        self.compare_viewer.set_plane(plane)

    def set_tool(self, tool: Tool) -> None:
        if self.view_only and tool in (Tool.MEASURE, Tool.RULER, Tool.BIDIRECTIONAL):
            self.say(self.view_only)
            return
        for t, act in self.tool_actions.items():
            act.setChecked(t is tool)
        self.current_viewer.set_tool(tool)
        self.compare_viewer.set_tool(Tool.PAN if tool in (Tool.MEASURE, Tool.RULER, Tool.BIDIRECTIONAL) else tool)
        hints = {
            Tool.MEASURE: "click inside a lesion: the engine proposes its outline and axes",
            Tool.RULER: "drag across the lesion's longest diameter",
            Tool.BIDIRECTIONAL: "drag the longest diameter, then the longest perpendicular one",
            Tool.WINDOW: "drag: left/right = width, up/down = level",
            Tool.PAN: "drag to pan; Ctrl+wheel to zoom",
        }
        self.say(hints[tool])

    # ---- lesion table and status ---------------------------------------------------------------------------------
    def _table_selected(self, lesion_id: str | None) -> None:
        if self.session is not None:
            self.session.select_lesion(lesion_id)

    def _selection_changed(self, lesion_id: str | None) -> None:
        """Jump to the selected lesion: its measurement here, else its proposed position; the viewer beside it shows
        the lesion as measured on that earlier scan."""
        self.lesion_table.select(lesion_id)
        self._fill_status_combo()
        s = self.session
        if s is None or lesion_id is None:
            return
        found = s.latest_measurement(lesion_id)
        prop = next((p for p in self.proposals if p.lesion_id == lesion_id), None)
        if found is not None and found[0] == s.current_timepoint and found[1].long_axis_endpoints:
            self.current_viewer.center_on(middle_of(found[1].long_axis_endpoints))
        elif prop is not None:
            self.current_viewer.center_on(prop.point_mm)
            if not self._quiet_selection:
                self.say(f"{lesion_id} should be near the + mark: click it (or press G)")
        self._compare_beside(lesion_id)

    def _compare_beside(self, lesion_id: str) -> None:
        """At a follow-up, the viewer beside it shows the lesion's measurement on that earlier scan (not the slice
        matched by position, which may hold none of it); measured only before it, where that measurement lies there."""
        s = self.session
        if s is None or lesion_id not in s.read.lesions or s.current_timepoint == 0:
            return
        earlier = s.latest_measurement(lesion_id, before_tp=self.compare_tp)
        if earlier is None or not earlier[1].long_axis_endpoints:
            return
        self._syncing = True  # show the lesion itself, not the slice matched by position
        try:
            self.compare_viewer.center_on(self.carry(middle_of(earlier[1].long_axis_endpoints), earlier[0],
                                                     self.compare_tp))
        finally:
            self._syncing = False

    def _show_selected(self, announce: bool = True) -> None:
        """A timepoint's images are in: take both viewers to the lesion selected (as a click on it would)."""
        s = self.session
        if s is None or s.selected_lesion is None or s.selected_lesion not in s.read.lesions:
            self._shown_at = None
            return
        self._quiet_selection = not announce
        try:
            self._selection_changed(s.selected_lesion)
        finally:
            self._quiet_selection = False
        self._shown_at = (s.current_timepoint, self.current_viewer.slice_index)

    def step_lesion(self, delta: int) -> None:
        s = self.session
        if s is None or not s.read.lesions:
            return
        ids = s.read.lesion_ids_in_order()
        i = ids.index(s.selected_lesion) + delta if s.selected_lesion in ids else 0
        s.select_lesion(ids[i % len(ids)])

    def _fill_status_combo(self) -> None:
        self.status_combo.clear()
        s = self.session
        if s is None or s.selected_lesion is None:
            return
        self.status_combo.addItem("—", None)
        role = s.read.lesions[s.selected_lesion].role
        for status in allowed_statuses(role, at_baseline=s.current_timepoint == 0):
            if status is not LesionStatus.MERGED:
                self.status_combo.addItem(status.value.replace("_", " "), status)
                tip = (_NEW_LESION_TIPS if role is Role.NEW else {}).get(status) or _STATUS_TIPS.get(status)
                if tip:
                    self.status_combo.setItemData(self.status_combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        a = s.assessment(s.selected_lesion)
        self.status_combo.setCurrentIndex(0 if a is None else max(0, self.status_combo.findData(a.status)))

    def _status_chosen(self, index: int) -> None:
        s = self.session
        status = self.status_combo.itemData(index)
        if s is None or s.selected_lesion is None or status is None:
            return
        if status is LesionStatus.MEASURED:
            self.say("measure it: click the lesion (M), or draw with R / B")
            return
        try:
            s.set_status(s.selected_lesion, status, point=self._proposed_point(s.selected_lesion, status))
        except SessionError as exc:
            self.say(str(exc))

    def _proposed_point(self, lesion_id: str, status: LesionStatus) -> tuple[float, float, float] | None:
        """Where a lesion set present (or progressing, or a new lesion confirmed) from the status box was seen: where
        it is proposed at this follow-up, unless the reader placed it here already (a radiologist's non-target, set
        present without a click, had no place at week 6: it was never marked nor in the SR there)."""
        s = self.session
        if s is None or status not in SEEN_STATUSES:
            return None
        a = s.assessment(lesion_id)
        if a is not None and a.point_mm is not None:
            return None  # kept by set_status when the status does not change; a click's place wins
        prop = next((p for p in self.proposals if p.lesion_id == lesion_id), None)
        return None if prop is None else tuple(float(v) for v in prop.point_mm)  # type: ignore[return-value]

    def delete_selected(self) -> None:
        s = self.session
        if s is None or s.selected_lesion is None:
            return
        refused = s.removal_refused(s.selected_lesion)
        if refused is not None:  # said before asking (it asked, Yes the default, then refused)
            self.say(refused, 0)
            return
        if self.confirm(f"Delete {s.selected_lesion} and its measurements at every timepoint? (Undo brings it back)",
                        default_no=True):
            try:
                s.remove_lesion(s.selected_lesion)
            except SessionError as exc:  # a signed timepoint, a read open for viewing only: say why, change nothing
                self.say(str(exc), 0)

    # ---- session changes -----------------------------------------------------------------------------------------
    def _session_changed(self, change: Change) -> None:
        s = self.session
        if s is None:
            return
        if self._rolling_back:
            self._refresh_read()
            return
        try:
            s.save()  # every edit is kept at once: a crash loses nothing the reader recorded
            self.note_saved(None)
        except ReadClosedError as exc:
            # never to be saved (the review is adjudicated): the screen goes back to the stored read, view only
            self._rolling_back = True
            try:  # take back what changed it: an edit or a redo is undone, an undo redone
                s.redo() if change.description.startswith("undo ") else s.undo()
            finally:
                self._rolling_back = False
            s.view_only = f"{exc}; the read is open for viewing only"
            self.say(f"NOT SAVED, and undone: {exc}; the read is open for viewing only", 0)
            subject_id = self.subjects[self.subject_index].subject_id  # locked since it was opened: the worklist says
            self.worklist.set_locked(self.subject_index, subject_id, self._lock_notice(subject_id))
        except (ReadStoreError, SessionError) as exc:
            self.note_saved(exc)
            self.say(f"NOT SAVED: {exc}", 0)
        self._refresh_read()
        shown = self.response_panel.summary  # evaluated just now by _refresh_read: the flag uses it
        self.worklist.update_status(self.subject_index, s.read, s.amendment_reasons,
                                    shown.irecist if shown is not None else None, s.signatures_withdrawn)

    def _refresh_read(self) -> None:
        s = self.session
        if s is None:
            return
        base = self.volume(0)
        thickness = base.info.slice_thickness_mm if base is not None else None
        self.lesion_table.show_session(s, check_baseline(s.read, thickness))
        unsigned = [tp.label for i, tp in enumerate(s.read.timepoints) if i in s.signatures_withdrawn and not tp.signed]
        self.resign_label.setVisible(bool(unsigned))
        self.resign_label.setText(f"✎ to sign again: {', '.join(unsigned)}")
        self.resign_label.setToolTip(
            "The amendment withdrew these signatures (the old ones stay in the audit trail): what was signed is no "
            "longer what is stored. Sign each again when the changes are done (Ctrl+Shift+S), in order.")
        self._fill_status_combo()
        self.response_panel.show_summary(summarize(s.read))
        self._show_response_row(s.timepoint.label)
        self._update_overlays()
        self.undo_action.setEnabled(s.commands.can_undo and self.view_only is None)
        self.redo_action.setEnabled(s.commands.can_redo and self.view_only is None)
        self.undo_action.setText(f"&Undo {s.commands.undo_text}")
        self.redo_action.setText(f"&Redo {s.commands.redo_text}")
        self._refresh_curves()

    def _show_response_row(self, label: str) -> None:
        """The timepoint being read scrolled into the response table's view (on a laptop the table shows two rows:
        week 18's PD needed scrolling)."""
        table = self.response_panel.table
        for row in range(table.rowCount()):
            item = table.item(row, 0)
            if item is not None and item.text().split(" (")[0] == label:
                table.scrollToItem(item)
                return

    def _update_overlays(self) -> None:
        s = self.session
        if s is None:
            return
        for viewer, tp in ((self.current_viewer, s.current_timepoint), (self.compare_viewer, self.compare_tp)):
            lines = []
            for lesion_id in s.read.lesions:
                a = s.assessment(lesion_id, tp)
                for m in a.measurements if a else []:
                    if m.long_axis_endpoints is not None:
                        colour = "#ffd400" if lesion_id != s.selected_lesion else "#ff9100"
                        lines.append(OverlayLine(lesion_id, m.long_axis_endpoints, m.short_axis_endpoints, colour))
            viewer.set_overlays(lines)
            viewer.set_seen(
                [
                    (lesion_id, a.point_mm)
                    for lesion_id in s.read.lesions
                    if (a := s.assessment(lesion_id, tp)) is not None and a.point_mm is not None and not a.measurements
                ]
            )
        measured = {lid for lid in s.read.lesions if s.assessment(lid) is not None}
        if self.pending is not None:  # its + covered the outline being checked (a small nodule)
            choice = self.decision_bar.choice()
            measured |= {choice} if isinstance(choice, str) else set()
        self.current_viewer.set_proposals(
            [(p.lesion_id, p.point_mm) for p in self.proposals if p.lesion_id not in measured]
        )

    def _refresh_curves(self, reload: bool = False) -> None:
        """Spider plot and waterfall: the read being made, plus every other subject's saved read (loaded once per
        trial opened, not on every edit: an edit must not wait for the whole trial's reads)."""
        current = self.session.read.subject_id if self.session else None
        if reload:
            self._curves = {}
            for subject in self.subjects:
                if subject.subject_id == current:
                    continue
                try:
                    saved = self.store.load(subject.subject_id, self.reader)
                except ReadStoreError:
                    saved = None
                if saved is not None:
                    self._curves[subject.subject_id] = _curve(saved)
        if self.session is not None:
            self._curves[self.session.read.subject_id] = _curve(self.session.read)
        order = [s.subject_id for s in self.subjects]
        curves = [self._curves[sid] for sid in order if sid in self._curves]
        self.response_panel.show_curves(curves, current)

    # ---- undo / save / close -------------------------------------------------------------------------------------
    def undo(self) -> None:
        if self.session is not None:
            try:
                done = self.session.undo()
            except SessionError as exc:  # a read open for viewing only
                self.say(str(exc), 0)
                return
            self.say(f"undone: {done}" if done else "nothing to undo")

    def redo(self) -> None:
        if self.session is not None:
            try:
                done = self.session.redo()
            except SessionError as exc:
                self.say(str(exc), 0)
                return
            self.say(f"redone: {done}" if done else "nothing to redo")

    def save(self) -> None:
        if self.session is None:
            return
        try:
            self.session.save()
            self.note_saved(None)
            self.say("read saved")
        except (ReadStoreError, SessionError) as exc:
            self.note_saved(exc)
            QMessageBox.critical(self, "Save", self.shown(str(exc))) if self.auto_answer is None else None
            self.say(str(exc))

    def closeEvent(self, a0: QCloseEvent | None) -> None:
        if a0 is None:
            return
        if not self._leave_subject():
            a0.ignore()
            return
        self.jobs.shut_down(5000)
        a0.accept()


#: What a status means where its name alone may mislead (the status box's tooltips).
_STATUS_TIPS = {
    LesionStatus.UNEQUIVOCAL_PROGRESSION: "Unequivocal progression (RECIST 1.1 sec. 4.3.3). iRECIST, after a "
    "non-target iUPD: progression that stands, no change since the last assessment (iUPD remains)",
    LesionStatus.FURTHER_INCREASE: "Increased further since the last assessment. iRECIST: confirms a non-target iUPD "
    "(iCPD); RECIST 1.1: progression, as unequivocal progression",
}


_NEW_LESION_TIPS = {
    LesionStatus.UNEQUIVOCAL_PROGRESSION: "iRECIST: this new non-target lesion increased since it was seen: confirms "
    "an iUPD (iCPD, Seymour 2017 Table 2). RECIST 1.1: progression already, as an unequivocal new lesion",
    LesionStatus.EQUIVOCAL: "Equivocal: not progression unless a later scan confirms it; progression then dates from "
    "here (RECIST 1.1 sec. 4.3.5)",
}


def _curve(read: Read) -> SubjectCurve:
    response = summarize(read).recist
    evaluated = [tp for tp in read.timepoints if tp.assessments]
    days = [float((tp.date - read.timepoints[0].date).days) for tp in evaluated]
    return curve_for(read.subject_id, response, days)
