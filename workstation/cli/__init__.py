"""The `recist` command. Each subcommand lives in its own module with ``add_parser(subparsers)`` and ``run(args)``.

Errors reach the user as one line on stderr and a non-zero exit, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from workstation.export.staging import ExportScope, LeftoversError, StagedFolder, StagingError

#: subcommand -> (module under workstation.cli, one-line help). Modules are imported only when their command runs,
#: so `recist evaluate` never pays for torch or Qt.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "evaluate": ("evaluate", "RECIST 1.1 / iRECIST responses of one subject from a JSON case file"),
    "endpoints": ("endpoints", "trial endpoints (ORR, DCR, DoR, PFS) over a folder of case files"),
    "series": ("series", "list the DICOM series under a folder, with geometry and warnings"),
    "segment": ("segment", "segment a lesion from a point and print its RECIST diameters"),
    "train": ("train", "train the lesion segmentation model on synthetic lesions"),
    "generate-sample": ("generate_sample", "generate the synthetic sample trial (DICOM + ground truth)"),
    "audit": ("audit", "show or verify the tamper-evident audit trail"),
    "users": ("users", "manage workstation users and roles"),
    "export": ("export", "export reads (SDTM, DICOM SR/SEG, CSV/JSON)"),
    "import": ("import_reads", "import reads from our own SR/SEG or case files"),
    "report": ("report", "the trial report (ORR, DCR, DoR, PFS, plots) as HTML/PDF and CSV"),
    "pacs": ("pacs", "query, retrieve and store with a PACS (DICOMweb or DIMSE)"),
    "review": ("review", "blinded central review: assign readers, progress, discordance"),
    "lock": ("lock", "lock subjects for analysis (the data manager's database lock), or --list the locked ones"),
    "unlock": ("unlock", "unlock subjects locked for analysis (with a reason)"),
}


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status ``code``."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def output_folder(path: str | Path, option: str = "--out") -> Path:
    """Checks, before any work and without creating anything, that the output folder is one or can be made: a path
    that is a file, or lies under a file, is a `CommandError` naming it."""
    if not str(path).strip():  # an unset shell variable: never the current folder by accident
        raise CommandError(f"{option} is empty: name the folder to write into")
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise CommandError(f"{option} {out} is a file, not a folder")
    parent = next((p for p in out.absolute().parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise CommandError(f"{option} {out}: cannot create the folder ({parent} is a file)")
    if parent is not None and not os.access(parent, os.W_OK | os.X_OK):
        raise CommandError(f"{option} {out}: cannot create the folder (no permission to write in {parent})")
    return out


@contextmanager
def staged_output(
    out: str | Path, option: str = "--out", scope: ExportScope | None = None, own_top_level: tuple[str, ...] = ()
) -> Iterator[StagedFolder]:
    """A hidden staging folder inside the output folder (`workstation.export.staging`) to write everything into; it
    is removed on leaving, with nothing moved into place unless `into_place` was called (all or nothing). ``scope``:
    what the export holds, checked against an earlier export in the same sub-folders (`StagedFolder.check`)."""
    staged = StagedFolder(out, scope, own_top_level)
    try:
        staged.open()
    except OSError as exc:
        raise CommandError(f"{option} {out}: cannot create the folder to write into ({exc.strerror or exc})") from None
    try:
        yield staged
    finally:
        staged.discard()


def into_place(staged: StagedFolder, recorded: bool = False) -> list[Path]:
    """Move the staged files into the output folder and print each one's path; ``recorded``: the audit trail already
    has the entry for them (said when the move fails)."""
    try:
        written = staged.commit()
    except LeftoversError as exc:
        raise CommandError(f"{exc}; nothing was written to {staged.out}") from None
    except StagingError as exc:
        raise CommandError(f"{exc}{' (recorded in the audit trail)' if recorded else ''}") from None
    for p in written:
        print(p)
    return written


def _load(name: str):  # type: ignore[no-untyped-def]
    module, _ = SUBCOMMANDS[name]
    return importlib.import_module(f"workstation.cli.{module}")


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recist", description="RECIST tumour-measurement workstation tools.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, (_, help_text) in SUBCOMMANDS.items():
        if name == wanted:
            try:
                _load(name).add_parser(sub)
                continue
            except ModuleNotFoundError as exc:
                if exc.name != f"workstation.cli.{SUBCOMMANDS[name][0]}":
                    raise
        sub.add_parser(name, help=help_text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(args_list)
    args = parser.parse_args(args_list)
    if not args.command:
        parser.print_help()
        return 2
    if not hasattr(args, "func"):
        print(f"recist: the '{args.command}' command is not available in this build", file=sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except CommandError as exc:
        print(f"recist {args.command}: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print(f"recist {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the output was piped into a command that stopped reading (`| head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # last resort: one clear line, never a traceback
        print(f"recist {args.command}: unexpected error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
