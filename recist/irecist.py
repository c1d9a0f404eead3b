"""iRECIST (Seymour 2017) -- being written."""

from __future__ import annotations

from recist.errors import CaseError
from recist.model import Case, CaseResult


def evaluate_irecist(case: Case) -> CaseResult:
    raise CaseError("iRECIST evaluation is not available yet in this build", case.subject_id)
