"""Opening a blinded worklist without freezing the window: a central reader's assigned subjects, or one central read
that an adjudicator looks at on the images.

Finding the series in the reading centre's image folder reads every DICOM header when there is no ``trial.json``
(minutes for a large store), so it runs off the GUI thread with a progress bar and Cancel; the window is blinded
before it starts, so nothing it shows meanwhile names the source. The worklist itself is then built on the GUI thread
(it reads the database, whose connection belongs to that thread). A failed or cancelled search still opens the
worklist: its timepoints say that their images were not found.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from imaging.cancel import CancelToken, ProgressCallback
from segmentation.engines import create_segmenter
from workstation.review.central_worklist import (
    TextBlinder,
    blinded_subject,
    central_worklist,
    image_blinder,
    locate_series,
)
from workstation.review.service import AdjudicationCase, ReviewError
from workstation.session.persistence import ViewOnlyStore
from workstation.session.suggestions import MeasuringService
from workstation.session.worklist import WorklistError
from workstation.storage import Database, StorageError
from workstation.ui.main_window import MainWindow
from workstation.users import User

FINDING = "finding the images of your assigned subjects"
#: Why an adjudicator's view of a central read refuses every change.
VIEW_ONLY = "view only: the adjudicator looks at the central reads; only their readers change them (by amendment)"


def find_images(window: MainWindow, image_root: Path, then: Callable[[dict[str, Path], str], None]) -> None:
    """Blind ``window``, find the series under ``image_root`` in the background, then ``then(located, problem)``."""
    window.enter_blinded(TextBlinder(folders=[str(image_root.resolve()), str(image_root)]))

    def work(progress: ProgressCallback, cancel: CancelToken) -> dict[str, Path]:
        return locate_series(image_root, progress, cancel) if image_root.is_dir() else {}

    def found(located: Any) -> None:
        then(located, "")

    def failed(message: str) -> None:
        then({}, f"{message}. The timepoints are listed without images.")

    def cancelled() -> None:
        then({}, "Finding the images was cancelled: the timepoints are listed without images.")

    window.run_in_background(FINDING, work, found, failed, cancelled)


def start_central_review(window: MainWindow, db: Database, reader: User, image_root: Path) -> None:
    """A central reader's blinded worklist in ``window``."""

    def open_worklist(located: dict[str, Path], problem: str) -> None:
        try:
            central = central_worklist(db, reader, image_root, located)
        except (ReviewError, WorklistError, StorageError) as exc:
            window.warn("Central review", str(exc))
            return
        window.open_central_review(central.subjects, central.blinder)
        if problem:
            window.warn("Central review", problem)

    find_images(window, image_root, open_worklist)


def view_central_read(
    db: Database, adjudicator: User, case: AdjudicationCase, slot: int, image_root: Path, data_dir: Path | None = None
) -> MainWindow:
    """A blinded, view-only window on read ``slot`` (1 or 2) of ``case``: its measurements on the subject's images,
    under the pseudonym and study days, for the adjudicator to see what each reader measured where."""
    read = (case.read_1 if slot == 1 else case.read_2).read
    title = f"RECIST workstation — adjudication: read {slot} of {case.pseudonym} (view only)"
    # It measures nothing, so it does not load the model (the classical engine's warm-up costs nothing).
    measuring = MeasuringService(create_segmenter("classical"))
    store = ViewOnlyStore([read], VIEW_ONLY)
    window = MainWindow(reader=read.reader, store=store, measuring=measuring, data_dir=data_dir)
    window.enter_view_only(VIEW_ONLY)
    window.show()

    def open_read(located: dict[str, Path], problem: str) -> None:
        try:
            subject = blinded_subject(db, case.pseudonym, case.timepoints, adjudicator, located)
        except (ReviewError, StorageError) as exc:
            window.warn("Adjudication", str(exc))
            return
        window.open_central_review([subject], image_blinder(image_root, located))
        window.setWindowTitle(title)
        if problem:
            window.warn("Adjudication", problem)

    find_images(window, image_root, open_read)
    window.setWindowTitle(title)
    return window
