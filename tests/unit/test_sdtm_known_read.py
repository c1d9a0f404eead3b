"""A read with known truth, shared by the export tests, and the lossless JSON round trip of reads and case files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from workstation.export.read_json import (
    ReadFileError,
    load_read,
    read_from_case,
    read_from_dict,
    read_to_dict,
    write_read,
)
from workstation.read_model import (
    Lesion,
    LesionAssessment,
    LesionStatus,
    Measurement,
    MeasurementOrigin,
    Read,
    Role,
    Signature,
    TimepointRead,
)

SLICES = 10
SLICE_MM = 5.0
PIXEL_MM = 0.8
MATRIX = 64
FRAME_OF_REFERENCE = "2.25.1000"


@dataclass(frozen=True)
class KnownSeries:
    """The CT series a timepoint's measurements point into (the DICOM tests write it with pydicom)."""

    study_uid: str
    series_uid: str
    sop_uids: tuple[str, ...]
    study_date: date

    def z(self, k: int) -> float:
        return k * SLICE_MM


def known_series(tp_index: int, day: date) -> KnownSeries:
    base = f"2.25.{9000 + tp_index}"
    return KnownSeries(f"{base}1", f"{base}2", tuple(f"{base}3{k:02d}" for k in range(SLICES)), day)


def _line(series: KnownSeries, k: int, x0: float, y0: float, length: float, vertical: bool = False) -> Measurement:
    """A measurement on slice k: the long axis along x (or y), the short axis along the other direction."""
    z = series.z(k)
    a = ((x0, y0, z), (x0 + length, y0, z)) if not vertical else ((x0, y0, z), (x0, y0 + length, z))
    return Measurement(long_axis_mm=length, long_axis_endpoints=a, series_uid=series.series_uid,
                       sop_instance_uid=series.sop_uids[k], frame_of_reference_uid=FRAME_OF_REFERENCE,
                       slice_position_mm=z, origin=MeasurementOrigin.MANUAL)


def _node(series: KnownSeries, k: int, long_axis: float, short_axis: float) -> Measurement:
    m = _line(series, k, 0.0, 0.0, long_axis)
    z = series.z(k)
    m.short_axis_mm = short_axis
    m.short_axis_endpoints = ((long_axis / 2, -short_axis / 2, z), (long_axis / 2, short_axis / 2, z))
    m.origin = MeasurementOrigin.ADJUSTED
    m.engine, m.model_id, m.model_version = "monai", "lesion-unet", "1.2.0"
    return m


DATES = (date(2026, 1, 5), date(2026, 2, 16), date(2026, 3, 30))
LABELS = ("baseline", "week 6", "week 12")

#: What the response engine must say for `known_read()` (RECIST 1.1, reasoned by hand): baseline sum 32 + 18 = 50;
#: week 6: 20 + 12 = 32 (-36 %, PR); week 12: fragments 10 + 6 and a node at 0 = 16, a new lung lesion: PD.
#: Best response: PR unconfirmed (the next assessment is PD), SD reached at day 42 >= 42 days: SD.
KNOWN_RESULTS: dict[str, Any] = {
    "subject_id": "S001",
    "criteria": "RECIST 1.1",
    "timepoints": [
        {"label": "baseline", "sum_mm": 50.0, "change_from_baseline_pct": None, "change_from_nadir_pct": None,
         "target_response": None, "non_target_response": None, "new_lesions": None, "overall_response": None,
         "reason": "baseline"},
        {"label": "week 6", "sum_mm": 32.0, "change_from_baseline_pct": -36.0, "change_from_nadir_pct": -36.0,
         "target_response": "PR", "non_target_response": "non-CR/non-PD", "new_lesions": "no",
         "overall_response": "PR", "reason": "sum -36.0 % from baseline"},
        {"label": "week 12", "sum_mm": 16.0, "change_from_baseline_pct": -68.0, "change_from_nadir_pct": -50.0,
         "target_response": "PR", "non_target_response": "non-CR/non-PD", "new_lesions": "yes",
         "overall_response": "PD", "reason": "new lesion"},
    ],
    "best_overall_response": "SD",
}  # fmt: skip


