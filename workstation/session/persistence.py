"""Keeping reads: a small `ReadStore` interface and a JSON-file implementation (one file per read).

`workstation.storage.read_store.DatabaseReadStore` implements the same interface on SQLite/PostgreSQL. The file format
is the one lossless read JSON (`workstation.export.read_json`). Writes are atomic (temporary file + fsync + rename),
so a crash never leaves a half-written read.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from workstation.export.read_json import ReadFileError, read_from_dict, read_to_dict
from workstation.read_model import Read


class ReadStoreError(Exception):
    """A read that cannot be saved or loaded; the message names the file and what is wrong."""


class ReadClosedError(ReadStoreError):
    """The store will never take an edit of this read again (its central review is adjudicated): the edit in memory
    is to be undone, and the read opened for viewing only."""


class ReadStore(Protocol):
    def save(self, read: Read, reason: str | Mapping[int, str] = "") -> None:
        """Keep the read; ``reason`` explains an amendment of a signed timepoint (one for all, or by the position of
        each signed timepoint amended)."""
        ...

    def load(self, subject_id: str, reader: str) -> Read | None: ...


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "_"


class ViewOnlyStore:
    """Reads to look at, never to change: ``load`` gives a copy of the read of the subject (whoever the reader);
    ``save`` is refused with ``why``."""

    def __init__(self, reads: list[Read], why: str) -> None:
        self._reads = {r.subject_id: r for r in reads}
        self.why = why

    def load(self, subject_id: str, reader: str) -> Read | None:
        read = self._reads.get(subject_id)
        return None if read is None else copy.deepcopy(read)

    def save(self, read: Read, reason: str | Mapping[int, str] = "") -> None:
        raise ReadStoreError(self.why)


_WHAT_NOW = "restore it from a backup, or move it out of the folder to start this subject's read again"


class JsonReadStore:
    """One JSON file per (subject, reader) under ``root``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path_for(self, subject_id: str, reader: str) -> Path:
        return self.root / f"{_safe(subject_id)}__{_safe(reader)}.read.json"

    def save(self, read: Read, reason: str | Mapping[int, str] = "") -> None:
        """Atomic write; ``reason`` (amendments) is kept with the read's history by the database store only."""
        path = self.path_for(read.subject_id, read.reader)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(read_to_dict(read), fh, indent=1)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            why = exc.strerror or str(exc)
            if self.root.exists() and not self.root.is_dir():
                why = f"{self.root} is a file, not a folder"
            raise ReadStoreError(f"cannot save the read to {path}: {why}") from None

    def load(self, subject_id: str, reader: str) -> Read | None:
        path = self.path_for(subject_id, reader)
        if not path.exists():
            return None
        try:
            return read_from_dict(json.loads(path.read_text(encoding="utf-8")), source=str(path))
        except ReadFileError as exc:
            raise ReadStoreError(f"{exc}; the saved read was left untouched: {_WHAT_NOW}") from None
        except (OSError, ValueError) as exc:
            raise ReadStoreError(f"the saved read {path} is unreadable ({exc}); it was left untouched: "
                                 f"{_WHAT_NOW}") from None
