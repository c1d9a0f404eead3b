"""PACS access against a real Orthanc started on loopback: query, retrieve (DICOMweb, C-GET, C-MOVE), load, store an SR
back and find it, clear errors, a server crash in the middle of a retrieve, cancel and resume."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from imaging import load_series
from imaging.cancel import Cancelled, CancelToken
from imaging.pacs import (
    LocalCache,
    PacsRefused,
    PacsTimeout,
    PacsUnreachable,
    ServerSettings,
    StudyQuery,
    connect,
)
from tests.dicom.ct_writer import WrittenSeries, write_ct_series
from tests.services.orthanc_server import OrthancServer, require_orthanc

PROTOCOLS = ("dicomweb", "c-get", "c-move")


@dataclass
class Trial:
    baseline: WrittenSeries
    follow_up: WrittenSeries
    other_patient: WrittenSeries

    @property
    def all_series(self) -> list[WrittenSeries]:
        return [self.baseline, self.follow_up, self.other_patient]


def make_trial(folder: Path) -> Trial:
    def series(name: str, patient: dict[str, str], seed: int) -> WrittenSeries:
        return write_ct_series(folder / name, n=6, rows=64, columns=64, patient=patient, seed=seed)

    return Trial(
        baseline=series("bl", {"id": "GC-001", "accession": "ACC-BL", "study_date": "20240115"}, 1),
        follow_up=series("fu", {"id": "GC-001", "accession": "ACC-FU", "study_date": "20240312"}, 2),
        other_patient=series("p2", {"id": "GC-002", "accession": "ACC-P2", "study_date": "20240201"}, 3),
    )


def settings_for(server: OrthancServer, protocol: str, **changes: object) -> ServerSettings:
    if protocol == "dicomweb":
        settings = ServerSettings(
            name="orthanc-web",
            protocol="dicomweb",
            url=server.dicomweb_url,
            username=server.username,
            password=server.password,
            timeout_s=10,
        )
    else:
        settings = ServerSettings(
            name=f"orthanc-{protocol}",
            protocol="dimse",
            host="127.0.0.1",
            port=server.dicom_port,
            called_ae=server.aet,
            calling_ae=server.client_aet,
            retrieve_method=protocol,
            storage_port=server.client_port if protocol == "c-move" else 0,
            timeout_s=10,
        )
    return replace(settings, **changes).validated()  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def trial(tmp_path_factory: pytest.TempPathFactory) -> Trial:
    return make_trial(tmp_path_factory.mktemp("trial"))


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory, trial: Trial) -> Iterator[OrthancServer]:
    require_orthanc()
    with OrthancServer(tmp_path_factory.mktemp("orthanc")) as server:
        for series in trial.all_series:
            server.upload(series.paths)
        yield server


def assert_cache_consistent(folder: Path) -> None:
    """Every file with a final name is a complete DICOM instance named by its SOP Instance UID; no temporary files
    anywhere in the cache (``folder`` is ``<cache>/<study>/<series>``)."""
    assert not [p for p in folder.parent.parent.rglob("*") if p.name.endswith(".partial")]
    for path in folder.rglob("*.dcm"):
        ds = pydicom.dcmread(path)
        assert path.name == f"{ds.SOPInstanceUID}.dcm"
        assert ds.pixel_array.shape == (64, 64)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_echo(orthanc: OrthancServer, protocol: str) -> None:
    with connect(settings_for(orthanc, protocol)) as pacs:
        assert 0 < pacs.echo() < 10


@pytest.mark.parametrize("protocol", ("dicomweb", "c-get"))
def test_find_by_patient_accession_dates_and_modality(orthanc: OrthancServer, trial: Trial, protocol: str) -> None:
    with connect(settings_for(orthanc, protocol)) as pacs:
        gc1 = {s.study_uid for s in pacs.find_studies(StudyQuery(patient_id="GC-001"))}
        assert gc1 == {trial.baseline.study_uid, trial.follow_up.study_uid}
        by_accession = pacs.find_studies(StudyQuery(accession_number="ACC-FU"))
        assert [s.study_uid for s in by_accession] == [trial.follow_up.study_uid]
        assert by_accession[0].study_date == date(2024, 3, 12)
        assert by_accession[0].patient_id == "GC-001"
        in_range = pacs.find_studies(StudyQuery(study_date_from=date(2024, 1, 20), study_date_to=date(2024, 3, 1)))
        assert [s.study_uid for s in in_range] == [trial.other_patient.study_uid]
        open_ended = pacs.find_studies(StudyQuery(study_date_from=date(2024, 2, 1)))
        assert {s.study_uid for s in open_ended} == {trial.other_patient.study_uid, trial.follow_up.study_uid}
        assert len(pacs.find_studies(StudyQuery(patient_id="GC-001", modality="CT"))) == 2
        assert pacs.find_studies(StudyQuery(patient_id="GC-001", modality="MR")) == []
        assert pacs.find_studies(StudyQuery(patient_id="NOBODY")) == []
        assert len(pacs.find_studies(StudyQuery(patient_id="GC-00*"))) == 3
        series = pacs.find_series(trial.baseline.study_uid)
        assert [(s.series_uid, s.modality) for s in series] == [(trial.baseline.series_uid, "CT")]
        assert sorted(pacs.list_instances(trial.baseline.study_uid, trial.baseline.series_uid)) == sorted(
            trial.baseline.sop_uids
        )


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_retrieve_load_and_resume_without_refetching(
    orthanc: OrthancServer, trial: Trial, protocol: str, tmp_path: Path
) -> None:
    cache = LocalCache(tmp_path / "cache")
    steps: list[tuple[int, int]] = []
    with connect(settings_for(orthanc, protocol)) as pacs:
        result = pacs.retrieve(trial.baseline.study_uid, cache, progress=lambda d, t, _m: steps.append((d, t)))
        assert (result.fetched, result.already_cached, result.total) == (6, 0, 6)
        assert steps[0] == (0, 6) and steps[-1] == (6, 6)
        folder = result.series_folders[0]
        assert folder == tmp_path / "cache" / trial.baseline.study_uid / trial.baseline.series_uid
        assert sorted(p.stem for p in folder.glob("*.dcm")) == sorted(trial.baseline.sop_uids)
        assert_cache_consistent(folder)
        volume = load_series(folder)
        np.testing.assert_array_equal(np.asarray(volume.array), trial.baseline.hu)

        again = pacs.retrieve(trial.baseline.study_uid, cache)
        assert (again.fetched, again.already_cached) == (0, 6)

        # An interrupted earlier run: two instances missing and a temporary file left behind.
        for sop_uid in trial.baseline.sop_uids[:2]:
            (folder / f"{sop_uid}.dcm").unlink()
        (folder / f".{trial.baseline.sop_uids[0]}.x.partial").write_bytes(b"half a file")
        resumed = pacs.retrieve(trial.baseline.study_uid, cache)
        assert (resumed.fetched, resumed.already_cached) == (2, 4)
        assert_cache_consistent(folder)
        assert len(list(folder.glob("*.dcm"))) == 6


def make_sr(study: WrittenSeries, folder: Path) -> tuple[Path, str, str]:
    """A minimal Basic Text SR in the study: one finding, referencing nothing else."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study.study_uid
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "SR"
    ds.PatientID = "GC-001"
    ds.PatientName = "Doe^Jane"
    ds.StudyDate = "20240115"
    ds.SeriesNumber = 900
    ds.InstanceNumber = 1
    ds.ValueType = "CONTAINER"
    ds.ContinuityOfContent = "SEPARATE"
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "UNVERIFIED"
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "126000", "DCM", "Imaging Measurement Report"
    ds.ConceptNameCodeSequence = [code]
    item = Dataset()
    item.RelationshipType, item.ValueType, item.TextValue = "CONTAINS", "TEXT", "Target lesion 1: 23.4 mm"
    finding = Dataset()
    finding.CodeValue, finding.CodingSchemeDesignator, finding.CodeMeaning = "121071", "DCM", "Finding"
    item.ConceptNameCodeSequence = [finding]
    ds.ContentSequence = [item]
    path = folder / "sr.dcm"
    folder.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path, ds.SeriesInstanceUID, ds.SOPInstanceUID


