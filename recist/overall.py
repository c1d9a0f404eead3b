"""Overall response at one timepoint from the category responses (RECIST 1.1 sec. 4.4.1, Tables 1 and 2)."""

from __future__ import annotations

from recist.model import NewLesions, Response

R = Response


def overall_response(target: Response | None, non_target: Response | None, new: NewLesions) -> tuple[Response, str]:
    """(overall response, the rule that gave it). ``None`` = the subject has no lesions of that category."""
    if new is NewLesions.YES:
        return R.PD, "PD: unequivocal new lesion (RECIST 1.1 sec. 4.3.5, Tables 1-2)"
    if target is R.PD:
        return R.PD, "PD: target lesions progressed (RECIST 1.1 Table 1)"
    if non_target is R.PD:
        return R.PD, "PD: unequivocal progression of non-target disease (RECIST 1.1 Tables 1-2)"
    if target is None:
        if non_target is None:
            return R.NED, "NED: no target or non-target disease at baseline and no unequivocal new lesion"
        # Table 2: non-target disease only.
        table2 = {R.CR: R.CR, R.NON_CR_NON_PD: R.NON_CR_NON_PD, R.NE: R.NE}
        return table2[non_target], f"{table2[non_target]}: non-target {non_target}, no unequivocal new lesion " \
                                   "(RECIST 1.1 Table 2)"
    nt = "none" if non_target is None else non_target
    if target is R.CR:
        if non_target in (None, R.CR):
            return R.CR, f"CR: target CR, non-target {nt}, no unequivocal new lesion (RECIST 1.1 Table 1)"
        return R.PR, f"PR: target CR but non-target {nt} (RECIST 1.1 Table 1)"
    if target in (R.PR, R.SD, R.NE):
        return target, f"{target}: target {target}, non-target {nt}, no unequivocal new lesion (RECIST 1.1 Table 1)"
    raise AssertionError(f"unexpected target response {target}")
