"""Pixel decoding of one file's frames into the caller's array, and the stored-value -> HU mapping.

Three paths, fastest first:

* native little-endian pixel data: read straight from the file offset found at discovery (``readinto``, no copy);
* RLE Lossless: frames split from the encapsulated data and decoded by pylibjpeg-rle (compiled, fast);
* every other syntax (JPEG baseline/extended/lossless, JPEG-LS, JPEG 2000, deflate, big endian): pydicom's pixel
  handlers with the pylibjpeg / GDCM / pyjpegls plugins. A missing plugin gives pydicom's message naming the package.

Every failure is a `DicomLoadError` naming the file.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from imaging.discovery import RLE_LOSSLESS, InstanceHeader
from imaging.errors import DicomLoadError

try:  # pylibjpeg-rle: compiled RLE decoder
    from rle.utils import decode_frame as _rle_decode_frame  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - pydicom's handlers take over
    _rle_decode_frame = None

INT16_MIN, INT16_MAX = -32768, 32767
#: what must never be turned into a "cannot decode" message
NOT_DECODER_ERRORS = (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError)
DEFLATED = "1.2.840.10008.1.2.1.99"
_PIXEL_DATA_TAG_BYTES = b"\xe0\x7f\x10\x00"


def stored_dtype(inst: InstanceHeader) -> np.dtype[np.generic]:
    """Numpy dtype of the stored pixel values (little endian)."""
    if inst.bits_allocated not in (8, 16, 32):
        raise DicomLoadError(f"{inst.path}: BitsAllocated={inst.bits_allocated} is not supported for CT")
    kind = "i" if inst.pixel_representation == 1 else "u"
    return np.dtype(f"<{kind}{inst.bits_allocated // 8}")


def stored_range(inst: InstanceHeader) -> tuple[int, int]:
    """Smallest and largest value the header allows (BitsStored, PixelRepresentation)."""
    bits = inst.bits_stored
    if inst.pixel_representation == 1:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def _clean_high_bits(inst: InstanceHeader, values: npt.NDArray[np.generic]) -> None:
    """Bits above BitsStored may hold garbage (old overlays): mask them, sign-extending signed data."""
    spare = inst.bits_allocated - inst.bits_stored
    if spare <= 0:
        return
    if inst.pixel_representation == 1:
        np.left_shift(values, spare, out=values)
        np.right_shift(values, spare, out=values)
    else:
        np.bitwise_and(values, (1 << inst.bits_stored) - 1, out=values)


def read_native_frame(inst: InstanceHeader, frame_index: int, into: npt.NDArray[np.generic]) -> None:
    """Read one native frame into ``into`` (C-contiguous, ``stored_dtype(inst)``, shape rows x columns)."""
    start = inst.pixel_value_offset + frame_index * inst.frame_bytes
    try:
        with open(inst.path, "rb", buffering=0) as fp:
            # the file may have been rewritten since it was indexed: the Pixel Data tag must still be where it was
            fp.seek(inst.pixel_data_offset)
            if fp.read(4) != _PIXEL_DATA_TAG_BYTES:
                raise DicomLoadError(f"{inst.path}: the file changed since it was indexed; index the folder again")
            fp.seek(start)
            got = fp.readinto(memoryview(into).cast("B"))  # type: ignore[arg-type]
    except OSError as exc:
        raise DicomLoadError(f"{inst.path}: cannot read pixel data ({exc.strerror or exc})") from exc
    if got != inst.frame_bytes:
        raise DicomLoadError(f"{inst.path}: truncated pixel data ({got} of {inst.frame_bytes} bytes)")
    _clean_high_bits(inst, into)


def _open_checked(inst: InstanceHeader) -> BinaryIO:
    """The file, positioned at the Pixel Data value, after checking the element is still where indexing found it."""
    fp = open(inst.path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    fp.seek(inst.pixel_data_offset)
    if fp.read(4) != _PIXEL_DATA_TAG_BYTES:
        fp.close()
        raise DicomLoadError(f"{inst.path}: the file changed since it was indexed; index the folder again")
    fp.seek(inst.pixel_value_offset)
    return fp


def decode_frame_bytes(inst: InstanceHeader, frame: bytes) -> npt.NDArray[np.generic]:
    """Stored values of one compressed frame: pylibjpeg-rle for RLE, pydicom's decoders (and plugins) otherwise."""
    if inst.transfer_syntax_uid == RLE_LOSSLESS and _rle_decode_frame is not None:
        raw = _rle_decode_frame(frame, inst.rows * inst.columns, inst.bits_allocated, "<")
        values = np.frombuffer(raw, dtype=stored_dtype(inst)).reshape(inst.rows, inst.columns)
    else:
        from pydicom.encaps import encapsulate
        from pydicom.pixels.decoders.base import get_decoder

        options: dict[str, Any] = {
            "rows": inst.rows,
            "columns": inst.columns,
            "samples_per_pixel": inst.samples_per_pixel,
            "bits_allocated": inst.bits_allocated,
            "bits_stored": inst.bits_stored,
            "pixel_representation": inst.pixel_representation,
            "photometric_interpretation": inst.photometric,
            "number_of_frames": 1,
        }
        values, _ = get_decoder(inst.transfer_syntax_uid).as_array(encapsulate([frame]), raw=True, **options)
        if values.shape != (inst.rows, inst.columns):
            raise DicomLoadError(f"{inst.path}: decoded frame has shape {values.shape}, expected one plane")
    if inst.bits_stored < inst.bits_allocated:
        values = values.copy()
        _clean_high_bits(inst, values)
    return values


