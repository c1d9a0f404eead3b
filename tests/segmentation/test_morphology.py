"""The shift-based cross erosion and dilation give scipy's results (outside the array is background)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from segmentation.morphology import dilate_cross, erode_cross


def cross(in_plane: bool) -> np.ndarray:
    if in_plane:
        s = np.zeros((3, 3, 3), dtype=bool)
        s[1] = ndimage.generate_binary_structure(2, 1)
        return s
    return ndimage.generate_binary_structure(3, 1)


@pytest.mark.parametrize("in_plane", [False, True])
@pytest.mark.parametrize("iterations", [1, 2, 3])
def test_same_as_scipy(in_plane, iterations):
    rng = np.random.default_rng(iterations)
    for _ in range(10):
        mask = ndimage.binary_opening(rng.random((7, 12, 11)) > 0.35)
        mask[:, 0, :] |= rng.random((7, 11)) > 0.5  # touching the array's faces
        s = cross(in_plane)
        assert np.array_equal(
            erode_cross(mask, in_plane=in_plane, iterations=iterations),
            ndimage.binary_erosion(mask, structure=s, iterations=iterations),
        )
        assert np.array_equal(
            dilate_cross(mask, in_plane=in_plane, iterations=iterations),
            ndimage.binary_dilation(mask, structure=s, iterations=iterations),
        )


def test_input_left_unchanged():
    mask = np.zeros((3, 5, 5), dtype=bool)
    mask[1, 2, 2] = True
    before = mask.copy()
    dilate_cross(mask)
    erode_cross(mask)
    assert np.array_equal(mask, before)
