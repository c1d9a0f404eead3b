"""Doubt that any engine's outline can carry: it runs along tissue of the lesion's own density.

Where a lesion touches an organ or vessel of the same density there is no edge to follow, and an outline there is a
guess, however confident the engine. `same_density_doubt` measures the part of a thin shell just outside the outline
whose density is the lesion's own; the MONAI engine flags its outline with it. `auto` turns that off (it tipped the
choice between the engines the wrong way) and judges the outline it returns instead, with `outline_doubt`: a lower
same-density bar, and `continues_beyond`, the tissue of the lesion's own density that carries on from the outline
(an outline that stopped short inside the lesion, or a neighbour it cannot be told from).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from segmentation.crop import lesion_box
from segmentation.morphology import dilate_cross, erode_cross
from segmentation.threads import start

#: The part of a shell SHELL_MM outside the outline whose (0.7 mm smoothed) density is within SAME_DENSITY_HU of the
#: lesion's own; above SAME_DENSITY_FRACTION the outline runs along tissue it cannot be told from. Set on validation
#: seeds 777 and 778 (lesion_seg 0.3.0, all clicks: flagged 81 -> 87 % of its bad outlines, 12 -> 14 % of its good
#: ones); see models/lesion_seg/MODEL_CARD.md.
SHELL_MM, SAME_DENSITY_HU, SAME_DENSITY_FRACTION = (1.0, 4.0), 15.0, 0.40


@dataclass(frozen=True)
class _AroundOutline:
    """The neighbourhood of an outline, in a box reaching ``reach_mm`` beyond it (`_around_outline`)."""

    mask: npt.NDArray[np.bool_]
    #: the image smoothed by 0.7 mm
    smooth: npt.NDArray[np.float32]
    #: distance outside the mask in mm (on a grid twice as coarse in-plane where pixels are under 1 mm; 0 inside)
    outside: npt.NDArray[np.float64]
    #: the lesion's density: the smoothed median about 1 mm inside its outline
    lesion_hu: float


def _around_outline(
    image_hu: npt.NDArray[np.float32], mask: npt.NDArray[np.bool_], spacing: tuple[float, ...], reach_mm: float
) -> _AroundOutline | None:
    """What both measures below look at around ``mask`` (None for an empty mask). The distances are taken on a grid
    twice as coarse in-plane when pixels are under 1 mm (bands of millimetres need no finer; on the validation seeds
    the same decisions at a third of the time); the smoothing runs beside them."""
    from scipy import ndimage

    sp = (float(spacing[0]), float(spacing[1]), float(spacing[2]))
    first = int(np.argmax(mask))  # any voxel of the mask will do
    if not mask.flat[first]:
        return None
    k, j, i = np.unravel_index(first, mask.shape)
    margin = tuple(int(np.ceil(reach_mm / s)) + 2 for s in sp)
    box = lesion_box(mask, (int(k), int(j), int(i)), margin)  # type: ignore[arg-type]
    m = mask[box]
    smoothing = start(ndimage.gaussian_filter, np.asarray(image_hu[box], dtype=np.float32), [0.7 / s for s in sp])
    step = 2 if min(sp[1], sp[2]) < 1.0 else 1
    coarse = ndimage.distance_transform_edt(~m[:, ::step, ::step], sampling=(sp[0], sp[1] * step, sp[2] * step))
    outside = np.repeat(np.repeat(coarse, step, axis=1), step, axis=2)[:, : m.shape[1], : m.shape[2]]
    core = erode_cross(m, in_plane=True, iterations=max(1, round(1.0 / min(sp[1], sp[2]))))
    smooth = smoothing.result()
    lesion_hu = float(np.median(smooth[core if core.sum() >= 5 else m]))
    return _AroundOutline(m, smooth, outside, lesion_hu)


def same_density_border(
    image_hu: npt.NDArray[np.float32], mask: npt.NDArray[np.bool_], spacing: tuple[float, ...]
) -> float:
    """The fraction of the shell ``SHELL_MM`` outside ``mask`` whose smoothed density is within ``SAME_DENSITY_HU`` of
    the lesion's (the median about 1 mm inside its outline); 0 when there is no shell. ``image_hu`` and ``mask``
    share one grid."""
    near = _around_outline(image_hu, mask, spacing, SHELL_MM[1])
    if near is None:
        return 0.0
    shell = (near.outside > SHELL_MM[0]) & (near.outside <= SHELL_MM[1]) & ~near.mask
    if not shell.any():
        return 0.0
    return float(np.mean(np.abs(near.smooth[shell] - near.lesion_hu) < SAME_DENSITY_HU))


def same_density_doubt(
    image_hu: npt.NDArray[np.float32], mask: npt.NDArray[np.bool_], spacing: tuple[float, ...]
) -> str | None:
    """The reader's warning when the outline runs along same-density tissue, else None."""
    same = same_density_border(image_hu, mask, spacing)
    if same <= SAME_DENSITY_FRACTION:
        return None
    return (
        f"{same:.0%} of the tissue just outside the outline has the lesion's own density: the edge there cannot be "
        "seen (a neighbouring organ or vessel?); check it"
    )


