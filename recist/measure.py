"""Exact arithmetic on diameters: integer micrometres, never floats, wherever a threshold decides a response.

Diameters arrive in millimetres (floats from JSON) and are stored as whole micrometres (0.001 mm resolution, far
below any caliper's precision). Sums and thresholds are then integer comparisons, so +20.0 % is exactly PD.
"""

from __future__ import annotations

UM_PER_MM = 1000
#: RECIST 1.1 sec. 4.3.2: a lesion "too small to measure" counts 5 mm.
TOO_SMALL_UM = 5 * UM_PER_MM
#: RECIST 1.1 sec. 4.3.1: progression needs an absolute increase of at least 5 mm in the sum.
PD_ABSOLUTE_UM = 5 * UM_PER_MM
#: RECIST 1.1 sec. 4.3.1 / 4.3.2: a lymph node under 10 mm short axis is normal.
NODE_NORMAL_BELOW_UM = 10 * UM_PER_MM


def mm_to_um(mm: float) -> int:
    """Millimetres to whole micrometres (rounded to nearest; exact for every value a reader can type)."""
    return round(mm * UM_PER_MM)


def um_to_mm(um: int) -> float:
    return um / UM_PER_MM


def fmt_mm(um: int) -> str:
    """``32.0``, ``32.15``: one decimal unless the value has more."""
    if um % 100 == 0:
        return f"{um / UM_PER_MM:.1f}"
    return f"{um / UM_PER_MM:.3f}".rstrip("0")


def pct_tenths(delta_um: int, reference_um: int) -> int | None:
    """100 * delta / reference in tenths of a percent, rounded half away from zero; None when the reference is 0.

    One guard: the number shown never reaches a threshold that the exact value did not (RECIST 1.1 sec. 4.3.1):
    +19.96 % shows +19.9 (not +20.0, which would read as PD) and -29.96 % shows -29.9 (not -30.0, which would read as
    PR). The responses themselves are decided on the exact values (`meets_progression`, `meets_partial_response`).
    """
    if reference_um == 0:
        return None
    numerator = abs(delta_um) * 1000
    magnitude = (2 * numerator + reference_um) // (2 * reference_um)
    threshold = 200 if delta_um >= 0 else 300
    if magnitude == threshold and numerator < threshold * reference_um:
        magnitude -= 1
    return magnitude if delta_um >= 0 else -magnitude


def pct_value(delta_um: int, reference_um: int) -> float | None:
    tenths = pct_tenths(delta_um, reference_um)
    return None if tenths is None else tenths / 10


def fmt_pct(delta_um: int, reference_um: int) -> str:
    tenths = pct_tenths(delta_um, reference_um)
    if tenths is None:
        return "n/a (reference 0 mm)"
    sign = "+" if tenths >= 0 else "-"
    return f"{sign}{abs(tenths) // 10}.{abs(tenths) % 10} %"


def meets_progression(sum_um: int, nadir_um: int) -> bool:
    """RECIST 1.1 sec. 4.3.1: sum >= nadir * 1.2 and sum - nadir >= 5 mm (integer arithmetic, exact)."""
    delta = sum_um - nadir_um
    return delta >= PD_ABSOLUTE_UM and 5 * delta >= nadir_um


def meets_partial_response(sum_um: int, baseline_um: int) -> bool:
    """RECIST 1.1 sec. 4.3.1: sum <= baseline * 0.7, i.e. a decrease of at least 30 % (exact)."""
    return 10 * (sum_um - baseline_um) <= -3 * baseline_um
