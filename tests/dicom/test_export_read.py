"""The app's export of the read being made (`workstation.session.export_read`): every format, all or nothing, as
`recist export` is; a read whose SR or SEG cannot be built is exported without it, and says so."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from imaging.cancel import Cancelled, CancelToken
from tests.dicom.test_export_dicom import write_ct_series
from tests.unit.test_sdtm_known_read import (
    FRAME_OF_REFERENCE,
    MATRIX,
    SLICES,
    known_read,
    known_series,
    without_frame_of_reference,
)
from workstation.export.staging import STAGING_PREFIX
from workstation.mask_store import MaskStore
from workstation.read_model import Read
from workstation.session.export_read import ReadExportError, export_read

Images = tuple[list[Path], MaskStore, str]


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Images:
    """The known read's CT series (one folder per timepoint), a mask store and the key of one lesion mask in it."""
    root = tmp_path_factory.mktemp("images")
    read = known_read()
    folders = [root / "ct" / f"T{i}" for i in range(len(read.timepoints))]
    for i, (tp, folder) in enumerate(zip(read.timepoints, folders, strict=True)):
        write_ct_series(known_series(i, tp.date), folder)
    store = MaskStore(root / "masks")
    s0 = known_series(0, read.timepoints[0].date)
    yy, xx = np.mgrid[-8:9, -8:9]
    disc = (yy**2 + xx**2) <= 49
    key = store.save(
        np.stack([disc, disc]), (3, 20, 12), (SLICES, MATRIX, MATRIX), s0.series_uid, FRAME_OF_REFERENCE,
        s0.sop_uids[3:5],
    )  # fmt: skip
    return folders, store, key


def _read(key: str, change: Callable[[Read], Read] = lambda r: r) -> Read:
    read = change(known_read())
    read.timepoints[0].assessments["T1"].measurements[0].mask_ref = key
    return read


def _out(tmp_path: Path) -> Path:
    """An output folder that already holds a file of its own."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("kept")
    return out


def _contents(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_every_format_is_moved_into_place(images: Images, tmp_path: Path) -> None:
    folders, store, key = images
    out = _out(tmp_path)
    result = export_read(_read(key), out, folders, store, study_id="TIL01")
    assert result.left_out == []
    assert sorted(result.files) == sorted(p for p in out.rglob("*") if p.is_file() and p.name != "notes.txt")
    assert {p.relative_to(out).parts[0] for p in result.files} == {"tables", "sdtm", "reads", "sr", "seg"}
    assert len(list((out / "sr").glob("*.dcm"))) == 3 and len(list((out / "seg").glob("*.dcm"))) == 1
    assert (out / "notes.txt").read_text() == "kept"
    assert not [p for p in out.iterdir() if p.name.startswith(STAGING_PREFIX)]


def test_a_format_that_fails_leaves_nothing_behind(
    images: Images, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SEG, the last format, fails (the disk is full): the tables, SDTM, read file and SR written before it are not
    left in the output folder, and the error says what failed, for which read, and where."""
    import workstation.export.dicom_seg as dicom_seg

    def disk_full(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dicom_seg, "export_seg", disk_full)
    folders, store, key = images
    out = _out(tmp_path)
    with pytest.raises(ReadExportError) as failed:
        export_read(_read(key), out, folders, store)
    message = str(failed.value)
    assert message.startswith("writing SEG failed for subject S001, read read-alice (alice): ")
    assert "No space left on device" in message and message.endswith(f"; nothing was written to {out}")
    assert _contents(out) == ["notes.txt"]


def test_a_read_whose_masks_are_missing_is_exported_without_its_seg(images: Images, tmp_path: Path) -> None:
    folders, _, key = images
    out = _out(tmp_path)
    result = export_read(_read(key), out, folders, MaskStore(tmp_path / "empty-store"))
    assert len(result.left_out) == 1
    assert result.left_out[0].startswith("no DICOM SEG: subject S001 timepoint baseline lesion T1: ")
    assert {p.relative_to(out).parts[0] for p in result.files} == {"tables", "sdtm", "reads", "sr"}
    assert not (out / "seg").exists()


def test_a_file_that_cannot_be_replaced_moves_nothing(images: Images, tmp_path: Path) -> None:
    folders, store, key = images
    out = _out(tmp_path)
    (out / "tables" / "measurements.csv").mkdir(parents=True)  # a folder where the export puts a file
    with pytest.raises(ReadExportError, match=r"measurements\.csv: a folder of that name is in the way"):
        export_read(_read(key), out, folders, store)
    assert _contents(out) == ["notes.txt", "tables", "tables/measurements.csv"]


@pytest.mark.parametrize("cancelled_at", ["reading the source image headers", "DICOM SR", "DICOM SEG"])
def test_a_cancelled_export_leaves_nothing_behind(images: Images, tmp_path: Path, cancelled_at: str) -> None:
    folders, store, key = images
    out = _out(tmp_path)
    token = CancelToken()

    def progress(done: int, total: int, message: str) -> None:
        if message == cancelled_at:
            token.cancel()

    with pytest.raises(Cancelled):
        export_read(_read(key), out, folders, store, progress=progress, cancel=token)
    assert _contents(out) == ["notes.txt"]


def test_a_read_whose_sr_cannot_be_built_is_exported_without_it(images: Images, tmp_path: Path) -> None:
    """As `recist export all`: the read's other formats are written, and what was left out says why."""
    folders, store, key = images
    out = _out(tmp_path)
    result = export_read(_read(key, without_frame_of_reference), out, folders, store)
    assert result.left_out == [
        "no DICOM SR: subject S001 timepoint baseline lesion T1 measurement 1: end points without a frame of "
        "reference UID cannot be placed in 3-D"
    ]
    assert {p.relative_to(out).parts[0] for p in result.files} == {"tables", "sdtm", "reads", "seg"}
    assert not (out / "sr").exists()


def test_without_dicom_folders_sr_and_seg_are_named_as_left_out(images: Images, tmp_path: Path) -> None:
    _, store, key = images
    out = _out(tmp_path)
    result = export_read(_read(key), out, [], store)
    assert result.left_out == ["no DICOM SR or SEG: none of the read's images was opened from a DICOM folder"]
    assert {p.relative_to(out).parts[0] for p in result.files} == {"tables", "sdtm", "reads"}
