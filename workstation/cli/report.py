"""`recist report READS... --out DIR`: the trial report (HTML, PDF, PNG figures, CSV numbers).

READS are read files, engine case files or folders of them (e.g. `sample_dicom/`: every subject's
case_recist.json and case_irecist.json). One read per subject and criteria is reported: the adjudicated read, else the
first central reader's, else the site's.

`recist report --db URL --out DIR` reports over the central review's accepted reads in the reading database (URL,
else $RECIST_DB, else the user's data folder): the adjudicated read, or reader 1's read of a concordant subject.
Subjects without an accepted read yet are named and left out. The report shows real subject ids (unblinded), so a
data manager or administrator signs in (--user NAME), and it is recorded in the audit trail under their name.

The report is written into a hidden staging folder inside --out and moved into place only once complete (from the
database: after the audit entry is recorded); a report that fails leaves nothing in --out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from workstation.cli import CommandError, into_place, output_folder, staged_output
from workstation.cli.endpoints import add_gap_argument
from workstation.cli.users import add_sign_in_arguments, refuse_sign_in_without_db, unblinded_user
from workstation.export.staging import ExportScope, StagingError


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "report",
        help="the trial report (ORR, DCR, DoR, PFS, plots) as HTML/PDF and CSV",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("reads", nargs="*", help="read files, case files or folders of them (none: report from --db)")
    p.add_argument(
        "--db",
        help="report over the accepted reads in the reading database: URL or SQLite file "
        "(default when no READS: $RECIST_DB, else the user data folder)",
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--title", default="Trial response report", help="report title")
    add_gap_argument(p)
    add_sign_in_arguments(p, "reporting with --db")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.reads and args.db:
        raise CommandError("give either READS or --db, not both")
    output_folder(args.out)
    if not args.reads:
        return _run_database(args)
    refuse_sign_in_without_db(args)
    from workstation.export.read_json import ReadFileError, collect_report_inputs

    try:
        found = collect_report_inputs(args.reads)
    except ReadFileError as exc:
        raise CommandError(str(exc)) from None
    reads = [r for _, r in found.reads]
    if not reads:
        raise CommandError("no read or case file found in " + ", ".join(args.reads))
    left_out = [str(p) for p in found.left_out]
    if left_out:
        print(f"recist report: left out {left_out_text(left_out)}", file=sys.stderr)
    for line in undecided_central_reads(reads):
        print(line, file=sys.stderr)
    sources: dict[str, list[str]] = {}
    for path, read in found.reads:
        sources.setdefault(read.subject_id, []).append(str(path))
    with staged_output(args.out, scope=_scope(reads), own_top_level=REPORT_FILES) as staged:
        _report(args, reads, staged.path, cases=found.cases, left_out=left_out, sources=sources)
        into_place(staged)
    print(f"report on {len({r.subject_id for r in reads})} subject(s) written to {args.out}", file=sys.stderr)
    return 0


#: What a report writes directly into --out: an older report's file of these names that this one does not replace
#: (a criteria or endpoint no longer reported) would be delivered beside it, so the report is refused (nothing moves).
REPORT_FILES = ("report.html", "report.pdf", "endpoints.csv", "subjects.csv", "km_*.csv", "recist11_*", "irecist_*")


def _scope(reads: list[Any]) -> ExportScope:
    """The reads a report covers: a report into the folder of one that covered reads this one lacks is refused."""
    return ExportScope("report", {r.read_id: r.subject_id for r in reads})


def undecided_central_reads(reads: list[Any]) -> list[str]:
    """A warning per subject and criteria whose central readers' reads disagree on the best overall response with no
    adjudicator's read among the files: read files do not carry the review's decision, so the report falls back to
    the first central reader's read, which may be the one the review rejected (`recist report --db` uses it)."""
    from workstation.export.sdtm import SdtmError, evaluate_reads

    central: dict[tuple[str, str], list[Any]] = {}
    decided: set[tuple[str, str]] = set()
    for r in reads:
        key = (r.subject_id, r.criteria)
        if r.reader_role == "central":
            central.setdefault(key, []).append(r)
        elif r.reader_role == "adjudicator":
            decided.add(key)
    out = []
    for (subject, criteria), group in sorted(central.items()):
        if len({r.reader for r in group}) < 2 or (subject, criteria) in decided:
            continue
        try:
            results = evaluate_reads(group)
        except SdtmError:
            continue  # the report names a read the engine refuses
        best = {r.reader: str(results[r.read_id].get("best_overall_response")) for r in group}
        if len(set(best.values())) > 1:
            first = sorted(best)[0]
            out.append(
                f"subject {subject} ({criteria}): the central readers disagree ("
                + ", ".join(f"{reader} {bor}" for reader, bor in sorted(best.items()))
                + f") and no adjudicator's read is among the files; the report takes {first}'s, which may not be the "
                "one the review accepted (read files do not carry its decision: report with --db)"
            )
    return out


