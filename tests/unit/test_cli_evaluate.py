"""`recist evaluate` and `recist endpoints`: output, and one line on stderr with a non-zero exit for bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from recist import evaluate_case
from tests.unit.recist_builders import m, make_case, new, non_target, st, target
from workstation.cli import main


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _case(sid: str = "S001", last_mm: float = 20.0) -> dict[str, Any]:
    case = make_case([target("T1", 32.0), non_target("NT1")], (42, [m("T1", 20.0), st("NT1", "present")]),
                     (84, [m("T1", last_mm), st("NT1", "present")]))
    case["subject_id"] = sid
    return case


def test_evaluate_prints_the_output_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(_write(tmp_path / "c.json", _case()))]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["subject_id"] == "S001" and out["best_overall_response"] == "PR"
    tp = out["timepoints"][1]
    for key in ("label", "sum_mm", "change_from_baseline_pct", "change_from_nadir_pct", "target_response",
                "non_target_response", "new_lesions", "overall_response", "reason"):
        assert key in tp
    assert (tp["sum_mm"], tp["change_from_baseline_pct"], tp["overall_response"]) == (20.0, -37.5, "PR")


def test_evaluate_table_for_a_person(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(_write(tmp_path / "c.json", _case())), "--format", "table"]) == 0
    out = capsys.readouterr().out
    assert "Subject S001 - RECIST 1.1" in out and "-37.5%" in out and "Best overall response: PR" in out


def test_a_file_may_hold_a_list_of_cases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(_write(tmp_path / "c.json", [_case("S1"), _case("S2", 40.0)]))]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["subject_id"] for r in out] == ["S1", "S2"]


BAD = [
    ("malformed JSON", '{"subject_id": "S001", ', "not valid JSON: Expecting"),
    ("six targets", make_case([target(f"T{i}", 20) for i in range(6)]),
     "subject S001, timepoint 'baseline', lesion T5: 6 target lesions"),
    ("three in one organ", make_case([target(f"T{i}", 20, organ="liver") for i in range(3)]),
     "subject S001, timepoint 'baseline', lesion T2: 3 target lesions in liver"),
    ("below measurability", make_case([target("T1", 8.0)]), "subject S001, timepoint 'baseline', lesion T1: cannot"),
    ("never declared", make_case([target("T1", 20)], (42, [m("T1", 20), m("T2", 4)])),
     "subject S001, timepoint 'day 42', lesion T2: never declared"),
    ("dates out of order", make_case([target("T1", 20)], (42, [m("T1", 20)]), (40, [m("T1", 20)])),
     "subject S001, timepoint 'day 40': date"),
    ("negative diameter", make_case([target("T1", 20)], (42, [m("T1", -2.5)])),
     "subject S001, timepoint 'day 42', lesion T1: negative diameter -2.5 mm"),
    ("new lesion without status", make_case([target("T1", 20)], (42, [m("T1", 20), new("X1") | {"status": None}])),
     "lesion X1: a new lesion's 'status'"),
    ("a number of 5001 digits", '{"subject_id": ' + "9" * 5001 + "}", "not a case file: Exceeds the limit"),
    ("nested 100000 deep", "[" * 100_000 + "]" * 100_000, "not a case file: its JSON is nested too deeply to read"),
]


@pytest.mark.parametrize(("why", "content", "expected"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_exits_non_zero_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], why: str,
                                                content: Any, expected: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    assert main(["evaluate", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert lines[0].startswith(f"recist evaluate: {path}: ") and expected in lines[0], (why, lines[0])


def test_a_byte_order_mark_is_no_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A case file saved by a Windows editor starts with a UTF-8 byte-order mark: it was refused."""
    path = tmp_path / "bom.json"
    path.write_text(json.dumps(_case()), encoding="utf-8-sig")
    assert main(["evaluate", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["best_overall_response"] == "PR"


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(tmp_path / "nope.json")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_endpoints_over_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path / "a.json", _case("S1"))
    _write(tmp_path / "b.json", [_case("S2", 40.0), _case("S3", 20.0)])
    assert main(["endpoints", str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 3 and out["orr"]["count"] == 2 and out["pfs"]["events"] == 1
    assert main(["endpoints", str(tmp_path), "--format", "table"]) == 0
    table = capsys.readouterr().out
    assert "ORR: 2/3 = 66.7 % (95 % CI 9.4 to 99.2 %, Clopper-Pearson)" in table
    assert "PFS: median not reached; 1 event, 2 censored of 3" in table


def test_endpoints_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["endpoints", str(tmp_path)]) == 1
    assert "no case files" in capsys.readouterr().err
    _write(tmp_path / "a.json", _case("S1"))
    _write(tmp_path / "b.json", _case("S1"))
    assert main(["endpoints", str(tmp_path)]) == 1
    assert "subject S1: already in" in capsys.readouterr().err
    _write(tmp_path / "b.json", make_case([target("T1", 20)], (42, [m("T1", -1)])))
    assert main(["endpoints", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert "b.json: subject S001, timepoint 'day 42', lesion T1: negative diameter" in err and "\n" not in err


def test_endpoints_pass_over_other_json_and_choose_the_criteria(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "S1").mkdir()
    (tmp_path / "S2").mkdir()
    _write(tmp_path / "S1" / "case_recist.json", _case("S1"))
    _write(tmp_path / "S2" / "case_recist.json", _case("S2", 40.0))
    _write(tmp_path / "S1" / "case_irecist.json", {**_case("S1"), "criteria": "iRECIST"})
    _write(tmp_path / "trial.json", {"subjects": [{"subject_id": "S1"}]})
    _write(tmp_path / "S1" / "expected.json", {"subject_id": "S1", "timepoints": [{"label": "baseline"}]})
    assert main(["endpoints", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["criteria"] == "RECIST 1.1" and out["n"] == 2
    assert "passed over 2 JSON file(s)" in captured.err and "also holds iRECIST" in captured.err
    # S2 has a RECIST 1.1 case file only: under iRECIST its measurements are evaluated by iRECIST's rules, as `recist
    # report` and the exports do (the data manager's finding: endpoints left such a subject out, the report did not)
    assert main(["endpoints", str(tmp_path), "--criteria", "iRECIST"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["n"] == 2
    assert ("1 subject(s) with no iRECIST case file (S2): their other case file evaluated under iRECIST, as "
            "`recist report` does") in captured.err


def test_an_empty_list_is_no_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path / "empty.json", [])
    assert main(["evaluate", str(tmp_path / "empty.json")]) == 1
    assert "holds no case" in capsys.readouterr().err


def test_many_subjects_are_evaluated_on_every_core_with_the_same_output(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from workstation.cli import evaluate as evaluate_command
    from workstation.cli.evaluate import _TEXT, _decode_and_evaluate, _split_list

    cases = [_case(f"S{i}", 20.0 + i) for i in range(12)]
    _write(tmp_path / "many.json", cases)
    monkeypatch.setattr(evaluate_command, "PARALLEL_MIN_BYTES", 100)
    monkeypatch.setattr(evaluate_command.os, "cpu_count", lambda: 2)
    assert main(["evaluate", str(tmp_path / "many.json")]) == 0
    assert json.loads(capsys.readouterr().out) == [evaluate_case(c) for c in cases]
    cases[7]["timepoints"][1]["lesions"][0]["diameter_mm"] = -2
    _write(tmp_path / "many.json", cases)
    assert main(["evaluate", str(tmp_path / "many.json")]) == 1
    err = capsys.readouterr().err.strip()
    assert "many.json: subject S7" in err and "negative diameter" in err and "\n" not in err
    # A cut that is not between cases is found out (its runs do not decode) and one process does the work. In valid
    # JSON the pattern cannot sit inside a string (its quote would be escaped): only a nested object can fool it.
    cases[7]["timepoints"][1]["lesions"][0]["diameter_mm"] = 12.0
    text = json.dumps(cases)
    nested = text.replace(', {"subject_id": "S6"', ', {"subject_id": "S6", "x": [{"a": 1}, {"subject_id": 2}]', 1)
    _TEXT[:] = [nested]
    try:
        runs = _split_list(nested, 2)
        assert runs is not None and any(_decode_and_evaluate(r) is None for r in runs)
    finally:
        _TEXT.clear()
    _write(tmp_path / "many.json", cases)
    assert main(["evaluate", str(tmp_path / "many.json")]) == 0
    assert json.loads(capsys.readouterr().out) == [evaluate_case(c) for c in cases]
    (tmp_path / "many.json").write_text((tmp_path / "many.json").read_text()[:-40], encoding="utf-8")
    assert main(["evaluate", str(tmp_path / "many.json")]) == 1
    assert "not valid JSON" in capsys.readouterr().err
