"""`recist export FORMAT READS... --out DIR`: SDTM, DICOM SR / SEG, CSV/JSON and engine case files.

READS are read files (exported JSON or the reading session's saved reads), engine case files, or folders of them.

`recist export FORMAT --db URL [--subject ID ...] --out DIR` exports from the reading database instead (URL, else
$RECIST_DB, else the user's data folder, as `recist audit`): every evaluator's signed reads (site reads; both central
readers' reads; the adjudicator's decision), one record set per evaluator (--EVAL/--EVALID), the accepted read flagged
(--ACPTFL = Y). --subject takes a subject id or a central-review pseudonym (BICR-..., as review listings show it; the
subject it stands for is named on stderr). This is the UNBLINDED data-manager export: real subject ids and dates, so
it needs a data manager or administrator to sign in (--user NAME; the password on the terminal or with
--password-stdin), and it is recorded in the audit trail under their name. Unsigned timepoints are not exported.

Either way the export is all or nothing: the files are written into a hidden staging folder inside --out and moved
into place only when every format was written (from the database: after the audit entry is recorded). A failure
removes the staging folder and is one line naming the format, subject and read, and saying that nothing was written.
A read whose SR cannot be built (no image references, end points without a frame of reference) has no SR, named on
stderr, when exporting `all` or from the database; its other formats are exported.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workstation import paths
from workstation.cli import CommandError, into_place, output_folder, staged_output
from workstation.cli.users import add_sign_in_arguments, refuse_sign_in_without_db, unblinded_user
from workstation.export.staging import ExportScope, StagingError
from workstation.export.terminology import DEFAULT_SPONSOR
from workstation.session.export_read import DEFAULT_STUDY_ID

FORMATS = ("sdtm", "sr", "seg", "csv", "json", "case", "all")


def default_masks() -> Path:
    """Where the workstation keeps lesion masks (workstation.paths)."""
    return paths.masks_dir()


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "export",
        help="export reads (SDTM, DICOM SR/SEG, CSV/JSON) from files or, unblinded "
        "for the data manager, from the reading database (--db)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "format",
        choices=FORMATS,
        help="sdtm: TU/TR/RS as CSV + XPT; sr: TID 1500; seg: lesion masks; "
        "csv: measurements/responses CSV + everything.json; json: one lossless read file per read; "
        "case: engine case files; all: every format "
        "the inputs allow",
    )
    p.add_argument("reads", nargs="*", help="read files, case files or folders of them (none: export from --db)")
    p.add_argument(
        "--db",
        help="export from the reading database: URL or SQLite file (default when no READS: "
        "$RECIST_DB, else the user data folder); UNBLINDED: real subject ids and dates",
    )
    p.add_argument(
        "--subject",
        action="append",
        default=[],
        help="with --db: only this subject, by subject id or central-review pseudonym (repeatable)",
    )
    add_sign_in_arguments(p, "exporting with --db")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--study-id",
        default=None,
        help="STUDYID / clinical trial protocol id (default: the protocol_id of the trial.json in a READS or --dicom "
        f"folder or up to two folders above; else {DEFAULT_STUDY_ID}, said on stderr)",
    )
    p.add_argument(
        "--sponsor",
        default=None,
        help="the trial sponsor's name, the SR's Clinical Trial Sponsor Name and verifying organisation (default: "
        f"{DEFAULT_SPONSOR!r}, said on stderr)",
    )
    p.add_argument(
        "--dicom",
        action="append",
        default=[],
        help="folder of the source CT images (SR evidence from the real headers; needed for SEG)",
    )
    p.add_argument(
        "--masks",
        help="mask store folder (needed for SEG; with --db default: the workstation's, see workstation/paths.py)",
    )
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
    from workstation.export.read_json import ReadFileError, collect_report_inputs

    if args.reads and args.db:
        raise CommandError("give either READS or --db, not both")
    output_folder(args.out)
    if not args.reads:
        return _run_database(args)
    refuse_sign_in_without_db(args)
    if args.subject:
        raise CommandError("--subject selects subjects in the database; use it with --db")
    try:
        collected = collect_report_inputs(args.reads)
    except ReadFileError as exc:
        raise CommandError(str(exc)) from None
    found = collected.reads
    if collected.left_out:  # JSON files in the folders given that are no read or case file: said, never silent
        names = ", ".join(str(f) for f in collected.left_out[:5]) + (" ..." if len(collected.left_out) > 5 else "")
        print(f"left out {len(collected.left_out)} JSON file(s) that are no read or case file: {names}",
              file=sys.stderr)
    if not found:
        raise CommandError("no read or case file found in " + ", ".join(args.reads))
    reads = [r for _, r in found]
    inputs = _inputs(args)
    decisions = review_decisions(args.reads, reads)
    with staged_output(args.out, scope=_scope(args, reads)) as staged:
        skipped = _export(args, reads, decisions, inputs, staged.path, cases=collected.cases,
                          files={id(r): path for path, r in found})
        written = into_place(staged)
    print(f"{len(reads)} read(s), {len(written)} file(s) written under {args.out}{_skips(skipped)}", file=sys.stderr)
    return 0


def _scope(args: argparse.Namespace, reads: list[Any]) -> ExportScope:
    """What this export holds: an export into a folder holding another study's, or reads this one lacks, is refused
    (its files keep their names, so replacing them would go unnoticed)."""
    return ExportScope(str(args.study_id), {r.read_id: r.subject_id for r in reads})


def _run_database(args: argparse.Namespace) -> int:
    """The unblinded data-manager export from the reading database: written into a staging folder, recorded in the
    audit trail, and only then moved into place, so that unblinded files never land in --out unrecorded."""
    from workstation.review.for_export import ExportSelectionError, reads_for_export, record_export
    from workstation.review.service import ReviewError
    from workstation.storage import StorageError, open_database
    from workstation.storage.locks import list_locks
    from workstation.storage.repository import ReadError

    try:
        db = open_database(args.db, create=False)
    except StorageError as exc:
        raise CommandError(str(exc)) from None
    try:
        user = unblinded_user(db, args)
        export = reads_for_export(db, args.subject or None)
        any_lock = bool(export.locks) or bool(list_locks(db))  # the summary says how many exported are locked
        for pseudonym, subject_id in export.pseudonyms.items():
            print(f"--subject {pseudonym}: the central-review pseudonym of subject {subject_id}", file=sys.stderr)
        for s in export.skipped:
            print(f"not exported: subject {s.subject_id}, {s.reader}: {s.why}", file=sys.stderr)
        if not export.reads:
            which = f" of subject {', '.join(args.subject)}" if args.subject else ""
            raise CommandError(f"no signed read{which} to export in {db.where}")
        for subject_id in export.undecided:
            print(
                f"subject {subject_id}: central review not decided yet; no central read is flagged accepted",
                file=sys.stderr,
            )
        if args.masks is None and default_masks().is_dir():
            args.masks = str(default_masks())
        inputs = _inputs(args)
        with staged_output(args.out, scope=_scope(args, export.reads)) as staged:
            skipped = _export(args, export.reads, export, inputs, staged.path)
            recorded = bool(staged.files())
            if recorded:  # an export that writes nothing discloses nothing: no audit entry
                try:  # a file that could not be moved into place is found before the export is recorded
                    staged.check()
                except StagingError as exc:
                    raise CommandError(f"{exc}; nothing was written to {args.out}") from None
                destination = str(Path(args.out).resolve())
                not_written: dict[str, list[str]] = {}
                for left_out in skipped:
                    not_written.setdefault(left_out.subject_id, []).append(str(left_out))
                try:
                    record_export(
                        db,
                        export,
                        username=user.username,
                        what=args.format,
                        destination=destination,
                        not_written=not_written,
                    )
                except StorageError as exc:
                    raise CommandError(
                        f"the export could not be recorded in the audit trail ({exc}); "
                        f"nothing was written to {args.out}"
                    ) from None
            written = into_place(staged, recorded)
    except (StorageError, ExportSelectionError, ReviewError, ReadError) as exc:
        raise CommandError(str(exc)) from None
    finally:
        db.close()
    print(
        f"{len(export.reads)} read(s) of {len(export.subject_ids)} subject(s) from {db.where}, {len(written)} file(s) "
        f"written under {args.out}"
        + (" (unblinded; recorded in the audit trail)" if written else "")
        + _skips(skipped)
        + (_locked_text(export) if any_lock else ""),
        file=sys.stderr,
    )
    return 0


#: How many subjects not locked the export summary names (the rest are counted).
_NOT_LOCKED_NAMED = 10


def _locked_text(export: Any) -> str:
    """``; 2 of 3 subjects locked for analysis; not locked: SUBJ-003`` (once the database locks any subject)."""
    subjects = export.subject_ids
    open_ = [s for s in subjects if s not in export.locks]
    text = f"; {len(subjects) - len(open_)} of {len(subjects)} subjects locked for analysis"
    if open_:
        named = ", ".join(open_[:_NOT_LOCKED_NAMED])
        more = f" and {len(open_) - _NOT_LOCKED_NAMED} more" if len(open_) > _NOT_LOCKED_NAMED else ""
        text += f"; not locked: {named}{more}"
    return text


@dataclass(frozen=True)
class _Skipped:
    """A format of one read that was not written (the rest of the export was), and why."""

    subject_id: str
    reader: str
    read_id: str
    what: str
    why: str

    def __str__(self) -> str:
        return f"no {self.what} of read {self.read_id} ({self.reader}): {self.why}"


#: How many folders above a READS or --dicom path a trial.json is looked for (a case file in SUBJ-001/ of a trial).
TRIAL_SEARCH_LEVELS = 2


def trial_protocol_ids(paths: list[str]) -> dict[str, Path]:
    """The ``protocol_id`` of each trial.json in, or up to `TRIAL_SEARCH_LEVELS` folders above, ``paths``, with the
    file that states it. A trial.json that cannot be read, or states a bad id, stops the export naming it."""
    from workstation.session.worklist import protocol_id

    found: dict[str, Path] = {}
    seen: set[Path] = set()
    for raw in paths:
        start = Path(raw).resolve()
        folder = start if start.is_dir() else start.parent
        for candidate in [folder, *folder.parents][: TRIAL_SEARCH_LEVELS + 1]:
            index = candidate / "trial.json"
            if index in seen or not index.is_file():
                continue
            seen.add(index)
            try:
                study = protocol_id(json.loads(index.read_text(encoding="utf-8")))
            except (OSError, ValueError, AttributeError) as exc:
                raise CommandError(f"{index} is unreadable ({exc}); mend it or give --study-id") from None
            if study is not None:
                found.setdefault(study, index)
        decisions = folder / REVIEW_FILE
        if decisions not in seen and decisions.is_file():
            seen.add(decisions)
            study = _load_review_file(decisions).get("study_id")
            if isinstance(study, str) and study.strip():
                found.setdefault(study.strip(), decisions)
    return found


#: The central review's decisions beside the read files of a database export (`write_review_decisions`)
REVIEW_FILE = "review.json"
REVIEW_FORMAT = "recist-workstation/review-decisions"


def write_review_decisions(export: Any, study_id: str, path: Path) -> None:
    """What the read files alone do not say: which central read the review accepted, the adjudications, and the
    STUDYID. An export of the read files then flags the same reads (before, it inferred them by its own rule, and
    lost the adjudicated ones) under the same USUBJIDs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "format": REVIEW_FORMAT,
        "study_id": study_id,
        "accepted_read_ids": sorted(export.accepted_ids),
        "adjudications": [
            {"subject_id": d.subject_id, "adjudicator": d.adjudicator, "chosen_read_id": d.chosen_read_id,
             "reason": d.reason, "decided_at": d.decided_at}
            for d in export.adjudications
        ],
    }, indent=1) + "\n", encoding="utf-8")


