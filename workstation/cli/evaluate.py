"""`recist evaluate CASE.json [...] [--format json|table]`: RECIST 1.1 / iRECIST responses of one subject.

A file holds one case (docs/case-file.md) or a JSON list of cases. Invalid input exits 1 with one line on stderr
naming the file, subject, timepoint and lesion at fault.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from pathlib import Path
from typing import Any

from recist import CaseError, evaluate_case
from workstation.cli import CommandError

NAME = "evaluate"
INVALID_INPUT = 1


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(NAME, help="RECIST 1.1 / iRECIST responses of one subject from a JSON case file",
                              description="Evaluate case files (docs/case-file.md) and print the responses.")
    p.add_argument("cases", nargs="+", metavar="CASE.json", help="a case file (one case, or a JSON list of cases)")
    p.add_argument("--format", choices=("json", "table"), default="json", help="output format (default: json)")
    p.set_defaults(func=run)


def load_cases(path: Path) -> list[Any]:
    """The case(s) in a file: one JSON object, or a list of them. Raises CommandError with one clear line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file", INVALID_INPUT) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path}: cannot read: {exc}", INVALID_INPUT) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                           INVALID_INPUT) from None
    cases = data if isinstance(data, list) else [data]
    if not cases:
        raise CommandError(f"{path}: holds no case (an empty list)", INVALID_INPUT)
    return cases


def evaluate_cases(path: Path, cases: list[Any]) -> list[dict[str, Any]]:
    """Evaluate the cases loaded from ``path``; a bad case is one line naming the file, subject, timepoint, lesion."""
    results = []
    for case in cases:
        try:
            results.append(evaluate_case(case))
        except CaseError as exc:
            raise CommandError(f"{path}: {exc}", INVALID_INPUT) from None
    return results


#: Below this many cases the work is too small to be worth a second process.
PARALLEL_MIN_CASES = 2000
_WORK: list[tuple[Path, Any]] = []  # the decoded cases, shared with forked workers (copy-on-write)


def _evaluate_slice(bounds: tuple[int, int]) -> tuple[list[str], str | None]:
    """Worker: evaluate ``_WORK[start:stop]`` into compact JSON lines, or stop at the first invalid case."""
    lines: list[str] = []
    for path, case in _WORK[bounds[0]:bounds[1]]:
        try:
            lines.append(json.dumps(evaluate_case(case)))
        except CaseError as exc:
            return lines, f"{path}: {exc}"
    return lines, None


def _evaluate_in_parallel(work: list[tuple[Path, Any]], processes: int) -> list[str]:
    """Many subjects on every core: each case is independent. Forked workers read the decoded input in place."""
    import multiprocessing

    _WORK[:] = work
    try:
        step = -(-len(work) // (processes * 4))
        chunks = [(i, min(i + step, len(work))) for i in range(0, len(work), step)]
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            out: list[str] = []
            for lines, error in pool.imap(_evaluate_slice, chunks):
                if error is not None:
                    raise CommandError(error, INVALID_INPUT)
                out.extend(lines)
        return out
    finally:
        _WORK.clear()


def run(args: argparse.Namespace) -> int:
    loaded = [(Path(name), load_cases(Path(name))) for name in args.cases]
    gc.freeze()  # the decoded input is acyclic and lives to the end: spare the collector rescanning it
    work = [(path, case) for path, cases in loaded for case in cases]
    processes = min(os.cpu_count() or 1, 8)
    if args.format == "json" and len(work) >= PARALLEL_MIN_CASES and processes > 1 and sys.platform == "linux":
        lines = _evaluate_in_parallel(work, processes)
        sys.stdout.write("[\n" + ",\n".join(lines) + "\n]\n")
        return 0
    results: list[dict[str, Any]] = []
    for path, cases in loaded:
        for case in cases:
            try:
                results.append(evaluate_case(case))
            except CaseError as exc:
                raise CommandError(f"{path}: {exc}", INVALID_INPUT) from None
    if args.format == "table":
        sys.stdout.write("\n\n".join(format_table(r) for r in results) + "\n")
    elif len(results) == 1:
        sys.stdout.write(json.dumps(results[0], indent=2) + "\n")
    else:  # many subjects: one compact line each (the C encoder; indent= would use the slow pure-Python one)
        sys.stdout.write("[\n" + ",\n".join(json.dumps(r) for r in results) + "\n]\n")
    return 0


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:+.1f}%"


def _mm(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def format_table(result: dict[str, Any]) -> str:
    """The same result for a person: one row per timepoint, then the best response and every reason."""
    head = ["Timepoint", "Date", "Sum mm", "vs base", "vs nadir", "Target", "Non-target", "New", "Overall"]
    rows = [head]
    for tp in result["timepoints"]:
        rows.append([tp["label"], tp["date"], _mm(tp["sum_mm"]), _pct(tp["change_from_baseline_pct"]),
                     _pct(tp["change_from_nadir_pct"]), tp["target_response"] or "", tp["non_target_response"] or "",
                     tp["new_lesions"] or "", tp["overall_response"] or ""])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    numeric = {2, 3, 4}
    lines = [f"Subject {result['subject_id']} - {result['criteria']} - confirmation "
             f"{'required' if result.get('confirmation_required') else 'not required'} - SD >= "
             f"{result.get('sd_min_days')} days"]
    for r in rows:
        cells = [c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    lines.append(f"Best overall response: {result['best_overall_response']} - "
                 f"{result.get('best_overall_response_reason', '')}")
    lines.append("Reasons:")
    lines.extend(f"  {tp['label']}: {tp['reason']}" for tp in result["timepoints"])
    return "\n".join(lines)
