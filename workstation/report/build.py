"""Write the trial report: report.html (self-contained), report.pdf, one PNG per figure and the numbers as CSV."""

from __future__ import annotations

import base64
import html
import io
import textwrap
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from imaging.cancel import CancelToken, ProgressCallback, report
from workstation.export.both_criteria import derived_reads
from workstation.export.tables import write_csv
from workstation.read_model import Read
from workstation.report import plots
from workstation.report.data import SubjectResult, select_reads, subject_result

CRITERIA_ORDER = ("RECIST 1.1", "iRECIST")
#: endpoints.csv's method of a Kaplan-Meier median (in full: `recist.endpoints.km_method`, the report's methods rows)
KM_METHOD_SHORT = ("Kaplan-Meier (lifelines); median: midpoint where S(t) = 0.5 over an interval (SAS LIFETEST, R "
                   "survfit); CI: Brookmeyer-Crowley, log(-log), Greenwood; NE where S(t) = 0")


class ReportError(ValueError):
    """Reads the report cannot be built from; the message names the subject (``subject_id``, where one is at fault)."""

    def __init__(self, message: str, subject_id: str | None = None) -> None:
        super().__init__(message)
        self.subject_id = subject_id


@dataclass
class ReportFiles:
    html: Path
    pdf: Path
    csv: list[Path] = field(default_factory=list)
    png: list[Path] = field(default_factory=list)
    #: the endpoints' warnings (mixed response settings, dates to check), per criteria; also in the report
    warnings: list[str] = field(default_factory=list)


@dataclass
class CriteriaSection:
    criteria: str
    subjects: list[SubjectResult]
    endpoints: dict[str, Any]
    figures: list[tuple[str, str, Figure]] = field(default_factory=list)  # (slug, caption, figure)