def _load_review_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CommandError(f"{path} is unreadable ({exc}); mend it or move it away") from None
    if not isinstance(data, dict) or data.get("format") != REVIEW_FORMAT:
        raise CommandError(f"{path}: not the central review's decisions ({REVIEW_FORMAT}); move it away")
    return data


def review_decisions(paths: list[str], reads: list[Any]) -> Any:
    """The decisions of a database export found in the READS folders (`REVIEW_FILE`), as a `DatabaseExport` of
    ``reads``; None when there is none (the accepted reads are then inferred, as docs/export.md says)."""
    from workstation.review.for_export import AdjudicationDecision, DatabaseExport

    files = [Path(p) / REVIEW_FILE for p in paths if (Path(p) / REVIEW_FILE).is_file()]
    if not files:
        return None
    ids = {r.read_id for r in reads}
    out = DatabaseExport(reads=list(reads))
    for path in files:
        data = _load_review_file(path)
        try:
            out.accepted_ids |= {str(i) for i in data.get("accepted_read_ids", []) if str(i) in ids}
            out.adjudications += [
                AdjudicationDecision(str(d["subject_id"]), str(d.get("adjudicator", "")), str(d["chosen_read_id"]),
                                     str(d.get("reason", "")), str(d["decided_at"]))
                for d in data.get("adjudications", []) if str(d.get("chosen_read_id")) in ids
            ]
        except (TypeError, KeyError, AttributeError) as exc:
            raise CommandError(f"{path}: damaged ({type(exc).__name__}: {exc}); mend it or move it away") from None
    print(f"accepted reads and adjudications from {', '.join(map(str, files))} (the central review's decisions)",
          file=sys.stderr)
    return out


