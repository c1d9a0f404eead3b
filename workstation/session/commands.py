"""Undo/redo: each edit of a read is a command holding the read's state before and after (a memento).

A read is small (tens of lesions, a handful of timepoints), so whole-read snapshots are cheap and make every command
exactly reversible without per-command inverse logic that could drift.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from workstation.read_model import Read


@dataclass(frozen=True)
class Command:
    description: str
    before: Read
    after: Read


class CommandStack:
    def __init__(self, limit: int = 200) -> None:
        self._done: list[Command] = []
        self._undone: list[Command] = []
        self._limit = limit
        #: Index in `_done` at the last save; None when the saved state is no longer reachable.
        self._clean_index: int | None = 0

    def push(self, description: str, before: Read, after: Read) -> None:
        if self._clean_index is not None and self._clean_index > len(self._done):
            self._clean_index = None  # the saved state was undone and is now replaced: no longer reachable
        self._done.append(Command(description, copy.deepcopy(before), copy.deepcopy(after)))
        self._undone.clear()
        if len(self._done) > self._limit:
            self._done.pop(0)
            self._clean_index = None if self._clean_index in (None, 0) else self._clean_index - 1

    def undo(self) -> Command | None:
        if not self._done:
            return None
        cmd = self._done.pop()
        self._undone.append(cmd)
        return cmd

    def redo(self) -> Command | None:
        if not self._undone:
            return None
        cmd = self._undone.pop()
        self._done.append(cmd)
        return cmd

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    @property
    def undo_text(self) -> str:
        return self._done[-1].description if self._done else ""

    @property
    def redo_text(self) -> str:
        return self._undone[-1].description if self._undone else ""

    def mark_clean(self) -> None:
        self._clean_index = len(self._done)

    @property
    def is_clean(self) -> bool:
        return self._clean_index == len(self._done)
