"""DIMSE (C-ECHO, C-FIND, C-GET / C-MOVE, C-STORE) through ``pynetdicom``, errors made plain.

Each operation opens its own association and releases it; an association that cannot be opened is diagnosed (nothing
listening, timeout, rejected with the server's reason) so the user knows whether to fix the network or the AE titles.
"""

from __future__ import annotations

import io
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import (
    UID,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, DEFAULT_TRANSFER_SYNTAXES, build_role, evt
from pynetdicom.association import Association

from imaging.cancel import Cancelled, CancelToken, ProgressCallback, report
from imaging.pacs.client import InstanceReceiver, LocalInstance, PacsClient, StoreResult, interruptible
from imaging.pacs.errors import (
    PacsConfigError,
    PacsError,
    PacsInputError,
    PacsProtocolError,
    PacsRefused,
    PacsTimeout,
    PacsUnreachable,
)
from imaging.pacs.query import SERIES_RETURN_KEYS, STUDY_RETURN_KEYS, SeriesResult, StudyQuery, StudyResult

VERIFICATION = "1.2.840.10008.1.1"
STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
STUDY_ROOT_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"
STUDY_ROOT_GET = "1.2.840.10008.5.1.4.1.2.2.3"
#: SOP classes we accept when the PACS sends images to us (C-GET sub-operations, C-MOVE destination): CT, Enhanced CT,
#: Legacy Converted Enhanced CT, MR, Enhanced MR, PET, Enhanced PET, Secondary Capture, Basic Text / Enhanced /
#: Comprehensive / Comprehensive 3D / X-Ray Dose SR, Segmentation, Key Object Selection, RT Structure Set, GSPS, PDF.
RECEIVED_SOP_CLASSES: tuple[str, ...] = (
    "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.2.1", "1.2.840.10008.5.1.4.1.1.2.2",
    "1.2.840.10008.5.1.4.1.1.4", "1.2.840.10008.5.1.4.1.1.4.1", "1.2.840.10008.5.1.4.1.1.128",
    "1.2.840.10008.5.1.4.1.1.130", "1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.5.1.4.1.1.88.11",
    "1.2.840.10008.5.1.4.1.1.88.22", "1.2.840.10008.5.1.4.1.1.88.33", "1.2.840.10008.5.1.4.1.1.88.34",
    "1.2.840.10008.5.1.4.1.1.88.67", "1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.88.59",
    "1.2.840.10008.5.1.4.1.1.481.3", "1.2.840.10008.5.1.4.1.1.11.1", "1.2.840.10008.5.1.4.1.1.104.1",
)
RECEIVED_TRANSFER_SYNTAXES: list[str] = [
    *DEFAULT_TRANSFER_SYNTAXES, JPEG2000Lossless, JPEGLSLossless, JPEGLosslessSV1, RLELossless,
]
_UNCOMPRESSED = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
_PENDING = (0xFF00, 0xFF01)
_STATUS_MEANING = {
    0xA700: "the server is out of resources",
    0xA701: "the server is out of resources (could not count the matches)",
    0xA702: "the server is out of resources (could not do the sub-operations)",
    0xA801: "the server does not know the move destination: register our AE title with our host and storage port",
    0xA900: "the server says the query does not match its information model",
    0xAA00: "none of the frames asked for were found",
    0xB000: "some sub-operations failed",
    0xC000: "the server could not process the request",
}


def _status_text(status: Dataset) -> str:
    code = int(status.Status)
    meaning = _STATUS_MEANING.get(code) or (
        "the server could not process the request" if 0xC000 <= code <= 0xCFFF else "error"
    )
    comment = str(status.get("ErrorComment", "") or "").strip()
    return f"status 0x{code:04X}: {meaning}" + (f" ({comment})" if comment else "")


def _retrieve_identifier(study_uid: str, series_uid: str, sop_uid: str | None = None) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = "IMAGE" if sop_uid else "SERIES"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    if sop_uid:
        ds.SOPInstanceUID = sop_uid
    return ds


class DimseClient(PacsClient):
    """A DIMSE server (any PACS): we are the SCU with ``calling_ae``; the server is ``called_ae`` at host:port."""

    # -- associations ---------------------------------------------------------------------------------------------
    def _new_ae(self) -> AE:
        ae = AE(ae_title=self.server.calling_ae)
        timeout = self.server.timeout_s
        ae.acse_timeout = timeout
        ae.dimse_timeout = timeout
        ae.network_timeout = timeout
        ae.connection_timeout = timeout
        return ae

    def _ssl_context(self, server_side: bool = False) -> ssl.SSLContext:
        """Client context (verifies the PACS); with ``server_side``, our C-MOVE storage SCP's, which needs our
        certificate and, given a CA file, only lets in a PACS whose certificate that CA signed."""
        purpose = ssl.Purpose.CLIENT_AUTH if server_side else ssl.Purpose.SERVER_AUTH
        if server_side and not self.server.cert_file:
            raise PacsConfigError(f"{self.where}: C-MOVE over TLS needs cert_file (our storage SCP's certificate)")
        try:
            context = ssl.create_default_context(purpose, cafile=self.server.ca_file or None)
            if self.server.cert_file:
                context.load_cert_chain(self.server.cert_file, self.server.key_file or None)
            if server_side and self.server.ca_file:
                context.verify_mode = ssl.CERT_REQUIRED
        except (OSError, ssl.SSLError) as exc:
            raise PacsConfigError(f"{self.where}: cannot load the TLS certificates: {exc}") from exc
        return context

    def _diagnose_connection(self, what: str) -> None:
        """Raise the right error if a plain TCP connection to the server fails; return if it works."""
        host, port, timeout = self.server.host, self.server.port, self.server.timeout_s
        try:
            socket.create_connection((host, port), timeout=timeout).close()
        except TimeoutError as exc:
            raise PacsTimeout(f"{self.where}: no answer from {host}:{port} within {timeout:g} s while {what}") from exc
        except ConnectionRefusedError as exc:
            raise PacsUnreachable(
                f"{self.where}: connection refused by {host}:{port} while {what} "
                "(is the DICOM server running, and is the port right?)"
            ) from exc
        except socket.gaierror as exc:
            raise PacsUnreachable(f"{self.where}: unknown host '{host}' while {what}") from exc
        except OSError as exc:
            raise PacsUnreachable(
                f"{self.where}: cannot connect to {host}:{port} while {what} ({exc.strerror})"
            ) from exc

    def _associate(
        self, ae: AE, what: str, ext_neg: list[Any] | None = None,
        evt_handlers: list[tuple[Any, Callable[..., Any]]] | None = None,
    ) -> Association:
        rejection: list[str] = []
        received: list[str] = []

        def on_acse(event: Any) -> None:
            primitive = event.primitive
            received.append(type(primitive).__name__)
            if getattr(primitive, "result", None) in (0x01, 0x02):
                rejection.append(f"{primitive.result_str}; {primitive.source_str}; {primitive.reason_str}")

        handlers: list[Any] = [*(evt_handlers or []), (evt.EVT_ACSE_RECV, on_acse)]
        tls_args = (self._ssl_context(), self.server.host) if self.server.tls else None
        try:
            assoc = ae.associate(
                self.server.host, self.server.port, ae_title=self.server.called_ae, ext_neg=ext_neg,
                tls_args=tls_args, evt_handlers=handlers,
            )
        except (OSError, ValueError, RuntimeError) as exc:
            raise PacsUnreachable(f"{self.where}: cannot open an association while {what} ({exc})") from exc
        if assoc.is_established:
            return assoc
        if assoc.is_rejected:
            reason = rejection[0] if rejection else "no reason given"
            raise PacsRefused(
                f"{self.where}: the server rejected the association while {what} ({reason}); check the called AE "
                f"title '{self.server.called_ae}' and that '{self.server.calling_ae}' is registered on the server"
            )
        self._diagnose_connection(what)
        if not received:
            raise PacsTimeout(
                f"{self.where}: no answer to the association request within {self.server.timeout_s:g} s while {what}"
                + (" (is TLS set the same on both sides?)" if not self.server.tls else "")
            )
        if "A_ASSOCIATE" in received:
            raise PacsRefused(
                f"{self.where}: the server accepted none of the services asked for while {what} "
                "(it may not support them, or not for this AE title)"
            )
        hint = (
            "the server may refuse our client certificate"
            if self.server.tls
            else f"is {self.server.port} its DICOM port, not its web port? does it expect TLS?"
        )
        raise PacsRefused(f"{self.where}: the server aborted the association while {what} ({hint})")

    @contextmanager
    def _association(
        self, ae: AE, what: str, ext_neg: list[Any] | None = None,
        evt_handlers: list[tuple[Any, Callable[..., Any]]] | None = None, cancel: CancelToken | None = None,
    ) -> Iterator[Association]:
        """An open association: released after the work, aborted when the work failed (pending replies dropped).
        With ``cancel``, a cancel aborts it at once, so that a server that stopped answering is not waited for until
        its timeout (the work then sees the cancel and raises `Cancelled`). A cancel while the association is being
        negotiated ends the wait too; an association the server grants after that is aborted at once."""
        if cancel is None:
            assoc = self._associate(ae, what, ext_neg, evt_handlers)
        else:
            def associate() -> Association:
                granted = self._associate(ae, what, ext_neg, evt_handlers)
                if cancel.cancelled and granted.is_established:
                    granted.abort()
                return granted

            assoc = interruptible(associate, cancel)
        finished = threading.Event()

        def abort_on_cancel() -> None:
            assert cancel is not None
            while not finished.is_set():
                if cancel.wait(0.2):
                    if not finished.is_set() and assoc.is_established:
                        assoc.abort()
                        # the worker may be waiting for the next DIMSE message (up to the timeout): wake it, as a
                        # peer's abort would (pynetdicom's `get_msg` gives (None, None) then)
                        assoc.dimse.msg_queue.put((None, None))
                    return

        watcher = threading.Thread(target=abort_on_cancel, daemon=True) if cancel is not None else None
        if watcher is not None:
            watcher.start()
        try:
            yield assoc
        except BaseException:
            if assoc.is_established:
                assoc.abort()
            raise
        finally:
            finished.set()
        if assoc.is_established:
            assoc.release()

    def _responses(
        self, assoc: Association, responses: Iterable[tuple[Dataset, Dataset | None]], what: str,
        cancel: CancelToken | None = None,
    ) -> Iterator[tuple[int, Dataset, Dataset | None]]:
        """(status code, status, identifier) for each response; raises on a lost connection or a timeout."""
        waited_since = time.monotonic()
        answered = False
        for status, identifier in responses:
            if cancel is not None and cancel.cancelled:
                if assoc.is_established:
                    assoc.abort()
                raise Cancelled("cancelled by the user")
            if not status or "Status" not in status:
                # pynetdicom yields an empty status both when the peer went away and when the DIMSE timeout ran out.
                waited = time.monotonic() - waited_since
                if assoc.is_aborted or waited < 0.9 * self.server.timeout_s:
                    # Dropped at the first request (the association itself was accepted, as a C-ECHO's is): the
                    # usual cause is a PACS that serves only the AE titles it knows (Orthanc's DicomModalities).
                    hint = "" if answered else (
                        f" at its first request: check that our calling AE title '{self.server.calling_ae}' is "
                        "registered on the server (many serve only AE titles they know, though they answer C-ECHO)"
                    )
                    raise PacsUnreachable(f"{self.where}: the connection was lost while {what}{hint}")
                raise PacsTimeout(f"{self.where}: no response within {self.server.timeout_s:g} s while {what}")
            answered = True
            yield int(status.Status), status, identifier
            waited_since = time.monotonic()

    # -- C-ECHO ---------------------------------------------------------------------------------------------------
    def echo(self, cancel: CancelToken | None = None) -> float:
        ae = self._new_ae()
        ae.add_requested_context(VERIFICATION)
        start = time.perf_counter()
        with self._association(ae, "checking the connection (C-ECHO)", cancel=cancel) as assoc:
            status = assoc.send_c_echo()
            if cancel is not None:
                cancel.raise_if_cancelled()
            if not status or "Status" not in status:
                raise PacsTimeout(f"{self.where}: no C-ECHO response within {self.server.timeout_s:g} s")
            if int(status.Status) != 0x0000:
                raise PacsProtocolError(f"{self.where}: C-ECHO answered {_status_text(status)}")
            return time.perf_counter() - start

    # -- C-FIND ---------------------------------------------------------------------------------------------------
    def _find(self, identifier: Dataset, what: str, cancel: CancelToken | None = None) -> list[Dataset]:
        ae = self._new_ae()
        ae.add_requested_context(STUDY_ROOT_FIND)
        matches: list[Dataset] = []
        with self._association(ae, what, cancel=cancel) as assoc:
            responses = assoc.send_c_find(identifier, STUDY_ROOT_FIND)
            for code, status, found in self._responses(assoc, responses, what, cancel):
                if code in _PENDING:
                    if found is not None:
                        matches.append(found)
                elif code != 0x0000:
                    raise PacsProtocolError(f"{self.where}: C-FIND failed while {what}: {_status_text(status)}")
        return matches

    def find_studies(self, query: StudyQuery, cancel: CancelToken | None = None) -> list[StudyResult]:
        identifier = Dataset()
        identifier.QueryRetrieveLevel = "STUDY"
        for keyword in STUDY_RETURN_KEYS:
            setattr(identifier, keyword, "")
        for keyword, value in query.matching_keys().items():
            setattr(identifier, keyword, value)
        found = self._find(identifier, "searching for studies (C-FIND)", cancel)
        return [StudyResult.from_dataset(ds) for ds in found]

    def find_series(self, study_uid: str, cancel: CancelToken | None = None) -> list[SeriesResult]:
        identifier = Dataset()
        identifier.QueryRetrieveLevel = "SERIES"
        for keyword in SERIES_RETURN_KEYS:
            setattr(identifier, keyword, "")
        identifier.StudyInstanceUID = study_uid
        found = self._find(identifier, f"searching for the series of study {study_uid} (C-FIND)", cancel)
        return [SeriesResult.from_dataset(ds, study_uid) for ds in found]

    def list_instances(self, study_uid: str, series_uid: str, cancel: CancelToken | None = None) -> list[str]:
        identifier = _retrieve_identifier(study_uid, series_uid)
        identifier.QueryRetrieveLevel = "IMAGE"
        identifier.SOPInstanceUID = ""
        found = self._find(identifier, f"listing the instances of series {series_uid} (C-FIND)", cancel)
        return [str(ds.SOPInstanceUID) for ds in found if ds.get("SOPInstanceUID")]

    # -- C-GET / C-MOVE -------------------------------------------------------------------------------------------
    def _store_handler(
        self, receive: InstanceReceiver, errors: list[PacsError], cancel: CancelToken | None
    ) -> Callable[[Any], int]:
        """The C-STORE handler that writes what the server sends; runs in pynetdicom's thread, so errors are kept.
        After an error or a cancel it refuses (0xA700) whatever still comes, until the association is aborted."""

        def on_c_store(event: Any) -> int:
            if errors or (cancel is not None and cancel.cancelled):
                return 0xA700
            try:
                data = event.encoded_dataset(include_meta=True)
                header = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
                receive(str(header.SOPInstanceUID), str(header.StudyInstanceUID), str(header.SeriesInstanceUID), data)
                return 0x0000
            except PacsError as exc:
                errors.append(exc)
            except Exception as exc:  # a malformed instance: keep the reason, refuse the instance
                errors.append(PacsProtocolError(f"{self.where}: received an unreadable instance ({exc})"))
            return 0xC000

        return on_c_store

    def _fetch(
        self, study_uid: str, series_uid: str, missing: Sequence[str], whole_series: bool,
        receive: InstanceReceiver, cancel: CancelToken | None,
    ) -> None:
        identifiers = (
            [_retrieve_identifier(study_uid, series_uid)] if whole_series
            else [_retrieve_identifier(study_uid, series_uid, uid) for uid in missing]
        )
        errors: list[PacsError] = []
        handler = self._store_handler(receive, errors, cancel)
        if self.server.retrieve_method == "c-move":
            self._move(identifiers, series_uid, handler, errors, cancel)
        else:
            self._get(identifiers, series_uid, handler, errors, cancel)

    def _await_retrieve(
        self, assoc: Association, responses: Iterable[tuple[Dataset, Dataset | None]], what: str,
        errors: list[PacsError], cancel: CancelToken | None,
    ) -> None:
        """Follow C-GET/C-MOVE responses to the final one; raise what the store handler or the server reported."""
        code, status = 0x0000, Dataset()
        for code, status, _ in self._responses(assoc, responses, what, cancel):  # noqa: B007 (the last one counts)
            if errors:
                break
        if errors:
            raise errors[0]
        if code == 0xFE00:
            raise Cancelled("the server cancelled the retrieve")
        if code not in (0x0000, *_PENDING):
            failed = status.get("NumberOfFailedSuboperations")
            extra = f"; {failed} instance(s) not sent" if failed else ""
            raise PacsProtocolError(f"{self.where}: {what} failed: {_status_text(status)}{extra}")

    def _get(
        self, identifiers: list[Dataset], series_uid: str, handler: Callable[[Any], int],
        errors: list[PacsError], cancel: CancelToken | None,
    ) -> None:
        what = f"retrieving series {series_uid} (C-GET)"
        ae = self._new_ae()
        ae.add_requested_context(STUDY_ROOT_GET)
        roles = []
        for sop_class in RECEIVED_SOP_CLASSES:
            ae.add_requested_context(sop_class, RECEIVED_TRANSFER_SYNTAXES)
            roles.append(build_role(sop_class, scp_role=True))
        with self._association(
            ae, what, ext_neg=roles, evt_handlers=[(evt.EVT_C_STORE, handler)], cancel=cancel
        ) as assoc:
            for identifier in identifiers:
                responses = assoc.send_c_get(identifier, STUDY_ROOT_GET)
                self._await_retrieve(assoc, responses, what, errors, cancel)

    def _move(
        self, identifiers: list[Dataset], series_uid: str, handler: Callable[[Any], int],
        errors: list[PacsError], cancel: CancelToken | None,
    ) -> None:
        what = f"retrieving series {series_uid} (C-MOVE to {self.server.calling_ae})"
        ae = self._new_ae()
        ae.add_requested_context(STUDY_ROOT_MOVE)
        for sop_class in RECEIVED_SOP_CLASSES:
            ae.add_supported_context(sop_class, ALL_TRANSFER_SYNTAXES)
        ae.require_calling_aet = [self.server.called_ae]
        ssl_context = self._ssl_context(server_side=True) if self.server.tls else None
        try:
            scp = ae.start_server(
                ("", self.server.storage_port), block=False, ssl_context=ssl_context,
                evt_handlers=[(evt.EVT_C_STORE, handler)],
            )
        except OSError as exc:
            raise PacsConfigError(
                f"{self.where}: cannot listen on storage port {self.server.storage_port} for C-MOVE ({exc.strerror})"
            ) from exc
        try:
            with self._association(ae, what, cancel=cancel) as assoc:
                for identifier in identifiers:
                    responses = assoc.send_c_move(identifier, self.server.calling_ae, STUDY_ROOT_MOVE)
                    self._await_retrieve(assoc, responses, what, errors, cancel)
        finally:
            if scp is not None:
                scp.shutdown()

    # -- C-STORE --------------------------------------------------------------------------------------------------
    def _send(
        self, instances: Sequence[LocalInstance], progress: ProgressCallback | None, cancel: CancelToken | None,
    ) -> StoreResult:
        what = f"storing {len(instances)} instance(s) (C-STORE)"
        ae = self._new_ae()
        contexts: dict[tuple[str, str], list[str]] = {}
        for inst in instances:
            syntax = str(inst.dataset.file_meta.get("TransferSyntaxUID", ExplicitVRLittleEndian))
            offered = [syntax, *_UNCOMPRESSED] if UID(syntax) in _UNCOMPRESSED else [syntax]
            contexts.setdefault((str(inst.dataset.SOPClassUID), syntax), list(dict.fromkeys(offered)))
        if len(contexts) > 128:
            raise PacsInputError(
                f"{len(contexts)} kinds of object (SOP class and transfer syntax) exceed one association's 128: "
                "store them in smaller groups"
            )
        for (sop_class, _), syntaxes in contexts.items():
            ae.add_requested_context(sop_class, syntaxes)
        stored: list[str] = []
        failed: list[tuple[str, str]] = []
        with self._association(ae, what, cancel=cancel) as assoc:
            for n, inst in enumerate(instances, 1):
                if cancel is not None:
                    cancel.raise_if_cancelled()
                started = time.monotonic()
                try:
                    status = assoc.send_c_store(inst.dataset)
                except (ValueError, AttributeError) as exc:
                    failed.append((str(inst.path), f"the server accepted no presentation context for it ({exc})"))
                    continue
                if not status or "Status" not in status:
                    if cancel is not None:
                        cancel.raise_if_cancelled()  # aborted by the cancel, not lost
                    where = f"while {what}, after {len(stored)} stored; {inst.path} was not confirmed"
                    if assoc.is_aborted or time.monotonic() - started < 0.9 * self.server.timeout_s:
                        raise PacsUnreachable(f"{self.where}: the connection was lost {where}")
                    raise PacsTimeout(f"{self.where}: no answer within {self.server.timeout_s:g} s {where}")
                code = int(status.Status)
                if code == 0x0000 or 0xB000 <= code <= 0xBFFF:
                    stored.append(inst.sop_uid)
                else:
                    failed.append((str(inst.path), _status_text(status)))
                report(progress, n, len(instances), f"stored {len(stored)} of {len(instances)}")
        return StoreResult(tuple(stored), tuple(failed))
