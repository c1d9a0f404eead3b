"""Messy folders: duplicates, gaps, uneven spacing, tilt, mixed orientation, several series, broken files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from imaging import DicomLoadError, discover, load_series
from tests.dicom.ct_writer import write_ct_series
from tests.dicom.test_loader_geometry import assert_geometry_matches


def codes(volume: object) -> list[str]:
    return [w.code for w in volume.warnings]  # type: ignore[attr-defined]


def test_duplicate_files_are_dropped_and_named(tmp_path: Path) -> None:
    written = write_ct_series(tmp_path, duplicate=[2, 5])
    volume = load_series(tmp_path)
    np.testing.assert_array_equal(volume.array, written.hu)
    dups = [w for w in volume.warnings if w.code == "duplicate-slice"]
    assert len(dups) == 2
    assert all(w.where.endswith("_copy.dcm") and "same SOP Instance UID" in w.message for w in dups)
    assert_geometry_matches(volume, written.positions)


def test_missing_slice_is_reported_with_its_position(tmp_path: Path) -> None:
    written = write_ct_series(tmp_path, omit=[4])
    volume = load_series(tmp_path)
    np.testing.assert_array_equal(volume.array, written.hu)
    assert codes(volume) == ["missing-slice"]
    message = volume.warnings[0].message
    # slices 0..3 at z = -300 .. -292.5, then the gap to -287.5
    assert "between slice 3 at -292.50 mm and slice 4 at -287.50 mm" in message
    assert "1 slice(s) missing" in message
    np.testing.assert_allclose(volume.slice_offsets_mm, [0, 2.5, 5, 7.5, 12.5, 15, 17.5])
    assert_geometry_matches(volume, written.positions)


def test_uneven_spacing_is_reported_and_kept_exact(tmp_path: Path) -> None:
    offsets = [0.0, 2.5, 5.0, 7.5, 9.0, 11.5, 14.0, 16.5]
    written = write_ct_series(tmp_path, offsets=offsets)
    volume = load_series(tmp_path)
    assert codes(volume) == ["uneven-spacing"]
    assert "1.500" in volume.warnings[0].message
    np.testing.assert_allclose(volume.slice_offsets_mm, offsets)
    assert_geometry_matches(volume, written.positions)
    # in-plane distances are exact whatever the slice spacing
    np.testing.assert_allclose(volume.spacing[1:], (0.7, 0.8))


def test_gantry_tilt_is_reported_and_every_slice_stays_in_place(tmp_path: Path) -> None:
    written = write_ct_series(tmp_path, tilt_deg=12.0)
    volume = load_series(tmp_path)
    np.testing.assert_array_equal(volume.array, written.hu)  # not resampled
    assert codes(volume) == ["gantry-tilt"]
    assert "12.0 degrees" in volume.warnings[0].message
    assert_geometry_matches(volume, written.positions)


def test_mixed_orientation_is_refused_naming_the_files(tmp_path: Path) -> None:
    written = write_ct_series(tmp_path / "ax", n=4)
    write_ct_series(
        tmp_path / "cor", n=2, orientation=(1, 0, 0, 0, 0, -1), series_uid=written.series_uid,
        study_uid=written.study_uid,
    )  # fmt: skip
    with pytest.raises(DicomLoadError, match="mixed slice orientations") as err:
        load_series(tmp_path)
    assert "cor" in str(err.value) and "4 slices" in str(err.value) and "2 slices" in str(err.value)


def test_slices_off_the_line_are_refused(tmp_path: Path) -> None:
    written = write_ct_series(tmp_path, n=5)
    import pydicom

    ds = pydicom.dcmread(written.paths[2])
    ds.ImagePositionPatient = [ds.ImagePositionPatient[0] + 5, *ds.ImagePositionPatient[1:]]
    ds.save_as(written.paths[2])
    with pytest.raises(DicomLoadError, match="do not lie on one line") as err:
        load_series(tmp_path)
    assert written.paths[2].name in str(err.value)


def test_several_series_need_a_choice(tmp_path: Path) -> None:
    a = write_ct_series(tmp_path / "a", patient={"series_number": "2", "series_description": "ARTERIAL"})
    b = write_ct_series(tmp_path / "b", n=5, patient={"series_number": "3", "series_description": "VENOUS"})
    with pytest.raises(DicomLoadError, match="2 series found") as err:
        load_series(tmp_path)
    assert a.series_uid in str(err.value) and b.series_uid in str(err.value) and "VENOUS" in str(err.value)
    volume = load_series(tmp_path, series_uid=b.series_uid)
    np.testing.assert_array_equal(volume.array, b.hu)
    with pytest.raises(DicomLoadError, match="not found"):
        load_series(tmp_path, series_uid="1.2.3.4")
    # discovery reads each file once and keeps the series apart
    found = discover(tmp_path)
    assert sorted(r.frame_count for r in found) == [5, 8]


def test_truncated_empty_and_foreign_files_are_skipped_and_named(tmp_path: Path) -> None:
    written = write_ct_series(tmp_path, n=6)
    victim = written.paths[1]  # reversed order: this is slice 4
    victim.write_bytes(victim.read_bytes()[:-1000])
    (tmp_path / "zero.dcm").write_bytes(b"")
    (tmp_path / "readme.txt").write_text("not an image")
    (tmp_path / "half_header.dcm").write_bytes(written.paths[0].read_bytes()[:200])
    found = discover(tmp_path)
    assert len(found) == 1
    skipped = {Path(w.where).name: w.code for w in found.skipped}
    assert skipped["zero.dcm"] == "empty-file"
    assert skipped["readme.txt"] == "not-dicom"
    assert "half_header.dcm" in skipped
    volume = load_series(found[0])
    assert volume.shape[0] == 5
    truncated = [w for w in volume.warnings if w.code == "truncated"]
    assert len(truncated) == 1 and truncated[0].where == str(victim)
    assert "missing-slice" in codes(volume)
    np.testing.assert_array_equal(volume.array, np.delete(written.hu, 4, axis=0))


def test_corrupt_compressed_frame_is_blank_with_a_warning(tmp_path: Path) -> None:
    written = write_ct_series(tmp_path, n=4, transfer_syntax="1.2.840.10008.1.2.4.90")
    victim = written.paths[0]  # reversed order: slice 3
    data = bytearray(victim.read_bytes())
    data[-400:-2] = b"\x00" * 398  # wreck the end of the J2K codestream, keep the file length
    victim.write_bytes(bytes(data))
    volume = load_series(tmp_path)
    bad = [w for w in volume.warnings if w.code == "undecodable-slice"]
    if not bad:  # some decoders tolerate a damaged tail: then the data must at least differ or match
        pytest.skip("the J2K decoder accepted the damaged stream")
    assert bad[0].where == str(victim) and "slice 3" in bad[0].message
    np.testing.assert_array_equal(volume.array[:3], written.hu[:3])
    assert (volume.array[3] == -1024).all()


def test_no_decodable_slice_is_an_error(tmp_path: Path) -> None:
    written = write_ct_series(tmp_path, n=2, transfer_syntax="1.2.840.10008.1.2.5")
    for p in written.paths:
        data = bytearray(p.read_bytes())
        item = data.index(b"\xfe\xff\x00\xe0", data.index(b"\xfe\xff\x00\xe0") + 8)  # the frame after the BOT
        data[item + 16 : item + 20] = (0xFFFFF).to_bytes(4, "little")  # RLE header: segment 2 beyond the frame
        p.write_bytes(bytes(data))
    with pytest.raises(DicomLoadError, match="no slice could be decoded") as refused:
        load_series(tmp_path)
    # the hostile tester's finding: the message said the slice "is shown as air" while nothing was shown at all
    assert "shown as air" not in str(refused.value) and "cannot decode RLE Lossless pixel data" in str(refused.value)


def test_files_without_position_are_left_out_with_a_warning(tmp_path: Path) -> None:
    written = write_ct_series(tmp_path, n=4)
    import pydicom

    ds = pydicom.dcmread(written.paths[0])
    del ds.ImagePositionPatient
    ds.save_as(written.paths[0])
    volume = load_series(tmp_path)
    assert volume.shape[0] == 3
    assert "no-position" in codes(volume)


def test_copy_of_a_series_in_a_subfolder_counts_once_per_instance(tmp_path: Path) -> None:
    written = write_ct_series(tmp_path / "a", n=4)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    volume = load_series(tmp_path)
    assert volume.shape[0] == 4
    assert codes(volume).count("duplicate-slice") == 4
    np.testing.assert_array_equal(volume.array, written.hu)


def test_two_phases_in_one_series_are_refused(tmp_path: Path) -> None:
    first = write_ct_series(tmp_path / "arterial", n=6)
    write_ct_series(tmp_path / "venous", n=6, series_uid=first.series_uid, study_uid=first.study_uid, seed=9)
    with pytest.raises(DicomLoadError, match="6 images lie at positions that another image already takes "
                                             r"\(of 6 positions"):
        load_series(tmp_path)


def test_images_all_at_one_position_are_said_so(tmp_path: Path) -> None:
    """The hostile tester's finding: every slice at one position read "19 of 1 positions hold more than one ..."."""
    import pydicom

    written = write_ct_series(tmp_path, n=5)
    for p in written.paths:
        ds = pydicom.dcmread(p)
        ds.ImagePositionPatient = [-120, -110, -300]
        ds.save_as(p)
    with pytest.raises(DicomLoadError, match="all 5 images lie at one position"):
        load_series(tmp_path)


