"""`recist report READS... --out DIR`: the trial report (HTML, PDF, PNG figures, CSV numbers).

READS are read files, engine case files or folders of them (e.g. `sample_dicom/`: every subject's
case_recist.json and case_irecist.json). One read per subject and criteria is reported: the adjudicated read, else the
first central reader's, else the site's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from workstation.cli import CommandError


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("report", help="the trial report (ORR, DCR, DoR, PFS, plots) as HTML/PDF and CSV",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("reads", nargs="+", help="read files, case files or folders of them")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--title", default="Trial response report", help="report title")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workstation.export.read_json import FORMAT, ReadFileError, collect_reads, load_json
    from workstation.report.build import ReportError, build_report

    try:
        found = collect_reads(args.reads)
        reads = [r for _, r in found]
        extras: dict[str, dict[str, Any]] = {}
        for path, read in found:
            data = load_json(path)
            if isinstance(data, dict) and data.get("format") != FORMAT and "read" not in data:  # an engine case file
                extras[read.read_id] = {k: data[k] for k in ("treatment_start", "death_date", "last_contact_date")
                                        if data.get(k)}
    except ReadFileError as exc:
        raise CommandError(str(exc)) from None
    if not reads:
        raise CommandError("no read or case file found in " + ", ".join(args.reads))
    try:
        files = build_report(reads, Path(args.out), title=args.title, case_extras=extras)
    except ReportError as exc:
        raise CommandError(str(exc)) from None
    for p in [files.html, files.pdf, *files.csv, *files.png]:
        print(p)
    print(f"report on {len({r.subject_id for r in reads})} subject(s) written to {args.out}", file=sys.stderr)
    return 0
