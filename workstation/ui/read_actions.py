"""Read-level actions of the main window that use other modules' dialogs and services: PACS query/retrieve, the
electronic signature and amendments (review dialogs, trial database), and export of the read.

A mixin of `workstation.ui.main_window.MainWindow`: it uses the window's session, store, worklist and job runner.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PyQt6.QtWidgets import QFileDialog, QWidget

from imaging.cancel import CancelToken, ProgressCallback
from workstation import paths
from workstation.read_model import Read, central_read_submitted
from workstation.session.export_read import DEFAULT_STUDY_ID, ReadExport, export_read
from workstation.session.persistence import ReadStoreError
from workstation.session.retrieved import remember
from workstation.session.worklist import (
    DicomFolderSource,
    SubjectEntry,
    WorklistError,
    add_study,
    study_id_of,
    timepoint_from_folder,
)
from workstation.ui.workers import Job

if TYPE_CHECKING:
    from PyQt6.QtWidgets import QProgressBar

    from workstation.session.persistence import ReadStore
    from workstation.session.reading import ReadingSession
    from workstation.session.suggestions import MeasuringService
    from workstation.ui.workers import JobRunner
    from workstation.ui.worklist_view import WorklistView


class ReadActionsMixin:
    #: where the reader last exported to (the export dialog opens there)
    _last_export_folder: Path | None = None

    if TYPE_CHECKING:  # provided by the main window
        session: ReadingSession | None
        store: ReadStore
        reader: str
        subjects: list[SubjectEntry]
        subject_index: int
        data_dir: Path
        jobs: JobRunner
        measuring: MeasuringService
        worklist: WorklistView
        progress: QProgressBar

        blinder: Any
        current_viewer: Any

        def say(self, message: str, timeout_ms: int = 8000) -> None: ...
        def warn(self, title: str, message: str, timeout_ms: int = 0) -> None: ...
        def timepoint_title(self) -> str: ...
        def _busy(self, text: str, total: int = 0) -> None: ...
        def _refresh_read(self) -> None: ...
        def _reload_timepoint(self, tp_index: int) -> None: ...
        def _leave_subject(self) -> bool: ...
        def _reopen_subject(self) -> None: ...
        def confirm(self, question: str, default_no: bool = False) -> bool: ...

        #: per subject id, the DICOM SR and SEG files of the read's last export (what Send to PACS sends)
        sendable: dict[str, list[Path]]

        pending: Any

    def _parent_widget(self) -> QWidget:
        assert isinstance(self, QWidget)
        return self

    def _refused_when_blinded(self, what: str) -> bool:
        if self.blinder is None:
            return False
        self.say(f"{what} is not part of a blinded central read (the data manager exports the accepted read)")
        return True

    def open_pacs(self) -> None:
        if self._refused_when_blinded("PACS query/retrieve"):
            return
        from workstation.ui.pacs_dialog import PacsDialog

        dialog = PacsDialog(runner=self.jobs, parent=self._parent_widget())
        dialog.studyRetrieved.connect(self.add_retrieved_study)
        dialog.show()

    def add_retrieved_study(self, result: Any) -> None:
        """A study fetched from PACS joins the worklist as a timepoint of its patient (a new subject if needed)."""
        try:
            subject_id, entry = timepoint_from_folder(Path(result.study_folder))
        except WorklistError as exc:
            self.say(str(exc))
            return
        subject = next((s for s in self.subjects if s.subject_id == subject_id), None)
        open_now = (
            self.session is not None and subject is not None and self.subjects.index(subject) == self.subject_index
        )
        if open_now and self.pending is not None:
            self.say(f"{subject_id}: accept or reject the measurement waiting, then retrieve the study again")
            return
        if open_now and not self._leave_subject():  # the read is saved before its timepoints change
            return
        refused = add_study(self.subjects, subject_id, entry)
        if refused is not None:
            self.say(refused)
            return
        try:
            remember(paths.retrieved_studies_file(self.data_dir), Path(result.study_folder))
        except OSError as exc:  # only a convenience: the study is in the worklist now and stays in the PACS cache
            self.say(f"could not note the study for the next start ({exc.strerror or exc})")
        if open_now:
            self._reopen_subject()  # the read gains the new timepoint where its date puts it
        self.worklist.show_subjects(
            self.subjects, {s.subject_id: self._saved_read(s.subject_id) for s in self.subjects}
        )
        self.say(f"{subject_id}: study of {entry.date} added to the worklist")

    def send_to_pacs(self) -> None:
        """Store the DICOM SR and SEG of this read's last export (Ctrl+E) on a PACS server (File > Query/retrieve
        from PACS > Servers sets them up), in the background, with a progress bar and Cancel."""
        from PyQt6.QtWidgets import QInputDialog

        from imaging.pacs.client import connect
        from imaging.pacs.errors import PacsError
        from imaging.pacs.settings import load_settings

        s = self.session
        if s is None or self._refused_when_blinded("Sending to PACS"):
            return
        files = [p for p in self.sendable.get(s.read.subject_id, []) if p.is_file()]
        if not files:
            self.say(f"{s.read.subject_id}: export the read first (Ctrl+E); its DICOM SR and SEG are what is sent")
            return
        try:
            settings = load_settings()
        except PacsError as exc:
            self.warn("PACS", str(exc))
            return
        names = [server.name for server in settings.servers]
        if not names:
            self.say("no PACS server is set up: File > Query/retrieve from PACS, Servers tab")
            return
        name = names[0]
        if len(names) > 1:
            now = names.index(settings.default) if settings.default in names else 0
            name, ok = QInputDialog.getItem(self._parent_widget(), "PACS", "Send to the server:", names, now, False)
            if not ok:
                return
        server = settings.server(name)
        kinds = sorted({p.parent.name.upper() for p in files})
        if not self.confirm(f"Send {len(files)} file(s) ({', '.join(kinds)}) of {s.read.subject_id} to {name}?"):
            return

        def work(progress: ProgressCallback, cancel: CancelToken) -> Any:
            with connect(server) as pacs:
                return pacs.store(files, progress=progress, cancel=cancel)

        def done(result: Any) -> None:
            message = f"{len(result.stored)} instance(s) stored on {name}"
            if result.failed:
                refused = "; ".join(f"{Path(p).name}: {why}" for p, why in result.failed)
                self.warn("PACS", f"{message}; refused: {refused}")
            else:
                self.say(message, 0)

        def cancelled() -> None:
            said = job.cancel_message
            if "stored" in said:  # cancelled while the server had not answered: say what is known and what is not
                self.warn("PACS", f"sending to {name} {said}")
            else:
                self.say(f"sending to {name} cancelled; what the server confirmed stays stored", 0)

        self._busy(f"sending to {name}", len(files))
        job = self.jobs.start(
            f"sending to {name}",
            work,
            on_success=done,
            on_error=lambda message: self.warn("PACS", f"nothing or not all was stored on {name}: {message}"),
            on_progress=lambda d, t, _m: self.progress.setValue(d),
            on_cancel=cancelled,
        )

    def choose_series(self) -> None:
        """Read the current timepoint on another series of its study (thin or thick CT, another kernel)."""
        from PyQt6.QtWidgets import QInputDialog

        from workstation.session.reading import SessionError

        s = self.session
        if s is None:
            return
        if s.read.reader_role == "central":
            self.say("the central review chose the series of each timepoint; ask the review's administrator")
            return
        entry = self.subjects[self.subject_index].timepoints[s.current_timepoint]
        source = entry.source
        if not isinstance(source, DicomFolderSource) or len(source.options) < 2:
            self.say(f"{entry.label}: its study offers no other image series")
            return
        labels = [o.label for o in source.options]
        now = next((i for i, o in enumerate(source.options) if o.series_uid == source.series_uid), 0)
        item, ok = QInputDialog.getItem(
            self._parent_widget(), "Series", f"Read {entry.label} on the series:", labels, now, False
        )
        if not ok or labels.index(item) == now:
            return
        try:
            s.forget_images(s.current_timepoint)
        except SessionError as exc:
            self.warn("Series", str(exc))
            return
        source.series_uid = source.options[labels.index(item)].series_uid
        self._reload_timepoint(s.current_timepoint)

    def _saved_read(self, subject_id: str) -> Read | None:
        if self.session is not None and self.session.read.subject_id == subject_id:
            return self.session.read
        try:
            return self.store.load(subject_id, self.reader)
        except ReadStoreError:
            return None

    def sign_timepoint(self) -> None:
        """Electronic signature of the current timepoint (needs the trial database, where users and the audit are)."""
        s = self.session
        sign = getattr(self.store, "sign", None)
        user = getattr(self.store, "user", None)
        if s is None:
            return
        if s.view_only:
            self.say(s.view_only)
            return
        if sign is None or user is None:
            self.say("signing needs the trial database: start with --database URL and sign in")
            return
        from workstation.ui.review import SignatureDialog

        tp = s.current_timepoint
        what = self.timepoint_title()
        if s.timepoint.signed:
            self.say(f"{s.timepoint.label} is already signed")
            return
        unsigned = [t.label for t in s.read.timepoints[:tp] if not t.signed]
        if unsigned:  # said before the password is typed (the store refuses it too)
            self.say(f"timepoints are signed in order: sign {unsigned[0]} first", 0)
            return

        def do_sign(password: str, meaning: str) -> None:
            sign(s.read, tp, password=password, meaning=meaning)

        signed = SignatureDialog(user, what, do_sign, self._parent_widget()).exec()
        self._keys_to_the_images()
        if signed:
            s.amendment_reasons.pop(tp, None)  # signed again: a further change is a new amendment
            s.signatures_withdrawn.discard(tp)
            s.commands.mark_clean()
            self._refresh_read()
            self.worklist.update_status(self.subject_index, s.read, withdrawn=s.signatures_withdrawn)
            self.say(f"{what} signed")

    def amend_timepoint(self) -> None:
        s = self.session
        if s is None:
            return
        if s.view_only:  # a read open for viewing only, a subject locked for analysis: nothing is amended
            self.say(s.view_only)
            return
        if not s.timepoint.signed:
            self.say(f"{s.timepoint.label} is not signed: change it directly")
            return
        submitted = central_read_submitted(s.read)
        if submitted is not None:  # said before the reason is asked for (the store refuses it too)
            self.say(submitted, 0)
            return
        from workstation.ui.review import ReasonDialog

        later = [t.label for i, t in enumerate(s.read.timepoints) if i > s.current_timepoint and t.signed]
        dialog = ReasonDialog(self.timepoint_title(), self._parent_widget(), later)
        accepted = dialog.exec()
        self._keys_to_the_images()
        if accepted and dialog.reason():
            s.amend(s.current_timepoint, dialog.reason())
            self.worklist.update_status(self.subject_index, s.read, s.amendment_reasons,
                                        withdrawn=s.signatures_withdrawn)
            self.say(f"amending {s.timepoint.label}: changes are saved with your reason")

    def _keys_to_the_images(self) -> None:
        """After a dialog, the keys (Ctrl+Z, arrows, presets) go to the images again, not to whatever had the focus
        before (a radiologist's Ctrl+Z did nothing after an export until they clicked the image)."""
        self._parent_widget().activateWindow()  # without a window manager (Xvfb) it may not be active again
        self.current_viewer.setFocus()

    def choose_export_folder(self) -> None:
        if self._refused_when_blinded("Export"):
            return
        # The folder last exported into (once per session), else the user's home: never the app's working folder.
        start = self._last_export_folder or Path.home()
        folder = QFileDialog.getExistingDirectory(self._parent_widget(), "Export the read into a folder", str(start))
        self._keys_to_the_images()
        if folder:
            self._last_export_folder = Path(folder)
            self.export(Path(folder))

    def export(self, out_dir: Path) -> Job | None:
        """Write every export format of the read being made, in a worker, all or nothing: the number of files and the
        folder in the status bar; a format left out (an SR that cannot be built) or a failure also in a message box,
        saying what, why, and (failed or cancelled) that nothing was written."""
        s = self.session
        if s is None or self._refused_when_blinded("Export"):
            return None
        subject = self.subjects[self.subject_index]
        folders = [t.source.path for t in subject.timepoints if isinstance(t.source, DicomFolderSource)]
        # The read as it is now, copied here: the reader may go on editing while the worker writes it.
        read, store = copy.deepcopy(s.read), self.measuring.mask_store

        # STUDYID (and the SR's protocol id): the trial's own, else its images', else the default, said as such.
        study_id, source = study_id_of(subject, DEFAULT_STUDY_ID)
        named = f"STUDYID {study_id}" + ("" if subject.protocol_id else f" ({source})")

        def work(progress: ProgressCallback, cancel: CancelToken) -> ReadExport:
            return export_read(read, out_dir, folders, store, study_id, progress=progress, cancel=cancel)

        def done(result: ReadExport) -> None:
            self.sendable[read.subject_id] = [
                p for p in result.files if p.suffix.lower() == ".dcm" and p.parent.name in ("sr", "seg")
            ]
            message = f"{len(result.files)} file(s) exported to {out_dir}, {named}"
            if result.left_out:
                self.warn("Export", f"{message}; {'; '.join(result.left_out)}; the read's other formats were exported")
            else:
                self.say(message, 0)

        def failed(message: str) -> None:
            self.warn("Export failed", message)

        self._busy("exporting", 5)
        return self.jobs.start(
            "export",
            work,
            on_success=done,
            on_error=failed,
            on_progress=lambda d, t, _m: self.progress.setValue(d),
            on_cancel=lambda: self.say(f"export cancelled; nothing was written to {out_dir}", 0),
        )
