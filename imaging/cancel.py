"""Progress reporting and cancellation for long work (loading, segmentation, export), shared by every layer above.

Long functions take ``progress: ProgressCallback | None`` and ``cancel: CancelToken | None``; they call
``cancel.raise_if_cancelled()`` between units of work and ``progress(done, total, message)`` after each.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

ProgressCallback = Callable[[int, int, str], None]


class Cancelled(Exception):
    """Raised inside long work when the user cancelled it. Callers treat it as a normal, quiet end."""


class CancelToken:
    """Thread-safe flag a GUI thread sets and a worker polls."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout_s: float) -> bool:
        """Block until cancelled or ``timeout_s`` passed; whether it was cancelled (for a watcher thread)."""
        return self._event.wait(timeout_s)

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled by the user")


def report(progress: ProgressCallback | None, done: int, total: int, message: str = "") -> None:
    if progress is not None:
        progress(done, total, message)