def _choose_study_id(args: argparse.Namespace, say: bool) -> None:
    """STUDYID: --study-id; else the trial's own protocol_id (trial.json beside the inputs); else the default. Said
    on stderr whenever it was not given, and when it differs from the trial's."""
    trials = trial_protocol_ids([*args.reads, *args.dicom])
    if args.study_id is not None:
        others = {k: v for k, v in trials.items() if k != args.study_id}
        for study, index in others.items():
            print(f"note: --study-id {args.study_id} differs from {index}'s protocol_id {study}", file=sys.stderr)
        return
    if len(trials) > 1:
        listed = ", ".join(f"{k} ({v})" for k, v in trials.items())
        raise CommandError(f"the inputs belong to trials with different protocol ids: {listed}; give --study-id")
    if trials:
        ((args.study_id, index),) = trials.items()
        if say:
            print(f"STUDYID {args.study_id} (the protocol_id of {index})", file=sys.stderr)
        return
    args.study_id = DEFAULT_STUDY_ID
    if say:
        print(f"STUDYID {DEFAULT_STUDY_ID} (the default): give --study-id with the protocol's id", file=sys.stderr)


@dataclass(frozen=True)
class _Inputs:
    """What the command line asks for, checked before anything is written."""

    wanted: set[str]
    headers: dict[str, Any] | None  # source CT headers by SOP instance UID (--dicom)
    seg: bool  # SEG is written (explicitly asked for, or `all` with --masks and --dicom)


