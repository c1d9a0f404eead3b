"""Trial endpoints against hand-computed values (Clopper-Pearson, Kaplan-Meier)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from recist import evaluate_case
from recist.endpoints import compute_endpoints, kaplan_meier, proportion
from tests.unit.recist_builders import BASELINE, m, make_case, non_target, target


def test_clopper_pearson_matches_published_values() -> None:
    p = proportion(3, 10)
    assert p.estimate == 0.3
    assert (round(p.ci_lower or 0, 4), round(p.ci_upper or 0, 4)) == (0.0667, 0.6525)
    zero = proportion(0, 10)
    assert zero.ci_lower == 0.0 and round(zero.ci_upper or 0, 4) == 0.3085  # 1 - 0.025 ** (1 / 10)
    assert proportion(0, 0).estimate is None


def test_kaplan_meier_by_hand() -> None:
    # Times 5, 10, 10+, 20, 30+, 40: S = 5/6, 5/6*4/5 = 2/3, 2/3*2/3 = 4/9, 4/9, 0. Median = 20.
    km = kaplan_meier("PFS", [5, 10, 10, 20, 30, 40], [True, True, False, True, False, True])
    assert km is not None
    assert (km.n, km.events, km.censored, km.median_days) == (6, 4, 2, 20.0)
    by_time = {row.time_days: row for row in km.table}
    assert by_time[10.0].survival == pytest.approx(2 / 3)
    assert by_time[20.0].survival == pytest.approx(4 / 9)
    assert (by_time[10.0].at_risk, by_time[10.0].events, by_time[10.0].censored) == (5, 1, 1)
    assert km.at_risk_at(0) == 6 and km.at_risk_at(15) == 3 and km.at_risk_at(40) == 1
    assert km.median_ci_lower_days is not None and km.median_ci_lower_days <= 20.0


def test_median_not_reached_is_none() -> None:
    km = kaplan_meier("PFS", [10, 20, 30], [True, False, False])
    assert km is not None and km.median_days is None


def _subject(sid: str, diameters: list[float], **fields: Any) -> dict[str, Any]:
    """One 100 mm target, one follow-up every 42 days."""
    case = make_case([target("T1", 100.0), non_target("NT1")],
                     *[(42 * (i + 1), [m("T1", d), {"id": "NT1", "status": "present"}])
                       for i, d in enumerate(diameters)], **fields)
    case["subject_id"] = sid
    return evaluate_case(case)


def test_endpoints_of_a_small_trial_by_hand() -> None:
    results = [
        _subject("S1", [50, 50, 50]),  # PR confirmed; no progression: censored at day 126
        _subject("S2", [50, 50, 130]),  # PR confirmed; PD at day 126
        _subject("S3", [90, 130]),  # SD at day 42; PD at day 84
        _subject("S4", [130]),  # PD at day 42
        _subject("S5", [90], death_date=(BASELINE + timedelta(days=60)).isoformat()),  # SD, death at day 60
    ]
    out = compute_endpoints(results)
    assert out["n"] == 5 and out["criteria"] == "RECIST 1.1"
    assert out["best_overall_response_counts"]["PR"] == 2 and out["best_overall_response_counts"]["SD"] == 2
    assert out["best_overall_response_counts"]["PD"] == 1
    assert (out["orr"]["count"], out["orr"]["estimate"]) == (2, 0.4)
    assert (out["dcr"]["count"], out["dcr"]["estimate"]) == (4, 0.8)
    pfs = out["pfs"]
    # PFS days: S4 42 event, S5 60 event (death), S3 84 event, S2 126 event, S1 126 censored.
    assert (pfs["events"], pfs["censored"]) == (4, 1)
    # S(42) = 4/5, S(60) = 3/5, S(84) = 2/5 -> median 84.
    assert pfs["median_days"] == 84.0
    dor = out["dor"]
    # DoR from day 42: S2 PD at 126 -> 84 days event; S1 censored at 126 -> 84 days.
    assert (dor["n"], dor["events"], dor["censored"]) == (2, 1, 1)
    assert out["os"]["n"] == 5 and out["os"]["events"] == 1


def test_os_is_censored_at_the_last_date_the_subject_is_known_alive() -> None:
    """The statistician's finding: without a contact date, OS was censored at the last *evaluable* scan, though a
    later scan not evaluable for response (a target not assessed) still shows the subject alive."""
    ne = make_case([target("T1", 100.0)], (42, [m("T1", 50.0)]), (84, [m("T1", 50.0)]),
                   (126, [{"id": "T1", "status": "not_evaluated"}]))
    ne["subject_id"] = "S-NE"
    dead = _subject("S-dead", [50], death_date=(BASELINE + timedelta(days=200)).isoformat())  # OS needs a death
    out = compute_endpoints([evaluate_case(ne), dead])
    censored = [row["time_days"] for row in out["os"]["table"] if row["censored"]]
    assert censored == [126.0]  # the last scan, not the last evaluable one (84)
    assert [row["time_days"] for row in out["pfs"]["table"] if row["censored"]] == [84.0]  # PFS: the evaluable one
    assert out["methods"]["os"] == ("all subjects, from the baseline scan to death; censored at the last contact, or "
                                    "the last scan when later")


def test_subjects_whose_follow_up_ends_on_an_unconfirmed_iupd_are_named() -> None:
    """The statistician's finding: an iUPD never confirmed at the last visit is censored, not an event, and nothing
    said whom that concerns. The endpoints (and the report, the table) name them."""
    from workstation.cli.endpoints import format_table

    def sub(sid: str, sums: list[float]) -> dict[str, Any]:
        case = make_case([target("T1", 100.0)], *[(42 * (n + 1), [m("T1", d)]) for n, d in enumerate(sums)],
                         criteria="iRECIST")
        case["subject_id"] = sid
        return evaluate_case(case)

    out = compute_endpoints([sub("S1", [90.0, 130.0]), sub("S2", [130.0, 140.0]), sub("S3", [130.0, 90.0])])
    assert out["unconfirmed_iupd_at_end"] == ["S1"]  # S2 confirmed (iCPD), S3 reset (iSD)
    assert "Follow-up ends on an iUPD never confirmed (PFS censored there): S1" in format_table(out)
    # the iRECIST reader's finding: the pseudo-progressions (S3: iUPD, then iSD) were counted nowhere
    assert out["pseudo_progression"] == ["S3"]
    assert "Pseudo-progression (an iUPD not confirmed, then iSD or better): 1 (S3)" in format_table(out)


def test_pfs_starts_at_treatment_start_when_given() -> None:
    start = (BASELINE + timedelta(days=10)).isoformat()
    out = compute_endpoints([_subject("S1", [130], treatment_start=start)])
    assert out["pfs"]["table"][-1]["time_days"] == 32.0
    assert out["os"] is None
    assert out["methods"]["pfs"].startswith("all subjects, from the treatment start to progression (PD) or death; "
                                            "censored at the last evaluable assessment")
    both = compute_endpoints([_subject("S1", [130], treatment_start=start), _subject("S2", [50])])
    assert "from the treatment start (1 of 2 subjects), else the baseline scan" in both["methods"]["pfs"]


def test_orr_population_is_measurable_disease_by_default() -> None:
    nt_only = evaluate_case(make_case([non_target("NT1")], (42, [{"id": "NT1", "status": "present"}])))
    out = compute_endpoints([_subject("S1", [50, 50]), nt_only])
    assert out["n"] == 1 and out["orr"]["estimate"] == 1.0
    assert compute_endpoints([_subject("S1", [50, 50]), nt_only], measurable_only=False)["n"] == 2
    # PFS (and OS) are over every subject: one without measurable disease still progresses (the statistician's
    # finding: it was left out of PFS unless --all-subjects); DoR only over the ORR population's responders.
    assert out["pfs"]["n"] == 2 and out["dor"]["n"] == 1 and out["survival_population"] == "all subjects"


def test_mixed_criteria_are_refused() -> None:
    irecist = _subject("S2", [50], criteria="iRECIST")
    with pytest.raises(ValueError, match="mix criteria"):
        compute_endpoints([_subject("S1", [50]), irecist])


def test_iupd_confirmed_is_the_progression_date_under_irecist() -> None:
    result = _subject("S1", [130, 140], criteria="iRECIST")
    assert result["date_of_progression"] == (BASELINE + timedelta(days=42)).isoformat()
    out = compute_endpoints([result])
    assert out["pfs"]["events"] == 1 and out["best_overall_response_counts"]["iCPD"] == 1
    assert date.fromisoformat(result["date_of_progression"]) == BASELINE + timedelta(days=42)


def test_a_treatment_start_after_a_follow_up_scan_is_refused_by_the_case() -> None:
    """It was censored at 0 days (or, with an event before it, refused by the endpoints only)."""
    from recist import CaseError

    late_start = (BASELINE + timedelta(days=60)).isoformat()
    with pytest.raises(CaseError, match="'treatment_start' 2026-03-06 is not before the first follow-up scan"):
        _subject("S1", [90], treatment_start=late_start)


def test_a_median_where_the_curve_is_one_half_over_an_interval_is_its_midpoint() -> None:
    """The biostatistician's finding: S(t) = 0.5 on [84, 126): lifelines gives 84, SAS PROC LIFETEST and R survfit
    give (84 + 126) / 2 = 105, the convention the trial's analysis is checked against."""
    km = kaplan_meier("PFS", [42, 84, 126, 126], [True, True, True, False])
    assert km is not None and km.median_days == 105.0
    assert (km.median_ci_lower_days, km.median_ci_upper_days, km.median_ci_not_estimable) == (42.0, None, ())
    flat_to_the_end = kaplan_meier("DoR", [84, 84], [True, False])  # 0.5 from 84 with no later event: 84, as R
    assert flat_to_the_end is not None and flat_to_the_end.median_days == 84.0
    method = compute_endpoints([_subject("S1", [130])])["methods"]["kaplan_meier"]
    assert "midpoint" in method and "SAS PROC LIFETEST" in method
    assert "log(-log)" in method and "Greenwood" in method and "Brookmeyer-Crowley" in method


