"""iRECIST (Seymour L et al., Lancet Oncol 2017;18:e143-52): unconfirmed (iUPD) and confirmed (iCPD) progression.

Before any iUPD, and after a reset, a timepoint is assessed by RECIST 1.1 and given the i-code (iCR, iPR, iSD,
non-iCR/non-iUPD, NE); RECIST 1.1 progression in any category (targets, non-targets, new lesions) is iUPD. At the next
assessment, iUPD becomes iCPD when (Seymour 2017, Table 2 and "Confirming progression"):
- a category that was in iUPD increased further: target sum +5 mm over its value at iUPD; a non-target recorded as
  increased further since the last assessment (status ``further_increase``), or another non-target newly in
  unequivocal progression (a non-target recorded in unequivocal progression again is progression that stands, "no
  change since the last assessment": iUPD remains; iRECIST FAQ "If iUPD is driven by non-target disease, how is
  progression confirmed at the next assessment?"); new-lesion-target sum +5 mm, a new non-target lesion that
  progressed, or another new lesion; or
- RECIST 1.1 progression is newly met in a category that was not in iUPD.
If instead no category meets RECIST 1.1 progression (new lesions gone too), the response is iSD/iPR/iCR again and
the bar is reset: a later iUPD needs its own confirmation. Otherwise iUPD remains (NE leaves it pending).

Confirmation is at a scan 4-8 weeks after the iUPD (Seymour 2017, "Confirming progression"): a scan sooner than 4 weeks
(less the recommended 2 days' variance) does not confirm it (EORTC RECIST working group, iRECIST FAQ "Can imaging be
used to confirm progression, even when done less than four weeks after the scans that showed iUPD": such scans
"should not be used to define iCPD"); iUPD remains, to be confirmed at the next scan. Nor does such a scan reset the
iUPD when it shows no progression: scans done less than 4 weeks after the iUPD "should be disregarded" (same FAQ), so
it neither resets it nor lowers the nadir. The FAQ's one exception, a scan
done early for a new symptom that shows another new lesion, is not known from the images: the reader records it on the
case record form.

New lesions are new-lesion targets when measurable where first unequivocal (RECIST 1.1 sec. 3.1.1 sizes), up to 5 and
2 per organ (nodes one organ), kept out of the baseline sum; the others are new-lesion non-targets (Seymour 2017,
"New lesions").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from recist.baseline import MAX_TARGETS, MAX_TARGETS_PER_ORGAN, minimum_target_mm, organ_key
from recist.categories import (
    NOTHING_BACK,
    ResponseRun,
    TargetAssessment,
    assess_new_lesions,
    assess_non_targets,
    assess_targets,
    equivocal_since,
    new_lesions_unassessed,
    partial_response_continues,
    reappeared,
    status_of,
)
from recist.evaluate import baseline_response, finish_case, join_reason
from recist.measure import PD_ABSOLUTE_UM, fmt_mm, mm_to_um, pct_value
from recist.model import Case, CaseResult, NewLesions, Response, Role, Status, Timepoint, TimepointResponse
from recist.overall import overall_response

R = Response
_I_CODE = {R.CR: R.ICR, R.PR: R.IPR, R.SD: R.ISD, R.PD: R.IUPD, R.NE: R.NE, R.NON_CR_NON_PD: R.NON_ICR_NON_IUPD,
           R.NED: R.NED}
TARGETS, NON_TARGETS, NEW = "targets", "non-targets", "new lesions"
#: The earliest scan after an iUPD that may confirm it: 4 weeks less the recommended variance of 2 days (iRECIST FAQ).
ICPD_MIN_DAYS = 28 - 2
_NT_PROGRESSED = (Status.UNEQUIVOCAL_PROGRESSION, Status.FURTHER_INCREASE)


@dataclass(frozen=True)
class _Pending:
    """An iUPD awaiting confirmation, with the values further progression is measured from."""

    label: str
    date: date
    categories: set[str]
    target_sum_um: int | None
    new_target_sum_um: int
    new_target_ids: tuple[str, ...]
    new_ids: frozenset[str]
    #: the non-targets in progression at the iUPD: another in unequivocal progression later is a further increase
    non_targets_progressed: frozenset[str]
    #: the timepoint progression dates from, once confirmed: an earlier one where a new lesion behind the iUPD was
    #: first seen as equivocal (RECIST 1.1 sec. 4.3.5), else None (this iUPD's own)
    backdated_to: int | None = None
    #: the targets evaluated at the iUPD and their diameters: when some were not (``target_sum_um`` None), a further
    #: increase is measured over the targets evaluated at both scans
    target_um: dict[str, int] = field(default_factory=dict)
    #: the new non-target lesions (new lesions not chosen as new-lesion targets) measured at the iUPD
    new_non_target_um: dict[str, int] = field(default_factory=dict)


@dataclass
class _NewLesionTargets:
    """Seymour 2017: up to 5 measurable new lesions, 2 per organ, chosen where first unequivocal; of the lesions that
    first appear at one visit, the largest first (as targets are chosen at baseline, RECIST 1.1 sec. 3.3.1: "the
    largest diameter"), so that a 20 mm lesion is not left out for two of 12 and 15 mm listed before it."""

    ids: list[str] = field(default_factory=list)
    per_organ: dict[str, int] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)

    def select(self, case: Case, tp: Timepoint, unequivocal: tuple[str, ...]) -> None:
        largest_first = sorted(unequivocal, key=lambda i: -(tp.observations[i].diameter_um or 0))  # stable: ties
        for lesion_id in largest_first:
            if lesion_id in self.seen:
                continue
            self.seen.add(lesion_id)
            decl, obs = case.lesions[lesion_id], tp.observations[lesion_id]
            if obs.diameter_um is None or obs.too_small:
                continue
            if obs.diameter_um < mm_to_um(minimum_target_mm(decl.is_node, tp.slice_thickness_mm)):
                continue
            organ = organ_key(decl.organ, decl.is_node)
            if len(self.ids) < MAX_TARGETS and self.per_organ.get(organ, 0) < MAX_TARGETS_PER_ORGAN:
                self.ids.append(lesion_id)
                self.per_organ[organ] = self.per_organ.get(organ, 0) + 1

    def sum_um(self, tp: Timepoint, ids: tuple[str, ...] | list[str]) -> tuple[int, bool]:
        """(sum of the evaluated new-lesion targets among ``ids``, whether all were evaluated)."""
        total, complete = 0, True
        for lesion_id in ids:
            obs = tp.observations.get(lesion_id)
            if obs is None or obs.status is Status.NOT_EVALUATED:
                complete = False
            elif obs.status is Status.ABSENT:
                continue
            elif obs.diameter_um is None:
                complete = False
            else:
                total += obs.diameter_um
        return total, complete


