"""SDTM TU/TR/RS from a read with known truth: variables present, values right, one record set per evaluator."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import pytest

from tests.unit.test_sdtm_known_read import KNOWN_RESULTS, known_read
from workstation.export.sdtm import RS_COLUMNS, TR_COLUMNS, TU_COLUMNS, SdtmError, build_sdtm, write_sdtm
from workstation.export.xport import read_xport
from workstation.read_model import LesionAssessment, LesionStatus


def _one_read() -> tuple[list, dict]:
    read = known_read()
    return [read], {read.read_id: KNOWN_RESULTS}


def _rows(records: list[dict], **match: object) -> list[dict]:
    return [r for r in records if all(r.get(k) == v for k, v in match.items())]


def test_tu_identifies_every_lesion_with_role_location_and_method() -> None:
    ds = build_sdtm(*_one_read(), study_id="TIL01")
    assert [(r["TULNKID"], r["TUORRES"], r["TULOC"]) for r in ds.tu] == [
        ("T1", "TARGET", "LIVER"), ("T2", "TARGET", "LYMPH NODE"), ("NT1", "NON-TARGET", "BONE"), ("N1", "NEW", "LUNG"),
    ]  # fmt: skip
    assert {r["TUTESTCD"] for r in ds.tu} == {"TUMIDENT"}
    assert {r["TUMETHOD"] for r in ds.tu} == {"CT SCAN"}
    assert _rows(ds.tu, TULNKID="N1")[0]["VISIT"] == "FOLLOW-UP 2"
    assert _rows(ds.tu, TULNKID="N1")[0]["TUDTC"] == "2026-03-30"
    assert [r["TUSEQ"] for r in ds.tu] == [1, 2, 3, 4]
    assert ds.tu[0]["USUBJID"] == "TIL01-S001"


def test_tr_diameters_node_short_axis_split_sum_and_sumdiam_from_the_engine() -> None:
    ds = build_sdtm(*_one_read())
    ldiam = [(r["VISIT"], r["TRLNKID"], r["TRSTRESN"]) for r in _rows(ds.tr, TRTESTCD="LDIAM")]
    # T1 at FOLLOW-UP 2 is split: 10 + 6
    assert ldiam == [("BASELINE", "T1", 32.0), ("FOLLOW-UP 1", "T1", 20.0), ("FOLLOW-UP 2", "T1", 16.0)]
    lperp = [(r["VISIT"], r["TRLNKID"], r["TRSTRESN"]) for r in _rows(ds.tr, TRTESTCD="LPERP")]
    # the node's short axis, not 25
    assert lperp == [("BASELINE", "T2", 18.0), ("FOLLOW-UP 1", "T2", 12.0), ("FOLLOW-UP 2", "T2", 0.0)]
    assert [r["TRSTRESN"] for r in _rows(ds.tr, TRTESTCD="SUMDIAM")] == [50.0, 32.0, 16.0]
    assert {r["TRORRESU"] for r in _rows(ds.tr, TRTESTCD="LDIAM")} == {"mm"}
    # the text results keep one format, a disappeared node's included (it was "0" beside "12.0")
    assert [r["TRORRES"] for r in _rows(ds.tr, TRTESTCD="LPERP")] == ["18.0", "12.0", "0.0"]
    assert [r["TRSTRESC"] for r in _rows(ds.tr, TRTESTCD="LPERP")] == ["18.0", "12.0", "0.0"]
    states = [(r["VISIT"], r["TRLNKID"], r["TRORRES"]) for r in _rows(ds.tr, TRTESTCD="TUMSTATE")]
    assert ("FOLLOW-UP 2", "NT1", "PRESENT") in states
    assert ("FOLLOW-UP 2", "N1", "UNEQUIVOCAL") in states


def test_too_small_and_not_evaluated_use_the_published_wording() -> None:
    read = known_read()
    read.timepoints[1].assessments["T1"] = LesionAssessment(LesionStatus.TOO_SMALL)
    read.timepoints[1].assessments["NT1"] = LesionAssessment(LesionStatus.NOT_EVALUATED)
    ds = build_sdtm([read])
    t1 = _rows(ds.tr, TRLNKID="T1", VISIT="FOLLOW-UP 1")[0]
    # the verbatim result, and RECIST 1.1's default of 5 mm (sec. 4.3.2) as the standard result, as SUMDIAM counts it
    assert (t1["TRTESTCD"], t1["TRORRES"], t1["TRSTRESC"], t1["TRSTRESN"], t1["TRSTRESU"]) == (
        "LDIAM", "TOO SMALL TO MEASURE", "5.0", 5.0, "mm")  # fmt: skip
    nt1 = _rows(ds.tr, TRLNKID="NT1", VISIT="FOLLOW-UP 1")[0]
    assert (nt1["TRSTAT"], nt1["TRREASND"]) == ("NOT DONE", "NOT EVALUATED")
    assert not _rows(ds.tr, TRTESTCD="SUMDIAM")  # no engine results given: no sum is invented
    assert not ds.rs


def test_rs_carries_every_timepoint_response_and_the_best_response() -> None:
    ds = build_sdtm(*_one_read())
    got = [(r.get("VISIT", ""), r["RSTESTCD"], r["RSORRES"]) for r in ds.rs]
    assert got == [
        ("FOLLOW-UP 1", "TRGRESP", "PR"), ("FOLLOW-UP 1", "NTRGRESP", "NON-CR/NON-PD"),
        ("FOLLOW-UP 1", "NEWLPROG", "N"), ("FOLLOW-UP 1", "OVRLRESP", "PR"),
        ("FOLLOW-UP 2", "TRGRESP", "PR"), ("FOLLOW-UP 2", "NTRGRESP", "NON-CR/NON-PD"),
        ("FOLLOW-UP 2", "NEWLPROG", "Y"), ("FOLLOW-UP 2", "OVRLRESP", "PD"),
        ("", "BESTRESP", "SD"),
    ]  # fmt: skip
    assert {r["RSCAT"] for r in ds.rs} == {"RECIST 1.1"}


def test_irecist_responses_sit_under_their_own_category() -> None:
    read = known_read()
    read.criteria = "iRECIST"
    results = json.loads(json.dumps(KNOWN_RESULTS))
    results["timepoints"][2]["overall_response"] = "iUPD"
    results["best_overall_response"] = "iPR"
    ds = build_sdtm([read], {read.read_id: results})
    assert {r["RSCAT"] for r in ds.rs} == {"iRECIST"}
    assert _rows(ds.rs, RSTESTCD="OVRLRESP")[-1]["RSORRES"] == "iUPD"
    assert _rows(ds.rs, RSTESTCD="BESTRESP")[0]["RSORRES"] == "iPR"


def test_one_record_set_per_evaluator_and_the_adjudicated_read_accepted() -> None:
    reads = [known_read("bob"), known_read("alice"), known_read("carol", "adjudicator"), known_read("dan", "site")]
    ds = build_sdtm(reads, {r.read_id: KNOWN_RESULTS for r in reads})
    per_reader = {(r["TUEVAL"], r["TUEVALID"], r["TUACPTFL"]) for r in ds.tu}
    assert per_reader == {
        ("INDEPENDENT ASSESSOR", "RADIOLOGIST 1", "N"),  # alice (readers numbered in name order)
        ("INDEPENDENT ASSESSOR", "RADIOLOGIST 2", "N"),
        ("INDEPENDENT ASSESSOR", "ADJUDICATOR", "Y"),
        ("INVESTIGATOR", "", ""),
    }
    assert len(ds.tu) == 16 and len(ds.rs) == 4 * 9
    assert [r["TUSEQ"] for r in ds.tu] == list(range(1, 17))  # one sequence per subject


def test_without_adjudication_reader_one_is_accepted_only_when_the_readers_agree() -> None:
    a, b = known_read("alice"), known_read("bob")
    other = dict(KNOWN_RESULTS, best_overall_response="PR")
    agree = build_sdtm([a, b], {a.read_id: KNOWN_RESULTS, b.read_id: KNOWN_RESULTS})
    assert {(r["RSEVALID"], r["RSACPTFL"]) for r in agree.rs} == {("RADIOLOGIST 1", "Y"), ("RADIOLOGIST 2", "N")}
    disagree = build_sdtm([a, b], {a.read_id: KNOWN_RESULTS, b.read_id: other})
    assert {r["RSACPTFL"] for r in disagree.rs} == {"N"}


def test_a_status_that_does_not_fit_the_role_names_the_lesion() -> None:
    read = known_read()
    read.timepoints[1].assessments["T1"] = LesionAssessment(LesionStatus.PRESENT)
    with pytest.raises(SdtmError, match="subject S001 timepoint week 6 lesion T1"):
        build_sdtm([read])


def test_files_csv_xpt_and_define_notes(tmp_path: Path) -> None:
    read = known_read()
    read.lesions["NT1"].organ = "ascites"
    read.timepoints[1].assessments["T1"] = LesionAssessment(LesionStatus.MERGED, merged_into="T2")
    ds = build_sdtm([read], {read.read_id: KNOWN_RESULTS}, study_id="TIL01")
    write_sdtm(ds, tmp_path, study_id="TIL01")
    for name, columns in (("tu", TU_COLUMNS), ("tr", TR_COLUMNS), ("rs", RS_COLUMNS)):
        with (tmp_path / f"{name}.csv").open() as fh:
            rows = list(csv.DictReader(fh))
        assert list(rows[0]) == columns
        dsname, variables, xrows = read_xport(tmp_path / f"{name}.xpt")
        assert dsname == name.upper() and [v.name for v in variables] == columns
        assert len(xrows) == len(rows)
    _, variables, tr = read_xport(tmp_path / "tr.xpt")
    assert {v.name for v in variables if v.numeric} == {"TRSEQ", "TRSTRESN", "VISITNUM"}
    assert [r["TRSTRESN"] for r in tr if r["TRTESTCD"] == "SUMDIAM"] == [50.0, 32.0, 16.0]
    notes = (tmp_path / "define-notes.md").read_text()
    assert "| TULOC | ASCITES |" in notes
    assert "| TRORRES | MERGED |" in notes
    assert "| TRORRES | UNEQUIVOCAL |" in notes


def test_every_engine_response_code_has_an_sdtm_value() -> None:
    from recist import Response

    expected = {"non-CR/non-PD": "NON-CR/NON-PD", "non-iCR/non-iUPD": "NON-iCR/NON-iUPD"}
    read = known_read()
    for code in Response:
        results = json.loads(json.dumps(KNOWN_RESULTS))
        results["timepoints"][1]["overall_response"] = code.value
        ds = build_sdtm([read], {read.read_id: results})
        assert _rows(ds.rs, RSTESTCD="OVRLRESP")[0]["RSORRES"] == expected.get(code.value, code.value)
    results["timepoints"][1]["overall_response"] = "NED"
    assert "| RSORRES | NED |" in build_sdtm([read], {read.read_id: results}).notes.to_markdown("X")


def test_the_engine_agrees_with_the_known_results() -> None:
    from recist import evaluate_case

    got = evaluate_case(known_read().to_case())
    keys = ("label", "sum_mm", "change_from_baseline_pct", "target_response", "non_target_response",
            "overall_response")
    assert [{k: t[k] for k in keys} for t in got["timepoints"]] == [
        {k: t[k] for k in keys} for t in KNOWN_RESULTS["timepoints"]
    ]
    assert got["best_overall_response"] == KNOWN_RESULTS["best_overall_response"]


def test_a_read_the_engine_refuses_is_named() -> None:
    from workstation.export.sdtm import evaluate_reads

    read = known_read()
    read.timepoints[1].assessments["T2"].measurements[0].short_axis_mm = None  # a node with no short axis
    with pytest.raises(SdtmError, match=r"subject S001 \(alice, RECIST 1.1\): a lymph node is measured on its short"):
        evaluate_reads([read])
    read = known_read()
    read.timepoints[1].date, read.timepoints[2].date = read.timepoints[2].date, read.timepoints[1].date
    with pytest.raises(SdtmError, match=r"subject S001 \(alice, RECIST 1.1\)"):
        evaluate_reads([read])


def test_an_irecist_read_beside_the_recist_one_adds_only_what_irecist_adds() -> None:
    reads = []
    for reader in ("alice", "bob"):
        recist_read, irecist_read = known_read(reader), known_read(reader)
        irecist_read.criteria, irecist_read.read_id = "iRECIST", f"{irecist_read.read_id}-i"
        n1 = irecist_read.timepoints[2].assessments["N1"]
        n1.status = LesionStatus.MEASURED
        n1.measurements = [dataclasses.replace(irecist_read.timepoints[2].assessments["T1"].measurements[0],
                                               long_axis_mm=11.0)]
        reads += [recist_read, irecist_read]
    irecist_results = json.loads(json.dumps(KNOWN_RESULTS).replace('"PD"', '"iUPD"').replace('"PR"', '"iPR"'))
    irecist_results["best_overall_response"] = "iPR"
    results = {r.read_id: KNOWN_RESULTS if r.criteria == "RECIST 1.1" else irecist_results for r in reads}
    ds = build_sdtm(reads, results)
    assert len(ds.tu) == 8  # 4 lesions x 2 readers, not repeated for iRECIST
    assert {(r["TUEVALID"], r["TUACPTFL"]) for r in ds.tu} == {("RADIOLOGIST 1", "Y"), ("RADIOLOGIST 2", "N")}
    assert len(_rows(ds.tr, TRTESTCD="SUMDIAM")) == 6
    new = _rows(ds.tr, TRLNKID="N1", TRTESTCD="LDIAM")
    assert [(r["TREVALID"], r["TRSTRESN"]) for r in new] == [("RADIOLOGIST 1", 11.0), ("RADIOLOGIST 2", 11.0)]
    assert {(r["RSCAT"], r["RSEVALID"]) for r in ds.rs if r["RSTESTCD"] == "BESTRESP"} == {
        ("RECIST 1.1", "RADIOLOGIST 1"), ("RECIST 1.1", "RADIOLOGIST 2"),
        ("iRECIST", "RADIOLOGIST 1"), ("iRECIST", "RADIOLOGIST 2"),
    }  # fmt: skip
    assert "TU and TR come from the RECIST 1.1 read" in ds.notes.to_markdown("X")


def test_a_new_lesion_only_the_irecist_read_has_gets_its_tu_and_tr_records() -> None:
    """The data manager's re-check: a new lesion recorded in the iRECIST read only (its RECIST 1.1 partner read does
    not have it) had TR diameters whose TRLNKID had no TU parent, and no TUMSTATE. It is written as any lesion."""
    recist_read, irecist_read = known_read(), known_read()
    irecist_read.criteria, irecist_read.read_id = "iRECIST", f"{irecist_read.read_id}-i"
    del recist_read.lesions["N1"]
    for tp in recist_read.timepoints:
        tp.assessments.pop("N1", None)
    ds = build_sdtm([recist_read, irecist_read])
    assert [r["TULNKID"] for r in ds.tu] == ["T1", "T2", "NT1", "N1"]  # once, from the read that has it
    assert _rows(ds.tr, TRLNKID="N1", TRTESTCD="TUMSTATE")[0]["TRORRES"] == "UNEQUIVOCAL"
    assert {r["TRLNKID"] for r in ds.tr} - {""} <= {r["TULNKID"] for r in ds.tu}  # no orphan link


def test_a_new_lesion_too_small_to_measure_is_exported() -> None:
    """The data manager's re-check: a new lesion marked too_small (a valid case file) stopped the whole export."""
    read = known_read()
    read.timepoints[2].assessments["N1"] = LesionAssessment(LesionStatus.TOO_SMALL)
    ds = build_sdtm([read])
    rows = _rows(ds.tr, TRLNKID="N1", VISIT="FOLLOW-UP 2")
    assert [(r["TRTESTCD"], r["TRORRES"]) for r in rows] == [("TUMSTATE", "UNEQUIVOCAL"),
                                                           ("LDIAM", "TOO SMALL TO MEASURE")]


