"""Background work for the GUI: a function runs on the thread pool; its result, error or progress comes back to the
GUI thread through Qt signals. Errors reach the reader as a message, never vanish in a thread."""

from __future__ import annotations

import contextlib
import logging
import traceback
from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import QObject, QRunnable, QThreadPool, pyqtSignal, pyqtSlot

from imaging.cancel import Cancelled, CancelToken, ProgressCallback

log = logging.getLogger(__name__)

#: The work itself: called on a pool thread with a progress callback and a cancel token.
Work = Callable[[ProgressCallback, CancelToken], Any]


class Job(QObject):
    """A handle on one piece of background work; lives in the GUI thread, so its signals arrive there."""

    progressed = pyqtSignal(int, int, str)
    succeeded = pyqtSignal(object)
    failed = pyqtSignal(str)
    cancelled = pyqtSignal()
    finished = pyqtSignal()

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.token = CancelToken()
        self.done = False
        #: what the work said as it ended cancelled (`Cancelled`'s message), for the handler of ``cancelled``
        self.cancel_message = ""

    def cancel(self) -> None:
        self.token.cancel()


class _Runnable(QRunnable):
    def __init__(self, job: Job, work: Work) -> None:
        super().__init__()
        self.job = job
        self.work = work
        self.setAutoDelete(True)

    @pyqtSlot()
    def run(self) -> None:
        job = self.job

        def progress(done: int, total: int, message: str) -> None:
            job.progressed.emit(int(done), int(total), str(message))

        try:
            result = self.work(progress, job.token)
        except Cancelled as exc:
            job.cancel_message = str(exc)
            job.cancelled.emit()
        except Exception as exc:  # shown to the reader by whoever started the job
            log.warning("%s failed: %s", job.name, exc)
            log.debug("%s", traceback.format_exc())
            job.failed.emit(f"{job.name}: {exc}" if str(exc) else f"{job.name} failed ({type(exc).__name__})")
        else:
            job.succeeded.emit(result)
        finally:
            job.finished.emit()


class JobRunner(QObject):
    """Starts jobs on a thread pool and keeps them alive until they finish."""

    #: every job has finished (the progress indicator can go)
    idle = pyqtSignal()

    def __init__(self, max_threads: int = 2) -> None:
        super().__init__()
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(max_threads)
        self._running: set[Job] = set()

    def start(
        self,
        name: str,
        work: Work,
        on_success: Callable[[Any], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        on_progress: Callable[[int, int, str], None] | None = None,
        on_cancel: Callable[[], None] | None = None,
    ) -> Job:
        job = Job(name)
        if on_success is not None:
            job.succeeded.connect(on_success)
        if on_error is not None:
            job.failed.connect(on_error)
        if on_progress is not None:
            job.progressed.connect(on_progress)
        if on_cancel is not None:
            job.cancelled.connect(on_cancel)
        job.finished.connect(lambda: self._finish(job))
        self._running.add(job)
        self.pool.start(_Runnable(job, work))
        return job

    def _finish(self, job: Job) -> None:
        job.done = True
        self._running.discard(job)
        if not self._running:
            self.idle.emit()

    @property
    def busy(self) -> bool:
        return bool(self._running)

    def cancel_all(self) -> None:
        for job in list(self._running):
            job.cancel()

    def wait(self, msecs: int = 30000) -> bool:
        return bool(self.pool.waitForDone(msecs))

    def shut_down(self, msecs: int = 5000) -> None:
        """The window the jobs report to is closing: cancel them, wait up to ``msecs``, and drop whatever they still
        have to deliver (a registration that ended after an adjudicator's view window closed drew on its deleted
        widgets)."""
        self.cancel_all()
        self.wait(msecs)
        for job in list(self._running):
            for signal in (job.progressed, job.succeeded, job.failed, job.cancelled, job.finished):
                with contextlib.suppress(TypeError):  # nothing connected
                    signal.disconnect()
        self._running.clear()
