"""TLS: DIMSE over TLS against a real Orthanc (client certificates required, C-MOVE back to our TLS storage SCP), and
DICOMweb over HTTPS against a loopback fake (Debian's Orthanc 1.10.1 crashes on HTTPS connections)."""

from __future__ import annotations

import json
import shutil
import ssl
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from imaging.pacs import LocalCache, PacsRefused, ServerSettings, StudyQuery, connect
from tests.dicom.ct_writer import WrittenSeries, write_ct_series
from tests.services.orthanc_server import OrthancServer, TlsFiles, make_tls_files, require_orthanc


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make the test certificates")
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> WrittenSeries:
    return write_ct_series(tmp_path_factory.mktemp("ct"), n=3, rows=64, columns=64, patient={"id": "GC-TLS"})


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory, tls: TlsFiles, series: WrittenSeries) -> Iterator[OrthancServer]:
    require_orthanc()
    with OrthancServer(tmp_path_factory.mktemp("orthanc"), tls=tls) as server:
        server.upload(series.paths)
        yield server


def dimse_tls(server: OrthancServer, files: TlsFiles, **changes: object) -> ServerSettings:
    settings = ServerSettings(
        name="tls", protocol="dimse", host="127.0.0.1", port=server.dicom_port, called_ae=server.aet,
        calling_ae=server.client_aet, tls=True, ca_file=str(files.ca_cert), cert_file=str(files.client_cert),
        key_file=str(files.client_key), storage_port=server.client_port, timeout_s=5,
    )
    return replace(settings, **changes).validated()  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ("c-get", "c-move"))
def test_dimse_over_tls(orthanc: OrthancServer, tls: TlsFiles, series: WrittenSeries, method: str,
                        tmp_path: Path) -> None:
    with connect(dimse_tls(orthanc, tls, retrieve_method=method)) as pacs:
        assert pacs.echo() > 0
        assert [s.study_uid for s in pacs.find_studies(StudyQuery(patient_id="GC-TLS"))] == [series.study_uid]
        result = pacs.retrieve(series.study_uid, LocalCache(tmp_path / "cache"))
    assert result.fetched == 3
    assert sorted(p.stem for p in result.series_folders[0].glob("*.dcm")) == sorted(series.sop_uids)


def test_dimse_tls_mismatches_are_refused_with_a_hint(orthanc: OrthancServer, tls: TlsFiles) -> None:
    with connect(dimse_tls(orthanc, tls, tls=False, ca_file="", cert_file="", key_file="")) as pacs, \
            pytest.raises(PacsRefused, match=r"its DICOM port, not its web port\? does it expect TLS"):
        pacs.echo()
    with connect(dimse_tls(orthanc, tls, cert_file="", key_file="")) as pacs, \
            pytest.raises(PacsRefused, match="client certificate"):
        pacs.echo()


@pytest.fixture
def https_qido(tls: TlsFiles) -> Iterator[str]:
    """A QIDO-RS endpoint over HTTPS that requires a client certificate signed by the test CA."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps([]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/dicom+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(tls.ca_cert))
    context.load_cert_chain(str(tls.server_cert), str(tls.server_key))
    context.verify_mode = ssl.CERT_REQUIRED
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/dicom-web"
    server.shutdown()
    server.server_close()


def test_dicomweb_over_https(https_qido: str, tls: TlsFiles) -> None:
    good = ServerSettings(name="web-tls", protocol="dicomweb", url=https_qido, ca_file=str(tls.ca_cert),
                          cert_file=str(tls.client_cert), key_file=str(tls.client_key), timeout_s=5).validated()
    with connect(good) as pacs:
        assert pacs.find_studies(StudyQuery(patient_id="X")) == []
    with connect(replace(good, ca_file="")) as pacs, pytest.raises(PacsRefused, match=r"TLS failed.*certificate"):
        pacs.echo()  # the system CAs do not know the test CA
    with connect(replace(good, cert_file="", key_file="")) as pacs, pytest.raises(PacsRefused):
        pacs.echo()  # the server wants a client certificate
