"""All-or-nothing output: files are written into a hidden staging folder inside the destination and moved into place
together only once everything was written; otherwise the staging folder is removed and the destination is left as it
was.

The staging folder lies inside the destination, so moving a file into place is a rename on the same file system
(never a copy that could stop halfway through a file). It is private to its owner (mode 0700). A process killed
without a chance to clean up (SIGKILL, power loss) leaves it behind under its hidden name (``STAGING_PREFIX``...),
with unfinished, possibly unblinded files in it: the next export into the same folder removes it (`remove_abandoned`),
once its owner (`OWNER_FILE`: host and process id) is no longer running.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

#: The name every staging folder starts with (hidden on Unix, and recognisable in a listing).
STAGING_PREFIX = ".recist-export-"
#: Written (hidden) into the sub-folders whose file names do not name the read (`SCOPED_FOLDERS`): which study and
#: reads the export there holds (`ExportScope`). Elsewhere (sr/, seg/, reads/, cases/) each read has files of its own
#: name, and an earlier export's read this one lacks is a leftover (`StagedFolder.leftovers`); no file is added there
#: for the DICOM tools that read those folders whole.
SCOPE_FILE = ".export-scope.json"
SCOPED_FOLDERS = frozenset({"sdtm", "tables"})
#: Inside each staging folder: ``host pid`` of the process writing it (not a file of the export).
OWNER_FILE = ".owner"
#: A staging folder without a readable owner is taken as abandoned once it is this old (killed before writing it).
UNOWNED_AGE_S = 3600.0


@dataclass(frozen=True)
class ExportScope:
    """What an export holds: its study and its reads (read id -> subject id). Its files keep their names from one
    export to the next (``sdtm/tr.csv``), so an export that replaced another study's, or dropped reads an earlier one
    held, would go unnoticed: `StagedFolder.check` refuses both."""

    study_id: str
    reads: Mapping[str, str]

    def to_json(self) -> str:
        return json.dumps({"study_id": self.study_id, "reads": dict(sorted(self.reads.items()))}, indent=1) + "\n"

    @classmethod
    def from_file(cls, path: Path) -> ExportScope:
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            return cls(str(d["study_id"]), {str(k): str(v) for k, v in dict(d["reads"]).items()})
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LeftoversError(
                f"{path} (what an earlier export in that folder held) cannot be read ({exc}): export into a new "
                "folder, or remove that folder first"
            ) from None


class StagingError(OSError):
    """The staged files could not be moved into place; the message says which and how many are in place."""


class LeftoversError(StagingError):
    """The destination holds an earlier export's files that this one would not replace; nothing was moved."""


