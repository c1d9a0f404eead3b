"""All-or-nothing output (`workstation.export.staging`): files appear in the destination together or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from workstation.export.staging import (
    OWNER_FILE,
    SCOPE_FILE,
    STAGING_PREFIX,
    ExportScope,
    LeftoversError,
    StagedFolder,
    StagingError,
    remove_abandoned,
)


def test_commit_moves_every_file_into_place_and_leaves_no_staging_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "tables").mkdir()
    (out / "notes").mkdir()
    (out / "notes" / "old.csv").write_text("old")  # a folder this export does not write into: left alone
    (out / "tables" / "measurements.csv").write_text("previous export")
    with StagedFolder(out) as staged:
        assert staged.path.parent == out and staged.path.name.startswith(STAGING_PREFIX)
        assert staged.path.stat().st_mode & 0o077 == 0  # private while it holds data nobody has recorded yet
        (staged.path / "tables").mkdir()
        (staged.path / "tables" / "measurements.csv").write_text("new")
        (staged.path / "sr" / "deep").mkdir(parents=True)
        (staged.path / "sr" / "deep" / "a.dcm").write_bytes(b"sr")
        assert staged.files() == [Path("sr/deep/a.dcm"), Path("tables/measurements.csv")]
        moved = staged.commit()
    assert moved == [out / "sr" / "deep" / "a.dcm", out / "tables" / "measurements.csv"]
    assert (out / "tables" / "measurements.csv").read_text() == "new"  # replaced, as a direct write would
    assert (out / "notes" / "old.csv").read_text() == "old"
    assert sorted(p.name for p in out.iterdir()) == ["notes", "sr", "tables"]


def test_an_earlier_exports_files_that_would_stay_beside_the_new_ones_stop_the_commit(tmp_path: Path) -> None:
    """Another subject's SR from an earlier export into the same folder would be shipped with this one: refused,
    naming the file, before anything is moved; files directly in the folder and hidden ones do not count."""
    out = tmp_path / "out"
    (out / "sr").mkdir(parents=True)
    (out / "sr" / "OTHER_reader_T0.SR.dcm").write_bytes(b"old")
    (out / "sr" / ".DS_Store").write_bytes(b"")
    (out / "README.txt").write_text("the data manager's own note")
    with StagedFolder(out) as staged:
        (staged.path / "sr").mkdir()
        (staged.path / "sr" / "SUBJ_reader_T0.SR.dcm").write_bytes(b"new")
        (staged.path / "report.html").write_text("new")
        assert staged.leftovers() == [Path("sr/OTHER_reader_T0.SR.dcm")]
        with pytest.raises(
            StagingError,
            match=r"already holds 1 file\(s\) this export would not replace "
            r"\(sr/OTHER_reader_T0.SR.dcm\): the folder would mix two exports",
        ):
            staged.commit()
    assert sorted(p.name for p in (out / "sr").iterdir()) == [".DS_Store", "OTHER_reader_T0.SR.dcm"]
    assert not (out / "report.html").exists()


def test_leaving_without_commit_removes_everything_it_made(tmp_path: Path) -> None:
    out = tmp_path / "new" / "out"
    with pytest.raises(KeyboardInterrupt), StagedFolder(out) as staged:
        (staged.path / "tu.csv").write_text("unblinded")
        raise KeyboardInterrupt
    assert not (tmp_path / "new").exists()  # the folders it created for the destination go too
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("kept")
    with StagedFolder(existing) as staged:
        (staged.path / "tu.csv").write_text("unblinded")
    assert [p.name for p in existing.iterdir()] == ["keep.txt"]
    with StagedFolder(out) as staged:  # committed, but nothing to move: no empty folder left behind
        assert staged.commit() == []
    assert not (tmp_path / "new").exists()


def test_a_target_in_the_way_moves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "sdtm" / "tu.csv").mkdir(parents=True)  # a folder where a file goes
    (out / "tables").write_text("a file where a folder goes")
    for in_the_way, message in [("sdtm/tu.csv", "a folder of that name is in the way"), ("tables/x.csv", "is a file")]:
        with StagedFolder(out) as staged:
            (staged.path / "a.csv").write_text("a")
            (staged.path / in_the_way).parent.mkdir(parents=True, exist_ok=True)
            (staged.path / in_the_way).write_text("b")
            with pytest.raises(StagingError, match=message):
                staged.commit()
        assert sorted(p.name for p in out.iterdir()) == ["sdtm", "tables"]  # not even a.csv


def _export_sdtm(out: Path, scope: ExportScope, text: str) -> None:
    with StagedFolder(out, scope) as staged:
        (staged.path / "sdtm").mkdir()
        (staged.path / "sdtm" / "tr.csv").write_text(text)
        staged.commit()


def test_an_export_of_another_study_or_of_fewer_reads_does_not_silently_replace_one_with_the_same_file_names(
    tmp_path: Path,
) -> None:
    """A data manager exported SDTM of one subject over a four-subject export (and over another study's): tr.csv
    was replaced without a word. The sub-folders whose file names do not name the read carry what they hold."""
    out = tmp_path / "out"
    both = ExportScope("TIL01", {"r1": "S1", "r2": "S2"})
    _export_sdtm(out, both, "S1 S2")
    assert ExportScope.from_file(out / "sdtm" / SCOPE_FILE) == both
    with pytest.raises(LeftoversError, match="holds an export of study 'TIL01'; this one is of study 'OTHER'"):
        _export_sdtm(out, ExportScope("OTHER", {"r1": "S1", "r2": "S2"}), "other study")
    with pytest.raises(LeftoversError, match=r"1 read\(s\) this one does not have \(subject S2\)"):
        _export_sdtm(out, ExportScope("TIL01", {"r1": "S1"}), "S1 only")
    assert (out / "sdtm" / "tr.csv").read_text() == "S1 S2"  # nothing was moved
    _export_sdtm(out, both, "S1 S2 again")  # the same export again
    more = ExportScope("TIL01", {"r1": "S1", "r2": "S2", "r3": "S3"})
    _export_sdtm(out, more, "S1 S2 S3")  # more reads signed since: it replaces the earlier one
    assert ExportScope.from_file(out / "sdtm" / SCOPE_FILE) == more
    (out / "sdtm" / SCOPE_FILE).write_text("{damaged")
    with pytest.raises(LeftoversError, match="cannot be read"):
        _export_sdtm(out, more, "x")


def test_a_report_written_straight_into_its_folder_leaves_no_older_reports_files_beside_it(tmp_path: Path) -> None:
    """A one-subject report into the folder of a four-subject one kept the older report's iRECIST figures and
    Kaplan-Meier tables beside the new ones, without a word: an older file of the report's own names that this one
    does not replace is a leftover, and so is a report of fewer reads; other files there are not the report's."""
    out = tmp_path / "report"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    own = ("report.html", "km_*.csv", "irecist_*")
    four = ExportScope("report", {f"r{i}": f"S{i}" for i in range(4)})

    def write(names: list[str], scope: ExportScope) -> None:
        with StagedFolder(out, scope, own) as staged:
            for name in names:
                (staged.path / name).write_text("x")
            staged.commit()

    write(["report.html", "km_irecist_pfs.csv", "irecist_swimmer.png"], four)
    assert (out / SCOPE_FILE).is_file()
    with pytest.raises(LeftoversError, match=r"2 file\(s\) this export would not replace \(irecist_swimmer.png and 1"):
        write(["report.html"], four)  # the same reads, but the older report's iRECIST files would stay
    with pytest.raises(LeftoversError, match=r"3 read\(s\) this one does not have"):
        write(["report.html", "km_irecist_pfs.csv", "irecist_swimmer.png"], ExportScope("report", {"r0": "S0"}))
    write(["report.html", "km_irecist_pfs.csv", "irecist_swimmer.png"], four)  # the same report again
    assert (out / "notes.txt").read_text() == "mine"


def test_a_staging_folder_left_by_a_killed_export_is_removed_by_the_next_one(tmp_path: Path) -> None:
    """SIGKILL or a power loss leaves the hidden staging folder, with unfinished (perhaps unblinded) files: the next
    export into the folder removes it; one whose export still runs, or an unowned one only minutes old, stays."""
    import os
    import socket
    import subprocess
    import sys

    out = tmp_path / "out"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = socket.gethostname()
    killed, running, young = (out / f"{STAGING_PREFIX}{name}" for name in ("killed", "running", "young"))
    for folder in (killed, running, young):
        (folder / "tables").mkdir(parents=True)
        (folder / "tables" / "measurements.csv").write_text("unfinished")
    (killed / OWNER_FILE).write_text(f"{host} {dead.stdout.strip()}\n")
    (running / OWNER_FILE).write_text(f"{host} {os.getpid()}\n")
    old_unowned = out / f"{STAGING_PREFIX}unowned"
    old_unowned.mkdir()
    os.utime(old_unowned, (0, 0))
    with StagedFolder(out) as staged:
        assert (staged.path / OWNER_FILE).read_text().split() == [host, str(os.getpid())]
        (staged.path / "a.csv").write_text("new")
        assert staged.files() == [Path("a.csv")]  # the owner file is not the export's
        staged.commit()
    assert sorted(p.name for p in out.iterdir()) == [running.name, young.name, "a.csv"]
    assert remove_abandoned(out) == []
