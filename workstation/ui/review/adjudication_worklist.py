"""The adjudicator's window: the subjects awaiting adjudication (pseudonyms only); opening one shows both central
reads side by side in `AdjudicationDialog`, where the adjudicator picks one with a reason and their password, and can
open each read on the subject's images (blinded and view only, `central_start.view_central_read`). A subject locked
for analysis is not listed (`adjudication_worklist`); one locked since the list was shown is refused on opening, before
any reason or password is asked for, and the list is refreshed."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QMainWindow, QPushButton, QVBoxLayout, QWidget

from workstation.review.discordance import EvaluationError
from workstation.review.service import ReviewError, adjudicate, adjudication_case, adjudication_worklist
from workstation.storage import Database, StorageError
from workstation.storage.locks import SubjectLocked
from workstation.ui.review.adjudication import AdjudicationDialog
from workstation.users import PermissionDenied, User


class AdjudicationWindow(QMainWindow):
    def __init__(
        self,
        db: Database,
        user: User,
        parent: QWidget | None = None,
        image_root: Path | None = None,
        data_dir: Path | None = None,
    ) -> None:
        super().__init__(parent)
        self.db = db
        self.user = user
        #: the reading centre's image folder: each read can be viewed on the images (none: tables only)
        self.image_root = image_root
        self.data_dir = data_dir
        #: the view-only windows opened on the reads (kept alive while open)
        self.views: list[QMainWindow] = []
        #: pseudonym -> the reason the adjudicator had typed when the case changed under them and left the list
        #: (a read reopened: the subject is read again); offered again when the subject comes back
        self.drafts: dict[str, str] = {}
        self.setWindowTitle(f"RECIST workstation — adjudication ({user.username})")
        self.heading = QLabel()
        self.subjects = QListWidget()
        self.subjects.itemActivated.connect(lambda item: self.open_case(item.text()))
        self.open_btn = QPushButton("Open adjudication… (Enter)")
        self.open_btn.clicked.connect(self._open_selected)
        self.refresh_btn = QPushButton("Refresh")
        self.refresh_btn.clicked.connect(self.refresh)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(self.heading)
        layout.addWidget(self.subjects, 1)
        layout.addWidget(self.open_btn)
        layout.addWidget(self.refresh_btn)
        self.setCentralWidget(page)
        self.resize(420, 480)
        self.refresh()

    def say(self, message: str, timeout_ms: int = 8000) -> None:
        sb = self.statusBar()
        if sb is not None:
            sb.showMessage(message, timeout_ms)

    def refresh(self) -> None:
        try:
            waiting = adjudication_worklist(self.db, self.user)
        except (ReviewError, EvaluationError, StorageError, PermissionDenied) as exc:
            self.say(str(exc), 0)
            waiting = []
        self.subjects.clear()
        for pseudonym in waiting:
            self.subjects.addItem(QListWidgetItem(pseudonym))
        if waiting:
            self.subjects.setCurrentRow(0)
        self.heading.setText(f"{len(waiting)} subject(s) awaiting your adjudication")
        self.open_btn.setEnabled(bool(waiting))

    def _open_selected(self) -> None:
        item = self.subjects.currentItem()
        if item is not None:
            self.open_case(item.text())

    def _listed(self) -> list[str]:
        return [self.subjects.item(i).text() for i in range(self.subjects.count())]  # type: ignore[union-attr]

    def open_case(self, pseudonym: str, notice: str | None = None, reason: str = "") -> bool:
        """Both reads of ``pseudonym`` side by side; True once the adjudicator's choice is recorded. ``notice``: said
        in the dialog (why it was opened again); ``reason``: what the adjudicator had typed before that (kept: it was
        cleared, to be typed again)."""
        try:
            case = adjudication_case(self.db, pseudonym, self.user)
        except (ReviewError, EvaluationError, StorageError, PermissionDenied, SubjectLocked) as exc:
            self.say(str(exc), 0)
            self.refresh()
            return False

        def decide(chosen_read_id: str, reason: str, password: str) -> None:
            adjudicate(
                self.db,
                pseudonym,
                username=self.user.username,
                password=password,
                chosen_read_id=chosen_read_id,
                reason=reason,
                seen=case,
            )

        def view(slot: int) -> None:
            from workstation.ui.review.central_start import view_central_read

            assert self.image_root is not None
            self.views = [w for w in self.views if w.isVisible()]
            self.views.append(view_central_read(self.db, self.user, case, slot, self.image_root, self.data_dir))

        dialog = AdjudicationDialog(case, decide, self, view if self.image_root is not None else None)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        if notice is not None:
            dialog.error.setText(notice)
        reason = reason or self.drafts.pop(pseudonym, "")
        if reason:
            dialog.reason.setPlainText(reason)
        decided = bool(dialog.exec())
        if decided or dialog.changed is not None:
            for window in self.views:  # the reads decided between, or changed since: their windows would be stale
                window.close()
            self.views = []
        if decided:
            self.say(f"{pseudonym}: adjudicated; the chosen read is the accepted central read")
        self.refresh()
        if dialog.changed is not None:
            # Nothing was recorded: the subject is shown again as it now is, if it still awaits adjudication.
            self.say(dialog.changed, 0)
            if pseudonym in self._listed():
                return self.open_case(pseudonym, f"{dialog.changed}; shown again as the reads now are (your reason "
                                      "is kept: check it still holds)", dialog.reason.toPlainText())
            if dialog.reason.toPlainText().strip():  # being read again: the reason waits for the subject's return
                self.drafts[pseudonym] = dialog.reason.toPlainText()
                self.say(f"{dialog.changed}; the reason you typed is kept for when {pseudonym} awaits adjudication "
                         "again", 0)
        return decided
