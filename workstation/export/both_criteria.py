"""Every read's responses under both RECIST 1.1 and iRECIST, from its one set of measurements.

The trial's primary endpoint is by RECIST 1.1 and the treatment an immunotherapy, so iRECIST matters too; the app shows
both side by side (`workstation.session.response`), and the exports must carry both. A read is made under one
criteria (`Read.criteria`): where its evaluator (subject, reader, role) has no read under the other, a *derived* read
is added: the same lesions, measurements and dates, evaluated under the other criteria, with the read id
``<read id>+RECIST1.1`` or ``<read id>+iRECIST``. Responses (SDTM RS, responses.csv, best_responses.csv, the report)
come from every read; measurements (TU/TR, measurements.csv, SR, SEG, read files) from the reads made, once.

A derived read that the engine cannot evaluate does not stop the export of the reads made: it is left out, and said.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workstation.read_model import Read, is_irecist, other_criteria


def _evaluator(read: Read) -> tuple[str, str, str]:
    return (read.subject_id, read.reader, read.reader_role)


@dataclass
class BothCriteria:
    """The reads made, then the derived ones; their results keyed by read id."""

    reads: list[Read]
    results: dict[str, dict[str, Any]]
    #: derived read id -> the read id it was derived from
    source: dict[str, str] = field(default_factory=dict)
    #: one line per derived read left out because the engine refused it
    left_out: list[str] = field(default_factory=list)

    @property
    def made(self) -> list[Read]:
        """The reads as the readers made them (what carries measurements)."""
        return [r for r in self.reads if r.read_id not in self.source]

    def accepted(self, accepted_ids: Collection[str] | None) -> set[str] | None:
        """``accepted_ids`` with the reads derived from accepted ones (a derived read is accepted with its source)."""
        if accepted_ids is None:
            return None
        return set(accepted_ids) | {d for d, s in self.source.items() if s in accepted_ids}


def derived_reads(reads: Sequence[Read]) -> list[tuple[str, Read]]:
    """(source read id, derived read) for each read whose evaluator has no read of the subject under the other
    criteria: that read under it."""
    made = {(*_evaluator(r), is_irecist(r.criteria)) for r in reads}
    out = []
    for r in reads:
        other = other_criteria(r.criteria)
        if (*_evaluator(r), is_irecist(other)) in made:
            continue
        out.append((r.read_id, dataclasses.replace(r, criteria=other, read_id=f"{r.read_id}+{other.replace(' ', '')}")))
    return out


def under_both_criteria(reads: Sequence[Read], cases: Mapping[str, dict[str, Any]] | None = None) -> BothCriteria:
    """The reads made and their derived reads, all evaluated. A read made that the engine refuses is an error
    (`SdtmError`, as before); a derived one is left out with a line saying why. ``cases``: the case files the reads
    were made from (read id -> case), evaluated as written (`sdtm.evaluate_reads`)."""
    from recist import evaluate_case
    from workstation.export.sdtm import evaluate_reads

    out = BothCriteria(list(reads), evaluate_reads(reads, cases))
    for source, d in derived_reads(reads):
        case = (cases or {}).get(source)
        try:
            out.results[d.read_id] = evaluate_case({**case, "criteria": d.criteria} if case is not None
                                                   else d.to_case())
        except ValueError as exc:  # recist.CaseError is one
            out.left_out.append(f"no {d.criteria} responses for subject {d.subject_id} ({d.reader}): {exc}")
            continue
        out.reads.append(d)
        out.source[d.read_id] = source
    return out
