"""The worklist: subjects and their timepoints, where their images are, and how far each read has got.

A trial folder holds one folder per subject and, inside it, one folder per timepoint (``sample_dicom/`` follows this
layout; see docs/sample-trial.md). Timepoints are ordered by study date. Images are loaded only when a timepoint is
opened, through a `VolumeSource`, so tests and other front ends can hand in volumes made in memory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from imaging.cancel import CancelToken, ProgressCallback
from imaging.volume import Volume
from workstation.read_model import LesionStatus, Read, ResponseSettings, TimepointRead
from workstation.session.series_choice import SeriesOption, scan_options

#: Called from the loading thread with the volume (array allocated, partly decoded) and the first slice ready.
FirstSliceCallback = Callable[[Volume, int], None]


class WorklistError(Exception):
    """A trial folder that cannot be listed; the message names the folder."""


class VolumeSource(Protocol):
    description: str

    def load(
        self,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        on_first_slice: FirstSliceCallback | None = None,
    ) -> Volume: ...


@dataclass
class InMemorySource:
    volume: Volume
    description: str = "in memory"

    def load(
        self,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        on_first_slice: FirstSliceCallback | None = None,
    ) -> Volume:
        if on_first_slice is not None:
            on_first_slice(self.volume, self.volume.shape[0] // 2)
        if progress is not None:
            progress(1, 1, "loaded")
        return self.volume


@dataclass
class DicomFolderSource:
    """A series in a folder, loaded by `imaging` (progressively when its progressive loader is available).

    Without a ``series_uid`` the folder's best series for reading is loaded (`series_choice`: CT with the most images,
    never a SEG or SR), and kept as ``series_uid``; ``options`` lists the series the folder offers once it was
    scanned, for the reader to choose another."""

    path: Path
    series_uid: str | None = None
    description: str = ""
    options: list[SeriesOption] = field(default_factory=list)

    def load(
        self,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        on_first_slice: FirstSliceCallback | None = None,
    ) -> Volume:
        try:
            from imaging.loader import SeriesLoader
        except ImportError as exc:
            raise WorklistError(f"the DICOM loader (imaging.loader) is not available: {exc}") from None
        from imaging.errors import DicomLoadError

        try:
            self.options = scan_options(self.path)
        except (DicomLoadError, OSError) as exc:
            self.options = []
            raise WorklistError(str(exc)) from None
        if not self.options:
            raise WorklistError(f"{self.path}: no image series to read here (only derived objects, e.g. SEG or SR)")
        if self.series_uid is None:
            self.series_uid = self.options[0].series_uid
        chosen = next((o for o in self.options if o.series_uid == self.series_uid), None)
        return _load_progressively(SeriesLoader, self, progress, cancel, on_first_slice, chosen)


def _load_progressively(
    loader_cls: Any,
    source: DicomFolderSource,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    on_first_slice: FirstSliceCallback | None,
    chosen: SeriesOption | None = None,
) -> Volume:
    """`imaging.SeriesLoader`: the array is allocated at once and decoded outward from the middle slice (from the
    folder scan already made when ``chosen`` carries its record)."""
    if chosen is not None and chosen.record is not None:
        loader = loader_cls(chosen.record)
    else:
        loader = loader_cls(source.path, source.series_uid)
    shown = False

    def on_slices(ks: list[int]) -> None:
        nonlocal shown
        if not shown and on_first_slice is not None and ks:
            shown = True
            on_first_slice(loader.volume, int(ks[0]))

    volume: Volume = loader.load(progress=progress, cancel=cancel, on_slices=on_slices)
    return volume


@dataclass
class TimepointEntry:
    label: str
    date: date
    source: VolumeSource
    #: the images' ClinicalTrialProtocolID, when known (a study retrieved from PACS); see `study_id_of`
    protocol_id: str | None = None
    #: a study retrieved from PACS in part (cancelled or interrupted): what is missing, for the reader to see
    incomplete: str = ""


@dataclass
class SubjectEntry:
    subject_id: str
    timepoints: list[TimepointEntry] = field(default_factory=list)
    #: The protocol's response settings its new reads are created with (the defaults when the trial states none).
    settings: ResponseSettings = field(default_factory=ResponseSettings)
    #: The trial's protocol id (``trial.json``'s ``protocol_id``), written as STUDYID and in the SR; None if unstated.
    protocol_id: str | None = None
    #: The subject's start of treatment (``trial.json``'s ``treatment_start``: the TIL infusion), PFS's origin.
    treatment_start: date | None = None
    #: Folders of the subject left out of its timepoints, each with why (for the app to say)
    left_out: tuple[str, ...] = ()


_DICOM_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def _study_date(folder: Path) -> date | None:
    """StudyDate of the first DICOM file found in ``folder`` (headers only)."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["StudyDate"])
        except (InvalidDicomError, OSError, ValueError):
            continue
        m = _DICOM_DATE.match(str(getattr(ds, "StudyDate", "")))
        if m:
            return date(int(m[1]), int(m[2]), int(m[3]))
    return None