def left_out_text(files: list[str]) -> str:
    """The JSON files that are neither read nor case files, with how many (as `recist endpoints` names them)."""
    one = len(files) == 1
    head = f"{len(files)} JSON file{'' if one else 's'} that {'is' if one else 'are'} not read or case files"
    return f"{head}: {', '.join(files)}"


def _report(args: argparse.Namespace, reads: list[Any], into: Path, cases: dict[str, dict[str, Any]] | None = None,
            left_out: list[str] | None = None, sources: dict[str, list[str]] | None = None) -> None:
    """The report, written into ``into`` (the staging folder: a report that fails leaves nothing in --out). A subject
    at fault is named with its files (``sources``: subject -> the files its reads came from)."""
    from workstation.report.build import ReportError, build_report

    try:
        files = build_report(reads, into, title=args.title, cases=cases, left_out=left_out or [],
                             censor_after_gap_days=args.censor_after_gap)
    except ReportError as exc:
        where = ", ".join(dict.fromkeys((sources or {}).get(str(exc.subject_id), [])))
        raise CommandError(f"{where + ': ' if where else ''}{exc}; nothing was written to {args.out}") from None
    except OSError as exc:
        raise CommandError(f"{exc}; nothing was written to {args.out}") from None
    except Exception as exc:  # last resort, as `workstation.cli.main`, once the staging folder is gone
        raise CommandError(
            f"unexpected error: {type(exc).__name__}: {exc}; nothing was written to {args.out}", code=1
        ) from None
    for warning in files.warnings:
        print(f"recist report: warning: {warning}", file=sys.stderr)


def _run_database(args: argparse.Namespace) -> int:
    """The report over the central review's accepted reads."""
    from workstation.review.for_export import reads_for_export, record_export
    from workstation.review.service import ReviewError
    from workstation.storage import StorageError, open_database
    from workstation.storage.repository import ReadError

    try:
        db = open_database(args.db, create=False)
    except StorageError as exc:
        raise CommandError(str(exc)) from None
    try:
        user = unblinded_user(db, args)
        export = reads_for_export(db)
        accepted = export.accepted_reads()
        for subject_id in export.undecided:
            print(f"subject {subject_id}: central review not decided yet; not in the report", file=sys.stderr)
        if not accepted:
            raise CommandError(f"no accepted central read in {db.where} (is the central review decided?)")
        export.reads = accepted
        # recorded before it is moved into place: never unrecorded in --out
        with staged_output(args.out, scope=_scope(accepted), own_top_level=REPORT_FILES) as staged:
            _report(args, accepted, staged.path)
            try:  # a file that could not be moved into place is found before the report is recorded
                staged.check()
            except StagingError as exc:
                raise CommandError(f"{exc}; nothing was written to {args.out}") from None
            try:
                record_export(
                    db, export, username=user.username, what="report", destination=str(Path(args.out).resolve())
                )
            except StorageError as exc:
                raise CommandError(
                    f"the report could not be recorded in the audit trail ({exc}); nothing was written to {args.out}"
                ) from None
            into_place(staged, recorded=True)
    except (StorageError, ReviewError, ReadError) as exc:
        raise CommandError(str(exc)) from None
    finally:
        db.close()
    print(f"report on {len(accepted)} accepted read(s) from {db.where} written to {args.out}", file=sys.stderr)
    return 0
