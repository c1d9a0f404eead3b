"""Which read speaks for each subject in the report, and the per-subject numbers the plots need."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from workstation.read_model import Read

_RESPONDERS = {"CR", "PR", "iCR", "iPR"}
#: Report precedence of readers for the same subject and criteria: the adjudicated read settles a central review.
_ROLE_RANK = {"adjudicator": 0, "central": 1, "site": 2}


@dataclass(frozen=True)
class TimepointPoint:
    label: str
    day: int
    sum_mm: float | None
    change_from_baseline_pct: float | None
    overall_response: str | None


@dataclass(frozen=True)
class SubjectResult:
    """One subject's course for the plots: days from baseline, changes in the sum, responses."""

    subject_id: str
    reader: str
    criteria: str
    best_overall_response: str
    points: tuple[TimepointPoint, ...]
    first_response_day: int | None
    progression_day: int | None
    #: the last scan, evaluable or not (the swimmer plot's end)
    last_day: int
    results: Mapping[str, Any]
    #: the last scan evaluable for response: where PFS and DoR are censored without an event
    last_evaluable_day: int | None = None
    death_day: int | None = None

    @property
    def best_change_pct(self) -> float | None:
        """The best (most negative) change of the sum from baseline over the follow-up up to progression (waterfall
        plot): a sum that shrinks after progression (under iRECIST: after the confirmed one) is no response to draw."""
        last = self.progression_day
        changes = [
            p.change_from_baseline_pct
            for p in self.points[1:]
            if p.change_from_baseline_pct is not None and (last is None or p.day <= last)
        ]
        return min(changes) if changes else None

    @property
    def unconfirmed_iupd_days(self) -> list[int]:
        """iRECIST: the days of the iUPDs never confirmed, those before the confirmed progression (the iUPDs from it to
        its iCPD are the confirmed episode: iRECIST, Seymour 2017), or all when none was confirmed."""
        last = self.progression_day
        return [p.day for p in self.points if p.overall_response == "iUPD" and (last is None or p.day < last)]

    @property
    def responder(self) -> bool:
        return self.best_overall_response in _RESPONDERS


def select_reads(reads: Sequence[Read]) -> list[Read]:
    """One read per subject and criteria: the adjudicator's, else the first central reader's, else the site's."""
    best: dict[tuple[str, str], Read] = {}
    for r in reads:
        key = (r.subject_id, r.criteria)
        rank = (_ROLE_RANK.get(r.reader_role, 3), r.reader, r.read_id)
        current = best.get(key)
        if current is None or rank < (_ROLE_RANK.get(current.reader_role, 3), current.reader, current.read_id):
            best[key] = r
    return [best[k] for k in sorted(best)]


def _day(value: Any, baseline: date) -> int:
    return (date.fromisoformat(str(value)) - baseline).days


def subject_result(read: Read, results: Mapping[str, Any]) -> SubjectResult:
    tps = list(results.get("timepoints", []))
    dates = {tp.label: tp.date for tp in read.timepoints}
    baseline = date.fromisoformat(str(results.get("baseline_date") or tps[0].get("date") or dates[tps[0]["label"]]))
    points = tuple(
        TimepointPoint(
            label=str(t["label"]),
            day=_day(t.get("date") or dates[str(t["label"])], baseline),
            sum_mm=t.get("sum_mm"),
            change_from_baseline_pct=t.get("change_from_baseline_pct"),
            overall_response=t.get("overall_response"),
        )
        for t in tps
    )
    # The engine's dates: the first response that counts for the best response, and progression (under iRECIST the
    # confirmed one), so a response after progression (pseudo-progression under RECIST 1.1) is not drawn as one.
    first = results.get("date_of_first_response")
    first_response = None if first is None else _day(first, baseline)
    progression = results.get("date_of_progression")
    return SubjectResult(
        subject_id=read.subject_id,
        reader=read.reader,
        criteria=read.criteria,
        best_overall_response=str(results.get("best_overall_response")),
        points=points,
        first_response_day=first_response,
        progression_day=None if progression is None else _day(progression, baseline),
        last_day=max((p.day for p in points), default=0),
        results=results,
        last_evaluable_day=_optional_day(results.get("last_assessment_date"), baseline),
        death_day=_optional_day(results.get("death_date"), baseline),
    )


def _optional_day(value: Any, baseline: date) -> int | None:
    return None if value is None else _day(value, baseline)
