"""The per-lesion threshold on the image's edge (`segmentation.edge_threshold`), on analytic images."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from segmentation.crop import component_at
from segmentation.edge_threshold import MAX_GROWTH_MM, border_contrast, candidate_thresholds, edge_threshold

SPACING = (2.0, 0.7, 0.7)
SEED = (10, 40, 40)


def _radius_mm(shape: tuple[int, int, int] = (21, 81, 81)) -> np.ndarray:
    grids = np.ogrid[tuple(slice(0, n) for n in shape)]
    return np.sqrt(sum(((g - c) * s) ** 2 for g, c, s in zip(grids, SEED, SPACING, strict=True)))


def _image(radius_mm: np.ndarray, lesion_r: float) -> np.ndarray:
    """A 60 HU lesion of radius ``lesion_r`` in -100 HU fat, blurred as a scanner does."""
    image = np.where(radius_mm < lesion_r, 60.0, -100.0).astype(np.float32)
    return np.asarray(ndimage.gaussian_filter(image, [0.3, 0.6 / SPACING[1], 0.6 / SPACING[2]]), dtype=np.float32)


def _probability(radius_mm: np.ndarray, half_at: float, width: float = 2.0) -> np.ndarray:
    """A network's probability falling off across ``half_at`` mm (0.5 there), over about ``width`` mm."""
    return np.asarray(1.0 / (1.0 + np.exp((radius_mm - half_at) / (width / 4))), dtype=np.float32)


def _radius_of(mask: np.ndarray) -> float:
    """Equivalent-sphere radius of a mask, in mm."""
    return float((mask.sum() * np.prod(SPACING) * 3 / (4 * np.pi)) ** (1 / 3))


def test_candidates_span_the_range_and_keep_the_bundles_own():
    assert candidate_thresholds(0.15, 0.6, 0.3) == [0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6]
    assert 0.33 in candidate_thresholds(0.15, 0.6, 0.33)


def test_the_outline_moves_out_to_the_edge_of_a_faint_lesion_the_network_cut_inside():
    r = _radius_mm()
    image = _image(r, 10.0)
    prob = _probability(r, half_at=7.5, width=6.0)  # at 0.3 the network's outline lies ~1.2 mm inside the edge
    search = (1, 3, 3)
    own = component_at(prob >= 0.3, SEED, search)
    chosen, mask = edge_threshold(image, prob, own, SEED, SPACING, 0.3, (0.15, 0.6), search)
    assert chosen < 0.3
    assert abs(_radius_of(mask) - 10.0) < abs(_radius_of(own) - 10.0)
    assert abs(_radius_of(mask) - 10.0) < 0.5
    smooth = ndimage.gaussian_filter(image, [0.3, 1.0, 1.0])
    assert border_contrast(smooth, mask) > border_contrast(smooth, own)


def test_the_outline_moves_in_to_the_edge_where_the_network_spilled_over_it():
    r = _radius_mm()
    image = _image(r, 10.0)
    prob = _probability(r, half_at=11.5, width=4.0)
    search = (1, 3, 3)
    own = component_at(prob >= 0.3, SEED, search)
    chosen, mask = edge_threshold(image, prob, own, SEED, SPACING, 0.3, (0.15, 0.6), search)
    assert chosen > 0.3
    assert abs(_radius_of(mask) - 10.0) < abs(_radius_of(own) - 10.0)


def test_a_crisp_outline_on_the_edge_is_kept():
    r = _radius_mm()
    image = _image(r, 10.0)
    prob = _probability(r, half_at=10.35, width=1.0)  # 0.3 sits on the edge already
    search = (1, 3, 3)
    own = component_at(prob >= 0.3, SEED, search)
    chosen, mask = edge_threshold(image, prob, own, SEED, SPACING, 0.3, (0.15, 0.6), search)
    assert abs(_radius_of(mask) - 10.0) < 0.5
    assert chosen == 0.3 or abs(_radius_of(mask) - _radius_of(own)) < 0.3


def test_a_wider_outline_reaching_past_the_growth_limit_is_no_candidate():
    """A faint probability spilling over a strong edge further out (an organ's border) is not followed."""
    r = _radius_mm()
    image = _image(r, 18.0)  # the strong edge is 8 mm beyond the network's outline
    prob = _probability(r, half_at=9.0, width=6.0)
    prob = np.where(r < 18.0, np.maximum(prob, 0.2), prob).astype(np.float32)  # a faint plateau out to that edge
    search = (1, 3, 3)
    own = component_at(prob >= 0.3, SEED, search)
    chosen, mask = edge_threshold(image, prob, own, SEED, SPACING, 0.3, (0.15, 0.6), search)
    assert chosen >= 0.25
    assert _radius_of(mask) < _radius_of(own) + MAX_GROWTH_MM