_SETTINGS_KEYS = frozenset({"sd_min_days", "confirmation_required"})


def response_settings(index: dict[str, Any]) -> ResponseSettings:
    """``trial.json``'s ``response_settings`` (docs/sample-trial.md); the defaults, marked not stated, when absent.

    Raises `ValueError` for a value the response engine would refuse or a key it does not know (a misspelt key
    would otherwise leave the defaults in force without a word).
    """
    raw = index.get("response_settings")
    if raw is None:
        return ResponseSettings()
    if not isinstance(raw, dict):
        raise ValueError(f"'response_settings' must be an object, got {raw!r}")
    unknown = sorted(set(raw) - _SETTINGS_KEYS)
    if unknown:
        raise ValueError(
            f"'response_settings' has unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_SETTINGS_KEYS))})"
        )
    defaults = ResponseSettings()
    days = raw.get("sd_min_days", defaults.sd_min_days)
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise ValueError(f"'response_settings.sd_min_days' must be a whole number of days >= 0, got {days!r}")
    confirmation = raw.get("confirmation_required", defaults.confirmation_required)
    if not isinstance(confirmation, bool):
        raise ValueError(f"'response_settings.confirmation_required' must be true or false, got {confirmation!r}")
    return ResponseSettings(days, confirmation, stated=True)


def protocol_id(index: dict[str, Any]) -> str | None:
    """``trial.json``'s ``protocol_id`` (written as STUDYID and in the SR); None when it states none.

    Raises `ValueError` for one that is not a non-empty text."""
    value = index.get("protocol_id")
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ValueError(f"'protocol_id' must be a non-empty text, got {value!r}")
    return value.strip() if value is not None else None


def _from_trial_index(root: Path) -> list[SubjectEntry]:
    """The subjects listed in ``trial.json`` (docs/sample-trial.md), with the protocol's response settings."""
    index_path = root / "trial.json"
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
        settings = response_settings(index)
        study = protocol_id(index)
        subjects = []
        for s in index["subjects"]:
            entries = [
                TimepointEntry(
                    str(t["label"]),
                    date.fromisoformat(str(t["date"])),
                    DicomFolderSource(root / t["folder"], t.get("series_uid"), description=str(t["folder"])),
                )
                for t in s["timepoints"]
            ]
            entries.sort(key=lambda e: e.date)
            start = s.get("treatment_start")
            subjects.append(SubjectEntry(str(s["subject_id"]), entries, settings, study,
                                         None if start is None else date.fromisoformat(str(start))))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise WorklistError(f"{index_path} is unreadable: {exc}") from None
    return subjects


class TrialSubjects(list[SubjectEntry]):
    """The subjects of a trial folder, and the subject folders left out, each with why (for the app to say)."""

    def __init__(self) -> None:
        super().__init__()
        self.left_out: list[str] = []


def scan_trial(root: str | Path) -> list[SubjectEntry]:
    """Subjects and their timepoints in date order: from ``trial.json`` when there is one, else from the folders
    (one per subject, holding one sub-folder of DICOM per timepoint)."""
    root = Path(root)
    if not root.is_dir():
        raise WorklistError(f"{root} is not a folder")
    if (root / "trial.json").is_file():
        return _from_trial_index(root)
    if is_pacs_cache(root):
        return _from_pacs_cache(root)
    subjects = TrialSubjects()
    for subject_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        entries: list[TimepointEntry] = []
        left_out: list[str] = []
        for tp_dir in sorted(p for p in subject_dir.iterdir() if p.is_dir()):
            when = _study_date(tp_dir)
            if when is None:
                left_out.append(f"{tp_dir.name} left out: no DICOM image with a study date in {tp_dir}")
                continue
            entries.append(TimepointEntry(tp_dir.name, when, DicomFolderSource(tp_dir, description=str(tp_dir))))
        if entries:
            entries.sort(key=lambda e: (e.date, e.label))
            subjects.append(SubjectEntry(subject_dir.name, entries, left_out=tuple(left_out)))
        elif any(p.is_file() for p in subject_dir.iterdir()):
            subjects.left_out.append(f"{subject_dir.name} left out: its files are not in timepoint folders (one "
                                     f"folder of DICOM per timepoint inside {subject_dir})")
        else:
            subjects.left_out.append(f"{subject_dir.name} left out: no timepoint folder with DICOM images in "
                                     f"{subject_dir}")
    if not subjects:
        raise WorklistError(f"no subject folders with DICOM timepoints under {root}")
    return subjects


