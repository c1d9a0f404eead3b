"""Start Debian's Orthanc (with the DICOMweb plugin) on loopback for a test, with its own configuration and storage.

The test's own AE is registered as a modality, so C-MOVE to it works; C-GET, C-FIND and C-STORE are allowed for it.
HTTP needs a user name and password (the test checks that credentials are sent). The server is stopped at the end.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ORTHANC_BINARY = os.environ.get("ORTHANC_BINARY", "/usr/sbin/Orthanc")
DICOMWEB_PLUGIN = os.environ.get("ORTHANC_DICOMWEB_PLUGIN", "/usr/share/orthanc/plugins/libOrthancDicomWeb.so")


def orthanc_missing_reason() -> str | None:
    """Why Orthanc cannot run here (binary or DICOMweb plugin absent), or None when it can."""
    binary = ORTHANC_BINARY if os.path.isabs(ORTHANC_BINARY) else shutil.which(ORTHANC_BINARY)
    if not binary or not os.access(binary, os.X_OK):
        return f"Orthanc is not installed ({ORTHANC_BINARY} not found; Debian package 'orthanc')"
    if not os.path.exists(DICOMWEB_PLUGIN):
        return f"the Orthanc DICOMweb plugin is not installed ({DICOMWEB_PLUGIN}; Debian package 'orthanc-dicomweb')"
    return None


def require_orthanc() -> None:
    """Skip the calling test (or fixture) with the reason when Orthanc cannot run here."""
    import pytest

    reason = orthanc_missing_reason()
    if reason:
        pytest.skip(reason)


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port free now and never handed out before in this run: the system may give the port just closed again, and
    an Orthanc once got the same port for DICOM and HTTP and exited ("already in use")."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


@dataclass(frozen=True)
class TlsFiles:
    """A test CA and certificates signed by it (PEM): the server's for 127.0.0.1, and a client's."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_tls_files(folder: Path) -> TlsFiles:
    """Create a throw-away CA, a server certificate for 127.0.0.1/localhost and a client certificate (openssl)."""
    folder.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=recist-test-ca", "-days", "2")
    for name, san in (("server", "subjectAltName=IP:127.0.0.1,DNS:localhost"), ("client", "")):
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN=recist-test-{name}")
        (folder / f"{name}.ext").write_text(san + "\n" if san else "basicConstraints=CA:FALSE\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext")
    return TlsFiles(folder / "ca.crt", folder / "server.crt", folder / "server.key", folder / "client.crt",
                    folder / "client.key")


@dataclass
class OrthancServer:
    """One Orthanc process. ``start()`` waits until its REST API answers; ``stop()`` ends it; ``kill()`` crashes it."""

    workdir: Path
    client_aet: str = "RECISTTEST"
    client_port: int = field(default_factory=free_port)
    aet: str = "ORTHANCTEST"
    username: str = "reader"
    password: str = "s3cret-pw"
    http_port: int = field(default_factory=free_port)
    dicom_port: int = field(default_factory=free_port)
    #: DICOM TLS when set: client certificates required, and the test's AE reached over TLS for C-MOVE. (HTTP stays
    #: plain: Debian's Orthanc 1.10.1 crashes with SIGSEGV on its first HTTPS connection.)
    tls: TlsFiles | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.http_url}/dicom-web"

    @property
    def log_path(self) -> Path:
        return self.workdir / "orthanc.log"

    def write_config(self) -> Path:
        storage = self.workdir / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        config = {
            "Name": "recist-test-orthanc",
            "StorageDirectory": str(storage),
            "IndexDirectory": str(storage),
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "DicomAet": self.aet,
            "DicomCheckCalledAet": True,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": True,
            "RegisteredUsers": {self.username: self.password},
            "DicomAlwaysAllowEcho": True,
            "DicomAlwaysAllowStore": True,
            "DicomCheckModalityHost": False,
            "DicomModalities": {
                "recist": {
                    "AET": self.client_aet,
                    "Host": "127.0.0.1",
                    "Port": self.client_port,
                    "AllowEcho": True,
                    "AllowFind": True,
                    "AllowGet": True,
                    "AllowMove": True,
                    "AllowStore": True,
                },
            },
            "DicomScuTimeout": 10,
            "DicomScpTimeout": 10,
            "DicomAssociationCloseDelay": 0,
            "Plugins": [DICOMWEB_PLUGIN],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False, "Host": "127.0.0.1"},
            "SaveJobs": False,
            "StableAge": 1,
            "HttpThreadsCount": 8,
            "DicomThreadsCount": 2,
            "ConcurrentJobs": 1,
        }
        if self.tls is not None:
            config.update({
                "DicomTlsEnabled": True, "DicomTlsCertificate": str(self.tls.server_cert),
                "DicomTlsPrivateKey": str(self.tls.server_key), "DicomTlsTrustedCertificates": str(self.tls.ca_cert),
                "DicomTlsRemoteCertificateRequired": True,
            })
            config["DicomModalities"]["recist"]["UseDicomTls"] = True  # type: ignore[index]
        path = self.workdir / "orthanc.json"
        path.write_text(json.dumps(config, indent=2))
        return path

    def start(self, timeout_s: float = 30.0) -> None:
        config = self.write_config()
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [ORTHANC_BINARY, str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Orthanc exited with status {self.process.returncode}:\n{self.log_tail()}")
            try:
                self.rest("GET", "/system")
                with socket.create_connection(("127.0.0.1", self.dicom_port), timeout=1):
                    return
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Orthanc did not answer within {timeout_s} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def kill(self) -> None:
        """Crash the server at once (SIGKILL), as a power cut would; does not wait."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)

    def stop(self, graceful: bool = True) -> None:
        """End the server. A graceful stop takes Orthanc ~3 s; tests that throw the storage away pass False."""
        if self.process is None:
            return
        if not graceful:
            self.kill()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        else:
            self.process.wait()
        self.process = None

    def wait_until_stopped(self, timeout_s: float = 10.0) -> None:
        if self.process is not None:
            self.process.wait(timeout=timeout_s)
            self.process = None

    def rest(self, method: str, path: str, body: bytes | None = None, content_type: str = "") -> bytes:
        """One REST call with the server's credentials (used to upload test data and inspect the server)."""
        request = urllib.request.Request(self.http_url + path, data=body, method=method)
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        if content_type:
            request.add_header("Content-Type", content_type)
        with urllib.request.urlopen(request, timeout=10) as response:
            return bytes(response.read())

    def upload(self, paths: list[Path]) -> None:
        for path in paths:
            self.rest("POST", "/instances", path.read_bytes(), "application/dicom")

    def instance_count(self) -> int:
        return int(json.loads(self.rest("GET", "/statistics"))["CountInstances"])

    def __enter__(self) -> OrthancServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop(graceful=False)  # the storage folder is the test's temporary folder
