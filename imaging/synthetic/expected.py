"""The responses each scripted course should give, reasoned by hand from `imaging.synthetic.courses` (not computed).

Sums are of the recorded target diameters (long axis; short axis for nodes). Percentages are relative to the baseline
sum and to the nadir (smallest sum before the timepoint, baseline included), cut to one decimal toward zero (the
engine's documented display rule, `recist.measure`: a shown value never crosses a threshold the exact one did not).
All cases require
confirmation of CR/PR (a later assessment >= 28 days on: the next one, 42 days later) and take 35 days as the minimum
time for stable disease (six weeks less the protocol's 7-day window), so day 42 counts as SD without touching the
boundary. The baseline rows give only the sum. Under RECIST 1.1 a subject does not recover from PD: after the first PD
only the arithmetic (sums and percentages) is checked, not the codes.
"""

from __future__ import annotations

from typing import Any

Expected = dict[str, Any]


def _tp(label: str, sum_mm: float, base_pct: float | None = None, nadir_pct: float | None = None,
        target: str | None = None, non_target: str | None = None, overall: str | None = None,
        reasoning: str = "") -> dict[str, Any]:
    row: dict[str, Any] = {"label": label, "sum_mm": sum_mm}
    if base_pct is not None:
        row["change_from_baseline_pct"] = base_pct
    if nadir_pct is not None:
        row["change_from_nadir_pct"] = nadir_pct
    if target is not None:
        row["target_response"] = target
    if non_target is not None:
        row["non_target_response"] = non_target
    if overall is not None:
        row["overall_response"] = overall
    if reasoning:
        row["reasoning"] = reasoning
    return row


