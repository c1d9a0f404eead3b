"""`recist segment` on a DICOM series written by the test: JSON on success, one clear line and non-zero exit else."""

from __future__ import annotations

import json

import numpy as np
import pytest

from segmentation.diameters import recist_axes
from tests.segmentation.synthetic_cases import liver_lesion, write_ct_series
from workstation.cli import main


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    patch, volume = liver_lesion()
    folder = tmp_path_factory.mktemp("ct")
    write_ct_series(folder, volume)
    click = [float(v) for v in volume.voxel_to_patient(patch.seed)]
    return folder, click, recist_axes(patch.mask, volume)


@pytest.mark.parametrize("engine", ["classical", "monai"])
def test_segment_prints_the_recist_json(engine, series, capsys):
    folder, click, truth = series
    code = main(["segment", str(folder), "--point", *map(str, click), "--engine", engine, "--device", "cpu"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["engine"] == engine
    for key in (
        "long_axis_mm",
        "short_axis_mm",
        "slice_position_mm",
        "long_axis_endpoints",
        "short_axis_endpoints",
        "volume_ml",
    ):
        assert key in out
    assert out["model_id"] == ("lesion_seg" if engine == "monai" else None)
    assert isinstance(out["low_confidence"], bool) and isinstance(out["warnings"], list)
    assert out["long_axis_mm"] == pytest.approx(truth.long_axis_mm, abs=2.0)
    assert out["slice_position_mm"] == pytest.approx(truth.slice_position_mm, abs=5.0)
    assert len(out["long_axis_endpoints"]) == 2 and len(out["long_axis_endpoints"][0]) == 3


def test_point_outside_the_volume(series, capsys):
    folder, _, _ = series
    code = main(["segment", str(folder), "--point", "900", "0", "0", "--engine", "classical"])
    err = capsys.readouterr().err
    assert code != 0
    assert "outside the image volume" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_missing_folder_and_missing_point(tmp_path, capsys):
    assert main(["segment", str(tmp_path / "nope"), "--point", "0", "0", "0"]) != 0
    assert "no such folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["segment", str(tmp_path)])


def test_folder_without_dicom_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not an image")
    code = main(["segment", str(tmp_path), "--point", "0", "0", "0", "--engine", "classical"])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err and err.startswith("recist segment:")


def test_auto_says_which_engine_it_used_and_why(series, capsys):
    folder, click, _ = series
    code = main(["segment", str(folder), "--point", *map(str, click), "--device", "cpu"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    # The shipped bundle may be auto-selected: auto runs both engines and names the one whose outline came back.
    assert out["engine"] in ("monai", "classical")
    assert out["selected_by"] == "auto: both engines ran, the more confident outline was kept"
    assert "fallback_reason" not in out


def test_a_click_in_normal_liver_is_no_lesion(series, capsys):
    """Issue 4: a point outside any lesion gives a clear message and a non-zero exit. The model draws a speck wherever
    it is clicked; auto refuses an outline that nothing sets apart from its surroundings."""
    from scipy import ndimage

    patch, volume = liver_lesion()
    far = ndimage.distance_transform_edt(~patch.mask, sampling=volume.spacing) > 25.0
    k, j, i = (int(v) for v in np.argwhere(far)[len(np.argwhere(far)) // 2])
    click = [float(v) for v in volume.voxel_to_patient((k, j, i))]
    folder, _, _ = series
    code = main(["segment", str(folder), "--point", *map(str, click), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "no lesion found at" in err and "normal tissue?" in err
