"""Whether two central reads of a subject disagree: best overall response or date of progression (the usual BICR
adjudication triggers), computed by the response engine from each read's case file, under the criteria the subject
was enrolled under and under the other one from the same measurements: the trial's primary endpoint is by RECIST 1.1,
and the export carries both (`workstation.export.both_criteria`), so a review under iRECIST whose reads agree there
but not under RECIST 1.1 goes to adjudication too (it was accepted with a disagreement in the primary endpoint)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from recist import CaseError, evaluate_case
from workstation.read_model import Read, other_criteria


class EvaluationError(Exception):
    """A read that the response engine cannot evaluate (the message names the read and the engine's reason)."""


@dataclass(frozen=True)
class ReadOutcome:
    read_id: str
    best_overall_response: str
    date_of_progression: str | None
    result: dict[str, Any]


@dataclass(frozen=True)
class Comparison:
    first: ReadOutcome
    second: ReadOutcome
    #: the same two reads under the other criteria (None where the engine cannot evaluate one of them there)
    other: Comparison | None = None
    other_criteria: str = ""

    @property
    def bor_differs(self) -> bool:
        return self.first.best_overall_response != self.second.best_overall_response

    @property
    def progression_date_differs(self) -> bool:
        return self.first.date_of_progression != self.second.date_of_progression

    @property
    def discordant(self) -> bool:
        return self.bor_differs or self.progression_date_differs or (self.other is not None and self.other.discordant)

    def reasons(self) -> list[str]:
        out = self._own_reasons()
        if self.other is not None:
            out += [f"under {self.other_criteria}: {why}" for why in self.other._own_reasons()]
        return out

    def _own_reasons(self) -> list[str]:
        out = []
        if self.bor_differs:
            out.append(
                f"best overall response {self.first.best_overall_response} vs {self.second.best_overall_response}"
            )
        if self.progression_date_differs:
            out.append(
                f"date of progression {self.first.date_of_progression or 'none'} vs "
                f"{self.second.date_of_progression or 'none'}"
            )
        return out


def outcome(read: Read) -> ReadOutcome:
    try:
        result = evaluate_case(read.to_case())
    except (CaseError, ValueError) as exc:
        raise EvaluationError(f"the read of {read.subject_id} by {read.reader} cannot be evaluated: {exc}") from None
    return ReadOutcome(read.read_id, str(result["best_overall_response"]), result.get("date_of_progression"), result)


def compare(first: Read, second: Read) -> Comparison:
    other = other_criteria(first.criteria)
    try:
        also: Comparison | None = Comparison(
            outcome(dataclasses.replace(first, criteria=other)), outcome(dataclasses.replace(second, criteria=other))
        )
    except EvaluationError:  # the reads' own criteria still decide
        also = None
    return Comparison(outcome(first), outcome(second), also, other)
