"""`recist import FILES... --out DIR`: our DICOM SR (TID 1500), exported read JSON and engine case files back into
read files (exported JSON, one per read), ready for `recist export` or the workstation. SEG files: with --dicom (the
source CT) and --masks (a mask store), each lesion mask goes into the store and the imported read's measurement at
that lesion and timepoint points at it; without them, the segments are listed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from workstation.cli import CommandError


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("import", help="import reads from our own SR/SEG or case files", description=__doc__)
    p.add_argument("files", nargs="+", help="SR/SEG .dcm files, read or case .json files, or folders of them")
    p.add_argument("--out", required=True, help="folder for the imported read files")
    p.add_argument("--dicom", action="append", default=[], help="folder of the source CT images (for SEG masks)")
    p.add_argument("--masks", help="mask store folder to put SEG masks in")
    p.set_defaults(func=run)


def _modality(path: Path) -> str:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        return str(pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["Modality"]).get("Modality", ""))
    except (InvalidDicomError, OSError):
        return ""


def run(args: argparse.Namespace) -> int:
    from workstation.export.dicom_seg import SegExportError, import_seg
    from workstation.export.dicom_sr import SRImportError, import_sr
    from workstation.export.read_json import ReadFileError, collect_reads, write_read

    files: list[Path] = []
    for raw in args.files:
        p = Path(raw)
        if not p.exists():
            raise CommandError(f"{p}: no such file or folder")
        files += sorted(x for x in p.rglob("*") if x.is_file()) if p.is_dir() else [p]
    dicom = [f for f in files if f.suffix.lower() != ".json"]
    sr = [f for f in dicom if _modality(f) == "SR"]
    seg = [f for f in dicom if _modality(f) == "SEG"]
    try:
        reads = import_sr(sr) if sr else []
        jsons = [f for f in files if f.suffix.lower() == ".json"]
        reads += [r for _, r in collect_reads([str(f) for f in jsons])] if jsons else []
        masks = []
        for f in seg:
            for m in import_seg(f):
                masks.append(m)
                print(f"{f}: lesion {m.lesion_id} (tracking UID {m.tracking_uid}) on {len(m.sop_instance_uids)} "
                      f"slice(s), {int(m.planes.sum())} voxels")
        if masks and args.masks and args.dicom:
            from workstation.cli.export import _headers
            from workstation.export.dicom_seg import attach_masks
            from workstation.mask_store import MaskStore

            headers = _headers(args.dicom)
            store = MaskStore(args.masks)
            attached = sum(attach_masks(read, masks, headers, store) for read in reads)
            print(f"{attached} of {len(masks)} lesion mask(s) attached to measurements", file=sys.stderr)
        elif masks:
            print("SEG masks listed only: give --dicom and --masks to store them with the reads", file=sys.stderr)
    except (SRImportError, SegExportError, ReadFileError) as exc:
        raise CommandError(str(exc)) from None
    if not reads and not seg:
        raise CommandError("nothing to import: no SR, SEG, read or case file among " + ", ".join(args.files))
    out = Path(args.out)
    for read in reads:
        stem = f"{read.subject_id}_{read.reader}_{read.read_id}"
        name = "".join(c if c.isalnum() or c in "-." else "_" for c in stem)
        print(write_read(read, out / f"{name}.json"))
    print(f"{len(reads)} read(s) imported into {out}", file=sys.stderr)
    return 0
