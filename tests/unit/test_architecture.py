"""The layer rules, checked on the source itself (import-linter checks them too, in ./dev.sh test)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STDLIB = set(sys.stdlib_module_names)
QT = {"PyQt6", "pyqtgraph", "PySide6"}


def _imports(package: str) -> list[tuple[Path, int, str]]:
    found: list[tuple[Path, int, str]] = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(path, node.lineno, a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((path, node.lineno, node.module))
    return found


def test_criteria_use_the_standard_library_only() -> None:
    bad = [
        f"{p.relative_to(ROOT)}:{line} imports {name}"
        for p, line, name in _imports("recist")
        if name.split(".")[0] not in STDLIB | {"recist"} and not p.name.startswith("endpoints")
    ]
    assert bad == []


@pytest.mark.parametrize("package", ["recist", "imaging", "segmentation", "workstation"])
def test_qt_only_in_workstation_ui(package: str) -> None:
    bad = [
        f"{p.relative_to(ROOT)}:{line} imports {name}"
        for p, line, name in _imports(package)
        if name.split(".")[0] in QT and "ui" not in p.relative_to(ROOT).parts[1:2]
    ]
    assert bad == []


@pytest.mark.parametrize("package", ["recist", "imaging", "workstation"])
def test_torch_and_monai_only_in_segmentation(package: str) -> None:
    bad = [
        f"{p.relative_to(ROOT)}:{line} imports {name}"
        for p, line, name in _imports(package)
        if name.split(".")[0] in {"torch", "monai"}
    ]
    assert bad == []


@pytest.mark.parametrize(("package", "higher"), [("recist", {"imaging", "segmentation", "workstation"}),
                                                  ("imaging", {"recist", "segmentation", "workstation"}),
                                                  ("segmentation", {"workstation"})])
def test_lower_layers_never_import_higher_ones(package: str, higher: set[str]) -> None:
    bad = [f"{p.relative_to(ROOT)}:{line} imports {name}" for p, line, name in _imports(package)
           if name.split(".")[0] in higher]
    assert bad == []
