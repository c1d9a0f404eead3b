"""The one error the engine raises for a bad case file."""

from __future__ import annotations


class CaseError(ValueError):
    """A case file the criteria cannot be applied to.

    The message is one line that names the subject, the timepoint and the lesion at fault (where known), then the
    problem, e.g. ``subject S001, timepoint 'week 6', lesion T9: never declared ...``.
    """

    def __init__(self, problem: str, subject: str | None = None, timepoint: str | None = None,
                 lesion: str | None = None) -> None:
        self.problem = problem
        self.subject = subject
        self.timepoint = timepoint
        self.lesion = lesion
        super().__init__(self._compose())

    def _compose(self) -> str:
        where = [f"subject {self.subject or '?'}"]
        if self.timepoint is not None:
            where.append(f"timepoint {self.timepoint!r}")
        if self.lesion is not None:
            where.append(f"lesion {self.lesion}")
        return f"{', '.join(where)}: {self.problem}"
