"""The measuring service: a click in patient mm -> the engine's suggested outline and RECIST axes -> a Measurement.

`suggest` is slow (it runs the segmentation engine) and is called from a worker thread; `accept` is quick and stores
the mask with `workstation.mask_store.MaskStore` so it can be redrawn and exported as DICOM SEG.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from imaging.cancel import CancelToken
from imaging.volume import Volume
from segmentation.base import (
    SegmentationError,
    SegmentationHints,
    SegmentationResult,
    Segmenter,
    flag_undecodable_slices,
    undecodable_click,
)
from workstation.mask_store import MaskStore
from workstation.read_model import Measurement, MeasurementOrigin, Point

#: (mask, volume, offset, *, is_node) -> RecistAxes; a node is measured on the slice of its longest short axis.
AxesFunction = Callable[..., Any]


class SuggestionUnavailable(Exception):
    """No engine can make a suggestion here (engine missing, click outside any lesion); the reader draws by hand."""


@dataclass
class Suggestion:
    """An engine's proposal: never counted until the reader accepts or adjusts it."""

    measurement: Measurement
    result: SegmentationResult
    slice_index: int
    seed_mm: Point
    warnings: list[str]
    #: the outline already written to the mask store by the worker (`MeasuringService.keep_mask`)
    mask_ref: str | None = None
    #: measured as a lymph node (on the slice of its longest short axis), as `MeasuringService.remeasure` may change
    is_node: bool = False

    def outline_mask(self, volume_shape: tuple[int, int, int], slice_index: int) -> npt.NDArray[np.bool_] | None:
        """The 2-D mask on one axial slice (None where the mask does not reach it)."""
        k0, j0, i0 = self.result.offset
        dk = slice_index - k0
        if not 0 <= dk < self.result.mask.shape[0]:
            return None
        out = np.zeros(volume_shape[1:], dtype=bool)
        m = self.result.mask[dk]
        out[j0 : j0 + m.shape[0], i0 : i0 + m.shape[1]] = m
        return out


def _default_segmenter() -> Segmenter:
    try:
        from segmentation.engines import create_segmenter  # type: ignore[attr-defined,unused-ignore]
    except ImportError as exc:
        raise SuggestionUnavailable(f"no segmentation engine is installed ({exc}); measure by hand") from None
    return create_segmenter("auto")  # type: ignore[no-any-return,unused-ignore]


def _default_axes() -> AxesFunction:
    try:
        from segmentation.diameters import recist_axes
    except ImportError as exc:
        raise SuggestionUnavailable(f"the diameter module is missing ({exc}); measure by hand") from None
    return recist_axes  # type: ignore[no-any-return,unused-ignore]


def _pt(p: Any) -> Point:
    a = np.asarray(p, dtype=np.float64).reshape(3)
    return (float(a[0]), float(a[1]), float(a[2]))


