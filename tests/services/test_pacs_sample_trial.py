"""The sample trial through a real Orthanc: upload one subject (RLE-compressed CT, four timepoints), find its studies,
retrieve them with each protocol, and load every series exactly as it loads from the generated folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from imaging import load_series
from imaging.pacs import LocalCache, StudyQuery, connect
from imaging.synthetic import generate_trial
from tests.services.orthanc_server import OrthancServer, orthanc_missing_reason
from tests.services.test_pacs_orthanc import PROTOCOLS, settings_for

pytestmark = [
    pytest.mark.skipif(orthanc_missing_reason() is not None, reason=orthanc_missing_reason() or ""),
    pytest.mark.slow,
]


def test_sample_subject_round_trip(tmp_path: Path) -> None:
    generate_trial(tmp_path / "trial", small=True, subjects=("SUBJ-001",))
    timepoints = sorted(p for p in (tmp_path / "trial" / "SUBJ-001").iterdir() if p.is_dir())
    assert len(timepoints) >= 2
    first = pydicom.dcmread(next(timepoints[0].glob("*.dcm")), stop_before_pixels=True)
    with OrthancServer(tmp_path / "orthanc") as server:
        server.upload(sorted(p for t in timepoints for p in t.glob("*.dcm")))
        cache = LocalCache(tmp_path / "cache")
        with connect(settings_for(server, "dicomweb")) as pacs:
            studies = pacs.find_studies(StudyQuery(patient_id=str(first.PatientID), modality="CT"))
        assert len(studies) == len(timepoints)
        by_date = sorted(studies, key=lambda s: s.study_date or 0)
        for n, (study, folder) in enumerate(zip(by_date, timepoints, strict=True)):
            with connect(settings_for(server, PROTOCOLS[n % len(PROTOCOLS)])) as pacs:
                result = pacs.retrieve(study.study_uid, cache)
            original = load_series(folder)
            retrieved = load_series(result.series_folders[0])
            assert retrieved.info.series_uid == original.info.series_uid
            np.testing.assert_array_equal(np.asarray(retrieved.array), np.asarray(original.array))
            assert retrieved.spacing == original.spacing
            np.testing.assert_allclose(retrieved.origin, original.origin)
