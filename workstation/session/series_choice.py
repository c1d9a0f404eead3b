"""Which series of a study folder to read: a study fetched from PACS (or a timepoint folder) often holds several
(thin and thick CT, a localiser, and the SR and SEG a reader sent back). The CT image series with the most images is
read by default; the reader may choose another (the read records the series it was measured on).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Series that are not images to measure on: derived objects (segmentations, reports, presentation states, ...).
NOT_FOR_READING = frozenset({"SEG", "SR", "PR", "KO", "REG", "RTSTRUCT", "RTPLAN", "RTDOSE", "RTRECORD", "DOC"})


@dataclass(frozen=True)
class SeriesOption:
    """One series a timepoint may be read on."""

    series_uid: str
    label: str  # number, description, modality, frames (imaging's `SeriesRecord.label`)
    modality: str
    frames: int
    record: Any = None  # the `imaging.discovery.SeriesRecord` (files and headers), to load it without a new scan


def reading_options(records: list[Any]) -> list[SeriesOption]:
    """The series of ``records`` (`SeriesRecord`s) that can be read, best first: CT before other image series, then
    the most images (a localiser or a thick reformat has fewer); derived objects (SEG, SR, ...) are left out."""
    options = [
        SeriesOption(r.series_uid, r.label(), r.modality, r.frame_count, r)
        for r in records
        if r.modality.upper() not in NOT_FOR_READING and r.frame_count > 0
    ]
    return sorted(options, key=lambda o: (o.modality.upper() != "CT", -o.frames, o.label))


def scan_options(folder: Path) -> list[SeriesOption]:
    """`reading_options` of the series under ``folder`` (headers only)."""
    from imaging.discovery import discover

    return reading_options(list(discover(folder)))


def choice_note(options: list[SeriesOption], chosen: str) -> str | None:
    """What to tell the reader when the series was chosen among several (None when there was no choice)."""
    if len(options) < 2:
        return None
    picked = next((o for o in options if o.series_uid == chosen), None)
    if picked is None:
        return None
    from workstation.session.same_patient import patients_in_folder

    patients = patients_in_folder(o.record for o in options if o.record is not None)
    if patients > 1:
        return (
            f"{len(options)} image series of {patients} different patients (DICOM Patient IDs) in this folder; "
            f"reading {picked.label.split(' (')[0]} ({picked.frames} images): check the folder holds only this "
            "subject's images, and File > Choose the series of this timepoint... to read another"
        )
    return (
        f"{len(options)} image series in this study; reading {picked.label.split(' (')[0]} ({picked.frames} images): "
        "File > Choose the series of this timepoint... to read another"
    )
