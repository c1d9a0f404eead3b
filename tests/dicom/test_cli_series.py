"""`recist series PATH`: JSON per series, warnings naming files, exit status, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dicom.ct_writer import write_ct_series
from workstation.cli import main


def test_lists_every_series_with_geometry_and_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write_ct_series(tmp_path / "a", n=6, patient={"series_number": "2"})
    gappy = write_ct_series(tmp_path / "b", n=6, omit=[2], transfer_syntax="1.2.840.10008.1.2.5",
                            patient={"series_number": "3"})  # fmt: skip
    (tmp_path / "notes.txt").write_text("x")
    assert main(["series", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    listed = {s["series_uid"]: s for s in json.loads(captured.out)}
    assert set(listed) == {good.series_uid, gappy.series_uid}
    a = listed[good.series_uid]
    assert (a["modality"], a["slices"], a["rows"], a["columns"]) == ("CT", 6, 32, 40)
    assert a["spacing_mm"] == [2.5, 0.7, 0.8]
    assert a["warnings"] == [] and a["loadable"] is True
    b = listed[gappy.series_uid]
    assert b["slices"] == 5 and len(b["warnings"]) == 1
    assert "missing" in b["warnings"][0] and "IM00" in b["warnings"][0]
    assert "notes.txt" in captured.err


def test_nothing_loadable_is_one_line_and_non_zero(tmp_path: Path) -> None:
    written = write_ct_series(tmp_path / "ax", n=2)
    write_ct_series(
        tmp_path / "cor",
        n=2,
        orientation=(1, 0, 0, 0, 0, -1),
        series_uid=written.series_uid,
        study_uid=written.study_uid,
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from workstation.cli import main; sys.exit(main())",
            "series",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert json.loads(result.stdout)[0]["loadable"] is False
    assert "mixed slice orientations" in json.loads(result.stdout)[0]["error"]
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert "none of the 1 series" in result.stderr


def test_missing_or_empty_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["series", str(tmp_path / "nope")]) == 1
    assert "no such file or folder" in capsys.readouterr().err
    (tmp_path / "junk.bin").write_bytes(b"\x00" * 300)
    assert main(["series", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "no DICOM image series" in err and "Traceback" not in err


def test_headers_only_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_ct_series(tmp_path, n=3)
    assert main(["series", "--headers-only", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)[0]["slices"] == 3


SAMPLE = Path(__file__).resolve().parents[2] / "sample_dicom"


@pytest.mark.skipif(not (SAMPLE / "trial.json").exists(), reason="the sample trial is not generated in this checkout")
def test_the_bundled_sample_trial_lists_every_series_without_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    trial = json.loads((SAMPLE / "trial.json").read_text())
    assert main(["series", str(SAMPLE)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len({s["patient_id"] for s in listed}) == len(trial["subjects"])
    assert len(listed) >= 4 * len(trial["subjects"])  # a baseline and at least three follow-ups each
    for series in listed:
        assert series["loadable"] and series["warnings"] == [], series
