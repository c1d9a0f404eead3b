"""Every compressed transfer syntax a CT export may use, encoded by the tests, plus pydicom's own compressed files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from imaging import load_series
from imaging.decode import decode_frames
from imaging.discovery import read_instance_header
from tests.dicom.ct_writer import write_ct_series

LOSSLESS = [
    ("1.2.840.10008.1.2.5", "pydicom"),  # RLE Lossless, pydicom's own encoder
    ("1.2.840.10008.1.2.5", "pylibjpeg"),  # RLE Lossless, pylibjpeg-rle
    ("1.2.840.10008.1.2.4.80", ""),  # JPEG-LS lossless (pyjpegls)
    ("1.2.840.10008.1.2.4.90", ""),  # JPEG 2000 lossless (pylibjpeg-openjpeg)
    ("1.2.840.10008.1.2.1.99", ""),  # Deflated explicit VR little endian
]


@pytest.mark.parametrize(("syntax", "plugin"), LOSSLESS)
def test_lossless_syntaxes_round_trip_exactly(tmp_path: Path, syntax: str, plugin: str) -> None:
    written = write_ct_series(tmp_path, n=4, transfer_syntax=syntax, encoding_plugin=plugin)
    assert pydicom.dcmread(written.paths[0], stop_before_pixels=True).file_meta.TransferSyntaxUID == syntax
    volume = load_series(tmp_path)
    np.testing.assert_array_equal(volume.array, written.hu)
    assert volume.warnings == []


def test_signed_jpeg_ls_and_j2k(tmp_path: Path) -> None:
    for syntax in ("1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.90"):
        written = write_ct_series(
            tmp_path / syntax, n=3, transfer_syntax=syntax, unsigned_with_intercept=False, bits_stored=16
        )
        np.testing.assert_array_equal(load_series(tmp_path / syntax).array, written.hu)


def _gdcm_transcode(src: Path, dst: Path, syntax_name: str) -> bool:
    gdcm = pytest.importorskip("gdcm")
    reader = gdcm.ImageReader()
    reader.SetFileName(str(src))
    if not reader.Read():
        return False
    change = gdcm.ImageChangeTransferSyntax()
    change.SetTransferSyntax(gdcm.TransferSyntax(getattr(gdcm.TransferSyntax, syntax_name)))
    change.SetInput(reader.GetImage())
    if not change.Change():
        return False
    writer = gdcm.ImageWriter()
    writer.SetFileName(str(dst))
    writer.SetFile(reader.GetFile())
    writer.SetImage(change.GetOutput())
    return bool(writer.Write())


@pytest.mark.parametrize(
    ("syntax_name", "uid"),
    [("JPEGLosslessProcess14_1", "1.2.840.10008.1.2.4.70"), ("JPEGLosslessProcess14", "1.2.840.10008.1.2.4.57")],
)
def test_jpeg_lossless_encoded_by_gdcm(tmp_path: Path, syntax_name: str, uid: str) -> None:
    written = write_ct_series(tmp_path / "src", n=3)
    out = tmp_path / "jpeg"
    out.mkdir()
    for p in written.paths:
        assert _gdcm_transcode(p, out / p.name, syntax_name)
    assert pydicom.dcmread(out / written.paths[0].name).file_meta.TransferSyntaxUID == uid
    np.testing.assert_array_equal(load_series(out).array, written.hu)


def test_jpeg_baseline_8_bit(tmp_path: Path) -> None:
    """JPEG baseline is 8-bit and lossy: the decoded values must be close to what was written."""
    written = write_ct_series(tmp_path / "src", n=2)
    out = tmp_path / "baseline"
    out.mkdir()
    expected = []
    for p in written.paths:
        ds = pydicom.dcmread(p)
        values = ((ds.pixel_array.astype(np.int32) - ds.pixel_array.min()) // 16).clip(0, 255).astype(np.uint8)
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
        ds.PixelData = values.tobytes()
        ds["PixelData"].VR = "OB"
        ds.save_as(tmp_path / "src8.dcm")
        assert _gdcm_transcode(tmp_path / "src8.dcm", out / p.name, "JPEGBaselineProcess1")
        expected.append(values.astype(np.int32) - 1024)
    volume = load_series(out)
    assert pydicom.dcmread(out / written.paths[0].name).file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.50"
    got = np.sort(volume.array.reshape(2, -1).astype(np.int32).mean(axis=1))
    want = np.sort(np.array([e.mean() for e in expected]))
    np.testing.assert_allclose(got, want, atol=2.0)


@pytest.mark.parametrize(
    ("name", "reference"),
    [
        ("MR_small_RLE.dcm", "MR_small.dcm"),
        ("MR_small_jp2klossless.dcm", "MR_small.dcm"),
        ("MR_small_jpeg_ls_lossless.dcm", "MR_small.dcm"),
        ("MR_small_bigendian.dcm", "MR_small.dcm"),
        ("MR_small_implicit.dcm", "MR_small.dcm"),
    ],
)
def test_pydicom_reference_files_decode_like_pydicom(name: str, reference: str) -> None:
    volume = load_series(get_testdata_file(name))
    ref = pydicom.dcmread(get_testdata_file(reference))
    expected = ref.pixel_array.astype(np.float64) * float(ref.get("RescaleSlope", 1)) + float(
        ref.get("RescaleIntercept", 0)
    )
    np.testing.assert_array_equal(volume.array[0], expected)
    assert [w.code for w in volume.warnings] == ["not-ct"]  # MR: the values are not HU, and we say so


@pytest.mark.parametrize(
    ("syntax", "options", "tolerance"),
    [("1.2.840.10008.1.2.4.81", {"jls_error": 3}, 3), ("1.2.840.10008.1.2.4.91", {"j2k_psnr": [80]}, 40)],
)
def test_lossy_syntaxes_stay_close(tmp_path: Path, syntax: str, options: dict[str, object], tolerance: int) -> None:
    """Near-lossless JPEG-LS (error bound 3) and lossy JPEG 2000 (high PSNR)."""
    written = write_ct_series(tmp_path, n=3, transfer_syntax=syntax, encoding_kwargs=options)
    volume = load_series(tmp_path)
    assert np.abs(volume.array.astype(np.int32) - written.hu).max() <= tolerance


@pytest.mark.parametrize("name", ["JPGExtended.dcm", "JPEG2000.dcm"])
def test_pydicom_lossy_files_decode_like_pydicom(name: str) -> None:
    """12-bit JPEG extended and lossy J2K from pydicom's test files (no geometry there: frames only)."""
    path = Path(get_testdata_file(name))
    _, inst = read_instance_header(path)
    frames = dict(decode_frames(inst, [0]))
    np.testing.assert_array_equal(frames[0], pydicom.dcmread(path).pixel_array.reshape(frames[0].shape))


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.1"])
def test_enhanced_multiframe_in_every_kind_of_syntax(tmp_path: Path, syntax: str) -> None:
    written = write_ct_series(tmp_path, n=6, enhanced=True, transfer_syntax=syntax, encoding_plugin="")
    volume = load_series(tmp_path)
    np.testing.assert_array_equal(volume.array, written.hu)
    assert volume.info.frame_numbers == (6, 5, 4, 3, 2, 1)
