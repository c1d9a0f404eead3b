"""The protocol-neutral PACS client: echo, find, retrieve into the cache (resumable), store.

`DicomWebClient` and `DimseClient` implement the protocol steps; the retrieve/resume/store logic lives here once.
Use `connect(server)` to get the right one for a `ServerSettings`.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.misc import is_dicom

from imaging.cancel import Cancelled, CancelToken, ProgressCallback, report
from imaging.pacs.cache import PARTIAL_SUFFIX, LocalCache, check_uid
from imaging.pacs.errors import PacsError, PacsInputError, PacsNotFound, PacsProtocolError
from imaging.pacs.query import SeriesResult, StudyQuery, StudyResult
from imaging.pacs.settings import ServerSettings

T = TypeVar("T")
#: The patient ID `PacsClient.check` searches for: no patient has it, so the search is cheap and finds nothing.
CHECK_PATIENT_ID = "RECIST-CONNECTION-CHECK"


@dataclass(frozen=True)
class RetrieveResult:
    """What a retrieve left in the cache. ``fetched`` came over the network; ``already_cached`` did not need to."""

    study_uid: str
    series_uids: tuple[str, ...]
    study_folder: Path
    fetched: int
    already_cached: int
    total: int

    @property
    def series_folders(self) -> tuple[Path, ...]:
        return tuple(self.study_folder / uid for uid in self.series_uids)


@dataclass(frozen=True)
class StoreResult:
    """SOP Instance UIDs the server accepted, and ``(file, reason)`` for each it refused."""

    stored: tuple[str, ...]
    failed: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class LocalInstance:
    """A file to store, read and checked."""

    path: Path
    dataset: Dataset

    @property
    def sop_uid(self) -> str:
        return str(self.dataset.SOPInstanceUID)


class InstanceReceiver:
    """Writes instances of one series into the cache as they arrive, counting them and reporting progress.

    Called from the protocol's receiving thread; thread-safe. Raises `PacsProtocolError` for an instance of another
    study or series (the server answered something that was not asked).
    """

    def __init__(
        self, cache: LocalCache, study_uid: str, series_uid: str, done: int, total: int,
        progress: ProgressCallback | None,
    ) -> None:
        self.cache = cache
        self.study_uid = study_uid
        self.series_uid = series_uid
        self.done = done
        self.total = total
        self.progress = progress
        self.received: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, sop_uid: str, study_uid: str, series_uid: str, data: bytes) -> None:
        if study_uid != self.study_uid or series_uid != self.series_uid:
            raise PacsProtocolError(
                f"the server sent instance {sop_uid} of series {series_uid} (study {study_uid}) "
                f"while series {self.series_uid} was asked for"
            )
        self.cache.write_instance(study_uid, series_uid, sop_uid, data)
        with self._lock:
            if sop_uid not in self.received:
                self.received.add(sop_uid)
                self.done += 1
            done = self.done
        report(self.progress, done, self.total, f"series {series_uid}: instance {sop_uid}")


def _dicom_files(paths: Iterable[Path]) -> list[Path]:
    """The files named, and the DICOM files (``DICM`` preamble) under the folders named: an export folder also holds
    CSV and JSON, which are not for the PACS."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(
                p for p in path.rglob("*")
                if p.is_file() and not p.name.startswith(".") and not p.name.endswith(PARTIAL_SUFFIX) and is_dicom(p)
            ))
        elif path.is_file():
            files.append(path)
        else:
            raise PacsInputError(f"{path}: no such file or folder")
    if not files:
        raise PacsInputError("nothing to store: no DICOM files in what was given")
    return files


def read_instances(paths: Iterable[Path]) -> list[LocalInstance]:
    """Read files (folders are walked) to store; every file must be a DICOM instance with its identifying UIDs."""
    out = []
    for path in _dicom_files(paths):
        try:
            ds = pydicom.dcmread(path)
        except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
            raise PacsInputError(f"{path}: not a readable DICOM file ({exc})") from exc
        missing = [k for k in ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")
                   if not str(ds.get(k, "") or "")]
        if missing:
            raise PacsInputError(f"{path}: lacks {', '.join(missing)}, so it cannot be stored on a PACS")
        out.append(LocalInstance(path, ds))
    return out