def test_a_median_ci_limit_where_the_curve_reaches_zero_is_not_estimable() -> None:
    """The biostatistician's finding: one subject gave "95 % CI 126 to 126", five events on one day "42 to 42": the
    interval of S(t) collapses to 0 where S(t) = 0 (Greenwood's variance undefined), which is no limit."""
    from workstation.cli.endpoints import format_table
    from workstation.report.plots import _median_text

    for durations in ([126.0], [42.0] * 5):
        km = kaplan_meier("PFS", durations, [True] * len(durations))
        assert km is not None and km.median_days == durations[0]
        assert (km.median_ci_lower_days, km.median_ci_upper_days) == (None, None)
        assert km.median_ci_not_estimable == ("lower", "upper")
        assert (km.table[-1].ci_lower, km.table[-1].ci_upper) == (None, None)  # no interval at S(t) = 0
    out = compute_endpoints([_subject("S1", [50, 50, 130])])
    assert out["pfs"]["median_ci_lower_days"] is None and out["pfs"]["median_ci_not_estimable"] == ["lower", "upper"]
    assert "not estimable (NE)" in out["pfs"]["median_ci_note"]
    assert "PFS: median 126 days (4.1 months; 95 % CI NE to NE days); 1 event, 0 censored of 1" in format_table(out)
    assert _median_text(out["pfs"]).startswith("median 4.1 months (95 % CI NE to NE)")
    # a limit reached where S(t) > 0 stays a number; one never reached is NR
    km = kaplan_meier("PFS", [42, 84, 126, 200], [True, True, False, True])
    assert km is not None and (km.median_days, km.median_ci_lower_days) == (142.0, 42.0)
    assert km.median_ci_not_estimable == ("upper",)


