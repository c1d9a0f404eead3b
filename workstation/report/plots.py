"""The report's figures (matplotlib, no GUI backend): Kaplan-Meier with numbers at risk, waterfall, spider, swimmer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from workstation.report.data import SubjectResult

DAYS_PER_MONTH = 30.4375
COLOURS = {
    "CR": "#1a7f37", "PR": "#54b45f", "SD": "#f2b134", "non-CR/non-PD": "#c9b458", "PD": "#d1242f", "NE": "#8c959f",
    "NED": "#adb5bd", "iCR": "#1a7f37", "iPR": "#54b45f", "iSD": "#f2b134", "non-iCR/non-iUPD": "#c9b458",
    "iUPD": "#f0883e", "iCPD": "#d1242f",
}  # fmt: skip
SIZE = (8.27, 5.2)  # A4 width


def _colour(code: str) -> str:
    return COLOURS.get(code, "#57606a")


def _legend(ax: Any, codes: Sequence[str]) -> None:
    seen = list(dict.fromkeys(codes))
    ax.legend(handles=[Patch(color=_colour(c), label=c) for c in seen], title="Best overall response",
              fontsize=8, title_fontsize=8, loc="best", frameon=False)


def kaplan_meier(estimate: Mapping[str, Any] | None, title: str, xlabel: str = "Months") -> Figure:
    """Step curve with its confidence band, censoring ticks, the median and a numbers-at-risk row."""
    fig = Figure(figsize=SIZE)
    ax = fig.add_axes((0.1, 0.3, 0.85, 0.6))
    ax.set_title(title, fontsize=11, loc="left", pad=18)
    ax.set_ylabel("Probability")
    ax.set_ylim(0, 1.05)
    if not estimate or not estimate.get("n"):
        ax.text(0.5, 0.5, "no subject in this analysis", ha="center", va="center", transform=ax.transAxes)
        return fig
    rows = estimate["table"]
    times = [0.0] + [r["time_days"] / DAYS_PER_MONTH for r in rows]
    surv = [1.0] + [r["survival"] for r in rows]
    lo = [1.0] + [r["ci_lower"] if r["ci_lower"] is not None else r["survival"] for r in rows]
    hi = [1.0] + [r["ci_upper"] if r["ci_upper"] is not None else r["survival"] for r in rows]
    ax.step(times, surv, where="post", color="#0969da", lw=2, label=estimate["name"])
    ax.fill_between(times, lo, hi, step="post", color="#0969da", alpha=0.15, lw=0,
                    label=f"{round(estimate['confidence'] * 100)} % CI")
    censored = [(r["time_days"] / DAYS_PER_MONTH, r["survival"]) for r in rows if r["censored"]]
    if censored:
        ax.plot(*zip(*censored, strict=True), "|", color="#0969da", ms=10, mew=1.5, label="censored")
    median = estimate.get("median_days")
    if median is not None:
        m = median / DAYS_PER_MONTH
        ax.plot([0, m, m], [0.5, 0.5, 0], ls=":", color="#57606a", lw=1)
    ax.text(1.0, 1.02, _median_text(estimate), transform=ax.transAxes, ha="right", va="bottom", fontsize=8,
            color="#24292f")
    end = max(times) * 1.05 or 1.0
    ax.set_xlim(0, end)
    ax.legend(loc="lower left", fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    ticks = [t for t in ax.get_xticks() if 0 <= t <= end]
    ax.set_xticks(ticks)
    ax.set_xlabel(xlabel)
    risk = fig.add_axes((0.1, 0.08, 0.85, 0.1), sharex=ax)
    risk.set_axis_off()
    risk.set_title("Number at risk", fontsize=9, loc="left")
    for t in ticks:
        removed = sum(r["events"] + r["censored"] for r in rows if r["time_days"] / DAYS_PER_MONTH < t)
        risk.text(t, 0.3, str(estimate["n"] - removed), ha="center", va="center", fontsize=9)
    return fig


def _median_text(estimate: Mapping[str, Any]) -> str:
    ne = estimate.get("median_ci_not_estimable") or []

    def months(days: float | None, which: str = "") -> str:
        return "NE" if which in ne else "NR" if days is None else f"{days / DAYS_PER_MONTH:.1f}"

    ci = round(estimate["confidence"] * 100)
    median = estimate["median_days"]
    head = "median NR" if median is None else f"median {months(median)} months"
    return (f"{head} ({ci} % CI {months(estimate['median_ci_lower_days'], 'lower')} to "
            f"{months(estimate['median_ci_upper_days'], 'upper')}); {estimate['events']} "
            f"event{'' if estimate['events'] == 1 else 's'} in {estimate['n']}")


def waterfall(subjects: Sequence[SubjectResult], title: str) -> Figure:
    """Best change from baseline in the sum of diameters, one bar per subject, sorted, coloured by BOR."""
    fig = Figure(figsize=SIZE)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_title(title, fontsize=11, loc="left")
    data = sorted(((s.best_change_pct, s) for s in subjects if s.best_change_pct is not None),
                  key=lambda t: -t[0])  # fmt: skip
    for x, (change, s) in enumerate(data):
        ax.bar(x, change, color=_colour(s.best_overall_response), edgecolor="black", lw=0.4)
        ax.text(x, change + (2 if change >= 0 else -2), f"{change:+.0f}%", ha="center",
                va="bottom" if change >= 0 else "top", fontsize=8)
    ax.set_xticks(range(len(data)), [s.subject_id for _, s in data], rotation=45, ha="right", fontsize=8)
    ax.axhline(20, color="#d1242f", ls="--", lw=1)
    ax.axhline(-30, color="#1a7f37", ls="--", lw=1)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_ylabel("Best change in sum of diameters from baseline (%)")
    low = min([c for c, _ in data] + [-35.0])
    high = max([c for c, _ in data] + [25.0])
    ax.set_ylim(low - 10, high + 10)
    if data:
        _legend(ax, [s.best_overall_response for _, s in data])
    else:
        ax.text(0.5, 0.5, "no subject with a follow-up sum", ha="center", transform=ax.transAxes)
    fig.tight_layout()
    return fig


def spider(subjects: Sequence[SubjectResult], title: str) -> Figure:
    """Change in the sum from baseline over time, one line per subject, coloured by BOR; the progression (PD; under
    iRECIST the iUPD that was confirmed) marked X on its line, an unconfirmed iUPD an orange diamond (as in the
    swimmer plot)."""
    fig = Figure(figsize=SIZE)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_title(title, fontsize=11, loc="left")
    marks: set[str] = set()
    for s in subjects:
        pts = [(p.day / 7, p.change_from_baseline_pct if p.change_from_baseline_pct is not None else 0.0, p)
               for p in s.points if p.sum_mm is not None]
        if not pts:
            continue
        xs, ys, points = zip(*pts, strict=True)
        ax.plot(xs, ys, marker="o", ms=4, color=_colour(s.best_overall_response), lw=1.5)
        ax.annotate(s.subject_id, (xs[-1], ys[-1]), xytext=(4, 0), textcoords="offset points", fontsize=7,
                    va="center")
        for x, y, p in zip(xs, ys, points, strict=True):
            if p.day == s.progression_day:
                ax.plot(x, y, "X", color="black", ms=8, zorder=3)
                marks.add("progression")
            elif p.day in s.unconfirmed_iupd_days:
                ax.plot(x, y, "D", color="#f0883e", mec="black", ms=7, zorder=3)
                marks.add("iUPD")
    ax.axhline(20, color="#d1242f", ls="--", lw=1)
    ax.axhline(-30, color="#1a7f37", ls="--", lw=1)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("Weeks from baseline")
    ax.set_ylabel("Change in sum of diameters from baseline (%)")
    ax.grid(alpha=0.3)
    handles: list[Artist] = [
        Patch(color=_colour(c), label=c) for c in dict.fromkeys(s.best_overall_response for s in subjects)
    ]
    if "progression" in marks:
        handles.append(Line2D([], [], marker="X", ls="", color="black", ms=8, label="progression"))
    if "iUPD" in marks:
        handles.append(Line2D([], [], marker="D", ls="", color="#f0883e", mec="black", ms=7, label="iUPD, unconfirmed"))
    ax.legend(handles=handles, title="Best overall response", fontsize=8, title_fontsize=8, loc="best", frameon=False)
    fig.tight_layout()
    return fig


def swimmer(subjects: Sequence[SubjectResult], title: str) -> Figure:
    """Time on study per subject (to the last scan), with each assessment, the first response, progression (under
    iRECIST the iUPD confirmed; an iUPD never confirmed an orange diamond) and death (a dotted line from the last scan
    to it); the arrow only for a subject alive without progression."""
    fig = Figure(figsize=(SIZE[0], max(3.2, 1.4 + 0.45 * len(subjects))))
    ax = fig.add_subplot(1, 1, 1)
    ax.set_title(title, fontsize=11, loc="left")
    order = sorted(subjects, key=lambda s: s.last_day)
    for y, s in enumerate(order):
        weeks = s.last_day / 7
        ax.barh(y, weeks, color=_colour(s.best_overall_response), edgecolor="black", lw=0.4, height=0.6)
        for p in s.points[1:]:
            ax.plot(p.day / 7, y, "|", color="black", ms=8)
        if s.first_response_day is not None:
            ax.plot(s.first_response_day / 7, y, "^", color="white", mec="black", ms=8)
        for day in s.unconfirmed_iupd_days:
            ax.plot(day / 7, y, "D", color="#f0883e", mec="black", ms=7)
        if s.progression_day is not None:
            ax.plot(s.progression_day / 7, y, "X", color="black", ms=8)
        if s.death_day is not None:
            ax.plot([weeks, s.death_day / 7], [y, y], ls=":", color="black", lw=1)
            ax.plot(s.death_day / 7, y, "s", color="black", ms=6)
        elif s.progression_day is None:
            ax.annotate("", (weeks + 1.5, y), (weeks + 0.2, y), arrowprops={"arrowstyle": "->", "lw": 1.2})
    ax.set_yticks(range(len(order)), [s.subject_id for s in order], fontsize=8)
    ax.set_xlabel("Weeks from baseline")
    ends = [max(s.last_day, s.death_day or 0) / 7 for s in order]
    ax.set_xlim(0, max([*ends, 1.0]) + 3)
    ax.legend(handles=_swimmer_legend(order), fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def _swimmer_legend(order: Sequence[SubjectResult]) -> list[Artist]:
    """The swimmer plot's legend: the best responses, then each mark drawn."""
    handles: list[Artist] = [
        Patch(color=_colour(c), label=c) for c in dict.fromkeys(s.best_overall_response for s in order)
    ]
    handles += [
        Line2D([], [], marker="|", ls="", color="black", ms=8, label="assessment"),
        Line2D([], [], marker="^", ls="", color="white", mec="black", ms=8, label="first response"),
        Line2D([], [], marker="X", ls="", color="black", ms=8, label="progression"),
    ]
    if any(s.unconfirmed_iupd_days for s in order):
        handles.append(Line2D([], [], marker="D", ls="", color="#f0883e", mec="black", ms=7, label="iUPD, unconfirmed"))
    if any(s.death_day is not None for s in order):
        handles.append(Line2D([], [], marker="s", ls=":", color="black", ms=6, label="death"))
    if any(s.death_day is None and s.progression_day is None for s in order):
        handles.append(Line2D([], [], marker=r"$\rightarrow$", ls="", color="black", ms=10, label="no progression yet"))
    return handles