def _evaluate(
    reads: Sequence[Read], case_extras: Mapping[str, Mapping[str, Any]], optional: Collection[str] = (),
    cases: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[tuple[Read, dict[str, Any]]]:
    """Each read with the engine's results; a read in ``optional`` (derived under the other criteria) that the engine
    refuses is left out, any other is a `ReportError`. A read made from a case file is evaluated from that case, as
    given (as `recist endpoints` evaluates it)."""
    from recist import CaseError, evaluate_case
    from recist.endpoints import with_case_settings

    out = []
    for r in reads:
        case = dict((cases or {}).get(r.read_id) or r.to_case())
        # Subject-level dates a read does not hold (treatment start, death, last contact) from the case file.
        case |= {k: v for k, v in case_extras.get(r.read_id, {}).items() if k not in case}
        try:
            out.append((r, with_case_settings(evaluate_case(case), case)))
        except (CaseError, ValueError) as exc:
            if r.read_id in optional:
                continue
            raise ReportError(f"subject {r.subject_id} ({r.reader}, {r.criteria}): {exc}", r.subject_id) from None
    return out


def _sections(evaluated: Sequence[tuple[Read, dict[str, Any]]], gap_days: int | None = None) -> list[CriteriaSection]:
    from recist.endpoints import compute_endpoints

    by_criteria: dict[str, list[tuple[Read, dict[str, Any]]]] = {}
    for read, res in evaluated:
        by_criteria.setdefault(read.criteria, []).append((read, res))
    order = sorted(by_criteria, key=lambda c: (CRITERIA_ORDER.index(c) if c in CRITERIA_ORDER else 9, c))
    sections = []
    for criteria in order:
        items = by_criteria[criteria]
        try:
            endpoints = compute_endpoints([res for _, res in items], censor_after_gap_days=gap_days)
        except ValueError as exc:
            raise ReportError(f"{criteria}: {exc}", getattr(exc, "subject_id", None)) from None
        subjects = [subject_result(read, res) for read, res in items]
        s = CriteriaSection(criteria, subjects, endpoints)
        name = criteria
        s.figures = [
            ("pfs", f"Progression-free survival ({name})",
             plots.kaplan_meier(endpoints.get("pfs"), f"Progression-free survival, {name}")),
            ("dor", f"Duration of response ({name})",
             plots.kaplan_meier(endpoints.get("dor"), f"Duration of response, {name} (responders)")),
            ("waterfall", f"Waterfall: best change in the sum of diameters ({name})",
             plots.waterfall(subjects, f"Best change in sum of target diameters, {name}")),
            ("spider", f"Spider: change in the sum over time ({name})",
             plots.spider(subjects, f"Change in sum of target diameters over time, {name}")),
            ("swimmer", f"Swimmer: time on study and response ({name})",
             plots.swimmer(subjects, f"Time on study, response and progression, {name}")),
        ]  # fmt: skip
        if endpoints.get("os"):  # only when the case files give death or last-contact dates
            s.figures.insert(2, ("os", f"Overall survival ({name})",
                                 plots.kaplan_meier(endpoints["os"], f"Overall survival, {name}")))
        sections.append(s)
    return sections


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _proportion_text(p: Mapping[str, Any]) -> str:
    if not p.get("n"):
        return "n = 0"
    return (f"{p['count']}/{p['n']} = {_pct(p['estimate'])} (95 % CI {_pct(p['ci_lower'])} to "
            f"{_pct(p['ci_upper'])}, Clopper-Pearson exact)")


def _median_text(est: Mapping[str, Any] | None) -> str:
    if not est:
        return "no subject"
    return plots._median_text(est)


def _summary_rows(s: CriteriaSection) -> list[tuple[str, str]]:
    from recist.endpoints import subject_notes

    e = s.endpoints
    rows = [
        ("Subjects (evaluable)", f"{e['n']} of {e['subjects']} ({e['population']})"),
        ("Objective response rate", _proportion_text(e["orr"])),
        ("Disease control rate", _proportion_text(e["dcr"])),
    ]
    rows += [(f"Best overall response {code}", str(n)) for code, n in e["best_overall_response_counts"].items()]
    rows += [("Progression-free survival", _median_text(e.get("pfs"))),
             ("Duration of response", _median_text(e.get("dor")))]
    rows.append(("Overall survival", _median_text(e["os"]) if e.get("os") else
                 "not estimated (no case gives death_date or last_contact_date)"))
    rows += subject_notes(e)  # censored, or not, where the statistician should know whom that concerns
    pseudo = e.get("pseudo_progression") or []
    if e.get("criteria") == "iRECIST":  # the number an immunotherapy trial reports, zero included
        rows.append(("Pseudo-progression (an iUPD not confirmed, then iSD or better)",
                     f"{len(pseudo)}" + (f" ({', '.join(pseudo)})" if pseudo else "")))
    methods = e.get("methods") or {}
    if methods:
        rows += [("PFS computed over", methods["pfs"]), ("DoR computed over", methods["dor"])]
        if e.get("os") and methods.get("os"):
            rows += [("OS computed over", methods["os"])]
        rows += [("Response settings", methods["response_settings"]), ("Kaplan-Meier", methods["kaplan_meier"]),
                 ("Time", methods["time"])]
    rows += [("Warning", w) for w in e.get("warnings") or []]
    return rows


def _slug(criteria: str) -> str:
    return "".join(c for c in criteria.lower() if c.isalnum())


def _summary_page(title: str, section: CriteriaSection, subtitle: str) -> Figure:
    """One A4 page per criteria: the endpoints, then every subject's best response."""
    fig = Figure(figsize=(8.27, 11.69))
    fig.text(0.08, 0.95, title, fontsize=16, weight="bold")
    fig.text(0.08, 0.935, subtitle, fontsize=8, color="#57606a", va="top", wrap=True)
    fig.text(0.08, 0.88, section.criteria, fontsize=13, weight="bold")
    y = 0.85
    e = section.endpoints
    rows = [r for r in _summary_rows(section) if not r[0].startswith("Best overall response ")]
    counts = "   ".join(f"{c} {n}" for c, n in e["best_overall_response_counts"].items())
    rows.insert(3, ("Best overall response", counts))
    for label, value in rows:  # wrapped to their columns (methods and subject lists run long)
        labels, values = textwrap.wrap(label, 34), textwrap.wrap(value, 84) or [""]
        for n in range(max(len(labels), len(values))):
            fig.text(0.1, y, labels[n] if n < len(labels) else "", fontsize=8)
            fig.text(0.36, y, values[n] if n < len(values) else "", fontsize=8)
            y -= 0.0145
        y -= 0.006
    y -= 0.015
    line = "{:<12}{:<14}{:<18}{:>12}{:>12}{:>12}"
    fig.text(0.1, y, line.format("Subject", "Reader", "Best response", "Best change", "Resp. day", "Progr. day"),
             fontsize=8, family="monospace", weight="bold")
    y -= 0.018
    for sub in section.subjects:
        if y < 0.06:
            fig.text(0.1, y, f"... and {len(section.subjects)} subjects in all: see subjects.csv", fontsize=8)
            break
        change = "-" if sub.best_change_pct is None else f"{sub.best_change_pct:+.1f} %"
        fig.text(0.1, y, line.format(sub.subject_id[:11], sub.reader[:13], sub.best_overall_response, change,
                                     _dash(sub.first_response_day), _dash(sub.progression_day)),
                 fontsize=8, family="monospace")
        y -= 0.017
    fig.text(0.08, 0.03, "Responses: recist.evaluate_case; endpoints: recist.endpoints (scipy exact binomial, "
             "lifelines Kaplan-Meier). Days from baseline.", fontsize=7, color="#57606a")
    return fig


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _dash(value: object) -> str:
    return "-" if value is None else str(value)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def _html(title: str, subtitle: str, sections: Sequence[CriteriaSection], images: Mapping[str, bytes]) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{e(title)}</title><style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;color:#1f2328}}"
        "table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #d0d7de;padding:0.3em 0.6em;"
        "text-align:left}th{background:#f6f8fa}img{max-width:100%}figcaption{color:#57606a;font-size:0.9em}"
        "</style></head><body>",
        f"<h1>{e(title)}</h1><p>{e(subtitle)}</p>",
    ]
    for s in sections:
        slug = _slug(s.criteria)
        parts.append(f"<h2 id='{slug}'>{e(s.criteria)}</h2><table>")
        parts += [f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in _summary_rows(s)]
        parts.append("</table><table><tr><th>Subject</th><th>Reader</th><th>Best overall response</th>"
                     "<th>Best change in sum</th><th>First response (day)</th><th>Progression (day)</th>"
                     "<th>Death (day)</th><th>Last evaluable assessment (day)</th><th>PFS end</th></tr>")
        pfs_end = _pfs_ends(s.endpoints)
        for sub in s.subjects:
            cells = [sub.subject_id, sub.reader, sub.best_overall_response,
                     "-" if sub.best_change_pct is None else f"{sub.best_change_pct:+.1f} %",
                     sub.first_response_day, sub.progression_day, sub.death_day, sub.last_evaluable_day,
                     pfs_end.get(sub.subject_id)]  # fmt: skip
            parts.append("<tr>" + "".join(f"<td>{e('-' if c is None else str(c))}</td>" for c in cells) + "</tr>")
        parts.append("</table>")
        for fig_slug, caption, _ in s.figures:
            data = base64.b64encode(images[f"{slug}_{fig_slug}"]).decode("ascii")
            parts.append(f"<figure><img alt='{e(caption)}' src='data:image/png;base64,{data}'>"
                         f"<figcaption>{e(caption)}</figcaption></figure>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _csv(out: Path, sections: Sequence[CriteriaSection]) -> list[Path]:
    endpoint_rows: list[dict[str, Any]] = []
    subject_rows: list[dict[str, Any]] = []
    written: list[Path] = []
    for s in sections:
        e = s.endpoints
        for name in ("orr", "dcr"):
            p = e[name]
            endpoint_rows.append({"criteria": s.criteria, "endpoint": name.upper(), "n": p["n"], "count": p["count"],
                                  "estimate": p["estimate"], "ci_lower": p["ci_lower"], "ci_upper": p["ci_upper"],
                                  "method": p["method"]})  # fmt: skip
        for code, n in e["best_overall_response_counts"].items():
            endpoint_rows.append({"criteria": s.criteria, "endpoint": f"BOR {code}", "n": e["n"], "count": n})
        for name in ("pfs", "dor", "os"):
            est = e.get(name)
            if not est:
                continue
            endpoint_rows.append({
                "criteria": s.criteria, "endpoint": f"{name.upper()} median (days)", "n": est["n"],
                "count": est["events"], "estimate": est["median_days"], "ci_lower": est["median_ci_lower_days"],
                "ci_upper": est["median_ci_upper_days"], "method": KM_METHOD_SHORT, "note": est.get("median_ci_note"),
            })  # fmt: skip
            written.append(write_csv(out / f"km_{_slug(s.criteria)}_{name}.csv",
                                     ["time_days", "at_risk", "events", "censored", "survival", "ci_lower",
                                      "ci_upper"], est["table"]))  # fmt: skip
        pfs_end = _pfs_ends(e)
        for sub in s.subjects:
            subject_rows.append({
                "criteria": s.criteria, "subject_id": sub.subject_id, "reader": sub.reader,
                "best_overall_response": sub.best_overall_response, "best_change_pct": sub.best_change_pct,
                "first_response_day": sub.first_response_day, "progression_day": sub.progression_day,
                "death_day": sub.death_day, "pfs_end": pfs_end.get(sub.subject_id),
                "last_evaluable_day": sub.last_evaluable_day, "last_scan_day": sub.last_day,
            })  # fmt: skip
    written.insert(0, write_csv(out / "endpoints.csv", ["criteria", "endpoint", "n", "count", "estimate", "ci_lower",
                                                        "ci_upper", "method", "note"], endpoint_rows))
    written.insert(1, write_csv(out / "subjects.csv", list(subject_rows[0]) if subject_rows else ["criteria"],
                                subject_rows))
    return written


def _pfs_ends(endpoints: Mapping[str, Any]) -> dict[str, str]:
    """Each subject's PFS end as the endpoints count it: progression, death, censored, or censored after a gap."""
    return {str(e["subject_id"]): str(e["end"]) for e in endpoints.get("pfs_by_subject") or []}


def build_report(reads: Sequence[Read], out_dir: str | Path, title: str = "Trial response report",
                 generated: date | None = None, progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None,
                 case_extras: Mapping[str, Mapping[str, Any]] | None = None,
                 cases: Mapping[str, Mapping[str, Any]] | None = None, left_out: Sequence[str] = (),
                 censor_after_gap_days: int | None = None) -> ReportFiles:
    """The trial report over ``reads`` (one read per subject and criteria is used: see `select_reads`).

    ``case_extras``: per read_id, case-file fields a read does not hold (``treatment_start``, ``death_date``,
    ``last_contact_date``, ``confirmation_min_days``), used by the engine and the endpoints (PFS from treatment start,
    OS). ``cases``: per read_id, the case file's case a read was made from, evaluated as given (a read drops some of
    its fields). ``left_out``: the JSON files among the inputs that are neither read nor case files, named in the
    report. ``censor_after_gap_days``: see `recist.endpoints.compute_endpoints`."""
    # Every subject under both criteria: a read made under one is evaluated under the other too, as the app shows it.
    derived = derived_reads(reads)
    extras = dict(case_extras or {})
    extras |= {d.read_id: extras[source] for source, d in derived if source in extras}
    given = dict(cases or {})
    given |= {d.read_id: {**given[source], "criteria": d.criteria} for source, d in derived if source in given}
    # A derived read stands in only where no read was made under that criteria for the subject (never beside one).
    made = select_reads(reads)
    covered = {(r.subject_id, r.criteria) for r in made}
    stand_ins = [r for r in select_reads([d for _, d in derived]) if (r.subject_id, r.criteria) not in covered]
    chosen = sorted(made + stand_ins, key=lambda r: (r.subject_id, r.criteria))
    if not chosen:
        raise ReportError("no read to report on")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    derived_ids = {d.read_id for _, d in derived}
    sections = _sections(_evaluate(chosen, extras, optional=derived_ids, cases=given), censor_after_gap_days)
    other = (" (a subject read under one criteria only is evaluated under the other from the same measurements)"
             if any(r.read_id in derived_ids for r in chosen) else "")
    subtitle = (f"{_count(len({r.subject_id for r in chosen}), 'subject')}; generated "
                f"{(generated or date.today()).isoformat()}; one read per subject and criteria (adjudicated, else "
                f"first central reader, else site){other}.")
    if left_out:  # named in full in report.html (a long list would run over the PDF page's heading)
        subtitle += (f" Left out: {_count(len(left_out), 'JSON file')} that {'is' if len(left_out) == 1 else 'are'} "
                     "not read or case files")
    named = f"{subtitle} ({', '.join(left_out)})." if left_out else subtitle
    total = sum(len(s.figures) for s in sections) + 2
    done = 0
    files = ReportFiles(html=out / "report.html", pdf=out / "report.pdf",
                        warnings=[f"{s.criteria}: {w}" for s in sections for w in s.endpoints.get("warnings") or []])
    images: dict[str, bytes] = {}
    with PdfPages(out / "report.pdf") as pdf:
        for s in sections:
            pdf.savefig(_summary_page(title, s, f"{subtitle} (named in report.html)." if left_out else subtitle))
            for fig_slug, _, fig in s.figures:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                key = f"{_slug(s.criteria)}_{fig_slug}"
                images[key] = _png(fig)
                path = out / f"{key}.png"
                path.write_bytes(images[key])
                files.png.append(path)
                pdf.savefig(fig)
                done += 1
                report(progress, done, total, key)
        pdf.infodict()["Title"] = title
    files.html.write_text(_html(title, named, sections, images), encoding="utf-8")
    files.csv = _csv(out, sections)
    report(progress, total, total, "done")
    return files
