"""Opening a central reader's blinded worklist without freezing the window.

Finding the assigned series in the reading centre's image folder reads every DICOM header when there is no
``trial.json`` (minutes for a large store), so it runs off the GUI thread with a progress bar and Cancel; the window
is blinded before it starts, so nothing it shows meanwhile names the source. The worklist itself is then built on the
GUI thread (it reads the database, whose connection belongs to that thread).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from imaging.cancel import CancelToken, ProgressCallback
from workstation.review.central_worklist import TextBlinder, central_worklist, locate_series
from workstation.review.service import ReviewError
from workstation.session.worklist import WorklistError
from workstation.storage import Database, StorageError
from workstation.ui.main_window import MainWindow
from workstation.users import User

FINDING = "finding the images of your assigned subjects"


def start_central_review(window: MainWindow, db: Database, reader: User, image_root: Path) -> None:
    window.enter_blinded(TextBlinder(folders=[str(image_root.resolve()), str(image_root)]))

    def work(progress: ProgressCallback, cancel: CancelToken) -> dict[str, Path]:
        return locate_series(image_root, progress, cancel) if image_root.is_dir() else {}

    def open_worklist(located: dict[str, Path], problem: str = "") -> None:
        try:
            central = central_worklist(db, reader, image_root, located)
        except (ReviewError, WorklistError, StorageError) as exc:
            window.warn("Central review", str(exc))
            return
        window.open_central_review(central.subjects, central.blinder)
        if problem:  # the worklist opens all the same: timepoints whose images were not found say so
            window.warn("Central review", problem)

    def failed(message: str) -> None:
        open_worklist({}, f"{message}. Your assigned subjects are listed, without images.")

    def cancelled() -> None:
        open_worklist({}, "Finding the images was cancelled: your assigned subjects are listed, without images.")

    def found(located: Any) -> None:
        open_worklist(located)

    window.run_in_background(FINDING, work, found, failed, cancelled)
