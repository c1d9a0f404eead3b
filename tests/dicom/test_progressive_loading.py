"""SeriesLoader: geometry and array before decoding, the viewed slice first, progress, cancel and resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imaging import SeriesLoader, discover
from imaging.cancel import Cancelled, CancelToken
from tests.dicom.ct_writer import write_ct_series


@pytest.fixture
def series(tmp_path: Path):  # type: ignore[no-untyped-def]
    return write_ct_series(tmp_path, n=12, file_order="shuffled", seed=5), tmp_path


def test_volume_exists_before_any_pixel_is_decoded(series) -> None:  # type: ignore[no-untyped-def]
    written, folder = series
    loader = SeriesLoader(folder)
    assert loader.volume.shape == (12, 32, 40)
    assert loader.volume.array.dtype == np.int16
    assert not loader.loaded.any()
    np.testing.assert_allclose(loader.volume.voxel_to_patient((11, 0, 0)), written.positions[11])
    loader.load()
    assert loader.complete and not loader.failed
    np.testing.assert_array_equal(loader.volume.array, written.hu)


def test_decodes_outward_from_the_viewed_slice(series) -> None:  # type: ignore[no-untyped-def]
    written, folder = series
    loader = SeriesLoader(discover(folder)[0])
    order: list[int] = []
    loader.load(first_slice=9, workers=1, on_slices=order.extend)
    assert order[0] == 9
    distances = [abs(k - 9) for k in order]
    assert distances == sorted(distances)
    np.testing.assert_array_equal(loader.volume.array, written.hu)


def test_viewed_slice_is_decoded_first_with_threads(series, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """With two threads the viewed slice is among the first two decodes started (the threads take tasks in order;
    which one finishes first depends on the machine's load, so that is not asserted)."""
    written, folder = series
    loader = SeriesLoader(folder)
    started: list[int] = []
    run = SeriesLoader._run

    def recording_run(self, task, cancel):  # type: ignore[no-untyped-def]
        started.extend(k for _, k in task.frames)
        return run(self, task, cancel)

    monkeypatch.setattr(SeriesLoader, "_run", recording_run)
    progress: list[tuple[int, int]] = []
    loader.load(first_slice=3, workers=2, progress=lambda d, t, m: progress.append((d, t)))
    assert 3 in started[:2]
    np.testing.assert_array_equal(loader.volume.array[3], written.hu[3])
    assert progress[-1] == (12, 12)


def test_cancel_keeps_what_was_decoded_and_resume_finishes(series) -> None:  # type: ignore[no-untyped-def]
    written, folder = series
    loader = SeriesLoader(folder)
    token = CancelToken()
    calls = 0

    def progress(done: int, total: int, message: str) -> None:
        nonlocal calls
        calls += 1
        if done == 4:
            token.cancel()

    with pytest.raises(Cancelled):
        loader.load(first_slice=0, progress=progress, cancel=token, workers=1)
    done = np.flatnonzero(loader.loaded)
    assert 4 <= len(done) < 12
    np.testing.assert_array_equal(loader.volume.array[done], written.hu[done])
    loader.load()  # resumes: decodes only the rest
    assert loader.complete
    np.testing.assert_array_equal(loader.volume.array, written.hu)


def test_cancel_with_threads(series) -> None:  # type: ignore[no-untyped-def]
    _, folder = series
    loader = SeriesLoader(folder)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        loader.load(cancel=token, workers=2)
    assert not loader.complete


def test_peak_memory_stays_near_the_array(tmp_path: Path) -> None:
    import tracemalloc

    write_ct_series(tmp_path, n=20, rows=128, columns=128)
    record = discover(tmp_path)[0]
    tracemalloc.start()
    volume = SeriesLoader(record).load(workers=2)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak <= 1.5 * volume.array.nbytes


def test_files_that_vanish_or_change_after_indexing_are_named(tmp_path: Path) -> None:
    import pydicom

    written = write_ct_series(tmp_path, n=5)
    record = discover(tmp_path)[0]
    written.paths[0].unlink()  # reversed order: slice 4
    ds = pydicom.dcmread(written.paths[1])  # slice 3: rewritten with a longer header
    ds.StudyDescription = "LONGER DESCRIPTION, MOVES THE PIXEL DATA"
    ds.save_as(written.paths[1])
    loader = SeriesLoader(record)
    volume = loader.load()
    assert loader.failed == {3, 4}
    messages = {w.where: w.message for w in volume.warnings if w.code == "undecodable-slice"}
    assert "cannot read pixel data" in messages[str(written.paths[0])]
    assert "changed since it was indexed" in messages[str(written.paths[1])]
    np.testing.assert_array_equal(volume.array[:3], written.hu[:3])


def _reencapsulate(path: Path, has_bot: bool, fragments_per_frame: int) -> None:
    import pydicom
    from pydicom.encaps import encapsulate, generate_frames

    ds = pydicom.dcmread(path)
    frames = list(generate_frames(ds.PixelData, number_of_frames=int(ds.NumberOfFrames)))
    ds.PixelData = encapsulate(frames, fragments_per_frame=fragments_per_frame, has_bot=has_bot)
    ds.save_as(path)


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.90"])
@pytest.mark.parametrize(("has_bot", "fragments", "per_frame"), [(True, 1, True), (False, 1, True), (True, 2, True)])
def test_compressed_multiframe_decodes_outward_frame_by_frame(
    tmp_path: Path, syntax: str, has_bot: bool, fragments: int, per_frame: bool
) -> None:
    written = write_ct_series(tmp_path, n=12, enhanced=True, transfer_syntax=syntax)
    _reencapsulate(written.paths[0], has_bot, fragments)
    loader = SeriesLoader(tmp_path)
    assert len(loader._tasks) == (12 if per_frame else 1)
    order: list[int] = []
    loader.load(first_slice=7, workers=1, on_slices=order.extend)
    assert order[0] == 7
    assert [abs(k - 7) for k in order] == sorted(abs(k - 7) for k in order)
    np.testing.assert_array_equal(loader.volume.array, written.hu)


def test_compressed_multiframe_without_offsets_and_split_frames_decodes_in_one_pass(tmp_path: Path) -> None:
    written = write_ct_series(tmp_path, n=4, enhanced=True, transfer_syntax="1.2.840.10008.1.2.4.90")
    _reencapsulate(written.paths[0], has_bot=False, fragments_per_frame=2)
    loader = SeriesLoader(tmp_path)
    assert len(loader._tasks) == 1  # frames cannot be located without decoding
    volume = loader.load()
    np.testing.assert_array_equal(volume.array, written.hu)