def evaluate_irecist(case: Case) -> CaseResult:
    targets = [d for d in case.lesions.values() if d.role is Role.TARGET]
    non_targets = case.ids_with_role(Role.NON_TARGET)
    nt_decls = [case.lesions[i] for i in non_targets]
    new_ids = case.ids_with_role(Role.NEW)
    new_nodes = frozenset(i for i in new_ids if case.lesions[i].is_node)
    base = baseline_response(case)
    baseline_um = base.sum_um or 0
    nadir_um = baseline_um
    rows = [base]
    new_targets = _NewLesionTargets()
    pending: _Pending | None = None
    confirmed: _Pending | None = None
    confirmed_at = ""
    present_new: set[str] = set()  # new lesions seen and not since recorded gone
    crs = ResponseRun(R.ICR)
    prs = ResponseRun(R.IPR, R.ICR)  # a confirmed iPR continues (partial_response_continues)
    for tp in case.timepoints[1:]:
        disregarded = False  # a scan too soon after an iUPD: it neither confirms nor resets it, nor sets the nadir
        unassessed = new_lesions_unassessed(tp, new_ids, present_new, new_nodes)
        t = assess_targets(tp, targets, baseline_um, nadir_um) if targets else None
        if t is not None and prs.definitive(case.confirmation_required, case.confirmation_min_days):
            t = partial_response_continues(t, R.PR)
        nt = assess_non_targets(tp, non_targets) if non_targets else None
        new = assess_new_lesions(tp, new_ids, new_nodes)
        new_targets.select(case, tp, new.unequivocal)
        nlt_sum, nlt_complete = new_targets.sum_um(tp, new_targets.ids)
        progressed = {name for name, hit in ((TARGETS, t is not None and t.response is R.PD),
                                             (NON_TARGETS, nt is not None and nt.response is R.PD),
                                             (NEW, bool(new.unequivocal))) if hit}
        recist_overall, rule = overall_response(t.response if t else None, nt.response if nt else None,
                                                new.status)
        definitive_cr = crs.definitive(case.confirmation_required, case.confirmation_min_days)
        back = reappeared(tp, targets, nt_decls) if definitive_cr and not progressed else NOTHING_BACK
        if back.all:  # as under RECIST 1.1 (recist.evaluate): after a definitive CR any reappearing lesion progresses
            progressed = {name for name, ids in ((TARGETS, back.targets), (NON_TARGETS, back.non_targets)) if ids}
            recist_overall, rule = R.PD, (
                f"PD: {', '.join(back.all)} present again after the complete response confirmed at the previous "
                "assessment (RECIST 1.1 FAQ of the EORTC RECIST working group, 'Does a new lesion always result in "
                "PD?')")
        if confirmed is not None:
            overall, why = R.ICPD, f"iCPD: progression was confirmed at {confirmed_at!r} and stands (iRECIST)"
        elif pending is None:
            if progressed:
                overall = R.IUPD
                why = (f"iUPD: RECIST 1.1 progression in {', '.join(sorted(progressed))} ({rule}); to be confirmed "
                       f"at the next assessment, recommended 4-8 weeks later ({_window(tp.date)}; iRECIST, Seymour "
                       "2017: a later assessment confirms it too, an earlier one does not)")
                first_seen = min((equivocal_since(case, i, tp.index) for i in new.unequivocal), default=tp.index)
                backdated = first_seen if NEW in progressed and first_seen < tp.index else None
                if backdated is not None:
                    why += (f"; once confirmed, progression dates from {case.timepoints[backdated].label!r}, where "
                            "the new lesion was first seen as equivocal (RECIST 1.1 sec. 4.3.5, kept by iRECIST)")
                in_progression = frozenset(i for i in non_targets if status_of(tp, i) in _NT_PROGRESSED)
                pending = _Pending(tp.label, tp.date, progressed, t.sum_um if t else None, nlt_sum,
                                   tuple(new_targets.ids), frozenset(new.unequivocal), in_progression, backdated,
                                   _measured(tp, [d.lesion_id for d in targets]),
                                   _measured(tp, [i for i in new.unequivocal if i not in new_targets.ids], True))
            else:
                overall, why = _I_CODE[recist_overall], f"{_I_CODE[recist_overall].value} ({rule}; iRECIST)"
        else:
            evidence = _confirmation_evidence(pending, tp, t, new.unequivocal, progressed, new_targets, non_targets)
            days = (tp.date - pending.date).days
            # the category in iUPD not evaluated here: the iUPD can be neither confirmed by it nor reset
            unknown = [name for name, a in ((TARGETS, t), (NON_TARGETS, nt))
                       if name in pending.categories and a is not None and a.response is R.NE]
            evaluable = bool(progressed) or not (unassessed or unknown or recist_overall is R.NE)
            if evidence and days < ICPD_MIN_DAYS:
                overall, disregarded = R.IUPD, True
                why = (f"iUPD remains: {'; '.join(evidence)}, but {days} days after the iUPD at {pending.label!r} "
                       f"(< 4 weeks less 2 days): a scan this early does not confirm progression (iRECIST FAQ, EORTC "
                       "RECIST working group); confirm at a scan 4-8 weeks after the iUPD")
            elif evidence:
                overall = R.ICPD
                why = (f"iCPD: iUPD at {pending.label!r} confirmed: {'; '.join(evidence)} (iRECIST, Seymour 2017 "
                       "Table 2)")
                if pending.backdated_to is not None:
                    first = case.timepoints[pending.backdated_to]
                    why += (f"; progression dates from {first.label!r}, where the new lesion was first seen as "
                            "equivocal (RECIST 1.1 sec. 4.3.5)")
                    for j in range(pending.backdated_to, len(rows)):  # after progression: not for the iBOR
                        rows[j] = rows[j]._replace(reason=(
                            f"{rows[j].reason}; the equivocal new lesion seen at {first.label!r} was confirmed as "
                            f"progression at {tp.label!r}: progression dates from there, so this response does not "
                            "count for the best overall response (RECIST 1.1 sec. 4.3.5, 4.4.3)"))
                confirmed, confirmed_at, pending = pending, tp.label, None
            elif days < ICPD_MIN_DAYS and evaluable:
                overall, disregarded = R.IUPD, True
                why = (f"iUPD remains: {days} days after the iUPD at {pending.label!r} (< 4 weeks less 2 days), a scan "
                       "this early neither confirms nor resets it: it is disregarded (iRECIST FAQ, EORTC RECIST "
                       "working group); confirm at a scan 4-8 weeks after the iUPD")
            elif not progressed and unassessed:
                overall = R.NE
                why = (f"NE: iUPD at {pending.label!r} stays unconfirmed; new lesion(s) {', '.join(unassessed)} not "
                       "assessed here (left out or not evaluated): without them the iUPD is neither confirmed nor "
                       "reset (iRECIST, Seymour 2017)")
            elif not progressed and unknown:
                overall = R.NE
                why = (f"NE: iUPD at {pending.label!r} stays unconfirmed; the {' and '.join(unknown)} in iUPD not "
                       "evaluated here: the iUPD is neither confirmed nor reset (iRECIST, Seymour 2017)")
            elif not progressed and recist_overall is not R.NE:
                overall = _I_CODE[recist_overall]
                why = (f"{overall.value}: iUPD at {pending.label!r} not confirmed and no category in progression "
                       f"any more ({rule}); the bar is reset (iRECIST, Seymour 2017)")
                pending = None
            elif not progressed:
                overall = R.NE
                why = f"NE: iUPD at {pending.label!r} stays unconfirmed; this assessment is not evaluable ({rule})"
            else:
                overall = R.IUPD
                why = (f"iUPD remains: {', '.join(sorted(progressed))} still in progression since {pending.label!r} "
                       "without the further increase that confirms it (iRECIST, Seymour 2017 Table 2)")
        crs.add(overall, tp.date)
        prs.add(overall, tp.date)
        sum_um = t.sum_um if t else None
        t_code, nt_code = (_I_CODE[t.response] if t else None), (_I_CODE[nt.response] if nt else None)
        t_reason, nt_reason, new_reason = (t.reason if t else ""), (nt.reason if nt else ""), new.reason
        again = "present again after a confirmed iCR"
        if back.targets:  # the category the lesion came back in is in progression too
            t_code, t_reason = R.IUPD, f"iUPD: {', '.join(back.targets)} {again}; {t_reason}"
        if back.non_targets:
            nt_code, nt_reason = R.IUPD, f"iUPD: {', '.join(back.non_targets)} {again}; {nt_reason}"
        new_status: NewLesions | None = new.status
        if unassessed and new.status is NewLesions.NO:  # a new lesion seen before is not known here: nor is "no"
            new_status = None
            new_reason = f"not known: new lesion(s) {', '.join(unassessed)} seen before, not assessed here"
        rows.append(TimepointResponse(
            tp.label, tp.date, sum_um, nadir_um if t else None,
            pct_value(sum_um - baseline_um, baseline_um) if sum_um is not None else None,
            pct_value(sum_um - nadir_um, nadir_um) if sum_um is not None else None,
            t_code, nt_code, new_status, overall, t_reason, nt_reason, new_reason,
            join_reason(why, t_reason or None, nt_reason or None, _new_reason(new_reason, new_targets, nlt_sum,
                                                                              nlt_complete)),
            nlt_sum if new_targets.ids and nlt_complete else None, tuple(new_targets.ids)))
        if sum_um is not None and sum_um < nadir_um and not disregarded:
            nadir_um = sum_um
    progression: date | None = None
    pd_from = None
    if confirmed is not None:
        pd_from = confirmed.backdated_to
        progression = case.timepoints[pd_from].date if pd_from is not None else confirmed.date
    return finish_case(case, rows, progression, bool(targets), bool(non_targets), pd_from, R.ICPD)