EXPECTED: dict[str, dict[str, Expected]] = {
    # T1 40 -> 26 -> 22 -> 30, T2 30 -> 19 -> 16 -> 22, T3 20 -> 12 -> 10 -> 14, T4 (node SA) 20 -> 13 -> 11 -> 13.
    "SUBJ-001": {
        "RECIST 1.1": {"best_overall_response": "PR", "timepoints": [
            _tp("baseline", 110.0, reasoning="40 + 30 + 20 + 20 = 110; bone non-target present"),
            _tp("week 6", 70.0, -36.4, -36.4, "PR", "non-CR/non-PD", "PR",
                "26 + 19 + 12 + 13 = 70: -36.36 % from baseline (<= -30 %): PR; bone present: non-CR/non-PD"),
            _tp("week 12", 59.0, -46.4, -15.7, "PR", "non-CR/non-PD", "PR",
                "22 + 16 + 10 + 11 = 59: -46.36 % from baseline; nadir 70; PR, confirmed 42 days after week 6"),
            _tp("week 18", 79.0, -28.2, 33.9, "PD", "non-CR/non-PD", "PD",
                "30 + 22 + 14 + 13 = 79: +33.90 % and +20 mm over the nadir 59: PD"),
        ]},
        "iRECIST": {"best_overall_response": "iPR", "timepoints": [
            _tp("baseline", 110.0),
            _tp("week 6", 70.0, -36.4, -36.4, "iPR", "non-iCR/non-iUPD", "iPR", "as RECIST 1.1 PR"),
            _tp("week 12", 59.0, -46.4, -15.7, "iPR", "non-iCR/non-iUPD", "iPR", "confirmed iPR"),
            _tp("week 18", 79.0, -28.2, 33.9, "iUPD", "non-iCR/non-iUPD", "iUPD",
                "+20 mm (+33.90 %) over the nadir: unconfirmed progression (no later assessment)"),
        ]},
    },
    # T1 (stomach) 30 -> 38 -> 20 -> 16, T2 25 -> 32 -> 16 -> 13, T3 (node SA) 17 -> 20 -> 12 -> 11.
    "SUBJ-002": {
        "RECIST 1.1": {"best_overall_response": "PD", "timepoints": [
            _tp("baseline", 72.0, reasoning="30 + 25 + 17 = 72; lytic bone non-target present"),
            _tp("week 6", 90.0, 25.0, 25.0, "PD", "non-CR/non-PD", "PD",
                "38 + 32 + 20 = 90: +25.0 % and +18 mm over the nadir (baseline 72): PD"),
            _tp("week 12", 48.0, -33.3, -33.3,
                reasoning="20 + 16 + 12 = 48; after PD only the arithmetic is checked (nadir still 72)"),
            _tp("week 18", 40.0, -44.4, -16.7, reasoning="16 + 13 + 11 = 40; nadir 48"),
        ]},
        "iRECIST": {"best_overall_response": "iPR", "timepoints": [
            _tp("baseline", 72.0),
            _tp("week 6", 90.0, 25.0, 25.0, "iUPD", "non-iCR/non-iUPD", "iUPD",
                "+25.0 % and +18 mm over the nadir: iUPD, to be confirmed at the next assessment"),
            _tp("week 12", 48.0, -33.3, -33.3, "iPR", "non-iCR/non-iUPD", "iPR",
                "not confirmed (the sum fell): -33.3 % from baseline: iPR; the iUPD is reset"),
            _tp("week 18", 40.0, -44.4, -16.7, "iPR", "non-iCR/non-iUPD", "iPR",
                "-44.4 % from baseline: iPR, confirmed 42 days after week 12: iBOR iPR (pseudo-progression)"),
        ]},
    },
    # T1 22 -> 12 -> 0 -> 0, T2 14 -> 8 -> 0 -> 0, T3 (node SA) 16 -> 11 -> 8 -> 7;
    # NT1 effusion present, present, absent, absent; NT2 node SA 12 -> 11 -> 8 -> 7 (present, present, absent, absent).
    "SUBJ-003": {
        "RECIST 1.1": {"best_overall_response": "CR", "timepoints": [
            _tp("baseline", 52.0, reasoning="22 + 14 + 16 = 52; effusion and a 12 mm node as non-targets"),
            _tp("week 6", 31.0, -40.4, -40.4, "PR", "non-CR/non-PD", "PR",
                "12 + 8 + 11 = 31: -40.38 %: PR; non-targets still present"),
            _tp("week 12", 8.0, -84.6, -74.2, "CR", "CR", "CR",
                "non-nodal targets gone, target node 8 mm (< 10 mm): CR although the sum is 8; effusion gone and "
                "non-target node back under 10 mm: non-target CR"),
            _tp("week 18", 7.0, -86.5, -12.5, "CR", "CR", "CR", "CR again 42 days later: confirmed"),
        ]},
        "iRECIST": {"best_overall_response": "iCR", "timepoints": [
            _tp("baseline", 52.0),
            _tp("week 6", 31.0, -40.4, -40.4, "iPR", "non-iCR/non-iUPD", "iPR"),
            _tp("week 12", 8.0, -84.6, -74.2, "iCR", "iCR", "iCR"),
            _tp("week 18", 7.0, -86.5, -12.5, "iCR", "iCR", "iCR"),
        ]},
    },
    # T1 35 -> 33 -> 33 -> 34, T2 18 -> 17 -> 18 -> 18, T3 (node SA) 19 -> 18 -> 18 -> 19; ascites present throughout;
    # N1 new liver lesion absent, absent, 12, 18 (unequivocal).
    "SUBJ-004": {
        "RECIST 1.1": {"best_overall_response": "SD", "timepoints": [
            _tp("baseline", 72.0, reasoning="35 + 18 + 19 = 72; ascites non-target"),
            _tp("week 6", 68.0, -5.6, -5.6, "SD", "non-CR/non-PD", "SD",
                "33 + 17 + 18 = 68: -5.56 %: SD, at day 42 >= 35 days: counts for best response"),
            _tp("week 12", 69.0, -4.2, 1.5, "SD", "non-CR/non-PD", "PD",
                "targets SD (69, +1.47 % over the nadir 68) but an unequivocal new liver lesion: PD"),
            _tp("week 18", 71.0, -1.4, 4.4, "SD", "non-CR/non-PD", "PD", "the new lesion persists: PD"),
        ]},
        "iRECIST": {"best_overall_response": "iSD", "timepoints": [
            _tp("baseline", 72.0),
            _tp("week 6", 68.0, -5.6, -5.6, "iSD", "non-iCR/non-iUPD", "iSD"),
            _tp("week 12", 69.0, -4.2, 1.5, "iSD", "non-iCR/non-iUPD", "iUPD",
                "new measurable liver lesion (12 mm, new target, kept out of the sum): iUPD"),
            _tp("week 18", 71.0, -1.4, 4.4, "iSD", "non-iCR/non-iUPD", "iCPD",
                "the new lesion grew 12 -> 18 mm (>= 5 mm in the sum of new targets): iCPD"),
        ]},
    },
}
