"""The worklist: subjects -> timepoints with the read status of each; activating a timepoint opens it."""

from __future__ import annotations

import textwrap
from datetime import date

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QHeaderView, QStyle, QTreeWidget, QTreeWidgetItem, QWidget

from workstation.read_model import Read
from workstation.review.blinding import STUDY_DAY_ONE, study_day
from workstation.session.awaiting_confirmation import awaiting_confirmation
from workstation.session.response import CriteriaResponse
from workstation.session.worklist import SubjectEntry, timepoint_status

#: short labels so the column fits a narrow dock; the full status is the tooltip. "complete" only means that every
#: lesion declared so far is assessed (at baseline, after the first one): the read is finished when it is signed.
#: (no emoji: many sites have no emoji font, and it showed as an empty box)
_STATUS_SHORT = {"not started": "○ new", "in progress": "◐ open", "complete": "● to sign", "signed": "✔ signed",
                 "locked": "■ locked"}  # fmt: skip
#: without the trial database nothing is signed: a complete timepoint is just read
_UNSIGNABLE = {"complete": ("● read", "every lesion declared so far is assessed here (signing needs the trial "
                            "database: start with --database)")}
#: what the read status column may say of a timepoint (`WorklistView._fit_columns` keeps room for the widest)
_STATUS_LABELS = (*_STATUS_SHORT.values(), *(short for short, _ in _UNSIGNABLE.values()), "✎ amending",
                  "✎ to sign again")
#: a timepoint whose signature an amendment withdrew, not signed again yet (known from the audit trail)
_TO_SIGN_AGAIN = ("✎ to sign again", "its signature was withdrawn by an amendment (the reason and the old signature "
                  "are in the audit trail): sign it again when the changes are done")
_STATUS_TIP = {
    "not started": "not started",
    "in progress": "in progress: a lesion declared is not assessed here yet",
    "complete": "every lesion declared so far is assessed here; sign the timepoint when its read is finished",
    "signed": "signed",
    "locked": "the subject is locked for analysis: nothing is read or signed here until a data manager unlocks it",
}


