"""`farther_than` in slabs gives what the whole array's distance transform gives."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from segmentation import distance


@pytest.mark.parametrize("spacing", [(1.25, 0.7, 0.7), (5.0, 0.9, 0.8), (0.6, 0.6, 0.6)])
@pytest.mark.parametrize("distance_mm", [1.0, 2.0, 4.0])
def test_slabs_agree_with_the_whole_array(monkeypatch, spacing, distance_mm):
    monkeypatch.setattr(distance, "MIN_SPLIT_VOXELS", 1000)  # split even small arrays into slabs
    rng = np.random.default_rng(7)
    for _ in range(5):
        region = ndimage.binary_opening(rng.random((40, 24, 24)) > 0.8)
        region[rng.integers(40) :] = False  # some slabs hold no region at all
        expected = ndimage.distance_transform_edt(~region, sampling=spacing) > distance_mm if region.any() else None
        got = distance.farther_than(region, spacing, distance_mm)
        if expected is None:
            assert got.all()
        else:
            assert np.array_equal(got, expected)


def test_empty_region_is_far_everywhere():
    assert distance.farther_than(np.zeros((20, 30, 30), dtype=bool), (1.0, 1.0, 1.0), 2.0).all()
