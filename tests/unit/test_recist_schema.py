"""docs/case-file.schema.json: every sample case validates; the schema never refuses a case the engine accepts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings

from recist import evaluate_case
from tests.unit.recist_builders import m, make_case, new, non_target, st, target
from tests.unit.test_recist_properties import cases

DOCS = Path(__file__).resolve().parents[2] / "docs"
VALIDATOR = jsonschema.Draft202012Validator(json.loads((DOCS / "case-file.schema.json").read_text(encoding="utf-8")))


def _doc_examples() -> list[dict[str, Any]]:
    """The case files shown in docs/case-file.md (```json blocks with a subject_id)."""
    text = (DOCS / "case-file.md").read_text(encoding="utf-8")
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, flags=re.S)]
    return [b for b in blocks if isinstance(b, dict) and "subject_id" in b and "best_overall_response" not in b]


SAMPLES = [
    make_case([target("T1", 32.0, "liver"), target("N1", 18.0, "mediastinum", True), non_target("NT1", "bone")],
              (42, [m("T1", [10.0, 5.5]), {"id": "N1", "too_small": True}, st("NT1", "present"),
                    new("X1", "equivocal")]),
              (84, [m("T1", 0.0), m("N1", 9.0), st("NT1", "absent"), st("X1", "unequivocal")]),
              treatment_start="2026-01-10", death_date="2026-06-01", last_contact_date="2026-06-01"),
    make_case([target("T1", 20.0), target("T2", 20.0)], (42, [{"id": "T1", "merged_into": "T2"}, m("T2", 30.0)]),
              (84, [st("T1", "not_evaluated"), m("T2", 31.0)]), criteria="iRECIST", confirmation_required=False),
    make_case([non_target("NT1")], (42, [st("NT1", "unequivocal_progression"), new("X1", mm=12.0)]),
              criteria="iRECIST", sd_min_days=56, confirmation_min_days=28),
]


def test_the_documentation_shows_cases_and_they_evaluate() -> None:
    examples = _doc_examples()
    assert len(examples) >= 2
    for example in examples:
        VALIDATOR.validate(example)
        evaluate_case(example)


@pytest.mark.parametrize("case", SAMPLES)
def test_sample_cases_validate_and_evaluate(case: dict[str, Any]) -> None:
    VALIDATOR.validate(case)
    evaluate_case(case)


@settings(max_examples=60, deadline=None)
@given(cases())
def test_the_schema_accepts_every_case_the_engine_accepts(case: dict[str, Any]) -> None:
    evaluate_case(case)
    VALIDATOR.validate(case)


@pytest.mark.parametrize("broken", [
    {"subject_id": "S1"},
    {"subject_id": "S1", "timepoints": [{"label": "b", "date": "20260105"}]},
    {"subject_id": "S1", "timepoints": [{"label": "b", "date": "2026-01-05",
                                          "lesions": [{"id": "T1", "diameter_mm": -1}]}]},
    {"subject_id": "S1", "timepoints": [{"label": "b", "date": "2026-01-05",
                                          "lesions": [{"id": "T1", "diameter": 10}]}]},
    {"subject_id": "S1", "timepoints": [{"label": "b", "date": "2026-01-05",
                                          "lesions": [{"id": "T1", "diameter_mm": 10, "too_small": True}]}]},
    {"subject_id": "S1", "criteria": "WHO", "timepoints": [{"label": "b", "date": "2026-01-05"}]},
])
def test_the_schema_refuses_malformed_cases(broken: dict[str, Any]) -> None:
    assert not VALIDATOR.is_valid(broken)