#: `continues_beyond`: tissue within CONTINUES_HU of the lesion's density, outside the outline, up to CONTINUES_MM from
#: it and connected to a voxel next to it.
CONTINUES_HU, CONTINUES_MM = 25.0, 8.0
#: `outline_doubt` (auto's returned outline): doubted when more than this part of the shell has the lesion's density,
#: or when tissue of its density carrying on from it is more than CONTINUES_RATIO times its volume. Set on validation
#: seeds 777-780 (all clicks: 79 -> 89 % of auto's bad outlines flagged, 23 -> 27 % of its good ones), checked on
#: fresh seeds 781/782 (60 -> 81 %, 24 -> 29 %); see models/lesion_seg/MODEL_CARD.md.
AUTO_SAME_DENSITY_FRACTION, CONTINUES_RATIO = 0.20, 1.5


def continues_beyond(
    image_hu: npt.NDArray[np.float32], mask: npt.NDArray[np.bool_], spacing: tuple[float, ...]
) -> float:
    """The volume of tissue of the lesion's own density (within ``CONTINUES_HU`` of the median about 1 mm inside the
    outline, 0.7 mm smoothed) that carries on from the outline: outside ``mask``, within ``CONTINUES_MM`` of it, and
    connected (26-neighbours) to a voxel face-adjacent to it; as a multiple of the mask's volume (0 for an empty
    mask). A good outline ends where its density does; one that stopped short inside the lesion, or runs into a
    neighbour of the same density, has its density carry on. ``image_hu`` and ``mask`` share one grid, which should
    reach ``CONTINUES_MM`` beyond the mask."""
    from scipy import ndimage

    near = _around_outline(image_hu, mask, spacing, CONTINUES_MM)
    if near is None:
        return 0.0
    m = near.mask
    same = (near.outside <= CONTINUES_MM) & ~m & (np.abs(near.smooth - near.lesion_hu) < CONTINUES_HU)
    labels, n = ndimage.label(same, structure=np.ones((3, 3, 3), dtype=bool))
    if n == 0:
        return 0.0
    touching = np.unique(labels[same & dilate_cross(m)])
    touching = touching[touching > 0]
    if touching.size == 0:
        return 0.0
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    return float(sizes[touching].sum() / m.sum())


@dataclass(frozen=True)
class OutlineMeasures:
    """What `outline_doubt` and `no_lesion` judge an outline by."""

    #: `same_density_border`: the part of the shell 1-4 mm outside with the lesion's own density
    same_density: float
    #: `continues_beyond`: tissue of the lesion's density carrying on from the outline, in multiples of its volume
    continues: float
    #: the outline's volume
    volume_ml: float


def outline_measures(
    image_hu: npt.NDArray[np.float32], mask: npt.NDArray[np.bool_], spacing: tuple[float, ...]
) -> OutlineMeasures:
    """`OutlineMeasures` of ``mask``; ``image_hu`` and ``mask`` share one grid reaching ``CONTINUES_MM`` beyond it."""
    same = start(same_density_border, image_hu, mask, spacing)
    more = continues_beyond(image_hu, mask, spacing)
    volume_ml = float(mask.sum()) * float(np.prod([float(s) for s in spacing])) / 1000.0
    return OutlineMeasures(same.result(), more, volume_ml)


#: `no_lesion`: an outline with more than NO_EDGE_FRACTION of its shell at its own density has no edge at all (a click
#: in an organ's parenchyma, where the model, which was only ever shown clicks inside lesions, still draws a blob);
#: nor has a small one (under SPECK_ML) whose density carries on for more than SPECK_CONTINUES times its volume.
#: Set on the sample trial's normal tissue (124 clicks in liver, spleen, muscle, fat, lung, heart, vessels, stomach)
#: and lesion clicks on validation seeds 777/778 (240) and the sample trial (54): 17 % of the normal-tissue clicks
#: refused, no lesion click; see models/lesion_seg/MODEL_CARD.md.
NO_EDGE_FRACTION, SPECK_ML, SPECK_CONTINUES = 0.85, 2.0, 25.0


def no_lesion(measures: OutlineMeasures) -> str | None:
    """Why the outline is no lesion (its edge is nowhere to be seen), else None."""
    if measures.same_density > NO_EDGE_FRACTION:
        return (
            f"{measures.same_density:.0%} of the tissue around the outline has the density inside it: there is no "
            "edge, so no lesion, where you clicked (normal tissue?)"
        )
    if measures.volume_ml < SPECK_ML and measures.continues > SPECK_CONTINUES:
        return (
            f"the outline is a speck ({measures.volume_ml * 1000:.0f} mm³) of tissue that carries on around it "
            f"({measures.continues:.0f} times its volume within {CONTINUES_MM:g} mm): no lesion stands out where you "
            "clicked (normal tissue?)"
        )
    return None


def outline_doubt(
    image_hu: npt.NDArray[np.float32],
    mask: npt.NDArray[np.bool_],
    spacing: tuple[float, ...],
    measures: OutlineMeasures | None = None,
) -> str | None:
    """`auto`'s warning for the outline it returns (same-density shell, or the lesion's density carrying on), else
    None. ``image_hu`` and ``mask`` share one grid reaching ``CONTINUES_MM`` beyond the mask; ``measures``: theirs,
    when already taken."""
    m = measures or outline_measures(image_hu, mask, spacing)
    fraction, more = m.same_density, m.continues
    if more > CONTINUES_RATIO:
        return (
            f"tissue of the lesion's own density carries on from the outline ({more:.1f} times its volume within "
            f"{CONTINUES_MM:g} mm): the lesion may be larger, or touch a neighbour it cannot be told from; check it"
        )
    if fraction > AUTO_SAME_DENSITY_FRACTION:
        return (
            f"{fraction:.0%} of the tissue just outside the outline has the lesion's own density: the edge there "
            "cannot be seen (a neighbouring organ or vessel?); check it"
        )
    return None
