"""discover(): one pass over the tree, headers only, grouping by patient/study/series; the fast header reader."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file

import imaging.discovery as discovery
from imaging import discover
from imaging.cancel import Cancelled, CancelToken
from imaging.header_parser import read_fast_header
from tests.dicom.ct_writer import write_ct_series


def test_groups_patients_studies_and_series(tmp_path: Path) -> None:
    a1 = write_ct_series(tmp_path / "p1" / "s1", n=3, patient={"id": "P1", "study_date": "20240101"})
    a2 = write_ct_series(
        tmp_path / "p1" / "s2", n=4, study_uid=a1.study_uid, patient={"id": "P1", "series_number": "5"}
    )
    b = write_ct_series(tmp_path / "p2", n=2, patient={"id": "P2", "study_date": "20240301"})
    found = discover(tmp_path)
    assert [(r.patient_id, r.frame_count) for r in found] == [("P1", 3), ("P1", 4), ("P2", 2)]
    assert {r.series_uid for r in found} == {a1.series_uid, a2.series_uid, b.series_uid}
    first = found[0]
    assert first.study_uid == a1.study_uid
    assert str(first.study_date) == "2024-01-01"
    assert first.modality == "CT"
    assert first.series_description == "PORTAL VENOUS 2.5"
    assert sorted(first.paths) == sorted(a1.paths)
    assert first.warnings == []
    assert found.skipped == []


def test_pixel_data_is_never_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Indexing reads headers only: pixel bytes are not needed (a file cut after its header still indexes)."""
    written = write_ct_series(tmp_path, n=2, rows=256, columns=256)
    reads: list[int] = []
    real_open = open

    class CountingFile:
        def __init__(self, f: object) -> None:
            self._f = f

        def read(self, n: int = -1) -> bytes:
            data = self._f.read(n)  # type: ignore[attr-defined]
            reads.append(len(data))
            return data

        def __getattr__(self, name: str) -> object:
            return getattr(self._f, name)

        def __enter__(self) -> CountingFile:
            return self

        def __exit__(self, *exc: object) -> None:
            self._f.close()  # type: ignore[attr-defined]

    monkeypatch.setattr("imaging.header_parser.open", lambda p, m="r": CountingFile(real_open(p, m)), raising=False)
    found = discover(tmp_path)
    assert found[0].frame_count == 2
    size = written.paths[0].stat().st_size
    assert reads and sum(reads) <= 2 * 16384 < 2 * size  # at most the first 16 KiB of each 128 KiB file


def test_progress_and_cancel(tmp_path: Path) -> None:
    write_ct_series(tmp_path, n=5)
    calls: list[tuple[int, int]] = []
    discover(tmp_path, progress=lambda done, total, msg: calls.append((done, total)))
    assert calls[-1] == (5, 5) and len(calls) == 5
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        discover(tmp_path, cancel=token)


def test_non_image_objects_are_skipped_with_a_reason(tmp_path: Path) -> None:
    write_ct_series(tmp_path, n=2)
    for name in ("test-SR.dcm", "rtplan.dcm"):
        pydicom.dcmread(get_testdata_file(name)).save_as(tmp_path / name)
    found = discover(tmp_path)
    assert len(found) == 1
    reasons = {Path(w.where).name: w.code for w in found.skipped}
    assert reasons == {"test-SR.dcm": "not-image", "rtplan.dcm": "not-image"}


def _all_pydicom_files() -> list[Path]:
    folder = Path(get_testdata_file("CT_small.dcm")).parent
    return sorted(p for p in folder.glob("*.dcm"))


@pytest.mark.parametrize("path", _all_pydicom_files(), ids=lambda p: p.name)
def test_fast_header_reader_agrees_with_pydicom(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On every pydicom test file the fast reader either declines or gives exactly what pydicom gives."""
    fast = read_fast_header(path, discovery.HEADER_TAGS)
    if fast is None:
        return
    try:
        header_fast, inst_fast = discovery.read_instance_header(path)
    except discovery._Skip as skip:
        monkeypatch.setattr(discovery, "read_fast_header", lambda *a: None)
        with pytest.raises(discovery._Skip) as again:
            discovery.read_instance_header(path)
        assert again.value.code == skip.code
        return
    monkeypatch.setattr(discovery, "read_fast_header", lambda *a: None)
    header_ref, inst_ref = discovery.read_instance_header(path)
    assert inst_fast == inst_ref
    assert header_fast == header_ref


def _with_extras(path: Path, undefined: bool, charset: str, name: str) -> None:
    """Add nested sequences (defined or undefined length) and a character set to a written file."""
    ds = pydicom.dcmread(path)
    ref = pydicom.Dataset()
    ref.ReferencedSOPClassUID = ds.SOPClassUID
    ref.ReferencedSOPInstanceUID = "1.2.3.4"
    inner = pydicom.Dataset()
    inner.CodeValue, inner.CodingSchemeDesignator, inner.CodeMeaning = "T-D4000", "SRT", "Abdomen"
    ref.PurposeOfReferenceCodeSequence = pydicom.Sequence([inner])
    ds.ReferencedImageSequence = pydicom.Sequence([ref, ref])
    ds.add_new(0x00091010, "SQ", pydicom.Sequence([inner]))  # a private sequence
    ds.add_new(0x00090010, "LO", "ACME")
    for elem in (ds["ReferencedImageSequence"], ds[0x00091010]):
        elem.is_undefined_length = undefined
    ds.SpecificCharacterSet = charset
    ds.PatientName = name
    ds.save_as(path)


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"])
@pytest.mark.parametrize("undefined", [True, False])
@pytest.mark.parametrize(
    ("charset", "name"), [("ISO_IR 100", "Müller^Jörg"), ("ISO_IR 192", "Łukasz^Żółć"), ("ISO_IR 144", "Иванов^Иван")]
)
def test_fast_reader_handles_sequences_and_character_sets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, syntax: str, undefined: bool, charset: str, name: str
) -> None:
    written = write_ct_series(tmp_path, n=1, transfer_syntax=syntax)
    _with_extras(written.paths[0], undefined, charset, name)
    fast = read_fast_header(written.paths[0], discovery.HEADER_TAGS)
    if charset == "ISO_IR 144":
        assert fast is None  # left to pydicom, which knows every character set
    else:
        assert fast is not None
    header, inst = discovery.read_instance_header(written.paths[0])
    assert header.patient.patient_name == name
    monkeypatch.setattr(discovery, "read_fast_header", lambda *a: None)
    header_ref, inst_ref = discovery.read_instance_header(written.paths[0])
    assert inst == inst_ref
    assert header == header_ref


def test_many_series_are_indexed_in_one_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for k in range(4):
        write_ct_series(tmp_path / f"s{k}", n=3, patient={"series_number": str(k)})
    calls: list[Path] = []
    real = discovery.read_instance_header

    def counting(path: Path):  # type: ignore[no-untyped-def]
        calls.append(path)
        return real(path)

    monkeypatch.setattr(discovery, "read_instance_header", counting)
    found = discover(tmp_path)
    assert len(found) == 4
    assert len(calls) == 12 and len(set(calls)) == 12  # every file read once, whatever the number of series