def _running(owner: str) -> bool:
    """Whether the ``host pid`` of an `OWNER_FILE` is a process still running here (another host's: assumed so)."""
    try:
        host, pid = owner.split()
        number = int(pid)
    except ValueError:
        return False
    if host != socket.gethostname():
        return True
    try:
        os.kill(number, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_abandoned(out: Path) -> list[Path]:
    """Remove the staging folders in ``out`` whose export was killed (its owner no longer runs, or it has no owner and
    is older than `UNOWNED_AGE_S`); those of exports still running are left alone. Returns the ones removed."""
    removed: list[Path] = []
    if not out.is_dir():
        return removed
    for folder in sorted(out.glob(STAGING_PREFIX + "*")):
        if not folder.is_dir() or folder.is_symlink():
            continue
        try:
            owner = (folder / OWNER_FILE).read_text(encoding="utf-8")
        except OSError:
            try:
                age = time.time() - folder.stat().st_mtime
            except OSError:
                continue
            if age < UNOWNED_AGE_S:
                continue
        else:
            if _running(owner):
                continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


class StagedFolder:
    """``with StagedFolder(out) as staged:`` write under ``staged.path``, then ``staged.commit()`` moves every file to
    the same place under ``out`` (replacing a file already there, as a direct write would). Leaving the block without
    committing, by an exception or otherwise, removes the staging folder; a destination folder this created is removed
    again when it ends up empty."""

    def __init__(
        self, out: str | Path, scope: ExportScope | None = None, own_top_level: tuple[str, ...] = ()
    ) -> None:
        self.out = Path(out)
        #: name patterns (fnmatch) of the files this kind of output writes directly into ``out`` (a report's): such a
        #: file already there that this one does not replace is a leftover too (an older report's figure)
        self.own_top_level = own_top_level
        #: what this export holds; with it, each sub-folder gets a `SCOPE_FILE` and is checked against the earlier one
        self.scope = scope
        self._path: Path | None = None
        self._created: list[Path] = []  # folders this made for the destination, outermost first
        self.committed = False

    @property
    def path(self) -> Path:
        if self._path is None:
            raise RuntimeError("the staging folder exists only between open() and discard()")
        return self._path

    def __enter__(self) -> StagedFolder:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.discard()

    def open(self) -> None:
        """Create the staging folder (and the destination folder, when there is none yet)."""
        missing = [p for p in (self.out.absolute(), *self.out.absolute().parents) if not p.exists()]
        self.out.mkdir(parents=True, exist_ok=True)
        self._created = list(reversed(missing))
        try:
            remove_abandoned(self.out)
            self._path = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.out))
            (self._path / OWNER_FILE).write_text(f"{socket.gethostname()} {os.getpid()}\n", encoding="utf-8")
        except BaseException:
            if self._path is not None:
                shutil.rmtree(self._path, ignore_errors=True)
                self._path = None
            self._remove_created()
            raise

    def discard(self) -> None:
        """Remove the staging folder with whatever is still in it (after a commit: nothing), and the destination
        folder again if this created it and it is empty."""
        if self._path is not None:
            shutil.rmtree(self._path, ignore_errors=True)
            self._path = None
        self._remove_created()
        self._created = []

    def _remove_created(self) -> None:
        for folder in reversed(self._created):  # innermost first; only while empty
            try:
                folder.rmdir()
            except OSError:
                break

    def files(self) -> list[Path]:
        """The staged files, relative to the staging folder, in name order (not its `OWNER_FILE`)."""
        return sorted(
            p.relative_to(self.path)
            for p in self.path.rglob("*")
            if (p.is_file() or p.is_symlink()) and p != self.path / OWNER_FILE
        )

    def leftovers(self) -> list[Path]:
        """Files already in the destination's sub-folders that the staged files go into (``sdtm/``, ``sr/``, ...)
        which this export would not replace: an earlier export's (another subject's SR, a read since removed). Files
        directly in the destination count only when they match ``own_top_level``; hidden ones never."""
        staged = set(self.files())
        folders = {rel.parent for rel in staged if rel.parent != Path(".")}
        found: list[Path] = []
        if self.own_top_level and self.out.is_dir():
            for p in sorted(self.out.iterdir()):
                rel = p.relative_to(self.out)
                mine = any(fnmatch.fnmatch(p.name, pattern) for pattern in self.own_top_level)
                if mine and not p.name.startswith(".") and p.is_file() and rel not in staged:
                    found.append(rel)
        for folder in sorted(folders):
            target = self.out / folder
            if not target.is_dir() or target.is_symlink():
                continue
            for p in sorted(target.iterdir()):
                rel = p.relative_to(self.out)
                if not p.name.startswith(".") and (p.is_file() or p.is_symlink()) and rel not in staged:
                    found.append(rel)
        return found

    def check(self) -> None:
        """Raise `StagingError` if a staged file could not replace its target (a folder of that name, a file where a
        folder must be), or if the destination holds files of an earlier export that would stay beside this one's
        (`leftovers`: the folder would mix two exports); callers that record the export first (the audit trail)
        check before recording it."""
        self._check_scope()
        old = self.leftovers()
        if old:
            more = f" and {len(old) - 1} more" if len(old) > 1 else ""
            raise LeftoversError(
                f"{self.out} already holds {len(old)} file(s) this export would not replace ({old[0]}{more}): the "
                "folder would mix two exports; export into a new folder, or remove them first"
            )
        for rel in self.files():
            target = self.out / rel
            if target.is_dir() and not target.is_symlink():
                raise StagingError(f"cannot write {target}: a folder of that name is in the way")
            for parent in list(target.parents)[: len(rel.parts) - 1]:
                if parent.exists() and not parent.is_dir():
                    raise StagingError(f"cannot write {target}: {parent} is a file, not a folder")

    def _check_scope(self) -> None:
        """Write this export's scope into each staged sub-folder; refuse a sub-folder of the destination holding an
        earlier export of another study, or of reads this one does not have."""
        if self.scope is None:
            return
        folders = sorted({rel.parts[0] for rel in self.files() if len(rel.parts) > 1} & SCOPED_FOLDERS)
        if self.own_top_level:  # an output written directly into the destination (a report) is scoped there
            folders.append(".")
        for folder in folders:
            (self.path / folder / SCOPE_FILE).write_text(self.scope.to_json(), encoding="utf-8")
            earlier_file = self.out / folder / SCOPE_FILE
            if not earlier_file.is_file():
                continue
            earlier = ExportScope.from_file(earlier_file)
            where = self.out / folder
            if earlier.study_id != self.scope.study_id:
                raise LeftoversError(
                    f"{where} holds an export of study {earlier.study_id!r}; this one is of study "
                    f"{self.scope.study_id!r}: the folder would mix two studies; export into a new folder, or remove "
                    "it first"
                )
            dropped = sorted(set(earlier.reads) - set(self.scope.reads))
            if dropped:
                subjects = sorted({earlier.reads[r] for r in dropped})
                more = f" and {len(subjects) - 1} more" if len(subjects) > 1 else ""
                raise LeftoversError(
                    f"{where} holds an export with {len(dropped)} read(s) this one does not have (subject "
                    f"{subjects[0]}{more}): replacing its files would drop them; export into a new folder, or remove "
                    "it first"
                )

    def commit(self) -> list[Path]:
        """Move every staged file into place; returns their paths under ``out``. Every target is checked before the
        first move (`check`), so a target that cannot be replaced moves nothing."""
        self.check()
        staged = self.files()
        moved: list[Path] = []
        for rel in staged:
            target = self.out / rel
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(self.path / rel, target)
            except OSError as exc:
                raise StagingError(
                    f"moving {rel} into {self.out} failed ({exc.strerror or exc}); {len(moved)} of {len(staged)} "
                    "file(s) were moved into place before it, the rest were removed"
                ) from None
            moved.append(target)
        self.committed = True
        return moved
