"""The PACS dialog against a real Orthanc on loopback (pytest-qt, offscreen): edit servers, search, retrieve, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PyQt6.QtCore import QDate
from pytestqt.qtbot import QtBot

from imaging.pacs import RetrieveResult
from tests.dicom.ct_writer import write_ct_series
from tests.services.orthanc_server import OrthancServer, require_orthanc
from workstation.ui.pacs_dialog import PacsDialog


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    require_orthanc()
    with OrthancServer(tmp_path_factory.mktemp("orthanc")) as server:
        yield server


def test_configure_search_and_retrieve(orthanc: OrthancServer, tmp_path: Path, qtbot: QtBot) -> None:
    series = write_ct_series(tmp_path / "ct", n=3, rows=64, columns=64,
                             patient={"id": "GC-UI", "accession": "ACC-UI", "study_date": "20240410"})
    follow_up = write_ct_series(tmp_path / "ct2", n=2, rows=64, columns=64,
                                patient={"id": "GC-UI", "accession": "ACC-UI2", "study_date": "20240601"})
    earlier = write_ct_series(tmp_path / "ct0", n=2, rows=64, columns=64,
                              patient={"id": "GC-UI", "accession": "ACC-UI0", "study_date": "20240101"})
    orthanc.upload(series.paths + follow_up.paths + earlier.paths)
    config = tmp_path / "pacs.json"
    config.write_text(json.dumps({"cache_dir": str(tmp_path / "cache"), "servers": []}))
    dialog = PacsDialog(config)
    qtbot.addWidget(dialog)
    assert not dialog.search_button.isEnabled()  # no server yet

    form = dialog.form
    form.name.setText("orthanc")
    form.protocol.setCurrentText("dicomweb")
    form.url.setText("ftp://wrong")
    assert dialog.save_server() is False
    assert "must start with http://" in dialog.status.text()
    assert json.loads(config.read_text())["servers"] == []  # nothing saved

    form.url.setText(orthanc.dicomweb_url)
    form.username.setText(orthanc.username)
    form.password.setText("wrong-password")
    dialog.test_connection()
    qtbot.waitUntil(lambda: "rejected the user name or password" in dialog.status.text() and dialog.job is None,
                    timeout=10000)
    assert "wrong-password" not in dialog.status.text()
    form.password.setText(orthanc.password)
    assert dialog.save_server() is True
    assert dialog.server_choice.currentText() == "orthanc" and dialog.search_button.isEnabled()
    again = PacsDialog(config)  # opened again: the Servers tab shows the server in use, not an empty form
    qtbot.addWidget(again)
    assert again.server_list.currentItem() is not None and again.server_list.currentItem().text() == "orthanc"
    assert again.form.name.text() == "orthanc"
    dialog.test_connection()
    qtbot.waitUntil(lambda: ": OK (" in dialog.status.text() and dialog.job is None, timeout=10000)

    dialog.patient_id.setText("GC-UI")
    dialog.date_from.enabled.setChecked(True)
    dialog.date_from.edit.setDate(QDate(2024, 4, 1))
    dialog.search()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 2, timeout=10000)
    uids = [item.text() for row in range(2) if (item := dialog.table.item(row, 7)) is not None]
    assert uids == [series.study_uid, follow_up.study_uid]  # by date; the January study is outside the range
    dialog.table.selectAll()
    qtbot.waitUntil(dialog.retrieve_button.isEnabled, timeout=5000)
    results: list[RetrieveResult] = []
    dialog.studyRetrieved.connect(results.append)
    dialog.retrieve_selected()
    qtbot.waitUntil(lambda: len(results) == 2, timeout=20000)
    first, second = results
    assert (first.fetched, second.fetched) == (3, 2)
    assert first.series_folders[0].parent.parent == tmp_path / "cache"
    assert sorted(p.stem for p in first.series_folders[0].glob("*.dcm")) == sorted(series.sop_uids)
    # each study is announced as it completes; the summary follows when the retrieve is done
    qtbot.waitUntil(lambda: "retrieved 2 studies: 5 instances fetched" in dialog.status.text(), timeout=5000)
    assert dialog.progress.value() == 2
    qtbot.waitUntil(dialog.search_button.isEnabled, timeout=5000)

    dialog.date_from.edit.setDate(QDate(2024, 5, 1))
    dialog.date_to.enabled.setChecked(True)
    dialog.date_to.edit.setDate(QDate(2024, 4, 1))
    dialog.search()
    assert "is after" in dialog.status.text()  # refused before any request


def test_broken_settings_file_is_reported(tmp_path: Path, qtbot: QtBot) -> None:
    config = tmp_path / "pacs.json"
    config.write_text("{not json")
    dialog = PacsDialog(config)
    qtbot.addWidget(dialog)
    assert str(config) in dialog.status.text() and "not valid JSON" in dialog.status.text()
    assert config.read_text() == "{not json"  # left for the user to fix, never overwritten silently


def test_the_exported_sr_is_sent_to_the_pacs_from_the_app(
    orthanc: OrthancServer, tmp_path: Path, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PACS helper's missing feature: sending the SR and SEG back was command line only."""
    from tests.dicom.test_export_dicom import write_ct_series as write_known_series
    from tests.gui.conftest import phantom_subject
    from tests.gui.phantom import ThresholdSegmenter
    from tests.unit.test_sdtm_known_read import known_read, known_series
    from workstation.export.dicom_seg import load_headers
    from workstation.export.dicom_sr import export_sr
    from workstation.session.persistence import JsonReadStore
    from workstation.session.suggestions import MeasuringService
    from workstation.ui.main_window import MainWindow

    read = known_read()
    files = [p for i, tp in enumerate(read.timepoints)
             for p in write_known_series(known_series(i, tp.date), tmp_path / f"ct{i}")]
    written = [w.path for w in export_sr(read, tmp_path / "out" / "sr", headers=load_headers(files))]
    config = tmp_path / "pacs.json"
    config.write_text(json.dumps({"cache_dir": str(tmp_path / "cache"), "servers": [{
        "name": "orthanc", "protocol": "dicomweb", "url": orthanc.dicomweb_url, "username": orthanc.username,
        "password": orthanc.password}]}))
    monkeypatch.setenv("RECIST_PACS_CONFIG", str(config))
    window = MainWindow(reader="tester", store=JsonReadStore(tmp_path / "reads"),
                        measuring=MeasuringService(ThresholdSegmenter()), data_dir=tmp_path)
    window.auto_answer = True
    qtbot.addWidget(window)
    window.open_subjects([phantom_subject("S001")])
    window.open_timepoint(0, 0)
    window.send_to_pacs()
    assert "export the read first (Ctrl+E)" in window.statusBar().currentMessage()
    before = orthanc.instance_count()
    window.sendable["S001"] = written
    window.send_to_pacs()
    qtbot.waitUntil(lambda: "stored on orthanc" in window.statusBar().currentMessage(), timeout=20000)
    assert window.statusBar().currentMessage() == f"{len(written)} instance(s) stored on orthanc"
    assert orthanc.instance_count() == before + len(written)
    window.jobs.wait(5000)


def test_the_results_are_of_the_server_searched(tmp_path: Path, qtbot: QtBot) -> None:
    """The PACS user's finding: after switching the Server box, the other server's studies stayed listed, and
    Retrieve then asked the new server for them. Another server (or a new search) starts from an empty list."""
    from imaging.pacs import ServerSettings, StudyResult
    from imaging.pacs.settings import PacsSettings, save_settings

    config = tmp_path / "pacs.json"
    servers = tuple(ServerSettings(name=n, protocol="dicomweb", url=f"http://127.0.0.1:9/{n}") for n in ("a", "b"))
    save_settings(PacsSettings(servers=servers, default="a", cache_dir=str(tmp_path / "cache")), config)
    dialog = PacsDialog(config)
    qtbot.addWidget(dialog)
    dialog._show_studies([StudyResult("1.2.3", patient_id="P1")])
    assert dialog.table.rowCount() == 1 and dialog.studies
    dialog.server_choice.setCurrentText("b")
    assert dialog.table.rowCount() == 0 and not dialog.studies
    assert not dialog.retrieve_button.isEnabled()
