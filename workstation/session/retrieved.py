"""The studies a reader retrieved from PACS in the app, remembered (in the user data folder) so that they are in the
worklist again at the next start, as the trial folder's subjects are. Only complete retrieves are remembered (an
interrupted one raises before the app hears of it); a folder removed from the cache since is passed over.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from workstation.session.worklist import SubjectEntry, WorklistError, add_study, timepoint_from_folder


def remembered(file: Path) -> list[Path]:
    """The remembered study folders that still exist (an unreadable list counts as none: it is only a convenience,
    the studies stay in the PACS cache)."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(data, list):
        return []
    return [Path(p) for p in data if isinstance(p, str) and Path(p).is_dir()]


def remember(file: Path, folder: Path) -> None:
    """Add ``folder`` to the list (written atomically; kept in the order retrieved, each once)."""
    folders = [str(p) for p in remembered(file)]
    key = str(folder.resolve())
    if key not in folders:
        folders.append(key)
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(file.name + ".tmp")
    tmp.write_text(json.dumps(folders, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, file)


def add_remembered(subjects: list[SubjectEntry], file: Path) -> tuple[int, list[str]]:
    """Put the remembered studies into ``subjects`` (those already there are not listed twice). Returns how many were
    added and what went wrong with the others (one line each)."""
    added, problems = 0, []
    for folder in remembered(file):
        try:
            subject_id, entry = timepoint_from_folder(folder)
        except WorklistError as exc:
            problems.append(str(exc))
            continue
        if add_study(subjects, subject_id, entry) is None:
            added += 1
    return added, problems
