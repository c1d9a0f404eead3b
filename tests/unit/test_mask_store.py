"""Mask storage: tight crops, exact round trip, atomic writes, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workstation.mask_store import MaskStore, MaskStoreError


def test_round_trip_keeps_the_mask_and_its_place(tmp_path: Path) -> None:
    full = np.zeros((10, 32, 32), dtype=bool)
    full[3:6, 10:20, 5:9] = True
    full[4, 21, 9] = True
    store = MaskStore(tmp_path)
    crop = full[2:8, 5:30, 2:20]
    key = store.save(crop, (2, 5, 2), full.shape, "1.2.3", "1.2.9", tuple(f"sop{k}" for k in range(2, 8)))
    stored = store.load(key)
    assert np.array_equal(stored.full_mask(), full)
    assert stored.offset == (3, 10, 5)
    assert stored.sop_instance_uids == ("sop3", "sop4", "sop5")
    assert list(tmp_path.glob("*.tmp")) == []


def test_empty_missing_and_corrupt_masks_give_clear_errors(tmp_path: Path) -> None:
    store = MaskStore(tmp_path)
    with pytest.raises(MaskStoreError, match="empty"):
        store.save(np.zeros((2, 2, 2), bool), (0, 0, 0), (2, 2, 2), "1")
    with pytest.raises(MaskStoreError, match="missing"):
        store.load("nope")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(MaskStoreError, match="unreadable"):
        store.load("bad")