def is_pacs_cache(root: Path) -> bool:
    """``root`` is the PACS cache (`imaging.pacs.cache`: study folders named by UID, series folders inside)."""
    from imaging.pacs.cache import INCOMING, is_uid

    folders = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if not folders:
        return False
    if (root / INCOMING).is_dir():
        return True
    # Without the cache's own folder: study and series folders all named by UIDs (which always hold a dot; a trial's
    # subject folders named by number, "001", are not UIDs here)
    def uid_named(p: Path) -> bool:
        return "." in p.name and is_uid(p.name)

    return all(
        uid_named(study) and all(uid_named(s) for s in study.iterdir() if s.is_dir() and not s.name.startswith("."))
        for study in folders
    )


def _from_pacs_cache(root: Path) -> list[SubjectEntry]:
    """The PACS cache opened as a trial folder: each study a timepoint of its subject (as the PACS dialog adds a
    retrieved study), not each study a subject and each series a timepoint."""
    subjects: list[SubjectEntry] = []
    for study in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            subject_id, entry = timepoint_from_folder(study)
        except WorklistError:
            continue  # no image with a study date: nothing to read there
        add_study(subjects, subject_id, entry)
    if not subjects:
        raise WorklistError(f"no study with DICOM images in the PACS cache {root}")
    return subjects


def timepoint_from_folder(folder: Path) -> tuple[str, TimepointEntry]:
    """(subject id, timepoint) for one study folder, e.g. one just retrieved from PACS: the subject is the
    ClinicalTrialSubjectID when the images carry one, else the PatientID."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    when = _study_date(folder)
    if when is None:
        raise WorklistError(f"no DICOM image with a study date in {folder}")
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except (InvalidDicomError, OSError, ValueError):
            continue
        subject = str(getattr(ds, "ClinicalTrialSubjectID", "") or getattr(ds, "PatientID", "") or folder.name)
        label = str(getattr(ds, "ClinicalTrialTimePointID", "") or getattr(ds, "StudyDescription", "") or when)
        protocol = str(getattr(ds, "ClinicalTrialProtocolID", "") or "").strip() or None
        return subject, TimepointEntry(label, when, DicomFolderSource(folder, description=str(folder)), protocol,
                                       incomplete_retrieve(folder))
    raise WorklistError(f"no readable DICOM file in {folder}")


def incomplete_retrieve(folder: Path) -> str:
    """For a study folder of the PACS cache: what a retrieve that did not finish left missing ("" when complete, or
    when the folder is no cache study)."""
    from imaging.pacs.cache import MANIFESTS, LocalCache

    if not (folder.parent / MANIFESTS).is_dir():
        return ""
    missing = LocalCache(folder.parent).incomplete(folder.name)
    if not missing:
        return ""
    have, expected = sum(m[1] for m in missing), sum(m[2] for m in missing)
    return (f"incomplete: {have} of {expected} images of {len(missing)} series were retrieved (the retrieve was "
            "cancelled or interrupted): retrieve the study again (File > Query/retrieve from PACS) before measuring")


def study_id_of(subject: SubjectEntry, default: str) -> tuple[str, str]:
    """STUDYID for an export of ``subject``'s read, and where it came from (to say): the trial's protocol_id
    (trial.json); else the ClinicalTrialProtocolID its images carry, when they all carry the same; else ``default``."""
    if subject.protocol_id:
        return subject.protocol_id, "the trial's protocol_id"
    found = {t.protocol_id for t in subject.timepoints if t.protocol_id}
    if len(found) == 1:
        return found.pop(), "the images' ClinicalTrialProtocolID"
    if found:
        return default, f"the default: the images name {len(found)} protocols ({', '.join(sorted(found))})"
    return default, "the default: the trial states no protocol_id"


def new_read(subject: SubjectEntry, reader: str, criteria: str = "RECIST 1.1") -> Read:
    """An empty read of ``subject`` under the trial's response settings (`SubjectEntry.settings`)."""
    return Read(
        subject_id=subject.subject_id,
        reader=reader,
        criteria=criteria,
        confirmation_required=subject.settings.confirmation_required,
        sd_min_days=subject.settings.sd_min_days,
        timepoints=[TimepointRead(label=t.label, date=t.date) for t in subject.timepoints],
        treatment_start=subject.treatment_start,
    )


def settings_mismatch(read: Read, subject: SubjectEntry) -> str | None:
    """Why a saved read's response settings differ from the trial's, or None. The read is never changed: it was
    made (and perhaps signed) under its own settings; the message is for the reader or data manager to act on."""
    if not subject.settings.stated or not subject.settings.differs_from(read):
        return None
    confirmation = "required" if read.confirmation_required else "not required"
    return (
        f"{read.subject_id}: this read was created with SD >= {read.sd_min_days} days and confirmation {confirmation};"
        f" the trial folder's protocol says {subject.settings.describe()}. The read is left as it is"
    )


