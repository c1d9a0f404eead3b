"""Whatever JSON arrives, the engine answers with a result or a `CaseError`, never another exception."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st_

from recist import CaseError, evaluate_case
from tests.unit.test_recist_properties import cases

json_values = st_.recursive(
    st_.none() | st_.booleans() | st_.integers(-10**6, 10**6) | st_.floats(allow_nan=True, allow_infinity=True)
    | st_.text(max_size=12) | st_.sampled_from(["target", "new", "present", "unequivocal", "2026-02-30", "T0", ""]),
    lambda children: st_.lists(children, max_size=3) | st_.dictionaries(st_.text(max_size=8), children, max_size=3),
    max_leaves=6)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


@settings(max_examples=300, deadline=None)
@given(cases(), st_.data(), json_values)
def test_a_corrupted_case_gives_a_case_error_or_a_result(case: dict[str, Any], data: st_.DataObject,
                                                         value: Any) -> None:
    broken = copy.deepcopy(case)
    for tp in broken["timepoints"][: data.draw(st_.integers(0, 2))]:
        tp["slice_thickness_mm"] = 5.0  # so that the fuzz reaches it too
    path = data.draw(st_.sampled_from(_paths(broken)[1:]))
    parent = broken
    for step in path[:-1]:
        parent = parent[step]
    if data.draw(st_.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    for criteria in ("RECIST 1.1", "iRECIST"):
        if isinstance(broken, dict) and "criteria" not in path[:1]:
            broken["criteria"] = criteria
        try:
            result = evaluate_case(broken)
        except CaseError as exc:
            assert "\n" not in str(exc) and str(exc).startswith("subject ")
        else:
            assert result["best_overall_response"]
