"""Test tiers by folder: unit (pure) -> dicom -> segmentation -> gui (pytest-qt) -> services (real servers)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never write into the user's own data folder (reads, masks, the default database: workstation/paths.py); the
# temporary one is removed when the run ends (it was left in /tmp by every run before).
if "RECIST_DATA_DIR" not in os.environ:
    os.environ["RECIST_DATA_DIR"] = tempfile.mkdtemp(prefix="recist-test-data-")
    atexit.register(shutil.rmtree, os.environ["RECIST_DATA_DIR"], ignore_errors=True)

TIERS = {"dicom": "dicom", "segmentation": "segmentation", "gui": "gui", "services": "services"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        for folder, marker in TIERS.items():
            if folder in parts:
                item.add_marker(getattr(pytest.mark, marker))
