"""The earlier scan shown beside a follow-up: baseline, previous or nadir (the smallest whole sum so far, as the
response engine counts it, RECIST 1.1 sec. 4.3.1)."""

from __future__ import annotations

from workstation.session.compare_with import CompareWith, compare_role, compare_timepoint, nadir_timepoint

LABELS = ["baseline", "week 6", "week 12", "week 18"]


def rows(*sums: float | None) -> list[dict[str, object]]:
    return [{"label": label, "sum_mm": s} for label, s in zip(LABELS, sums, strict=False)]


def test_nadir_is_the_smallest_whole_sum_before_the_follow_up():
    responses = rows(50.0, 30.0, 42.0, 61.0)
    assert nadir_timepoint(3, LABELS, responses) == 1
    assert nadir_timepoint(2, LABELS, responses) == 1
    assert nadir_timepoint(1, LABELS, responses) == 0  # only the baseline before week 6
    # the follow-up itself never counts, even with the smallest sum
    assert nadir_timepoint(2, LABELS, rows(50.0, 40.0, 10.0)) == 1


def test_nadir_keeps_the_earliest_of_equal_sums_and_passes_over_scans_without_a_whole_sum():
    assert nadir_timepoint(3, LABELS, rows(50.0, 30.0, 30.0)) == 1  # the engine's nadir changes only when smaller
    assert nadir_timepoint(3, LABELS, rows(50.0, None, 44.0)) == 2  # week 6: a target not evaluated
    assert nadir_timepoint(3, LABELS, rows(50.0, 50.0)) == 0  # the baseline, when no sum was smaller
    assert nadir_timepoint(2, LABELS, []) == 0  # nothing evaluated yet (the engine refused the read)
    assert nadir_timepoint(3, LABELS, [{"label": "elsewhere", "sum_mm": 1.0}, *rows(50.0, 40.0)]) == 1


def test_the_choice_gives_the_timepoint_beside_the_follow_up():
    responses = rows(50.0, 30.0, 42.0)
    assert compare_timepoint(CompareWith.BASELINE, 3, LABELS, responses) == 0
    assert compare_timepoint(CompareWith.PREVIOUS, 3, LABELS, responses) == 2
    assert compare_timepoint(CompareWith.NADIR, 3, LABELS, responses) == 1
    for choice in CompareWith:  # at baseline there is nothing earlier
        assert compare_timepoint(choice, 0, LABELS, responses) == 0


def test_the_title_says_every_role_of_the_scan_beside():
    responses = rows(50.0, 30.0, 42.0)
    assert compare_role(0, 1, LABELS, responses) == "baseline, previous, nadir"
    assert compare_role(1, 2, LABELS, responses) == "previous, nadir"
    assert compare_role(2, 3, LABELS, responses) == "previous"
    assert compare_role(1, 3, LABELS, responses) == "nadir"


def test_the_key_cycles_through_the_choices():
    assert [c.following() for c in CompareWith] == [CompareWith.PREVIOUS, CompareWith.NADIR, CompareWith.BASELINE]