def _inputs(args: argparse.Namespace) -> _Inputs:
    """The formats to write and the source headers they need; a missing input is refused before anything is written."""
    wanted = set(FORMATS[:-1]) if args.format == "all" else {args.format}
    _choose_study_id(args, say=bool(wanted & {"sdtm", "sr"}))
    if "sr" in wanted and not args.sponsor:
        print(f"SR Clinical Trial Sponsor Name {DEFAULT_SPONSOR!r} (the default): give --sponsor with the sponsor's "
              "name", file=sys.stderr)
    seg = "seg" in wanted
    if seg and (args.masks is None or not args.dicom):
        default = args.masks is None and not args.reads  # from the database the default store was looked for
        looked = f", and there is none at the workstation's default, {default_masks()}" if default else ""
        missing = [
            *([f"--masks (the mask store{looked})"] if args.masks is None else []),
            *(["--dicom (the source CT images)"] if not args.dicom else []),
        ]
        if args.format != "all":
            raise CommandError("seg needs " + " and ".join(missing))
        seg = False  # `all`: every format the inputs allow, and a line for the one left out
        print("no SEG: it needs " + " and ".join(missing), file=sys.stderr)
    if seg and not Path(args.masks).is_dir():
        raise CommandError(f"--masks {args.masks}: no such folder (the workstation's mask store)")
    headers = _headers(args.dicom) if args.dicom and wanted & {"sr", "seg"} else None
    return _Inputs(wanted, headers, seg)


def _skips(skipped: list[_Skipped]) -> str:
    if not skipped:
        return ""
    counts: dict[str, int] = {}
    for s in skipped:
        counts[s.what] = counts.get(s.what, 0) + 1
    return "; left out (named above): " + ", ".join(f"the {what} of {n} read(s)" for what, n in counts.items())


