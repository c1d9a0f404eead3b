"""Damaged files never crash discovery or loading: each is skipped or refused with a message naming it."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from imaging import DicomLoadError, discover, load_series
from tests.dicom.ct_writer import write_ct_series


@pytest.mark.parametrize(
    "syntax",
    [
        "1.2.840.10008.1.2.1",
        "1.2.840.10008.1.2",
        "1.2.840.10008.1.2.5",
        "1.2.840.10008.1.2.4.90",
        "1.2.840.10008.1.2.4.80",
    ],
)
def test_random_damage_gives_a_volume_or_a_clear_error(tmp_path: Path, syntax: str) -> None:
    pristine = write_ct_series(tmp_path / "src", n=3, transfer_syntax=syntax)
    original = [p.read_bytes() for p in pristine.paths]
    rng = np.random.default_rng(7)
    for trial in range(25):
        folder = tmp_path / f"t{trial}"
        folder.mkdir()
        for k, data in enumerate(original):
            blob = bytearray(data)
            if k == trial % 3:
                if trial % 2:
                    blob = blob[: int(rng.integers(0, len(blob)))]  # cut anywhere, header included
                else:
                    for pos in rng.integers(128, len(blob), size=8):  # flip bytes anywhere after the preamble
                        blob[pos] ^= 0xFF
            (folder / f"f{k}.dcm").write_bytes(bytes(blob))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom warns about the damage it meets; we only check the outcome
            found = discover(folder)
            for record in found:
                try:
                    volume = load_series(record)
                except DicomLoadError as exc:
                    assert str(exc)  # a message, and the caller decides
                    continue
                assert volume.array.shape[1:] == (32, 40)
                for w in volume.warnings:
                    assert w.message and (w.where or w.code in ("gantry-tilt",))
