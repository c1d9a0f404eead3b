"""Keeping reads: a small `ReadStore` interface and a JSON-file implementation (one file per read).

The storage engineer's SQLAlchemy store (`workstation/storage/`) can replace `JsonReadStore` behind the same interface.
Writes are atomic (temporary file + fsync + rename) so a crash never leaves a half-written read.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from workstation.read_model import (
    Lesion,
    LesionAssessment,
    LesionStatus,
    Measurement,
    MeasurementOrigin,
    Read,
    Role,
    Signature,
    TimepointRead,
)

FORMAT_VERSION = 1


class ReadStoreError(Exception):
    """A read that cannot be saved or loaded; the message names the file and what is wrong."""


class ReadStore(Protocol):
    def save(self, read: Read, reason: str = "") -> None:
        """Keep the read; ``reason`` explains an amendment of a signed timepoint."""
        ...

    def load(self, subject_id: str, reader: str) -> Read | None: ...


def read_to_json(read: Read) -> dict[str, Any]:
    data = asdict(read)
    for tp in data["timepoints"]:
        tp["date"] = tp["date"].isoformat()
    return {"format_version": FORMAT_VERSION, "read": data}


def _point(p: Any) -> tuple[float, float, float]:
    return (float(p[0]), float(p[1]), float(p[2]))


def _pair(v: Any) -> tuple[tuple[float, float, float], tuple[float, float, float]] | None:
    return None if v is None else (_point(v[0]), _point(v[1]))


def _measurement(d: dict[str, Any]) -> Measurement:
    d = dict(d)
    d["origin"] = MeasurementOrigin(d.get("origin", "manual"))
    d["long_axis_endpoints"] = _pair(d.get("long_axis_endpoints"))
    d["short_axis_endpoints"] = _pair(d.get("short_axis_endpoints"))
    return Measurement(**d)


def read_from_json(data: dict[str, Any]) -> Read:
    if data.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"unknown read format version {data.get('format_version')!r}")
    r = dict(data["read"])
    lesions = {k: Lesion(**{**v, "role": Role(v["role"])}) for k, v in r.pop("lesions").items()}
    timepoints = []
    for tp in r.pop("timepoints"):
        assessments = {
            k: LesionAssessment(
                status=LesionStatus(a["status"]),
                measurements=[_measurement(m) for m in a.get("measurements", [])],
                merged_into=a.get("merged_into"),
                comment=a.get("comment", ""),
            )
            for k, a in tp.pop("assessments").items()
        }
        sig = tp.pop("signature", None)
        timepoints.append(
            TimepointRead(
                **{**tp, "date": date.fromisoformat(tp["date"])},
                assessments=assessments,
                signature=Signature(**sig) if sig else None,
            )
        )
    return Read(**r, lesions=lesions, timepoints=timepoints)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "_"


class JsonReadStore:
    """One JSON file per (subject, reader) under ``root``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path_for(self, subject_id: str, reader: str) -> Path:
        return self.root / f"{_safe(subject_id)}__{_safe(reader)}.read.json"

    def save(self, read: Read, reason: str = "") -> None:
        """Atomic write; ``reason`` (amendments) is kept with the read's history by the database store only."""
        path = self.path_for(read.subject_id, read.reader)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(read_to_json(read), fh, indent=1)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise ReadStoreError(f"cannot save the read to {path}: {exc.strerror or exc}") from None

    def load(self, subject_id: str, reader: str) -> Read | None:
        path = self.path_for(subject_id, reader)
        if not path.exists():
            return None
        try:
            return read_from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ReadStoreError(f"the saved read {path} is unreadable ({exc}); it was left untouched") from None
