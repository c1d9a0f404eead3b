"""`recist pacs`: configure PACS servers and query, retrieve and store with them (DICOMweb or DIMSE).

    recist pacs servers                                   list the configured servers and the config file
    recist pacs add NAME --protocol dicomweb --url URL [--username U --password-env VAR]
    recist pacs add NAME --protocol dimse --host H --port P --called-ae AE [--calling-ae AE] [--retrieve c-move ...]
    recist pacs remove NAME
    recist pacs echo                                      check the server answers
    recist pacs find [--patient-id ID] [--accession A] [--from DATE] [--to DATE] [--modality CT] [--series] [--json]
    recist pacs get STUDY_UID ... | --patient-id ID [--series UID ...] [--cache DIR]
                                                          retrieve into the cache (resumes), prints the folders
    recist pacs store FILE_OR_FOLDER ...                  send SR / SEG / any DICOM files

``--server NAME`` picks a server (default: the configured default, or the only one); ``--config PATH`` another
settings file (default: ``$RECIST_PACS_CONFIG`` or the user config folder). Exit status 0 on success, 1 when some
files were refused, 2 on an error (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

from imaging.cancel import Cancelled, CancelToken
from imaging.pacs import (
    LocalCache,
    PacsError,
    PacsSettings,
    ServerSettings,
    StudyQuery,
    connect,
    default_config_path,
    load_settings,
    save_settings,
)
from imaging.pacs.cache import is_uid
from workstation.cli import CommandError

NAME = "pacs"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(NAME, help="query, retrieve and store with a PACS (DICOMweb or DIMSE)")
    p.add_argument("--config", type=Path, help="settings file (default: $RECIST_PACS_CONFIG or the user config folder)")
    p.add_argument("--server", help="server name (default: the default or only configured server)")
    # The same two options after the action too (`recist pacs echo --server x`); SUPPRESS keeps a value given before.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="settings file")
    common.add_argument("--server", default=argparse.SUPPRESS, help="server name")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = actions.add_parser(name, help=help_text, parents=[common])
        return parser

    action("servers", "list the configured servers")

    add = action("add", "add or replace a server in the settings")
    add.add_argument("name")
    add.add_argument("--protocol", choices=("dicomweb", "dimse"), required=True)
    add.add_argument("--url", default="", help="DICOMweb base URL, e.g. https://pacs.example.org/dicom-web")
    add.add_argument("--host", default="")
    add.add_argument("--port", type=int, default=104)
    add.add_argument("--called-ae", default="", help="the PACS's AE title")
    add.add_argument("--calling-ae", default="RECIST", help="our AE title")
    add.add_argument("--retrieve", choices=("c-get", "c-move"), default="c-get", dest="retrieve_method")
    add.add_argument("--storage-port", type=int, default=0, help="C-MOVE: our port the PACS sends images to")
    add.add_argument("--tls", action="store_true")
    add.add_argument("--ca-file", default="")
    add.add_argument("--cert-file", default="")
    add.add_argument("--key-file", default="")
    add.add_argument("--username", default="")
    add.add_argument("--password-env", default="", help="environment variable holding the password")
    add.add_argument("--timeout", type=float, default=30.0, dest="timeout_s", help="seconds (default 30)")
    add.add_argument("--default", action="store_true", help="make it the default server")

    remove = action("remove", "remove a server from the settings")
    remove.add_argument("name")

    action("echo", "check the server answers (C-ECHO or a QIDO-RS request)")

    find = action("find", "search studies")
    find.add_argument("--patient-id", default="", help="patient ID (wildcards * and ? allowed)")
    find.add_argument("--accession", default="", help="accession number")
    find.add_argument("--from", dest="date_from", type=_parse_date, help="study date from (YYYY-MM-DD)")
    find.add_argument("--to", dest="date_to", type=_parse_date, help="study date to (YYYY-MM-DD)")
    find.add_argument("--modality", default="", help="modality in study, e.g. CT")
    find.add_argument("--series", action="store_true", help="list each study's series too")
    find.add_argument("--json", action="store_true", help="print JSON instead of a table")

    get = action("get", "retrieve studies (or some series) into the local cache")
    get.add_argument("study_uids", nargs="*", metavar="STUDY_UID")
    get.add_argument("--patient-id", default="", help="every study of this patient (all of a subject's timepoints)")
    get.add_argument("--modality", default="", help="with --patient-id: only studies with this modality")
    get.add_argument("--series", action="append", dest="series_uids", metavar="SERIES_UID",
                     help="only this series (repeatable)")
    get.add_argument("--cache", type=Path, help="cache folder (default: from the settings)")
    get.add_argument("--quiet", action="store_true", help="no progress on stderr")

    store = action("store", "send DICOM files (SR, SEG, ...) to the server")
    store.add_argument("paths", nargs="+", type=Path, help="files or folders (walked)")
    p.set_defaults(func=run)


def _parse_date(text: str) -> date:
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise argparse.ArgumentTypeError(f"'{text}' is not a date (YYYY-MM-DD)")


def run(args: argparse.Namespace) -> int:
    try:
        return int(_ACTIONS[args.action](args))
    except PacsError as exc:
        raise CommandError(str(exc)) from exc
    except Cancelled as exc:
        raise CommandError(str(exc), code=130) from exc


def _settings(args: argparse.Namespace) -> tuple[PacsSettings, Path]:
    path = args.config or default_config_path()
    return load_settings(path), path


def _server(args: argparse.Namespace) -> ServerSettings:
    settings, _ = _settings(args)
    return settings.server(args.server)


def _servers(args: argparse.Namespace) -> int:
    settings, path = _settings(args)
    print(f"settings: {path}")
    print(f"cache:    {settings.cache_dir}")
    if not settings.servers:
        print("no servers configured (add one with `recist pacs add`)")
    for server in settings.servers:
        mark = "*" if server.name == settings.default or len(settings.servers) == 1 else " "
        print(f"{mark} {server.describe()}")
    return 0


def _add(args: argparse.Namespace) -> int:
    settings, path = _settings(args)
    fields = ("url", "host", "port", "called_ae", "calling_ae", "retrieve_method", "storage_port", "tls", "ca_file",
              "cert_file", "key_file", "username", "password_env", "timeout_s")
    server = ServerSettings(name=args.name, protocol=args.protocol, **{f: getattr(args, f) for f in fields})
    settings = settings.with_server(server)
    if args.default:
        from dataclasses import replace

        settings = replace(settings, default=server.name)
    save_settings(settings, path)
    print(f"saved {server.describe()} to {path}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    settings, path = _settings(args)
    save_settings(settings.without_server(args.name), path)
    print(f"removed {args.name} from {path}")
    return 0


def _echo(args: argparse.Namespace) -> int:
    server = _server(args)
    with connect(server) as pacs:
        seconds = pacs.check()
    print(f"{server.describe()}: OK ({seconds * 1000:.0f} ms; it answers a search too)")
    return 0


def _find(args: argparse.Namespace) -> int:
    query = StudyQuery(args.patient_id, args.accession, args.date_from, args.date_to, args.modality.upper())
    with connect(_server(args)) as pacs:
        studies = sorted(pacs.find_studies(query), key=lambda s: (s.patient_id, s.study_date or date.min))
        series = {s.study_uid: pacs.find_series(s.study_uid) for s in studies} if args.series else {}
    if args.json:
        out = []
        for study in studies:
            item: dict[str, Any] = {
                "study_uid": study.study_uid, "patient_id": study.patient_id, "patient_name": study.patient_name,
                "study_date": study.study_date.isoformat() if study.study_date else None,
                "accession_number": study.accession_number, "description": study.description,
                "modalities": list(study.modalities), "series_count": study.series_count,
                "instance_count": study.instance_count,
            }
            if args.series:
                item["series"] = [
                    {"series_uid": s.series_uid, "modality": s.modality, "series_number": s.series_number,
                     "description": s.description, "instance_count": s.instance_count}
                    for s in series[study.study_uid]
                ]
            out.append(item)
        json.dump(out, sys.stdout, indent=2)
        print()
        return 0
    if not studies:
        print("no matching studies")
        return 0
    print(f"{'PATIENT ID':<16} {'NAME':<20} {'DATE':<10}  {'ACCESSION':<12} {'MODALITY':<8} {'SERIES':>10}  "
          "STUDY UID  DESCRIPTION")
    for study in studies:
        when = study.study_date.isoformat() if study.study_date else "????-??-??"
        name = str(study.patient_name or "").replace("^", " ").strip()[:20]
        print(f"{study.patient_id:<16} {name:<20} {when}  {study.accession_number:<12} {'/'.join(study.modalities):<8} "
              f"{study.series_count if study.series_count is not None else '?':>3} series  {study.study_uid}  "
              f"{study.description}")
        for s in series.get(study.study_uid, []):
            count = s.instance_count if s.instance_count is not None else "?"
            print(f"    {s.modality:<4} #{s.series_number if s.series_number is not None else '?':<4} "
                  f"{count:>5} instances  {s.series_uid}  {s.description}")
    return 0


def _get(args: argparse.Namespace) -> int:
    settings, _ = _settings(args)
    server = settings.server(args.server)
    cache = LocalCache(args.cache or settings.cache_dir)
    if not args.study_uids and not args.patient_id:
        raise CommandError("name the studies to retrieve (STUDY_UID ...) or a patient (--patient-id)")
    if args.series_uids and (args.patient_id or len(args.study_uids) != 1):
        raise CommandError("--series needs exactly one STUDY_UID")
    for uid in [*args.study_uids, *(args.series_uids or [])]:
        if not is_uid(uid):
            raise CommandError(f"{uid!r} is not a DICOM UID (digits and dots): give the study's Study Instance UID")
    cancel = CancelToken()

    def progress(done: int, total: int, message: str) -> None:
        if not args.quiet:
            print(f"\r{label}: {done}/{total} instances", end="", file=sys.stderr, flush=True)

    label = ""
    try:
        with connect(server) as pacs:
            study_uids = list(args.study_uids)
            if args.patient_id:
                query = StudyQuery(patient_id=args.patient_id, modality=args.modality.upper())
                found = sorted(pacs.find_studies(query), key=lambda s: s.study_date or date.min)
                if not found:
                    raise CommandError(f"no studies of patient '{args.patient_id}' on {server.name}")
                study_uids += [s.study_uid for s in found if s.study_uid not in study_uids]
            for n, study_uid in enumerate(study_uids, 1):
                label = f"study {n}/{len(study_uids)}"
                result = pacs.retrieve(study_uid, cache, args.series_uids, progress=progress, cancel=cancel)
                if not args.quiet:
                    print(file=sys.stderr)
                # each study as it completes: one retrieved before a later study fails is named all the same
                print(f"{result.study_uid}: {result.fetched} fetched, {result.already_cached} already cached, "
                      f"{result.total} in all", flush=True)
                for folder in result.series_folders:
                    print(f"  {folder}", flush=True)
    except KeyboardInterrupt:
        cancel.cancel()
        raise CommandError("interrupted; the files already retrieved are kept, run again to resume", 130) from None
    return 0


def _store(args: argparse.Namespace) -> int:
    with connect(_server(args)) as pacs:
        result = pacs.store(args.paths)
    print(f"stored {len(result.stored)} instance(s)")
    for path, reason in result.failed:
        print(f"refused: {path}: {reason}", file=sys.stderr)
    return 1 if result.failed else 0


_ACTIONS = {
    "servers": _servers, "add": _add, "remove": _remove, "echo": _echo, "find": _find, "get": _get, "store": _store,
}
