"""Choose, per lesion, the probability threshold whose outline lies on the image's strongest edge.

A network's probability falls off across a lesion's border, and where along that slope its fixed threshold cuts
depends on the lesion: a faint, heterogeneous lesion gets a low probability near its true border (a fixed 0.3 cuts
inside it), a crisp one a steep slope. Among the outlines the probability map offers (its thresholds in a range), the
one whose border separates the most different densities (inside rim against outside rim, in-plane) is where the
image puts the edge. The network still decides *which* structure is the lesion; the image only decides where along
the probability's slope its border is. The bundle's own threshold is kept unless another outline's border contrast
beats it by ``MIN_GAIN``.

Chosen on validation seeds 777 and 778 (lesion_seg 0.3.0, first clicks; never the benchmark's seed): thresholds
0.15-0.6, gain 1.05, growth at most 4 mm. There it cut the outlines off by over 3 mm (or Dice < 0.8) from 32 to 26 of
80 and the long-axis p95 from 5.2 / 4.5 to 3.8 / 4.5 mm; see models/lesion_seg/MODEL_CARD.md for the benchmark. It
costs 4 ms a click (median; 31 ms at p95, large lesions) on this CPU.
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


def border_contrast(smooth: npt.NDArray[np.float32], mask: npt.NDArray[np.bool_]) -> float:
    """Mean density of the outline's inner rim minus that of its outer rim (in-plane, one pixel each), absolute."""
    inner = mask & ~_erode_in_plane(mask)
    outer = _dilate_in_plane(mask) & ~mask
    if not inner.any() or not outer.any():
        return 0.0
    return abs(float(smooth[inner].mean()) - float(smooth[outer].mean()))


def _erode_in_plane(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Erosion by the in-plane cross, outside the array counted as background (as scipy's, several times faster)."""
    out = mask.copy()
    out[:, 1:] &= mask[:, :-1]
    out[:, :-1] &= mask[:, 1:]
    out[:, :, 1:] &= mask[:, :, :-1]
    out[:, :, :-1] &= mask[:, :, 1:]
    out[:, 0] = out[:, -1] = False
    out[:, :, 0] = out[:, :, -1] = False
    return out


def _dilate_in_plane(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Dilation by the in-plane cross."""
    out = mask.copy()
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    out[:, :, 1:] |= mask[:, :, :-1]
    out[:, :, :-1] |= mask[:, :, 1:]
    return out


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
    by ``MIN_GAIN``. Work is confined to the box around ``own_mask`` widened by ``MAX_GROWTH_MM``: a wider outline
    that reaches the box's face has grown further than that, and is no candidate."""
    from scipy import ndimage

    if not own_mask.any():
        return own, own_mask
    sp = [float(s) for s in spacing]
    margin = tuple(int(np.ceil(MAX_GROWTH_MM / s)) + 2 for s in sp)
    box = lesion_box(own_mask, seed, margin)  # type: ignore[arg-type]
    local_seed = (seed[0] - box[0].start, seed[1] - box[1].start, seed[2] - box[2].start)
    smooth = ndimage.gaussian_filter(np.asarray(image_hu[box], dtype=np.float32), [0.3, 0.7 / sp[1], 0.7 / sp[2]])
    local_prob = prob[box]
    local_own = own_mask[box]
    growth: npt.NDArray[np.float64] | None = None  # distance from the bundle's outline, once a wider one is seen
    # A higher threshold's outline lies inside the bundle's own: its box (and one voxel for the outer rim) will do.
    inner_box = lesion_box(local_own, local_seed, (1, 1, 1))
    best_t, best_mask = own, local_own
    best_contrast = border_contrast(smooth, local_own) * MIN_GAIN
    for t in candidate_thresholds(search_range[0], search_range[1], own):
        if t == own:
            continue
        if t < own:
            m = component_at(local_prob >= t, local_seed, search_vox)
            if not m.any():
                continue
            if growth is None:
                # The lowest threshold comes first: its outline holds every higher one's, so distances in its box do.
                growth = np.full(m.shape, np.inf)
                near = lesion_box(m | local_own, local_seed, (1, 1, 1))
                growth[near] = ndimage.distance_transform_edt(~local_own[near], sampling=sp)
            if float(growth[m].max()) > MAX_GROWTH_MM:
                continue
            c = border_contrast(smooth, m)
        else:
            inner_seed = tuple(v - b.start for v, b in zip(local_seed, inner_box, strict=True))
            part = component_at(local_prob[inner_box] >= t, inner_seed, search_vox)
            if not part.any():
                continue
            c = border_contrast(smooth[inner_box], part)
            m = np.zeros_like(local_own)
            m[inner_box] = part
        if c > best_contrast:
            best_t, best_mask, best_contrast = t, m, c
    if best_t == own:
        return own, own_mask
    out = np.zeros_like(own_mask)
    out[box] = best_mask
    return best_t, out