def test_the_central_reviews_decision_is_authoritative() -> None:
    a, b = known_read("alice"), known_read("bob")
    results = {a.read_id: KNOWN_RESULTS, b.read_id: KNOWN_RESULTS}
    ds = build_sdtm([a, b], results, accepted_ids={b.read_id})  # the adjudicator chose bob's read
    assert {(r["RSEVALID"], r["RSACPTFL"]) for r in ds.rs} == {("RADIOLOGIST 1", "N"), ("RADIOLOGIST 2", "Y")}
    undecided = build_sdtm([a, b], results, accepted_ids=set())
    assert {r["RSACPTFL"] for r in undecided.rs} == {"N"}


def test_a_visit_not_read_yet_has_no_response_and_does_not_stop_the_export() -> None:
    """Mid-read (the app's Ctrl+E, or a read file saved before the last visit was read): the visit is left out."""
    from datetime import timedelta

    from workstation.export.sdtm import evaluate_reads
    from workstation.read_model import TimepointRead

    read = known_read()
    read.timepoints.append(TimepointRead("WEEK 18", read.timepoints[-1].date + timedelta(days=42)))
    ds = build_sdtm([read], evaluate_reads([read]), study_id="TIL01")
    assert not _rows(ds.rs, VISIT="FOLLOW-UP 3") and not _rows(ds.tr, VISIT="FOLLOW-UP 3")
    assert _rows(ds.rs, VISIT="FOLLOW-UP 2", RSTESTCD="OVRLRESP")[0]["RSORRES"] == "PD"


