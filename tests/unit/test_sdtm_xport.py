"""The SAS XPORT v5 writer: IBM floats exact, record layout, missing values, and what v5 cannot hold."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from workstation.export.xport import XportError, from_ibm_float, ibm_float, read_xport, write_xport


@pytest.mark.parametrize(
    ("value", "raw"),
    [
        (1.0, "4110000000000000"),
        (-1.0, "C110000000000000"),
        (100.0, "4264000000000000"),
        (0.5, "4080000000000000"),
        (0.0, "0000000000000000"),
        (None, "2E00000000000000"),
    ],
)
def test_ibm_float_matches_the_published_encoding(value: float | None, raw: str) -> None:
    assert ibm_float(value).hex().upper() == raw
    assert from_ibm_float(bytes.fromhex(raw)) == value


@pytest.mark.parametrize("value", [32.1, 5.0, 1e-5, 123456.789, -0.3, 2.0**-200, 1e70])
def test_ibm_float_round_trips_exactly(value: float) -> None:
    assert from_ibm_float(ibm_float(value)) == value


def test_write_and_read_back(tmp_path: Path) -> None:
    rows = [{"A": "x", "NUM": 1.5, "LONGTEXT": "Ünïcode-free latin-1"}, {"A": "", "NUM": None, "LONGTEXT": "b"}]
    p = write_xport(tmp_path / "t.xpt", "TEST", ["A", "NUM", "LONGTEXT"], rows, label="Test",
                    labels={"NUM": "A number"})
    data = p.read_bytes()
    assert len(data) % 80 == 0
    assert data.startswith(b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!")
    name, variables, back = read_xport(p)
    assert name == "TEST"
    assert [(v.name, v.numeric, v.length) for v in variables] == [("A", False, 1), ("NUM", True, 8),
                                                                   ("LONGTEXT", False, 20)]
    assert variables[1].label == "A number"
    assert back == [{"A": "x", "NUM": 1.5, "LONGTEXT": "Ünïcode-free latin-1"}, {"A": "", "NUM": None, "LONGTEXT": "b"}]
    namestr = data[80 * 8 : 80 * 8 + 140]
    assert struct.unpack(">h", namestr[:2])[0] == 2  # character
    assert namestr[8:16] == b"A       "


@pytest.mark.parametrize(
    ("dataset", "columns", "rows", "message"),
    [
        ("TOOLONGNAME", ["A"], [], "1-8 letters"),
        ("T", ["VARIABLE9"], [], "at most 8"),
        ("T", ["A"], [{"A": "x" * 201}], "200 bytes"),
        ("T", ["A"], [{"A": "日本"}], "Latin-1"),
    ],
)
def test_what_v5_cannot_hold_is_refused_clearly(tmp_path: Path, dataset: str, columns: list[str], rows: list,
                                                message: str) -> None:
    with pytest.raises(XportError, match=message):
        write_xport(tmp_path / "t.xpt", dataset, columns, rows)
