"""Servers that answer something unexpected (fakes on loopback): the error says so, and the cache takes nothing."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pynetdicom import AE, evt
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind  # type: ignore[attr-defined]

from imaging.pacs import LocalCache, PacsProtocolError, PacsUnreachable, ServerSettings, StudyQuery, connect
from tests.dicom.ct_writer import write_ct_series

Reply = tuple[int, str, bytes]
#: Appended to a reply body: the fake server sends the body so far, then closes the connection.
CUT = b"<<connection lost>>"


@pytest.fixture
def fake_dicomweb() -> Iterator[tuple[dict[str, Callable[[str], Reply]], str]]:
    """An HTTP server whose replies the test sets per path prefix; yields (routes, base url)."""
    routes: dict[str, Callable[[str], Reply]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            for prefix, reply in sorted(routes.items(), key=lambda kv: -len(kv[0])):
                if self.path.startswith(prefix):
                    status, content_type, body = reply(self.path)
                    break
            else:
                status, content_type, body = 404, "text/plain", b"no route"
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            declared = len(body)
            if body.endswith(CUT):  # a server that dies part-way: promise more than it sends, then hang up
                body = body[: -len(CUT)]
                declared = len(body) * 2
            self.send_header("Content-Length", str(declared))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield routes, f"http://127.0.0.1:{server.server_address[1]}/dicom-web"
    server.shutdown()
    server.server_close()


def web(url: str) -> ServerSettings:
    return ServerSettings(name="fake", protocol="dicomweb", url=url, timeout_s=5)


def dicom_json(items: list[dict[str, str]]) -> Reply:
    tags = {"StudyInstanceUID": "0020000D", "SeriesInstanceUID": "0020000E", "SOPInstanceUID": "00080018"}
    body = [{tags[k]: {"vr": "UI", "Value": [v]} for k, v in item.items()} for item in items]
    return 200, "application/dicom+json", json.dumps(body).encode()


def multipart(parts: list[bytes]) -> Reply:
    boundary = "b0undary"
    body = b"".join(
        b"--" + boundary.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n" + part + b"\r\n" for part in parts
    ) + b"--" + boundary.encode() + b"--\r\n"
    return 200, f'multipart/related; type="application/dicom"; boundary={boundary}', body


def test_html_instead_of_json_and_server_errors(fake_dicomweb: tuple[dict[str, Callable[[str], Reply]], str]) -> None:
    routes, url = fake_dicomweb
    routes["/dicom-web/studies"] = lambda _: (200, "application/dicom+json", b"<html>Login page</html>")
    with connect(web(url)) as pacs, pytest.raises(PacsProtocolError, match=r"unexpected reply while search.*not JSON"):
        pacs.find_studies(StudyQuery(patient_id="X"))
    routes["/dicom-web/studies"] = lambda _: (500, "text/plain", b"database is locked")
    with connect(web(url)) as pacs, pytest.raises(PacsProtocolError, match=r"HTTP 500.*database is locked"):
        pacs.find_studies(StudyQuery(patient_id="X"))


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")  # pydicom, reading the fake server's bad UID
def test_unsafe_uid_from_the_server_never_reaches_the_disk(
    fake_dicomweb: tuple[dict[str, Callable[[str], Reply]], str], tmp_path: Path
) -> None:
    routes, url = fake_dicomweb
    routes["/dicom-web/studies/1.2.3/series/1.2.3.4/instances"] = lambda _: dicom_json(
        [{"SOPInstanceUID": "../../../../tmp/evil"}]
    )
    cache = LocalCache(tmp_path / "cache")
    with connect(web(url)) as pacs, pytest.raises(PacsProtocolError, match="invalid SOP Instance UID"):
        pacs.retrieve("1.2.3", cache, series_uids=["1.2.3.4"])
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_instance_of_another_series_is_refused(
    fake_dicomweb: tuple[dict[str, Callable[[str], Reply]], str], tmp_path: Path
) -> None:
    asked = write_ct_series(tmp_path / "asked", n=1, rows=16, columns=16)
    other = write_ct_series(tmp_path / "other", n=1, rows=16, columns=16)
    routes, url = fake_dicomweb
    prefix = f"/dicom-web/studies/{asked.study_uid}/series/{asked.series_uid}"
    routes[prefix + "/instances"] = lambda _: dicom_json([{"SOPInstanceUID": asked.sop_uids[0]}])
    routes[prefix] = lambda _: multipart([other.paths[0].read_bytes()])
    cache = LocalCache(tmp_path / "cache")
    with connect(web(url)) as pacs, pytest.raises(PacsProtocolError, match="was asked for") as error:
        pacs.retrieve(asked.study_uid, cache, series_uids=[asked.series_uid])
    assert "0 of 1 instances are in the cache" in str(error.value)
    assert not (tmp_path / "cache" / other.study_uid).exists()
    # no image written (the list of what the series should hold, in .manifests, is kept: it is no image)
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and ".manifests" not in p.parts]

    routes[prefix] = lambda _: multipart([asked.paths[0].read_bytes()])  # a well-behaved server: it now works
    with connect(web(url)) as pacs:
        assert pacs.retrieve(asked.study_uid, cache, series_uids=[asked.series_uid]).fetched == 1
    stored = pydicom.dcmread(cache.instance_path(asked.study_uid, asked.series_uid, asked.sop_uids[0]))
    assert stored.pixel_array.shape == (16, 16)


def test_dimse_failure_status_is_named(tmp_path: Path) -> None:
    def on_find(event: object) -> Iterator[tuple[int, Dataset | None]]:
        yield 0xC001, None

    scp = AE(ae_title="FAKEPACS")
    scp.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
    server = scp.start_server(("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_FIND, on_find)])
    try:
        port = server.server_address[1]
        settings = ServerSettings(name="fake", protocol="dimse", host="127.0.0.1", port=port, called_ae="FAKEPACS",
                                  timeout_s=5)
        with connect(settings) as pacs, pytest.raises(PacsProtocolError, match=r"C-FIND failed.*status 0xC001"):
            pacs.find_studies(StudyQuery(patient_id="X"))
    finally:
        server.shutdown()


def test_connection_lost_in_a_streamed_series(
    fake_dicomweb: tuple[dict[str, Callable[[str], Reply]], str], tmp_path: Path
) -> None:
    # 10 slices of 256 x 256 (1.3 MB): more than the client's 1 MB read, so parts arrive in two reads.
    series = write_ct_series(tmp_path / "ct", n=10, rows=256, columns=256)
    routes, url = fake_dicomweb
    prefix = f"/dicom-web/studies/{series.study_uid}/series/{series.series_uid}"
    routes[prefix + "/instances"] = lambda _: dicom_json([{"SOPInstanceUID": uid} for uid in series.sop_uids])
    whole = multipart([p.read_bytes() for p in series.paths])[2]
    # Nine complete parts, then the tenth cut half-way and the connection closed.
    cut_at = whole.index(series.paths[9].read_bytes()) + 1000
    routes[prefix] = lambda _: (200, 'multipart/related; type="application/dicom"; boundary=b0undary',
                                whole[:cut_at] + CUT)
    cache = LocalCache(tmp_path / "cache")
    with connect(web(url)) as pacs, pytest.raises(PacsUnreachable, match="connection failed while retrieving") as lost:
        pacs.retrieve(series.study_uid, cache, series_uids=[series.series_uid])
    assert "retrieving again fetches only the rest" in str(lost.value)
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.name.endswith(".partial")]
    kept = list(cache.series_dir(series.study_uid, series.series_uid).glob("*.dcm"))
    assert 1 <= len(kept) < 10  # parts that arrived whole were written as they came, before the loss
    for path in kept:
        assert pydicom.dcmread(path).pixel_array.shape == (256, 256)
