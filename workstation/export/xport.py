"""SAS transport (XPORT) version 5 files, the format regulators accept for SDTM datasets: a small writer and reader.

Layout (SAS technical note TS-140): 80-byte records; a library header, then per dataset a member header, a 140-byte
NAMESTR per variable and the observations. Numbers are 8-byte IBM System/360 floating point (big-endian, base 16);
a missing number is ``.`` (0x2E followed by zeros). Character values are blank-padded, at most 200 bytes.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

RECORD = 80
_LIBRARY = "HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!000000000000000000000000000000  "
_MEMBER = "HEADER RECORD*******MEMBER  HEADER RECORD!!!!!!!000000000000000001600000000140  "
_DSCRPTR = "HEADER RECORD*******DSCRPTR HEADER RECORD!!!!!!!000000000000000000000000000000  "
_NAMESTR = "HEADER RECORD*******NAMESTR HEADER RECORD!!!!!!!000000{:04d}00000000000000000000  "
_OBS = "HEADER RECORD*******OBS     HEADER RECORD!!!!!!!000000000000000000000000000000  "
_NAMESTR_FMT = ">hhhh8s40s8shhh2s8shhl52s"
_MISSING = b"\x2e" + b"\x00" * 7


class XportError(ValueError):
    """Data that XPORT v5 cannot hold (a long name, a non-Latin-1 character...); the message says which."""


@dataclass(frozen=True)
class Variable:
    name: str
    label: str
    numeric: bool
    length: int


def ibm_float(value: float | None) -> bytes:
    """``value`` as an 8-byte IBM hexadecimal float (exact for every double that fits the 56-bit fraction)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return _MISSING
    if value == 0:
        return b"\x00" * 8
    if math.isinf(value):
        raise XportError("XPORT cannot hold an infinite number")
    sign = 0x80 if value < 0 else 0
    m, p = math.frexp(abs(value))  # abs(value) = m * 2**p, 0.5 <= m < 1
    e16 = -(-p // 4)  # ceil(p / 4): the fraction m * 2**(p - 4*e16) lies in [1/16, 1)
    shift = 56 + p - 4 * e16 - 53  # 53-bit integer mantissa -> 56-bit fraction
    mantissa = int(m * (1 << 53))
    mantissa = mantissa << shift if shift >= 0 else mantissa >> -shift
    if not 0 <= e16 + 64 <= 127:
        raise XportError(f"{value!r} is out of the IBM float range")
    return bytes([sign | (e16 + 64)]) + mantissa.to_bytes(7, "big")


def from_ibm_float(raw: bytes) -> float | None:
    if raw[1:] == b"\x00" * 7 and raw[0] in {0x2E, 0x5F, *range(0x41, 0x5B)}:
        return None
    if raw == b"\x00" * 8:
        return 0.0
    sign = -1.0 if raw[0] & 0x80 else 1.0
    exponent = (raw[0] & 0x7F) - 64
    mantissa = int.from_bytes(raw[1:], "big")
    return sign * math.ldexp(mantissa, 4 * exponent - 56)


def _sas_datetime(when: datetime) -> str:
    return when.strftime("%d%b%y:%H:%M:%S").upper()


def _text(value: str, length: int, what: str) -> bytes:
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        raise XportError(f"{what}: {value!r} has characters XPORT cannot hold (Latin-1 only)") from None
    if len(raw) > length:
        raise XportError(f"{what}: {value!r} is longer than {length} bytes")
    return raw.ljust(length, b" ")


def _pad(buf: bytearray) -> None:
    buf.extend(b" " * (-len(buf) % RECORD))


def infer_variables(columns: Sequence[str], rows: Sequence[Mapping[str, Any]],
                    labels: Mapping[str, str] | None = None) -> list[Variable]:
    """Numeric where every present value is a number, else character sized to the longest value."""
    out: list[Variable] = []
    for c in columns:
        present = [r.get(c) for r in rows if r.get(c) not in (None, "")]
        numeric = bool(present) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present)
        length = 8 if numeric else max([1] + [len(str(v).encode("latin-1", "replace")) for v in present])
        if length > 200:
            raise XportError(f"variable {c}: a value is longer than XPORT's 200 bytes")
        out.append(Variable(c, (labels or {}).get(c, c), numeric, length))
    return out


