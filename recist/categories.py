"""Responses of each lesion category at one follow-up: targets, non-targets, new lesions (RECIST 1.1 sec. 4.3).

The assessments are NamedTuples (immutable, typed): one of each is made per timepoint, so their cost counts.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from typing import NamedTuple

from recist.measure import NODE_NORMAL_BELOW_UM, fmt_mm, fmt_pct, meets_partial_response, meets_progression
from recist.model import Case, LesionDeclaration, LesionObservation, NewLesions, Response, Status, Timepoint


class TargetAssessment(NamedTuple):
    response: Response
    sum_um: int | None  # None when a target was not evaluated
    assessed_sum_um: int  # the sum of the targets that were evaluated
    reason: str


class NonTargetAssessment(NamedTuple):
    response: Response
    reason: str


class NewLesionAssessment(NamedTuple):
    status: NewLesions
    unequivocal: tuple[str, ...]  # ids of the unequivocal new lesions present at this timepoint
    reason: str


def target_sum(tp: Timepoint, target_ids: Sequence[str]) -> tuple[int, list[str]]:
    """(sum of evaluated target diameters, ids not evaluated). Missing from the timepoint = not evaluated."""
    total = 0
    missing: list[str] = []
    observations = tp.observations
    for lesion_id in target_ids:
        obs = observations.get(lesion_id)
        if obs is None or obs.diameter_um is None:
            missing.append(lesion_id)
        else:
            total += obs.diameter_um
    return total, missing


def assess_targets(tp: Timepoint, targets: Sequence[LesionDeclaration], baseline_um: int,
                   nadir_um: int) -> TargetAssessment:
    """RECIST 1.1 sec. 4.3.1 (CR, PR, SD, PD) with sec. 4.3.2 (nodes, too small, split, coalesced) and sec. 4.4.2
    (NE unless the evaluated targets alone already prove PD)."""
    total, missing = target_sum(tp, [t.lesion_id for t in targets])
    s, n, b = fmt_mm(total), fmt_mm(nadir_um), fmt_mm(baseline_um)
    if missing:
        if meets_progression(total, nadir_um):
            return TargetAssessment(
                Response.PD, None, total,
                f"PD: {', '.join(missing)} not evaluated, but the evaluated targets alone sum {s} mm, "
                f"{fmt_pct(total - nadir_um, nadir_um)} and +{fmt_mm(total - nadir_um)} mm over the nadir {n} mm "
                "(>= +20 % and >= +5 mm), which the missing ones can only increase (RECIST 1.1 sec. 4.4.2)")
        return TargetAssessment(
            Response.NE, None, total,
            f"NE: {', '.join(missing)} not evaluated; the evaluated targets ({s} mm) do not prove PD "
            "(RECIST 1.1 sec. 4.4.2)")
    if _complete_response(tp, targets):
        return TargetAssessment(Response.CR, total, total,
                                "CR: every non-nodal target has disappeared and every target node is < 10 mm short "
                                f"axis (sum {s} mm; RECIST 1.1 sec. 4.3.1)")
    if meets_progression(total, nadir_um):
        return TargetAssessment(
            Response.PD, total, total,
            f"PD: sum {s} mm is {fmt_pct(total - nadir_um, nadir_um)} and +{fmt_mm(total - nadir_um)} mm over the "
            f"nadir {n} mm (>= +20 % and >= +5 mm; RECIST 1.1 sec. 4.3.1)")
    if meets_partial_response(total, baseline_um):
        return TargetAssessment(
            Response.PR, total, total,
            f"PR: sum {s} mm is {fmt_pct(total - baseline_um, baseline_um)} from the baseline {b} mm (<= -30 %; "
            "RECIST 1.1 sec. 4.3.1)")
    return TargetAssessment(
        Response.SD, total, total,
        f"SD: sum {s} mm is {fmt_pct(total - baseline_um, baseline_um)} from the baseline {b} mm (not <= -30 %) and "
        f"{_nadir_delta(total, nadir_um)} over the nadir {n} mm (not both >= +20 % and >= +5 mm; "
        "RECIST 1.1 sec. 4.3.1)")


def _nadir_delta(total: int, nadir_um: int) -> str:
    delta = total - nadir_um
    sign = "+" if delta >= 0 else "-"
    return f"{fmt_pct(delta, nadir_um)} / {sign}{fmt_mm(abs(delta))} mm"


def _complete_response(tp: Timepoint, targets: Sequence[LesionDeclaration]) -> bool:
    """RECIST 1.1 sec. 4.3.1: non-nodal targets gone (0 mm; "too small" counts 5 mm, so is not gone), nodes < 10 mm."""
    for t in targets:
        d = tp.observations[t.lesion_id].diameter_um
        assert d is not None
        if (d >= NODE_NORMAL_BELOW_UM) if t.is_node else (d != 0):
            return False
    return True


def assess_non_targets(tp: Timepoint, non_target_ids: Sequence[str]) -> NonTargetAssessment:
    """RECIST 1.1 sec. 4.3.3: CR (all absent; nodes < 10 mm), PD (unequivocal progression), NE, non-CR/non-PD."""
    progressed, not_evaluated, present = [], [], []
    observations = tp.observations
    for lesion_id in non_target_ids:
        obs = observations.get(lesion_id)
        status = Status.NOT_EVALUATED if obs is None else obs.status
        if status in (Status.UNEQUIVOCAL_PROGRESSION, Status.FURTHER_INCREASE):  # the latter: iRECIST's, after PD
            progressed.append(lesion_id)
        elif status is Status.NOT_EVALUATED:
            not_evaluated.append(lesion_id)
        elif status is Status.PRESENT:
            present.append(lesion_id)
    if progressed:
        return NonTargetAssessment(Response.PD, f"PD: unequivocal progression of {', '.join(progressed)} "
                                                "(RECIST 1.1 sec. 4.3.3)")
    if not_evaluated:
        return NonTargetAssessment(Response.NE, f"NE: {', '.join(not_evaluated)} not evaluated (RECIST 1.1 sec. 4.4.2)")
    if present:
        return NonTargetAssessment(Response.NON_CR_NON_PD, f"non-CR/non-PD: {', '.join(present)} still present "
                                                           "(RECIST 1.1 sec. 4.3.3)")
    return NonTargetAssessment(Response.CR, "CR: every non-target lesion has disappeared and every non-target node "
                                            "is < 10 mm short axis (RECIST 1.1 sec. 4.3.3)")


def normal_new_node(obs: LesionObservation | None, is_node: bool) -> bool:
    """A new lymph node measured < 10 mm short axis: normal, not a new lesion (RECIST 1.1 sec. 4.3.2; EORTC RECIST
    working group FAQ "New lymph node lesions": such nodes "should not be recorded")."""
    return is_node and obs is not None and obs.diameter_um is not None and obs.diameter_um < NODE_NORMAL_BELOW_UM


def assess_new_lesions(tp: Timepoint, new_ids: Sequence[str], nodes: Collection[str] = ()) -> NewLesionAssessment:
    """RECIST 1.1 sec. 4.3.5: an unequivocal new lesion is PD; an equivocal one is not, until it is confirmed.
    ``nodes``: the new lesions that are lymph nodes (one measured < 10 mm short axis is normal: `normal_new_node`)."""
    unequivocal, equivocal, normal = [], [], []
    observations = tp.observations
    for lesion_id in new_ids:
        obs = observations.get(lesion_id)
        if obs is None or obs.diameter_um == 0:  # 0 mm: a new lesion that has gone again
            continue
        if normal_new_node(obs, lesion_id in nodes) and obs.status is not Status.NOT_EVALUATED:
            normal.append(lesion_id)
            continue
        if obs.status in (Status.UNEQUIVOCAL, Status.UNEQUIVOCAL_PROGRESSION):
            unequivocal.append(lesion_id)
        elif obs.status is Status.EQUIVOCAL:
            equivocal.append(lesion_id)
    normal_note = (f"; {', '.join(normal)}: lymph node(s) < 10 mm short axis, normal, not new lesions (RECIST 1.1 "
                   "sec. 4.3.2; RECIST working group FAQ 'New lymph node lesions')") if normal else ""
    if unequivocal:
        return NewLesionAssessment(NewLesions.YES, tuple(unequivocal),
                                   f"unequivocal new lesion(s) {', '.join(unequivocal)} (RECIST 1.1 sec. 4.3.5)"
                                   f"{normal_note}")
    if equivocal:
        return NewLesionAssessment(NewLesions.EQUIVOCAL, (),
                                   f"equivocal new lesion(s) {', '.join(equivocal)}: not PD unless confirmed later "
                                   f"(RECIST 1.1 sec. 4.3.5){normal_note}")
    return NewLesionAssessment(NewLesions.NO, (), f"no new lesions{normal_note}")


def new_lesions_unassessed(tp: Timepoint, new_ids: list[str], present: set[str],
                           nodes: Collection[str] = ()) -> list[str]:
    """The new lesions seen before (and not since recorded gone) that ``tp`` leaves out or marks not evaluated: the
    new-lesion category cannot be called resolved without them. Updates ``present`` with what ``tp`` records (a new
    node back under 10 mm short axis is normal again: `normal_new_node`)."""
    observations = tp.observations
    unassessed = sorted(i for i in present if i not in observations or observations[i].status is Status.NOT_EVALUATED)
    for lesion_id in new_ids:
        obs = observations.get(lesion_id)
        if obs is None or obs.status is Status.NOT_EVALUATED:
            continue
        if obs.status is Status.ABSENT or obs.diameter_um == 0 or normal_new_node(obs, lesion_id in nodes):
            present.discard(lesion_id)
        elif obs.status in (Status.UNEQUIVOCAL, Status.EQUIVOCAL, Status.UNEQUIVOCAL_PROGRESSION):
            present.add(lesion_id)
    return unassessed


class ResponseRun:
    """The overall responses in a row among ``codes`` up to the previous assessment (NE passed over), to tell whether
    such a response was definitively assigned there: confirmed, i.e. a run at least ``confirmation_min_days`` long,
    or any when confirmation is not required. ``ResponseRun(CR)`` (iCR under iRECIST): a complete response;
    ``ResponseRun(PR, CR)``: a partial response or better."""

    def __init__(self, *codes: Response) -> None:
        self.codes = codes
        self.since: date | None = None
        self.last: date | None = None

    def definitive(self, confirmation_required: bool, confirmation_min_days: int) -> bool:
        if self.since is None or self.last is None:
            return False
        return not confirmation_required or (self.last - self.since).days >= confirmation_min_days

    def add(self, overall: Response, when: date) -> None:
        if overall in self.codes:
            self.since, self.last = self.since or when, when
        elif overall is not Response.NE:
            self.since = self.last = None


def partial_response_continues(t: TargetAssessment, partial: Response) -> TargetAssessment:
    """After a partial response definitively assigned (confirmed), a target "SD" is a continuing PR: the sum is now
    measured against the nadir, and only the criteria for PD end the response (EORTC RECIST working group: "A
    confirmed PR at a next visit is considered to be a continuing PR unless the criteria for PD are met"; FAQ
    "Managing PR when TP measurements change slightly over time": 100, 70, 70, 80 mm is PR at each visit, also under
    iRECIST). ``partial``: the code to give (PR)."""
    if t.response is not Response.SD:
        return t
    return t._replace(response=partial, reason=(
        f"PR continues: a partial response was confirmed before, and the criteria for PD are not met (EORTC RECIST "
        f"working group, RECIST 1.1 clarification 'Managing PR when TP measurements change slightly'); {t.reason}"))


class Reappeared(NamedTuple):
    """The lesions back after a complete response, by category."""

    targets: list[str]
    non_targets: list[str]

    @property
    def all(self) -> list[str]:
        return [*self.targets, *self.non_targets]


NOTHING_BACK = Reappeared([], [])


def reappeared(
    tp: Timepoint, targets: Sequence[LesionDeclaration], non_targets: Sequence[LesionDeclaration]
) -> Reappeared:
    """The lesions present again at ``tp`` that a complete response had gone: a non-nodal target measured above 0 mm
    (or too small to measure), a target node at 10 mm or more, a non-nodal non-target present, a non-target node that
    progressed unequivocally. After a CR definitively assigned at the previous assessment, any of them is progression
    (EORTC RECIST working group, RECIST 1.1 FAQ "Does a new lesion always result in PD?"). A node under 10 mm is
    benign, so a non-target node seen again is not by itself a lesion back: "a node is only considered to have
    'reappeared' if it is >= 10 mm (Target lesion) or has unequivocally progressed (Non Target lesion)" (RECIST 1.1
    FAQ "Abnormal lymph node"); present, it makes the non-targets non-CR/non-PD (sec. 4.3.2)."""
    back = Reappeared([], [])
    for t in targets:
        obs = tp.observations.get(t.lesion_id)
        d = None if obs is None else obs.diameter_um
        if d is not None and ((d >= NODE_NORMAL_BELOW_UM) if t.is_node else (d > 0)):
            back.targets.append(t.lesion_id)
    for nt in non_targets:
        obs = tp.observations.get(nt.lesion_id)
        back_when = {Status.UNEQUIVOCAL_PROGRESSION} | (set() if nt.is_node else {Status.PRESENT})
        if obs is not None and obs.status in back_when:
            back.non_targets.append(nt.lesion_id)
    return back


def equivocal_since(case: Case, lesion_id: str, index: int) -> int:
    """The first of the timepoints before ``index`` where the new lesion was recorded equivocal without a break
    (``index`` itself when it was not equivocal before): where its progression dates from once it is unequivocal
    (RECIST 1.1 sec. 4.3.5, "the date of the initial scan"). A visit that did not assess it (left out or not
    evaluated) is passed over, as it shows nothing either way; a visit where it was recorded gone (absent, 0 mm), a
    node of normal size (< 10 mm short axis: no lesion there), unequivocal or otherwise breaks the run."""
    is_node = case.lesions[lesion_id].is_node
    since = k = index
    while k > 1:
        k -= 1
        obs = case.timepoints[k].observations.get(lesion_id)
        if obs is None or obs.status is Status.NOT_EVALUATED:
            continue
        # equivocal, and there: not 0 mm (gone) nor a node of normal size (no lesion there)
        if obs.status is Status.EQUIVOCAL and obs.diameter_um != 0 and not normal_new_node(obs, is_node):
            since = k
        else:
            break
    return since


def status_of(tp: Timepoint, lesion_id: str) -> Status | None:
    obs = tp.observations.get(lesion_id)
    return None if obs is None else obs.status
