"""`recist export FORMAT READS... --out DIR`: SDTM, DICOM SR / SEG, CSV/JSON and engine case files.

READS are read files (exported JSON or the reading session's saved reads), engine case files, or folders of them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from workstation.cli import CommandError

FORMATS = ("sdtm", "sr", "seg", "csv", "json", "case", "all")


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("export", help="export reads (SDTM, DICOM SR/SEG, CSV/JSON)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("format", choices=FORMATS, help="sdtm: TU/TR/RS as CSV + XPT; sr: TID 1500; seg: lesion masks; "
                   "csv: measurements/responses CSV + everything.json; json: one lossless read file per read; "
                   "case: engine case files; all: every format "
                   "the inputs allow")
    p.add_argument("reads", nargs="+", help="read files, case files or folders of them")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--study-id", default="RECIST-TRIAL", help="STUDYID / clinical trial protocol id")
    p.add_argument("--dicom", action="append", default=[],
                   help="folder of the source CT images (SR evidence from the real headers; needed for SEG)")
    p.add_argument("--masks", help="mask store folder (needed for SEG)")
    p.set_defaults(func=run)


def _headers(folders: list[str]) -> dict[str, Any]:
    from workstation.export.dicom_seg import load_headers

    files: list[Path] = []
    for f in folders:
        p = Path(f)
        if not p.is_dir():
            raise CommandError(f"--dicom {p}: no such folder")
        files += [x for x in p.rglob("*") if x.is_file() and x.suffix.lower() in ("", ".dcm", ".ima")]
    return load_headers(files)


def run(args: argparse.Namespace) -> int:
    from workstation.export.read_json import ReadFileError, collect_reads, write_read
    from workstation.export.sdtm import SdtmError, build_sdtm, evaluate_reads, write_sdtm
    from workstation.export.tables import write_tables

    try:
        found = collect_reads(args.reads)
    except ReadFileError as exc:
        raise CommandError(str(exc)) from None
    if not found:
        raise CommandError("no read or case file found in " + ", ".join(args.reads))
    reads = [r for _, r in found]
    out = Path(args.out)
    written: list[Path] = []
    wanted = set(FORMATS[:-1]) if args.format == "all" else {args.format}
    try:
        if wanted & {"sdtm", "csv"}:
            results = evaluate_reads(reads)
        if "sdtm" in wanted:
            written += write_sdtm(build_sdtm(reads, results, args.study_id), out / "sdtm", args.study_id)
        if "csv" in wanted:
            written += write_tables(reads, results, out / "tables")
        if "json" in wanted:
            for read in reads:
                name = "".join(c if c.isalnum() or c in "-." else "_" for c in f"{read.subject_id}_{read.read_id}")
                written.append(write_read(read, out / "reads" / f"{name}.json"))
        if "case" in wanted:
            for read in reads:
                path = out / "cases" / f"{read.subject_id}_{read.reader}_{read.criteria.replace(' ', '')}.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(read.to_case(), indent=2) + "\n", encoding="utf-8")
                written.append(path)
        if wanted & {"sr", "seg"}:
            written += _dicom(args, reads, wanted, out)
    except (SdtmError, ValueError, OSError) as exc:
        raise CommandError(str(exc)) from None
    for p in written:
        print(p)
    print(f"{len(reads)} read(s), {len(written)} file(s) written under {out}", file=sys.stderr)
    return 0


def _dicom(args: argparse.Namespace, reads: list[Any], wanted: set[str], out: Path) -> list[Path]:
    from workstation.export.dicom_seg import export_seg
    from workstation.export.dicom_sr import export_sr
    from workstation.mask_store import MaskStore

    headers = _headers(args.dicom) if args.dicom else None
    written: list[Path] = []
    if "sr" in wanted:
        for read in reads:
            if not any(m.sop_instance_uid for tp in read.timepoints for a in tp.assessments.values()
                       for m in a.measurements):
                if args.format == "all":
                    continue  # a case file: no images to reference
                raise CommandError(f"subject {read.subject_id} ({read.reader}): the read references no image "
                                   "(a case file has no geometry); export SR from reads made on images")
            written += [w.path for w in export_sr(read, out / "sr", headers, protocol_id=args.study_id)]
    if "seg" in wanted:
        if args.masks is None or headers is None:
            if args.format == "all":
                return written
            raise CommandError("seg needs --masks (the mask store) and --dicom (the source CT images)")
        store = MaskStore(args.masks)
        for read in reads:
            written += export_seg(read, store, headers, out / "seg")
    return written