def _export(args: argparse.Namespace, reads: list[Any], export: Any, inputs: _Inputs, out: Path,
            cases: dict[str, dict[str, Any]] | None = None, files: dict[int, Any] | None = None) -> list[_Skipped]:
    """Write the wanted formats of ``reads`` under ``out`` (the staging folder); ``export`` (a `DatabaseExport`) adds
    the accepted flags and decisions; ``cases``: the case files reads were made from, evaluated as written. Returns
    what was left out, per read, with a line on stderr for each. Anything else that fails is a `CommandError` naming
    the format, subject and read (and ``files``: the file each read came from, by ``id``); the caller removes the
    staging folder."""
    from workstation.export.both_criteria import under_both_criteria
    from workstation.export.read_json import write_read
    from workstation.export.sdtm import add_adjudications, assign_evaluators, build_sdtm, write_sdtm
    from workstation.export.tables import write_tables

    wanted = inputs.wanted
    accepted_ids = export.accepted_ids if export is not None else None
    skipped: list[_Skipped] = []
    at = _At(files or {})
    try:
        if wanted & {"sdtm", "csv"} or export is not None:
            at.step = "the responses"
            both = under_both_criteria(reads, cases)  # every read's responses under RECIST 1.1 and iRECIST
            for line in both.left_out:
                print(line, file=sys.stderr)
            results, accepted = both.results, both.accepted(accepted_ids)
        if "sdtm" in wanted:
            at.step = "SDTM"
            sdtm = build_sdtm(both.reads, results, args.study_id, accepted_ids=accepted, derived=both.source)
            if export is not None:
                evaluators = assign_evaluators(both.reads, results, accepted)
                add_adjudications(sdtm, export.adjudications, both.reads, evaluators, args.study_id, both.source)
            write_sdtm(sdtm, out / "sdtm", args.study_id)
        if export is not None and wanted & {"csv", "json"}:
            at.step = "evaluators.csv"
            _write_evaluators(
                both.reads, assign_evaluators(both.reads, results, accepted), export, out / "evaluators.csv",
                both.source,
            )  # the reads evaluated under the other criteria too: responses.csv's read ids join here
        if "csv" in wanted:
            at.step = "the CSV tables"
            locks = export.locks if export is not None else None  # responses.csv: who locked each subject, when
            # the accepted flag of each central read (None without a central review in the database)
            write_tables(both.reads, results, out / "tables", both.source, locks, accepted if export else None)
        if "json" in wanted:
            at.step = "the read files"
            for read in at.each(reads):
                name = "".join(c if c.isalnum() or c in "-." else "_" for c in f"{read.subject_id}_{read.read_id}")
                write_read(read, out / "reads" / f"{name}.json")
            if export is not None:  # the review's decisions and STUDYID, so that an export of these files agrees
                write_review_decisions(export, args.study_id, out / "reads" / REVIEW_FILE)
        if "case" in wanted:
            at.step = "the case files"
            for read in at.each(reads):
                path = out / "cases" / f"{read.subject_id}_{read.reader}_{read.criteria.replace(' ', '')}.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(read.to_case(), indent=2) + "\n", encoding="utf-8")
        if "sr" in wanted:
            at.step = "SR"
            skipped += _sr(args, at.each(reads), inputs.headers, out / "sr")
        if inputs.seg:
            at.step = "SEG"
            skipped += _seg(args, at.each(reads), inputs.headers or {}, out / "seg")
    except CommandError as exc:
        raise CommandError(f"{at}: {exc}; nothing was written to {args.out}", exc.code) from None
    except (ValueError, OSError) as exc:  # SdtmError, SRExportError, SegExportError are ValueErrors
        raise CommandError(f"{at}: {exc}; nothing was written to {args.out}") from None
    except Exception as exc:  # last resort, as `workstation.cli.main`: one line, and the staging folder goes
        raise CommandError(
            f"{at}: unexpected error: {type(exc).__name__}: {exc}; nothing was written to {args.out}", code=1
        ) from None
    return skipped


