"""PACS settings, queries and the cache, without a server: validation messages, round trips, atomic writes."""

from __future__ import annotations

import json
import os
import stat
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from imaging.pacs import (
    LocalCache,
    PacsConfigError,
    PacsError,
    PacsInputError,
    PacsProtocolError,
    PacsSettings,
    ServerSettings,
    StudyQuery,
    load_settings,
    save_settings,
)

WEB = ServerSettings(name="web", protocol="dicomweb", url="https://pacs.example.org/dicom-web", username="reader",
                     password="hunter22")
DIMSE = ServerSettings(name="site", protocol="dimse", host="10.0.0.5", port=104, called_ae="PACS",
                       calling_ae="RECIST", retrieve_method="c-move", storage_port=11113)


@pytest.mark.parametrize(("changes", "message"), [
    ({"name": ""}, "name '' must be"),
    ({"protocol": "ftp"}, "protocol 'ftp' must be one of dicomweb, dimse"),
    ({"url": "pacs.example.org"}, "must start with http:// or https://"),
    ({"url": "https://bob:pw@pacs.example.org/"}, "put credentials in username/password"),
    ({"url": "http://pacs.example.org/", "tls": True}, "tls is on but the url is not https://"),
    ({"password_env": "PACS_PW"}, "either password or password_env"),
    ({"username": "", "password": "x"}, "a password needs a username"),
    ({"timeout_s": 0}, "timeout_s 0 must be"),
    ({"ca_file": "/nonexistent/ca.pem"}, "ca_file '/nonexistent/ca.pem' does not exist"),
])
def test_dicomweb_settings_problems_are_named(changes: dict[str, object], message: str) -> None:
    with pytest.raises(PacsConfigError, match="server '") as error:
        replace(WEB, **changes).validated()  # type: ignore[arg-type]
    assert message in str(error.value)
    assert "hunter22" not in str(error.value)


@pytest.mark.parametrize(("changes", "message"), [
    ({"host": ""}, "needs a host"),
    ({"port": 70000}, "port 70000 must be between 1 and 65535"),
    ({"called_ae": "A_VERY_LONG_AE_TITLE"}, "longer than 16 characters"),
    ({"calling_ae": "BAD\\AE"}, "without a backslash"),
    ({"called_ae": "   "}, "called_ae is empty"),
    ({"storage_port": 0}, "c-move needs storage_port"),
    ({"retrieve_method": "c-fetch"}, "retrieve_method 'c-fetch'"),
])
def test_dimse_settings_problems_are_named(changes: dict[str, object], message: str) -> None:
    with pytest.raises(PacsConfigError) as error:
        replace(DIMSE, **changes).validated()  # type: ignore[arg-type]
    assert message in str(error.value)


def test_password_is_never_shown() -> None:
    assert "hunter22" not in repr(WEB) and "hunter22" not in WEB.describe()
    assert WEB.describe() == "web: DICOMweb https://pacs.example.org/dicom-web as reader"
    assert DIMSE.describe() == "site: DIMSE PACS@10.0.0.5:104 from RECIST (c-move)"


def test_password_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    server = replace(WEB, password="", password_env="PACS_TEST_PW")
    monkeypatch.delenv("PACS_TEST_PW", raising=False)
    with pytest.raises(PacsConfigError, match="environment variable PACS_TEST_PW"):
        server.resolved_password()
    monkeypatch.setenv("PACS_TEST_PW", "from-env")
    assert server.resolved_password() == "from-env"


