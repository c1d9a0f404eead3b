"""The PACS dialog: search a server, retrieve studies into the local cache (progress, cancel), and edit the servers.

The dialog only gathers input and shows results; the work is `imaging.pacs` (settings, clients, cache), run on the
`JobRunner` thread pool. ``studyRetrieved`` carries the `RetrieveResult` (its ``series_folders`` load with
`imaging.load_series`); the main window connects it to open the study.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QDate, Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from imaging.pacs import (
    LocalCache,
    PacsError,
    PacsSettings,
    RetrieveResult,
    ServerSettings,
    StudyQuery,
    StudyResult,
    connect,
    default_config_path,
    load_settings,
    save_settings,
)
from workstation.ui.workers import Job, JobRunner

STUDY_COLUMNS = ("Patient ID", "Name", "Study date", "Accession", "Modalities", "Series", "Description", "Study UID")


def _qdate(value: date) -> QDate:
    return QDate(value.year, value.month, value.day)


def _pydate(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


class _OptionalDate(QWidget):
    """A date that may be left empty (an open-ended range)."""

    def __init__(self, label: str) -> None:
        super().__init__()
        self.enabled = QCheckBox(label)
        self.edit = QDateEdit(QDate.currentDate())
        self.edit.setCalendarPopup(True)
        self.edit.setDisplayFormat("yyyy-MM-dd")
        self.edit.setEnabled(False)
        self.enabled.toggled.connect(self.edit.setEnabled)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.enabled)
        layout.addWidget(self.edit)

    def value(self) -> date | None:
        return _pydate(self.edit.date()) if self.enabled.isChecked() else None

    def set_value(self, value: date | None) -> None:
        self.enabled.setChecked(value is not None)
        if value is not None:
            self.edit.setDate(_qdate(value))


class ServerForm(QWidget):
    """The fields of one `ServerSettings`; ``server()`` builds it (validation is the settings' own)."""

    def __init__(self) -> None:
        super().__init__()
        self.name = QLineEdit()
        self.protocol = QComboBox()
        self.protocol.addItems(["dicomweb", "dimse"])
        self.url = QLineEdit()
        self.url.setPlaceholderText("https://pacs.example.org/dicom-web")
        self.host = QLineEdit()
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(104)
        self.called_ae = QLineEdit()
        self.calling_ae = QLineEdit("RECIST")
        self.retrieve_method = QComboBox()
        self.retrieve_method.addItems(["c-get", "c-move"])
        self.storage_port = QSpinBox()
        self.storage_port.setRange(0, 65535)
        self.tls = QCheckBox("use TLS")
        self.ca_file = QLineEdit()
        self.cert_file = QLineEdit()
        self.key_file = QLineEdit()
        self.username = QLineEdit()
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_env = QLineEdit()
        self.password_env.setPlaceholderText("name of an environment variable (preferred to a stored password)")
        self.timeout = QDoubleSpinBox()
        self.timeout.setRange(0.5, 3600)
        self.timeout.setValue(30)
        self.timeout.setSuffix(" s")
        form = QFormLayout(self)
        for label, widget in [
            ("Name", self.name),
            ("Protocol", self.protocol),
            ("URL (DICOMweb)", self.url),
            ("Host (DIMSE)", self.host),
            ("Port", self.port),
            ("Called AE (PACS)", self.called_ae),
            ("Calling AE (us)", self.calling_ae),
            ("Retrieve with", self.retrieve_method),
            ("Storage port (C-MOVE)", self.storage_port),
            ("", self.tls),
            ("CA certificates", self.ca_file),
            ("Client certificate", self.cert_file),
            ("Client key", self.key_file),
            ("User name", self.username),
            ("Password", self.password),
            ("Password variable", self.password_env),
            ("Timeout", self.timeout),
        ]:
            form.addRow(label, widget)
        self.protocol.currentTextChanged.connect(self._protocol_changed)
        self._protocol_changed(self.protocol.currentText())

    def _protocol_changed(self, protocol: str) -> None:
        web = protocol == "dicomweb"
        web_only: list[QWidget] = [self.url, self.username, self.password, self.password_env]
        dimse_only: list[QWidget] = [
            self.host,
            self.port,
            self.called_ae,
            self.calling_ae,
            self.retrieve_method,
            self.storage_port,
        ]
        for widget in web_only:
            widget.setEnabled(web)
        for widget in dimse_only:
            widget.setEnabled(not web)

    def server(self) -> ServerSettings:
        web = self.protocol.currentText() == "dicomweb"
        return ServerSettings(
            name=self.name.text().strip(),
            protocol=self.protocol.currentText(),
            url=self.url.text().strip() if web else "",
            host="" if web else self.host.text().strip(),
            port=self.port.value(),
            called_ae="" if web else self.called_ae.text().strip(),
            calling_ae=self.calling_ae.text().strip() or "RECIST",
            retrieve_method=self.retrieve_method.currentText(),
            storage_port=0 if web else self.storage_port.value(),
            tls=self.tls.isChecked(),
            ca_file=self.ca_file.text().strip(),
            cert_file=self.cert_file.text().strip(),
            key_file=self.key_file.text().strip(),
            username=self.username.text().strip() if web else "",
            password=self.password.text() if web else "",
            password_env=self.password_env.text().strip() if web else "",
            timeout_s=float(self.timeout.value()),
        )

    def show_server(self, server: ServerSettings) -> None:
        self.name.setText(server.name)
        self.protocol.setCurrentText(server.protocol)
        self.url.setText(server.url)
        self.host.setText(server.host)
        self.port.setValue(server.port)
        self.called_ae.setText(server.called_ae)
        self.calling_ae.setText(server.calling_ae)
        self.retrieve_method.setCurrentText(server.retrieve_method)
        self.storage_port.setValue(server.storage_port)
        self.tls.setChecked(server.tls)
        self.ca_file.setText(server.ca_file)
        self.cert_file.setText(server.cert_file)
        self.key_file.setText(server.key_file)
        self.username.setText(server.username)
        self.password.setText(server.password)
        self.password_env.setText(server.password_env)
        self.timeout.setValue(server.timeout_s)


class PacsDialog(QDialog):
    """Search and retrieve tab, and a servers tab that edits the settings file."""

    #: a retrieve finished: the `RetrieveResult` (study folder, series folders, counts)
    studyRetrieved = pyqtSignal(object)

    def __init__(
        self, config_path: Path | None = None, runner: JobRunner | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("PACS: search, retrieve, servers")
        self.config_path = config_path or default_config_path()
        self.runner = runner or JobRunner(max_threads=1)
        self.settings = PacsSettings()
        self.studies: list[StudyResult] = []
        self.job: Job | None = None
        #: (studies retrieved, studies asked for) of the running or last retrieve
        self._retrieved: tuple[int, int] = (0, 0)

        self.server_choice = QComboBox()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tabs = QTabWidget()
        self.tabs.addTab(self._search_tab(), "Search")
        self.tabs.addTab(self._servers_tab(), "Servers")
        top = QHBoxLayout()
        top.addWidget(QLabel("Server"))
        top.addWidget(self.server_choice, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tabs)
        layout.addWidget(self.status)
        self.reload_settings()
        # results are of the server searched: another server, or a new search, starts from an empty list (a study
        # listed from one server was retrieved from another)
        self.server_choice.currentTextChanged.connect(lambda _name: self._show_studies([], quiet=True))

    # -- layout ---------------------------------------------------------------------------------------------------
    def _search_tab(self) -> QWidget:
        tab = QWidget()
        self.patient_id = QLineEdit()
        self.patient_id.setPlaceholderText("wildcards * and ? allowed")
        self.accession = QLineEdit()
        self.date_from = _OptionalDate("from")
        self.date_to = _OptionalDate("to")
        self.modality = QLineEdit()
        self.modality.setPlaceholderText("CT")
        self.search_button = QPushButton("Search")
        self.search_button.clicked.connect(self.search)
        form = QFormLayout()
        form.addRow("Patient ID", self.patient_id)
        form.addRow("Accession", self.accession)
        form.addRow("Study date", self.date_from)
        form.addRow("", self.date_to)
        form.addRow("Modality", self.modality)
        form.addRow("", self.search_button)
        self.table = QTableWidget(0, len(STUDY_COLUMNS))
        self.table.setHorizontalHeaderLabels(STUDY_COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        if header is not None:
            header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.retrieve_button = QPushButton("Retrieve")
        self.retrieve_button.clicked.connect(self.retrieve_selected)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.retrieve_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(tab)
        layout.addLayout(form)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        return tab

    def _servers_tab(self) -> QWidget:
        tab = QWidget()
        self.server_list = QListWidget()
        self.server_list.currentTextChanged.connect(self._show_server)
        self.form = ServerForm()
        self.new_button = QPushButton("New")
        self.new_button.clicked.connect(self._new_server)
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.save_server)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_server)
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self.test_connection)
        buttons = QHBoxLayout()
        for button in (self.new_button, self.save_button, self.remove_button, self.test_button):
            buttons.addWidget(button)
        right = QVBoxLayout()
        right.addWidget(self.form)
        right.addLayout(buttons)
        layout = QHBoxLayout(tab)
        layout.addWidget(self.server_list)
        layout.addLayout(right, 1)
        return tab

    # -- state ----------------------------------------------------------------------------------------------------
    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #b00020;" if error else "")

    def reload_settings(self) -> None:
        try:
            self.settings = load_settings(self.config_path)
        except PacsError as exc:
            self.settings = PacsSettings()
            self._say(str(exc), error=True)
        current = self.server_choice.currentText()
        self.server_choice.clear()
        self.server_list.clear()
        for server in self.settings.servers:
            self.server_choice.addItem(server.name)
            self.server_list.addItem(server.name)
        preferred = current or self.settings.default
        if preferred and self.server_choice.findText(preferred) >= 0:
            self.server_choice.setCurrentText(preferred)
        # the Servers tab opens on the server in use (it opened on an empty form with none selected)
        shown = self.server_list.findItems(self.server_choice.currentText(), Qt.MatchFlag.MatchExactly)
        if shown:
            self.server_list.setCurrentItem(shown[0])
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self.job is not None
        has_server = self.server_choice.count() > 0
        self.search_button.setEnabled(has_server and not busy)
        self.retrieve_button.setEnabled(has_server and not busy and bool(self._selected_rows()))
        self.cancel_button.setEnabled(busy)
        self.test_button.setEnabled(not busy)

    def _selected_rows(self) -> list[int]:
        model = self.table.selectionModel()
        return sorted({index.row() for index in model.selectedRows()}) if model is not None else []

    def _current_server(self) -> ServerSettings | None:
        try:
            return self.settings.server(self.server_choice.currentText() or None)
        except PacsError as exc:
            self._say(str(exc), error=True)
            return None

    def _start(self, name: str, work: Any, on_success: Any, after: Any = lambda: "") -> None:
        """Run ``work`` in the background; ``after()`` is added to the message when it fails or is cancelled."""

        def finished() -> None:
            self.job = None
            self._update_buttons()

        def failed(message: str) -> None:
            self._say(message + after(), error=True)

        def cancelled() -> None:
            if name == "Retrieve":
                self._say(f"{name}: cancelled; what was retrieved is kept and a new retrieve resumes{after()}")
            else:
                self._say(f"{name}: cancelled")

        self.job = self.runner.start(name, work, on_success, failed, self._on_progress, cancelled)
        self.job.finished.connect(finished)
        self._update_buttons()

    def _on_progress(self, done: int, total: int, message: str) -> None:
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{done} / {total}")

    # -- actions --------------------------------------------------------------------------------------------------
    def search(self) -> None:
        server = self._current_server()
        if server is None:
            return
        try:
            query = StudyQuery(
                self.patient_id.text().strip(),
                self.accession.text().strip(),
                self.date_from.value(),
                self.date_to.value(),
                self.modality.text().strip().upper(),
            )
        except PacsError as exc:
            self._say(str(exc), error=True)
            return

        def work(progress: Any, cancel: Any) -> list[StudyResult]:
            with connect(server) as pacs:
                return pacs.find_studies(query, cancel)

        self._show_studies([], quiet=True)
        self._say(f"searching {server.describe()} ...")
        self._start("Search", work, self._show_studies)

    def _show_studies(self, studies: list[StudyResult], quiet: bool = False) -> None:
        self.studies = sorted(studies, key=lambda s: (s.patient_id, s.study_date or date.min))
        self.table.clearContents()
        self.table.setRowCount(len(self.studies))
        for row, study in enumerate(self.studies):
            values = (
                study.patient_id,
                str(study.patient_name or "").replace("^", " ").strip(),
                study.study_date.isoformat() if study.study_date else "",
                study.accession_number,
                "/".join(study.modalities),
                "" if study.series_count is None else str(study.series_count),
                study.description,
                study.study_uid,
            )
            for column, value in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(value))
        if not quiet:
            self._say(f"{len(self.studies)} matching stud{'y' if len(self.studies) == 1 else 'ies'}")
        self._update_buttons()

    def retrieve_selected(self) -> None:
        """Retrieve every selected study, one after the other; ``studyRetrieved`` is emitted for each."""
        rows = self._selected_rows()
        server = self._current_server()
        if not rows or server is None:
            return
        studies = [self.studies[row] for row in rows]
        cache = LocalCache(self.settings.cache_dir)
        self._retrieved = (0, len(studies))

        def work(progress: Any, cancel: Any) -> list[tuple[StudyResult, RetrieveResult]]:
            results = []
            with connect(server) as pacs:
                for n, study in enumerate(studies, 1):

                    def study_progress(done: int, total: int, message: str, n: int = n) -> None:
                        progress(done, total, f"study {n} of {len(studies)}: {message}")

                    result = pacs.retrieve(study.study_uid, cache, progress=study_progress, cancel=cancel)
                    results.append((study, result))
                    self._retrieved = (n, len(studies))
                    # Each complete study joins the worklist at once (queued to the GUI thread), so that one that
                    # arrived before a later study failed or was cancelled is not lost from view.
                    self.studyRetrieved.emit(result)
            return results

        def done(results: list[tuple[StudyResult, RetrieveResult]]) -> None:
            fetched = sum(r.fetched for _, r in results)
            cached = sum(r.already_cached for _, r in results)
            self._say(
                f"retrieved {len(results)} stud{'y' if len(results) == 1 else 'ies'}: {fetched} instances fetched, "
                f"{cached} already cached, in {cache.root}"
            )

        self._say(f"retrieving {len(studies)} stud{'y' if len(studies) == 1 else 'ies'} ...")
        self._start("Retrieve", work, done, self._done_before)

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.cancel_button.setEnabled(False)
            self._say("cancelling ...")

    def _done_before(self) -> str:
        """How many of the studies asked for were retrieved before a failure or cancel (they are in the worklist)."""
        done, asked = self._retrieved
        if not done or done >= asked:
            return ""
        return f"; {done} of the {asked} studies were retrieved before that and are in the worklist"

    def _show_server(self, name: str) -> None:
        for server in self.settings.servers:
            if server.name == name:
                self.form.show_server(server)

    def _new_server(self) -> None:
        self.server_list.clearSelection()
        self.form.show_server(ServerSettings(name="", protocol="dicomweb"))

    def save_server(self) -> bool:
        """Validate the form and write it to the settings file; a problem is shown, nothing is saved."""
        try:
            server = self.form.server().validated()
            settings = self.settings.with_server(server)
            if not settings.default:
                settings = replace(settings, default=server.name)
            save_settings(settings, self.config_path)
        except PacsError as exc:
            self._say(str(exc), error=True)
            return False
        except OSError as exc:
            self._say(f"cannot save {self.config_path}: {exc.strerror}", error=True)
            return False
        self.reload_settings()
        self._say(f"saved {server.describe()}")
        return True

    def remove_server(self) -> None:
        item = self.server_list.currentItem()
        name = item.text() if item is not None else ""
        if not name:
            return
        try:
            save_settings(self.settings.without_server(name), self.config_path)
        except (PacsError, OSError) as exc:
            self._say(str(exc), error=True)
            return
        self.reload_settings()
        self._say(f"removed {name}")

    def test_connection(self) -> None:
        try:
            server = self.form.server().validated()
        except PacsError as exc:
            self._say(str(exc), error=True)
            return

        def work(progress: Any, cancel: Any) -> float:
            with connect(server) as pacs:
                return pacs.check(cancel)

        self._say(f"testing {server.describe()} ...")
        self._start("Test connection", work, lambda s: self._say(f"{server.describe()}: OK ({s * 1000:.0f} ms)"))

    def closeEvent(self, event: Any) -> None:
        self.cancel()
        super().closeEvent(event)
