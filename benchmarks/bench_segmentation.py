"""Segmentation benchmark: the engines side by side on a held-out synthetic set (a seed the model never trained on).

Engines: classical, MONAI and auto (their consensus), or those named with ``--engines``; ``--device cuda`` measures the
MONAI engine's latency on a GPU, ``--bundle`` another model, ``--sample-trial DIR`` adds the sample trial.
Prints, per engine: long/short-axis absolute error (median, 95th percentile) for 10-60 mm lesions, Dice, click
robustness (3 clicks per lesion: long-axis spread and pairwise Dice), latency per click (median, p95), how often a bad
result is flagged as low confidence (and the axis errors of the results not flagged: the suggestions the app does not
ask the reader to check), mask -> axes time, and the MONAI model's FLOPs per click against this CPU's peak.
The accuracy figures come with 95 % bootstrap intervals (resampling the lesions), and are repeated for two strata:
lesions whose border is visible everywhere, and those with part of it isodense to a neighbouring organ or vessel
(`LesionPatch.hidden_boundary_fraction`), where the true outline cannot be seen and a flag is the right answer.
Every figure is also printed as a ratio to its target from issue 4 (ratio <= 1 meets a "<=" target, >= 1 a ">=" one).

    .venv/bin/python benchmarks/bench_segmentation.py --lesions 60 --seed 424242 [--json out.json]

The baseline for the MONAI engine is the classical engine measured in the same run, on the same lesions and clicks.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from segmentation.base import SegmentationError, SegmentationResult, Segmenter
from segmentation.diameters import recist_axes
from segmentation.engines import create_segmenter
from segmentation.training.synthetic import make_patch, patch_volume, pick_seed

TARGETS = {
    "long_median_mm": 1.0,
    "long_p95_mm": 3.0,
    "short_median_mm": 1.0,
    "short_p95_mm": 3.0,
    "dice_median": 0.85,
    "click_long_spread_pct_median": 5.0,
    "click_pairwise_dice_median": 0.90,
    "latency_median_s": 1.5,
    "mask_to_axes_p95_ms": 100.0,
}
AT_LEAST = {"dice_median", "click_pairwise_dice_median"}
#: A lesion with at least this fraction of its border isodense (within 10 HU) to its neighbour is reported apart.
HIDDEN_STRATUM = 0.10


@dataclass
class EngineStats:
    long_err: list[float] = field(default_factory=list)
    short_err: list[float] = field(default_factory=list)
    dice: list[float] = field(default_factory=list)
    spread_pct: list[float] = field(default_factory=list)
    pair_dice: list[float] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)
    axes_ms: list[float] = field(default_factory=list)
    failures: int = 0
    flagged_bad: int = 0
    bad: int = 0
    flagged_good: int = 0
    good: int = 0
    #: errors of the first-click results the app would not ask the reader to check
    unflagged_long: list[float] = field(default_factory=list)
    unflagged_short: list[float] = field(default_factory=list)
    #: per lesion (first click): its hidden-boundary fraction, whether the result was flagged, whether it was bad
    hidden: list[float] = field(default_factory=list)
    flagged: list[bool] = field(default_factory=list)
    is_bad: list[bool] = field(default_factory=list)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    s = int(a.sum()) + int(b.sum())
    return 2.0 * int((a & b).sum()) / s if s else 1.0


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def run_engine(engine: Segmenter, cases: list, clicks_per_lesion: int, st: EngineStats) -> None:
    for patch, volume, truth, clicks in cases:
        masks, longs = [], []
        for c, click in enumerate(clicks[:clicks_per_lesion]):
            seed_mm = tuple(float(v) for v in volume.voxel_to_patient(click))
            t0 = time.perf_counter()
            try:
                res: SegmentationResult = engine.segment(volume, seed_mm)  # type: ignore[arg-type]
                full = res.full_mask(volume.shape)
                axes = None
                t1 = time.perf_counter()
                axes = recist_axes(res.mask, volume, res.offset)
                st.axes_ms.append((time.perf_counter() - t1) * 1000)
            except SegmentationError:
                res, full, axes = None, np.zeros(volume.shape, bool), None
            st.latency.append(time.perf_counter() - t0)
            masks.append(full)
            longs.append(axes.long_axis_mm if axes else 0.0)
            if c == 0:
                if axes is None:
                    st.failures += 1
                    le, se, d = truth.long_axis_mm, truth.short_axis_mm, 0.0
                else:
                    le = abs(axes.long_axis_mm - truth.long_axis_mm)
                    se = abs(axes.short_axis_mm - truth.short_axis_mm)
                    d = dice(full, patch.mask)
                st.long_err.append(le)
                st.short_err.append(se)
                st.dice.append(d)
                is_bad = d < 0.8 or le > 3.0 or se > 3.0
                flagged = res is None or res.low_confidence
                st.hidden.append(float(getattr(patch, "hidden_boundary_fraction", 0.0)))
                st.flagged.append(flagged)
                st.is_bad.append(is_bad)
                if not flagged:
                    st.unflagged_long.append(le)
                    st.unflagged_short.append(se)
                if is_bad:
                    st.bad += 1
                    st.flagged_bad += int(flagged)
                else:
                    st.good += 1
                    st.flagged_good += int(flagged)
        if len(masks) > 1:
            mean_long = float(np.mean(longs))
            st.spread_pct.append(100.0 * (max(longs) - min(longs)) / mean_long if mean_long > 0 else 100.0)
            st.pair_dice.append(float(np.mean([dice(a, b) for a, b in itertools.combinations(masks, 2)])))


def summary(st: EngineStats) -> dict[str, float]:
    return {
        "long_median_mm": pct(st.long_err, 50),
        "long_p95_mm": pct(st.long_err, 95),
        "short_median_mm": pct(st.short_err, 50),
        "short_p95_mm": pct(st.short_err, 95),
        "dice_median": pct(st.dice, 50),
        "dice_mean": float(np.mean(st.dice)) if st.dice else float("nan"),
        "click_long_spread_pct_median": pct(st.spread_pct, 50),
        "click_long_spread_pct_p95": pct(st.spread_pct, 95),
        "click_pairwise_dice_median": pct(st.pair_dice, 50),
        "latency_median_s": pct(st.latency, 50),
        "latency_p95_s": pct(st.latency, 95),
        "mask_to_axes_median_ms": pct(st.axes_ms, 50),
        "mask_to_axes_p95_ms": pct(st.axes_ms, 95),
        "failures": float(st.failures),
        "bad_results": float(st.bad),
        "bad_flagged_fraction": st.flagged_bad / st.bad if st.bad else float("nan"),
        "good_flagged_fraction": st.flagged_good / st.good if st.good else float("nan"),
        "unflagged_results": float(len(st.unflagged_long)),
        "unflagged_long_median_mm": pct(st.unflagged_long, 50),
        "unflagged_long_p95_mm": pct(st.unflagged_long, 95),
        "unflagged_short_median_mm": pct(st.unflagged_short, 50),
        "unflagged_short_p95_mm": pct(st.unflagged_short, 95),
    }


def bootstrap_ci(values: list[float], q: float, n: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of the q-th percentile: how far the figure could move on another draw of
    the same number of lesions (a 95th percentile of 30 lesions rests on its two worst)."""
    if len(values) < 2:
        return (float("nan"), float("nan"))
    v = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    stats = np.percentile(v[rng.integers(0, len(v), size=(n, len(v)))], q, axis=1)
    return (float(np.percentile(stats, 2.5)), float(np.percentile(stats, 97.5)))