class PacsClient(ABC):
    """One server, one protocol. Methods raise `PacsError` subclasses; long work takes progress and cancel."""

    def __init__(self, server: ServerSettings) -> None:
        self.server = server.validated(check_files=False)

    @property
    def where(self) -> str:
        return self.server.describe()

    # -- protocol steps -------------------------------------------------------------------------------------------
    # Each takes ``cancel``: a cancel ends the call at once (`Cancelled`), also while the server is not answering.
    @abstractmethod
    def echo(self, cancel: CancelToken | None = None) -> float:
        """Check the server answers; returns the round trip in seconds."""

    @abstractmethod
    def find_studies(self, query: StudyQuery, cancel: CancelToken | None = None) -> list[StudyResult]: ...

    def check(self, cancel: CancelToken | None = None) -> float:
        """`echo`, then a search that matches nothing: a PACS that answers C-ECHO from any AE title (Orthanc does)
        may still refuse to search for ours, which the echo alone would call OK. Returns the echo's round trip."""
        seconds = self.echo(cancel)
        self.find_studies(StudyQuery(patient_id=CHECK_PATIENT_ID), cancel)
        return seconds

    @abstractmethod
    def find_series(self, study_uid: str, cancel: CancelToken | None = None) -> list[SeriesResult]: ...

    @abstractmethod
    def list_instances(self, study_uid: str, series_uid: str, cancel: CancelToken | None = None) -> list[str]:
        """SOP Instance UIDs of a series on the server."""

    @abstractmethod
    def _fetch(
        self, study_uid: str, series_uid: str, missing: Sequence[str], whole_series: bool,
        receive: InstanceReceiver, cancel: CancelToken | None,
    ) -> None:
        """Fetch ``missing`` instances (or the whole series when ``whole_series``) and hand each to ``receive``."""

    @abstractmethod
    def _send(
        self, instances: Sequence[LocalInstance], progress: ProgressCallback | None, cancel: CancelToken | None,
    ) -> StoreResult: ...

    def close(self) -> None:  # noqa: B027 (optional hook: most clients hold no connection between calls)
        """Release connections (nothing to do by default)."""

    def __enter__(self) -> PacsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- shared workflow ------------------------------------------------------------------------------------------
    def retrieve(
        self, study_uid: str, cache: LocalCache, series_uids: Sequence[str] | None = None,
        progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
    ) -> RetrieveResult:
        """Bring a study (or some of its series) into ``cache``; what is already there is not fetched again.

        An interruption (server down, timeout, cancel) leaves only complete files; calling again resumes.
        """
        check_uid(study_uid, "Study Instance UID")
        if cancel:
            cancel.raise_if_cancelled()
        if series_uids is None:
            series_uids = [s.series_uid for s in self.find_series(study_uid, cancel)]
            if not series_uids:
                raise PacsNotFound(f"{self.where}: study {study_uid} has no series")
        plan: list[tuple[str, list[str], set[str]]] = []
        for series_uid in series_uids:
            check_uid(series_uid, "Series Instance UID")
            expected = [
                check_uid(uid, "SOP Instance UID") for uid in self.list_instances(study_uid, series_uid, cancel)
            ]
            if not expected:
                raise PacsNotFound(f"{self.where}: series {series_uid} of study {study_uid} has no instances")
            cache.remove_partials(study_uid, series_uid)
            cache.note_expected(study_uid, series_uid, expected)
            plan.append((series_uid, expected, cache.cached_instances(study_uid, series_uid) & set(expected)))
        total = sum(len(expected) for _, expected, _ in plan)
        already = sum(len(cached) for _, _, cached in plan)
        done = already
        report(progress, done, total, f"{already} of {total} instances already in the cache")
        fetched = 0
        try:
            for series_uid, expected, cached in plan:
                missing = [uid for uid in expected if uid not in cached]
                if not missing:
                    continue
                if cancel:
                    cancel.raise_if_cancelled()
                receiver = InstanceReceiver(cache, study_uid, series_uid, done, total, progress)
                try:
                    self._fetch(study_uid, series_uid, missing, len(missing) == len(expected), receiver, cancel)
                finally:
                    fetched += len(receiver.received)
                    done = receiver.done
                still_missing = set(missing) - cache.cached_instances(study_uid, series_uid)
                if still_missing:
                    raise PacsProtocolError(
                        f"{self.where}: sent {len(missing) - len(still_missing)} of the {len(missing)} instances "
                        f"asked for in series {series_uid}; {len(still_missing)} did not arrive (the transfer ended "
                        "early: is the server still running?)"
                    )
        except PacsError as exc:
            in_cache = already + fetched
            raise type(exc)(
                f"{exc} ({in_cache} of {total} instances are in the cache; retrieving again fetches only the rest)"
            ) from exc
        return RetrieveResult(study_uid, tuple(series_uids), cache.study_dir(study_uid), fetched, already, total)

    def store(
        self, paths: Iterable[Path], progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
    ) -> StoreResult:
        """Send DICOM files (SR, SEG, images; folders are walked) to the server."""
        instances = read_instances(paths)
        if cancel:
            cancel.raise_if_cancelled()
        return self._send(instances, progress, cancel)


def interruptible(call: Callable[[], T], cancel: CancelToken | None) -> T:
    """``call()``, ended at once by a cancel even while it blocks on a server that stopped answering (a socket read
    cannot be interrupted from another thread): it runs on a daemon thread, and a cancel leaves that thread to end on
    its own timeout, its result dropped."""
    if cancel is None:
        return call()
    cancel.raise_if_cancelled()
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed to the caller's thread as it is
            box["error"] = exc

    worker = threading.Thread(target=run, name="pacs-request", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.05)
        if worker.is_alive() and cancel.cancelled:
            raise Cancelled("cancelled by the user (the server had not answered)")
    if "error" in box:
        raise box["error"]
    return cast(T, box["value"])


def connect(server: ServerSettings) -> PacsClient:
    """The client for ``server``'s protocol (imports only that protocol's library)."""
    if server.protocol == "dicomweb":
        from imaging.pacs.dicomweb import DicomWebClient

        return DicomWebClient(server)
    from imaging.pacs.dimse import DimseClient

    return DimseClient(server)
