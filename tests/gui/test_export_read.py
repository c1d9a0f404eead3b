"""The app's export of the read (Ctrl+E) through the main window: in a worker, all or nothing; the status bar says
what was exported, what was left out, or what failed and that nothing was written (`warn` shows it in the status
bar only, the window answering automatically in tests)."""

from __future__ import annotations

import threading
from pathlib import Path

from tests.gui.conftest import phantom_subject
from workstation.session.worklist import SubjectEntry


def _open(qtbot, w) -> None:
    """A subject whose follow-up is not read yet (nothing measured): the export goes on without it."""
    w.open_subjects([SubjectEntry("S1", phantom_subject().timepoints)])
    qtbot.waitUntil(lambda: w.current_viewer.volume is not None and w.volume(0) is not None, timeout=5000)


def _export(qtbot, w, out: Path) -> str:
    job = w.export(out)
    assert job is not None
    qtbot.waitUntil(lambda: job.done, timeout=30000)
    return str(w.statusBar().currentMessage())


def test_the_export_lists_what_it_wrote_and_what_it_left_out(qtbot, window, tmp_path: Path) -> None:
    w = window
    _open(qtbot, w)
    out = tmp_path / "out"
    out.mkdir()
    shown = _export(qtbot, w, out)
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files and {p.relative_to(out).parts[0] for p in files} == {"tables", "sdtm", "reads"}
    # the phantom's images are not DICOM: no SR or SEG, and the reader is told so
    assert shown == (
        f"{len(files)} file(s) exported to {out}, STUDYID RECIST-TRIAL (the default: the trial states no "
        "protocol_id); no DICOM SR or SEG: none of the read's images was opened from a DICOM folder; the read's other "
        "formats were exported"
    )


def test_the_export_writes_the_trials_protocol_id(qtbot, window, tmp_path: Path) -> None:
    """STUDYID is the protocol id trial.json states (not the default a data manager would have to correct)."""
    import csv

    w = window
    w.open_subjects([SubjectEntry("S1", phantom_subject().timepoints, protocol_id="TIL-PEMBRO-GC-01")])
    qtbot.waitUntil(lambda: w.current_viewer.volume is not None and w.volume(0) is not None, timeout=5000)
    out = tmp_path / "out"
    out.mkdir()
    shown = _export(qtbot, w, out)
    assert f"exported to {out}, STUDYID TIL-PEMBRO-GC-01;" in shown
    study_ids = []
    for table in sorted((out / "sdtm").glob("*.csv")):
        with table.open(newline="", encoding="utf-8") as f:
            study_ids += [row["STUDYID"] for row in csv.DictReader(f)]
    assert study_ids and set(study_ids) == {"TIL-PEMBRO-GC-01"}


def test_a_failed_export_says_what_failed_and_leaves_nothing(qtbot, window, tmp_path: Path, monkeypatch) -> None:
    import workstation.export.sdtm

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(workstation.export.sdtm, "write_sdtm", disk_full)  # after the tables were written
    w = window
    _open(qtbot, w)
    out = tmp_path / "out"
    out.mkdir()
    shown = _export(qtbot, w, out)
    assert shown == (
        f"export: writing SDTM failed for subject S1, read {w.session.read.read_id} (tester): [Errno 28] No space "
        f"left on device; nothing was written to {out}"
    )
    assert list(out.iterdir()) == []


def test_a_cancelled_export_leaves_nothing(qtbot, window, tmp_path: Path, monkeypatch) -> None:
    import workstation.export.tables

    writing, cancelled = threading.Event(), threading.Event()
    write_tables = workstation.export.tables.write_tables

    def slow_tables(*args, **kwargs):
        written = write_tables(*args, **kwargs)
        writing.set()
        assert cancelled.wait(10)
        return written

    monkeypatch.setattr(workstation.export.tables, "write_tables", slow_tables)
    w = window
    _open(qtbot, w)
    out = tmp_path / "out"
    out.mkdir()
    job = w.export(out)
    assert job is not None and w.cancel_btn.isVisible()
    qtbot.waitUntil(writing.is_set, timeout=10000)
    w.cancel_btn.click()
    cancelled.set()
    qtbot.waitUntil(lambda: job.done, timeout=10000)
    assert w.statusBar().currentMessage() == f"export cancelled; nothing was written to {out}"
    assert list(out.iterdir()) == []


def test_the_export_writes_the_read_as_it_was_when_asked(qtbot, window, tmp_path: Path, monkeypatch) -> None:
    """The worker gets a copy: the reader may go on editing the read while it is written."""
    import workstation.ui.read_actions
    from workstation.session.export_read import ReadExport

    given = []

    def record(read, *args, **kwargs):
        given.append(read)
        return ReadExport([], [])

    monkeypatch.setattr(workstation.ui.read_actions, "export_read", record)
    w = window
    _open(qtbot, w)
    _export(qtbot, w, tmp_path)
    assert given and given[0] is not w.session.read and given[0] == w.session.read


def test_an_export_into_a_folder_holding_an_earlier_exports_files_is_refused(qtbot, window, tmp_path: Path) -> None:
    """The same read exported again into its folder replaces its files; a file an earlier export left there that
    this one would not replace (another read's) stops it, named, with nothing written."""
    w = window
    _open(qtbot, w)
    out = tmp_path / "out"
    out.mkdir()
    first = _export(qtbot, w, out)
    assert "exported to" in first
    assert "exported to" in _export(qtbot, w, out)  # again: every file replaced, nothing left over
    (out / "reads" / "S2_other-read.json").write_text("{}")
    before = sorted(p for p in out.rglob("*") if p.is_file())
    shown = _export(qtbot, w, out)
    assert shown.startswith(f"export: {out} already holds 1 file(s) this export would not replace (reads/S2_")
    assert shown.endswith(f"the folder would mix two exports; export into a new folder, or remove them first; "
                          f"nothing was written to {out}")
    assert sorted(p for p in out.rglob("*") if p.is_file()) == before


def test_the_export_dialog_opens_in_the_home_folder_then_where_the_reader_last_exported(
    qtbot, window, tmp_path: Path, monkeypatch
) -> None:
    from PyQt6.QtWidgets import QFileDialog

    w = window
    _open(qtbot, w)
    asked: list[str] = []
    chosen = tmp_path / "exports"
    chosen.mkdir()

    def choose(_parent, _caption, start):
        asked.append(start)
        return str(chosen)

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(choose))
    monkeypatch.setattr(w, "export", lambda out: None)
    w.choose_export_folder()
    w.choose_export_folder()
    assert asked == [str(Path.home()), str(chosen)]  # never the app's working folder