def test_visit_is_one_to_one_with_visitnum_across_site_and_blinded_central_reads() -> None:
    """A site read labels its visits (WEEK 6, ...); an unblinded central read keeps the blinded labels (Follow-up 1,
    ...), the review not knowing the site's. VISIT follows VISITNUM alone, the same for every evaluator."""
    from workstation.review.blinding import blinded_label

    site = known_read("sam", reader_role="site")
    central = known_read("alice")
    for i, tp in enumerate(central.timepoints):
        tp.label = blinded_label(i)
    assert [tp.label for tp in site.timepoints] != [tp.label for tp in central.timepoints]
    from workstation.export.sdtm import evaluate_reads

    ds = build_sdtm([site, central], evaluate_reads([site, central]))
    pairs = {(r["VISITNUM"], r["VISIT"]) for r in ds.tu + ds.tr + ds.rs if "VISITNUM" in r}
    assert pairs == {(1, "BASELINE"), (2, "FOLLOW-UP 1"), (3, "FOLLOW-UP 2")}
    assert {r["TREVALID"] for r in _rows(ds.tr, VISITNUM=2)} == {"", "RADIOLOGIST 1"}  # both evaluators there
    assert "VISIT is derived from VISITNUM" in ds.notes.to_markdown("X")


def test_one_imaging_date_has_one_visitnum_whichever_evaluator_read_it() -> None:
    """The site did not read the first follow-up the central reader read: its second follow-up is the same imaging
    date and so the same VISITNUM (by place in each read it was 2 beside the central record's 3)."""
    site = known_read("sam", reader_role="site")
    central = known_read("alice")
    del site.timepoints[1]
    for tp in site.timepoints:
        tp.assessments.pop("N1", None)  # keep the shortened read consistent: its new lesion is not needed here
    ds = build_sdtm([site, central])
    dates = {(r["TREVAL"], r["TRDTC"]): r["VISITNUM"] for r in ds.tr}
    later = central.timepoints[2].date.isoformat()
    assert dates[("INVESTIGATOR", later)] == dates[("INDEPENDENT ASSESSOR", later)] == 3
    assert {(r["VISITNUM"], r["VISIT"]) for r in ds.tr} == {(1, "BASELINE"), (2, "FOLLOW-UP 1"), (3, "FOLLOW-UP 2")}
    assert {r["VISITNUM"] for r in ds.tr if r["TREVAL"] == "INVESTIGATOR"} == {1, 3}


