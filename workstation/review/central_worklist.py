"""A central reader's worklist for the workstation: their assigned subjects, blinded, with images found by series UID.

Each subject is a `SubjectEntry` whose id is the pseudonym and whose timepoints carry the blinded labels and calendar
of the reader's own central read (so the reading session opens that read as it is stored). The images come from the
reading centre's image folder: the review service gives each timepoint's series UID (never shown) and
`locate_series` finds the folder that holds it. `TextBlinder` scrubs every message before the reader sees it (a
loader warning may name a file path, a date or a UID of the source).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from imaging.cancel import CancelToken, ProgressCallback
from imaging.deid import scrub_text
from imaging.volume import PatientIdentity, Volume
from workstation.review.blinding import BlindedTimepoint, blinded_date, study_days_in_text
from workstation.review.service import open_blinded_case, source_series, worklist
from workstation.session.worklist import (
    DicomFolderSource,
    FirstSliceCallback,
    SubjectEntry,
    TimepointEntry,
    VolumeSource,
    WorklistError,
    scan_trial,
)
from workstation.storage import Database
from workstation.users import User

_UID = re.compile(r"\b\d+(?:\.\d+){3,}\b")
_DICOM_DATE = re.compile(r"\b(?:19|20)\d{6}\b")
#: a moment of the real calendar (a save's time, "2026-11-27T23:33:30Z"): not a study day, and it dates the subject
_TIMESTAMP = re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?")


@dataclass
class MissingImages:
    """A timepoint whose series is not in the image folder: opening it says so (blinded), nothing else fails."""

    what: str
    description: str = "missing images"

    def load(
        self,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        on_first_slice: FirstSliceCallback | None = None,
    ) -> Volume:
        raise WorklistError(f"the images of {self.what} are not in the reading centre's image folder")


def locate_series(
    image_root: Path, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
) -> dict[str, Path]:
    """Series UID -> the folder holding it, under a trial folder (``trial.json``'s UIDs, else the DICOM headers:
    every file's, which takes minutes for a large image store, so the workstation runs this off the GUI thread)."""
    from imaging.discovery import discover
    from imaging.errors import DicomLoadError

    sources = [
        tp.source
        for subject in scan_trial(image_root)
        for tp in subject.timepoints
        if isinstance(tp.source, DicomFolderSource)
    ]
    found: dict[str, Path] = {}
    for done, source in enumerate(sources):
        if cancel is not None:
            cancel.raise_if_cancelled()
        if progress is not None:
            progress(done, len(sources), "finding the images")
        if source.series_uid:
            found[source.series_uid] = source.path
            continue
        try:
            records = discover(source.path, cancel=cancel)
        except DicomLoadError:
            continue
        for record in records:
            found.setdefault(record.series_uid, source.path)
    if progress is not None:
        progress(len(sources), len(sources), "finding the images")
    return found


@dataclass
class TextBlinder:
    """Removes from a message what a blinded reader must not see: the source's folders, dates, UIDs and, once a
    volume is loaded, its patient's identity (`imaging.deid.scrub_text`)."""

    folders: list[str] = field(default_factory=list)
    patients: list[PatientIdentity] = field(default_factory=list)

    def learn(self, volume: Volume) -> None:
        if volume.patient not in self.patients:
            self.patients.append(volume.patient)

    def __call__(self, text: str) -> str:
        out = text
        for folder in sorted(self.folders, key=len, reverse=True):
            out = out.replace(folder, "[images]")
        out = _UID.sub("[uid]", out)
        out = _TIMESTAMP.sub("[time]", out)
        out = study_days_in_text(out)  # the blinded calendar's dates become "day N"
        out = _DICOM_DATE.sub("[date]", out)
        for patient in self.patients:
            out = scrub_text(out, patient)
        return out


@dataclass
class CentralWorklist:
    subjects: list[SubjectEntry]
    blinder: TextBlinder


def central_worklist(
    db: Database, reader: User, image_root: Path, located: dict[str, Path] | None = None
) -> CentralWorklist:
    """The subjects assigned to ``reader`` (pseudonyms, generic labels, blinded calendar) with their images
    (``located``: `locate_series` of ``image_root``, found here when not given)."""
    if located is None:
        located = locate_series(image_root) if image_root.is_dir() else {}
    subjects = []
    for item in worklist(db, reader):
        case = open_blinded_case(db, item.pseudonym, reader)
        subjects.append(blinded_subject(db, item.pseudonym, case.timepoints, reader, located))
    return CentralWorklist(subjects, image_blinder(image_root, located))


def image_blinder(image_root: Path, located: dict[str, Path]) -> TextBlinder:
    """A blinder that also hides the image store's folders (a subject's folder is usually named by its site id)."""
    blinder = TextBlinder(folders=[str(image_root.resolve()), str(image_root)])
    for folder in set(located.values()):
        blinder.folders += [str(folder), str(folder.resolve())]
        try:
            relative = folder.resolve().relative_to(image_root.resolve())
        except ValueError:
            continue
        if relative.parts:
            blinder.folders.append(relative.parts[0])
    return blinder


def blinded_subject(
    db: Database, pseudonym: str, timepoints: list[BlindedTimepoint], user: User, located: dict[str, Path]
) -> SubjectEntry:
    """One subject for the workstation under its pseudonym: generic labels, the blinded calendar, and each
    timepoint's images found by series UID (`MissingImages` where the image store lacks them)."""
    entries = []
    for tp in timepoints:
        _, series_uid = source_series(db, pseudonym, tp.position, user)
        what = f"{pseudonym} {tp.label}"
        images = located.get(series_uid)
        source: VolumeSource = (
            DicomFolderSource(images, series_uid, description=what) if images is not None else MissingImages(what)
        )
        entries.append(TimepointEntry(tp.label, blinded_date(tp.study_day), source))
    return SubjectEntry(pseudonym, entries)
