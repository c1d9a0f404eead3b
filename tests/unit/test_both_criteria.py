"""Every read's responses under RECIST 1.1 and iRECIST from its one set of measurements (`both_criteria`): derived
reads only where the evaluator did not read under the other criteria, RS under both RSCATs, TU/TR once, the accepted
flag carried over, a derived read the engine refuses left out and said."""

from __future__ import annotations

import dataclasses
from collections import Counter

from tests.unit.test_sdtm_known_read import known_read
from workstation.export.both_criteria import derived_reads, under_both_criteria
from workstation.export.sdtm import build_sdtm
from workstation.read_model import LesionAssessment, LesionStatus, Measurement


def _rs(ds, category: str) -> dict[tuple[str, int], str]:
    return {(r["RSTESTCD"], r.get("VISITNUM", 0)): r["RSORRES"] for r in ds.rs if r["RSCAT"] == category}


def test_a_read_under_one_criteria_has_responses_under_both_and_its_measurements_once() -> None:
    read = known_read()  # RECIST 1.1
    both = under_both_criteria([read])
    assert [r.criteria for r in both.reads] == ["RECIST 1.1", "iRECIST"]
    assert both.source == {"read-alice+iRECIST": "read-alice"} and [r.read_id for r in both.made] == ["read-alice"]
    alone = build_sdtm([read], both.results)
    ds = build_sdtm(both.reads, both.results, derived=both.source)
    assert ds.tu == alone.tu and ds.tr == alone.tr  # the measurements once
    assert _rs(ds, "RECIST 1.1") == _rs(alone, "RECIST 1.1")
    irecist = _rs(ds, "iRECIST")
    assert irecist[("OVRLRESP", 3)] == "iUPD" and irecist[("OVRLRESP", 2)] == "iPR"
    assert {r["RSEVALID"] for r in ds.rs} == {"RADIOLOGIST 1"}
    notes = ds.notes.to_markdown("T")
    assert "from the same measurements evaluated by the other criteria's rules" in notes
    assert "other criteria's rules" not in alone.notes.to_markdown("T")


def test_no_read_is_derived_where_the_evaluator_read_under_both() -> None:
    recist, irecist = known_read(), dataclasses.replace(known_read(), criteria="iRECIST", read_id="read-alice-i")
    assert derived_reads([recist, irecist]) == []
    bob = known_read("bob")
    assert [(s, d.read_id, d.criteria) for s, d in derived_reads([recist, irecist, bob])] == [
        ("read-bob", "read-bob+iRECIST", "iRECIST")
    ]


def test_an_accepted_iRECIST_central_read_gives_the_accepted_RECIST_responses() -> None:
    """A subject centrally reviewed under iRECIST: the trial's primary endpoint (RECIST 1.1) has its accepted RS."""
    alice = dataclasses.replace(known_read(), criteria="iRECIST")
    bob = dataclasses.replace(known_read("bob"), criteria="iRECIST")
    both = under_both_criteria([alice, bob])
    accepted = both.accepted({"read-alice"})
    assert accepted == {"read-alice", "read-alice+RECIST1.1"}
    ds = build_sdtm(both.reads, both.results, accepted_ids=accepted, derived=both.source)
    flags = {(r["RSEVALID"], r["RSCAT"]) : r["RSACPTFL"] for r in ds.rs}  # fmt: skip
    assert flags == {
        ("RADIOLOGIST 1", "iRECIST"): "Y", ("RADIOLOGIST 1", "RECIST 1.1"): "Y",
        ("RADIOLOGIST 2", "iRECIST"): "N", ("RADIOLOGIST 2", "RECIST 1.1"): "N",
    }  # fmt: skip
    assert both.accepted(None) is None
    # TU/TR once per reader: from the derived RECIST 1.1 read, the iRECIST read adding nothing measured twice
    per_reader = Counter(r["TREVALID"] for r in ds.tr if r["TRTESTCD"] in ("LDIAM", "LPERP"))
    one = sum(r["TRTESTCD"] in ("LDIAM", "LPERP") for r in build_sdtm([known_read()]).tr)
    assert one == 6 and per_reader == Counter({"RADIOLOGIST 1": one, "RADIOLOGIST 2": one})


def test_a_measured_new_lesion_is_written_once() -> None:
    read = known_read()
    m = read.timepoints[2].assessments["T1"].measurements[0]
    read.timepoints[2].assessments["N1"] = LesionAssessment(
        LesionStatus.MEASURED, [dataclasses.replace(m, long_axis_mm=12.0, short_axis_mm=None)]
    )
    both = under_both_criteria([read])
    ds = build_sdtm(both.reads, both.results, derived=both.source)
    assert [r["TRORRES"] for r in ds.tr if r["TRLNKID"] == "N1" and r["TRTESTCD"] == "LDIAM"] == ["12.0"]