def intervals(st: EngineStats) -> dict[str, tuple[float, float]]:
    return {
        "long_median_mm": bootstrap_ci(st.long_err, 50),
        "long_p95_mm": bootstrap_ci(st.long_err, 95),
        "short_median_mm": bootstrap_ci(st.short_err, 50),
        "short_p95_mm": bootstrap_ci(st.short_err, 95),
        "dice_median": bootstrap_ci(st.dice, 50),
    }


def strata(st: EngineStats) -> dict[str, dict[str, float]]:
    """The first-click results split by whether part of the true border is isodense to what lies beyond it
    (`LesionPatch.hidden_boundary_fraction` >= HIDDEN_STRATUM): there the truth has no edge to be seen, and the
    engine should flag its outline rather than be right."""
    out = {}
    for name, keep in (
        ("visible border", [h < HIDDEN_STRATUM for h in st.hidden]),
        ("partly isodense border", [h >= HIDDEN_STRATUM for h in st.hidden]),
    ):
        idx = [i for i, k in enumerate(keep) if k]
        bad = [i for i in idx if st.is_bad[i]]
        out[name] = {
            "lesions": float(len(idx)),
            "long_median_mm": pct([st.long_err[i] for i in idx], 50),
            "long_p95_mm": pct([st.long_err[i] for i in idx], 95),
            "short_median_mm": pct([st.short_err[i] for i in idx], 50),
            "short_p95_mm": pct([st.short_err[i] for i in idx], 95),
            "dice_median": pct([st.dice[i] for i in idx], 50),
            "bad_results": float(len(bad)),
            "flagged_fraction": float(np.mean([st.flagged[i] for i in idx])) if idx else float("nan"),
            "bad_flagged_fraction": float(np.mean([st.flagged[i] for i in bad])) if bad else float("nan"),
        }
    return out


