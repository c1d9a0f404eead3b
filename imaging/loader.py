"""Load a CT series into a `Volume`: all at once (`load_series`) or progressively for the viewer (`SeriesLoader`).

One-shot::

    volume = load_series("exports/subject-001/")                 # the folder holds one series
    volume = load_series("exports/", series_uid="1.2.3...")      # pick one of several
    volume = load_series(record)                                 # a SeriesRecord from imaging.discover()

Progressive (for the GUI: the slice the reader looks at is decoded first)::

    loader = SeriesLoader(record)          # headers only: geometry known, array allocated (fast)
    view.show(loader.volume)               # loader.volume.array has its final shape and dtype from the start
    loader.load(first_slice=k, progress=cb, cancel=token)   # in a worker thread; decodes k, k+1, k-1, k+2, ...
    loader.loaded[k]                        # True once slice k holds its HU values (until then it reads 0)
    loader.failed                           # slices that could not be decoded (each also a LoadWarning)

``progress(done, total, message)`` is called after every decoded file (from the calling thread) and ``cancel``
(`imaging.cancel.CancelToken`) stops the work between files, raising `imaging.cancel.Cancelled`; slices decoded by then
stay valid. ``load`` may be called again after a cancel: it decodes only what is still missing.

Pixels are decoded by a thread pool (file reads and the compiled decoders release the GIL) directly into the
preallocated array, so peak memory stays close to the final array. Values are Hounsfield units: ``int16`` when every
slice has RescaleSlope 1 and an integral RescaleIntercept (exact), else ``float32``.

Every irregularity (duplicate, gap, uneven spacing, gantry tilt, truncated or undecodable file) is a `LoadWarning` on
``volume.warnings``; what cannot make a correct volume (mixed orientations, several series without a choice, no
geometry) raises `DicomLoadError` with a message naming the series, files or positions at fault.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from imaging.cancel import Cancelled, CancelToken, ProgressCallback, report
from imaging.decode import (
    INT16_MAX,
    INT16_MIN,
    NOT_DECODER_ERRORS,
    decode_frame_at,
    decode_frames,
    frame_spans,
    read_native_frame,
    store_hu,
    stored_dtype,
    stored_range,
)
from imaging.discovery import InstanceHeader, SeriesRecord, discover
from imaging.errors import DicomLoadError
from imaging.slice_geometry import SliceRef, StackGeometry, stack_geometry
from imaging.volume import UNDECODABLE_SLICE, LoadWarning, SeriesInfo, Volume

#: decoding threads: both cores of a small workstation, more where there are more.
DEFAULT_WORKERS = max(2, min(8, os.cpu_count() or 2))


@dataclass(frozen=True)
class _Task:
    """A unit of decoding: ``(frame_index, array slice k)`` pairs of one file; ``span`` locates a lone
    compressed frame in its file."""

    instance: InstanceHeader
    frames: tuple[tuple[int, int], ...]
    span: tuple[int, int] | None = None


def _plan_tasks(slices: list[SliceRef]) -> list[_Task]:
    """One task per frame wherever a frame can be read on its own (native data; compressed multi-frame objects whose
    frames are located by their offset table), so that decoding runs in parallel and starts at the viewed slice;
    otherwise one task per file."""
    spans: dict[Path, list[tuple[int, int]] | None] = {}
    frames: dict[tuple[Path, int], list[tuple[int, int]]] = {}
    owner: dict[tuple[Path, int], InstanceHeader] = {}
    for k, ref in enumerate(slices):
        inst = ref.instance
        alone = inst.is_native
        if inst.is_encapsulated and inst.number_of_frames > 1 and inst.pixel_value_offset >= 0:
            if inst.path not in spans:
                try:
                    spans[inst.path] = frame_spans(inst)
                except DicomLoadError:
                    spans[inst.path] = None  # decoded in one pass, where the damage is reported
            alone = spans[inst.path] is not None
        key = (inst.path, ref.frame_index if alone else -1)
        frames.setdefault(key, []).append((ref.frame_index, k))
        owner[key] = inst
    tasks = []
    for key, pairs in frames.items():
        table = spans.get(key[0])
        span = table[key[1]] if table is not None and key[1] >= 0 and key[1] < len(table) else None
        tasks.append(_Task(owner[key], tuple(pairs), span))
    return tasks


def choose_series(source: SeriesRecord | str | os.PathLike[str], series_uid: str | None = None) -> SeriesRecord:
    """The one series meant by ``source`` (a record, a file, or a folder plus an optional ``series_uid``)."""
    if isinstance(source, SeriesRecord):
        if series_uid and series_uid != source.series_uid:
            raise DicomLoadError(f"series {series_uid} asked for, but the record is series {source.series_uid}")
        return source
    found = discover(source)
    if series_uid:
        matches = [record for record in found if record.series_uid == series_uid]
        if len(matches) == 1:
            return matches[0]
        if matches:
            owners = "; ".join(f"patient {r.patient_id!r} study {r.study_uid}" for r in matches)
            raise DicomLoadError(f"{source}: series {series_uid} is used by {len(matches)} patients/studies: {owners}")
        listing = "; ".join(r.label() for r in found) or "none"
        raise DicomLoadError(f"{source}: series {series_uid} not found (series there: {listing})")
    if not found:
        why = ""
        if found.skipped:
            first = found.skipped[0]
            why = f" ({len(found.skipped)} file(s) skipped, e.g. {first.where}: {first.message})"
        raise DicomLoadError(f"{source}: no DICOM image series found{why}")
    if len(found) > 1:
        listing = "; ".join(r.label() for r in found)
        raise DicomLoadError(f"{source}: {len(found)} series found, choose one by series UID: {listing}")
    return found[0]


def _hu_dtype(slices: list[SliceRef]) -> tuple[np.dtype[np.generic], bool]:
    """(dtype of the HU array, whether int16 values may overflow and need checking)."""
    integral = all(
        ref.header.rescale_slope == 1.0 and float(ref.header.rescale_intercept).is_integer() for ref in slices
    )
    if not integral:
        return np.dtype(np.float32), False
    may_overflow = False
    for ref in slices:
        low, high = stored_range(ref.instance)
        offset = int(ref.header.rescale_intercept)
        if low + offset < INT16_MIN or high + offset > INT16_MAX:
            may_overflow = True
            break
    return np.dtype(np.int16), may_overflow


def _physical_memory() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def _check_memory(record: SeriesRecord, shape: tuple[int, int, int], dtype: np.dtype[np.generic]) -> None:
    """Refuse, with the numbers, an array this computer cannot hold (often a damaged Rows/Columns)."""
    need = shape[0] * shape[1] * shape[2] * dtype.itemsize
    have = _physical_memory()
    if have is not None and need > 0.75 * have:
        raise DicomLoadError(
            f"series {record.series_uid}: {shape[0]} slices of {shape[1]} x {shape[2]} need {need / 2**30:.1f} GiB, "
            f"more than this computer's {have / 2**30:.1f} GiB of memory allows"
        )


def _series_info(record: SeriesRecord, geometry: StackGeometry) -> SeriesInfo:
    first = geometry.slices[0]
    return SeriesInfo(
        study_uid=record.study_uid,
        series_uid=record.series_uid,
        frame_of_reference_uid=record.frame_of_reference_uid,
        modality=record.modality or "CT",
        study_date=record.study_date,
        acquisition_date=record.acquisition_date,
        study_description=record.study_description,
        series_description=record.series_description,
        series_number=record.series_number,
        slice_thickness_mm=first.header.slice_thickness,
        manufacturer=record.manufacturer,
        sop_class_uid=first.instance.sop_class_uid,
        sop_instance_uids=tuple(ref.instance.sop_instance_uid for ref in geometry.slices),
        frame_numbers=tuple(ref.frame_index + 1 for ref in geometry.slices),
        instance_numbers=tuple(ref.instance.instance_number for ref in geometry.slices),
    )


class SeriesLoader:
    """Progressive loading of one series; see the module docstring for the protocol the viewer follows."""

    def __init__(self, source: SeriesRecord | str | os.PathLike[str], series_uid: str | None = None) -> None:
        self.record = choose_series(source, series_uid)
        self.geometry = stack_geometry(self.record)
        slices = self.geometry.slices
        for ref in slices:
            stored_dtype(ref.instance)  # refuses unsupported bit depths before anything is allocated
        dtype, self._may_overflow = _hu_dtype(slices)
        _check_memory(self.record, self.geometry.shape, dtype)
        # np.zeros maps zero pages lazily: allocation is immediate and untouched slices cost nothing until decoded
        array = np.zeros(self.geometry.shape, dtype=dtype)
        self.volume = Volume(
            array=array,
            spacing=self.geometry.spacing,
            origin=self.geometry.origin,
            direction=self.geometry.direction,
            info=_series_info(self.record, self.geometry),
            patient=self.record.patient,
            slice_offsets_mm=self.geometry.offsets_mm,
            warnings=[*self.record.warnings, *self.geometry.warnings],
        )
        self.loaded: npt.NDArray[np.bool_] = np.zeros(len(slices), dtype=bool)
        self.failed: set[int] = set()
        self._lock = threading.Lock()
        self._scratch = threading.local()
        self._tasks = _plan_tasks(slices)

    @property
    def complete(self) -> bool:
        return bool(self.loaded.all())

    def _buffer(self, inst: InstanceHeader) -> npt.NDArray[np.generic]:
        dtype = stored_dtype(inst)
        buf: npt.NDArray[np.generic] | None = getattr(self._scratch, "buf", None)
        if buf is None or buf.dtype != dtype or buf.shape != (inst.rows, inst.columns):
            buf = np.empty((inst.rows, inst.columns), dtype=dtype)
            self._scratch.buf = buf
        return buf

    def _store(self, k: int, values: npt.NDArray[np.generic]) -> None:
        header = self.geometry.slices[k].header
        out = self.volume.array[k]
        clipped = store_hu(values, header.rescale_slope, header.rescale_intercept, out, self._may_overflow)
        if clipped:
            with self._lock:
                self.volume.warnings.append(
                    LoadWarning(
                        "hu-clipped",
                        f"{clipped} voxels beyond the int16 range clipped in slice {k} at "
                        f"{self.geometry.positions_mm[k]:.2f} mm",
                        self.geometry.slices[k].where,
                    )
                )

    def _run(self, task: _Task, cancel: CancelToken | None) -> list[int]:
        if cancel is not None and cancel.cancelled:
            return []
        inst = task.instance
        done: list[int] = []
        try:
            if inst.is_native:
                for frame_index, k in task.frames:
                    header = self.geometry.slices[k].header
                    out = self.volume.array[k]
                    if out.dtype == np.int16 and inst.bits_allocated == 16 and header.rescale_slope == 1.0:
                        # straight from the file into the array, then the intercept in place: no extra copy
                        stored = out.view(stored_dtype(inst))
                        read_native_frame(inst, frame_index, stored)
                        if header.rescale_intercept or self._may_overflow:
                            self._store(k, stored)
                    else:
                        buf = self._buffer(inst)
                        read_native_frame(inst, frame_index, buf)
                        self._store(k, buf)
                    done.append(k)
            elif task.span is not None:
                ((_, k),) = task.frames
                self._store(k, decode_frame_at(inst, task.span))
                done.append(k)
            else:
                slice_of = dict(task.frames)
                for frame_index, values in decode_frames(inst, sorted(slice_of)):
                    self._store(slice_of[frame_index], values)
                    done.append(slice_of[frame_index])
        except DicomLoadError as exc:
            self._fail(task, str(exc), done)
        except NOT_DECODER_ERRORS:
            raise
        except BaseException as exc:  # a decoder bug on one file must not lose the series
            self._fail(task, f"{inst.path}: {type(exc).__name__}: {exc}", done)
        with self._lock:
            self.loaded[done] = True
        return done

    def _fail(self, task: _Task, reason: str, done: list[int]) -> None:
        floor = -1024 if self.volume.array.dtype == np.int16 else -1024.0
        with self._lock:
            for _, k in task.frames:
                if k in done:
                    continue
                self.volume.array[k] = floor
                self.failed.add(k)
                self.volume.warnings.append(
                    LoadWarning(
                        UNDECODABLE_SLICE,
                        f"slice {k} at {self.geometry.positions_mm[k]:.2f} mm could not be decoded and is shown "
                        f"as air: {reason}",
                        self.geometry.slices[k].where,
                        slice_index=k,
                    )
                )

    def load(
        self,
        first_slice: int | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        workers: int | None = None,
        on_slices: Callable[[list[int]], None] | None = None,
    ) -> Volume:
        """Decode every slice not yet loaded, nearest to ``first_slice`` first (default: the middle slice).

        ``on_slices(ks)`` (optional) is called, from this thread, with the slices each finished file filled in.
        Raises `Cancelled` when ``cancel`` fires, `DicomLoadError` when no slice at all could be decoded.
        """
        n = len(self.geometry.slices)
        centre = n // 2 if first_slice is None else min(max(int(first_slice), 0), n - 1)
        pending = [t for t in self._tasks if not all(self.loaded[k] or k in self.failed for _, k in t.frames)]
        pending.sort(key=lambda t: min(abs(k - centre) for _, k in t.frames))
        total, done = len(self._tasks), len(self._tasks) - len(pending)
        n_workers = max(1, workers or DEFAULT_WORKERS)
        if n_workers == 1 or len(pending) <= 1:
            for task in pending:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                ks = self._run(task, cancel)
                done += 1
                if on_slices is not None and ks:
                    on_slices(ks)
                report(progress, done, total, task.instance.path.name)
        else:
            with ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="dicom-decode") as pool:
                futures: list[Future[list[int]]] = [pool.submit(self._run, t, cancel) for t in pending]
                try:
                    # as_completed is O(n) overall; a cancel is seen after the file in hand, and the tasks still
                    # queued return at once (each checks the token before starting)
                    for future in as_completed(futures):
                        ks = future.result()
                        done += 1
                        if on_slices is not None and ks:
                            on_slices(ks)
                        report(progress, done, total, f"{done}/{total} files")
                        if cancel is not None and cancel.cancelled:
                            raise Cancelled("loading cancelled by the user")
                finally:
                    for future in futures:
                        future.cancel()
        if cancel is not None:
            cancel.raise_if_cancelled()
        if self.failed and len(self.failed) == n:
            first = next(w for w in self.volume.warnings if w.code == UNDECODABLE_SLICE)
            why = first.message.split(" shown as air: ", 1)[-1]  # the reason, not "shown as air": nothing is shown
            raise DicomLoadError(f"series {self.record.series_uid}: no slice could be decoded (e.g. {why})")
        return self.volume


def load_series(
    path_or_record: SeriesRecord | str | os.PathLike[str],
    series_uid: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Volume:
    """Load one series as a `Volume` in HU, sorted along the slice normal. See the module docstring."""
    return SeriesLoader(path_or_record, series_uid).load(progress=progress, cancel=cancel)