def test_settings_round_trip_owner_only_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "pacs.json"
    settings = PacsSettings(servers=(WEB, DIMSE), default="site", cache_dir=tmp_path / "cache")
    save_settings(settings, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not [p for p in path.parent.iterdir() if p.name != "pacs.json"]  # no temporary file left
    data = json.loads(path.read_text())
    assert data["servers"][1] == {"name": "site", "protocol": "dimse", "host": "10.0.0.5", "called_ae": "PACS",
                                  "retrieve_method": "c-move", "storage_port": 11113}
    loaded = load_settings(path)
    assert loaded == settings
    assert loaded.server().name == "site" and loaded.server("web") == WEB
    with pytest.raises(PacsConfigError, match=r"no server named 'nope' \(configured: web, site\)"):
        loaded.server("nope")
    replaced = loaded.with_server(replace(DIMSE, port=11112))
    assert [s.name for s in replaced.servers] == ["web", "site"] and replaced.server("site").port == 11112
    removed = replaced.without_server("site")
    assert [s.name for s in removed.servers] == ["web"] and removed.default == ""
    assert removed.server() == WEB  # the only one
    assert load_settings(tmp_path / "missing.json").servers == ()


@pytest.mark.parametrize(("text", "message"), [
    ('{"servers": [', "not valid JSON at line 1"),
    ('[]', "must be a JSON object"),
    ('{"servers": {}}', "'servers' must be a list"),
    ('{"servers": [], "colour": 1}', "unknown key(s) colour"),
    ('{"servers": [{"name": "a", "protocol": "dimse", "hots": "x"}]}', "servers[0]: unknown setting(s) hots"),
    ('{"servers": [{"protocol": "dimse"}]}', "servers[0]: missing 'name'"),
    ('{"servers": [{"name": "a", "protocol": "dimse", "host": "h", "called_ae": "P", "port": "104"}]}',
     "'port' must be int, not \"104\""),
    ('{"servers": [{"name": "a", "protocol": "dimse", "host": "h", "called_ae": "P", "tls": 1}]}',
     "'tls' must be bool"),
    ('{"servers": [{"name": "a", "protocol": "dimse", "host": "", "called_ae": "P"}]}', "('a'): a DIMSE server needs"),
    ('{"servers": [{"name": "a", "protocol": "dimse", "host": "h", "called_ae": "P"},'
     ' {"name": "a", "protocol": "dimse", "host": "h", "called_ae": "P"}]}', "used twice: a"),
    ('{"servers": [], "default": "b"}', "default 'b' is not one of the servers"),
])
def test_broken_settings_files_say_what_and_where(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "pacs.json"
    path.write_text(text)
    with pytest.raises(PacsConfigError) as error:
        load_settings(path)
    assert str(error.value).startswith(str(path)) and message in str(error.value)


def test_query_keys_and_date_ranges() -> None:
    assert StudyQuery().matching_keys() == {}
    query = StudyQuery("GC-*", "ACC1", date(2024, 1, 1), date(2024, 3, 31), "CT")
    assert query.matching_keys() == {"PatientID": "GC-*", "AccessionNumber": "ACC1",
                                     "StudyDate": "20240101-20240331", "ModalitiesInStudy": "CT"}
    assert StudyQuery(study_date_from=date(2024, 1, 1)).date_range == "20240101-"
    assert StudyQuery(study_date_to=date(2024, 1, 1)).date_range == "-20240101"
    assert StudyQuery(study_date_from=date(2024, 1, 1), study_date_to=date(2024, 1, 1)).date_range == "20240101"
    with pytest.raises(PacsInputError, match="2024-03-01 is after 2024-01-01"):
        StudyQuery(study_date_from=date(2024, 3, 1), study_date_to=date(2024, 1, 1))
    with pytest.raises(PacsInputError, match="modality 'c t'"):
        StudyQuery(modality="c t")
    with pytest.raises(PacsInputError, match="backslash"):
        StudyQuery(patient_id="A\\B")


def test_cache_refuses_unsafe_uids_and_writes_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = LocalCache(tmp_path)
    for bad in ("../../etc", "1.2.3/4", "", "1." + "2" * 70, "1.2.a"):
        with pytest.raises(PacsProtocolError, match="invalid"):
            cache.instance_path("1.2.3", "1.2.3.4", bad)
    path = cache.write_instance("1.2.3", "1.2.3.4", "1.2.3.4.5", b"DICM data")
    assert path == tmp_path / "1.2.3" / "1.2.3.4" / "1.2.3.4.5.dcm" and path.read_bytes() == b"DICM data"
    assert cache.cached_instances("1.2.3", "1.2.3.4") == {"1.2.3.4.5"}

    def failing_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(PacsError, match="No space left on device"):
        cache.write_instance("1.2.3", "1.2.3.4", "1.2.3.4.6", b"half")
    monkeypatch.undo()
    assert sorted(p.name for p in (tmp_path / "1.2.3" / "1.2.3.4").iterdir()) == ["1.2.3.4.5.dcm"]
    assert not list((tmp_path / ".incoming").iterdir())  # the failed write cleaned up after itself
    (tmp_path / "1.2.3" / "1.2.3.4" / ".1.2.3.4.7.abc.partial").write_bytes(b"x")
    stale, fresh = tmp_path / ".incoming" / "1.2.3.4.8.a.partial", tmp_path / ".incoming" / "1.2.3.4.9.b.partial"
    stale.write_bytes(b"left by a crash")
    fresh.write_bytes(b"being written by another process")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    assert cache.remove_partials("1.2.3", "1.2.3.4") == 2
    assert not stale.exists() and fresh.exists()
    assert cache.cached_instances("1.2.3", "9.9") == set()


def test_the_data_folder_holds_the_pacs_settings_and_cache_too(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`$RECIST_DATA_DIR` set up a workstation in its own folder, but its PACS servers and cache came from the user's
    config and cache folders (another workstation's)."""
    from imaging.pacs.settings import default_cache_dir, default_config_path

    monkeypatch.delenv("RECIST_PACS_CONFIG", raising=False)
    monkeypatch.setenv("RECIST_DATA_DIR", str(tmp_path / "ws"))
    assert default_config_path() == tmp_path / "ws" / "pacs.json"
    assert default_cache_dir() == tmp_path / "ws" / "pacs-cache"
    monkeypatch.setenv("RECIST_PACS_CONFIG", str(tmp_path / "site.json"))  # named itself: it wins
    assert default_config_path() == tmp_path / "site.json"
    monkeypatch.delenv("RECIST_DATA_DIR")
    monkeypatch.delenv("RECIST_PACS_CONFIG")
    assert default_config_path().name == "pacs.json" and "recist-workstation" in str(default_config_path())
