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


def test_an_outline_on_a_slice_that_could_not_be_decoded_is_refused(series, capsys, monkeypatch):
    """The hostile tester's finding: with the lesion's slices undecodable (shown as air), `recist segment` measured
    on one of them and exited 0 with "warnings": []. Now the measurement is refused, naming the slice, and the app's
    suggestion is flagged low-confidence with the same reason (`flag_undecodable_slices`)."""
    import imaging.loader
    from imaging.volume import UNDECODABLE_SLICE, LoadWarning
    from segmentation.base import Provenance, SegmentationResult, flag_undecodable_slices

    folder, click, _ = series
    real = imaging.loader.load_series

    def damaged(*args, **kwargs):
        volume = real(*args, **kwargs)
        k = volume.nearest_voxel(tuple(click))[0]
        volume.warnings.append(LoadWarning(UNDECODABLE_SLICE, f"slice {k} could not be decoded", "x.dcm", k))
        return volume

    monkeypatch.setattr(imaging.loader, "load_series", damaged)
    code = main(["segment", str(folder), "--point", *map(str, click), "--engine", "classical"])
    err = capsys.readouterr().err
    # a click on the undecodable slice itself says so (it said "the click is on air (-1024 HU)")
    assert code == 1 and "which could not be decoded (it is shown as air)" in err, err
    beside = [click[0], click[1], click[2] + 2 * real(folder).spacing[0]]
    code = main(["segment", str(folder), "--point", *map(str, beside), "--engine", "classical"])
    err = capsys.readouterr().err
    assert code == 1 and "could not be decoded (shown as air): its diameters cannot be trusted" in err, err
    volume = damaged(folder)
    k = volume.nearest_voxel(tuple(click))[0]
    mask = np.zeros((3, 4, 4), dtype=bool)
    mask[1, 1:3, 1:3] = True
    prov = Provenance("test", None, None, "cpu", 0.0)
    near = SegmentationResult(mask, (k - 1, 0, 0), prov)  # on the slice itself
    assert flag_undecodable_slices(volume, near) is not None and near.low_confidence
    beside = SegmentationResult(mask.copy(), (k, 0, 0), prov)  # on the slice after it: the lesion may go on
    assert flag_undecodable_slices(volume, beside) is not None
    far = SegmentationResult(mask.copy(), (k + 2, 0, 0), prov)
    assert flag_undecodable_slices(volume, far) is None and not far.warnings and not far.low_confidence
    # the hostile tester's re-check: a classical outline halved by an air slice 20 mm away, within the region the
    # engine analysed, did not reach that slice and passed; the whole region counts
    region = np.zeros((12, 4, 4), dtype=bool)
    region[10, 1:3, 1:3] = True  # the outline, far from the bad slice k at the top of the region
    analysed = SegmentationResult(region, (k, 0, 0), prov)
    assert flag_undecodable_slices(volume, analysed) is not None and analysed.low_confidence


def test_a_point_that_is_not_a_number_is_one_line(series, capsys):
    folder, _, _ = series
    assert main(["segment", str(folder), "--point", "nan", "0", "inf", "--engine", "classical"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "recist segment: --point nan 0.0 inf: give three finite numbers (patient mm, LPS)"