def make_seg(study: WrittenSeries, folder: Path) -> tuple[str, str]:
    """A binary DICOM SEG (highdicom) of a box on the first two slices of ``study``."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    sources = [pydicom.dcmread(p) for p in study.paths[:2]]
    for ds in sources:  # attributes the test series writer leaves out and a SEG copies from its sources
        for keyword, value in (("StudyID", "1"), ("StudyTime", "120000"), ("ReferringPhysicianName", "")):
            ds.setdefault(keyword, value)
    mask = np.zeros((2, 64, 64), dtype=bool)
    mask[:, 20:30, 25:40] = True
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=mask, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[hd.seg.SegmentDescription(
            segment_number=1, segment_label="T1",
            segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
            segmented_property_type=codes.SCT.Neoplasm, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        )],
        series_instance_uid=hd.UID(), series_number=901, sop_instance_uid=hd.UID(), instance_number=1,
        manufacturer="recist-tests", manufacturer_model_name="pacs-test", software_versions="1",
        device_serial_number="1",
    )
    seg.save_as(folder / "seg.dcm")
    return str(seg.SeriesInstanceUID), str(seg.SOPInstanceUID)


@pytest.mark.parametrize("protocol", ("dicomweb", "c-get"))
def test_store_sr_and_seg_and_find_them_again(
    orthanc: OrthancServer, trial: Trial, protocol: str, tmp_path: Path
) -> None:
    sr_path, series_uid, sop_uid = make_sr(trial.baseline, tmp_path / "export")
    seg_series_uid, seg_uid = make_seg(trial.baseline, tmp_path / "export")
    (tmp_path / "export" / "read.csv").write_text("subject,lesion,diameter_mm\nGC-001,T1,23.4\n")  # not for the PACS
    with connect(settings_for(orthanc, protocol)) as pacs:
        stored = pacs.store([tmp_path / "export"])
        assert sorted(stored.stored) == sorted((sop_uid, seg_uid)) and stored.failed == ()
        series = {s.series_uid: s for s in pacs.find_series(trial.baseline.study_uid)}
        assert series[series_uid].modality == "SR" and series[seg_series_uid].modality == "SEG"
        cache = LocalCache(tmp_path / "cache")
        got = pacs.retrieve(trial.baseline.study_uid, cache, series_uids=[series_uid])
        assert got.fetched == 1
        back = pydicom.dcmread(cache.instance_path(trial.baseline.study_uid, series_uid, sop_uid))
        assert back.ContentSequence[0].TextValue == "Target lesion 1: 23.4 mm"
    assert pydicom.dcmread(sr_path).SOPInstanceUID == sop_uid


def test_wrong_credentials_and_wrong_called_ae_are_refused(orthanc: OrthancServer) -> None:
    with connect(settings_for(orthanc, "dicomweb", password="wrong")) as pacs, pytest.raises(PacsRefused) as web:
        pacs.find_studies(StudyQuery())
    assert "rejected the user name or password of 'orthanc-web'" in str(web.value) and "wrong" not in str(web.value)
    with connect(settings_for(orthanc, "c-get", called_ae="NOT_ORTHANC")) as pacs, pytest.raises(PacsRefused) as dimse:
        pacs.echo()
    assert "rejected the association" in str(dimse.value) and "NOT_ORTHANC" in str(dimse.value)
    # A calling AE the PACS does not know: Orthanc answers its C-ECHO, then drops the connection at the first search
    # (the helper's finding: "the connection was lost", with nothing to go on).
    with connect(settings_for(orthanc, "c-get", calling_ae="NOTKNOWN")) as pacs:
        pacs.echo()
        with pytest.raises(PacsUnreachable) as unknown:
            pacs.find_studies(StudyQuery())
        # the PACS user's finding: Test connection / `recist pacs echo` said OK for it; the check searches too
        with pytest.raises(PacsUnreachable, match="calling AE title 'NOTKNOWN' is registered"):
            pacs.check()
    assert "check that our calling AE title 'NOTKNOWN' is registered on the server" in str(unknown.value)


def listening_to(silent: socket.socket, server: OrthancServer, protocol: str, timeout_s: float) -> ServerSettings:
    """``server``'s settings pointed at ``silent``, a socket that accepts connections and never answers."""
    port = silent.getsockname()[1]
    if protocol == "dicomweb":
        return settings_for(server, protocol, url=f"http://127.0.0.1:{port}/dicom-web", timeout_s=timeout_s)
    return settings_for(server, protocol, port=port, timeout_s=timeout_s)