def test_define_notes_state_the_accepted_read_rule_the_export_used() -> None:
    """RADIOLOGIST n is by reader name; from the database, a concordant subject's accepted read is reader 1 of the
    review assignment, which need not be RADIOLOGIST 1. Read files: inferred, RADIOLOGIST 1's."""
    a, b = known_read("alice"), known_read("bob")
    results = {a.read_id: KNOWN_RESULTS, b.read_id: KNOWN_RESULTS}
    from_review = build_sdtm([a, b], results, accepted_ids={b.read_id}).notes.to_markdown("X")
    assert "reader 1 of the review assignment" in " ".join(from_review.split())
    assert "in order of reader name" in " ".join(from_review.split())
    assert "RADIOLOGIST 1's" not in from_review and "reader order" not in from_review
    inferred = build_sdtm([a, b], results).notes.to_markdown("X")
    assert "RADIOLOGIST 1's" in inferred and "reader 1 of the review assignment" not in " ".join(inferred.split())


def test_an_unscheduled_scan_is_numbered_after_the_visit_before_it_and_renumbers_nothing() -> None:
    """SDTM numbers an unscheduled visit after the one before it (2.01, 2.02): a scan labelled unscheduled leaves the
    scheduled visits' VISITNUM (the keys of records delivered before) as they were; a central read of the same dates,
    blinded to the labels, gets the same numbers."""
    from datetime import date

    from workstation.export.sdtm import visit_name, visit_numbers
    from workstation.read_model import Read, TimepointRead

    def read(reader: str, labels: list[tuple[str, date]], role: str = "site") -> Read:
        return Read("S1", reader, reader_role=role, timepoints=[TimepointRead(lab, when) for lab, when in labels])

    scheduled = [("baseline", date(2026, 1, 5)), ("week 6", date(2026, 2, 16)), ("week 12", date(2026, 3, 30))]
    before = visit_numbers([read("site1", scheduled)])
    assert list(before.values()) == [[1, 2, 3]]
    extra = [*scheduled[:2], ("Unscheduled 1", date(2026, 3, 2)), ("UNSCHEDULED 2", date(2026, 3, 9)), scheduled[2]]
    site = read("site1", extra)
    central = read("reader1", [("Baseline", d) for _, d in extra[:1]] + [(f"Follow-up {i}", d) for i, (_, d)
                                                                        in enumerate(extra[1:], 1)], "central")
    numbers = visit_numbers([site, central])
    assert numbers[site.read_id] == numbers[central.read_id] == [1, 2, 2.01, 2.02, 3]
    assert [visit_name(n) for n in numbers[site.read_id]] == [
        "BASELINE", "FOLLOW-UP 1", "UNSCHEDULED 2.01", "UNSCHEDULED 2.02", "FOLLOW-UP 2"
    ]  # fmt: skip
    # an unscheduled scan before the first follow-up comes after the baseline
    early = read("site1", [scheduled[0], ("unscheduled", date(2026, 1, 20)), scheduled[1]])
    assert visit_numbers([early])[early.read_id] == [1, 1.01, 2]