def test_one_stray_different_duplicate_is_dropped_with_a_warning(tmp_path: Path) -> None:
    first = write_ct_series(tmp_path / "a", n=6)
    extra = write_ct_series(tmp_path / "b", n=1, series_uid=first.series_uid, study_uid=first.study_uid, seed=9)
    volume = load_series(tmp_path)
    assert volume.shape[0] == 6
    dup = [w for w in volume.warnings if w.code == "duplicate-slice"]
    assert len(dup) == 1 and "different SOP Instance UID" in dup[0].message
    assert dup[0].where in {str(extra.paths[0]), str(first.paths[-1])}


def test_a_series_uid_reused_for_another_patient_stays_apart(tmp_path: Path) -> None:
    a = write_ct_series(tmp_path / "a", n=3, patient={"id": "P1"})
    write_ct_series(tmp_path / "b", n=4, patient={"id": "P2"}, series_uid=a.series_uid)
    found = discover(tmp_path)
    assert [(r.patient_id, r.frame_count) for r in found] == [("P1", 3), ("P2", 4)]
    assert all("shared-series-uid" in [w.code for w in r.warnings] for r in found)
    with pytest.raises(DicomLoadError, match="used by 2 patients"):
        load_series(tmp_path, series_uid=a.series_uid)
    assert load_series(found[1]).shape[0] == 4