@pytest.mark.parametrize("protocol", ("dicomweb", "c-get"))
def test_server_down_and_server_silent(protocol: str, tmp_path: Path) -> None:
    down = OrthancServer(tmp_path)  # never started: its ports are closed
    with connect(settings_for(down, protocol)) as pacs, pytest.raises(PacsUnreachable, match="refused"):
        pacs.echo()
    # A server that accepts the connection and then says nothing.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        settings = listening_to(silent, down, protocol, timeout_s=0.5)
        start = time.monotonic()
        with connect(settings) as pacs, pytest.raises(PacsTimeout, match=r"0\.5 s"):
            pacs.echo()
        assert time.monotonic() - start < 2.0  # one timeout, no hidden retries


@pytest.mark.parametrize("protocol", ("dicomweb", "c-get"))
def test_a_cancel_ends_a_search_of_a_server_that_does_not_answer(protocol: str, tmp_path: Path) -> None:
    """The PACS user's finding: with the PACS paused, Cancel of a search or of a retrieve's series search showed
    "cancelling ..." until the 30 s timeout, then an error (DIMSE: the late results). Now a cancel ends a search,
    an echo and a retrieve at once, whatever the server does."""
    down = OrthancServer(tmp_path)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        settings = listening_to(silent, down, protocol, timeout_s=30)
        for call in ("find_studies", "check", "retrieve"):
            token = CancelToken()
            threading.Timer(0.3, token.cancel).start()
            start = time.monotonic()
            with connect(settings) as pacs, pytest.raises(Cancelled):
                if call == "find_studies":
                    pacs.find_studies(StudyQuery(), token)
                elif call == "check":
                    pacs.check(token)
                else:
                    pacs.retrieve("1.2.3.4", LocalCache(tmp_path / "cache"), cancel=token)
            assert time.monotonic() - start < 3, call  # not the 30 s timeout


