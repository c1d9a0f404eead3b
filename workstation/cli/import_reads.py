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
    p.add_argument("--overwrite", action="store_true", help="replace read files already in --out")
    p.set_defaults(func=run)


def _modality(path: Path) -> str:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        return str(pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["Modality"]).get("Modality", ""))
    except (InvalidDicomError, OSError):
        return ""


def _target(out: Path, read: Any, overwrite: bool) -> Path:
    stem = f"{read.subject_id}_{read.reader}_{read.read_id}"
    target = out / ("".join(c if c.isalnum() or c in "-." else "_" for c in stem) + ".json")
    if target.exists() and not overwrite:
        raise CommandError(f"{target} exists: a saved read is never replaced without --overwrite")
    return target


def run(args: argparse.Namespace) -> int:
    from workstation.export.dicom_seg import LesionMask, SegExportError, SeriesIndex, attach_masks, import_seg
    from workstation.export.dicom_sr import SRImportError, import_sr
    from workstation.export.read_json import ReadFileError, collect_reads, hidden_under, write_read

    files: list[Path] = []
    for raw in args.files:
        p = Path(raw)
        if not p.exists():
            raise CommandError(f"{p}: no such file or folder")
        files += sorted(x for x in p.rglob("*") if x.is_file() and not hidden_under(x, p)) if p.is_dir() else [p]
    explicit = {Path(raw) for raw in args.files}
    modality = {f: _modality(f) for f in files if f.suffix.lower() != ".json"}
    for f, m in modality.items():
        if f in explicit and m not in ("SR", "SEG"):
            why = f"modality {m}" if m else "not readable as DICOM"
            raise CommandError(f"{f}: not a DICOM SR or SEG ({why})")
    sr = [f for f, m in modality.items() if m == "SR"]
    seg = [f for f, m in modality.items() if m == "SEG"]
    masks: list[LesionMask] = []
    try:
        reads = import_sr(sr) if sr else []
        jsons = [f for f in files if f.suffix.lower() == ".json"]
        reads += [r for _, r in collect_reads([str(f) for f in jsons])] if jsons else []
        for f in seg:
            for lm in import_seg(f):
                masks.append(lm)
                print(f"{f}: lesion {lm.lesion_id} (tracking UID {lm.tracking_uid}) on {len(lm.sop_instance_uids)} "
                      f"slice(s), {int(lm.planes.sum())} voxels")
    except (SRImportError, SegExportError, ReadFileError) as exc:
        raise CommandError(str(exc)) from None
    if not reads and not seg:
        raise CommandError("nothing to import: no SR, SEG, read or case file among " + ", ".join(args.files))
    out = Path(args.out)
    targets = [_target(out, read, args.overwrite) for read in reads]  # refuse before anything is written
    if masks and args.masks and args.dicom:
        from workstation.mask_store import MaskStore

        for folder in args.dicom:
            if not Path(folder).is_dir():
                raise CommandError(f"--dicom {folder}: no such folder")
        store = MaskStore(args.masks)
        try:
            index = SeriesIndex(args.dicom)
            attached = sum(attach_masks(read, masks, index, store) for read in reads)
        except SegExportError as exc:
            raise CommandError(str(exc)) from None
        print(f"{attached} of {len(masks)} lesion mask(s) attached to measurements", file=sys.stderr)
    elif masks:
        print("SEG masks listed only: give --dicom and --masks to store them with the reads", file=sys.stderr)
    for read, target in zip(reads, targets, strict=True):
        print(write_read(read, target))
    print(f"{len(reads)} read(s) imported into {out}", file=sys.stderr)
    return 0
