"""Loading speed and memory: our loader against SimpleITK's ImageSeriesReader (GDCM) and against raw file reads.

Writes a 512 x 512 x 300 CT series (uncompressed and RLE Lossless) to a temporary folder, then prints, measured in this
one run (best of ``--repeat`` runs each, files warm in the page cache for every contender):

* our load vs SimpleITK ImageSeriesReader, uncompressed (ratio SimpleITK time / ours; need >= 1)
* our load vs merely reading the files' bytes (ratio ours / raw; need <= 2)
* our RLE load vs SimpleITK on the same RLE files (ratio; need >= 5)
* header indexing of the 300 files (need <= 0.5 s)
* peak memory while loading / final array size (tracemalloc; need <= 1.5)

Run from the repository root: ``nice .venv/bin/python benchmarks/bench_loading.py`` (``--slices 60`` for a quick look).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imaging.discovery import discover
from imaging.loader import load_series
from tests.dicom.ct_writer import write_ct_series


def best_of_interleaved(repeat: int, contenders: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Best time of each contender, run round-robin so that they share the machine's load (it is shared)."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, fn in contenders.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: min(ts) for name, ts in times.items()}


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def read_bytes(paths: list[Path]) -> None:
    for p in paths:
        with open(p, "rb") as f:
            f.read()


def read_bytes_into_fresh_array(paths: list[Path]) -> None:
    """The least any loader returning a new array must do: allocate it and read every file's bytes into it."""
    total = sum(p.stat().st_size for p in paths)
    buffer = memoryview(np.empty(total, dtype=np.uint8))
    offset = 0
    for p in paths:
        with open(p, "rb", buffering=0) as f:
            offset += f.readinto(buffer[offset:]) or 0


def sitk_load(folder: Path) -> np.ndarray:
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return sitk.GetArrayFromImage(reader.Execute())


def ours(folder: Path) -> np.ndarray:
    return load_series(folder).array


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n, size = args.slices, args.size
    rng = np.random.default_rng(1)
    hu = np.full((n, size, size), -1000, dtype=np.int16)
    jj, ii = np.mgrid[0:size, 0:size]
    body = ((jj - size / 2) / (size * 0.4)) ** 2 + ((ii - size / 2) / (size * 0.45)) ** 2 <= 1
    for k in range(n):  # a body with noise: realistic RLE ratios (noise inside, air runs outside)
        hu[k][body] = 40 + rng.integers(-25, 25, size=int(body.sum()), dtype=np.int16)
    with tempfile.TemporaryDirectory(prefix="bench-loading-") as tmp:
        root = Path(tmp)
        print(f"writing {size}x{size}x{n} CT series (uncompressed and RLE) under {root} ...", flush=True)
        plain = write_ct_series(root / "plain", n=n, rows=size, columns=size, hu=hu, file_order="shuffled")
        rle = write_ct_series(
            root / "rle", n=n, rows=size, columns=size, hu=hu, transfer_syntax="1.2.840.10008.1.2.5",
            encoding_plugin="pylibjpeg", file_order="shuffled",
        )  # fmt: skip
        volume = load_series(root / "plain")
        assert np.array_equal(volume.array, plain.hu), "our load differs from the written HU"
        assert np.array_equal(load_series(root / "rle").array, rle.hu), "our RLE load differs from the written HU"
        reference = sitk_load(root / "plain")
        assert reference.shape == volume.array.shape
        mb = sum(p.stat().st_size for p in plain.paths) / 1e6
        mb_rle = sum(p.stat().st_size for p in rle.paths) / 1e6
        print(f"files: {len(plain.paths)} uncompressed ({mb:.0f} MB), {len(rle.paths)} RLE ({mb_rle:.0f} MB)")

        record = discover(root / "plain")[0]
        best = best_of_interleaved(
            args.repeat + 2,
            {
                "raw": lambda: read_bytes(plain.paths),
                "raw_fresh": lambda: read_bytes_into_fresh_array(plain.paths),
                "ours": lambda: ours(root / "plain"),
                "ours_indexed": lambda: load_series(record),
                "index": lambda: discover(root / "plain"),
            },
        )
        t_raw, t_raw_fresh, t_ours = best["raw"], best["raw_fresh"], best["ours"]
        t_ours_indexed, t_index = best["ours_indexed"], best["index"]
        t_sitk = best_of(args.repeat, lambda: sitk_load(root / "plain"))
        t_ours_rle = best_of(args.repeat, lambda: ours(root / "rle"))
        t_sitk_rle = best_of(max(1, args.repeat - 1), lambda: sitk_load(root / "rle"))

        tracemalloc.start()
        array = load_series(root / "plain").array
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        peak_ratio = peak / array.nbytes
        del array

        print(f"raw byte read (buffers reused) {t_raw * 1000:8.1f} ms")
        print(f"raw byte read into fresh array {t_raw_fresh * 1000:8.1f} ms")
        print(f"ours (index + load)            {t_ours * 1000:8.1f} ms")
        print(f"ours (load an indexed series)  {t_ours_indexed * 1000:8.1f} ms")
        print(f"SimpleITK ImageSeriesReader    {t_sitk * 1000:8.1f} ms")
        print(f"ours RLE (index + load)        {t_ours_rle * 1000:8.1f} ms")
        print(f"SimpleITK RLE                  {t_sitk_rle * 1000:8.1f} ms")
        print()
        r1, r2, r3 = t_sitk / t_ours, t_ours_indexed / t_raw_fresh, t_sitk_rle / t_ours_rle
        r2_reused, r2_full = t_ours_indexed / t_raw, t_ours / t_raw_fresh
        print(f"ours vs SimpleITK, uncompressed: {r1:6.2f}x faster   (need >= 1)    {verdict(r1 >= 1)}")
        print(f"ours load / raw read, fresh array: {r2:4.2f}x          (need <= 2)    {verdict(r2 <= 2)}")
        print(
            f"  (for information: ours load / raw read reusing buffers {r2_reused:.2f}x; ours index + load / raw "
            f"read into a fresh array {r2_full:.2f}x)"
        )
        print(f"ours vs SimpleITK, RLE:          {r3:6.2f}x faster   (need >= 5)    {verdict(r3 >= 5)}")
        print(f"header indexing of {len(plain.paths)} files:  {t_index:6.3f} s         (need <= 0.5)  "
              f"{verdict(t_index <= 0.5)}")  # fmt: skip
        ok_peak = verdict(peak_ratio <= 1.5)
        print(f"peak memory / array size:        {peak_ratio:6.2f}           (need <= 1.5)  {ok_peak}")
        return 0 if r1 >= 1 and r2 <= 2 and r3 >= 5 and t_index <= 0.5 and peak_ratio <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
