"""The parallel trainer: its device-side input equals the engine's, augmentation keeps click and mask together, and a
short run writes two loadable bundles."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from segmentation.bundle import read_bundle, size_multiples
from segmentation.crop import pad_to_multiple
from segmentation.engines.monai_engine import MonaiSegmenter
from segmentation.network_inputs import network_input
from segmentation.training.parallel import OUTSIDE_MM, augment, network_input_torch, render_batch, train_parallel


@pytest.fixture(scope="module")
def batch():
    return render_batch(np.random.default_rng(3), 2)


def test_rendered_batches_share_one_shape_and_clicks_lie_in_the_lesion(batch):
    assert batch["image"].shape == batch["mask"].shape and batch["image"].shape[0] == 2
    for mask, clicks in zip(batch["mask"], batch["clicks"], strict=True):
        assert all(mask[tuple(c)] for c in clicks)


def test_rendered_batches_offer_clicks_on_normal_tissue_away_from_the_lesion(batch):
    from scipy import ndimage

    for image, mask, spacing, outside in zip(
        batch["image"], batch["mask"], batch["spacing"], batch["outside"], strict=True
    ):
        far = ndimage.distance_transform_edt(~mask.astype(bool), sampling=tuple(float(s) for s in spacing))
        for c in outside:
            assert (c >= 0).all(), "a 112-pixel patch always has tissue 8 mm from the lesion"
            assert far[tuple(c)] >= OUTSIDE_MM and image[tuple(c)] > -950


def test_negative_clicks_lie_outside_the_lesion_and_empty_the_target(batch):
    tensors = {k: torch.from_numpy(v) for k, v in batch.items()}
    for s in range(6):
        _, mask, click, _ = augment(tensors, np.random.default_rng(s), negative=1.0)
        assert mask.sum() == 0 and click.shape == (2, 3)
        _, kept, _, _ = augment(tensors, np.random.default_rng(s), negative=0.0)
        assert kept.sum() > 0
    no_tissue = dict(tensors, outside=torch.full_like(tensors["outside"], -1))  # a lesion filling its patch
    _, mask, click, _ = augment(no_tissue, np.random.default_rng(0), negative=1.0)
    for b in range(2):
        assert mask[b, 0][tuple(click[b].tolist())] == 1.0


def test_device_input_equals_the_engines_input(batch):
    t = network_input_torch(
        torch.from_numpy(batch["image"]), torch.from_numpy(batch["clicks"][:, 1]), torch.from_numpy(batch["spacing"])
    )
    for b in range(2):
        seed = tuple(int(v) for v in batch["clicks"][b, 1])
        spacing = tuple(float(v) for v in batch["spacing"][b])
        expected = network_input(batch["image"][b].astype(np.float32), seed, spacing)
        np.testing.assert_allclose(t[b].numpy(), expected, atol=1e-5)


def test_augmentation_moves_the_click_with_the_image(batch):
    tensors = {k: torch.from_numpy(v) for k, v in batch.items()}
    for s in range(8):
        _, mask, click, _ = augment(tensors, np.random.default_rng(s))
        for b in range(2):
            assert mask[b, 0][tuple(click[b].tolist())] == 1.0


def test_a_short_run_writes_the_last_and_the_averaged_weights(tmp_path):
    result = train_parallel(
        tmp_path / "b",
        minutes=0.05,
        workers=0,
        device="cpu",
        batch=1,
        channels=(4, 8, 16),
        validation_patches=2,
        log=lambda *_: None,
    )
    assert result.steps >= 1
    for name in ("b", "b_ema"):
        config = read_bundle(tmp_path / name)
        training = config.metadata["training"]
        assert training["complete"] is True and training["steps_done"] == result.steps
        assert MonaiSegmenter(tmp_path / name, "cpu").network is not None
    assert "moving average" in read_bundle(tmp_path / "b_ema").metadata["training"]["weights"]


def test_a_run_with_hard_example_replay_and_negative_clicks_records_their_shares(tmp_path):
    result = train_parallel(
        tmp_path / "h",
        minutes=0.03,
        workers=0,
        device="cpu",
        batch=2,
        channels=(4, 8, 16),
        validation_patches=2,
        hard_fraction=0.5,
        negative_fraction=0.25,
        log=lambda *_: None,
    )
    assert result.steps >= 1
    training = read_bundle(tmp_path / "h").metadata["training"]
    assert training["hard_example_share"] == 0.5 and training["negative_click_share"] == 0.25
    assert 0.0 <= training["validation_outlined_outside"] <= 1.0


def test_size_multiples_follow_per_axis_strides():
    assert size_multiples({"strides": [[1, 2, 2], 2, 2, 2]}) == (8, 16, 16)
    assert size_multiples({"strides": [2, 2]}) == (4, 4, 4)
    padded, shape = pad_to_multiple(np.zeros((17, 20, 33), dtype=np.float32), (8, 16, 16))
    assert padded.shape == (24, 32, 48) and shape == (17, 20, 33)


def test_a_run_can_continue_from_a_bundle_and_records_it(tmp_path):
    import torch

    first = dict(workers=0, device="cpu", batch=1, channels=(4, 8, 16), validation_patches=2, log=lambda *_: None)
    train_parallel(tmp_path / "a", minutes=0.02, **first)
    parent = torch.load(read_bundle(tmp_path / "a").weights, weights_only=True)
    # A learning rate of zero: the continued run's weights are the parent's, so they were loaded, not re-initialised.
    train_parallel(tmp_path / "b", minutes=0.02, seed=5, learning_rate=0.0, init=tmp_path / "a", warmup=1, **first)
    child = torch.load(read_bundle(tmp_path / "b").weights, weights_only=True)
    assert parent.keys() == child.keys()
    assert all(torch.allclose(parent[k], child[k]) for k in parent)
    training = read_bundle(tmp_path / "b").metadata["training"]
    assert training["initialised_from"]["name"] == "lesion_seg"
    assert training["initialised_from"]["training"]["seed"] == 0