def test_a_missing_login_is_said_as_such(orthanc: OrthancServer) -> None:
    """The PACS user's finding: a 401 with no user name set said "the server rejected the credentials"."""
    with connect(settings_for(orthanc, "dicomweb", username="", password="")) as pacs, pytest.raises(PacsRefused) as no:
        pacs.find_studies(StudyQuery())
    assert "the server requires a login: set a user name and password for server 'orthanc-web'" in str(no.value)


@pytest.mark.parametrize("protocol", ("dicomweb", "c-get"))
def test_server_crash_mid_retrieve_leaves_a_consistent_cache_and_resume_completes(
    trial: Trial, protocol: str, tmp_path: Path
) -> None:
    require_orthanc()
    server = OrthancServer(tmp_path / "orthanc")
    server.start()
    try:
        server.upload(trial.follow_up.paths)
        cache = LocalCache(tmp_path / "cache")
        study, series_uid = trial.follow_up.study_uid, trial.follow_up.series_uid
        settings = settings_for(server, protocol)
        if protocol == "dicomweb":
            # One instance already here: DICOMweb then fetches instance by instance, so the crash lands between two
            # requests (a whole small series in one response would be in the socket buffers before the crash).
            first = trial.follow_up.paths[0]
            cache.write_instance(study, series_uid, pydicom.dcmread(first).SOPInstanceUID, first.read_bytes())

        def crash_after_two(done: int, total: int, message: str) -> None:
            if message.startswith("series") and done == (3 if protocol == "dicomweb" else 2):
                server.kill()

        with connect(settings) as pacs, pytest.raises(PacsUnreachable) as lost:
            pacs.retrieve(study, cache, progress=crash_after_two)
        message = str(lost.value)
        assert "retrieving again fetches only the rest" in message and "of 6 instances are in the cache" in message
        server.wait_until_stopped()
        folder = cache.series_dir(study, series_uid)
        assert_cache_consistent(folder)
        kept = len(list(folder.glob("*.dcm")))
        assert 2 <= kept < 6

        server.start()
        with connect(settings) as pacs:
            resumed = pacs.retrieve(study, cache)
        assert (resumed.fetched, resumed.already_cached) == (6 - kept, kept)
        assert_cache_consistent(folder)
        np.testing.assert_array_equal(np.asarray(load_series(folder).array), trial.follow_up.hu)
    finally:
        server.stop(graceful=False)