def test_impossible_geometry_values(tmp_path: Path) -> None:
    import pydicom

    written = write_ct_series(tmp_path, n=4)
    ds = pydicom.dcmread(written.paths[0])
    ds.ImagePositionPatient = ["1e400", "0", "0"]  # overflows to infinity
    ds.save_as(written.paths[0])
    volume = load_series(tmp_path)
    assert volume.shape[0] == 3 and "no-position" in codes(volume)
    assert np.isfinite(volume.origin).all()
    for p in written.paths:
        ds = pydicom.dcmread(p)
        ds.PixelSpacing = [0, 0.7]
        ds.save_as(p)
    with pytest.raises(DicomLoadError, match="PixelSpacing"):
        load_series(tmp_path)


def test_an_array_too_big_for_memory_is_refused_before_allocation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pydicom

    written = write_ct_series(tmp_path, n=2, transfer_syntax="1.2.840.10008.1.2.5")
    for p in written.paths:  # a damaged size: 65535 x 65535 per slice
        ds = pydicom.dcmread(p)
        ds.Rows = ds.Columns = 65535
        ds.save_as(p)
    monkeypatch.setattr("imaging.loader._physical_memory", lambda: 8 * 2**30)
    with pytest.raises(DicomLoadError, match=r"need 16\.0 GiB"):
        load_series(tmp_path)


def test_a_screen_capture_inside_the_series_is_left_out(tmp_path: Path) -> None:
    import pydicom

    written = write_ct_series(tmp_path, n=5)
    ds = pydicom.dcmread(written.paths[0])
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture
    ds.SOPInstanceUID = "1.2.3.4.5"
    ds.Rows, ds.Columns = 16, 20
    ds.PixelData = np.zeros((16, 20), np.uint16).tobytes()
    ds.save_as(tmp_path / "dose_report.dcm")
    volume = load_series(tmp_path)
    np.testing.assert_array_equal(volume.array, written.hu)
    other = [w for w in volume.warnings if w.code == "other-object"]
    assert len(other) == 1 and other[0].where.endswith("dose_report.dcm")


@pytest.mark.parametrize(("change", "said"), [
    ({"BitsAllocated": 8, "BitsStored": 8, "HighBit": 7}, "pixel data has 2560 bytes, but the header (Rows 32 x "
     "Columns 40 x 8 bits x 1 frame(s)) describes 1280: the header does not match the pixels"),
    ({"RescaleSlope": 0}, "RescaleSlope 0 is not a CT scale (the header is damaged)"),
    ({"RescaleSlope": "1e30"}, "RescaleSlope 1e+30 is not a CT scale (the header is damaged)"),
    ({"RescaleIntercept": "1e9"}, "RescaleIntercept 1e+09 is not a CT offset"),
    ({"Rows": 0}, "an image (SOP class 1.2.840.10008.5.1.4.1.1.2) whose header has no Rows/Columns (Rows or "
     "Columns 0)"),
])  # fmt: skip
def test_a_header_that_does_not_describe_its_pixels_is_left_out_and_named(
    tmp_path: Path, change: dict, said: str
) -> None:
    """The hostile tester's findings: a slice whose BitsAllocated was 8 over 16-bit pixels, or whose RescaleSlope was
    0 (read as 1) or 1e30, loaded silently as wrong numbers; a CT with Rows 0 was "not an image"."""
    import pydicom

    written = write_ct_series(tmp_path, n=4)
    ds = pydicom.dcmread(written.paths[1])
    for keyword, value in change.items():
        setattr(ds, keyword, value)
    ds.save_as(written.paths[1])
    found = discover(tmp_path)
    volume = load_series(found[0])
    assert volume.shape[0] == 3
    skipped = {Path(w.where).name: w.message for w in [*found.skipped, *volume.warnings]}  # with its series, if known
    assert said in skipped[written.paths[1].name]
