"""All-or-nothing output: files are written into a hidden staging folder inside the destination and moved into place
together only once everything was written; otherwise the staging folder is removed and the destination is left as it
was.

The staging folder lies inside the destination, so moving a file into place is a rename on the same file system
(never a copy that could stop halfway through a file). It is private to its owner (mode 0700). A process killed
without a chance to clean up (SIGKILL, power loss) leaves it behind under its hidden name (``STAGING_PREFIX``...).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType

#: The name every staging folder starts with (hidden on Unix, and recognisable in a listing).
STAGING_PREFIX = ".recist-export-"


class StagingError(OSError):
    """The staged files could not be moved into place; the message says which and how many are in place."""


class LeftoversError(StagingError):
    """The destination holds an earlier export's files that this one would not replace; nothing was moved."""


class StagedFolder:
    """``with StagedFolder(out) as staged:`` write under ``staged.path``, then ``staged.commit()`` moves every file to
    the same place under ``out`` (replacing a file already there, as a direct write would). Leaving the block without
    committing, by an exception or otherwise, removes the staging folder; a destination folder this created is removed
    again when it ends up empty."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
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
            self._path = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.out))
        except BaseException:
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
        """The staged files, relative to the staging folder, in name order."""
        return sorted(p.relative_to(self.path) for p in self.path.rglob("*") if p.is_file() or p.is_symlink())

    def leftovers(self) -> list[Path]:
        """Files already in the destination's sub-folders that the staged files go into (``sdtm/``, ``sr/``, ...)
        which this export would not replace: an earlier export's (another subject's SR, a read since removed). Files
        directly in the destination and hidden ones are not counted."""
        staged = set(self.files())
        folders = {rel.parent for rel in staged if rel.parent != Path(".")}
        found: list[Path] = []
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
