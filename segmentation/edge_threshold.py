"""Choose, per lesion, the probability threshold whose outline lies on the image's strongest edge.

A network's probability falls off across a lesion's border, and where along that slope its fixed threshold cuts
depends on the lesion: a faint, heterogeneous lesion gets a low probability near its true border (a fixed 0.3 cuts
inside it), a crisp one a steep slope. Among the outlines the probability map offers (its thresholds in a range), the
one whose border separates the most different densities (inside rim against outside rim, in-plane) is where the
image puts the edge. The network still decides *which* structure is the lesion; the image only decides where along
the probability's slope its border is. The bundle's own threshold is kept unless another outline's border contrast
beats it by ``MIN_GAIN``.

Chosen on validation seeds 777 and 778 (lesion_seg 0.3.0, first clicks): thresholds 0.15-0.6, gain 1.05; see
models/lesion_seg/MODEL_CARD.md for what it changed.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from segmentation.crop import component_at, lesion_box

#: The thresholds tried between the bundle's range ends (inclusive), and the contrast gain needed to leave its own.
STEP, MIN_GAIN = 0.05, 1.05
#: A wider outline is a candidate only when it lies within this of the bundle's own outline: the image may move the
#: border, not add a neighbouring structure (on the sample trial's anatomy, unbounded, a lower threshold followed a
#: leak out to an organ's edge, the strongest edge there is).
MAX_GROWTH_MM = 4.0
#: The in-plane cross: the rims are one pixel wide within a slice (slices may be 5 mm thick).
_CROSS = np.zeros((3, 3, 3), dtype=bool)
_CROSS[1] = [[False, True, False], [True, True, True], [False, True, False]]


def border_contrast(smooth: npt.NDArray[np.float32], mask: npt.NDArray[np.bool_]) -> float:
    """Mean density of the outline's inner rim minus that of its outer rim (in-plane, one pixel each), absolute."""
    from scipy import ndimage

    inner = mask & ~ndimage.binary_erosion(mask, structure=_CROSS)
    outer = ndimage.binary_dilation(mask, structure=_CROSS) & ~mask
    if not inner.any() or not outer.any():
        return 0.0
    return abs(float(smooth[inner].mean()) - float(smooth[outer].mean()))


def candidate_thresholds(low: float, high: float, own: float) -> list[float]:
    """``low``..``high`` in steps of ``STEP``, and the bundle's own threshold."""
    n = round((high - low) / STEP)
    return sorted({round(low + k * STEP, 4) for k in range(n + 1)} | {own})


def edge_threshold(
    image_hu: npt.NDArray[np.float32],
    prob: npt.NDArray[np.float32],
    own_mask: npt.NDArray[np.bool_],
    seed: tuple[int, int, int],
    spacing: tuple[float, ...],
    own: float,
    search_range: tuple[float, float],
    search_vox: tuple[int, int, int],
) -> tuple[float, npt.NDArray[np.bool_]]:
    """The chosen threshold and its outline (the component at ``seed``, as the engine takes it), on the crop's grid.
    ``own`` is the bundle's threshold and ``own_mask`` its outline, returned unless another beats its border contrast
    by ``MIN_GAIN``. Work is confined to the box around the widest outline."""
    from scipy import ndimage

    thresholds = candidate_thresholds(search_range[0], search_range[1], own)
    widest = component_at(prob >= thresholds[0], seed, search_vox)
    if not widest.any() or not own_mask.any():
        return own, own_mask
    box = lesion_box(widest, seed, (2, 2, 2))
    local_seed = (seed[0] - box[0].start, seed[1] - box[1].start, seed[2] - box[2].start)
    sp = [float(s) for s in spacing]
    smooth = ndimage.gaussian_filter(np.asarray(image_hu[box], dtype=np.float32), [0.3, 0.7 / sp[1], 0.7 / sp[2]])
    local_prob = prob[box]
    growth = ndimage.distance_transform_edt(~own_mask[box], sampling=sp)
    best_t, best_mask = own, own_mask[box]
    own_contrast = border_contrast(smooth, best_mask)
    best_contrast = own_contrast * MIN_GAIN
    for t in thresholds:
        if t == own:
            continue
        m = component_at(local_prob >= t, local_seed, search_vox)
        if not m.any() or (t < own and float(growth[m].max()) > MAX_GROWTH_MM):
            continue
        c = border_contrast(smooth, m)
        if c > best_contrast:
            best_t, best_mask, best_contrast = t, m, c
    if best_t == own:
        return own, own_mask
    out = np.zeros_like(own_mask)
    out[box] = best_mask
    return best_t, out
