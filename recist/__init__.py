"""RECIST 1.1 and iRECIST response criteria, pure Python (standard library only).

The endpoints module (`recist.endpoints`) alone uses scipy and lifelines; it is not imported here.

Public API: `evaluate_case` (case-file JSON in, output JSON out), `parse_case` + `evaluate` (typed), `CaseError`,
`measurability` and `check_target_selection` (baseline rules for the reader's target selection).
"""

from recist.baseline import Measurability, MeasurabilityCategory, check_target_selection, measurability
from recist.errors import CaseError
from recist.evaluate import evaluate, evaluate_case, result_to_dict
from recist.model import Case, CaseResult, Criteria, NewLesions, Response, Role, TimepointResponse
from recist.parse import parse_case

__all__ = [
    "Case",
    "CaseError",
    "CaseResult",
    "Criteria",
    "Measurability",
    "MeasurabilityCategory",
    "NewLesions",
    "Response",
    "Role",
    "TimepointResponse",
    "check_target_selection",
    "evaluate",
    "evaluate_case",
    "measurability",
    "parse_case",
    "result_to_dict",
]