def _new_reason(reason: str, new_targets: _NewLesionTargets, nlt_sum: int, complete: bool) -> str:
    if not new_targets.ids:
        return reason
    total = fmt_mm(nlt_sum) + (" mm" if complete else " mm (some not evaluated)")
    return f"{reason}; new-lesion targets {', '.join(new_targets.ids)} sum {total}"


def _window(iupd: date) -> str:
    """The dates of the scan that confirms an iUPD: 4 to 8 weeks after it (Seymour 2017); a scan from 4 weeks less 2
    days on is counted (`ICPD_MIN_DAYS`)."""
    return f"{(iupd + timedelta(days=ICPD_MIN_DAYS)).isoformat()} to {(iupd + timedelta(weeks=8)).isoformat()}"


def _measured(tp: Timepoint, ids: Sequence[str], measured_only: bool = False) -> dict[str, int]:
    """The diameters recorded at ``tp`` for those of ``ids`` that were evaluated there; ``measured_only``: not the 5 mm
    that stands in for one too small to measure (no measurement to compare: EORTC clarification "Lesions less than 5
    mm")."""
    out = {}
    for lesion_id in ids:
        obs = tp.observations.get(lesion_id)
        if obs is not None and obs.diameter_um is not None and obs.status is not Status.NOT_EVALUATED and not (
                measured_only and obs.too_small):
            out[lesion_id] = obs.diameter_um
    return out