def cpu_peak_gflops() -> tuple[float, str]:
    """Theoretical FP32 peak: cores x clock x FLOPs/cycle (2 FMA units x vector width x 2)."""
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    flags = set(re.findall(r"^flags\s*:\s*(.*)$", text, re.M)[0].split()) if "flags" in text else set()
    mhz = [float(m) for m in re.findall(r"^cpu MHz\s*:\s*([\d.]+)", text, re.M)]
    ghz = (max(mhz) / 1000.0) if mhz else 2.5
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    if "AuthenticAMD" in text and lanes == 16:
        lanes = 8  # AMD Zen 4 runs AVX-512 on two 256-bit FMA pipes: the same peak as AVX2
    per_cycle = 2 * lanes * 2 if "fma" in flags else lanes * 2
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    width = "512-bit" if lanes == 16 else "256-bit" if lanes == 8 else "128-bit"
    how = f"{cores} cores x {ghz:.2f} GHz x {per_cycle} FP32 FLOP/cycle (two {width} FMA pipes)"
    return cores * ghz * per_cycle, how


def measured_matmul_gflops() -> float:
    import torch

    a = torch.randn(1024, 1024)
    b = torch.randn(1024, 1024)
    torch.mm(a, b)
    t0 = time.perf_counter()
    n = 10
    for _ in range(n):
        torch.mm(a, b)
    return 2 * 1024**3 * n / (time.perf_counter() - t0) / 1e9


