"""Where the workstation keeps its files: one place, shared by the app and the `recist` command.

``$RECIST_DATA_DIR`` if set, else the user's data folder (platformdirs: ``~/.local/share/recist-workstation`` on Linux).
Reads saved by the app without a database go to ``reads/``, accepted lesion outlines (for DICOM SEG) to ``masks/``,
and the default SQLite database is ``workstation.db`` there (``$RECIST_DB`` overrides it, see workstation.storage).
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "recist-workstation"


def data_dir() -> Path:
    env = os.environ.get("RECIST_DATA_DIR")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


def reads_dir(base: Path | None = None) -> Path:
    return (base or data_dir()) / "reads"


def masks_dir(base: Path | None = None) -> Path:
    return (base or data_dir()) / "masks"


def default_sqlite_path() -> Path:
    return data_dir() / "workstation.db"


def retrieved_studies_file(base: Path | None = None) -> Path:
    """The study folders this user retrieved from PACS in the app, to list them again at the next start."""
    return (base or data_dir()) / "retrieved-studies.json"
