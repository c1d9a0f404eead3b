"""A study with several series (thin and thick CT, the SEG and SR a reader sent back to PACS): the worklist reads the
CT series with the most images, the reader may choose another, and a study retrieved twice is listed once."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

from workstation.read_model import LesionAssessment, LesionStatus, Measurement, Read, TimepointRead
from workstation.session.persistence import JsonReadStore
from workstation.session.reading import ReadingSession, SessionError
from workstation.session.series_choice import choice_note
from workstation.session.worklist import (
    DicomFolderSource,
    SubjectEntry,
    TimepointEntry,
    WorklistError,
    add_study,
    reconcile_timepoints,
    study_id_of,
    timepoint_from_folder,
    use_recorded_series,
)

SAMPLE = Path(__file__).resolve().parents[2] / "sample_dicom" / "SUBJ-002" / "T0-baseline"
pytestmark = pytest.mark.skipif(not SAMPLE.is_dir(), reason="sample_dicom/ is not generated")


def _copy_as(files: list[Path], folder: Path, description: str, modality: str = "CT") -> str:
    """``files`` as another series of the same study (new series and instance UIDs), e.g. a thick reformat."""
    series_uid = generate_uid()
    for n, f in enumerate(files):
        ds = pydicom.dcmread(f)
        ds.SeriesInstanceUID, ds.SeriesDescription, ds.Modality = series_uid, description, modality
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.SeriesNumber = 900 + len(description)
        ds.save_as(folder / f"{description.replace(' ', '_')}_{n:03d}.dcm", enforce_file_format=True)
    return series_uid


@pytest.fixture
def study(tmp_path: Path) -> tuple[Path, str, str, str]:
    """SUBJ-002's baseline (37 slices) beside a thick series of every other slice and a 'SEG' of three frames."""
    folder = tmp_path / "study"
    shutil.copytree(SAMPLE, folder)
    files = sorted(folder.glob("*.dcm"))
    thin = str(pydicom.dcmread(files[0], stop_before_pixels=True).SeriesInstanceUID)
    thick = _copy_as(files[::2], folder, "thick 5 mm")
    seg = _copy_as(files[:3], folder, "Lesion masks", modality="SEG")
    return folder, thin, thick, seg


def test_the_ct_series_with_the_most_images_is_read_never_a_seg(study: tuple[Path, str, str, str]) -> None:
    folder, thin, thick, seg = study
    _, entry = timepoint_from_folder(folder)
    source = entry.source
    assert isinstance(source, DicomFolderSource)
    volume = source.load()
    assert volume.info.series_uid == thin == source.series_uid and volume.shape[0] == 37
    assert [o.series_uid for o in source.options] == [thin, thick]  # the SEG is no series to read
    assert seg not in {o.series_uid for o in source.options}
    note = choice_note(source.options, thin)
    assert note is not None and note.startswith("2 image series in this study; reading") and "(37 images)" in note
    other = DicomFolderSource(folder, thick)  # the reader's choice, or the one the read was measured on
    assert other.load().shape[0] == 19


def test_a_timepoint_opens_on_the_series_its_read_was_measured_on(study: tuple[Path, str, str, str]) -> None:
    folder, _thin, thick, _seg = study
    source = DicomFolderSource(folder)
    use_recorded_series(source, TimepointRead("baseline", date(2024, 1, 1), series_uid=thick))
    assert source.load().info.series_uid == thick


def test_a_folder_of_derived_objects_only_is_refused_by_name(tmp_path: Path) -> None:
    folder = tmp_path / "seg-only"
    folder.mkdir()
    _copy_as(sorted(SAMPLE.glob("*.dcm"))[:2], folder, "Lesion masks", modality="SEG")
    with pytest.raises(WorklistError, match="no image series to read here"):
        DicomFolderSource(folder).load()