def _death_after(sid: str, diameters: list[float], days: int, **fields: Any) -> dict[str, Any]:
    return _subject(sid, diameters, death_date=(BASELINE + timedelta(days=days)).isoformat(), **fields)


def test_an_event_after_missed_visits_is_censored_at_the_last_evaluable_assessment_when_asked() -> None:
    """The biostatistician's finding: death 316 days after the last scan, PD after four missed visits counted as events
    at their dates. FDA 2018 guidance (PFS censoring table): progression or death after two or more missed visits is
    censored at the last adequate assessment. Without the option the methods say they are events."""
    from workstation.cli.endpoints import format_table

    present = {"id": "NT1", "status": "present"}
    late_pd = make_case([target("T1", 100.0), non_target("NT1")], (42, [m("T1", 90.0), present]),
                        (252, [m("T1", 130.0), present]))
    late_pd["subject_id"] = "M4"
    results = [
        _death_after("M1", [90, 90], 400),  # last scan day 84: death 316 days later
        _death_after("M2", [50, 50], 500),  # PR from day 42; death 416 days after the last scan
        _subject("M3", [90, 90, 90]),
        evaluate_case(late_pd),  # PD at day 252, 210 days after the last scan (day 42)
        _death_after("M5", [90, 90], 120),  # death 36 days after the last scan: an event either way
    ]
    counted = compute_endpoints(results)
    assert (counted["pfs"]["events"], counted["censored_after_gap"]) == (4, {"pfs": [], "dor": []})
    assert "after missed visits is counted as an event at its date, not censored" in counted["methods"]["pfs"]
    assert "FDA 2018" in counted["methods"]["pfs"] and "FDA 2018" in counted["methods"]["dor"]
    out = compute_endpoints(results, censor_after_gap_days=91)
    assert out["censored_after_gap"] == {"pfs": ["M1", "M2", "M4"], "dor": ["M2"]}
    assert (out["pfs"]["events"], out["dor"]["events"]) == (1, 0)
    ends = {e["subject_id"]: (e["days"], e["event"], e["end"]) for e in out["pfs_by_subject"]}
    assert ends == {"M1": (84.0, False, "censored after a gap"), "M2": (84.0, False, "censored after a gap"),
                    "M3": (126.0, False, "censored"), "M4": (42.0, False, "censored after a gap"),
                    "M5": (120.0, True, "death")}
    assert "more than 91 days after the last evaluable assessment (missed visits) is censored there" in (
        out["methods"]["pfs"])
    table = format_table(out)
    assert "PFS event more than 91 days after the last evaluable assessment (censored there): M1, M2, M4" in table
    assert "DoR event more than 91 days after the last evaluable assessment (censored there): M2" in table


