"""The post-processing pool: each task runs once, errors reach every caller, and waits never deadlock."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from segmentation import threads


@pytest.fixture
def one_thread_pool(monkeypatch):
    pool = ThreadPoolExecutor(max_workers=1)
    monkeypatch.setattr(threads, "_pool", pool)
    yield pool
    pool.shutdown(wait=True)


def test_tasks_waiting_for_tasks_finish_on_a_one_thread_pool(one_thread_pool):
    def leaf(x: int) -> int:
        return x * x

    def branch(x: int) -> int:
        return sum(threads.map_in_order(leaf, range(x)))

    # The only pool thread runs a branch that waits for leaves still queued behind it: they run in the waiter.
    assert threads.map_in_order(branch, [3, 4, 5]) == [5, 14, 30]


def test_a_task_runs_once_however_many_threads_want_its_result(one_thread_pool):
    calls = []
    gate = threading.Event()
    blocker = threads.start(gate.wait)  # keeps the pool thread busy, so the task below stays queued
    task = threads.start(lambda: calls.append(1) or len(calls))
    results = []
    waiters = [threading.Thread(target=lambda: results.append(task.result())) for _ in range(4)]
    for w in waiters:
        w.start()
    for w in waiters:
        w.join()
    gate.set()
    blocker.result()
    assert calls == [1]
    assert results == [1, 1, 1, 1]


def test_an_error_reaches_every_caller(one_thread_pool):
    def fail() -> None:
        raise ValueError("bad crop")

    task = threads.start(fail)
    for _ in range(2):
        with pytest.raises(ValueError, match="bad crop"):
            task.result()
