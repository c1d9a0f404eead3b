"""The local cache of retrieved images: ``<root>/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm``.

Every file is written to a hidden temporary name in its series folder, flushed to disk and renamed into place, so a file
with a final name is always complete; a crash leaves at most a ``.partial`` file, which the next retrieve removes. The
cache is an ordinary DICOM folder: `imaging.discover` and `imaging.load_series` read it like any other.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from imaging.pacs.errors import PacsError, PacsProtocolError

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
SUFFIX = ".dcm"
PARTIAL_SUFFIX = ".partial"


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

    def remove_partials(self, study_uid: str, series_uid: str) -> int:
        """Delete temporary files an interrupted retrieve left behind; returns how many."""
        folder = self.series_dir(study_uid, series_uid)
        if not folder.is_dir():
            return 0
        removed = 0
        for path in folder.iterdir():
            if path.name.endswith(PARTIAL_SUFFIX):
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def write_instance(self, study_uid: str, series_uid: str, sop_uid: str, data: bytes) -> Path:
        """Store one DICOM file (Part 10 bytes) atomically; returns its final path."""
        final = self.instance_path(study_uid, series_uid, sop_uid)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{sop_uid}.", suffix=PARTIAL_SUFFIX, dir=final.parent)
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