def test_an_unconfirmed_iupd_then_death_is_named_as_the_event_it_is() -> None:
    """The biostatistician's finding: "Follow-up ends on an iUPD never confirmed (PFS censored there)" named subjects
    whose PFS is a death event. Each is now named as the endpoints count it."""
    from workstation.cli.endpoints import format_table

    def sub(sid: str, sums: list[float], **fields: Any) -> dict[str, Any]:
        case = make_case([target("T1", 100.0)], *[(42 * (n + 1), [m("T1", d)]) for n, d in enumerate(sums)],
                         criteria="iRECIST", **fields)
        case["subject_id"] = sid
        return evaluate_case(case)

    death = (BASELINE + timedelta(days=300)).isoformat()
    results = [sub("U1", [130.0], death_date=death), sub("U2", [130.0]), sub("U3", [90.0, 90.0])]
    out = compute_endpoints(results)
    assert (out["unconfirmed_iupd_at_end"], out["unconfirmed_iupd_then_death"]) == (["U2"], ["U1"])
    table = format_table(out)
    assert "Follow-up ends on an iUPD never confirmed (PFS censored there): U2" in table
    assert "Unconfirmed iUPD, then death (PFS event at death): U1" in table
    # a death after the gap is censored at the iUPD: then it is one of those censored there
    gap = compute_endpoints(results, censor_after_gap_days=91)
    assert (gap["unconfirmed_iupd_at_end"], gap["unconfirmed_iupd_then_death"]) == (["U1", "U2"], [])


def test_the_response_settings_are_the_cases_and_mixed_ones_are_warned_about() -> None:
    """The biostatistician's findings: "CR/PR confirmed at least 4 weeks later" whatever confirmation_min_days said;
    subjects under different settings pooled without a word."""
    from recist.endpoints import with_case_settings

    def sub(sid: str, **fields: Any) -> dict[str, Any]:
        case = make_case([target("T1", 100.0)], (42, [m("T1", 50.0)]), (84, [m("T1", 50.0)]), **fields)
        case["subject_id"] = sid
        return with_case_settings(evaluate_case(case), case)

    out = compute_endpoints([sub("W1", confirmation_min_days=56), sub("W2", confirmation_min_days=56)])
    settings = out["methods"]["response_settings"]
    assert settings == "SD at least 42 days from baseline, CR/PR confirmed at least 56 days later"
    assert out["warnings"] == [] and out["orr"]["count"] == 0  # 42 days < 56: not confirmed
    mixed = compute_endpoints([sub("F1", confirmation_required=False), sub("F2"), sub("F3", sd_min_days=28), sub("F4")])
    assert mixed["warnings"] == [
        "subjects evaluated under different response settings (their best responses are not comparable): SD at least "
        "28 days from baseline, CR/PR confirmed at least 28 days later: F3; SD at least 42 days from baseline, CR/PR "
        "without confirmation: F1; SD at least 42 days from baseline, CR/PR confirmed at least 28 days later: F2, F4"
    ]
    assert len(compute_endpoints([sub("W1", confirmation_min_days=56), sub("F2")])["warnings"]) == 1


def test_the_table_gives_the_methods_and_says_what_is_not_there() -> None:
    """The biostatistician's findings: the table printed no methods, "1 subjects", "OS: no subject" when no date was
    given, and no lower limit for a median not reached."""
    from workstation.cli.endpoints import format_table

    table = format_table(compute_endpoints([_subject("S1", [50, 50])]))
    assert table.startswith("RECIST 1.1: 1 subject, 1 in the population")
    assert "OS: not estimated (no case gives death_date or last_contact_date)" in table
    methods = table[table.index("Methods:"):]
    for line in ("  PFS: all subjects, from the baseline scan", "  DoR: responders, from the first response",
                 "  Response settings: SD at least 42 days from baseline, CR/PR confirmed at least 28 days later",
                 "  Kaplan-Meier: Kaplan-Meier (lifelines); median:", "  Time: days = end date - start date (the "
                 "origin is day 0); months = days / 30.4375"):
        assert line in methods
    assert "  OS:" not in methods
    out = compute_endpoints([_subject(f"S{n}", d) for n, d in enumerate([[130], [50, 50], [50, 50], [50, 50, 50]])])
    assert out["pfs"]["median_days"] is None and out["pfs"]["median_ci_lower_days"] == 42.0
    assert "PFS: median not reached; 1 event, 3 censored of 4 (median NR, 95 % CI 42 to NR days)" in format_table(out)
