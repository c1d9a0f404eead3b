"""The synthetic lesion generator: seeded, varied, and its truth is consistent with its image."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from segmentation.network_inputs import network_input
from segmentation.training.synthetic import TISSUES, hidden_boundary_fraction, make_patch, patch_volume
from segmentation.training.train import TRAIN_INPLANE, training_patch


def test_same_seed_same_patch_and_different_seed_different_patch():
    a = make_patch(np.random.default_rng(11), shape=(16, 64, 64))
    b = make_patch(np.random.default_rng(11), shape=(16, 64, 64))
    c = make_patch(np.random.default_rng(12), shape=(16, 64, 64))
    assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask) and a.seed == b.seed
    assert not np.array_equal(a.image, c.image)


@pytest.mark.parametrize("background", sorted(TISSUES))
def test_patch_truth_is_one_lesion_holding_the_click(background):
    p = make_patch(np.random.default_rng(3), spacing=(2.5, 0.7, 0.7), diameter_mm=20.0, background=background)
    assert p.mask[p.seed]
    _, n = ndimage.label(p.mask)
    assert n == 1
    # The lesion differs from its background by at least the generator's minimum contrast (15 HU, less the noise).
    assert abs(p.contrast_hu) > 8.0
    assert 10.0 < np.ptp(np.argwhere(p.mask)[:, 2]) * 0.7 < 40.0


def test_hidden_boundary_fraction_counts_the_border_against_same_density_tissue():
    mask = np.zeros((30, 30, 30), bool)
    mask[10:20, 10:20, 10:20] = True  # a cube: its face-neighbour shell is 6 faces of 100 voxels
    lesion = np.full(mask.shape, 40.0, np.float32)
    tissue = np.full(mask.shape, -100.0, np.float32)
    assert hidden_boundary_fraction(tissue, lesion, mask) == 0.0
    tissue[:, :, 20:] = 45.0  # an organ of the lesion's density beyond one face (5 HU apart: no edge to see)
    assert hidden_boundary_fraction(tissue, lesion, mask) == pytest.approx(1 / 6)
    tissue[:, :, 20:] = 60.0  # 20 HU apart: a faint but visible edge
    assert hidden_boundary_fraction(tissue, lesion, mask) == 0.0
    assert hidden_boundary_fraction(np.full(mask.shape, 35.0, np.float32), lesion, mask) == 1.0


def test_training_patches_cover_the_specified_ranges():
    rng = np.random.default_rng(5)
    patches = [training_patch(rng) for _ in range(25)]
    thickness = {p.spacing[0] for p in patches}
    assert min(thickness) >= 1.25 and max(thickness) <= 5.0 and len(thickness) >= 3
    assert {p.background for p in patches} == set(TISSUES)
    diameters = [p.diameter_mm for p in patches]
    assert min(diameters) >= 5.0 and max(diameters) <= 80.0 and max(diameters) > 3 * min(diameters)
    assert all(p.image.shape[1:] == (TRAIN_INPLANE, TRAIN_INPLANE) and p.image.shape[0] % 8 == 0 for p in patches)


def test_network_input_channels_and_guidance_peak_at_the_click():
    p = make_patch(np.random.default_rng(2), shape=(16, 48, 48))
    x = network_input(p.image, p.seed, p.spacing)
    assert x.shape == (3, 16, 48, 48) and x.dtype == np.float32
    assert x[:2].min() >= -1.0 and x[:2].max() <= 1.0
    assert np.unravel_index(int(np.argmax(x[2])), x[2].shape) == p.seed
    v = patch_volume(p)
    assert v.shape == p.image.shape and len(v.info.sop_instance_uids) == p.image.shape[0]
