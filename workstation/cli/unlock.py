"""`recist unlock SUBJECT ... --reason TEXT`: unlock subjects locked for analysis (see `workstation.cli.lock`)."""

from __future__ import annotations

from typing import Any

from workstation.cli.lock import add_unlock_parser, run

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    add_unlock_parser(subparsers)
