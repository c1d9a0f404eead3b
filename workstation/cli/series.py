"""`recist series PATH`: list the DICOM series under a folder as JSON, with geometry and warnings.

Prints a JSON list, one object per series: ``series_uid``, ``study_uid``, ``patient_id``, ``modality``,
``series_number``, ``series_description``, ``slices``, ``rows``, ``columns``, ``spacing_mm`` [slice, row, column],
``loadable``, ``error`` (when not loadable) and ``warnings`` (each naming the file or slice position at fault).
Files that belong to no series (not DICOM, empty, unreadable) are listed on stderr. Exit status 0 when at least one
series loads, otherwise 1 with a one-line message.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from imaging.cancel import CancelToken
from imaging.discovery import SeriesRecord, discover
from imaging.errors import DicomLoadError
from imaging.loader import SeriesLoader
from imaging.volume import LoadWarning
from workstation.cli import CommandError

NAME = "series"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(NAME, help="list the DICOM series under a folder, with geometry and warnings")
    p.add_argument("path", help="a folder (searched recursively) or a single DICOM file")
    p.add_argument(
        "--headers-only",
        action="store_true",
        help="check geometry from the headers without decoding the pixels (faster; misses corrupt pixel data)",
    )
    p.set_defaults(func=run)


def _warning_text(w: LoadWarning) -> str:
    return str(w)


def describe(record: SeriesRecord, decode: bool = True, cancel: CancelToken | None = None) -> dict[str, Any]:
    """The JSON object of one series; loads it (pixels too unless ``decode`` is False) to find what is wrong."""
    first = record.instances[0]
    out: dict[str, Any] = {
        "folder": os.path.commonpath([str(p.parent) for p in record.paths]),
        "series_uid": record.series_uid,
        "study_uid": record.study_uid,
        "patient_id": record.patient_id,
        "modality": record.modality,
        "series_number": record.series_number,
        "series_description": record.series_description,
        "slices": record.frame_count,
        "rows": first.rows,
        "columns": first.columns,
        "spacing_mm": None,
        "loadable": False,
    }
    try:
        loader = SeriesLoader(record)
        if decode:
            loader.load(cancel=cancel)
        volume = loader.volume
        out.update(
            slices=volume.shape[0],
            rows=volume.shape[1],
            columns=volume.shape[2],
            spacing_mm=[round(float(s), 4) for s in volume.spacing],
            loadable=True,
        )
        warnings = volume.warnings
    except DicomLoadError as exc:
        out["error"] = str(exc)
        warnings = record.warnings
    out["warnings"] = [_warning_text(w) for w in warnings]
    return out


def _report_skipped(skipped: list[LoadWarning], root: Path) -> None:
    """Name every skipped file on stderr; files that are simply not DICOM share one line."""
    foreign = [w for w in skipped if w.code == "not-dicom"]
    for w in skipped:
        if w.code != "not-dicom":
            print(f"recist series: {w}", file=sys.stderr)
    if foreign:
        names = []
        for w in foreign:
            try:
                names.append(str(Path(w.where).relative_to(root)))
            except ValueError:
                names.append(w.where)
        if len(names) > 5:  # many: say what kinds, not every name (a trial folder's JSON files, say)
            kinds = Counter(Path(n).suffix or "(no extension)" for n in names)
            listed = ", ".join(f"{count} {suffix}" for suffix, count in kinds.most_common())
            print(f"recist series: skipped {len(names)} file(s) that are not DICOM ({listed}; first: {names[0]})",
                  file=sys.stderr)
        else:
            print(f"recist series: skipped {len(names)} file(s) that are not DICOM: {', '.join(names)}",
                  file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    try:
        found = discover(args.path)
    except DicomLoadError as exc:
        raise CommandError(str(exc), code=1) from exc
    _report_skipped(found.skipped, Path(args.path))
    if not found:
        raise CommandError(f"no DICOM image series under {args.path} ({len(found.skipped)} file(s) skipped)", code=1)
    described = [describe(record, decode=not args.headers_only) for record in found]
    print(json.dumps(described, indent=2))
    if not any(d["loadable"] for d in described):
        first = described[0]
        raise CommandError(
            f"none of the {len(described)} series under {args.path} can be loaded (first: {first['error']})", code=1
        )
    return 0