def _decoding_errors(inst: InstanceHeader, exc: BaseException) -> DicomLoadError:
    from pydicom.uid import UID

    if isinstance(exc, OSError):
        return DicomLoadError(f"{inst.path}: cannot read pixel data ({exc.strerror or exc})")
    name = UID(inst.transfer_syntax_uid).name
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if len(lines) > 1 and "plugin" in lines[0].lower():  # pydicom: one line per decoder, each its own raw error
        tried = ", ".join(dict.fromkeys(line.split(":")[0] for line in lines[1:]))
        why = f"damaged, or not {name} data: every decoder failed ({tried})"
    else:
        first = lines[0] if lines else type(exc).__name__
        why = f"{type(exc).__name__}: {first[:160]}{'...' if len(first) > 160 else ''}"
    return DicomLoadError(f"{inst.path}: cannot decode {name} pixel data ({why})")


def frame_spans(inst: InstanceHeader) -> list[tuple[int, int]] | None:
    """File offsets (start, end) of each frame's fragments in an encapsulated multi-frame file, read once.

    From the Basic Offset Table, or one fragment per frame; ``None`` when the frames cannot be told apart without
    decoding (then the file is decoded in one pass).
    """
    from pydicom.encaps import parse_basic_offsets, parse_fragments

    try:
        with _open_checked(inst) as fp:
            offsets = parse_basic_offsets(fp)
            first = fp.tell()
            count, starts = parse_fragments(fp)
            if not starts:
                return None
            fp.seek(starts[-1] + 4)
            end = starts[-1] + 8 + struct.unpack("<I", fp.read(4))[0]
    except DicomLoadError:
        raise
    except NOT_DECODER_ERRORS:
        raise
    except BaseException as exc:
        raise _decoding_errors(inst, exc) from exc
    n = inst.number_of_frames
    if len(offsets) == n:
        begins = [first + o for o in offsets]
    elif count == n:
        begins = list(starts)
    else:
        return None
    return list(zip(begins, [*begins[1:], end], strict=True))


def decode_frame_at(inst: InstanceHeader, span: tuple[int, int]) -> npt.NDArray[np.generic]:
    """Decode the frame whose fragment items lie at ``span`` (see `frame_spans`)."""
    try:
        with _open_checked(inst) as fp:
            fp.seek(span[0])
            items = fp.read(span[1] - span[0])
        parts, pos = [], 0
        while pos + 8 <= len(items):
            tag, length = struct.unpack_from("<II", items, pos)
            if tag != 0xE000FFFE:
                raise DicomLoadError(f"{inst.path}: damaged encapsulated pixel data at byte {span[0] + pos}")
            parts.append(items[pos + 8 : pos + 8 + length])
            pos += 8 + length
        return decode_frame_bytes(inst, b"".join(parts))
    except DicomLoadError:
        raise
    except NOT_DECODER_ERRORS:
        raise
    except BaseException as exc:  # compiled decoders may raise BaseException subclasses (Rust panics)
        raise _decoding_errors(inst, exc) from exc


