"""Background jobs (`workstation.ui.workers`): a window shut down hears nothing more from its jobs."""

from __future__ import annotations

import threading

from workstation.ui.workers import JobRunner


def test_a_job_that_ends_after_its_window_shut_down_delivers_nothing(qtbot) -> None:
    """A registration that ended after an adjudicator's view window closed drew on the window's deleted widgets."""
    runner = JobRunner()
    release = threading.Event()
    heard: list[object] = []

    def work(_progress, _cancel) -> str:
        release.wait(5)
        return "late"

    runner.start("registration", work, on_success=heard.append, on_error=heard.append)
    runner.shut_down(0)  # the window closes while the job still runs
    release.set()
    assert runner.wait(5000)
    for _ in range(20):
        qtbot.wait(10)  # let anything queued arrive
    assert heard == [] and not runner.busy
    done: list[object] = []
    runner.start("next", lambda _p, _c: "on time", on_success=done.append)
    qtbot.waitUntil(lambda: done == ["on time"], timeout=2000)