#: a new non-target's "any increase" (Seymour 2017 Table 2) when measured: at least the millimetre RECIST diameters
#: are recorded to, so that a suggestion's sub-millimetre jitter does not confirm progression (our choice)
NEW_NON_TARGET_INCREASE_UM = 1000


def _target_increase(pending: _Pending, tp: Timepoint, t: TargetAssessment | None) -> str | None:
    """The further increase of the target sum since the iUPD that confirms it (>= 5 mm), in words, or None."""
    if t is None:
        return None
    if pending.target_sum_um is not None:
        assessed = t.assessed_sum_um
        if assessed - pending.target_sum_um >= PD_ABSOLUTE_UM:
            return (f"target sum {fmt_mm(assessed)} mm is +{fmt_mm(assessed - pending.target_sum_um)} mm over "
                    f"{fmt_mm(pending.target_sum_um)} mm at iUPD (>= +5 mm)")
        return None
    # the sum at the iUPD was partial (a target not evaluated there): the targets evaluated at both scans
    now = _measured(tp, list(pending.target_um))
    both = [i for i in pending.target_um if i in now]
    then_um, now_um = sum(pending.target_um[i] for i in both), sum(now[i] for i in both)
    if both and now_um - then_um >= PD_ABSOLUTE_UM:
        return (f"the targets evaluated both at iUPD and here ({', '.join(both)}) sum {fmt_mm(now_um)} mm, "
                f"+{fmt_mm(now_um - then_um)} mm over {fmt_mm(then_um)} mm at iUPD (>= +5 mm; the sum at iUPD was "
                "partial)")
    return None


