"""`recist import FILES... --out DIR`: our DICOM SR (TID 1500), exported read JSON and engine case files back into
read files (exported JSON, one per read), ready for `recist export` or the workstation. SEG files: with --dicom (the
source CT) and --masks (a mask store), each lesion mask goes into the store and the imported read's measurement at
that lesion and timepoint points at it; without them, the segments are listed.

`recist import FILES... --db URL --user NAME`: the same reads into the reading database instead, e.g. a site's reads
made before it had one (kept as files in the user data folder). The reader imports their own reads (a case file's
become theirs); an administrator may import any active site reader's read file, never a case file. All or nothing,
in one transaction, audited as created with the file they came from. Signatures do not travel: a signature is made
only by signing in the workstation (with the password), so a signed timepoint arrives unsigned, said for each. A
central read is never imported (it is made in the blinded review), nor a read of a subject the reader already has
one of in the database."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from workstation.cli import CommandError


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("import", help="import reads from our own SR/SEG or case files", description=__doc__)
    p.add_argument("files", nargs="+", help="SR/SEG .dcm files, read or case .json files, or folders of them")
    p.add_argument("--out", help="folder for the imported read files (or --db)")
    p.add_argument("--db", help="put the reads into the reading database instead: URL or SQLite file")
    p.add_argument("--user", help="with --db: the reader whose reads these are (password asked), or an administrator")
    p.add_argument("--password-stdin", action="store_true", help="with --db: read the password from stdin")
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

    if (args.out is None) == (args.db is None):
        raise CommandError("give --out (read files) or --db (the reading database), one of them")
    if args.db is None and (args.user or args.password_stdin):
        raise CommandError("--user and --password-stdin sign in for --db; read files written to --out need none")
    if args.db is not None and (args.masks or args.dicom or args.overwrite):
        raise CommandError("--masks, --dicom and --overwrite are for read files (--out), not --db")
    files: list[Path] = []
    for raw in args.files:
        p = Path(raw)
        if not p.exists():
            raise CommandError(f"{p}: no such file or folder")
        files += sorted(x for x in p.rglob("*") if x.is_file() and not hidden_under(x, p)) if p.is_dir() else [p]
    files = list({f.resolve(): f for f in files}.values())  # a file named twice (or also in a folder) is read once
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
        sources = [f"the SR files ({len(sr)})"] * len(reads)
        # JSON files named on the command line must be read or case files; in a folder, others (trial.json, the
        # engine's results, ground truth) are passed over, as `recist export` does
        jsons = [str(f) for f in files if f.suffix.lower() == ".json" and f in explicit]
        jsons += [raw for raw in args.files if Path(raw).is_dir()]
        for path, read in collect_reads(jsons) if jsons else []:
            reads.append(read)
            sources.append(str(path))
        for f in seg:
            for lm in import_seg(f):
                masks.append(lm)
                print(f"{f}: lesion {lm.lesion_id} (tracking UID {lm.tracking_uid}) on {len(lm.sop_instance_uids)} "
                      f"slice(s), {int(lm.planes.sum())} voxels")
    except (SRImportError, SegExportError, ReadFileError) as exc:
        raise CommandError(str(exc)) from None
    if not reads and not seg:
        raise CommandError("nothing to import: no SR, SEG, read or case file among " + ", ".join(args.files))
    if args.db is not None:
        if not reads:
            raise CommandError("nothing to import into the database: SEG files carry masks, not reads")
        return _into_database(args, reads, sources)
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


def _into_database(args: argparse.Namespace, reads: list[Any], sources: list[str]) -> int:
    """Save ``reads`` as new reads of the signed-in reader, all in one transaction (see the module's docstring)."""
    from workstation.cli.users import SignInFailed, password_reader
    from workstation.export.read_json import CASE_FILE_READER, case_tracking_uid
    from workstation.storage import StorageError, open_database
    from workstation.storage.locks import SubjectLocked
    from workstation.storage.repository import ReadError, find_reads, save_read_on
    from workstation.users import (
        AuthenticationError,
        PermissionDenied,
        UserRole,
        authenticate,
        get_user,
        record_denial,
        require_role,
        with_article,
    )

    if not args.user:
        raise CommandError("sign in with --user NAME: the reader whose reads these are (or an administrator)")
    try:
        db = open_database(args.db, create=False)
    except StorageError as exc:
        raise CommandError(str(exc)) from None
    try:
        try:
            user = authenticate(db, args.user, password_reader(args.password_stdin)(f"password of {args.user}"))
            require_role(user, UserRole.SITE_READER, UserRole.ADMINISTRATOR)
        except AuthenticationError as exc:
            raise SignInFailed(f"--user {args.user}: {exc}") from None
        except PermissionDenied as exc:
            record_denial(db, user, "recist import")
            raise CommandError(f"{exc}: a site reader imports their own reads") from None
        notes: list[str] = []
        for read, source in zip(reads, sources, strict=True):
            if read.reader == CASE_FILE_READER:
                if user.role is UserRole.ADMINISTRATOR:
                    raise CommandError(
                        f"{source}: a case file names no reader; the site reader whose read it is imports it (it "
                        "becomes theirs); nothing was imported"
                    )
                # a case file names no reader: the read becomes the importer's, with its own id and tracking UIDs
                read.reader = user.username
                read.read_id = f"{read.subject_id}-{read.criteria.replace(' ', '')}-{user.username}"
                for lesion in read.lesions.values():
                    lesion.tracking_uid = case_tracking_uid(read.subject_id, user.username, lesion.lesion_id)
            if read.reader_role != "site":
                raise CommandError(
                    f"{source}: {with_article(read.reader_role)} read of subject {read.subject_id} ({read.reader}); "
                    "central and adjudication reads are made in the blinded review, never imported; nothing was "
                    "imported"
                )
            if read.reader != user.username and user.role is not UserRole.ADMINISTRATOR:
                record_denial(db, user, f"recist import of {read.reader}'s read of subject {read.subject_id}")
                raise CommandError(
                    f"{source}: the read of subject {read.subject_id} is {read.reader}'s; {user.username} imports only "
                    "their own (or an administrator anyone's); nothing was imported"
                )
            owner = get_user(db, read.reader)
            if owner is None or not owner.active or owner.role is not UserRole.SITE_READER:
                what = "no user" if owner is None else (
                    "an inactive account" if not owner.active else with_article(owner.role))
                raise CommandError(
                    f"{source}: the read's reader {read.reader} is {what} of this database; a site read belongs to "
                    "an active site reader (add the account first); nothing was imported"
                )
            for tp in read.timepoints:
                if tp.signature is not None:
                    notes.append(
                        f"subject {read.subject_id} ({read.reader}) timepoint {tp.label!r}: signed by "
                        f"{tp.signature.user} in the file; not carried over, sign it again in the workstation"
                    )
                    tp.signature = None
        mine = [(r.subject_id, r.reader) for r in reads]
        twice = sorted({k for k in mine if mine.count(k) > 1})
        if twice:
            subject, reader = twice[0]
            raise CommandError(f"two reads of subject {subject} by {reader} among the files; nothing was imported")
        try:
            for read, source in zip(reads, sources, strict=True):
                if find_reads(db, read.subject_id, reader=read.reader):
                    raise CommandError(
                        f"{source}: {read.reader} already has a read of subject {read.subject_id} in {db.where} (open "
                        "it in the workstation); nothing was imported"
                    )
            at = ""  # the file being saved: a subject locked for analysis is named with it
            with db.transaction() as conn:
                for read, source in zip(reads, sources, strict=True):
                    at = source
                    try:
                        save_read_on(conn, db.where, read, user=user, expected_version=None,
                                     reason=f"imported from {source}")
                    except SubjectLocked:
                        raise  # audited below, once the transaction rolled back
                    except ReadError as exc:
                        raise CommandError(f"{source}: {exc}; nothing was imported") from None
        except SubjectLocked as exc:  # audited as a refused change is, under the subject
            record_denial(db, user, f"recist import of {at}", str(exc), subject_id=exc.subject_id)
            raise CommandError(f"{at}: {exc}; nothing was imported") from None
        except StorageError as exc:
            raise CommandError(f"{exc}; nothing was imported") from None
    finally:
        db.close()
    for note in notes:
        print(note, file=sys.stderr)
    for read, source in zip(reads, sources, strict=True):
        print(f"{source}: subject {read.subject_id}, {read.reader}, {len(read.timepoints)} timepoint(s)")
    print(f"{len(reads)} read(s) imported into {db.where}", file=sys.stderr)
    return 0
