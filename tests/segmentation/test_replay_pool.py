"""The trainer's replay pool: batches of one shape, the oldest patches dropped first, hard patches drawn more often."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from segmentation.training.replay import ReplayPool, soft_dice_hardness


def rendered(first_id: int, n: int, slices: int) -> dict[str, torch.Tensor]:
    """A batch whose image holds each patch's id, so a drawn patch can be told apart."""
    ids = torch.arange(first_id, first_id + n, dtype=torch.int16)
    return {
        "image": ids[:, None, None, None].expand(n, slices, 4, 4).clone(),
        "mask": torch.zeros(n, slices, 4, 4, dtype=torch.uint8),
        "spacing": torch.ones(n, 3),
        "clicks": torch.zeros(n, 6, 3, dtype=torch.int64),
    }


def drawn_ids(batch: dict[str, torch.Tensor]) -> list[int]:
    return [int(v) for v in batch["image"][:, 0, 0, 0]]


def test_a_drawn_batch_has_one_shape_and_the_pool_drops_its_oldest_patches():
    pool = ReplayPool(capacity=6)
    pool.add(rendered(0, 4, slices=16))
    pool.add(rendered(100, 4, slices=24))
    assert len(pool) == 6
    rng = np.random.default_rng(0)
    seen: set[int] = set()
    for _ in range(200):
        batch, keys = pool.draw(rng, 3)
        assert batch["image"].shape[1] in (16, 24) and len({k[:-1] for k in keys}) == 1
        seen.update(drawn_ids(batch))
    assert seen == {2, 3, 100, 101, 102, 103}  # 0 and 1 came first and were dropped


def test_hard_patches_are_drawn_more_often_and_reports_on_dropped_patches_are_ignored():
    pool = ReplayPool(capacity=8, hard_fraction=0.5)
    pool.add(rendered(0, 8, slices=16))
    rng = np.random.default_rng(1)
    _, keys = pool.draw(rng, 8)
    hardness = torch.tensor([0.9 if key[-1] == 5 else 0.0 for key in keys])
    pool.report(keys, hardness)
    counts = np.zeros(8)
    for _ in range(400):
        batch, _ = pool.draw(rng, 8)
        for i in drawn_ids(batch):
            counts[i] += 1
    if 5 in [k[-1] for k in keys]:
        # Patch 5 (hard) takes most of the hard draws; the others share the uniform draws and the rest.
        assert counts[5] > 3 * np.median(counts)
    pool.add(rendered(8, 8, slices=16))  # every earlier patch is dropped now
    pool.report(keys, torch.ones(len(keys)))  # nothing to update, and no error


def test_new_patches_start_as_the_hardest_seen_so_they_are_drawn_soon():
    pool = ReplayPool(capacity=16, hard_fraction=1.0)
    pool.add(rendered(0, 8, slices=16))
    rng = np.random.default_rng(2)
    pool.report([(16, 4, 4, i) for i in range(8)], torch.full((8,), 0.01))  # every first patch: easy
    pool.add(rendered(8, 8, slices=16))
    ids = [i for _ in range(50) for i in drawn_ids(pool.draw(rng, 8)[0])]
    assert sum(i >= 8 for i in ids) > 0.8 * len(ids)


def test_uniform_draws_when_the_hard_share_is_zero_and_the_share_is_checked():
    pool = ReplayPool(capacity=8)
    pool.add(rendered(0, 8, slices=16))
    rng = np.random.default_rng(3)
    _, keys = pool.draw(rng, 8)
    pool.report(keys, torch.tensor([1.0] + [0.0] * 7))
    counts = np.bincount([i for _ in range(500) for i in drawn_ids(pool.draw(rng, 8)[0])], minlength=8)
    assert counts.max() < 1.3 * counts.min()
    with pytest.raises(ValueError, match="between 0 and 1"):
        ReplayPool(capacity=8, hard_fraction=1.5)


def test_hardness_is_zero_for_a_confident_correct_prediction_and_near_one_for_a_miss():
    mask = torch.zeros(2, 1, 4, 4, 4)
    mask[:, :, 1:3, 1:3, 1:3] = 1
    right = torch.where(mask > 0, 20.0, -20.0)
    missed = torch.full_like(mask, -20.0)
    h = soft_dice_hardness(torch.cat([right[:1], missed[:1]]), mask)
    assert h[0] < 1e-3 and h[1] > 0.99
    nothing = torch.zeros_like(mask)  # a click on normal tissue: outlining nothing is right, outlining is wrong
    h = soft_dice_hardness(torch.cat([missed[:1], right[:1]]), nothing)
    assert h[0] < 1e-3 and h[1] > 0.99


def test_lagged_reports_take_effect_after_the_lag():
    pool = ReplayPool(capacity=8, hard_fraction=1.0, report_lag=1)
    pool.add(rendered(0, 8, slices=16))
    everything = [(16, 4, 4, i) for i in range(8)]
    pool.report(everything, torch.tensor([0.0] * 7 + [1.0]))
    pool.report(everything[:1], torch.tensor([0.0]))  # applies the first report
    rng = np.random.default_rng(4)
    ids = [i for _ in range(50) for i in drawn_ids(pool.draw(rng, 8)[0])]
    assert sum(i == 7 for i in ids) > 0.8 * len(ids)
