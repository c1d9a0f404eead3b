"""blinded_attributes: what a blinded reader may see, and nothing of the patient's identity or dates."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from imaging import discover, load_series
from imaging.deid import blinded_attributes, scrub_text, study_day
from imaging.volume import PatientIdentity
from tests.dicom.ct_writer import write_ct_series

PATIENT = {
    "id": "MRN-884213",
    "name": "Kowalski^Anna^Maria",
    "birth_date": "19571103",
    "accession": "ACC-99817",
    "study_date": "20240226",
    "series_description": "Kowalski CHEST 2024-02-26 MRN-884213",
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_ct_series(tmp_path, n=4, patient=PATIENT)
    return tmp_path


def _assert_nothing_identifying(view: dict[str, object]) -> None:
    text = json.dumps(view)
    for secret in ("884213", "Kowalski", "Anna", "Maria", "1957", "19571103", "99817", "Synthetic Hospital",
                   "20240226", "2024-02-26", "1.2.826"):  # fmt: skip
        assert secret not in text, f"{secret!r} leaked into the blinded view: {text}"


def test_volume_view_has_pseudonym_day_and_geometry_only(folder: Path) -> None:
    volume = load_series(folder)
    view = blinded_attributes(volume, "SUBJ-007", date(2024, 1, 15))
    _assert_nothing_identifying(view)
    assert view["subject"] == "SUBJ-007"
    assert view["days_from_baseline"] == 42
    assert view["study_day"] == 43
    assert view["modality"] == "CT"
    assert view["slices"] == 4 and view["rows"] == 32 and view["columns"] == 40
    assert view["spacing_mm"] == [2.5, 0.7, 0.8]
    assert view["series_description"].startswith("[removed] CHEST [date]")


def test_record_view_matches_volume_view(folder: Path) -> None:
    record = discover(folder)[0]
    from_record = blinded_attributes(record, "SUBJ-007", "20240115")
    from_volume = blinded_attributes(load_series(record), "SUBJ-007", "2024-01-15")
    _assert_nothing_identifying(from_record)
    assert from_record == from_volume


def test_baseline_itself_is_day_zero_and_day_one() -> None:
    assert study_day(date(2024, 1, 15), date(2024, 1, 15)) == 1
    assert study_day(date(2024, 1, 14), date(2024, 1, 15)) == -1


def test_bad_inputs_are_refused(folder: Path) -> None:
    volume = load_series(folder)
    with pytest.raises(ValueError, match="pseudonym"):
        blinded_attributes(volume, " ", date(2024, 1, 1))
    with pytest.raises(ValueError, match="baseline date"):
        blinded_attributes(volume, "S1", "last tuesday")


def test_scrub_keeps_ordinary_words() -> None:
    patient = PatientIdentity(patient_id="LI", patient_name="Li^Wei")
    assert scrub_text("LIVER arterial phase 12/03/2023", patient) == "LIVER arterial phase [date]"


SAMPLE = Path(__file__).resolve().parents[2] / "sample_dicom"


@pytest.mark.skipif(not (SAMPLE / "trial.json").exists(), reason="the sample trial is not generated in this checkout")
def test_sample_trial_identities_never_reach_the_blinded_view() -> None:
    trial = json.loads((SAMPLE / "trial.json").read_text())
    subject = trial["subjects"][0]
    found = [r for r in discover(SAMPLE / subject["folder"])]
    assert len(found) >= 4
    baseline = min(r.study_date for r in found if r.study_date is not None)
    days = []
    for record in found:
        view = blinded_attributes(record, subject["subject_id"], baseline)
        text = json.dumps(view).upper()
        identity = record.patient
        for secret in (identity.patient_id, identity.accession_number, identity.birth_date, record.study_uid,
                       *identity.patient_name.split("^")):  # fmt: skip
            assert not secret or secret.upper() not in text
        assert str(record.study_date).replace("-", "") not in text
        days.append(view["days_from_baseline"])
    assert sorted(days)[0] == 0 and len(set(days)) == len(days)  # one scan per day, baseline on day 0