def known_read(reader: str = "alice", reader_role: str = "central") -> Read:
    """S001: liver target T1, nodal target T2 (short axis), bone non-target NT1, new lung lesion N1 at week 12."""
    read = Read(subject_id="S001", reader=reader, reader_role=reader_role, read_id=f"read-{reader}", sd_min_days=42)
    read.lesions = {
        "T1": Lesion("T1", Role.TARGET, "liver", location="segment VII", tracking_uid="2.25.7001"),
        "T2": Lesion("T2", Role.TARGET, "lymph node", is_node=True, location="subcarinal", tracking_uid="2.25.7002"),
        "NT1": Lesion("NT1", Role.NON_TARGET, "bone", location="T10 vertebra", tracking_uid="2.25.7003"),
        "N1": Lesion("N1", Role.NEW, "lung", location="right lower lobe", tracking_uid="2.25.7004", first_timepoint=2),
    }
    s = [known_series(i, d) for i, d in enumerate(DATES)]
    tps = [TimepointRead(LABELS[i], DATES[i], s[i].study_uid, s[i].series_uid) for i in range(3)]
    tps[0].assessments = {
        "T1": LesionAssessment(LesionStatus.MEASURED, [_line(s[0], 3, -10.0, 5.0, 32.0)]),
        "T2": LesionAssessment(LesionStatus.MEASURED, [_node(s[0], 6, 25.0, 18.0)]),
        "NT1": LesionAssessment(LesionStatus.PRESENT, comment="lytic", point_mm=(5.5, -20.25, 12.0)),
    }
    tps[1].assessments = {
        "T1": LesionAssessment(LesionStatus.MEASURED, [_line(s[1], 3, -8.0, 5.0, 20.0, vertical=True)]),
        "T2": LesionAssessment(LesionStatus.MEASURED, [_node(s[1], 6, 17.0, 12.0)]),
        "NT1": LesionAssessment(LesionStatus.PRESENT),
    }
    tps[2].assessments = {
        "T1": LesionAssessment(LesionStatus.MEASURED, [_line(s[2], 3, -8.0, 5.0, 10.0),
                                                       _line(s[2], 4, 4.0, -6.0, 6.0)], comment="split"),
        "T2": LesionAssessment(LesionStatus.DISAPPEARED),
        "NT1": LesionAssessment(LesionStatus.PRESENT),
        "N1": LesionAssessment(LesionStatus.UNEQUIVOCAL),
    }
    tps[0].signature = Signature(reader, reader.title(), "2026-01-06T10:00:00+00:00", "read complete")
    read.timepoints = tps
    return read


# ---- tests ---------------------------------------------------------------------------------------------------------
def without_frame_of_reference(read: Read) -> Read:
    """``read`` with its end points' frame of reference removed (measured before the workstation recorded it): its
    DICOM SR cannot be built."""
    for tp in read.timepoints:
        for a in tp.assessments.values():
            for m in a.measurements:
                m.frame_of_reference_uid = ""
    return read


def test_read_json_round_trip_keeps_every_field(tmp_path: Path) -> None:
    read = known_read()
    path = write_read(read, tmp_path / "r.json")
    assert load_read(path) == read
    assert read_from_dict(json.loads(json.dumps(read_to_dict(read)))) == read


def test_case_file_round_trip_gives_the_same_case() -> None:
    case = known_read().to_case()
    again = read_from_case(case, reader="alice")
    assert again.to_case() == case
    assert again.lesions["N1"].first_timepoint == 2
    assert again.timepoints[2].assessments["T2"].status is LesionStatus.DISAPPEARED


def test_session_store_files_are_read_too(tmp_path: Path) -> None:
    from workstation.session.persistence import JsonReadStore

    read = known_read()
    store = JsonReadStore(tmp_path)
    store.save(read)
    assert load_read(store.path_for(read.subject_id, read.reader)) == read


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"format": "recist-workstation/read", "subject_id": "S1"}', "'reader' is missing"),
        ('{"subject_id": "S1", "timepoints": [{"label": "b", "date": "2026-13-01", "lesions": []}]}', "not a date"),
        ('{"subject_id": "S1", "timepoints": [{"label": "b", "date": "2026-01-01", "lesions": '
         '[{"id": "T1", "role": "target", "organ": "liver", "diameter_mm": -3}]}]}', "cannot be negative"),
        ('{"subject_id": "S1", "timepoints": [{"label": "b", "date": "2026-01-01", "lesions": [{"id": "T1"}]}]}',
         "lesion T1: first appearance gives no role"),
        ("[1, 2]", "expected a JSON object"),
        # the place is named (it was only the file: the data manager's finding)
        ('{"subject_id": "S1", "timepoints": [{"label": "b", "lesions": []}]}',
         "subject S1 timepoint b: required field 'date' is missing"),
        # a lesion twice at one timepoint: the last entry silently won (99 mm: PD) where the engine refuses the file
        ('{"subject_id": "S1", "timepoints": [{"label": "b", "date": "2026-01-01", "lesions": ['
         '{"id": "T1", "role": "target", "organ": "liver", "diameter_mm": 26},'
         '{"id": "T1", "role": "target", "organ": "liver", "diameter_mm": 99}]}]}',
         "timepoint b lesion T1: listed twice at this timepoint"),
        ('{"subject_id": "S1", "subject_id": "S2", "timepoints": []}', "'subject_id' is given twice"),
        ('{"subject_id": "S1", "timepoints": [{"label": "b", "date": "2026-01-01", "lesions": '
         '[{"id": "T1", "role": "target", "organ": "liver"}]}]}', "lesion T1: no diameter_mm; a target needs"),
    ],
)
def test_bad_files_give_one_clear_message(tmp_path: Path, content: str, message: str) -> None:
    p = tmp_path / "bad.json"
    p.write_text(content)
    with pytest.raises(ReadFileError, match=message) as info:
        load_read(p)
    assert str(p) in str(info.value)


