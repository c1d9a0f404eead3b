"""Lesion masks on disk, keyed by `Measurement.mask_ref`, for DICOM SEG export and for redrawing outlines.

A mask is stored as its bounding crop (compressed .npz) with the offset in the source series, the series' shape and the
identifiers needed to reference the source images. Writes are atomic (temporary file + rename), so a crash never leaves
a half-written mask.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class StoredMask:
    mask: npt.NDArray[np.bool_]
    offset: tuple[int, int, int]
    volume_shape: tuple[int, int, int]
    series_uid: str
    frame_of_reference_uid: str
    #: SOP Instance UIDs of the source slices covered by the crop, in crop order.
    sop_instance_uids: tuple[str, ...]

    def full_mask(self) -> npt.NDArray[np.bool_]:
        out = np.zeros(self.volume_shape, dtype=bool)
        k, j, i = self.offset
        dk, dj, di = self.mask.shape
        out[k : k + dk, j : j + dj, i : i + di] = self.mask
        return out


class MaskStoreError(Exception):
    pass


class MaskStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def save(
        self,
        mask: npt.NDArray[np.bool_],
        offset: tuple[int, int, int],
        volume_shape: tuple[int, int, int],
        series_uid: str,
        frame_of_reference_uid: str = "",
        sop_instance_uids: tuple[str, ...] = (),
    ) -> str:
        """Store the tight bounding crop of ``mask`` (placed at ``offset`` in the series) and return its key."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            raise MaskStoreError("refusing to store an empty mask")
        nz = np.nonzero(mask)
        lo = [int(a.min()) for a in nz]
        hi = [int(a.max()) + 1 for a in nz]
        crop = mask[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
        new_offset = tuple(int(o) + lo_i for o, lo_i in zip(offset, lo, strict=True))
        sops = tuple(sop_instance_uids[lo[0] : hi[0]]) if sop_instance_uids else ()
        key = uuid.uuid4().hex
        self.root.mkdir(parents=True, exist_ok=True)
        meta = {
            "offset": list(new_offset),
            "volume_shape": [int(x) for x in volume_shape],
            "series_uid": series_uid,
            "frame_of_reference_uid": frame_of_reference_uid,
            "sop_instance_uids": list(sops),
        }
        fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez_compressed(fh, mask=np.packbits(crop, axis=None), shape=np.array(crop.shape),
                                    meta=np.array(json.dumps(meta)))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.root / f"{key}.npz")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return key

    def load(self, key: str) -> StoredMask:
        path = self.root / f"{key}.npz"
        try:
            with np.load(path) as data:
                shape = tuple(int(x) for x in data["shape"])
                bits = np.unpackbits(data["mask"], count=int(np.prod(shape)))
                meta = json.loads(str(data["meta"]))
        except FileNotFoundError:
            raise MaskStoreError(f"mask {key} is missing from {self.root}") from None
        except (ValueError, KeyError, OSError) as exc:
            raise MaskStoreError(f"mask file {path} is unreadable: {exc}") from None
        return StoredMask(
            mask=bits.reshape(shape).astype(bool),
            offset=(int(meta["offset"][0]), int(meta["offset"][1]), int(meta["offset"][2])),
            volume_shape=(int(meta["volume_shape"][0]), int(meta["volume_shape"][1]), int(meta["volume_shape"][2])),
            series_uid=str(meta["series_uid"]),
            frame_of_reference_uid=str(meta.get("frame_of_reference_uid", "")),
            sop_instance_uids=tuple(meta.get("sop_instance_uids", [])),
        )

    def delete(self, key: str) -> None:
        (self.root / f"{key}.npz").unlink(missing_ok=True)