class WorklistView(QTreeWidget):
    #: (subject index, timepoint index)
    timepoint_activated = pyqtSignal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderLabels(["Subject / timepoint", "Date / day", "Read"])
        # every column in full: the date and the read status at their widest, the subject and timepoint names in the
        # first, which takes the rest (`_fit_columns`: the view is never narrower than the three need)
        header = self.header()
        assert header is not None
        header.setStretchLastSection(False)
        header.setMinimumSectionSize(40)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # should the dock still be narrower
        #: a blinded central read shows study days ("day 43"), never dates
        self.dates_as_days = False
        #: whether timepoints can be signed here (the trial database); without it a complete timepoint is "read"
        self.signing = True
        #: subject id -> the notice of its lock for analysis (the subjects locked in the trial database)
        self.locks: dict[str, str] = {}
        #: subject id -> (flag, tooltip) for the subjects whose read ends on an iUPD awaiting confirmation
        self.awaiting: dict[str, tuple[str, str]] = {}
        self.subjects: list[SubjectEntry] = []
        #: the least width the window gave the view (before its columns asked for more)
        self._least_width: int | None = None
        self.itemActivated.connect(self._activated)
        self.itemClicked.connect(self._activated)

    def show_subjects(
        self, subjects: list[SubjectEntry], reads: dict[str, Read | None], locks: dict[str, str] | None = None,
        withdrawn: dict[str, set[int]] | None = None,
    ) -> None:
        """``locks``: subject id -> the notice of its lock for analysis, for the subjects locked (marked so);
        ``withdrawn``: subject id -> the timepoints whose signature an amendment withdrew (to sign again)."""
        self.clear()
        self.locks = dict(locks or {})
        self.awaiting = {}
        self.subjects = list(subjects)
        for s_idx, subject in enumerate(subjects):
            read = reads.get(subject.subject_id)
            locked = self.locks.get(subject.subject_id)
            top = QTreeWidgetItem([subject.subject_id, "", ""])
            top.setToolTip(0, subject.subject_id)  # in full, where a narrow column elides it
            top.setData(0, Qt.ItemDataRole.UserRole, (s_idx, 0))
            self._mark_subject(top, locked, self._awaiting(read, subject))
            for t_idx, tp in enumerate(subject.timepoints):
                status = timepoint_status(read, t_idx, locked is not None)
                when = f"day {study_day(STUDY_DAY_ONE, tp.date)}" if self.dates_as_days else tp.date.isoformat()
                short, tip = self._status_text(status)
                if status != "signed" and t_idx in (withdrawn or {}).get(subject.subject_id, set()):
                    short, tip = _TO_SIGN_AGAIN
                child = QTreeWidgetItem([tp.label, when, short])
                child.setToolTip(0, f"{subject.subject_id} · {tp.label}")
                child.setToolTip(2, tip)
                child.setData(0, Qt.ItemDataRole.UserRole, (s_idx, t_idx))
                top.addChild(child)
            self.addTopLevelItem(top)
            top.setExpanded(True)
        self._fit_columns()

    def set_locked(self, subject_index: int, subject_id: str, notice: str | None) -> None:
        """The subject found locked (``notice``) or not (None) since the list was shown; `update_status` follows."""
        if notice is None:
            self.locks.pop(subject_id, None)
        else:
            self.locks[subject_id] = notice
        top = self.topLevelItem(subject_index)
        if top is not None:
            self._mark_subject(top, notice, self.awaiting.get(subject_id))
            self._fit_columns()

    def _awaiting(self, read: Read | None, subject: SubjectEntry,
                  irecist: CriteriaResponse | None = None) -> tuple[str, str] | None:
        """(flag, tooltip) when the subject's read ends on an iUPD awaiting confirmation (site reads: a blinded
        central reader schedules no scan, and its calendar is not the subject's)."""
        found = None if self.dates_as_days else awaiting_confirmation(read, [t.label for t in subject.timepoints],
                                                                      irecist)
        flag = None if found is None else (found.short(), textwrap.fill(found.describe(date.today()), 90))
        if flag is None:
            self.awaiting.pop(subject.subject_id, None)
        else:
            self.awaiting[subject.subject_id] = flag
        return flag

    @staticmethod
    def _mark_subject(top: QTreeWidgetItem, notice: str | None, awaiting: tuple[str, str] | None = None) -> None:
        if notice is None and awaiting is not None:  # a lock says more: nothing more is read until it is lifted
            top.setText(2, awaiting[0])
            top.setToolTip(2, awaiting[1])
            return
        top.setText(2, "" if notice is None else _STATUS_SHORT["locked"])
        top.setToolTip(2, notice or "")

    def update_status(self, subject_index: int, read: Read, amending: dict[int, str] | None = None,
                      irecist: CriteriaResponse | None = None, withdrawn: set[int] | None = None) -> None:
        """``amending``: the signed timepoints being amended in this session, with the reason given; ``irecist``: the
        read's iRECIST responses when already evaluated (the response panel's: not evaluated again at every edit);
        ``withdrawn``: the timepoints whose signature an amendment withdrew (in this session or before)."""
        top = self.topLevelItem(subject_index)
        if top is None:
            return
        locked = read.subject_id in self.locks
        if 0 <= subject_index < len(self.subjects):
            self._mark_subject(top, self.locks.get(read.subject_id),
                               self._awaiting(read, self.subjects[subject_index], irecist))
        for t_idx in range(top.childCount()):
            status = timepoint_status(read, t_idx, locked)
            child = top.child(t_idx)
            if child is not None:
                short, tip = self._status_text(status)
                if status == "signed" and amending and t_idx in amending:
                    short, tip = "✎ amending", (f"signed; being amended (reason: {amending[t_idx]}): every change is "
                                                "saved with the reason, the old and new values, in the audit trail")
                elif amending and t_idx in amending:  # the first change saved withdrew the signature
                    short, tip = "✎ to sign again", (
                        f"amended (reason: {amending[t_idx]}): the amendment withdrew its signature (the old one "
                        "stays in the audit trail); sign it again when the changes are done")
                elif status != "signed" and withdrawn and t_idx in withdrawn:
                    short, tip = _TO_SIGN_AGAIN
                child.setText(2, short)
                child.setToolTip(2, tip)
        self._fit_columns()

    def _fit_columns(self) -> None:
        """The view at least as wide as its three columns' contents: the first stretches over what the date and the
        read status leave, and no name is elided (at 200 % the dock shrank to the view's least width and showed
        "ba…ne", "we…12"; a central-review pseudonym read "BICR…KZ7W")."""
        header = self.header()
        assert header is not None
        if self._least_width is None:
            self._least_width = self.minimumWidth()
        # the read status at the widest it may say: the view's least width (and the images beside the dock) stays
        # as a timepoint is read and signed
        style = self.style()
        margin = 2 * (style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, self) + 1) if style else 6
        status = max(self.fontMetrics().horizontalAdvance(text) for text in _STATUS_LABELS) + margin
        columns = (
            self.sizeHintForColumn(0)  # the names in full (the header's "Subject / timepoint" may be cut)
            + max(self.sizeHintForColumn(1), header.sectionSizeHint(1))
            + max(self.sizeHintForColumn(2), header.sectionSizeHint(2), status)
        )
        scroll_bar = self.verticalScrollBar()
        room_for_bar = scroll_bar.sizeHint().width() if scroll_bar is not None else 0  # a long worklist scrolls
        self.setMinimumWidth(max(self._least_width, columns + 2 * self.frameWidth() + room_for_bar))

    def _status_text(self, status: str) -> tuple[str, str]:
        if not self.signing and status in _UNSIGNABLE:
            return _UNSIGNABLE[status]
        return _STATUS_SHORT[status], _STATUS_TIP[status]

    def mark_current(self, subject_index: int, tp_index: int) -> None:
        top = self.topLevelItem(subject_index)
        if top is not None and top.child(tp_index) is not None:
            self.blockSignals(True)
            self.setCurrentItem(top.child(tp_index))
            self.blockSignals(False)

    def _activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        data = item.data(0, Qt.ItemDataRole.UserRole)
        if data is not None:
            self.timepoint_activated.emit(int(data[0]), int(data[1]))
