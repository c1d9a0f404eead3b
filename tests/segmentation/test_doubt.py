"""Doubt measured on the images around an outline (`segmentation.doubt`): no torch, no SimpleITK."""

from __future__ import annotations

import numpy as np

from imaging.volume import SeriesInfo, Volume
from segmentation.doubt import CONTINUES_RATIO, continues_beyond, no_lesion, outline_doubt, outline_measures

SPACING = (2.5, 0.8, 0.8)


def _grid(shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.meshgrid(*[np.arange(n) * s for n, s in zip(shape, SPACING, strict=True)], indexing="ij")


def ball_in_fat(wall: bool = False) -> tuple[Volume, np.ndarray, np.ndarray]:
    """A 24 mm, 55 HU ball in fat (-100 HU, noise 10 HU), optionally pressed into a 50 HU wall beyond x = 58 mm;
    returns the volume, the ball's mask and the mask of its half below y = 56 mm (an outline that stopped short)."""
    shape = (32, 140, 140)
    zz, yy, xx = _grid(shape)
    ball = np.sqrt((zz - 40.0) ** 2 + (yy - 56.0) ** 2 + (xx - 52.0) ** 2) < 12.0
    image = np.full(shape, -100.0)
    if wall:
        image[xx > 58.0] = 50.0
    image[ball] = 55.0
    image += np.random.default_rng(5).normal(0.0, 10.0, size=shape)
    info = SeriesInfo(
        study_uid="1.2.3", series_uid="1.2.3.4", sop_instance_uids=tuple(f"1.2.3.4.{k}" for k in range(32))
    )
    volume = Volume(np.rint(image).astype(np.int16), SPACING, np.zeros(3), np.eye(3), info)
    return volume, ball, ball & (yy < 56.0)


def quarter(half: np.ndarray) -> np.ndarray:
    """The part of ``half`` below x = 50 mm: an outline that stopped far short, most of the lesion beyond it."""
    return half & (np.arange(half.shape[2])[None, None, :] * SPACING[2] < 50.0)


def test_a_whole_lesion_in_fat_has_nothing_of_its_density_carrying_on():
    volume, ball, _ = ball_in_fat()
    image = volume.array.astype(np.float32)
    assert continues_beyond(image, ball, SPACING) < 0.05
    assert outline_doubt(image, ball, SPACING) is None
    assert continues_beyond(image, np.zeros_like(ball), SPACING) == 0.0


def test_an_outline_that_stopped_short_inside_the_lesion_is_doubted():
    volume, _, half = ball_in_fat()
    image = volume.array.astype(np.float32)
    # The other half of the ball lies beyond it: about its own volume, within the 8 mm reach (less the far cap); the
    # cut face is a quarter of the shell around it, all of the lesion's density.
    assert 0.5 < continues_beyond(image, half, SPACING) < 1.2
    doubt = outline_doubt(image, half, SPACING)
    assert doubt is not None and "own density" in doubt
    assert continues_beyond(image, quarter(half), SPACING) > CONTINUES_RATIO
    doubt = outline_doubt(image, quarter(half), SPACING)
    assert doubt is not None and "carries on" in doubt


def test_a_lesion_against_a_wall_of_its_own_density_is_doubted():
    volume, ball, _ = ball_in_fat(wall=True)
    image = volume.array.astype(np.float32)
    assert continues_beyond(image, ball, SPACING) > 0.5  # the wall carries on from it
    doubt = outline_doubt(image, ball, SPACING)  # and its shell is a wall of the lesion's density: the edge is unseen
    assert doubt is not None and "own density" in doubt


def test_no_lesion_is_an_outline_without_an_edge_or_a_speck_of_what_surrounds_it():
    volume, ball, _ = ball_in_fat()
    image = volume.array.astype(np.float32)
    lesion = outline_measures(image, ball, SPACING)
    assert lesion.same_density < 0.05 and abs(lesion.volume_ml - 7.2) < 0.6 and no_lesion(lesion) is None
    plain = np.where(ball, image - 155.0, image)  # the ball painted over with fat
    blob = outline_measures(plain, ball, SPACING)
    reason = no_lesion(blob)
    assert blob.same_density > 0.9 and reason is not None and "no edge" in reason
    speck = np.zeros_like(ball)
    speck[15:17, 68:72, 63:67] = True  # 2 slices x 3.2 mm x 3.2 mm inside the lesion (0.05 mL)
    inside = outline_measures(image, speck, SPACING)
    assert inside.volume_ml < 0.1 and inside.continues > 25
    reason = no_lesion(inside)
    assert reason is not None and ("speck" in reason or "no edge" in reason)
