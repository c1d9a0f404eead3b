"""Latency per click of the MONAI engine, split into the network and everything else, first and repeated clicks.

Where a click's time goes: the network passes (input to the device, forward, probabilities back; one pass, or two
when the lesion reaches the first crop's border), and the rest (cropping, connected components, confidence, halo
trim, mask to axes). Each click is measured twice: the first time a crop shape is seen (on a GPU: kernel loading and
selection) and again (what a reader sees from then on). Lesions come from the synthetic generator, each from its own
seed ``[seed, i]`` so that they can be made in parallel; the default seed is a validation seed, not the benchmark's.

    .venv/bin/python benchmarks/bench_latency.py --device cuda --lesions 16

Baseline: issue 4's targets, in the same run (GPU: 95th percentile <= 0.2 s; CPU: median <= 1.5 s), as ratios.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from segmentation.diameters import recist_axes
from segmentation.engines.monai_engine import MonaiSegmenter
from segmentation.training.synthetic import make_patch, patch_volume, pick_seed

TARGET_GPU_P95_S = 0.2
TARGET_CPU_MEDIAN_S = 1.5


def make_case(seed: int, i: int, clicks: int) -> tuple:
    rng = np.random.default_rng([seed, i])
    d = float(math.exp(rng.uniform(math.log(10.0), math.log(60.0))))
    patch = make_patch(rng, diameter_mm=d, extent_mm=140.0)
    depth = ndimage.distance_transform_edt(patch.mask, sampling=patch.spacing)
    level = 1.0 - depth / max(float(depth.max()), 1e-6)
    return patch_volume(patch), [patch.seed] + [pick_seed(rng, level, patch.mask) for _ in range(clicks - 1)], d


class TimedSegmenter(MonaiSegmenter):
    """The engine, with the time spent in network passes (device transfers included) recorded per click."""

    network_seconds = 0.0
    passes = 0

    def probability(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        try:
            return super().probability(*args, **kwargs)
        finally:
            self.network_seconds += time.perf_counter() - t0
            self.passes += 1


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lesions", type=int, default=16)
    ap.add_argument("--seed", type=int, default=777, help="validation seed (the accuracy benchmark's is 424242)")
    ap.add_argument("--clicks", type=int, default=3)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--workers", type=int, default=1, help="processes that generate the lesions")
    ap.add_argument("--bundle", type=Path, default=None, help="model bundle (default: the shipped one)")
    ap.add_argument("--cudnn-benchmark", action="store_true", help="let cuDNN time its algorithms per crop shape")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    t0 = time.perf_counter()
    jobs = [(args.seed, i, args.clicks) for i in range(args.lesions)]
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            cases = list(pool.map(make_case, *zip(*jobs, strict=True)))
    else:
        cases = [make_case(*job) for job in jobs]
    engine = TimedSegmenter(**({"bundle": args.bundle} if args.bundle else {}), device=args.device)
    device = (
        f"{torch.cuda.get_device_name()}, cuDNN benchmark {'on' if args.cudnn_benchmark else 'off'}"
        if engine.device == "cuda"
        else f"CPU, {args.threads} torch threads"
    )
    print(f"{len(cases)} lesions 10-60 mm (seed {args.seed}, made in {time.perf_counter() - t0:.0f} s); {device}")
    engine.warm_up()
    rows: dict[str, list[tuple[float, float, int, float]]] = {"first": [], "repeated": []}
    for volume, clicks, diameter in cases:
        for click in clicks:
            seed_mm = tuple(float(v) for v in volume.voxel_to_patient(click))
            for kind in ("first", "repeated"):
                engine.network_seconds, engine.passes = 0.0, 0
                t1 = time.perf_counter()
                try:
                    res = engine.segment(volume, seed_mm)  # type: ignore[arg-type]
                    res.full_mask(volume.shape)
                    recist_axes(res.mask, volume, res.offset)
                except Exception as exc:  # a failed click is reported, not fatal
                    print(f"  click failed: {exc}")
                    continue
                rows[kind].append((time.perf_counter() - t1, engine.network_seconds, engine.passes, diameter))
    for kind, r in rows.items():
        total = [x[0] for x in r]
        net = [x[1] for x in r]
        rest = [x[0] - x[1] for x in r]
        two = sum(1 for x in r if x[2] > 1)
        print(
            f"[{kind} click] n={len(r)}  total median {pct(total, 50):.3f} s p95 {pct(total, 95):.3f} s  |  network "
            f"median {pct(net, 50):.3f} p95 {pct(net, 95):.3f}  |  rest median {pct(rest, 50):.3f} p95 "
            f"{pct(rest, 95):.3f}  |  two passes: {two}"
        )
        if engine.device == "cuda":
            print(f"  p95 / target {TARGET_GPU_P95_S} s (GPU p95): x{pct(total, 95) / TARGET_GPU_P95_S:.2f}")
        else:
            ratio = pct(total, 50) / TARGET_CPU_MEDIAN_S
            print(f"  median / target {TARGET_CPU_MEDIAN_S} s (CPU median): x{ratio:.2f}")
    slow = sorted(rows["repeated"], key=lambda x: -x[0])[:5]
    print(
        "slowest repeated clicks (total, network, passes, lesion mm): "
        + "; ".join(f"{t:.3f} {n:.3f} {p} {d:.0f}" for t, n, p, d in slow)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
