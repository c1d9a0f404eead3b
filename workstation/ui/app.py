"""`recist-workstation [FOLDER]`: open the workstation on a trial folder (default: the bundled sample trial)."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from pathlib import Path
from typing import Any

SAMPLE_TRIAL = Path(__file__).resolve().parents[2] / "sample_dicom"
DATA_MANAGER_MESSAGE = (
    "The workstation is for readers and adjudicators. A data manager exports and reports from the database with "
    "`recist export FORMAT --db URL --user NAME --out DIR` and `recist report --db URL --user NAME --out DIR`."
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="recist-workstation", description=__doc__)
    p.add_argument("folder", nargs="?", type=Path, default=SAMPLE_TRIAL, help="trial folder (one folder per subject)")
    p.add_argument("--reader", default=getpass.getuser(), help="reader name recorded with the read")
    p.add_argument("--data-dir", type=Path, default=None, help="where reads (JSON) and masks are kept")
    p.add_argument(
        "--database",
        metavar="URL",
        default=None,
        help="keep reads in the trial database (SQLite file or PostgreSQL URL) after signing in; needed for signatures",
    )
    return p.parse_args(argv)


def build_window(args: argparse.Namespace) -> Any:
    """The main window for the parsed command line, shown and opened on the folder; an exit code if sign-in fails."""
    from workstation.ui.main_window import MainWindow

    store = None
    reader = args.reader
    if args.database is not None:
        from workstation.storage import StorageError, open_database
        from workstation.storage.read_store import DatabaseReadStore
        from workstation.ui.review import LoginDialog
        from workstation.users import UserRole

        try:
            db = open_database(args.database)
        except StorageError as exc:
            print(f"recist-workstation: {exc}", file=sys.stderr)
            return 2
        login = LoginDialog(db)
        if not login.exec() or login.user is None:
            return 1
        user = login.user
        if user.role is UserRole.DATA_MANAGER:
            from PyQt6.QtWidgets import QMessageBox

            QMessageBox.information(None, "RECIST workstation", DATA_MANAGER_MESSAGE)
            print(f"recist-workstation: {DATA_MANAGER_MESSAGE}", file=sys.stderr)
            return 1
        if user.role is UserRole.ADJUDICATOR:
            from workstation.ui.review.adjudication_worklist import AdjudicationWindow

            adjudication = AdjudicationWindow(db, user, image_root=args.folder, data_dir=args.data_dir)
            adjudication.show()
            return adjudication
        reader = user.username
        if user.role is UserRole.CENTRAL_READER:
            from workstation.review.central_store import CentralReadStore

            return _central_reader_window(db, user, CentralReadStore(db, user), args)
        store = DatabaseReadStore(db, user)
    window = MainWindow(reader=reader, store=store, data_dir=args.data_dir)
    window.show()
    if args.folder.is_dir():
        window.open_folder(args.folder, at_start=True)
    else:
        window.say(f"{args.folder} is not a folder: use File > Open trial folder (Ctrl+O)", 0)
    return window


def _central_reader_window(db: Any, user: Any, store: Any, args: argparse.Namespace) -> Any:
    """A blinded workstation: only the subjects assigned to this central reader, images from the FOLDER (the
    reading centre's image store) found by series UID, off the GUI thread (`workstation.ui.review.central_start`)."""
    from workstation.ui.main_window import MainWindow
    from workstation.ui.review.central_start import start_central_review

    window = MainWindow(reader=user.username, store=store, data_dir=args.data_dir)
    window.show()
    start_central_review(window, db, user, args.folder)
    return window


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from PyQt6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("RECIST workstation")
    window = build_window(args)
    if isinstance(window, int):
        return window
    return int(app.exec())


if __name__ == "__main__":
    raise SystemExit(main())