@pytest.mark.parametrize("protocol", ("dicomweb", "c-get"))
def test_cancel_mid_retrieve_then_resume(orthanc: OrthancServer, trial: Trial, protocol: str, tmp_path: Path) -> None:
    cache = LocalCache(tmp_path / "cache")
    token = CancelToken()
    calls = threading.Event()

    def cancel_after_two(done: int, total: int, message: str) -> None:
        if done >= 2:
            calls.set()
            token.cancel()

    with connect(settings_for(orthanc, protocol)) as pacs:
        with pytest.raises(Cancelled):
            pacs.retrieve(trial.other_patient.study_uid, cache, progress=cancel_after_two, cancel=token)
        assert calls.is_set()
        folder = cache.series_dir(trial.other_patient.study_uid, trial.other_patient.series_uid)
        assert_cache_consistent(folder)
        kept = len(list(folder.glob("*.dcm")))
        assert kept == 2  # nothing more is written once the user has cancelled
        # the PACS user's finding: the study retrieved in part opened as a normal timepoint; now it says so
        from workstation.session.worklist import timepoint_from_folder

        study_dir = cache.study_dir(trial.other_patient.study_uid)
        assert cache.incomplete(trial.other_patient.study_uid) == [(trial.other_patient.series_uid, 2, 6)]
        assert timepoint_from_folder(study_dir)[1].incomplete.startswith("incomplete: 2 of 6 images of 1 series were "
                                                                         "retrieved")
        resumed = pacs.retrieve(trial.other_patient.study_uid, cache)
        assert resumed.fetched == 4
        assert timepoint_from_folder(study_dir)[1].incomplete == ""


def test_a_cancel_does_not_wait_for_a_server_that_stopped_answering(trial: Trial, tmp_path: Path) -> None:
    """The PACS helper's finding: with the server paused (SIGSTOP) mid C-GET, Cancel took the DIMSE timeout (~30 s)
    to act. The cancel aborts the association at once; what arrived is kept, complete."""
    import os
    import signal

    require_orthanc()
    server = OrthancServer(tmp_path / "paused")
    server.start()
    try:
        server.upload(trial.follow_up.paths)
        cache = LocalCache(tmp_path / "cache")
        token = CancelToken()

        def pause_then_cancel(done: int, total: int, message: str) -> None:
            if message.startswith("series") and done == 2 and server.process is not None:
                os.kill(server.process.pid, signal.SIGSTOP)
                threading.Timer(0.5, token.cancel).start()

        started = time.monotonic()
        with connect(settings_for(server, "c-get", timeout_s=30)) as pacs, pytest.raises(Cancelled):
            pacs.retrieve(trial.follow_up.study_uid, cache, progress=pause_then_cancel, cancel=token)
        assert time.monotonic() - started < 10  # not the 30 s timeout
        assert_cache_consistent(cache.series_dir(trial.follow_up.study_uid, trial.follow_up.series_uid))
    finally:
        if server.process is not None:
            os.kill(server.process.pid, signal.SIGCONT)
        server.stop(graceful=False)
