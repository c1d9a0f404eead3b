"""`recist generate-sample --out DIR [--seed N] [--small] [--subject ID ...]`: write the synthetic sample trial.

Writes ``DIR/trial.json`` and one folder per subject (CT studies, ground truth, case files, expected responses); the
layout is documented in docs/sample-trial.md. Deterministic: the same seed gives the same pixels and UIDs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from imaging.cancel import Cancelled
from workstation.cli import CommandError

NAME = "generate-sample"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(NAME, help="generate the synthetic sample trial (DICOM + ground truth)")
    p.add_argument("--out", required=True, type=Path, help="output folder (created; existing subject folders are "
                   "overwritten)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the bundled trial's seed)")
    p.add_argument("--small", action="store_true", help="128 x 128 images: a fast, tiny trial for tests")
    p.add_argument("--subject", action="append", default=None, metavar="ID",
                   help="generate only this subject (repeatable), e.g. SUBJ-001")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from imaging.synthetic import DEFAULT_SEED, generate_trial
    from imaging.synthetic.courses import SUBJECTS

    known = [s.subject_id for s in SUBJECTS]
    for sid in args.subject or ():
        if sid not in known:
            raise CommandError(f"unknown subject {sid!r}; the sample trial has {', '.join(known)}")
    seed = DEFAULT_SEED if args.seed is None else args.seed
    if seed < 0:
        raise CommandError(f"--seed must be >= 0, got {seed}")
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise CommandError(f"--out {out} exists and is not a folder")
    start = time.monotonic()

    def progress(done: int, total: int, message: str) -> None:
        if not args.quiet:
            print(f"[{time.monotonic() - start:6.1f} s] {message} ({done}/{total})", file=sys.stderr)

    try:
        path = generate_trial(out, seed=seed, small=args.small, subjects=tuple(args.subject or ()) or None,
                              progress=progress)
    except OSError as exc:
        raise CommandError(f"cannot write under {out}: {exc.strerror or exc}") from exc
    except Cancelled:
        raise CommandError("cancelled") from None
    print(path)
    return 0