def test_a_derived_read_the_engine_refuses_is_left_out_and_said(monkeypatch) -> None:
    import recist

    real = recist.evaluate_case

    def refuse_irecist(case):
        if case["criteria"] == "iRECIST":
            raise ValueError("timepoint week 12: something iRECIST cannot take")
        return real(case)

    monkeypatch.setattr(recist, "evaluate_case", refuse_irecist)
    both = under_both_criteria([known_read()])
    assert [r.read_id for r in both.reads] == ["read-alice"] and both.source == {}
    assert both.left_out == [
        "no iRECIST responses for subject S001 (alice): timepoint week 12: something iRECIST cannot take"
    ]


def test_measurement_is_unchanged_by_derivation() -> None:
    """The derived read shares the read's lesions and measurements; nothing of the read made is changed."""
    read = known_read()
    before = dataclasses.asdict(read)
    ((_, derived),) = derived_reads([read])
    assert dataclasses.asdict(read) == before and derived.lesions is read.lesions
    assert isinstance(derived.timepoints[0].assessments["T1"].measurements[0], Measurement)


def test_a_new_lesion_gone_again_is_absent_and_no_new_lesion_progression() -> None:
    """A case file's new lesion at 0 mm (gone: the engine reads it so) was exported as UNEQUIVOCAL with LDIAM 0 and
    NEWLPROG Y beside the engine's PR; NEWLPROG is the engine's new-lesion column now, under both criteria."""
    from workstation.export.read_json import read_from_case

    def tp(i: int, d: float, n1: dict | None) -> dict:
        lesions: list[dict] = [
            {"id": "T1", "diameter_mm": d} | ({"role": "target", "organ": "liver"} if i == 0 else {})
        ]
        if n1 is not None:
            lesions.append({"id": "N1"} | n1)
        return {"label": f"TP{i}", "date": f"2026-0{1 + i}-05", "lesions": lesions}

    case = {"subject_id": "P1", "criteria": "RECIST 1.1", "timepoints": [
        tp(0, 50, None), tp(1, 30, {"role": "new", "organ": "lung", "diameter_mm": 8}), tp(2, 25, {"diameter_mm": 0}),
    ]}  # fmt: skip
    read = read_from_case(case)
    assert read.timepoints[2].assessments["N1"].status is LesionStatus.ABSENT
    both = under_both_criteria([read])
    ds = build_sdtm(both.reads, both.results, derived=both.source)
    n1 = [(r["VISITNUM"], r["TRTESTCD"], r["TRORRES"]) for r in ds.tr if r["TRLNKID"] == "N1"]
    assert n1 == [(2, "TUMSTATE", "UNEQUIVOCAL"), (2, "LDIAM", "8.0"), (3, "TUMSTATE", "ABSENT")]
    assert _rs(ds, "RECIST 1.1")[("NEWLPROG", 3)] == "N" and _rs(ds, "RECIST 1.1")[("NEWLPROG", 2)] == "Y"
    assert _rs(ds, "iRECIST")[("NEWLPROG", 3)] == "N" and _rs(ds, "iRECIST")[("OVRLRESP", 3)] != "iUPD"


def test_an_evaluators_recist_records_come_first_whatever_order_the_reads_came_in() -> None:
    recist = known_read()
    irecist = dataclasses.replace(known_read(), criteria="iRECIST", read_id="read-alice-i")
    m = irecist.timepoints[2].assessments["T1"].measurements[0]
    irecist.timepoints[2].assessments = dict(irecist.timepoints[2].assessments)
    irecist.timepoints[2].assessments["N1"] = LesionAssessment(
        LesionStatus.MEASURED, [dataclasses.replace(m, long_axis_mm=12.0)]
    )
    both = under_both_criteria([irecist, recist])  # the iRECIST read first
    ds = build_sdtm(both.reads, both.results)
    first = min(ds.tr, key=lambda r: r["TRSEQ"])
    assert (first["TRLNKID"], first["VISITNUM"]) == ("T1", 1)  # the baseline, not the iRECIST read's new lesion


def test_two_site_readers_of_a_subject_are_told_apart() -> None:
    """Two site readers, one per criteria: each has responses under both, so their records need --EVALID (empty for
    a site read, they could not be told apart); one site reader keeps it empty."""
    sam = known_read("sam", "site")
    sue = dataclasses.replace(known_read("sue", "site"), criteria="iRECIST")
    both = under_both_criteria([sam, sue])
    ds = build_sdtm(both.reads, both.results, derived=both.source)
    best = {(r["RSEVALID"], r["RSCAT"]) for r in ds.rs if r["RSTESTCD"] == "BESTRESP"}
    assert best == {(f"INVESTIGATOR {n}", c) for n in (1, 2) for c in ("RECIST 1.1", "iRECIST")}
    alone = build_sdtm([sam], both.results)
    assert {r["RSEVALID"] for r in alone.rs} == {""}
