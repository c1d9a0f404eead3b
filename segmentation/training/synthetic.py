"""Synthetic CT lesion patches with exact ground truth, for training and for the held-out benchmark.

Each patch is a small CT region at a native (anisotropic) resolution: a background tissue (liver, lung, soft tissue or
fat), optionally an organ border (a curved interface to another tissue) and contrast-filled vessels, and one lesion:
a union of 1-4 rotated ellipsoids (lobulated) with an irregular, noisy border, 5-80 mm across, homogeneous or
heterogeneous, sometimes with a necrotic (fluid) centre or an enhancing rim. The image is blurred by a point-spread
function (in-plane and along the slice, so thick slices show partial volume) and given correlated noise.

The ground-truth mask is "voxel centre inside the lesion's continuous surface"; the true RECIST axes are those of that
mask (`segmentation.diameters.recist_axes`), so the benchmark compares like with like.

Everything is drawn from a `numpy.random.Generator`: the same seed gives the same patch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from imaging.volume import SeriesInfo, Volume

FloatArray = npt.NDArray[np.float32]

#: Background tissues: name -> (mean HU, texture SD) in portal-venous phase.
TISSUES: dict[str, tuple[float, float]] = {
    "liver": (105.0, 6.0),
    "lung": (-840.0, 25.0),
    "soft_tissue": (50.0, 6.0),
    "fat": (-100.0, 8.0),
}
#: Lesion mean HU by background: lesions are hypo- or hyperdense in liver, soft-tissue density elsewhere.
LESION_HU: dict[str, tuple[float, float]] = {
    "liver": (20.0, 160.0),
    "lung": (-20.0, 70.0),
    "soft_tissue": (-10.0, 110.0),
    "fat": (10.0, 80.0),
}
#: The lowest lesion contrast to its background: about what a reader can still see in portal-venous phase.
MIN_CONTRAST_HU = 15.0
#: Densities closer than this (below the lowest contrast drawn) are taken as indistinguishable.
ISODENSE_HU = 10.0
#: Tissues that may lie across an organ border from the background.
NEIGHBOURS: dict[str, tuple[str, ...]] = {
    "liver": ("fat", "soft_tissue"),
    "lung": ("soft_tissue", "fat"),
    "soft_tissue": ("fat", "liver"),
    "fat": ("soft_tissue", "liver"),
}


@dataclass(frozen=True)
class LesionPatch:
    """One synthetic patch. ``image`` in HU, ``mask`` the ground truth, ``seed`` a voxel inside the lesion."""

    image: FloatArray
    mask: npt.NDArray[np.bool_]
    spacing: tuple[float, float, float]
    seed: tuple[int, int, int]
    background: str
    diameter_mm: float
    #: The lesion's contrast to its background in HU (signed).
    contrast_hu: float
    #: True when the lesion touches an organ border or a vessel of similar density (hard cases).
    touches_structure: bool
    #: Fraction of the lesion's surface whose outside neighbour (organ, vessel or background, before texture and
    #: noise) lies within ISODENSE_HU of the lesion's mean density: there the true border cannot be seen on the image.
    hidden_boundary_fraction: float = 0.0


def sample_spacing(rng: np.random.Generator) -> tuple[float, float, float]:
    """A CT acquisition: slice thickness 1.25-5 mm, in-plane pixels 0.55-0.95 mm."""
    thickness = float(rng.choice([1.25, 1.5, 2.0, 2.5, 3.0, 5.0], p=[0.2, 0.1, 0.15, 0.2, 0.15, 0.2]))
    pixel = float(rng.uniform(0.55, 0.95))
    return (thickness, pixel, pixel)


def _rotation(rng: np.random.Generator) -> npt.NDArray[np.float64]:
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma_vox: tuple[float, ...]) -> FloatArray:
    """Zero-mean, unit-SD correlated noise."""
    n = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma_vox, mode="wrap")
    sd = float(n.std()) or 1.0
    return np.asarray(n / sd, dtype=np.float32)


def lesion_field(
    rng: np.random.Generator, coords: npt.NDArray[np.float64], centre: npt.NDArray[np.float64], diameter_mm: float
) -> npt.NDArray[np.float64]:
    """A level function of the lesion: < 1 inside, about the normalised distance to the surface elsewhere."""
    radius = diameter_mm / 2.0
    n_lobes = int(rng.choice([1, 1, 2, 3, 4]))
    field = np.full(coords.shape[:-1], np.inf)
    for lobe in range(n_lobes):
        elong = rng.uniform(1.0, 1.7)
        axes = radius * np.array([1.0, rng.uniform(1.0 / elong, 1.0), rng.uniform(1.0 / elong, 1.0)])
        if lobe > 0:
            axes = axes * rng.uniform(0.45, 0.8)
            direction = rng.normal(size=3)
            direction /= np.linalg.norm(direction)
            shift = direction * radius * rng.uniform(0.3, 0.6)
        else:
            shift = np.zeros(3)
        rot = _rotation(rng)
        local = (coords - centre - shift) @ rot
        d = np.sqrt(((local / axes) ** 2).sum(axis=-1))
        field = np.minimum(field, d)
    return field


def make_patch(
    rng: np.random.Generator,
    shape: tuple[int, int, int] | None = None,
    spacing: tuple[float, float, float] | None = None,
    diameter_mm: float | None = None,
    background: str | None = None,
    extent_mm: float = 100.0,
) -> LesionPatch:
    """One patch. Without ``shape``, the patch covers about ``extent_mm`` in every direction at its spacing."""
    spacing = spacing or sample_spacing(rng)
    if shape is None:
        shape = tuple(max(8, round(extent_mm / s)) for s in spacing)  # type: ignore[assignment]
    assert shape is not None
    background = background or str(rng.choice(list(TISSUES), p=[0.35, 0.25, 0.25, 0.15]))
    if diameter_mm is None:
        # Log-uniform 5-80 mm: small lesions are as common as large ones in a trial.
        diameter_mm = float(math.exp(rng.uniform(math.log(5.0), math.log(80.0))))
    sz = np.asarray(spacing, dtype=np.float64)
    grid = np.stack(np.meshgrid(*[np.arange(n) * s for n, s in zip(shape, sz, strict=True)], indexing="ij"), axis=-1)
    extent = np.asarray(shape) * sz
    centre = extent / 2 + rng.uniform(-0.15, 0.15, size=3) * np.minimum(extent, diameter_mm)

    field = lesion_field(rng, grid, centre, diameter_mm)
    # Irregular border: a smooth perturbation of the level set, stronger for larger lesions.
    irregularity = rng.uniform(0.0, 0.12)
    rough = _smooth_noise(rng, shape, tuple(max(0.8, 4.0 / s) for s in sz))
    level = field + irregularity * rough
    mask = keep_main_component(level < 1.0, level)

    bg_hu, bg_tex = TISSUES[background]
    image = np.full(shape, bg_hu, dtype=np.float32)
    touches = False

    # An organ border: a gently curved interface, sometimes right at the lesion.
    if rng.uniform() < 0.55:
        other = str(rng.choice(NEIGHBOURS[background]))
        normal = rng.normal(size=3)
        normal /= np.linalg.norm(normal)
        dist = rng.uniform(-0.1, 1.3) * diameter_mm / 2 + 1.0
        plane = (grid - centre) @ normal - dist
        curvature = rng.uniform(-1.0, 1.0) / 150.0
        plane = plane + curvature * ((grid - centre) ** 2).sum(axis=-1)
        image = np.where(plane > 0, np.float32(TISSUES[other][0]), image)
        touches = touches or dist < diameter_mm / 2 + 2.0
    # Vessels: straight tubes with contrast, some passing by the lesion.
    for _ in range(int(rng.integers(0, 4))):
        d = rng.normal(size=3)
        d /= np.linalg.norm(d)
        r_vessel = rng.uniform(1.5, 6.0)
        through = centre + rng.normal(size=3) * diameter_mm / 2 * rng.uniform(0.8, 1.6)
        rel = grid - through
        along = rel @ d
        dist_to_axis = np.sqrt(np.maximum((rel**2).sum(axis=-1) - along**2, 0.0))
        vessel = (dist_to_axis < r_vessel) & ~mask
        hu_vessel = rng.uniform(120.0, 220.0) if background != "lung" else rng.uniform(30.0, 180.0)
        image[vessel] = hu_vessel
        touches = touches or bool((ndimage.binary_dilation(vessel, iterations=1) & mask).any())

    lo, hi = LESION_HU[background]
    lesion_hu = float(rng.uniform(lo, hi))
    # Keep a minimum visible contrast against the background (not against a neighbouring organ or vessel).
    if abs(lesion_hu - bg_hu) < MIN_CONTRAST_HU:
        lesion_hu = bg_hu + math.copysign(MIN_CONTRAST_HU + rng.uniform(0, 10), lesion_hu - bg_hu or 1.0)
    lesion = np.full(shape, lesion_hu, dtype=np.float32)
    hetero = rng.uniform(0.0, 20.0)
    if hetero > 0:
        lesion += hetero * _smooth_noise(rng, shape, tuple(max(0.6, 2.5 / s) for s in sz))
    if diameter_mm > 15 and rng.uniform() < 0.35:  # necrotic centre
        necrotic = level < rng.uniform(0.4, 0.7)
        lesion = np.where(necrotic, np.float32(rng.uniform(5.0, 25.0)), lesion)
    if rng.uniform() < 0.2:  # enhancing rim
        rim = (level > 0.85) & (level < 1.0)
        lesion = np.where(rim, lesion + np.float32(rng.uniform(20.0, 50.0)), lesion)
    hidden = hidden_boundary_fraction(image, lesion, mask)
    image = np.where(mask, lesion, image)

    # Texture of the background, point-spread function, then correlated quantum noise.
    image += bg_tex * _smooth_noise(rng, shape, tuple(max(0.6, 1.5 / s) for s in sz))
    psf_mm = rng.uniform(0.4, 0.8)
    image = ndimage.gaussian_filter(image, (0.35, psf_mm / sz[1], psf_mm / sz[2]))
    noise_sd = rng.uniform(4.0, 25.0)
    image += noise_sd * _smooth_noise(rng, shape, (0.3, 0.7, 0.7))

    seed = pick_seed(rng, level, mask)
    inside_bg = image[~mask].mean() if (~mask).any() else bg_hu
    return LesionPatch(
        image=image.astype(np.float32),
        mask=mask,
        spacing=(float(sz[0]), float(sz[1]), float(sz[2])),
        seed=seed,
        background=background,
        diameter_mm=diameter_mm,
        contrast_hu=float(lesion_hu - inside_bg),
        touches_structure=touches,
        hidden_boundary_fraction=hidden,
    )


def hidden_boundary_fraction(tissue: FloatArray, lesion: FloatArray, mask: npt.NDArray[np.bool_]) -> float:
    """Of the voxels just outside the lesion (face neighbours), the fraction whose noiseless tissue density is within
    ISODENSE_HU of the lesion's mean density along its own border (rim included): the part of the true outline that
    no reader or model has an edge to see. Uses no randomness, so adding it changed no generated patch."""
    shell = ndimage.binary_dilation(mask) & ~mask
    edge = mask & ~ndimage.binary_erosion(mask)
    if not shell.any() or not edge.any():
        return 0.0
    edge_hu = float(lesion[edge].mean())
    return float(np.mean(np.abs(tissue[shell] - edge_hu) < ISODENSE_HU))


def pick_seed(
    rng: np.random.Generator, level: npt.NDArray[np.float64], mask: npt.NDArray[np.bool_], depth: float = 0.75
) -> tuple[int, int, int]:
    """A voxel well inside the lesion (level < depth), as a reader would click; the deepest voxel if none."""
    candidates = np.argwhere(mask & (level < depth))
    if len(candidates) == 0:
        candidates = np.argwhere(mask)
    if len(candidates) == 0:
        k, j, i = np.unravel_index(int(np.argmin(level)), level.shape)
        return (int(k), int(j), int(i))
    k, j, i = candidates[int(rng.integers(len(candidates)))]
    return (int(k), int(j), int(i))


def keep_main_component(mask: npt.NDArray[np.bool_], level: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """The connected part of the lesion that holds its deepest point (a lobe may come loose in rendering)."""
    labels, n = ndimage.label(mask)
    if n <= 1:
        return mask
    deepest = np.unravel_index(int(np.argmin(np.where(mask, level, np.inf))), mask.shape)
    return np.asarray(labels == labels[deepest])


def patch_volume(patch: LesionPatch, origin: tuple[float, float, float] = (-50.0, -60.0, -400.0)) -> Volume:
    """The patch as an axial `Volume` (identity orientation: columns +x, rows +y, slices +z) with slice UIDs."""
    uid = "2.25.1234567"
    info = SeriesInfo(
        study_uid=uid + ".1",
        series_uid=uid + ".2",
        frame_of_reference_uid=uid + ".3",
        sop_instance_uids=tuple(f"{uid}.4.{k + 1}" for k in range(patch.image.shape[0])),
        frame_numbers=tuple(1 for _ in range(patch.image.shape[0])),
        slice_thickness_mm=patch.spacing[0],
    )
    direction = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    return Volume(
        array=np.rint(patch.image).astype(np.int16),
        spacing=patch.spacing,
        origin=np.asarray(origin, dtype=np.float64),
        direction=direction,
        info=info,
    )
