"""What a blinded central reader may see of a subject: a pseudonym, study days and generic timepoint labels.

A central read is kept in the same `Read` model as a site read, but its subject id is the pseudonym, its timepoint
labels are generic ("Baseline", "Follow-up 1", ...), its dates lie on a blinded calendar whose day 1 (the baseline,
CDISC study-day convention, as `imaging.deid.study_day`) is `STUDY_DAY_ONE` (so that
the response engine's intervals -- confirmation after 28 days, minimum SD duration -- stay exact), and its timepoints
carry no study or series UID of the source: the review keeps those (``review_timepoints``, given to the workstation
by `service.source_series` only to load the images), and the workstation does not copy them into a central read
(`ReadingSession.note_images`).

Its measurements do keep the image each was drawn on (series, SOP instance and frame of reference UIDs, as a site
read's): the end points are coordinates in that frame, the DICOM SR of the accepted read references that slice, and
the workstation finds a lesion's mask on its series by it. None is derived from anything else, so dropping them
would lose them for good. They are references for the export, never for display: the reader's window shows no UID
(every message passes `central_worklist.TextBlinder`; tests/gui/test_central_review.py searches every widget for the
SOP instance and frame of reference UIDs as well as the study/series UIDs and identity).

`unblind_read` maps a central read back to the subject's real id and dates and puts back each timepoint's source study
and series from the review, for the data manager's export. Patient identity in the DICOM headers is removed from what
the reader sees by the imaging layer's de-identification (``imaging.deid``).
"""

from __future__ import annotations

import copy
import re
import secrets
from dataclasses import dataclass
from datetime import date, timedelta

from imaging.deid import study_day as deid_study_day
from workstation.read_model import Read, ResponseSettings, TimepointRead

#: The baseline's date on every blinded calendar (study day 1). Readers are shown "day N", never this calendar.
STUDY_DAY_ONE = date(2000, 1, 1)
_PSEUDONYM_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


PSEUDONYM_PREFIX = "BICR-"


def new_pseudonym() -> str:
    """A random pseudonym (not derived from the subject id, so it cannot be reversed by trying ids)."""
    return PSEUDONYM_PREFIX + "".join(secrets.choice(_PSEUDONYM_ALPHABET) for _ in range(8))


def looks_like_pseudonym(text: str) -> bool:
    """Whether ``text`` has the form of a central-review pseudonym (by its form only: no database is asked)."""
    return text.strip().upper().startswith(PSEUDONYM_PREFIX)


def blinded_label(position: int) -> str:
    return "Baseline" if position == 0 else f"Follow-up {position}"


def study_day(baseline: date, when: date) -> int:
    """CDISC study day (day 1 = baseline, no day 0): the same numbers the blinded image headers show."""
    return deid_study_day(when, baseline)


def blinded_date(day: int) -> date:
    return STUDY_DAY_ONE + timedelta(days=day - 1 if day > 0 else day)


@dataclass(frozen=True)
class BlindedTimepoint:
    position: int
    label: str
    study_day: int


def blinded_timepoints(study_days: list[int]) -> list[BlindedTimepoint]:
    return [BlindedTimepoint(i, blinded_label(i), day) for i, day in enumerate(study_days)]


def new_blinded_read(
    pseudonym: str, reader: str, study_days: list[int], criteria: str, settings: ResponseSettings | None = None
) -> Read:
    """An empty central read: the timepoints to read, on the blinded calendar, under the protocol's response
    settings (the defaults when ``settings`` is None), and nothing else."""
    settings = settings or ResponseSettings()
    read = Read(
        subject_id=pseudonym,
        reader=reader,
        criteria=criteria,
        reader_role="central",
        confirmation_required=settings.confirmation_required,
        sd_min_days=settings.sd_min_days,
    )
    read.timepoints = [TimepointRead(tp.label, blinded_date(tp.study_day)) for tp in blinded_timepoints(study_days)]
    return read


def unblind_read(
    read: Read, subject_id: str, baseline: date, sources: list[tuple[str, str]], treatment_start: date | None = None
) -> Read:
    """The accepted central read with the subject's real id, dates and source study/series UIDs (for export), and the
    subject's treatment start (PFS's origin), which a blinded read never carries."""
    out = copy.deepcopy(read)
    out.subject_id = subject_id
    out.treatment_start = treatment_start
    for tp, (study_uid, series_uid) in zip(out.timepoints, sources, strict=True):
        tp.date = baseline + (tp.date - STUDY_DAY_ONE)
        tp.study_uid, tp.series_uid = study_uid, series_uid
    return out


_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


def study_days_in_text(text: str) -> str:
    """Replace the blinded calendar's dates in a message (e.g. an engine's reason) by "day N", as readers see them."""

    def to_day(match: re.Match[str]) -> str:
        try:
            when = date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            return match[0]
        return f"day {study_day(STUDY_DAY_ONE, when)}"

    return _ISO_DATE.sub(to_day, text)
