"""The `auto` engine's reconciliation of two outlines (stub engines: no torch, no SimpleITK)."""

from __future__ import annotations

import numpy as np
import pytest

from segmentation.base import Provenance, SegmentationError, SegmentationResult
from segmentation.engines.consensus import ConsensusSegmenter, overlap_dice


class Stub:
    def __init__(
        self, name: str, box: tuple[slice, ...] | None, confidence: float, offset=(0, 0, 0), unbounded=False
    ) -> None:
        self.name, self.box, self.confidence, self.offset = name, box, confidence, offset
        self.unbounded = unbounded

    def segment(self, volume, seed_mm, hints=None, cancel=None):
        if self.box is None:
            raise SegmentationError(f"{self.name}: no lesion found")
        mask = np.zeros((10, 20, 20), dtype=bool)
        mask[self.box] = True
        return SegmentationResult(mask, self.offset, Provenance(self.name), self.confidence, [], self.unbounded)


CUBE = (slice(2, 8), slice(5, 15), slice(5, 15))
ELSEWHERE = (slice(2, 8), slice(0, 4), slice(0, 4))


def run(a: Stub, b: Stub) -> SegmentationResult:
    """The reconciliation alone: no images, so no judging of the returned outline against them."""
    auto = ConsensusSegmenter(a, b)
    auto.outline_check = auto.refuse_without_edge = False
    return auto.segment(None, (0.0, 0.0, 0.0))  # type: ignore[arg-type]


def test_agreeing_engines_give_the_more_confident_outline_unflagged():
    result = run(Stub("monai", CUBE, 0.7), Stub("classical", CUBE, 0.9))
    assert result.provenance.engine == "classical" and not result.low_confidence and not result.warnings


def test_a_confident_model_outline_is_kept_beside_a_more_confident_classical_one_that_differs():
    """Where the model was confident and the outlines differed, the classical engine's more confident outline was the
    worse (validation seeds 777-782): the model's is kept, flagged as disputed."""
    result = run(Stub("monai", CUBE, 0.6), Stub("classical", ELSEWHERE, 1.0))
    assert result.provenance.engine == "monai" and result.low_confidence
    assert any("disagree" in w for w in result.warnings)


def test_a_tie_goes_to_the_model():
    assert run(Stub("monai", CUBE, 0.8), Stub("classical", CUBE, 0.8)).provenance.engine == "monai"


def test_confident_engines_that_disagree_are_flagged_and_say_so():
    result = run(Stub("monai", CUBE, 0.9), Stub("classical", ELSEWHERE, 0.8))
    assert result.provenance.engine == "monai"
    assert result.low_confidence
    assert any("disagree" in w and "Dice 0.00" in w for w in result.warnings)


def test_of_two_doubtful_outlines_the_models_is_returned_still_flagged():
    """The classical engine's outline, unconfident itself, is not preferred even when a little less doubtful."""
    result = run(Stub("monai", ELSEWHERE, 0.1), Stub("classical", CUBE, 0.4))
    assert result.provenance.engine == "monai" and result.low_confidence


def test_an_unconfident_dissenter_does_not_flag_the_confident_outline():
    result = run(Stub("monai", ELSEWHERE, 0.2), Stub("classical", CUBE, 0.95))
    assert result.provenance.engine == "classical" and not result.low_confidence


def test_one_engine_finding_nothing_flags_the_other_outline():
    result = run(Stub("monai", None, 0.0), Stub("classical", CUBE, 1.0))
    assert result.provenance.engine == "classical" and result.low_confidence
    assert any("monai engine found no lesion" in w for w in result.warnings)


def test_both_finding_nothing_is_the_models_refusal():
    with pytest.raises(SegmentationError, match="monai: no lesion"):
        run(Stub("monai", None, 0.0), Stub("classical", None, 0.0))
    # the model sees nothing and the classical outline is doubtful itself (a click in fat): no lesion either
    doubtful = r"monai: no lesion found; the classical engine's outline is uncertain too \(normal tissue\?\)"
    with pytest.raises(SegmentationError, match=doubtful):
        run(Stub("monai", None, 0.0), Stub("classical", CUBE, 0.3))