class MeasuringService:
    def __init__(
        self,
        segmenter: Segmenter | None = None,
        axes: AxesFunction | None = None,
        mask_store: MaskStore | None = None,
    ) -> None:
        self._segmenter = segmenter
        self._axes = axes
        self.mask_store = mask_store
        self._lock = threading.Lock()

    @property
    def segmenter(self) -> Segmenter:
        with self._lock:  # created once, lazily (loading a model is slow), from whichever thread asks first
            if self._segmenter is None:
                self._segmenter = _default_segmenter()
            return self._segmenter

    def warm_up(self) -> None:
        """Create the engine and let it load its model now (seconds on a CPU), not on the reader's first click.
        An engine that cannot be created is left for the first click to report."""
        try:
            engine = self.segmenter
        except SuggestionUnavailable:
            return
        prepare = getattr(engine, "warm_up", None)
        if prepare is not None:
            try:
                prepare()
            except Exception:  # a failed warm-up is retried, and reported, by the first click
                return

    def warm_up_in_background(self) -> threading.Thread:
        """`warm_up` in a background thread (the app starts it as its window opens). Not a daemon: a process that
        ends while the model is loading waits for it (seconds) instead of being aborted by torch's native threads
        ("terminate called without an active exception", seen when the app was closed within seconds of opening)."""
        thread = threading.Thread(target=self.warm_up, name="segmenter-warm-up", daemon=False)
        thread.start()
        return thread

    def suggest(
        self, volume: Volume, seed_mm: Point, is_node: bool = False, cancel: CancelToken | None = None
    ) -> Suggestion:
        """Run the engine on a click (slow: call from a worker). Raises `SuggestionUnavailable` with the reason."""
        k, j, i = volume.nearest_voxel(seed_mm)
        if not volume.contains_voxel((k, j, i)):
            raise SuggestionUnavailable("the click is outside the images")
        on_air = undecodable_click(volume, k)
        if on_air is not None:
            raise SuggestionUnavailable(on_air)
        try:
            result = self.segmenter.segment(volume, seed_mm, SegmentationHints(is_lymph_node=is_node), cancel)
        except SegmentationError as exc:
            raise SuggestionUnavailable(str(exc)) from None
        if not result.mask.any():
            raise SuggestionUnavailable("the engine found no lesion at the click; measure by hand")
        flag_undecodable_slices(volume, result)
        measurement, slice_index = self._measure(result, volume, is_node)
        warnings = list(result.warnings)
        if result.low_confidence:
            warnings.insert(0, f"low confidence ({result.confidence:.2f}): check the outline before accepting")
        return Suggestion(measurement, result, slice_index, _pt(seed_mm), warnings, is_node=is_node)

    def remeasure(self, suggestion: Suggestion, volume: Volume, is_node: bool) -> Suggestion:
        """The same outline measured again as a lymph node or not (the reader said which after the click): a node on
        the slice of its longest short axis, any other lesion on that of its longest diameter (RECIST 1.1 sec. 4.2).
        The stored outline, warnings and provenance stay; milliseconds, fine on the GUI thread."""
        if suggestion.is_node == is_node:
            return suggestion
        measurement, slice_index = self._measure(suggestion.result, volume, is_node)
        return dataclasses.replace(suggestion, measurement=measurement, slice_index=slice_index, is_node=is_node)

    def _measure(self, result: SegmentationResult, volume: Volume, is_node: bool) -> tuple[Measurement, int]:
        axes_fn = self._axes or _default_axes()
        axes = axes_fn(result.mask, volume, result.offset, is_node=is_node)
        slice_index = int(axes.slice_index)
        prov = result.provenance
        short_ends = getattr(axes, "short_axis_endpoints", None)
        measurement = Measurement(
            long_axis_mm=round(float(axes.long_axis_mm), 2),
            short_axis_mm=None if axes.short_axis_mm is None else round(float(axes.short_axis_mm), 2),
            long_axis_endpoints=(_pt(axes.long_axis_endpoints[0]), _pt(axes.long_axis_endpoints[1])),
            short_axis_endpoints=None if short_ends is None else (_pt(short_ends[0]), _pt(short_ends[1])),
            series_uid=volume.info.series_uid,
            sop_instance_uid=getattr(axes, "sop_instance_uid", "") or volume.sop_instance_uid(slice_index),
            frame_of_reference_uid=volume.info.frame_of_reference_uid,
            slice_position_mm=round(volume.slice_position_mm(slice_index), 3),
            volume_ml=None if getattr(axes, "volume_ml", None) is None else round(float(axes.volume_ml), 3),
            origin=MeasurementOrigin.SUGGESTED,
            engine=prov.engine,
            model_id=prov.model_id,
            model_version=prov.model_version,
        )
        return measurement, slice_index

    def keep_mask(self, suggestion: Suggestion, volume: Volume) -> None:
        """Write the suggestion's outline to the mask store now (from the worker that found it: compressing and
        syncing takes tens of milliseconds, too long for the GUI thread); `discard` removes it if never accepted."""
        if self.mask_store is not None and suggestion.mask_ref is None:
            suggestion.mask_ref = self._save_mask(suggestion, volume)

    def discard(self, suggestion: Suggestion) -> None:
        """The suggestion was rejected, superseded or refused: its outline file goes too (no orphan masks)."""
        if self.mask_store is not None and suggestion.mask_ref is not None:
            self.mask_store.delete(suggestion.mask_ref)
            suggestion.mask_ref = None

    def accept(self, suggestion: Suggestion, volume: Volume, adjusted: Measurement | None = None) -> Measurement:
        """The measurement to record: ACCEPTED as suggested, or the reader's ADJUSTED version, referring to the
        stored mask (written now unless `keep_mask` already did). Call `discard` if the session then refuses it."""
        if adjusted is not None and adjusted.origin not in (MeasurementOrigin.ADJUSTED, MeasurementOrigin.SUGGESTED):
            raise ValueError("an adjusted suggestion must keep its engine provenance")
        base = adjusted if adjusted is not None and adjusted.origin is MeasurementOrigin.ADJUSTED else None
        m = base or dataclasses.replace(suggestion.measurement, origin=MeasurementOrigin.ACCEPTED)
        if self.mask_store is not None:
            self.keep_mask(suggestion, volume)
            m = dataclasses.replace(m, mask_ref=suggestion.mask_ref)
        return m

    def _save_mask(self, suggestion: Suggestion, volume: Volume) -> str:
        assert self.mask_store is not None
        r = suggestion.result
        k0 = r.offset[0]
        all_uids = volume.info.sop_instance_uids
        uids = tuple(all_uids[k0 : k0 + r.mask.shape[0]]) if all_uids else ()  # aligned with the crop's slices
        return self.mask_store.save(
            r.mask,
            r.offset,
            volume.shape,
            volume.info.series_uid,
            volume.info.frame_of_reference_uid,
            sop_instance_uids=uids,
        )
