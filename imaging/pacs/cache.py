"""The local cache of retrieved images: ``<root>/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm``.

Every file is written to a temporary file in ``<root>/.incoming/``, flushed to disk and renamed into its series folder
(same file system, so the rename is atomic): a file with a final name is always complete, and a series folder never
holds a half-written file, even while a retrieve is running. A crash leaves at most a ``.partial`` file in
``.incoming``, which a later retrieve removes once it is old enough not to belong to a retrieve still running in another
process. The series folders are ordinary DICOM folders: `imaging.discover` and `imaging.load_series` read them.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from imaging.pacs.errors import PacsError, PacsProtocolError

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
SUFFIX = ".dcm"
PARTIAL_SUFFIX = ".partial"
INCOMING = ".incoming"
#: ``<root>/.manifests/<study>/<series>.json``: the instances the server said a series has, written when a retrieve
#: starts, so that a study retrieved in part (cancelled, interrupted) is known to be incomplete when it is opened
MANIFESTS = ".manifests"
#: A temporary file older than this is left over from a crash, not being written by a running retrieve.
STALE_AFTER_S = 3600.0


def is_uid(text: str) -> bool:
    """``text`` is a DICOM UID (digits and dots, at most 64 characters), as the cache's folder names are."""
    return len(text) <= 64 and bool(_UID.match(text))


def check_uid(uid: str, what: str) -> str:
    """``uid`` if it is a valid DICOM UID, else a protocol error: a UID names cache folders, so it must be safe."""
    if not isinstance(uid, str) or len(uid) > 64 or not _UID.match(uid):
        raise PacsProtocolError(f"the server sent an invalid {what} {uid!r} (not a DICOM UID)")
    return uid


@dataclass(frozen=True)
class LocalCache:
    root: Path

    def study_dir(self, study_uid: str) -> Path:
        return self.root / check_uid(study_uid, "Study Instance UID")

    def series_dir(self, study_uid: str, series_uid: str) -> Path:
        return self.study_dir(study_uid) / check_uid(series_uid, "Series Instance UID")

    def instance_path(self, study_uid: str, series_uid: str, sop_uid: str) -> Path:
        return self.series_dir(study_uid, series_uid) / (check_uid(sop_uid, "SOP Instance UID") + SUFFIX)

    def cached_instances(self, study_uid: str, series_uid: str) -> set[str]:
        """SOP Instance UIDs whose files are complete in the cache."""
        folder = self.series_dir(study_uid, series_uid)
        if not folder.is_dir():
            return set()
        return {p.name[: -len(SUFFIX)] for p in folder.iterdir() if p.name.endswith(SUFFIX) and p.is_file()}

    def remove_partials(self, study_uid: str, series_uid: str, stale_after_s: float = STALE_AFTER_S) -> int:
        """Delete what interrupted retrieves left: stale files in ``.incoming`` and any ``.partial`` file in the
        series folder (written there by nothing now; a crash of an older version). Returns how many."""
        removed = 0
        incoming = self.root / INCOMING
        if incoming.is_dir():
            now = time.time()
            for path in incoming.iterdir():
                try:
                    if path.name.endswith(PARTIAL_SUFFIX) and now - path.stat().st_mtime > stale_after_s:
                        path.unlink()
                        removed += 1
                except FileNotFoundError:  # another process finished or removed it meanwhile
                    continue
        folder = self.series_dir(study_uid, series_uid)
        if folder.is_dir():
            for path in folder.iterdir():
                if path.name.endswith(PARTIAL_SUFFIX):
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed

    def write_instance(self, study_uid: str, series_uid: str, sop_uid: str, data: bytes) -> Path:
        """Store one DICOM file (Part 10 bytes) atomically; returns its final path."""
        final = self.instance_path(study_uid, series_uid, sop_uid)
        incoming = self.root / INCOMING
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            incoming.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f"{sop_uid}.", suffix=PARTIAL_SUFFIX, dir=incoming)
        except OSError as exc:
            raise PacsError(f"cannot write to the PACS cache {final.parent}: {exc.strerror}") from exc
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, final)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise PacsError(f"cannot write {final}: {exc.strerror}") from exc
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return final

    def _manifest(self, study_uid: str, series_uid: str) -> Path:
        return self.root / MANIFESTS / check_uid(study_uid, "Study Instance UID") / (
            check_uid(series_uid, "Series Instance UID") + ".json")

    def note_expected(self, study_uid: str, series_uid: str, sop_uids: list[str]) -> None:
        """Record the instances the server lists for a series (atomically; a failure to record is no failure of the
        retrieve, only of the later completeness check)."""
        path = self._manifest(study_uid, series_uid)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(suffix=PARTIAL_SUFFIX, dir=path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(sorted(sop_uids), handle)
            os.replace(tmp, path)
        except OSError:
            return

    def incomplete(self, study_uid: str) -> list[tuple[str, int, int]]:
        """(series UID, instances in the cache, instances the server listed) of each series of the study that a
        retrieve started and did not finish; empty when complete, or when nothing was recorded (an older cache)."""
        folder = self.root / MANIFESTS / study_uid
        if not is_uid(study_uid) or not folder.is_dir():
            return []
        out = []
        for manifest in sorted(folder.glob("*.json")):
            series_uid = manifest.stem
            try:
                expected = set(json.loads(manifest.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError):
                continue
            have = len(self.cached_instances(study_uid, series_uid) & expected) if is_uid(series_uid) else 0
            if have < len(expected):
                out.append((series_uid, have, len(expected)))
        return out