def test_a_non_target_further_increase_is_written_as_itself_and_said_in_the_define_notes() -> None:
    """iRECIST's "further increase since the last assessment" (the FAQ's INCLA, which confirms a non-target iUPD) is
    not in the Tumor State codelist: TRORRES says it as it is, and the define notes say what it means."""
    read = known_read()
    read.timepoints[2].assessments["NT1"] = LesionAssessment(LesionStatus.FURTHER_INCREASE)
    ds = build_sdtm([read], {read.read_id: KNOWN_RESULTS}, "STUDY1")
    (row,) = _rows(ds.tr, TRLNKID="NT1", VISITNUM=3)
    assert (row["TRTESTCD"], row["TRORRES"], row["TRSTRESC"]) == ("TUMSTATE", "FURTHER INCREASE", "FURTHER INCREASE")
    assert "FURTHER INCREASE" in ds.notes.to_markdown("STUDY1")


def _sum_of_targets(ds, visit: str) -> float:
    return round(sum(r["TRSTRESN"] for r in _rows(ds.tr, VISIT=visit, TRGRPID="TARGET")
                     if r["TRTESTCD"] in ("LDIAM", "LPERP")), 1)


def test_sumdiam_is_the_sum_of_the_target_records_a_target_too_small_to_measure_included() -> None:
    """The data manager's reconciliation: SUMDIAM = the targets' TRSTRESN at every visit (a target too small to
    measure counted 5 mm in SUMDIAM while its record had no number)."""
    from workstation.export.sdtm import evaluate_reads

    read = known_read()
    read.timepoints[1].assessments["T1"] = LesionAssessment(LesionStatus.TOO_SMALL)
    ds = build_sdtm([read], evaluate_reads([read]))
    for row in _rows(ds.tr, TRTESTCD="SUMDIAM"):
        assert _sum_of_targets(ds, row["VISIT"]) == row["TRSTRESN"], row["VISIT"]
    assert _rows(ds.tr, TRTESTCD="SUMDIAM", VISIT="FOLLOW-UP 1")[0]["TRSTRESN"] == 17.0  # 5 + the node's 12


