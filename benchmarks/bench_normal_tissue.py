"""Clicks on normal tissue: does an engine refuse them, as issue 4 asks ("a point ... outside any lesion gives a clear
message"), or offer an outline of an organ as if it were a lesion?

On a generated sample trial (`recist generate-sample`, the anatomy renderer), points are drawn inside each normal
tissue (liver, spleen, kidney, muscle, fat, lung, stomach wall, heart, vessels, bone), well inside it (every point
within 4 mm is the same tissue) and away from every lesion (its centre farther than half its long axis + 15 mm; 45 mm
for an unmeasured non-target). Each engine is clicked there; a click counts as refused (a clear message), offered
flagged (confidence under 0.5: the app asks the reader to check) or offered confident (the worst: an organ given as a
lesion without a word). Run beside it the lesion clicks of `bench_segmentation.py --sample-trial`: refusing normal
tissue must not cost refusals of lesions. Baseline, in the same run: the classical engine (which refuses a click
where it finds no edge within 15 HU); the ratio is of the clicks offered an outline.

    .venv/bin/python benchmarks/bench_normal_tissue.py sample_dicom --per-tissue 3
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from imaging.loader import load_series
from imaging.synthetic.anatomy import Body, build_anatomy
from segmentation.base import SegmentationError
from segmentation.diameters import recist_axes
from segmentation.engines import create_segmenter

TISSUES = (
    "liver", "spleen", "kidney", "muscle", "fat", "visceral fat", "lung", "stomach wall", "myocardium", "aorta",
    "vena cava", "liver vessel", "cancellous bone", "gastric fluid",
)  # fmt: skip
LOW_CONFIDENCE = 0.5


def tissue_at(solids: list, pts: np.ndarray) -> np.ndarray:
    """The tissue painted last at each point (anatomical mm), as the renderer paints them."""
    label = np.full(len(pts), "air", dtype=object)
    x, y, z = pts[:, 0], pts[:, 1], pts[:, 2]
    for s in solids:
        inside = np.asarray(s.inside(x, y, z), dtype=bool)
        if s.only_within:
            inside &= np.isin(label, list(s.only_within))
        label[inside] = s.tissue
    return label


def normal_points(truth: dict, tp_index: int, per_tissue: int, rng: np.random.Generator) -> list[tuple[str, tuple]]:
    """Points (patient mm) well inside normal tissues and away from every lesion of that timepoint."""
    shift = np.asarray(truth["timepoints"][tp_index]["patient_shift_mm"])
    solids = build_anatomy(np.random.default_rng(0), Body())
    lesions = []
    for lesion in truth["lesions"]:
        row = lesion["timepoints"][tp_index]
        if row.get("present") and row.get("centre_lps_mm") is not None:
            half = row["long_axis_mm"] / 2 + 15 if row.get("long_axis_mm") else 45.0
            lesions.append((np.asarray(row["centre_lps_mm"]) - shift, half))
    cand = rng.uniform((-130, -95, -130), (130, 110, 60), size=(40000, 3))
    labels = tissue_at(solids, cand)
    offsets = np.array([(dx, dy, dz) for dx in (-4, 0, 4) for dy in (-4, 0, 4) for dz in (-4, 0, 4)], dtype=float)
    out: list[tuple[str, tuple]] = []
    for tissue in TISSUES:
        idx = np.flatnonzero(labels == tissue)
        rng.shuffle(idx)
        taken = 0
        for i in idx:
            p = cand[i]
            if any(np.linalg.norm(p - c) < r for c, r in lesions):
                continue
            if not (tissue_at(solids, p + offsets) == tissue).all():
                continue
            out.append((tissue, tuple(float(v) for v in p + shift)))
            taken += 1
            if taken == per_tissue:
                break
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("trial", type=Path, help="a generated sample trial (e.g. sample_dicom)")
    ap.add_argument("--per-tissue", type=int, default=3, help="points per tissue per timepoint")
    ap.add_argument("--timepoints", default="0", help="comma-separated timepoint indices (0 = baseline)")
    ap.add_argument("--engines", default="classical,monai,auto")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--bundle", type=Path, default=None, help="MONAI bundle to measure (default: the shipped one)")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(2)
    rng = np.random.default_rng(args.seed)
    bundle = {"bundle": args.bundle} if args.bundle else {}
    engines = {n: create_segmenter(n, "cpu", **bundle) for n in args.engines.split(",")}
    trial = json.loads((args.trial / "trial.json").read_text())
    outcome: dict[str, Counter] = {n: Counter() for n in engines}
    by_tissue: dict[str, dict[str, Counter]] = {n: defaultdict(Counter) for n in engines}
    confident_sizes: dict[str, list[str]] = {n: [] for n in engines}
    t0 = time.perf_counter()
    for subj in trial["subjects"]:
        truth = json.loads((args.trial / subj["ground_truth"]).read_text())
        for t in (int(v) for v in args.timepoints.split(",")):
            tp = subj["timepoints"][t]
            volume = load_series(args.trial / tp["folder"])
            for tissue, point in normal_points(truth, t, args.per_tissue, rng):
                if not volume.contains_voxel(volume.nearest_voxel(np.asarray(point))):
                    continue
                for name, engine in engines.items():
                    try:
                        res = engine.segment(volume, point)  # type: ignore[arg-type]
                    except SegmentationError:
                        kind = "refused"
                    else:
                        kind = "flagged" if res.confidence < LOW_CONFIDENCE else "confident"
                        if kind == "confident":
                            axes = recist_axes(res.mask, volume, res.offset)
                            confident_sizes[name].append(
                                f"{subj['subject_id']} {tissue} at ({point[0]:.0f}, {point[1]:.0f}, {point[2]:.0f}): "
                                f"{axes.long_axis_mm:.0f} x {axes.short_axis_mm:.0f} mm, confidence "
                                f"{res.confidence:.2f}, {res.provenance.engine}"
                            )
                    outcome[name][kind] += 1
                    by_tissue[name][tissue][kind] += 1
    print(f"normal-tissue clicks on {args.trial} ({time.perf_counter() - t0:.0f} s)")
    for name in engines:
        c = outcome[name]
        n = sum(c.values())
        print(
            f"{name:9s} {n} clicks: refused {c['refused']} ({c['refused'] / n:.0%}), offered flagged {c['flagged']} "
            f"({c['flagged'] / n:.0%}), offered confident {c['confident']} ({c['confident'] / n:.0%})"
        )
        for tissue, tc in sorted(by_tissue[name].items()):
            print(f"    {tissue:16s} refused {tc['refused']}, flagged {tc['flagged']}, confident {tc['confident']}")
        for line in confident_sizes[name]:
            print(f"    confident: {line}")
    if "classical" in outcome:
        base = outcome["classical"]
        base_offered = (base["flagged"] + base["confident"]) / max(1, sum(base.values()))
        for name, c in outcome.items():
            if name == "classical":
                continue
            offered = (c["flagged"] + c["confident"]) / max(1, sum(c.values()))
            print(
                f"{name}: an outline offered on {offered:.0%} of normal-tissue clicks, "
                f"{offered / max(base_offered, 1e-9):.2f}x the classical engine's {base_offered:.0%} (baseline)"
            )
    if args.json:
        args.json.write_text(json.dumps({n: dict(c) for n, c in outcome.items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
