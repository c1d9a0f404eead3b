"""`recist generate-sample`: a tiny run end to end, and one clear line (never a traceback) for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
import pytest

from imaging.cancel import Cancelled, CancelToken
from imaging.synthetic import generate_subject
from workstation.cli import main


def test_generates_one_small_subject(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "trial"
    stale = out / "SUBJ-004" / "T0-baseline" / "IM0099.dcm"  # left by an earlier, longer run
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    assert main(["generate-sample", "--out", str(out), "--small", "--subject", "SUBJ-004", "--seed", "3"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(out / "trial.json")
    assert "SUBJ-004: rendering week 18" in captured.err  # progress on stderr
    index = json.loads((out / "trial.json").read_text())
    assert index["seed"] == 3 and index["small"] is True
    (subject,) = index["subjects"]
    for tp in subject["timepoints"]:
        files = sorted((out / tp["folder"]).glob("*.dcm"))
        assert len(files) == tp["slices"]
        assert pydicom.dcmread(files[0]).Rows == 128
    assert not stale.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--subject", "SUBJ-999"], "unknown subject 'SUBJ-999'"),
        (["--seed", "-1"], "--seed must be >= 0"),
    ],
)
def test_bad_arguments_give_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                     message: str) -> None:
    assert main(["generate-sample", "--out", str(tmp_path / "x"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_an_output_path_that_is_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "file.txt"
    target.write_text("not a folder")
    assert main(["generate-sample", "--out", str(target), "--small"]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert target.read_text() == "not a folder"


def test_generation_can_be_cancelled() -> None:
    token = CancelToken()
    seen: list[str] = []

    def progress(done: int, total: int, message: str) -> None:
        seen.append(message)
        token.cancel()

    with pytest.raises(Cancelled):
        generate_subject("SUBJ-003", small=True, progress=progress, cancel=token)
    assert len(seen) == 1
