"""`recist pacs` end to end against a real Orthanc on loopback: configure, echo, find, get (and resume), store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest

from tests.dicom.ct_writer import write_ct_series
from tests.services.orthanc_server import OrthancServer, require_orthanc
from tests.services.test_pacs_orthanc import make_sr
from workstation.cli import main


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    require_orthanc()
    with OrthancServer(tmp_path_factory.mktemp("orthanc")) as server:
        yield server


def recist(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["pacs", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_configure_echo_find_get_store(
    orthanc: OrthancServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "pacs.json"
    monkeypatch.setenv("RECIST_PACS_CONFIG", str(config))
    monkeypatch.setenv("TEST_PACS_PASSWORD", orthanc.password)
    series = write_ct_series(tmp_path / "ct", n=4, rows=64, columns=64,
                             patient={"id": "GC-CLI", "accession": "ACC-CLI", "study_date": "20240301"})
    orthanc.upload(series.paths)

    code, out, _ = recist(capsys, "add", "web", "--protocol", "dicomweb", "--url", orthanc.dicomweb_url,
                          "--username", orthanc.username, "--password-env", "TEST_PACS_PASSWORD", "--default")
    assert code == 0 and "saved web" in out
    assert orthanc.password not in config.read_text()
    code, _, _ = recist(capsys, "add", "dimse", "--protocol", "dimse", "--host", "127.0.0.1", "--port",
                        str(orthanc.dicom_port), "--called-ae", orthanc.aet, "--calling-ae", orthanc.client_aet)
    assert code == 0
    code, out, _ = recist(capsys, "servers")
    assert "* web: DICOMweb" in out and "dimse: DIMSE" in out

    for server in ("web", "dimse"):
        code, out, _ = recist(capsys, "--server", server, "echo")
        assert code == 0 and "OK" in out

    code, out, _ = recist(capsys, "find", "--patient-id", "GC-CLI", "--from", "2024-02-01", "--series", "--json")
    found = json.loads(out)
    assert [s["study_uid"] for s in found] == [series.study_uid]
    assert found[0]["series"][0]["series_uid"] == series.series_uid and found[0]["study_date"] == "2024-03-01"
    code, out, _ = recist(capsys, "find", "--accession", "ACC-CLI", "--server", "dimse")
    assert code == 0 and series.study_uid in out and "GC-CLI" in out
    assert out.splitlines()[0].split()[:3] == ["PATIENT", "ID", "NAME"]  # a header row names the columns
    code, _, err = recist(capsys, "get", "../../etc")
    assert code == 2 and "'../../etc' is not a DICOM UID" in err  # typed by the user, not sent by the server
    code, _, err = recist(capsys, "--server", "web", "find", "--server", "nope")  # the option after the action wins
    assert code == 2 and "no server named 'nope' (configured: web, dimse)" in err

    cache = tmp_path / "cache"
    code, out, err = recist(capsys, "--server", "dimse", "get", series.study_uid, "--cache", str(cache))
    assert code == 0 and out.startswith(f"{series.study_uid}: 4 fetched, 0 already cached")
    assert "study 1/1: 4/4 instances" in err
    folder = Path(out.splitlines()[1].strip())
    assert sorted(p.stem for p in folder.glob("*.dcm")) == sorted(series.sop_uids)
    later = write_ct_series(tmp_path / "ct2", n=2, rows=64, columns=64,
                            patient={"id": "GC-CLI", "accession": "ACC-CLI2", "study_date": "20240601"})
    orthanc.upload(later.paths)
    code, out, _ = recist(capsys, "get", "--patient-id", "GC-CLI", "--cache", str(cache), "--quiet")
    assert code == 0
    assert out.splitlines()[0] == f"{series.study_uid}: 0 fetched, 4 already cached, 4 in all"
    assert out.splitlines()[2] == f"{later.study_uid}: 2 fetched, 0 already cached, 2 in all"
    code, _, err = recist(capsys, "get", "--patient-id", "NOBODY", "--cache", str(cache))
    assert code == 2 and "no studies of patient 'NOBODY'" in err
    # a study retrieved before a later one fails is named all the same (the PACS helper: nothing was printed)
    code, out, err = recist(capsys, "get", later.study_uid, "1.2.826.0.1.3680043.8.498.999999", "--cache",
                            str(cache), "--quiet")
    assert code == 2 and out.startswith(f"{later.study_uid}: 0 fetched, 2 already cached") and err

    sr_path, sr_series, _ = make_sr(series, tmp_path / "sr")
    code, out, _ = recist(capsys, "store", str(sr_path))
    assert code == 0 and "stored 1 instance" in out
    code, out, _ = recist(capsys, "find", "--accession", "ACC-CLI", "--series", "--json")
    assert sr_series in {s["series_uid"] for s in json.loads(out)[0]["series"]}


def test_errors_are_one_line(
    orthanc: OrthancServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "pacs.json"
    monkeypatch.setenv("RECIST_PACS_CONFIG", str(config))
    code, _, err = recist(capsys, "echo")
    assert code == 2 and err.count("\n") == 1 and "no PACS server is configured" in err

    config.write_text('{"servers": [{"name": "x", "protocol": "dimse", "host": "127.0.0.1", "port": 1,,]}')
    code, _, err = recist(capsys, "echo")
    assert code == 2 and err.count("\n") == 1 and "line 1" in err and str(config) in err

    down = OrthancServer(tmp_path / "down")  # never started
    config.write_text(json.dumps({"servers": [
        {"name": "down", "protocol": "dimse", "host": "127.0.0.1", "port": down.dicom_port, "called_ae": "X"}]}))
    code, _, err = recist(capsys, "echo")
    assert code == 2 and err.count("\n") == 1 and "connection refused" in err

    not_dicom = tmp_path / "notes.txt"
    not_dicom.write_text("hello")
    code, _, err = recist(capsys, "store", str(not_dicom))
    assert code == 2 and "not a readable DICOM file" in err and str(not_dicom) in err
    assert pydicom.misc.is_dicom(str(not_dicom)) is False
