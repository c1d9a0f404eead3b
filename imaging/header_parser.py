"""A fast reader of the top-level header of a DICOM Part 10 file, for indexing many files quickly.

It understands the common case only (preamble + file meta, implicit or explicit VR little endian, native or
encapsulated pixel data) and reads just the elements discovery needs, skipping every other value (sequences included)
without decoding it. Anything else (deflate, big endian, enhanced multi-frame functional groups, odd encodings, a
header longer than ``MAX_HEADER_BYTES``) returns ``None`` and the caller falls back to pydicom, which is the reference.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom.datadict import tag_for_keyword

MAX_HEADER_BYTES = 1 << 20
_FIRST_READ = 16384
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT", b"SV", b"UV"}
_ALL_VRS = {
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"OB", b"OD", b"OF", b"OL",
    b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM", b"UC", b"UI", b"UL", b"UN", b"UR", b"US",
    b"UT", b"UV",
}  # fmt: skip
_US_KEYWORDS = {"Rows", "Columns", "BitsAllocated", "BitsStored", "PixelRepresentation", "SamplesPerPixel"}
_FALLBACK_KEYWORDS = {"SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"}
_PIXEL_TAGS = {0x7FE00010, 0x7FE00008, 0x7FE00009}
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF
_TEXT_ENCODINGS = {"": "latin-1", "ISO_IR 6": "latin-1", "ISO_IR 100": "latin-1", "ISO_IR 192": "utf-8"}


class _Unsupported(Exception):
    """Leave this file to pydicom."""


@dataclass
class FastHeader:
    """What the fast reader found: wanted values by keyword, file meta facts and where the pixel data starts."""

    values: dict[str, object] = field(default_factory=dict)
    transfer_syntax_uid: str = ""
    media_sop_class_uid: str = ""
    pixel_data_offset: int = -1
    pixel_data_length: int = -1
    pixel_value_offset: int = -1

    def get(self, keyword: str, default: Any = None) -> Any:
        return self.values.get(keyword, default)

    def __contains__(self, keyword: object) -> bool:
        return keyword in self.values


class _Reader:
    def __init__(self, fp: object, data: bytes) -> None:
        self.fp = fp
        self.data = data

    def need(self, end: int) -> None:
        """Make sure bytes up to ``end`` are in memory."""
        while end > len(self.data):
            if len(self.data) >= MAX_HEADER_BYTES:
                raise _Unsupported("header too long")
            more = self.fp.read(max(len(self.data), _FIRST_READ))  # type: ignore[attr-defined]
            if not more:
                raise _Unsupported("file ends inside the header")
            self.data += more


def _skip_undefined(reader: _Reader, pos: int, implicit: bool) -> int:
    """Skip an undefined-length sequence starting at ``pos`` (its first item); return the offset after it."""
    while True:
        reader.need(pos + 8)
        tag = _tag(reader.data, pos)
        length = struct.unpack_from("<I", reader.data, pos + 4)[0]
        pos += 8
        if tag == _SEQ_END:
            return pos
        if tag != _ITEM:
            raise _Unsupported("malformed sequence")
        if length != _UNDEFINED:
            pos += length
            continue
        while True:  # elements of an undefined-length item, up to its delimiter
            reader.need(pos + 8)
            if _tag(reader.data, pos) == _ITEM_END:
                pos += 8
                break
            pos, _, _, _ = _element(reader, pos, implicit)


def _tag(data: bytes, pos: int) -> int:
    group, element = struct.unpack_from("<HH", data, pos)
    return int(group << 16 | element)


def _element(reader: _Reader, pos: int, implicit: bool) -> tuple[int, int, int, bytes]:
    """Parse the element at ``pos``: (offset after it, tag, value offset, VR); skips nested sequences."""
    reader.need(pos + 12)
    data = reader.data
    tag = _tag(data, pos)
    if implicit:
        vr = b""
        length = struct.unpack_from("<I", data, pos + 4)[0]
        value = pos + 8
    else:
        vr = data[pos + 4 : pos + 6]
        if vr not in _ALL_VRS and tag not in (_ITEM, _ITEM_END, _SEQ_END):
            raise _Unsupported("not explicit VR after all")
        if vr in _LONG_VRS:
            length = struct.unpack_from("<I", data, pos + 8)[0]
            value = pos + 12
        else:
            length = struct.unpack_from("<H", data, pos + 6)[0]
            value = pos + 8
    if tag in _PIXEL_TAGS:
        return value, tag, length, vr
    if length == _UNDEFINED:
        if vr == b"UN":
            raise _Unsupported("undefined-length UN element")
        return _skip_undefined(reader, value, implicit), tag, value, vr
    return value + length, tag, value, vr


@functools.lru_cache(maxsize=8)
def _wanted(keywords: tuple[str, ...]) -> dict[int, str]:
    tags: dict[int, str] = {}
    for keyword in [*keywords, "SpecificCharacterSet"]:
        tag = tag_for_keyword(keyword)
        if tag is not None:
            tags[int(tag)] = keyword
    return tags


def read_fast_header(path: Path, keywords: Iterable[str]) -> FastHeader | None:
    """Header values for ``keywords`` (top level only), or ``None`` when pydicom must read this file."""
    wanted = _wanted(tuple(keywords))
    try:
        with open(path, "rb") as fp:
            reader = _Reader(fp, fp.read(_FIRST_READ))
            return _parse(reader, wanted)
    except (_Unsupported, struct.error, UnicodeDecodeError, ValueError, IndexError, OSError):
        return None


def _parse(reader: _Reader, wanted: dict[int, str]) -> FastHeader:
    data = reader.data
    if len(data) < 144 or data[128:132] != b"DICM":
        raise _Unsupported("no Part 10 preamble")
    header = FastHeader()
    pos = 132
    while True:  # file meta: explicit VR little endian, group 0x0002
        reader.need(pos + 8)
        if struct.unpack_from("<H", reader.data, pos)[0] != 0x0002:
            break
        end, tag, value, _ = _element(reader, pos, implicit=False)
        if tag in (0x00020010, 0x00020002):
            reader.need(end)
            text = reader.data[value:end].rstrip(b"\x00 ").decode("ascii")
            if tag == 0x00020010:
                header.transfer_syntax_uid = text
            else:
                header.media_sop_class_uid = text
        pos = end
    ts = header.transfer_syntax_uid
    if ts in ("1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2") or not ts.startswith("1.2.840.10008.1.2"):
        raise _Unsupported(f"transfer syntax {ts}")
    implicit = ts == "1.2.840.10008.1.2"
    reader.need(pos + 8)
    if implicit and reader.data[pos + 4 : pos + 6] in _ALL_VRS:
        raise _Unsupported("implicit VR declared, explicit VR found")
    raw: dict[str, bytes] = {}
    while True:
        reader.need(pos + 8)
        end, tag, value, _ = _element(reader, pos, implicit)  # at pixel data: (value offset, tag, length)
        if tag in _PIXEL_TAGS:
            header.pixel_data_offset, header.pixel_data_length, header.pixel_value_offset = pos, value, end
            if tag != 0x7FE00010:
                raise _Unsupported("float pixel data")
            break
        keyword = wanted.get(tag)
        if keyword is not None:
            if keyword in _FALLBACK_KEYWORDS:
                raise _Unsupported("functional groups")
            reader.need(end)
            raw[keyword] = reader.data[value:end]
        pos = end
        if pos >= MAX_HEADER_BYTES:
            raise _Unsupported("header too long")
    charset = raw.get("SpecificCharacterSet", b"").decode("ascii").strip("\x00 ")
    encoding = _TEXT_ENCODINGS.get(charset)
    if encoding is None:
        raise _Unsupported(f"character set {charset}")
    for keyword, blob in raw.items():
        if keyword in _US_KEYWORDS:
            header.values[keyword] = struct.unpack_from("<H", blob)[0] if len(blob) >= 2 else None
            continue
        text = blob.decode(encoding).rstrip("\x00 ").strip()
        header.values[keyword] = text.split("\\") if "\\" in text else text
    return header