def test_a_study_retrieved_twice_is_listed_once(study: tuple[Path, str, str, str]) -> None:
    folder = study[0]
    subjects: list[SubjectEntry] = []
    subject_id, entry = timepoint_from_folder(folder)
    assert add_study(subjects, subject_id, entry) is None
    again = timepoint_from_folder(folder)[1]
    refused = add_study(subjects, subject_id, again)
    assert refused is not None and "is already in the worklist" in refused
    assert len(subjects) == 1 and len(subjects[0].timepoints) == 1
    same_day = TimepointEntry(entry.label, entry.date, DicomFolderSource(folder.parent / "elsewhere"))
    assert add_study(subjects, subject_id, same_day) is not None  # a read tells timepoints apart by label and date
    later = TimepointEntry("week 6", date(2099, 1, 1), DicomFolderSource(folder.parent / "later"))
    assert add_study(subjects, subject_id, later) is None
    assert [t.label for t in subjects[0].timepoints] == [entry.label, "week 6"]


def test_a_read_damaged_by_a_study_listed_twice_is_mended_when_opened() -> None:
    """Before the fix, a study retrieved twice made a new read hold its timepoint twice (8 columns for 4 studies)."""
    when = date(2024, 1, 1)
    subject = SubjectEntry("S1", [TimepointEntry("baseline", when, DicomFolderSource(Path("/x")))])
    read = Read("S1", "site1", timepoints=[TimepointRead("baseline", when), TimepointRead("baseline", when)])
    read.timepoints[1].assessments["T1"] = LesionAssessment(LesionStatus.MEASURED, [Measurement(30.0)])
    mended = reconcile_timepoints(read, subject)
    assert len(mended.timepoints) == 1 and "T1" in mended.timepoints[0].assessments  # the copy with the data stays
    read.timepoints.append(TimepointRead("baseline", when, assessments=dict(read.timepoints[0].assessments)))
    with pytest.raises(WorklistError, match=r"holds timepoint baseline .* twice, both with measurements"):
        reconcile_timepoints(read, subject)


def test_another_series_only_for_a_timepoint_without_measurements(tmp_path: Path) -> None:
    read = Read("S1", "site1", timepoints=[TimepointRead("baseline", date(2024, 1, 1), "1.2", "1.2.3")])
    session = ReadingSession(read, JsonReadStore(tmp_path))
    session.forget_images(0)
    assert (read.timepoints[0].study_uid, read.timepoints[0].series_uid) == ("", "")
    read.timepoints[0].assessments["T1"] = LesionAssessment(LesionStatus.MEASURED, [Measurement(30.0)])
    with pytest.raises(SessionError, match="baseline has measurements on its series \\(T1\\)"):
        session.forget_images(0)


def test_a_retrieved_study_exports_under_the_protocol_id_its_images_carry(study: tuple[Path, str, str, str]) -> None:
    """The PACS helper's finding: a study retrieved from PACS (no trial.json) exported its SR and SDTM under the
    default STUDYID while its CT and the SEG carried the trial's protocol id."""
    subject_id, entry = timepoint_from_folder(study[0])
    assert entry.protocol_id == "TIL-PEMBRO-GC-01"
    subject = SubjectEntry(subject_id, [entry])
    assert study_id_of(subject, "RECIST-TRIAL") == ("TIL-PEMBRO-GC-01", "the images' ClinicalTrialProtocolID")
    other = TimepointEntry("week 6", date(2099, 1, 1), DicomFolderSource(Path("/x")), "OTHER-01")
    subject.timepoints.append(other)
    assert study_id_of(subject, "RECIST-TRIAL")[0] == "RECIST-TRIAL"  # two protocols: neither is taken
    subject.protocol_id = "FROM-TRIAL-JSON"
    assert study_id_of(subject, "RECIST-TRIAL") == ("FROM-TRIAL-JSON", "the trial's protocol_id")


def test_the_pacs_cache_opened_as_a_trial_folder_lists_studies_as_timepoints(tmp_path: Path) -> None:
    """It made every study a subject and every series a timepoint."""
    from tests.dicom.ct_writer import write_ct_series
    from workstation.session.worklist import scan_trial

    cache = tmp_path / "cache"
    (cache / ".incoming").mkdir(parents=True)
    for day, n in (("20240110", 4), ("20240301", 3)):
        study = write_ct_series(tmp_path / "w", n=n, patient={"id": "PAT-9", "study_date": day})
        shutil.move(tmp_path / "w", cache / study.study_uid / study.series_uid)
    (subject,) = scan_trial(cache)
    assert subject.subject_id == "PAT-9"
    assert [t.date for t in subject.timepoints] == [date(2024, 1, 10), date(2024, 3, 1)]
    assert subject.timepoints[1].source.load().shape[0] == 3