def test_overlap_dice_places_masks_with_different_offsets_in_one_box():
    a = Stub("a", CUBE, 1.0).segment(None, None)
    shifted = Stub("b", (slice(2, 8), slice(0, 10), slice(0, 10)), 1.0, offset=(0, 5, 5)).segment(None, None)
    assert overlap_dice(a, shifted) == pytest.approx(1.0)
    half = Stub("c", CUBE, 1.0, offset=(3, 0, 0)).segment(None, None)
    assert overlap_dice(a, half) == pytest.approx(0.5)


def test_an_outline_running_to_the_edge_loses_to_a_closed_one_even_if_more_confident():
    result = run(Stub("monai", CUBE, 0.45, unbounded=True), Stub("classical", ELSEWHERE, 0.2))
    assert result.provenance.engine == "classical" and result.low_confidence
    result = run(Stub("monai", CUBE, 0.3), Stub("classical", ELSEWHERE, 0.9, unbounded=True))
    assert result.provenance.engine == "monai"


class MaskStub:
    """An engine returning a given mask (on the whole volume's grid) with full confidence."""

    def __init__(self, name: str, mask: np.ndarray) -> None:
        self.name, self.mask = name, mask

    def segment(self, volume, seed_mm, hints=None, cancel=None):
        return SegmentationResult(self.mask.copy(), (0, 0, 0), Provenance(self.name), 0.95, [], False)


def test_the_returned_outline_is_judged_against_the_images():
    """Both engines agree and are confident, yet the outline stopped short inside the lesion (the lesion's density
    carries on beyond it): auto flags it and says why; the whole lesion's outline passes."""
    from tests.segmentation.test_doubt import ball_in_fat, quarter

    volume, ball, half = ball_in_fat()
    short_of_it = quarter(half)
    whole = ConsensusSegmenter(MaskStub("monai", ball), MaskStub("classical", ball)).segment(volume, (0.0, 0.0, 0.0))
    assert not whole.low_confidence and not whole.warnings
    short = ConsensusSegmenter(MaskStub("monai", short_of_it), MaskStub("classical", short_of_it)).segment(
        volume, (0.0, 0.0, 0.0)
    )
    assert short.low_confidence and short.provenance.engine == "monai"
    assert any("carries on from the outline" in w for w in short.warnings)


def test_an_outline_with_no_edge_is_no_lesion_unless_the_reader_drew_one():
    """Both engines draw a blob in plain fat (a click in normal tissue; the model draws one wherever it is clicked):
    auto refuses it as no lesion, with the reason; with a line drawn by the reader it is offered, flagged."""
    from segmentation.base import SegmentationHints
    from tests.segmentation.test_doubt import ball_in_fat

    volume, ball, _ = ball_in_fat()
    fat = volume.array.astype(np.int16)
    fat[ball] = -100 + (fat[ball] - 55)  # the ball painted over with fat: nothing stands out
    volume.array[...] = fat
    auto = ConsensusSegmenter(MaskStub("monai", ball), MaskStub("classical", ball))
    with pytest.raises(SegmentationError, match=r"no lesion found at \(1\.0, 2\.0, 3\.0\) mm: .* no edge"):
        auto.segment(volume, (1.0, 2.0, 3.0))
    drawn = auto.segment(volume, (1.0, 2.0, 3.0), SegmentationHints(line_mm=((0.0, 0.0, 0.0), (20.0, 0.0, 0.0))))
    assert drawn.low_confidence and any("own density" in w for w in drawn.warnings)
    volume, ball, _ = ball_in_fat()  # the lesion itself passes
    lesion = ConsensusSegmenter(MaskStub("monai", ball), MaskStub("classical", ball)).segment(volume, (0.0, 0.0, 0.0))
    assert not lesion.low_confidence