def _read_file_with(tmp_path: Path, **changes: object) -> Path:
    """known_read() as a read file, with top-level fields replaced (``lesion_twice``: T1 declared twice; ``t4``: the
    node's first measurement's axes as (long, short))."""
    from workstation.export.read_json import read_to_dict

    d = read_to_dict(known_read())
    if changes.pop("lesion_twice", False):
        d["lesions"].append(dict(d["lesions"][0]))
    if "t4" in changes:
        long_mm, short_mm = changes.pop("t4")  # type: ignore[misc]
        m = d["timepoints"][0]["assessments"]["T2"]["measurements"][0]
        m["long_axis_mm"], m["short_axis_mm"] = long_mm, short_mm
    d.update(changes)
    p = tmp_path / "read.json"
    p.write_text(json.dumps(d))
    return p


def test_read_files_with_impossible_content_are_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ReadFileError, match="lesion T1: declared twice"):
        load_read(_read_file_with(tmp_path, lesion_twice=True))
    with pytest.raises(ReadFileError, match=r"short axis \(30 mm\) is longer than the long axis \(13 mm\)"):
        load_read(_read_file_with(tmp_path, t4=(13.0, 30.0)))
    with pytest.raises(ReadFileError, match="format_version 99 is not one this workstation reads"):
        load_read(_read_file_with(tmp_path, format_version=99))
    assert load_read(_read_file_with(tmp_path, t4=(25.0, 25.04))).timepoints[0].assessments["T2"].measurements
    # a node may be given by its short axis alone; nothing else, and never by no axis at all
    assert load_read(_read_file_with(tmp_path, t4=(None, 18.0))).timepoints[0].assessments["T2"].measurements[
        0].long_axis_mm is None
    with pytest.raises(ReadFileError, match="needs a long axis, or a short axis for a lymph node"):
        load_read(_read_file_with(tmp_path, t4=(None, None)))
    d = json.loads(_read_file_with(tmp_path).read_text())
    d["timepoints"][0]["assessments"]["T1"]["measurements"][0].update(long_axis_mm=None, short_axis_mm=10.0)
    (tmp_path / "read.json").write_text(json.dumps(d))
    with pytest.raises(ReadFileError, match="lesion T1: a measurement without a long axis; only a lymph node"):
        load_read(tmp_path / "read.json")


def test_a_case_file_node_has_no_long_axis_invented() -> None:
    """A case file gives a node its short axis only: the long axis was set to the same value, and measurements.csv,
    the read files and the SR showed a long axis nobody measured."""
    from workstation.export.read_json import read_from_case, read_to_dict
    from workstation.export.tables import measurement_rows

    read = read_from_case(known_read().to_case(), reader="alice")
    node = read.timepoints[0].assessments["T2"].measurements[0]
    assert (node.long_axis_mm, node.short_axis_mm) == (None, 18.0)
    assert read.timepoints[0].assessments["T1"].measurements[0].long_axis_mm == 32.0
    row = next(r for r in measurement_rows(read) if r["lesion_id"] == "T2" and r["timepoint"] == LABELS[0])
    assert (row["long_axis_mm"], row["short_axis_mm"], row["recist_diameter_mm"]) == (None, 18.0, 18.0)
    assert read_from_dict(json.loads(json.dumps(read_to_dict(read)))) == read


def test_a_case_file_exports_with_the_same_tracking_uids_every_time(tmp_path: Path) -> None:
    """A case file carries no tracking UIDs: they were drawn at random on every export (two exports of one file
    differed), and the RECIST 1.1 and iRECIST reads of one lesion had different ones."""
    from workstation.export.read_json import read_from_case

    case = {"subject_id": "S1", "timepoints": [{"label": "b", "date": "2026-01-01", "lesions": [
        {"id": "T1", "role": "target", "organ": "liver", "diameter_mm": 26}]}]}  # fmt: skip
    first, again = read_from_case(case), read_from_case(case)
    irecist = read_from_case({**case, "criteria": "iRECIST"})
    uid = first.lesions["T1"].tracking_uid
    assert uid == again.lesions["T1"].tracking_uid == irecist.lesions["T1"].tracking_uid
    assert uid.startswith("2.25.") and len(uid) <= 64
    assert read_from_case({**case, "subject_id": "S2"}).lesions["T1"].tracking_uid != uid


def test_a_new_lesion_left_out_after_its_iupd_is_not_exported_as_no_new_lesion() -> None:
    """The data manager's finding: the engine said NE ("not assessed here") but RS carried NEWLPROG N."""
    from tests.unit.recist_builders import m, make_case, new, target
    from workstation.export.read_json import read_from_case
    from workstation.export.sdtm import build_sdtm, evaluate_reads

    case = make_case([target("T1", 50.0)], (42, [m("T1", 30.0), new("X1", mm=12.0)]), (84, [m("T1", 30.0)]),
                     criteria="iRECIST")
    read = read_from_case(case, reader="alice")
    sdtm = build_sdtm([read], evaluate_reads([read]), "S")
    newlprog = [r["RSORRES"] for r in sdtm.rs if r["RSTESTCD"] == "NEWLPROG"]
    overall = [r["RSORRES"] for r in sdtm.rs if r["RSTESTCD"] == "OVRLRESP"]
    assert newlprog == ["Y", "NE"] and overall == ["iUPD", "NE"]
