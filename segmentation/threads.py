"""One shared pool of threads for a click's post-processing (labelling, distance transforms, filters).

scipy.ndimage and numpy release the GIL in their loops, so independent steps (the outline's confidence beside the
edge threshold, the edge threshold's candidate outlines) run at once on a machine's cores. On a GPU machine, where
the network takes a few milliseconds, this work on the CPU is most of a click's time. Results do not depend on the
number of threads: every task is independent and its result is used in a fixed order. A task still queued when its
result is wanted runs in the waiting thread, so tasks may wait for tasks (no deadlock on a full pool, or on one
core).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: At most this many threads: the steps are memory-bound, and more would only contend.
MAX_THREADS = 8

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def size() -> int:
    """How many threads the pool has: the machine's cores, at most ``MAX_THREADS``."""
    return max(1, min(MAX_THREADS, os.cpu_count() or 1))


def pool() -> ThreadPoolExecutor:
    """The shared pool (created on first use)."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=size(), thread_name_prefix="seg-post")
        return _pool


class Task(Generic[R]):
    """A call started in the pool; `result` runs it in the caller's thread if no pool thread has taken it yet.
    `result` may be called any number of times, from any thread: the call runs once."""

    def __init__(self, fn: Callable[..., R], *args: object) -> None:
        self._call = (fn, args)
        self._lock = threading.Lock()
        self._inline: tuple[R | None, BaseException | None] | None = None
        self._future: Future[R] = pool().submit(fn, *args)

    def result(self) -> R:
        with self._lock:
            if self._inline is None and self._future.cancel():  # still queued (every pool thread busy): run it here
                fn, args = self._call
                try:
                    self._inline = (fn(*args), None)
                except BaseException as failure:  # kept for every caller, as a future keeps it
                    self._inline = (None, failure)
        if self._inline is not None:
            value, raised = self._inline
            if raised is not None:
                raise raised
            return value  # type: ignore[return-value]
        return self._future.result()


def start(fn: Callable[..., R], *args: object) -> Task[R]:
    """Start ``fn(*args)`` in the pool. A task may itself start tasks and wait for them: a task nobody has taken
    runs in the thread that waits for it, so waiting never blocks on a full pool."""
    return Task(fn, *args)


def map_in_order(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``[fn(x) for x in items]``, run in the pool; results in the order of ``items``, the first error raised."""
    tasks = [Task(fn, x) for x in items]
    return [t.result() for t in tasks]
