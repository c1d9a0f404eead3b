"""measurements.csv: where each row's image references come from (docs/export.md, "CSV tables")."""

from __future__ import annotations

from datetime import date

from workstation.export.tables import measurement_rows
from workstation.read_model import Lesion, LesionAssessment, LesionStatus, Measurement, Read, Role, TimepointRead


def test_series_uid_is_the_measurements_own_else_the_timepoints_and_nothing_is_made_up() -> None:
    read = Read(subject_id="S001", reader="site1")
    read.lesions = {"T1": Lesion("T1", Role.TARGET, "liver"), "NT1": Lesion("NT1", Role.NON_TARGET, "bone")}
    read_on = TimepointRead("Baseline", date(2024, 3, 5), study_uid="1.2.3.1", series_uid="1.2.3.1.1")
    read_on.assessments = {
        "T1": LesionAssessment(
            LesionStatus.MEASURED,
            [
                Measurement(30.0, series_uid="1.2.3.1.2", sop_instance_uid="1.2.3.1.2.7", frame_of_reference_uid="1.9"),
                Measurement(12.0),  # a fragment that references no image
            ],
        ),
        "NT1": LesionAssessment(LesionStatus.PRESENT),
    }
    never_opened = TimepointRead("Week 6", date(2024, 4, 16))
    never_opened.assessments = {"T1": LesionAssessment(LesionStatus.MEASURED, [Measurement(28.0)])}
    read.timepoints = [read_on, never_opened]
    refs = [
        (r["timepoint"], r["lesion_id"], r["study_uid"], r["series_uid"], r.get("sop_instance_uid"),
         r.get("frame_of_reference_uid"))
        for r in measurement_rows(read)
    ]  # fmt: skip
    assert refs == [
        ("Baseline", "T1", "1.2.3.1", "1.2.3.1.2", "1.2.3.1.2.7", "1.9"),  # its own series, not the timepoint's
        ("Baseline", "T1", "1.2.3.1", "1.2.3.1.1", "", ""),  # the timepoint's series; no slice, no frame invented
        ("Baseline", "NT1", "1.2.3.1", "1.2.3.1.1", None, None),
        ("Week 6", "T1", "", "", "", ""),  # nothing knows the series: empty
    ]


def test_the_node_flag_reads_yes_or_no_as_new_lesions_does() -> None:
    """measurements.csv wrote `node` as True/False beside responses.csv's yes/no (a data manager's report)."""
    read = Read(subject_id="S001", reader="site1")
    read.lesions = {"T1": Lesion("T1", Role.TARGET, "liver"), "T2": Lesion("T2", Role.TARGET, "lymph node", True)}
    tp = TimepointRead("Baseline", date(2024, 3, 5))
    tp.assessments = {
        "T1": LesionAssessment(LesionStatus.MEASURED, [Measurement(30.0)]),
        "T2": LesionAssessment(LesionStatus.MEASURED, [Measurement(22.0, 16.0)]),
    }
    read.timepoints = [tp]
    assert [(r["lesion_id"], r["node"]) for r in measurement_rows(read)] == [("T1", "no"), ("T2", "yes")]


def test_responses_say_who_signed_each_timepoint_and_when() -> None:
    """A read exported from the app may hold unsigned timepoints: responses.csv says which are signed."""
    from tests.unit.test_sdtm_known_read import known_read
    from workstation.export.sdtm import evaluate_reads
    from workstation.export.tables import response_rows

    read = known_read()  # its baseline is signed, the follow-ups not
    rows = response_rows(read, evaluate_reads([read])[read.read_id])
    assert [(r["timepoint"], r["signed_by"], r["signed_at"]) for r in rows] == [
        (read.timepoints[0].label, "alice", "2026-01-06T10:00:00+00:00"),
        (read.timepoints[1].label, "", ""),
        (read.timepoints[2].label, "", ""),
    ]
    assert rows[1]["overall_response"] == "PR"  # the engine's columns are still the engine's


def test_irecist_responses_carry_the_new_lesion_targets_and_their_sum() -> None:
    """The iRECIST reader's finding: the new-lesion target sum, which decides iCPD, was in everything.json only."""
    from recist import evaluate_case
    from tests.unit.recist_builders import m, make_case, new, target
    from workstation.export.read_json import read_from_case
    from workstation.export.tables import response_rows

    case = make_case([target("T1", 50.0)], (42, [m("T1", 50.0), new("N1", mm=12.0)]),
                     (84, [m("T1", 50.0), m("N1", 18.0)]), criteria="iRECIST")
    rows = response_rows(read_from_case(case), evaluate_case(case))
    assert [(r["overall_response"], r["new_lesion_targets"], r["new_lesion_target_sum_mm"]) for r in rows] == [
        (None, "", None), ("iUPD", "N1", 12.0), ("iCPD", "N1", 18.0)]


def test_a_case_files_baseline_non_target_without_a_status_is_present() -> None:
    """The data manager's re-check: `recist evaluate` reads a baseline non-target without "status" as present (as
    docs/case-file.md says), while the export refused the same file."""
    from recist import evaluate_case
    from tests.unit.recist_builders import m, make_case, target
    from workstation.export.read_json import read_from_case

    case = make_case([target("T1", 50.0), {"id": "NT1", "role": "non-target", "organ": "bone", "node": False}],
                     (42, [m("T1", 30.0), {"id": "NT1", "status": "present"}]))
    read = read_from_case(case)
    assert read.timepoints[0].assessments["NT1"].status is LesionStatus.PRESENT
    assert evaluate_case(read.to_case())["best_overall_response"] == evaluate_case(case)["best_overall_response"]


def test_a_case_files_follow_up_with_no_lesion_is_not_evaluated_not_unread() -> None:
    """The data manager's re-check: a follow-up listed with "lesions": [] is NE to the engine, but the export took it
    for a visit not read yet: no TR, no RS, no responses.csv row, and a gap in VISITNUM."""
    from recist import evaluate_case
    from tests.unit.recist_builders import m, make_case, non_target, target
    from workstation.export.read_json import read_from_case
    from workstation.export.tables import response_rows

    case = make_case([target("T1", 50.0), non_target("NT1")], (42, []), (84, [m("T1", 30.0), {"id": "NT1",
                                                                                               "status": "present"}]))
    read = read_from_case(case)
    assert {a.status for a in read.timepoints[1].assessments.values()} == {LesionStatus.NOT_EVALUATED}
    rows = response_rows(read, evaluate_case(read.to_case()))
    expected = [tp["overall_response"] for tp in evaluate_case(case)["timepoints"]]
    assert [r["overall_response"] for r in rows] == expected and expected[1] == "NE"
