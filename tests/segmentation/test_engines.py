"""Both engines on small synthetic lesions: diameters against the truth, determinism, doubt flagged, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from segmentation.base import SegmentationError, SegmentationHints
from segmentation.bundle import DEFAULT_BUNDLE
from segmentation.diameters import recist_axes
from segmentation.engines import available_engines, create_segmenter
from segmentation.engines.classical import ClassicalSegmenter
from segmentation.engines.consensus import ConsensusSegmenter
from tests.segmentation.synthetic_cases import lesion_touching_same_density_organ, liver_lesion, lung_nodule


@pytest.fixture(scope="module")
def lesion():
    patch, volume = liver_lesion()
    assert abs(patch.contrast_hu) > 30  # a clearly visible lesion (the generator is seeded)
    return patch, volume, recist_axes(patch.mask, volume)


@pytest.fixture(scope="module")
def monai_engine():
    return create_segmenter("monai", "cpu")


def _click(patch, volume):
    return tuple(float(v) for v in volume.voxel_to_patient(patch.seed))


def _dice(a, b):
    return 2 * (a & b).sum() / (a.sum() + b.sum())


def test_the_shipped_bundle_is_available():
    assert available_engines()["monai"] == "ok"
    assert available_engines(DEFAULT_BUNDLE.parent / "missing")["monai"].startswith("no model bundle")


@pytest.mark.parametrize("engine_name", ["monai", "classical"])
def test_engine_diameters_match_the_truth(engine_name, lesion, monai_engine):
    patch, volume, truth = lesion
    engine = monai_engine if engine_name == "monai" else create_segmenter("classical")
    result = engine.segment(volume, _click(patch, volume))
    assert result.provenance.engine == engine_name
    assert result.provenance.model_version  # an SR names the algorithm's version (the classical one's was "unknown")
    axes = recist_axes(result.mask, volume, result.offset)
    assert axes.long_axis_mm == pytest.approx(truth.long_axis_mm, abs=2.0)
    assert axes.short_axis_mm == pytest.approx(truth.short_axis_mm, abs=2.0)
    assert abs(axes.slice_index - truth.slice_index) <= 2
    assert _dice(result.full_mask(volume.shape), patch.mask) > 0.85
    assert not result.low_confidence, result.warnings


def test_monai_engine_records_its_model_and_device(lesion, monai_engine):
    patch, volume, _ = lesion
    result = monai_engine.segment(volume, _click(patch, volume))
    prov = result.provenance
    assert (prov.engine, prov.model_id, prov.device) == ("monai", "lesion_seg", "cpu")
    assert prov.model_version and prov.seconds > 0


def test_same_input_gives_the_same_output_on_cpu(lesion, monai_engine):
    patch, volume, _ = lesion
    a = monai_engine.segment(volume, _click(patch, volume))
    b = create_segmenter("monai", "cpu").segment(volume, _click(patch, volume))
    assert a.offset == b.offset
    assert np.array_equal(a.mask, b.mask)
    assert a.confidence == b.confidence


@pytest.mark.parametrize("engine_name", ["monai", "classical", "auto"])
def test_ambiguous_lesion_against_a_same_density_organ_is_flagged_or_right(engine_name, monai_engine):
    """No density edge between the nodule and the wall: an engine must say so, or find the 20 mm nodule by its shape
    alone (never silently return an outline that runs into the wall)."""
    volume = lesion_touching_same_density_organ()
    engine = monai_engine if engine_name == "monai" else create_segmenter(engine_name, "cpu")
    click = tuple(float(v) for v in volume.voxel_to_patient((20, 70, 60)))
    try:
        result = engine.segment(volume, click)
    except SegmentationError:
        return  # refusing is also honest
    if result.low_confidence:
        assert result.warnings
        return
    axes = recist_axes(result.mask, volume, result.offset)
    # "Right" as the benchmark counts it: an unflagged outline must not be a bad one (an axis off by over 3 mm).
    # lesion_seg 0.3.0 measures 22.5 / 21.0 mm here (0.2.0: 21.8 / 21.0), reaching 0.8 mm past the nodule's edge.
    assert axes.long_axis_mm == pytest.approx(20.0, abs=3.0)
    assert axes.short_axis_mm == pytest.approx(20.0, abs=3.0)
    columns = np.flatnonzero(result.full_mask(volume.shape).any(axis=(0, 1))) * volume.spacing[2]
    assert columns.max() < 62.0 + 2.5  # the nodule ends at x = 62 mm; the wall goes on to 112 mm


@pytest.mark.parametrize("engine_name", ["monai", "classical"])
def test_point_outside_the_volume_is_a_clear_error(engine_name, lesion, monai_engine):
    _, volume, _ = lesion
    engine = monai_engine if engine_name == "monai" else create_segmenter("classical")
    with pytest.raises(SegmentationError, match="outside the image volume"):
        engine.segment(volume, (500.0, 0.0, 0.0))


@pytest.mark.parametrize("engine_name", ["monai", "classical"])
def test_a_click_on_air_is_no_lesion(engine_name, monai_engine):
    _, volume = liver_lesion()
    volume.array[:, :20, :] = -1024  # air in front of the body
    click = tuple(float(v) for v in volume.voxel_to_patient((18, 5, 56)))
    engine = monai_engine if engine_name == "monai" else create_segmenter("classical")
    with pytest.raises(SegmentationError, match="on air"):
        engine.segment(volume, click)


def test_point_on_plain_background_is_refused_or_flagged(monai_engine):
    rng = np.random.default_rng(0)
    _, volume = liver_lesion()
    volume.array[...] = (105 + rng.normal(0, 8, size=volume.shape)).astype(np.int16)  # liver, no lesion
    click = tuple(float(v) for v in volume.voxel_to_patient((18, 56, 56)))
    for engine in (monai_engine, create_segmenter("classical")):
        try:
            result = engine.segment(volume, click)
        except SegmentationError as exc:
            assert "no lesion" in str(exc)
            continue
        assert result.low_confidence, engine.name


def test_auto_falls_back_to_classical_and_says_why(tmp_path):
    engine = create_segmenter("auto", "cpu", bundle=tmp_path / "nothing")
    assert isinstance(engine, ClassicalSegmenter)
    assert engine.fallback_reason and "nothing" in engine.fallback_reason
    with pytest.raises(SegmentationError, match="MONAI engine cannot run"):
        create_segmenter("monai", "cpu", bundle=tmp_path / "nothing")
    with pytest.raises(SegmentationError, match="unknown segmentation engine"):
        create_segmenter("magic")


def _bundle_copy(tmp_path, **metadata):
    import json
    import shutil

    root = tmp_path / "bundle"
    shutil.copytree(DEFAULT_BUNDLE, root)
    meta_path = root / "configs" / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta.update(metadata)
    meta_path.write_text(json.dumps(meta))
    return root


def test_auto_runs_both_engines_when_the_bundle_loads_and_allows_it(tmp_path, lesion):
    engine = create_segmenter("auto", "cpu", bundle=_bundle_copy(tmp_path, auto_select=True))
    assert isinstance(engine, ConsensusSegmenter) and engine.fallback_reason is None
    assert (engine.primary.name, engine.secondary.name) == ("monai", "classical")
    patch, volume, _ = lesion
    result = engine.segment(volume, _click(patch, volume))
    assert result.provenance.engine in ("monai", "classical")  # the engine whose outline came back


def test_auto_skips_a_bundle_marked_not_for_auto_selection_and_says_why(tmp_path):
    root = _bundle_copy(tmp_path, auto_select=False, auto_select_reason="loses to the classical engine")
    engine = create_segmenter("auto", "cpu", bundle=root)
    assert engine.name == "classical"
    assert "loses to the classical engine" in engine.fallback_reason
    assert create_segmenter("monai", "cpu", bundle=root).name == "monai"  # still there when asked by name


def test_a_leak_to_the_edge_of_the_images_is_flagged():
    patch, volume = lung_nodule(1)  # a nodule against the chest wall: the classical region leaks into the wall
    result = ClassicalSegmenter().segment(volume, _click(patch, volume))
    if result.full_mask(volume.shape).sum() > 2 * patch.mask.sum():
        assert result.low_confidence
        assert any("edge of the images" in w for w in result.warnings)


def test_line_hint_bounds_the_classical_region(lesion):
    patch, volume, truth = lesion
    a, b = truth.long_axis_endpoints
    result = ClassicalSegmenter().segment(volume, _click(patch, volume), SegmentationHints(line_mm=(a, b)))
    axes = recist_axes(result.mask, volume, result.offset)
    assert axes.long_axis_mm == pytest.approx(truth.long_axis_mm, abs=3.0)


def test_the_gpu_precision_agrees_with_float32_where_float16_overflows(lesion, monai_engine):
    """The CUDA path's autocast type (bfloat16), tried on the CPU: finite and the same outline as float32; float16,
    which the first GPU run used, gives NaN on this network."""
    import torch

    from segmentation.network_inputs import network_input

    patch = lesion[0]
    image = patch.image[:32, :112, :112].astype(np.float32)
    seed = tuple(min(c, n - 1) for c, n in zip(patch.seed, image.shape, strict=True))
    x = torch.from_numpy(network_input(image, seed, patch.spacing)[None])
    with torch.inference_mode():
        full = torch.sigmoid(monai_engine._logits(x, reduced_precision=False)) > 0.3
        reduced = torch.sigmoid(monai_engine._logits(x, reduced_precision=True).float()) > 0.3
        with torch.autocast("cpu", dtype=torch.float16):
            half = monai_engine.network(x)
    assert _dice(full.numpy(), reduced.numpy()) > 0.95
    assert not bool(torch.isfinite(half).all())


def test_warm_up_loads_the_model_before_the_first_click():
    engine = create_segmenter("auto", "cpu")
    assert engine.primary._net is None
    engine.warm_up()
    assert engine.primary._net is not None


def test_a_classical_outline_that_changes_with_the_click_is_flagged(lesion, monkeypatch):
    patch, volume, _ = lesion
    engine = ClassicalSegmenter()
    clean = engine.segment(volume, _click(patch, volume))
    assert not any("depends on where the click is" in w for w in clean.warnings)
    grow = ClassicalSegmenter._grow
    calls = []

    def regrown_elsewhere(self, vol, box, seed, hints):
        mask, confidence, warnings = grow(self, vol, box, seed, hints)
        calls.append(seed)
        if len(calls) > 1:  # the second growth, from the outline's centre, finds something else
            mask = np.roll(mask, mask.shape[2] // 2, axis=2)
        return mask, confidence, warnings

    monkeypatch.setattr(ClassicalSegmenter, "_grow", regrown_elsewhere)
    # a click inside the lesion but well away (> 4 mm) from its deepest point, so that the engine grows it again
    from scipy import ndimage

    depth = ndimage.distance_transform_edt(patch.mask, sampling=patch.spacing)
    centre = np.array(np.unravel_index(int(np.argmax(depth)), depth.shape))
    inside = np.argwhere(depth > 2.0)
    far = inside[np.linalg.norm((inside - centre) * np.array(patch.spacing), axis=1) > 4.0][0]
    result = engine.segment(volume, tuple(float(v) for v in volume.voxel_to_patient(tuple(int(v) for v in far))))
    assert len(calls) == 2
    assert result.low_confidence and any("depends on where the click is" in w for w in result.warnings)
    calls.clear()
    ClassicalSegmenter(check_consistency=False).segment(volume, _click(patch, volume))
    assert len(calls) == 1


def test_a_halo_is_trimmed_back_to_the_core():
    from segmentation.engines.monai_engine import FAR_MM, trim_to_core

    prob = np.zeros((5, 40, 40), dtype=np.float32)
    prob[1:4, 10:20, 10:20] = 0.95  # the lesion
    prob[1:4, 10:20, 20:38] = 0.4  # a faint region running on from it
    mask = prob >= 0.3
    trimmed = trim_to_core(prob, mask, (2, 15, 15), (1.0, 1.0, 1.0))
    assert trimmed[2, 15, 10:20].all() and trimmed[2, 15, 20 : 20 + int(FAR_MM)].all()
    assert not trimmed[2, 15, 20 + int(FAR_MM) + 1 :].any()
    assert (trim_to_core(np.full_like(prob, 0.5), mask, (2, 15, 15), (1.0, 1.0, 1.0)) == mask).all()  # no core


def test_the_confidence_bar_is_the_models_own_and_the_halo_is_found_near_the_lesion():
    from segmentation.engines.monai_engine import outline_confidence

    prob = np.full((20, 60, 60), 0.02, dtype=np.float32)
    prob[8:12, 20:30, 20:30] = 0.97
    prob[7, 20:30, 20:30] = prob[12, 20:30, 20:30] = 0.5  # a soft top and bottom: sharpness about 0.87
    mask = prob >= 0.3
    seed = (10, 25, 25)
    loose, reasons_loose, halo = outline_confidence(prob, mask, seed, (1.0, 1.0, 1.0), (0.80, 0.90))
    strict, reasons_strict, _ = outline_confidence(prob, mask, seed, (1.0, 1.0, 1.0), (0.86, 0.96))
    assert 0.5 < loose < 1.0 and not reasons_loose and not halo
    assert strict < 0.5 and "uncertain" in reasons_strict[0]
    # A faint run-on far from the lesion's core is a halo, found within the lesion's neighbourhood of the crop.
    prob[8:12, 20:30, 30:45] = 0.4
    _, reasons, halo = outline_confidence(prob, prob >= 0.3, seed, (1.0, 1.0, 1.0))
    assert halo and "faint region" in reasons[-1]


def test_an_outline_along_tissue_of_the_lesions_own_density_is_doubted():
    from segmentation.doubt import same_density_border, same_density_doubt

    volume = lesion_touching_same_density_organ()  # a 55 HU nodule in fat against a 50 HU wall (x > 60 mm)
    image = volume.array.astype(np.float32)
    zz, yy, xx = np.meshgrid(
        *[np.arange(n) * s for n, s in zip(volume.shape, volume.spacing, strict=True)], indexing="ij"
    )

    def ball(x: float) -> np.ndarray:
        return np.sqrt((zz - 50.0) ** 2 + (yy - 56.0) ** 2 + (xx - x) ** 2) < 10.0

    touching, half_in_the_wall = ball(52.0), ball(60.0)  # the nodule as drawn; a ball half inside the wall
    in_fat = ball(25.0)
    image_fat = image.copy()
    image_fat[in_fat] = 55.0
    assert same_density_border(image_fat, in_fat, volume.spacing) < 0.02
    assert same_density_doubt(image_fat, in_fat, volume.spacing) is None
    assert 0.05 < same_density_border(image, touching, volume.spacing) < 0.4  # a cap of its surface touches
    doubt = same_density_doubt(image, half_in_the_wall, volume.spacing)
    assert doubt is not None and "own density" in doubt
    assert same_density_border(image, np.zeros_like(touching), volume.spacing) == 0.0
