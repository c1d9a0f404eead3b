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
80 and the long-axis p95 from 5.2 / 4.5 to 3.8 / 4.5 mm; see models/lesion_seg/MODEL_CARD.md for the benchmark. The
candidate outlines are labelled side by side (`segmentation.threads`), the image smoothed meanwhile.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from segmentation.crop import component_at, lesion_box
from segmentation.morphology import dilate_cross, erode_cross
from segmentation.threads import map_in_order, start

#: The thresholds tried between the bundle's range ends (inclusive), and the contrast gain needed to leave its own.
STEP, MIN_GAIN = 0.05, 1.05
#: A wider outline is a candidate only when it lies within this of the bundle's own outline: the image may move the
#: border, not add a neighbouring structure (on the sample trial's anatomy, unbounded, a lower threshold followed a
#: leak out to an organ's edge, the strongest edge there is).
MAX_GROWTH_MM = 4.0


def border_contrast(smooth: npt.NDArray[np.float32], mask: npt.NDArray[np.bool_]) -> float:
    """Mean density of the outline's inner rim minus that of its outer rim (in-plane, one pixel each), absolute."""
    inner = mask & ~erode_cross(mask, in_plane=True)
    outer = dilate_cross(mask, in_plane=True) & ~mask
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
    by ``MIN_GAIN``. Work is confined to the box around ``own_mask`` widened by ``MAX_GROWTH_MM``: a wider outline
    that reaches the box's face has grown further than that, and is no candidate."""
    from scipy import ndimage

    if not own_mask.any():
        return own, own_mask
    sp = [float(s) for s in spacing]
    margin = tuple(int(np.ceil(MAX_GROWTH_MM / s)) + 2 for s in sp)
    box = lesion_box(own_mask, seed, margin)  # type: ignore[arg-type]
    local_seed = (seed[0] - box[0].start, seed[1] - box[1].start, seed[2] - box[2].start)
    # Smoothed while the first candidate outlines are labelled (they need it only for their contrast).
    sigma = [0.3, 0.7 / sp[1], 0.7 / sp[2]]
    smoothing = start(ndimage.gaussian_filter, np.asarray(image_hu[box], dtype=np.float32), sigma)
    local_prob = prob[box]
    local_own = own_mask[box]
    # A higher threshold's outline lies inside the bundle's own: its box (and one voxel for the outer rim) will do.
    inner_box = lesion_box(local_own, local_seed, (1, 1, 1))
    inner_seed = (
        local_seed[0] - inner_box[0].start,
        local_seed[1] - inner_box[1].start,
        local_seed[2] - inner_box[2].start,
    )

    def outline(t: float) -> tuple[float, npt.NDArray[np.bool_]] | None:
        """Threshold ``t``'s outline (the component at the click) and its border contrast; None if it has none."""
        if t < own:
            m = component_at(local_prob >= t, local_seed, search_vox)
            return (border_contrast(smoothing.result(), m), m) if m.any() else None
        part = component_at(local_prob[inner_box] >= t, inner_seed, search_vox)
        if not part.any():
            return None
        m = np.zeros_like(local_own)
        m[inner_box] = part
        return border_contrast(smoothing.result()[inner_box], part), m

    thresholds = [t for t in candidate_thresholds(search_range[0], search_range[1], own) if t != own]
    outlines = map_in_order(outline, thresholds)
    bar = border_contrast(smoothing.result(), local_own) * MIN_GAIN
    # The most contrasted outline beating the bar (on a tie the lowest threshold); a wider one only within
    # MAX_GROWTH_MM of the bundle's outline, measured only when one would win (the costliest step here).
    ranked = sorted(
        (i for i, o in enumerate(outlines) if o is not None and o[0] > bar),
        key=lambda i: (-outlines[i][0], i),  # type: ignore[index]
    )
    growth: npt.NDArray[np.float64] | None = None
    best_t, best_mask = own, local_own
    for i in ranked:
        t, (_, m) = thresholds[i], outlines[i]  # type: ignore[misc]
        if t < own:
            if growth is None:
                growth = ndimage.distance_transform_edt(~local_own, sampling=sp)
            if float(growth[m].max()) > MAX_GROWTH_MM:
                continue
        best_t, best_mask = t, m
        break
    if best_t == own:
        return own, own_mask
    out = np.zeros_like(own_mask)
    out[box] = best_mask
    return best_t, out
