"""`recist segment`: segment a lesion from a point in patient mm and print its RECIST diameters as JSON."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from workstation.cli import CommandError


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "segment",
        help="segment a lesion from a point and print its RECIST diameters",
        description="Segment the lesion at a point (patient mm, DICOM LPS as ImagePositionPatient) and print its "
        "RECIST long and short axes, their end points, the slice and the volume as JSON.",
    )
    p.add_argument("series_dir", type=Path, help="folder holding the CT series")
    p.add_argument("--point", nargs=3, type=float, required=True, metavar=("X", "Y", "Z"), help="click in patient mm")
    p.add_argument("--engine", choices=("auto", "monai", "classical"), default="auto")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--node", action="store_true", help="the lesion is a lymph node (measured on its short axis)")
    p.add_argument("--series-uid", default=None, help="which series, when the folder holds several")
    p.add_argument("--bundle", type=Path, default=None, help="MONAI bundle folder (default: models/lesion_seg)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from imaging.errors import DicomLoadError
    from imaging.loader import load_series
    from segmentation.base import SegmentationError, SegmentationHints, flag_undecodable_slices, undecodable_click
    from segmentation.bundle import DEFAULT_BUNDLE
    from segmentation.diameters import recist_axes
    from segmentation.engines import create_segmenter

    if not args.series_dir.exists():
        raise CommandError(f"no such folder: {args.series_dir}")
    if not all(math.isfinite(v) for v in args.point):
        raise CommandError(f"--point {' '.join(map(str, args.point))}: give three finite numbers (patient mm, LPS)")
    try:
        volume = load_series(args.series_dir, args.series_uid)
    except DicomLoadError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot read {args.series_dir}: {exc}") from None
    try:
        engine = create_segmenter(args.engine, args.device, args.bundle or DEFAULT_BUNDLE)
        x, y, z = args.point
        voxel = volume.nearest_voxel((x, y, z))
        on_air = undecodable_click(volume, voxel[0]) if volume.contains_voxel(voxel) else None
        if on_air is not None:
            raise CommandError(f"{args.series_dir}: {on_air}", code=1)
        result = engine.segment(volume, (x, y, z), SegmentationHints(is_lymph_node=args.node))
        undecodable = flag_undecodable_slices(volume, result)
        if undecodable is not None:  # a script reading the JSON would take the diameters as measured
            raise CommandError(f"{args.series_dir}: {undecodable}", code=1)
        axes = recist_axes(result.mask, volume, result.offset, is_node=args.node)
    except SegmentationError as exc:
        raise CommandError(str(exc), code=1) from None
    out: dict[str, object] = axes.to_json()
    prov = result.provenance
    out.update(
        {
            "engine": prov.engine,
            "model_id": prov.model_id,
            "model_version": prov.model_version,
            "device": prov.device,
            "seconds": round(prov.seconds, 3),
            "confidence": round(result.confidence, 3),
            "low_confidence": result.low_confidence,
            "warnings": list(result.warnings),
            "load_warnings": [str(w) for w in volume.warnings],  # what the loader noticed in the series
            "series_uid": volume.info.series_uid,
            "is_node": bool(args.node),
        }
    )
    if engine.name == "auto":
        out["selected_by"] = "auto: both engines ran, the more confident outline was kept"
    reason = getattr(engine, "fallback_reason", None)
    if reason:
        out["fallback_reason"] = reason
    print(json.dumps(out, indent=2))
    return 0