def _encapsulated_frames(
    inst: InstanceHeader, indices: Sequence[int]
) -> Iterator[tuple[int, npt.NDArray[np.generic]]]:
    """The wanted frames in file order, read one at a time (a large object is never held whole in memory)."""
    from pydicom.encaps import generate_frames

    wanted = set(indices)
    last = max(wanted, default=-1)
    try:
        with _open_checked(inst) as fp:
            for index, frame in enumerate(generate_frames(fp, number_of_frames=inst.number_of_frames)):
                if index in wanted:
                    yield index, decode_frame_bytes(inst, frame)
                if index >= last:
                    break
    except DicomLoadError:
        raise
    except NOT_DECODER_ERRORS:
        raise
    except BaseException as exc:  # pylibjpeg-rle (Rust) panics with a BaseException on some damaged streams
        raise _decoding_errors(inst, exc) from exc


def _pydicom_frames(inst: InstanceHeader, indices: Sequence[int]) -> Iterator[tuple[int, npt.NDArray[np.generic]]]:
    import pydicom
    from pydicom.pixels.utils import iter_pixels
    from pydicom.uid import UID

    try:
        # a deflated file must be inflated whole before its pixel data can be found
        source = pydicom.dcmread(inst.path) if inst.transfer_syntax_uid == DEFLATED else inst.path
        for index, values in zip(indices, iter_pixels(source, indices=list(indices), raw=True), strict=True):
            if values.shape != (inst.rows, inst.columns):
                raise DicomLoadError(f"{inst.path}: decoded frame has shape {values.shape}, expected one plane")
            if not values.dtype.isnative:  # big endian files
                values = values.astype(values.dtype.newbyteorder("="))
            yield index, values
    except DicomLoadError:
        raise
    except NOT_DECODER_ERRORS:
        raise
    except BaseException as exc:  # compiled decoders may raise BaseException subclasses (Rust panics)
        name = UID(inst.transfer_syntax_uid).name
        raise DicomLoadError(f"{inst.path}: cannot decode {name} pixel data: {exc}") from exc


def decode_frames(inst: InstanceHeader, indices: Sequence[int]) -> Iterator[tuple[int, npt.NDArray[np.generic]]]:
    """Yield ``(frame_index, stored values)`` for the wanted frames of a compressed (or non-little-endian) file."""
    if inst.is_encapsulated and inst.pixel_value_offset >= 0:
        return _encapsulated_frames(inst, indices)
    return _pydicom_frames(inst, indices)


def _outside_int16(values: npt.NDArray[np.generic], offset: int) -> bool:
    """Whether some ``value + offset`` falls outside int16 (one pass; unsigned values need only their maximum)."""
    if int(values.max()) + offset > INT16_MAX:
        return True
    return values.dtype.kind != "u" and int(values.min()) + offset < INT16_MIN


def store_hu(
    values: npt.NDArray[np.generic],
    slope: float,
    intercept: float,
    out: npt.NDArray[np.generic],
    may_overflow: bool = True,
) -> int:
    """Write ``values * slope + intercept`` into ``out``; returns how many voxels were clipped to int16.

    ``may_overflow=False`` (the header's value range fits int16 after the intercept) skips the range check.
    ``values`` may share ``out``'s memory (the native path reads the stored values into the array itself).
    """
    if out.dtype == np.int16:
        offset = int(intercept)
        if (may_overflow or not INT16_MIN <= offset <= INT16_MAX) and _outside_int16(values, offset):
            wide = values.astype(np.int64) + offset
            clipped = int(np.count_nonzero((wide < INT16_MIN) | (wide > INT16_MAX)))
            np.clip(wide, INT16_MIN, INT16_MAX, out=wide)
            out[...] = wide
            return clipped
        if values.dtype.itemsize == 2 and values.dtype.isnative:
            # int16 wrap-around arithmetic is exact here: every result is known to lie in the int16 range
            np.add(values.view(np.int16), np.int16(offset), out=out)
        else:
            np.add(values, np.int64(offset), out=out, casting="unsafe")
        return 0
    np.multiply(values, slope, out=out, casting="unsafe")
    if intercept:
        np.add(out, intercept, out=out, casting="unsafe")
    return 0
