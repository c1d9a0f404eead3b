"""`recist evaluate CASE.json [...] [--format json|table]`: RECIST 1.1 / iRECIST responses of one subject.

A file holds one case (docs/case-file.md) or a JSON list of cases. Invalid input exits 1 with one line on stderr
naming the file, subject, timepoint and lesion at fault.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, TextIO

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


def json_limit(exc: BaseException) -> str:
    """What a JSON file that parses but cannot be held is (a number of thousands of digits, nesting thousands deep)."""
    if isinstance(exc, RecursionError):
        return "not a case file: its JSON is nested too deeply to read"
    return f"not a case file: {exc}"


def load_cases(path: Path) -> list[Any]:
    """The case(s) in a file: one JSON object, or a list of them. Raises CommandError with one clear line."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark (Windows editors write one) is no error
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file", INVALID_INPUT) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path}: cannot read: {exc}", INVALID_INPUT) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                           INVALID_INPUT) from None
    except (ValueError, RecursionError) as exc:
        raise CommandError(f"{path}: {json_limit(exc)}", INVALID_INPUT) from None
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


#: Below this size a file is too small to be worth a second process.
PARALLEL_MIN_BYTES = 1_000_000
#: Where two cases of a list meet: ``}``, ``,``, then a case object, which starts with its subject id as the documented
#: format writes it (a file written otherwise is simply evaluated in one process).
_ELEMENT_BOUNDARY = re.compile(r'\}\s*,\s*(?=\{\s*"subject_id")')
_TEXT: list[str] = []  # the file's text, shared with forked workers (copy-on-write)


def _split_list(text: str, parts: int) -> list[tuple[int, int]] | None:
    """Cut a JSON list's text into ``parts`` runs of whole elements: (start, end) of each run's element text.

    A cut is only a guess (the pattern might sit inside a string); it is proven right when every run decodes as a list
    of its own: a cut inside a string or a nested value leaves a bracket or a quote unclosed. None: not a list."""
    body_start = text.find("[")
    body_end = text.rfind("]")
    if body_start < 0 or text[:body_start].strip() or text[body_end + 1:].strip():
        return None
    cuts = [body_start + 1]
    for k in range(1, parts):
        m = _ELEMENT_BOUNDARY.search(text, max(cuts[-1], body_start + (body_end - body_start) * k // parts))
        if m is None or m.start() >= body_end:
            break
        cuts.append(m.start() + 1)  # the run ends after "}"
        cuts.append(m.end())  # the next starts at "{"
    cuts.append(body_end)
    return list(zip(cuts[0::2], cuts[1::2], strict=True))


def _decode_and_evaluate(bounds: tuple[int, int]) -> tuple[list[str], str | None] | None:
    """Worker: decode one run of cases and evaluate it into compact JSON lines, stopping at the first invalid case;
    None when the run does not decode (a wrong cut, or a malformed file: the caller falls back to one process, which
    names the fault)."""
    try:
        cases = json.loads("[" + _TEXT[0][bounds[0]:bounds[1]] + "]")
    except json.JSONDecodeError:
        return None
    lines: list[str] = []
    for case in cases:
        try:
            lines.append(json.dumps(evaluate_case(case)))
        except CaseError as exc:
            return lines, str(exc)
    return lines, None


def _run_to_file(job: tuple[tuple[int, int], str]) -> tuple[str, bool, str | None] | None:
    """Worker: `_decode_and_evaluate` with the lines written to a file (cheaper than sending them back)."""
    bounds, out_path = job
    done = _decode_and_evaluate(bounds)
    if done is None:
        return None
    lines, error = done
    with open(out_path, "w", encoding="utf-8") as fh:
        fh.write(",\n".join(lines))
    return out_path, bool(lines), error


def _evaluate_in_parallel(path: Path, text: str, processes: int, out: TextIO) -> bool:
    """Many subjects on every core: each forked worker decodes and evaluates its own run of the list (so decoding is
    shared out too) and the results are written to ``out`` in file order. False, with nothing written, when the file
    cannot be cut that way."""
    import multiprocessing
    import shutil
    import tempfile

    runs = _split_list(text, processes)
    if runs is None or len(runs) < 2:
        return False
    _TEXT[:] = [text]
    try:
        with tempfile.TemporaryDirectory(prefix="recist-evaluate-") as tmp, \
                multiprocessing.get_context("fork").Pool(len(runs)) as pool:
            done = pool.map(_run_to_file, [(run, f"{tmp}/{n}.json") for n, run in enumerate(runs)])
            if any(d is None for d in done):
                return False
            for run_result in done:
                assert run_result is not None
                if run_result[2] is not None:  # the first invalid case in file order, as one process reports it
                    raise CommandError(f"{path}: {run_result[2]}", INVALID_INPUT)
            out.write("[\n")
            first = True
            for out_path, has_lines, _ in (d for d in done if d is not None):
                if has_lines:
                    out.write("" if first else ",\n")
                    out.flush()
                    with open(out_path, encoding="utf-8") as fh:
                        shutil.copyfileobj(fh, out)
                    first = False
            out.write("\n]\n")
            return True
    finally:
        _TEXT.clear()


def run(args: argparse.Namespace) -> int:
    processes = min(os.cpu_count() or 1, 8)
    if args.format == "json" and len(args.cases) == 1 and processes > 1 and sys.platform == "linux":
        path = Path(args.cases[0])
        if path.is_file() and path.stat().st_size >= PARALLEL_MIN_BYTES:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                text = ""  # the one-process path below says what is wrong
            if text and _evaluate_in_parallel(path, text, processes, sys.stdout):
                return 0
    loaded = [(Path(name), load_cases(Path(name))) for name in args.cases]
    gc.freeze()  # the decoded input is acyclic and lives to the end: spare the collector rescanning it
    results = [result for path, cases in loaded for result in evaluate_cases(path, cases)]
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