def model_flops(engine: object, crop_shape: tuple[int, int, int]) -> float:
    """Multiply-adds x 2 of every (transposed) convolution for one crop, counted with forward hooks."""
    import torch

    net = engine.network  # type: ignore[attr-defined]
    total = [0.0]

    def hook(module: torch.nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        k = math.prod(module.kernel_size)  # type: ignore[arg-type]
        if isinstance(module, torch.nn.ConvTranspose3d):
            total[0] += 2.0 * inp[0].numel() * k * module.out_channels / module.groups
        else:
            total[0] += 2.0 * out.numel() * k * module.in_channels / module.groups

    handles = [
        m.register_forward_hook(hook)
        for m in net.modules()
        if isinstance(m, torch.nn.Conv3d | torch.nn.ConvTranspose3d)
    ]
    from segmentation.bundle import size_multiples

    multiples = size_multiples(engine.config.network_args)  # type: ignore[attr-defined]
    shape = [-(-n // m) * m for n, m in zip(crop_shape, multiples, strict=True)]
    with torch.inference_mode():
        net(torch.zeros(1, 3, *shape))
    for h in handles:
        h.remove()
    return total[0]


def make_cases(n: int, seed: int, clicks: int) -> list:
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        d = float(math.exp(rng.uniform(math.log(10.0), math.log(60.0))))
        patch = make_patch(rng, diameter_mm=d, extent_mm=140.0)
        volume = patch_volume(patch)
        truth = recist_axes(patch.mask, volume)
        # Clicks as readers place them: anywhere at least a quarter of the way in from the border, not only the centre.
        depth = ndimage.distance_transform_edt(patch.mask, sampling=patch.spacing)
        level = 1.0 - depth / max(float(depth.max()), 1e-6)
        pts = [patch.seed] + [pick_seed(rng, level, patch.mask) for _ in range(clicks - 1)]
        cases.append((patch, volume, truth, pts))
    return cases


def sample_trial_errors(
    trial_dir: Path, names: tuple[str, ...] = ("classical", "monai", "auto")
) -> dict[str, dict[str, float]]:
    """Both engines on every measurable lesion of a generated sample trial (`recist generate-sample`): a different
    renderer (imaging.synthetic, anatomy and all) that the model never saw; click at each lesion's true centre."""
    from imaging.loader import load_series

    trial = json.loads((trial_dir / "trial.json").read_text())
    engines = {name: create_segmenter(name, "cpu") for name in names}
    errs: dict[str, dict[str, list[float]]] = {n: {"long": [], "short": [], "fail": []} for n in engines}
    for subj in trial["subjects"]:
        truth = json.loads((trial_dir / subj["ground_truth"]).read_text())
        for tp in subj["timepoints"]:
            volume = load_series(trial_dir / tp["folder"])
            for lesion in truth["lesions"]:
                row = next(r for r in lesion["timepoints"] if r["label"] == tp["label"])
                if not row.get("present") or row.get("long_axis_mm") is None or row["long_axis_mm"] < 5:
                    continue
                for name, engine in engines.items():
                    try:
                        res = engine.segment(volume, tuple(row["centre_lps_mm"]))  # type: ignore[arg-type]
                        axes = recist_axes(res.mask, volume, res.offset, is_node=bool(lesion["node"]))
                        errs[name]["long"].append(abs(axes.long_axis_mm - row["long_axis_mm"]))
                        errs[name]["short"].append(abs(axes.short_axis_mm - row["short_axis_mm"]))
                        errs[name]["fail"].append(0.0)
                    except SegmentationError:
                        errs[name]["fail"].append(1.0)
    out = {}
    for name, e in errs.items():
        out[name] = {
            "lesions": float(len(e["fail"])),
            "refused": float(sum(e["fail"])),
            "long_median_mm": pct(e["long"], 50),
            "long_p95_mm": pct(e["long"], 95),
            "short_median_mm": pct(e["short"], 50),
            "short_p95_mm": pct(e["short"], 95),
        }
    return out


def fmt_row(name: str, values: dict[str, float]) -> str:
    parts = []
    for key, v in values.items():
        target = TARGETS.get(key)
        if target is None:
            parts.append(f"{key}={v:.3g}")
        else:
            ratio = v / target
            ok = (ratio >= 1.0) if key in AT_LEAST else (ratio <= 1.0)
            parts.append(f"{key}={v:.3g} (x{ratio:.2f} of target {target:g}: {'meets' if ok else 'MISSES'})")
    return f"[{name}]\n  " + "\n  ".join(parts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lesions", type=int, default=60)
    ap.add_argument("--seed", type=int, default=424242, help="held-out seed (training used 20261126)")
    ap.add_argument("--clicks", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="torch threads for inference")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--engines", default="classical,monai,auto", help="comma-separated engines to measure")
    ap.add_argument("--device", default="cpu", help="device of the MONAI engine: cpu or cuda (latency on a GPU)")
    ap.add_argument("--bundle", type=Path, default=None, help="MONAI bundle to measure (default: the shipped one)")
    ap.add_argument("--sample-trial", type=Path, default=None, help="also measure a `recist generate-sample` trial")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    cases = make_cases(args.lesions, args.seed, args.clicks)
    print(
        f"held-out set: {len(cases)} lesions 10-60 mm, seed {args.seed}, {args.clicks} clicks each "
        f"(generated in {time.perf_counter() - t0:.0f} s); torch threads {args.threads}; {platform.processor()}"
    )
    results: dict[str, dict[str, float]] = {}
    monai_engine = None
    names = [n.strip() for n in args.engines.split(",") if n.strip()]
    for name in names:
        if name == "monai":
            engine = create_segmenter(name, args.device, **({"bundle": args.bundle} if args.bundle else {}))
            monai_engine = engine
            v = cases[0][1]
            for _ in range(3):  # warm-up (lazy load; on a GPU, kernel selection)
                engine.segment(v, tuple(float(x) for x in v.voxel_to_patient(cases[0][3][0])))
        else:
            engine = create_segmenter(name, "cpu", **({"bundle": args.bundle} if args.bundle else {}))
        st = EngineStats()
        run_engine(engine, cases, args.clicks, st)
        results[name] = summary(st)
        print(fmt_row(name, results[name]))
        ci = intervals(st)
        print("  95 % bootstrap intervals: " + ", ".join(f"{k} {a:.3g}-{b:.3g}" for k, (a, b) in ci.items()))
        results[name]["intervals"] = {k: list(v) for k, v in ci.items()}  # type: ignore[assignment]
        results[name]["strata"] = strata(st)  # type: ignore[assignment]
        for stratum, row in results[name]["strata"].items():  # type: ignore[union-attr]
            print(f"  {stratum}: " + ", ".join(f"{k}={v:.3g}" for k, v in row.items()))

    if args.sample_trial:
        print(
            "[sample trial: imaging.synthetic renderer, click at each measurable lesion's true centre; truth is the "
            "continuous shape's axes, so slice sampling adds error]"
        )
        trial = sample_trial_errors(args.sample_trial, tuple(names))
        for name, row in trial.items():
            print(f"  {name}: " + ", ".join(f"{k}={v:.3g}" for k, v in row.items()))
        results["sample_trial"] = trial  # type: ignore[assignment]
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if monai_engine is None or args.device != "cpu" or "classical" not in results:
        return 0  # the comparison and the CPU compute figures need both engines on the CPU
    c = results["classical"]
    for other in [n for n in names if n != "classical"]:
        m = results[other]
        print(f"[{other} vs classical baseline, same lesions and clicks]")
        for key in (
            "long_median_mm",
            "long_p95_mm",
            "short_median_mm",
            "short_p95_mm",
            "dice_median",
            "click_pairwise_dice_median",
            "latency_median_s",
        ):
            print(f"  {key}: {other}/classical = {m[key] / c[key]:.2f}" if c[key] else f"  {key}: classical is 0")
    m = results["monai"]

    assert monai_engine is not None
    # The first-pass crop (training patch size) is what runs on most clicks; a lesion reaching its border costs a
    # second pass on the larger crop, which is counted separately.
    crops, big = [], []
    for _, volume, _, _ in cases:
        first = monai_engine.first_extent_mm(volume)  # type: ignore[attr-defined]
        crops.append(tuple(min(n, round(e / s)) for n, e, s in zip(volume.shape, first, volume.spacing, strict=True)))
        big.append(
            tuple(
                min(n, math.ceil(e / s))
                for n, e, s in zip(volume.shape, monai_engine.config.crop_extent_mm, volume.spacing, strict=True)  # type: ignore[attr-defined]
            )
        )
    median_crop = tuple(int(np.median([cr[i] for cr in crops])) for i in range(3))
    median_big = tuple(int(np.median([cr[i] for cr in big])) for i in range(3))
    flops_big = model_flops(monai_engine, median_big)
    flops = model_flops(monai_engine, median_crop)
    peak, how = cpu_peak_gflops()
    achieved = flops / m["latency_median_s"] / 1e9
    mm = measured_matmul_gflops()
    print("[compute]")
    print("  (FLOPs: 2 x multiply-adds of every 3-D convolution and transposed convolution, counted by forward hooks)")
    print(
        f"  MONAI FLOPs per click (median first-pass crop {median_crop}): {flops / 1e9:.2f} GFLOP; "
        f"second pass when the lesion reaches its border (median crop {median_big}): {flops_big / 1e9:.1f} GFLOP"
    )
    print(f"  CPU peak (theoretical, {how}): {peak:.0f} GFLOP/s; measured 1024^2 matmul: {mm:.0f} GFLOP/s")
    used = peak * min(args.threads, len(os.sched_getaffinity(0))) / len(os.sched_getaffinity(0))
    print(
        f"  achieved at median latency: {achieved:.1f} GFLOP/s = {achieved / peak:.1%} of the CPU's peak, "
        f"{achieved / used:.1%} of the peak of the {args.threads} core(s) used, {achieved / mm:.1%} of the measured "
        "matmul rate (the theoretical peak uses the base clock from /proc/cpuinfo; a boosted clock can exceed it)"
    )
    results["compute"] = {
        "gflop_per_click": flops / 1e9,
        "median_crop": list(median_crop),  # type: ignore[dict-item]
        "cpu_peak_gflops": peak,
        "matmul_gflops": mm,
        "achieved_gflops": achieved,
        "fraction_of_peak": achieved / peak,
        "fraction_of_matmul": achieved / mm,
    }
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
