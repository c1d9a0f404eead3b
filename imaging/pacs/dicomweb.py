"""DICOMweb (QIDO-RS search, WADO-RS retrieve, STOW-RS store) through ``dicomweb-client``, errors made plain."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pydicom
import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from requests.adapters import HTTPAdapter

from imaging.cancel import Cancelled, CancelToken, ProgressCallback, report
from imaging.pacs.client import InstanceReceiver, LocalInstance, PacsClient, StoreResult, interruptible
from imaging.pacs.errors import (
    PacsNotFound,
    PacsProtocolError,
    PacsRefused,
    PacsTimeout,
    PacsUnreachable,
)
from imaging.pacs.query import SERIES_RETURN_KEYS, STUDY_RETURN_KEYS, SeriesResult, StudyQuery, StudyResult
from imaging.pacs.settings import ServerSettings

#: Results asked for per QIDO-RS page. Paging is ours: some servers ignore ``offset`` with some filters (Orthanc's
#: plugin with ModalitiesInStudy), so a page that brings nothing new ends the search instead of looping for ever.
QIDO_PAGE = 1000
#: Instances sent per STOW-RS request: small enough to report progress, large enough to amortise the round trip.
STOW_BATCH = 16
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")


def _connection_reason(exc: Exception) -> str:
    text = str(exc)
    match = _ERRNO.search(text)
    if match:
        return match.group(1).strip()
    if "RemoteDisconnected" in text or "Connection aborted" in text:
        return "the server closed the connection"
    return text[-160:]


def _http_detail(response: requests.Response | None) -> str:
    if response is None:
        return ""
    body = " ".join((response.text or "").split())[:200]
    return f"HTTP {response.status_code} {response.reason or ''}".strip() + (f": {body}" if body else "")


def _to_part10(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


class _DicomWebAdapter(HTTPAdapter):
    """Sends QIDO-RS wildcards as ``*`` and ``?``, not percent-encoded (some servers, Orthanc among them, match
    ``%2A`` literally), and verifies HTTPS servers against the configured CA file when there is one."""

    def __init__(self, ca_file: str = "") -> None:
        super().__init__()
        self._ca_file = ca_file

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if request.url and "?" in request.url:
            path, query = request.url.split("?", 1)
            request.url = path + "?" + query.replace("%2A", "*").replace("%3F", "?")
        if self._ca_file:
            # Not session.verify: requests lets $REQUESTS_CA_BUNDLE / $CURL_CA_BUNDLE override that.
            kwargs["verify"] = self._ca_file
        return super().send(request, **kwargs)


class DicomWebClient(PacsClient):
    """A DICOMweb server (Orthanc, dcm4chee, Google Healthcare API...)."""

    def __init__(self, server: ServerSettings) -> None:
        super().__init__(server)
        session = requests.Session()
        if server.username:
            session.auth = (server.username, server.resolved_password())
        adapter = _DicomWebAdapter(server.ca_file)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        if server.cert_file:
            session.cert = (server.cert_file, server.key_file) if server.key_file else server.cert_file
        self._session = session
        self._client = DICOMwebClient(server.url.rstrip("/"), session=session, timeout=server.timeout_s)
        # No hidden retries: the library's retry also repeats every exception, so a silent server would take
        # several timeouts before the user hears of it. A failure is reported at once; the user retries.
        self._client.set_http_retry_params(retry=False)

    def _search_all(
        self, search: Callable[..., list[dict[str, Any]]], uid_tag: str, **kwargs: Any
    ) -> list[Dataset]:
        """Every match of a QIDO-RS search, page by page, each once (keyed by the UID attribute ``uid_tag``)."""
        found: dict[str, Dataset] = {}
        offset = 0
        while True:
            page = search(limit=QIDO_PAGE, offset=offset, **kwargs)
            new = 0
            for item in page:
                ds = Dataset.from_json(item)
                uid = str(ds.get(uid_tag, "") or "")
                if uid and uid not in found:
                    found[uid] = ds
                    new += 1
            if not page or not new:
                return list(found.values())
            offset += len(page)

    def close(self) -> None:
        self._session.close()

    @contextmanager
    def _talking(self, what: str) -> Iterator[None]:
        """Translate requests/decoding failures while doing ``what`` into PacsError subclasses."""
        try:
            yield
        except requests.exceptions.SSLError as exc:
            raise PacsRefused(f"{self.where}: TLS failed while {what} ({_connection_reason(exc)})") from exc
        except requests.exceptions.Timeout as exc:
            raise PacsTimeout(
                f"{self.where}: no answer within {self.server.timeout_s:g} s while {what}"
            ) from exc
        except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise PacsUnreachable(
                f"{self.where}: connection failed while {what} ({_connection_reason(exc)})"
            ) from exc
        except requests.exceptions.HTTPError as exc:
            response = exc.response
            status = response.status_code if response is not None else 0
            detail = _http_detail(response)
            if status == 401:
                raise PacsRefused(f"{self.where}: {self._login_problem()} while {what} ({detail})") from exc
            if status == 403:
                raise PacsRefused(f"{self.where}: permission denied while {what} ({detail})") from exc
            if status == 404:
                raise PacsNotFound(f"{self.where}: not found while {what} ({detail})") from exc
            if status in (502, 503, 504):
                raise PacsUnreachable(f"{self.where}: the server is unavailable while {what} ({detail})") from exc
            raise PacsProtocolError(f"{self.where}: the server answered an error while {what} ({detail})") from exc
        except requests.exceptions.InvalidJSONError as exc:
            raise PacsProtocolError(f"{self.where}: unexpected reply while {what} (not JSON: {exc})") from exc
        except requests.exceptions.RequestException as exc:
            raise PacsProtocolError(f"{self.where}: request failed while {what} ({exc})") from exc
        except (InvalidDicomError, ValueError, KeyError, TypeError, AttributeError, EOFError) as exc:
            raise PacsProtocolError(
                f"{self.where}: unexpected reply while {what} ({type(exc).__name__}: {exc})"
            ) from exc

    def _login_problem(self) -> str:
        """Why the server said 401: no login set up, no password, or a login it refused."""
        server = self.server
        if not server.username:
            return (f"the server requires a login: set a user name and password for server '{server.name}' (Servers "
                    "tab, or recist pacs add --username)")
        if not (server.password or server.password_env):
            return f"the server requires a password: none is set for user '{server.username}' of '{server.name}'"
        return f"the server rejected the user name or password of '{server.name}'"

    def echo(self, cancel: CancelToken | None = None) -> float:
        start = time.perf_counter()
        with self._talking("checking the connection (QIDO-RS)"):
            interruptible(lambda: self._client.search_for_studies(limit=1), cancel)
        return time.perf_counter() - start

    def find_studies(self, query: StudyQuery, cancel: CancelToken | None = None) -> list[StudyResult]:
        with self._talking("searching for studies (QIDO-RS)"):
            found = interruptible(lambda: self._search_all(
                self._client.search_for_studies, "StudyInstanceUID", search_filters=query.matching_keys(),
                fields=list(STUDY_RETURN_KEYS),
            ), cancel)
            return [StudyResult.from_dataset(ds) for ds in found]

    def find_series(self, study_uid: str, cancel: CancelToken | None = None) -> list[SeriesResult]:
        with self._talking(f"searching for the series of study {study_uid} (QIDO-RS)"):
            found = interruptible(lambda: self._search_all(
                self._client.search_for_series, "SeriesInstanceUID", study_instance_uid=study_uid,
                fields=list(SERIES_RETURN_KEYS),
            ), cancel)
            return [SeriesResult.from_dataset(ds, study_uid) for ds in found]

    def list_instances(self, study_uid: str, series_uid: str, cancel: CancelToken | None = None) -> list[str]:
        with self._talking(f"listing the instances of series {series_uid} (QIDO-RS)"):
            found = interruptible(lambda: self._search_all(
                self._client.search_for_instances, "SOPInstanceUID", study_instance_uid=study_uid,
                series_instance_uid=series_uid, fields=["SOPInstanceUID"],
            ), cancel)
            return [str(ds.SOPInstanceUID) for ds in found]

    def _fetch(
        self, study_uid: str, series_uid: str, missing: Sequence[str], whole_series: bool,
        receive: InstanceReceiver, cancel: CancelToken | None,
    ) -> None:
        def fetch() -> None:
            if whole_series:
                # One streamed multipart response: instances are written as they arrive.
                for ds in self._client.iter_series(study_uid, series_uid):
                    if cancel:
                        cancel.raise_if_cancelled()
                    self._receive(ds, receive)
                return
            for sop_uid in missing:
                if cancel:
                    cancel.raise_if_cancelled()
                self._receive(self._client.retrieve_instance(study_uid, series_uid, sop_uid), receive)

        with self._talking(f"retrieving series {series_uid} (WADO-RS)"):
            # a cancel ends it at once; the abandoned transfer stops at its next instance (or its timeout), and only
            # complete files are ever in the cache
            interruptible(fetch, cancel)

    @staticmethod
    def _receive(ds: Dataset, receive: InstanceReceiver) -> None:
        receive(str(ds.SOPInstanceUID), str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), _to_part10(ds))

    def _send(
        self, instances: Sequence[LocalInstance], progress: ProgressCallback | None, cancel: CancelToken | None,
    ) -> StoreResult:
        stored: list[str] = []
        failed: list[tuple[str, str]] = []
        by_uid = {inst.sop_uid: inst for inst in instances}
        for start in range(0, len(instances), STOW_BATCH):
            if cancel:
                cancel.raise_if_cancelled()
            batch = instances[start:start + STOW_BATCH]
            with self._talking(f"storing {len(batch)} instance(s) (STOW-RS)"):
                def send(b: Sequence[LocalInstance] = batch) -> Dataset:
                    return self._client.store_instances([i.dataset for i in b])

                try:
                    reply = interruptible(send, cancel)
                except Cancelled:
                    raise Cancelled(
                        f"cancelled: {len(stored)} instance(s) stored; the server had not answered for {len(batch)} "
                        "more, which it may or may not have stored (check the PACS, or send again: a PACS keeps one "
                        "copy of an instance)"
                    ) from None
            failures = {
                str(item.get("ReferencedSOPInstanceUID", "")): f"failure reason {item.get('FailureReason', '?')}"
                for item in reply.get("FailedSOPSequence", [])
            }
            accepted = {
                str(item.get("ReferencedSOPInstanceUID", "")) for item in reply.get("ReferencedSOPSequence", [])
            }
            for inst in batch:
                if inst.sop_uid in failures:
                    failed.append((str(inst.path), failures[inst.sop_uid]))
                elif inst.sop_uid in accepted:
                    stored.append(inst.sop_uid)
                else:
                    failed.append((str(inst.path), "not acknowledged by the server"))
            report(progress, start + len(batch), len(instances), f"stored {len(stored)} of {len(by_uid)}")
        return StoreResult(tuple(stored), tuple(failed))