def reconcile_timepoints(read: Read, subject: SubjectEntry) -> Read:
    """The saved read with any timepoint the worklist has gained since (a new follow-up study) added in date order.

    Raises `WorklistError` when the read holds a timepoint whose images are not in the worklist: opening it would
    show the wrong images against the measurements.
    """
    _drop_empty_duplicates(read)
    if read.treatment_start is None and read.reader_role != "central":
        read.treatment_start = subject.treatment_start  # stated in trial.json since the read was made
    have = {(tp.label, tp.date) for tp in read.timepoints}
    images = list(dict.fromkeys((t.label, t.date) for t in subject.timepoints))
    missing_images = [f"{label} ({when})" for label, when in have if (label, when) not in images]
    if missing_images:
        raise WorklistError(
            f"{read.subject_id}: the saved read has timepoints whose images are not in this folder: "
            + ", ".join(sorted(missing_images))
        )
    for label, when in images:
        if (label, when) not in have:
            read.timepoints.append(TimepointRead(label=label, date=when))
    order = {key: n for n, key in enumerate(images)}
    read.timepoints.sort(key=lambda tp: order[(tp.label, tp.date)])
    return read


def _drop_empty_duplicates(read: Read) -> None:
    """A timepoint listed twice (a study retrieved twice once made the worklist, and so a new read, hold it twice):
    the copies that hold nothing (no assessment, no signature) go; copies that both hold something are refused."""
    seen: dict[tuple[str, date], TimepointRead] = {}
    kept: list[TimepointRead] = []
    for tp in read.timepoints:
        key = (tp.label, tp.date)
        first = seen.get(key)
        if first is None:
            seen[key] = tp
            kept.append(tp)
            continue
        empty = not tp.assessments and tp.signature is None
        if not empty and (first.assessments or first.signature is not None):
            raise WorklistError(
                f"{read.subject_id}: the saved read holds timepoint {tp.label} ({tp.date}) twice, both with "
                "measurements; ask the data manager to mend the read file"
            )
        if not empty:
            kept[kept.index(first)] = tp
            seen[key] = tp
    read.timepoints[:] = kept


def use_recorded_series(source: VolumeSource, tp: TimepointRead) -> None:
    """Open a timepoint on the series its read was measured on (recorded at its first opening), not the folder's
    default, when the worklist names none."""
    if isinstance(source, DicomFolderSource) and source.series_uid is None and tp.series_uid:
        source.series_uid = tp.series_uid


def add_study(subjects: list[SubjectEntry], subject_id: str, entry: TimepointEntry) -> str | None:
    """Add a study (e.g. just retrieved from PACS) to ``subject_id``'s timepoints in date order, a new subject if
    needed. Returns why it was not added (None when it was): a study already listed (the same folder, or the same
    label and date, which a read tells timepoints apart by) is not listed twice."""
    subject = next((s for s in subjects if s.subject_id == subject_id), None)
    if subject is not None:
        for tp in subject.timepoints:
            same_folder = (
                isinstance(tp.source, DicomFolderSource)
                and isinstance(entry.source, DicomFolderSource)
                and tp.source.path.resolve() == entry.source.path.resolve()
            )
            if same_folder or (tp.label, tp.date) == (entry.label, entry.date):
                return f"{subject_id}: the study of {entry.date} ({tp.label}) is already in the worklist"
    if subject is None:
        subject = SubjectEntry(subject_id, [])
        subjects.append(subject)
    subject.timepoints.append(entry)
    subject.timepoints.sort(key=lambda e: (e.date, e.label))
    return None


def timepoint_status(read: Read | None, tp_index: int, locked: bool = False) -> str:
    """'not started', 'in progress', 'complete' (every lesion assessed) or 'signed', for the worklist; 'locked' for a
    timepoint not signed of a subject ``locked`` for analysis (nothing more is read or signed there until unlocked)."""
    status = _timepoint_status(read, tp_index)
    return "locked" if locked and status != "signed" else status


def _timepoint_status(read: Read | None, tp_index: int) -> str:
    if read is None or tp_index >= len(read.timepoints):
        return "not started"
    tp = read.timepoints[tp_index]
    if tp.signed:
        return "signed"
    expected = [lid for lid, les in read.lesions.items() if les.first_timepoint <= tp_index]
    pending = [
        lid for lid in expected if lid not in tp.assessments or tp.assessments[lid].status is LesionStatus.NOT_EVALUATED
    ]
    if not tp.assessments and not any(les.first_timepoint == tp_index for les in read.lesions.values()):
        return "not started"
    return "in progress" if pending or not expected else "complete"