def test_a_target_left_out_of_a_visit_and_its_sum_are_not_done() -> None:
    """A target left out of a visit that was read is not evaluated (as the engine reads it): the same TR record as
    one marked not evaluated, and that visit's SUMDIAM is a NOT DONE record, not missing."""
    from workstation.export.sdtm import evaluate_reads

    read = known_read()
    del read.timepoints[1].assessments["T2"]
    marked = known_read()
    marked.timepoints[1].assessments["T2"] = LesionAssessment(LesionStatus.NOT_EVALUATED)
    for r in (read, marked):
        ds = build_sdtm([r], evaluate_reads([r]))
        t2 = _rows(ds.tr, TRLNKID="T2", VISIT="FOLLOW-UP 1")
        assert [(x["TRTESTCD"], x["TRSTAT"], x["TRREASND"]) for x in t2] == [("LPERP", "NOT DONE", "NOT EVALUATED")]
        total = _rows(ds.tr, TRTESTCD="SUMDIAM", VISIT="FOLLOW-UP 1")
        assert [(x["TRSTAT"], x["TRREASND"], x.get("TRSTRESN")) for x in total] == [
            ("NOT DONE", "NOT ALL TARGETS EVALUATED", None)]
        assert _rows(ds.rs, RSTESTCD="TRGRESP", VISIT="FOLLOW-UP 1")[0]["RSORRES"] == "NE"


def test_tr_and_rs_records_of_a_visit_share_a_link_group() -> None:
    """TRLNKGRP = RSLNKGRP ties one evaluator's measurements at a visit to the responses derived from them
    (SDTMIG 3.3 TR/RS), and the RELREC dataset says so."""
    ds = build_sdtm(*_one_read())
    for rs in ds.rs:
        if rs["RSTESTCD"] == "BESTRESP":
            assert not rs.get("RSLNKGRP")
            continue
        tr = _rows(ds.tr, TRLNKGRP=rs["RSLNKGRP"])
        assert tr and {r["VISITNUM"] for r in tr} == {rs["VISITNUM"]}
    groups = {r["TRLNKGRP"] for r in ds.tr}
    assert len(groups) == len({r["VISITNUM"] for r in ds.tr})  # one per visit of this one evaluator
    assert [(r["RDOMAIN"], r["IDVAR"], r["RELTYPE"]) for r in ds.relrec] == [
        ("TR", "TRLNKGRP", "MANY"), ("RS", "RSLNKGRP", "ONE")]
