"""A minimal typed event: views subscribe to session state without the session knowing any view (or Qt)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class Event(Generic[T]):
    """Subscribers are called in order with the emitted value. A failing subscriber is logged, never breaks the rest."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._subscribers: list[Callable[[T], None]] = []

    def connect(self, callback: Callable[[T], None]) -> None:
        if callback not in self._subscribers:
            self._subscribers.append(callback)

    def disconnect(self, callback: Callable[[T], None]) -> None:
        if callback in self._subscribers:
            self._subscribers.remove(callback)

    def emit(self, value: T) -> None:
        for callback in list(self._subscribers):
            try:
                callback(value)
            except Exception:  # a broken view must not lose the reader's measurement
                log.exception("subscriber of %s failed", self.name)
