"""The whole read of a subject of the synthetic sample trial (written as DICOM by imaging.synthetic, loaded by the
real loader) through the widgets. Measured by the classical engine, the responses must be those the ground truth
expects; measured by `auto` (the consensus the app uses), the whole flow must work: on this reduced rendering some of
its suggestions are off and flagged, which a reader would adjust and this test accepts unchecked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import QInputDialog

from tests.gui.test_reading_flow import _click_on
from workstation.read_model import MeasurementOrigin, Role

SUBJECT = "SUBJ-001"


@pytest.fixture(scope="module")
def sample_trial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from imaging.synthetic import generate_trial

    out = tmp_path_factory.mktemp("trial")
    generate_trial(out, small=True, subjects=(SUBJECT,))
    return out


@pytest.fixture(params=["classical", "auto"])
def engine_window(request, qtbot, tmp_path: Path):
    from segmentation.engines import create_segmenter
    from workstation.session.persistence import JsonReadStore
    from workstation.session.suggestions import MeasuringService
    from workstation.ui.main_window import MainWindow

    w = MainWindow(
        reader="tester",
        store=JsonReadStore(tmp_path / "reads"),
        measuring=MeasuringService(create_segmenter(request.param, "cpu")),
        data_dir=tmp_path,
    )
    w.auto_answer = True
    w.engine_under_test = request.param  # type: ignore[attr-defined]
    qtbot.addWidget(w)
    w.show()
    yield w
    w.jobs.cancel_all()
    w.jobs.wait(10000)


def _accept(qtbot, w) -> None:
    qtbot.waitUntil(lambda: w.pending is not None, timeout=30000)
    QTest.keyClick(w, Qt.Key.Key_Return)
    assert w.pending is None, w.statusBar().currentMessage()


def test_read_of_sample_subject_gives_the_expected_responses(
    qtbot, engine_window, sample_trial, tmp_path, monkeypatch
):
    w = engine_window
    truth = json.loads((sample_trial / SUBJECT / "ground_truth.json").read_text())
    expected = json.loads((sample_trial / SUBJECT / "expected_recist.json").read_text())
    assert w.open_folder(sample_trial)
    assert w.worklist.topLevelItem(0).text(0) == SUBJECT
    qtbot.waitUntil(lambda: w.volume(0) is not None, timeout=30000)
    k = w.current_viewer.cursor_voxel[0]
    number = w.volume(0).info.instance_numbers[k]
    assert f"Im {number}/20 (#{number})" in w.current_viewer.corner["bl"].text()  # the image's number in a PACS viewer
    lesions = {les["id"]: les for les in truth["lesions"]}

    # baseline: each target clicked at its centre, suggested by the engine, accepted; the bone lesion a non-target
    for lesion_id, les in lesions.items():
        centre = les["timepoints"][0]["centre_lps_mm"]
        if les["role"] == "target":
            w.node_check.setChecked(les["node"])
            _click_on(qtbot, w.current_viewer, tuple(centre))
            qtbot.waitUntil(lambda: w.pending is not None, timeout=30000)
            assert w.lesion_choice.currentData() is Role.TARGET
            w.organ_choice.setCurrentText(les["organ"])
            w.node_check.setChecked(les["node"])
            QTest.keyClick(w, Qt.Key.Key_Return)
        else:  # declared with nothing waiting: the reader is asked for its organ
            monkeypatch.setattr(QInputDialog, "getItem", staticmethod(lambda *_a, organ=les["organ"]: (organ, True)))
            w.auto_answer = None
            w.add_nontarget_btn.click()
            w.auto_answer = True
        assert lesion_id in w.session.read.lesions, w.statusBar().currentMessage()
    findings = [w.lesion_table.item(r, w.lesion_table.columnCount() - 1).text() for r in range(4)]
    assert all(f.startswith("✓") for f in findings), findings

    # follow-ups: every lesion measured at the position the app proposes (G), the non-target still present
    for tp in range(1, len(truth["timepoints"])):
        QTest.keyClick(w, Qt.Key.Key_BracketRight)
        qtbot.waitUntil(lambda t=tp: w.proposals_final_for == t, timeout=30000)
        for lesion_id, les in lesions.items():
            w.session.select_lesion(lesion_id)
            if les["role"] == "target":
                QTest.keyClick(w, Qt.Key.Key_G)
                _accept(qtbot, w)
            else:
                index = w.status_combo.findText("present")
                w.status_combo.setCurrentIndex(index)
                w.status_combo.activated.emit(index)
        assert set(w.session.read.timepoints[tp].assessments) == set(lesions)

    origins = {m.origin for tp in w.session.read.timepoints for a in tp.assessments.values() for m in a.measurements}
    assert origins == {MeasurementOrigin.ACCEPTED}
    table = w.response_panel.table
    got = [table.item(r, 7).text() for r in range(table.rowCount())]
    want = [tp.get("overall_response") or "—" for tp in expected["timepoints"]]
    if w.engine_under_test == "classical":
        assert got == want
        assert expected["best_overall_response"] in w.response_panel.bor_label.text()
    else:
        assert len(got) == len(want) and all(g in {"—", "CR", "PR", "SD", "PD"} for g in got)

    # the read exported from the workstation, in a worker: tables, SDTM, the read file, SR per timepoint, SEG
    job = w.export(tmp_path / "export")
    qtbot.waitUntil(lambda: job.done, timeout=120000)
    out = tmp_path / "export"
    assert (out / "tables" / "measurements.csv").is_file() and list((out / "reads").glob("*.json"))
    assert {p.stem.lower() for p in (out / "sdtm").glob("*.csv")} >= {"tu", "tr", "rs"}
    assert len(list((out / "sr").iterdir())) == len(truth["timepoints"])
    assert list((out / "seg").iterdir()) and "exported" in w.statusBar().currentMessage()


def test_the_app_command_opens_a_trial_folder(qtbot, sample_trial, tmp_path):
    from workstation.ui.app import SAMPLE_TRIAL, build_window, parse_args

    assert parse_args([]).folder == SAMPLE_TRIAL
    window = build_window(parse_args([str(sample_trial), "--reader", "tester", "--data-dir", str(tmp_path)]))
    qtbot.addWidget(window)
    window.auto_answer = True
    assert [s.subject_id for s in window.subjects] == [SUBJECT] and window.isVisible()
    qtbot.waitUntil(lambda: window.volume(0) is not None, timeout=30000)
    assert window.close()