def test_a_trial_folder_of_numbered_subjects_is_not_taken_for_the_pacs_cache(tmp_path: Path) -> None:
    from workstation.session.worklist import is_pacs_cache

    for subject in ("001", "002"):
        (tmp_path / "trial" / subject / "baseline").mkdir(parents=True)
    assert not is_pacs_cache(tmp_path / "trial")
    (tmp_path / "cache" / "1.2.3" / "1.2.3.4").mkdir(parents=True)
    assert is_pacs_cache(tmp_path / "cache")


def test_images_of_another_patient_are_named_in_the_folder_and_across_timepoints(tmp_path: Path) -> None:
    """The hostile tester's finding: a follow-up folder holding SUBJ-001's and SUBJ-002's slices was read as this
    subject's follow-up ("2 image series in this study"), beside a baseline of another patient, without a word.
    Now the folder's note says two patients, and the loaded timepoints are compared by PatientID (never naming it)."""
    from workstation.session.same_patient import other_patient

    folder = tmp_path / "T3"
    shutil.copytree(SAMPLE, folder)
    other_subject = SAMPLE.parents[1] / "SUBJ-001" / "T0-baseline"
    for n, f in enumerate(sorted(other_subject.glob("*.dcm"))):
        shutil.copy(f, folder / f"other_{n:03d}.dcm")
    _, entry = timepoint_from_folder(folder)
    source = entry.source
    assert isinstance(source, DicomFolderSource)
    source.load()
    note = choice_note(source.options, source.series_uid or "")
    assert note is not None and note.startswith("2 image series of 2 different patients (DICOM Patient IDs) in this")
    baseline = DicomFolderSource(SAMPLE).load()
    stranger = DicomFolderSource(other_subject).load()
    assert baseline.patient.patient_id != stranger.patient.patient_id
    said = other_patient("week 18", stranger, {"baseline": baseline, "week 18": stranger})
    assert said is not None and said.startswith("the images of week 18 belong to another patient than those of "
                                                "baseline")
    assert stranger.patient.patient_id not in said and baseline.patient.patient_id not in said
    assert other_patient("week 6", baseline, {"baseline": baseline, "week 6": baseline}) is None


def test_a_timepoint_folder_without_images_is_named_as_left_out(tmp_path: Path) -> None:
    """The hostile tester's finding: an empty timepoint folder vanished from the worklist without a word."""
    from workstation.session.worklist import scan_trial

    subject = tmp_path / "trial" / "SUBJ-X"
    shutil.copytree(SAMPLE, subject / "T0-baseline")
    (subject / "T2-week12").mkdir()
    (tmp_path / "trial" / "SUBJ-EMPTY" / "T0-baseline").mkdir(parents=True)  # a subject without images
    flat = tmp_path / "trial" / "SUBJ-FLAT"
    flat.mkdir()
    shutil.copy(next(SAMPLE.glob("*.dcm")), flat / "IM0001.dcm")  # files with no timepoint folder
    subjects = scan_trial(tmp_path / "trial")
    (entry,) = subjects
    assert [t.label for t in entry.timepoints] == ["T0-baseline"]
    assert entry.left_out == (f"T2-week12 left out: no DICOM image with a study date in {subject / 'T2-week12'}",)
    # the hostile tester's re-check: such subjects vanished without a word
    assert subjects.left_out == [  # type: ignore[attr-defined]
        f"SUBJ-EMPTY left out: no timepoint folder with DICOM images in {tmp_path / 'trial' / 'SUBJ-EMPTY'}",
        f"SUBJ-FLAT left out: its files are not in timepoint folders (one folder of DICOM per timepoint inside {flat})",
    ]
