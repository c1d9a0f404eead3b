"""`recist endpoints DIR [--format json|table]`: trial endpoints over every case file in a folder."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from workstation.cli import CommandError
from workstation.cli.evaluate import INVALID_INPUT, evaluate_cases

NAME = "endpoints"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(NAME, help="trial endpoints (ORR, DCR, DoR, PFS) over a folder of case files",
                              description="Evaluate every *.json case file in DIR and print ORR and DCR (exact 95 % "
                                          "CIs), best-response counts, DoR, PFS and OS (Kaplan-Meier).")
    p.add_argument("directory", metavar="DIR",
                   help="folder of case files (*.json, sub-folders too; a file may hold a list of cases; other JSON "
                        "files, such as a trial index or ground truth, are left out and named)")
    p.add_argument("--criteria", choices=("RECIST 1.1", "iRECIST"), default=None,
                   help="which cases to use when the folder holds both (default: RECIST 1.1, the primary endpoint)")
    p.add_argument("--format", choices=("json", "table"), default="json", help="output format (default: json)")
    p.add_argument("--all-subjects", action="store_true",
                   help="ORR/DCR over every subject, not only those with measurable disease at baseline (PFS and "
                        "OS are always over every subject)")
    add_gap_argument(p)
    p.set_defaults(func=run)


def add_gap_argument(p: argparse.ArgumentParser) -> None:
    """--censor-after-gap DAYS (`recist endpoints` and `recist report`)."""
    p.add_argument("--censor-after-gap", type=_days, metavar="DAYS", default=None,
                   help="censor a progression or death more than DAYS after the last evaluable assessment there "
                        "(missed visits; FDA 2018 guidance, PFS censoring table: after two or more missed visits, "
                        "e.g. 2 x 42 + 7 = 91 for 6-weekly scans); default: counted as an event at its date")


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if days < 1:
        raise argparse.ArgumentTypeError(f"{days}: give at least 1 day")
    return days


def run(args: argparse.Namespace) -> int:
    folder = Path(args.directory)
    if not folder.is_dir():
        raise CommandError(f"{folder}: not a folder", INVALID_INPUT)
    case_files, left_out = _case_files(folder)
    if not case_files:
        raise CommandError(f"{folder}: no case files (*.json)", INVALID_INPUT)
    if left_out:
        print(f"recist endpoints: passed over {_left_out_text(left_out)}", file=sys.stderr)
    by_criteria: dict[str, list[tuple[Path, dict[str, Any]]]] = {}
    raw: dict[tuple[str, str], tuple[Path, dict[str, Any]]] = {}  # (criteria, subject) -> its case file and case
    for path, cases in case_files:
        for case, r in zip(cases, _evaluate(path, cases), strict=True):
            by_criteria.setdefault(r["criteria"], []).append((path, r))
            raw.setdefault((r["criteria"], r["subject_id"]), (path, case))
    criteria = args.criteria or (next(iter(by_criteria)) if len(by_criteria) == 1 else "RECIST 1.1")
    if criteria not in by_criteria:
        raise CommandError(f"{folder}: no {criteria} case files", INVALID_INPUT)
    others = sorted(set(by_criteria) - {criteria})
    if others and not args.criteria:
        print(f"recist endpoints: {criteria} cases used; the folder also holds {', '.join(others)} cases "
              "(--criteria to choose)", file=sys.stderr)
    # a subject with a case file under the other criteria only: its measurements evaluated under these, as
    # `recist report` and the exports do (workstation.export.both_criteria); ORR would otherwise leave it out
    have = {r["subject_id"] for _, r in by_criteria[criteria]}
    derived = sorted({subject for (c, subject) in raw if c != criteria and subject not in have})
    for subject in derived:
        path, case = next(v for (c, sid), v in raw.items() if sid == subject and c != criteria)
        by_criteria[criteria] += [(path, r) for r in _evaluate(path, [{**case, "criteria": criteria}])]
    if derived:
        print(f"recist endpoints: {len(derived)} subject(s) with no {criteria} case file ({', '.join(derived[:5])}"
              f"{', ...' if len(derived) > 5 else ''}): their other case file evaluated under {criteria}, as "
              "`recist report` does", file=sys.stderr)
    results: list[dict[str, Any]] = []
    source: dict[str, Path] = {}
    for path, r in by_criteria[criteria]:
        subject = r["subject_id"]
        if subject in source:
            raise CommandError(f"{path}: subject {subject}: already in {source[subject]}; one case per subject",
                               INVALID_INPUT)
        source[subject] = path
        results.append(r)
    # here: scipy and lifelines load only for this command
    from recist.endpoints import EndpointError, compute_endpoints

    try:
        out = compute_endpoints(results, measurable_only=not args.all_subjects,
                                censor_after_gap_days=args.censor_after_gap)
    except EndpointError as exc:  # a subject's dates: its case file
        raise CommandError(f"{source.get(str(exc.subject_id), folder)}: {exc}", INVALID_INPUT) from None
    except ValueError as exc:
        raise CommandError(f"{folder}: {exc}", INVALID_INPUT) from None
    out["files_left_out"] = [str(p) for p in left_out]
    if args.format == "table":
        sys.stdout.write(format_table(out) + "\n")
    else:
        for warning in out["warnings"]:  # the table gives them
            print(f"recist endpoints: warning: {warning}", file=sys.stderr)
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    return 0


def _case_files(folder: Path) -> tuple[list[tuple[Path, list[Any]]], list[Path]]:
    """The case files under ``folder`` with their cases, and the other JSON files (left out), as `recist report` finds
    them: a case is a subject_id with timepoints (docs/case-file.md), a file holds one or a list of them; hidden files
    (an export's own) are not inputs."""
    from workstation.export.read_json import (
        ReadFileError,
        cases_in,
        hidden_under,
        is_read_file,
        load_json,
        read_from_dict,
    )
    from workstation.report.data import select_reads

    case_files: list[tuple[Path, list[Any]]] = []
    left_out: list[Path] = []
    reads: dict[str, tuple[Path, Any]] = {}  # read id -> (file, read): workstation read files, as the report takes them
    for path in sorted(p for p in folder.rglob("*.json") if not hidden_under(p, folder)):
        try:
            data = load_json(path)
            if is_read_file(data):
                read = read_from_dict(data, source=str(path))
                reads[read.read_id] = (path, read)
                continue
            cases = cases_in(data, str(path))
        except ReadFileError as exc:
            raise CommandError(str(exc), INVALID_INPUT) from None
        if cases is None:
            left_out.append(path)
        else:
            case_files.append((path, cases))
    # one read per subject and criteria, as the report chooses (the adjudicator's, else the first central reader's,
    # else the site's): a reading centre's export holds several per subject
    for read in select_reads([r for _, r in reads.values()]):
        case_files.append((reads[read.read_id][0], [read.to_case()]))
    return case_files, left_out


def _evaluate(path: Path, cases: list[Any]) -> list[dict[str, Any]]:
    """The engine's results, each with its case's ``confirmation_min_days`` (`recist.endpoints.with_case_settings`)."""
    from recist.endpoints import with_case_settings

    return [with_case_settings(r, case) for case, r in zip(cases, evaluate_cases(path, cases), strict=True)]


def _left_out_text(files: list[Path]) -> str:
    one = len(files) == 1
    return (f"{len(files)} JSON file(s) that {'is' if one else 'are'} not case files: "
            + ", ".join(str(f) for f in files))


def _ci(p: dict[str, Any]) -> str:
    if p["estimate"] is None:
        return f"{p['count']}/{p['n']} (no subject)"
    return (f"{p['count']}/{p['n']} = {100 * p['estimate']:.1f} % (95 % CI {100 * p['ci_lower']:.1f} to "
            f"{100 * p['ci_upper']:.1f} %, Clopper-Pearson)")


def _km(name: str, km: dict[str, Any] | None) -> str:
    if km is None:
        return f"{name}: no subject"
    ne = km.get("median_ci_not_estimable") or []

    def limit(days: float | None, which: str) -> str:
        return "NE" if which in ne else "NR" if days is None else f"{days:.0f}"

    ci = (f"{round(km['confidence'] * 100)} % CI {limit(km['median_ci_lower_days'], 'lower')} to "
          f"{limit(km['median_ci_upper_days'], 'upper')} days")
    events = f"{km['events']} event{'' if km['events'] == 1 else 's'}, {km['censored']} censored of {km['n']}"
    if km["median_days"] is None:
        return f"{name}: median not reached; {events} (median NR, {ci})"
    return f"{name}: median {km['median_days']:g} days ({km['median_months']:.1f} months; {ci}); {events}"


#: The methods in the order the table (and the report) gives them, with their labels.
METHOD_LABELS = {"pfs": "PFS", "dor": "DoR", "os": "OS", "response_settings": "Response settings",
                 "kaplan_meier": "Kaplan-Meier", "time": "Time"}


def format_table(out: dict[str, Any]) -> str:
    from recist.endpoints import subject_notes

    subjects = f"{out['subjects']} subject{'' if out['subjects'] == 1 else 's'}"
    lines = [f"{out['criteria']}: {subjects}, {out['n']} in the population ({out['population']})",
             f"ORR: {_ci(out['orr'])}", f"DCR: {_ci(out['dcr'])}", "Best overall response:"]
    lines += [f"  {code:<18}{count}" for code, count in out["best_overall_response_counts"].items()]
    lines += [_km("PFS", out["pfs"]), _km("DoR", out["dor"])]
    lines.append(_km("OS", out["os"]) if out["os"] or not out["subjects"] else
                 "OS: not estimated (no case gives death_date or last_contact_date)")
    if out.get("files_left_out"):
        lines.append(f"Left out: {_left_out_text([Path(f) for f in out['files_left_out']])}")
    lines += [f"{label}: {subjects}" for label, subjects in subject_notes(out)]
    if out.get("pseudo_progression"):
        lines.append(f"Pseudo-progression (an iUPD not confirmed, then iSD or better): {len(out['pseudo_progression'])}"
                     f" ({', '.join(out['pseudo_progression'])})")
    lines += [f"Warning: {w}" for w in out.get("warnings") or []]
    methods = out.get("methods") or {}
    lines.append("Methods:")
    lines += [f"  {label}: {methods[key]}" for key, label in METHOD_LABELS.items()
              if key in methods and (key != "os" or out["os"])]
    return "\n".join(lines)