class _At:
    """Where the export is (format, and read while one read at a time is written), for its one-line error."""

    def __init__(self, files: dict[int, Any] | None = None) -> None:
        self.step = ""
        self.read: Any = None
        #: the file each read came from (by ``id``), to name where to mend it
        self.files = files or {}

    def each(self, reads: list[Any]) -> Iterator[Any]:
        for read in reads:
            self.read = read
            yield read
        self.read = None

    def __str__(self) -> str:
        where = f"writing {self.step} failed"
        if self.read is not None:
            where += f" for subject {self.read.subject_id}, read {self.read.read_id} ({self.read.reader})"
            if id(self.read) in self.files:
                where += f" from {self.files[id(self.read)]}"
        return where


def _sr(args: argparse.Namespace, reads: Iterator[Any], headers: Any, out: Path) -> list[_Skipped]:
    """One SR per read and timepoint. A read whose SR cannot be built (measured without image references, end points
    without a frame of reference, images whose study and series it does not know) gets none, with a line naming it,
    when exporting `all` or from the database; exporting `sr` from files, it fails the export."""
    from workstation.export.dicom_sr import SRExportError, export_sr

    skipped: list[_Skipped] = []
    skip = args.format == "all" or not args.reads
    for read in reads:
        if not any(
            m.sop_instance_uid for tp in read.timepoints for a in tp.assessments.values() for m in a.measurements
        ):
            if skip:  # a case file, or a database read measured without images: nothing to reference
                skipped.append(_left_out(read, "SR", "its measurements reference no image (a case file has none)"))
                continue
            raise CommandError(
                "the read references no image (a case file has no geometry); export SR from reads made on images"
            )
        try:
            export_sr(read, out, headers, protocol_id=args.study_id, sponsor=args.sponsor or DEFAULT_SPONSOR)
        except SRExportError as exc:
            if not skip:
                raise
            skipped.append(_left_out(read, "SR", exc))
    return skipped


def _left_out(read: Any, what: str, why: Exception | str) -> _Skipped:
    """``what`` (SR, SEG) of ``read`` is not exported: said on stderr, and returned for the summary and audit."""
    print(
        f"no {what} for subject {read.subject_id} ({read.reader}, {read.criteria}, read {read.read_id}): {why}; "
        "the read's other formats are exported",
        file=sys.stderr,
    )
    return _Skipped(read.subject_id, read.reader, read.read_id, what, str(why))


def _seg(args: argparse.Namespace, reads: Iterator[Any], headers: Any, out: Path) -> list[_Skipped]:
    """SEG files per read. A read whose masks cannot be exported (a mask missing from the store, source images not in
    the DICOM folders) gets none, with a line naming it, when exporting `all` or from the database; exporting `seg`
    from files, it fails the export."""
    from workstation.export.dicom_seg import SegExportError, export_seg
    from workstation.mask_store import MaskStore

    skipped: list[_Skipped] = []
    skip = args.format == "all" or not args.reads
    store = MaskStore(args.masks)
    for read in reads:
        try:
            export_seg(read, store, headers, out)
        except SegExportError as exc:
            if not skip:
                raise
            skipped.append(_left_out(read, "SEG", exc))
    return skipped


def _write_evaluators(
    reads: list[Any], evaluators: dict[str, Any], export: Any, path: Path, derived: dict[str, str] | None = None
) -> Path:
    """Which file is whose: every exported read with its evaluator, accepted flag and adjudication (a read evaluated
    under the other criteria, ``derived`` -> its source, shares its source's adjudication)."""
    import csv

    decided = {d.chosen_read_id: d for d in export.adjudications}
    decided |= {copy: decided[source] for copy, source in (derived or {}).items() if source in decided}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "subject_id",
                "read_id",
                "reader",
                "reader_role",
                "criteria",
                "timepoints",
                "EVAL",
                "EVALID",
                "ACPTFL",
                "adjudicator",
                "adjudication_reason",
                "adjudicated_at",
            ]
        )
        for r in reads:
            ev, d = evaluators[r.read_id], decided.get(r.read_id)
            w.writerow(
                [
                    r.subject_id,
                    r.read_id,
                    r.reader,
                    r.reader_role,
                    r.criteria,
                    len(r.timepoints),
                    ev.eval,
                    ev.evalid,
                    ev.accepted,
                    d.adjudicator if d else "",
                    d.reason if d else "",
                    d.decided_at if d else "",
                ]
            )
    return path