def write_xport(path: str | Path, dataset: str, columns: Sequence[str], rows: Sequence[Mapping[str, Any]],
                label: str = "", labels: Mapping[str, str] | None = None,
                created: datetime | None = None) -> Path:
    """One dataset ``dataset`` (<= 8 characters) with ``columns`` as a version 5 transport file."""
    if not dataset or len(dataset) > 8 or not dataset.isalnum():
        raise XportError(f"dataset name {dataset!r}: XPORT v5 needs 1-8 letters or digits")
    variables = infer_variables(columns, rows, labels)
    for v in variables:
        if len(v.name) > 8 or not v.name.replace("_", "").isalnum():
            raise XportError(f"variable name {v.name!r}: XPORT v5 needs at most 8 letters, digits or _")
    stamp = _sas_datetime(created or datetime.now()).encode("ascii")
    buf = bytearray()
    buf += _LIBRARY.encode("ascii")
    buf += b"SAS     SAS     SASLIB  9.4     " + b"Linux   " + b" " * 24 + stamp
    buf += stamp + b" " * 64
    buf += _MEMBER.encode("ascii") + _DSCRPTR.encode("ascii")
    buf += b"SAS     " + _text(dataset.upper(), 8, "dataset") + b"SASDATA 9.4     Linux   " + b" " * 24 + stamp
    buf += stamp + b" " * 16 + _text(label[:40], 40, "dataset label") + b" " * 8
    buf += _NAMESTR.format(len(variables)).encode("ascii")
    position = 0
    for number, v in enumerate(variables, start=1):
        buf += struct.pack(
            _NAMESTR_FMT, 1 if v.numeric else 2, 0, v.length, number, _text(v.name, 8, "variable name"),
            _text(v.label[:40], 40, f"label of {v.name}"), b" " * 8, 0, 0, 0, b"\x00\x00", b" " * 8, 0, 0, position,
            b"\x00" * 52,
        )
        position += v.length
    _pad(buf)
    buf += _OBS.encode("ascii")
    for index, row in enumerate(rows, start=1):
        for v in variables:
            value = row.get(v.name)
            if v.numeric:
                buf += ibm_float(None if value in (None, "") else float(value))
            else:
                buf += _text("" if value is None else str(value), v.length, f"row {index} {v.name}")
    _pad(buf)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_bytes(bytes(buf))
    tmp.replace(p)
    return p


def read_xport(path: str | Path) -> tuple[str, list[Variable], list[dict[str, Any]]]:
    """The first dataset of a version 5 transport file: (name, variables, rows). Trailing blanks are stripped."""
    data = Path(path).read_bytes()
    if not data.startswith(_LIBRARY.encode("ascii")):
        raise XportError(f"{path}: not a SAS XPORT v5 file")
    name = data[RECORD * 5 + 8 : RECORD * 5 + 16].decode("latin-1").strip()
    header = data[RECORD * 7 : RECORD * 8].decode("ascii")
    if not header.startswith("HEADER RECORD*******NAMESTR"):
        raise XportError(f"{path}: NAMESTR header not where version 5 puts it")
    count = int(header[54:58])
    start = RECORD * 8
    variables: list[Variable] = []
    for n in range(count):
        fields = struct.unpack(_NAMESTR_FMT, data[start + 140 * n : start + 140 * (n + 1)])
        variables.append(Variable(fields[4].decode("latin-1").strip(), fields[5].decode("latin-1").strip(),
                                  fields[0] == 1, fields[2]))
    obs_header = start + 140 * count
    obs_header += -obs_header % RECORD
    if not data[obs_header : obs_header + RECORD].startswith(b"HEADER RECORD*******OBS"):
        raise XportError(f"{path}: OBS header missing")
    body = data[obs_header + RECORD :]
    width = sum(v.length for v in variables)
    rows: list[dict[str, Any]] = []
    for offset in range(0, len(body) - width + 1, width):
        chunk = body[offset : offset + width]
        if chunk.strip(b" ") == b"" and len(body) - offset < RECORD:
            break  # blank padding of the last record
        row: dict[str, Any] = {}
        pos = 0
        for v in variables:
            raw = chunk[pos : pos + v.length]
            row[v.name] = from_ibm_float(raw) if v.numeric else raw.decode("latin-1").rstrip(" ")
            pos += v.length
        rows.append(row)
    return name, variables, rows