def _confirmation_evidence(pending: _Pending, tp: Timepoint, t: TargetAssessment | None, unequivocal: tuple[str, ...],
                           progressed: set[str], new_targets: _NewLesionTargets,
                           non_target_ids: Sequence[str]) -> list[str]:
    """Why the pending iUPD is confirmed at ``tp`` (empty when it is not)."""
    evidence: list[str] = []
    if TARGETS in pending.categories:
        increase = _target_increase(pending, tp, t)
        if increase is not None:
            evidence.append(increase)
    elif TARGETS in progressed:
        evidence.append("targets newly meet RECIST 1.1 progression")
    if NON_TARGETS in pending.categories:
        # "any increase in non-target tumour burden at the next assessment": recorded as a further increase since the
        # last assessment; unequivocal progression recorded again is progression that stands, no change since
        # (iRECIST FAQ "If iUPD is driven by non-target disease...": INCLA vs NCLA)
        grown = [i for i in non_target_ids if status_of(tp, i) is Status.FURTHER_INCREASE]
        if grown:
            evidence.append(f"non-target lesion(s) {', '.join(grown)} increased further since the last assessment")
        # another non-target, not in progression at the iUPD, in unequivocal progression now (compared with the iUPD,
        # not the scan before: that one may be disregarded as too early, or not have assessed it)
        newly = [i for i in non_target_ids if status_of(tp, i) is Status.UNEQUIVOCAL_PROGRESSION
                 and i not in pending.non_targets_progressed]
        if newly:
            evidence.append(f"non-target lesion(s) {', '.join(newly)} newly in unequivocal progression")
    elif NON_TARGETS in progressed:
        evidence.append("non-target lesions progressed (newly meeting RECIST 1.1 progression)")
    another = [i for i in unequivocal if i not in pending.new_ids]
    if another:  # "another" only where the iUPD had new lesions already
        evidence.append(f"{'another new lesion' if pending.new_ids else 'a new lesion'} ({', '.join(another)})")
    if NEW in pending.categories:
        nlt_sum, _ = new_targets.sum_um(tp, pending.new_target_ids)
        if pending.new_target_ids and nlt_sum - pending.new_target_sum_um >= PD_ABSOLUTE_UM:
            evidence.append(f"new-lesion target sum {fmt_mm(nlt_sum)} mm is "
                            f"+{fmt_mm(nlt_sum - pending.new_target_sum_um)} mm over "
                            f"{fmt_mm(pending.new_target_sum_um)} mm at iUPD (>= +5 mm)")
        # a new non-target: any increase, recorded as unequivocal progression or measured; a new-lesion target is
        # judged by the new-lesion target sum only (Seymour 2017 Table 2)
        non_targets = [i for i in unequivocal if i not in new_targets.ids]
        grown = [i for i in non_targets if tp.observations[i].status is Status.UNEQUIVOCAL_PROGRESSION]
        if grown:
            evidence.append(f"new non-target lesion(s) {', '.join(grown)} increased")
        measured = _measured(tp, non_targets, measured_only=True)
        larger = [f"{i} {fmt_mm(pending.new_non_target_um[i])} -> {fmt_mm(measured[i])} mm" for i in non_targets
                  if i not in grown and i in measured and i in pending.new_non_target_um
                  and measured[i] - pending.new_non_target_um[i] >= NEW_NON_TARGET_INCREASE_UM]
        if larger:
            evidence.append(f"new non-target lesion(s) measured larger than at iUPD ({'; '.join(larger)})")
    return evidence
