"""The response panel: per timepoint sum, changes, responses and reasons under RECIST 1.1 and iRECIST side by side;
best overall response; a spider plot of the sum over time; a waterfall of the best change across subjects."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget

from workstation.session.response import CriteriaResponse, ResponseSummary

#: the width the RECIST 1.1 reason column opens with (the reader may widen it)
REASON_WIDTH_PX = 320
COLUMNS = (
    "Timepoint",
    "Sum (mm)",
    "vs baseline",
    "vs nadir",
    "Target",
    "Non-target",
    "New",
    "RECIST 1.1",
    "iRECIST",
    "iRECIST new targets (mm)",
    "Reason (RECIST 1.1)",
    "Reason (iRECIST)",
)
#: the overall responses' columns (in `COLUMNS`; shown second and third)
RECIST_COLUMN = COLUMNS.index("RECIST 1.1")
IRECIST_COLUMN = COLUMNS.index("iRECIST")
RESPONSE_COLOURS = {
    "CR": "#2e7d32",
    "iCR": "#2e7d32",
    "PR": "#66bb6a",
    "iPR": "#66bb6a",
    "SD": "#fbc02d",
    "iSD": "#fbc02d",
    "PD": "#e53935",
    "iUPD": "#fb8c00",
    "iCPD": "#e53935",
    "NE": "#9e9e9e",
    "NED": "#90caf9",
}


@dataclass(frozen=True)
class SubjectCurve:
    """One subject's course for the plots: study days and % change of the sum from baseline, and its BOR."""

    subject_id: str
    days: list[float]
    change_pct: list[float]
    best_overall_response: str | None
    #: The waterfall's bar: the best change up to progression (PD; under iRECIST the confirmed iCPD), as the report's.
    best_change_pct: float | None = None


#: Responses that are progression itself (shown in colour also at and after the date progression dates from)
_PROGRESSION = frozenset({"PD", "iUPD", "iCPD"})


def _after_progression(row: dict[str, Any], progression_date: str | None) -> bool:
    """A visit whose response came at or after the date progression dates from (progression itself excepted): it
    stays on record as assessed, but is no response (an equivocal new lesion confirmed later backdates progression
    to a visit that showed, say, PR)."""
    when, response = row.get("date"), row.get("overall_response")
    if not progression_date or not when or response is None or response in _PROGRESSION:
        return False
    return str(when) >= progression_date


def _new_targets(row: dict[str, Any]) -> str:
    """iRECIST's new-lesion targets at a visit: their sum and ids (up to 5, 2 per organ; Seymour 2017), else blank."""
    ids = row.get("new_lesion_targets") or []
    total = row.get("new_lesion_target_sum_mm")
    if not ids:
        return ""
    return f"{'—' if total is None else f'{float(total):.1f}'} ({', '.join(map(str, ids))})"


def _dated(c: CriteriaResponse) -> str:
    """The date progression dates from, with the label of its timepoint: "2026-04-20 (week 12)"."""
    label = next((str(t.get("label")) for t in c.timepoints if t.get("date") == c.date_of_progression), "")
    return f"{c.date_of_progression} ({label})" if label else str(c.date_of_progression)


def _pct(v: Any) -> str:
    return "" if v is None else f"{float(v):+.1f} %"


def _new_text(v: Any) -> str:
    if v is None:  # the baseline: no new lesion can be there (it said "none", and "no" at every follow-up)
        return "—"
    if v is False:
        return "no"
    if v is True:
        return "yes"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {x}" for k, x in v.items())
    return str(v)


class ResponsePanel(QTabWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        table_page = QWidget()
        layout = QVBoxLayout(table_page)
        layout.setContentsMargins(2, 2, 2, 2)
        self.bor_label = QLabel("Best overall response: —")
        self.bor_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bor_label.setWordWrap(True)  # the reason under it may be long
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)  # type: ignore[union-attr]
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        assert header is not None
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        # the reasons are long sentences: a column of readable width each, the rest of a sentence in its tooltip
        # (sized to its longest reason, the first took ~30 clicks of the scroll bar to read)
        for col in (len(COLUMNS) - 2, len(COLUMNS) - 1):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(len(COLUMNS) - 2, REASON_WIDTH_PX)
        # the overall responses, what the reader reads the table for, shown right after the timepoint: at 1366 px they
        # were beyond the sums and the lesion responses, off to the right (moved on screen only: the columns keep
        # their numbers, ``table.item(row, RECIST_COLUMN)``)
        for place, col in enumerate((RECIST_COLUMN, IRECIST_COLUMN), start=1):
            header.moveSection(header.visualIndex(col), place)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        layout.addWidget(self.bor_label)
        layout.addWidget(self.table)
        self.addTab(table_page, "Responses")
        self.spider = pg.PlotWidget(title="Sum of diameters, change from baseline")
        self.spider.setLabel("bottom", "days from baseline")
        self.spider.setLabel("left", "change (%)")
        self.spider.showGrid(x=True, y=True, alpha=0.3)
        self.addTab(self.spider, "Spider plot")
        self.waterfall = pg.PlotWidget(title="Best change of the sum from baseline, per subject")
        self.waterfall.setLabel("left", "best change (%)")
        self.waterfall.showGrid(y=True, alpha=0.3)
        self.addTab(self.waterfall, "Waterfall")
        #: applied to every engine text shown (a blinded read turns the engine's dates into study days)
        self.text_filter: Callable[[str], str] = str
        self.summary: ResponseSummary | None = None
        self._curves: tuple[list[SubjectCurve], str | None] | None = None  # not drawn yet
        self.currentChanged.connect(lambda _i: self._draw_curves())

    def show_summary(self, summary: ResponseSummary | None) -> None:
        self.summary = summary
        if summary is None:
            self.table.setRowCount(0)
            self.bor_label.setText("Best overall response: —")
            return
        r, i = summary.recist, summary.irecist
        errors = [self.text_filter(f"{c.criteria}: {c.error}") for c in (r, i) if c.error]
        bor = (
            f"Best overall response: RECIST 1.1 <b>{r.best_overall_response or '—'}</b> · iRECIST "
            f"<b>{i.best_overall_response or '—'}</b>"
        )
        # where progression dates from: an equivocal new lesion confirmed later backdates it (RECIST 1.1 sec. 4.3.5),
        # which the rows alone show only as a greyed response
        bor += "".join(f" · {c.criteria} progression dated {html.escape(self.text_filter(_dated(c)))}"
                       for c in (r, i) if c.date_of_progression and not c.error)
        # why: an unconfirmed PR leaves the best response SD, which the timepoint rows alone do not say
        reasons = [f"{c.criteria}: {self.text_filter(c.best_reason)}" for c in (r, i) if c.best_reason and not c.error]
        why = f"<br><span style='color:#707070'>{html.escape(reasons[0])}</span>" if reasons else ""
        self.bor_label.setText(
            bor + why + ("<br><span style='color:#d9534f'>" + "<br>".join(errors) + "</span>" if errors else "")
        )
        self.bor_label.setToolTip("<br>".join(html.escape(x) for x in reasons))
        rows = max(len(r.timepoints), len(i.timepoints))
        self.table.setRowCount(rows)
        for row in range(rows):
            tr = r.timepoints[row] if row < len(r.timepoints) else {}
            ti = i.timepoints[row] if row < len(i.timepoints) else {}
            values = [
                tr.get("label", ti.get("label", "")),
                "" if tr.get("sum_mm") is None else f"{float(tr['sum_mm']):.1f}",
                _pct(tr.get("change_from_baseline_pct")),
                _pct(tr.get("change_from_nadir_pct")),
                str(tr.get("target_response") or "—"),
                str(tr.get("non_target_response") or "—"),
                _new_text(tr.get("new_lesions")),
                str(tr.get("overall_response") or "—"),
                str(ti.get("overall_response") or "—"),
                _new_targets(ti),
                self.text_filter(str(tr.get("reason", ""))),
                self.text_filter(str(ti.get("reason", ""))),
            ]
            after = {7: _after_progression(tr, r.date_of_progression), 8: _after_progression(ti, i.date_of_progression)}
            missing = summary.unassessed.get(str(values[0]), [])
            for col, text in enumerate(values):
                incomplete = col in (7, 8) and missing and text != "—"  # a lesion left out may change it (to PD)
                item = QTableWidgetItem(f"{text} (incomplete)" if incomplete else text)
                if col in (7, 8) and after[col]:  # as assessed then, but not a response: grey, never green
                    item.setForeground(pg.mkColor("#9e9e9e"))
                    f = item.font()
                    f.setItalic(True)
                    item.setFont(f)
                    when = r.date_of_progression if col == 7 else i.date_of_progression
                    item.setToolTip(f"{text} as assessed at this visit; after progression (dated {when}): not used "
                                    "for the best overall response (RECIST 1.1 sec. 4.4.3)")
                elif col in (7, 8) and text in RESPONSE_COLOURS:
                    item.setForeground(pg.mkColor(RESPONSE_COLOURS[text]))
                    f = item.font()
                    f.setBold(True)
                    item.setFont(f)
                    item.setToolTip(values[10 if col == 7 else 11])  # why, without scrolling to the reason column
                if col >= 10:
                    item.setToolTip(text)
                if col in (7, 8) and missing:
                    item.setToolTip(f"{', '.join(missing)} not assessed at this visit yet: this response may still "
                                    f"change. {item.toolTip()}")
                self.table.setItem(row, col, item)

    def show_curves(self, curves: list[SubjectCurve], current: str | None) -> None:
        """Keep the curves; draw them now if a plot is showing, else when the reader turns to one (redrawing both
        plots costs ~20 ms, too much for every edit on the GUI thread)."""
        self._curves = (curves, current)
        if self.currentWidget() in (self.spider, self.waterfall):
            self._draw_curves()

    def _draw_curves(self) -> None:
        if self._curves is None:
            return
        curves, current = self._curves
        self._curves = None
        self.spider.clear()
        self.spider.addLine(y=20, pen=pg.mkPen("#e53935", style=Qt.PenStyle.DashLine))
        self.spider.addLine(y=-30, pen=pg.mkPen("#66bb6a", style=Qt.PenStyle.DashLine))
        for c in curves:
            if not c.days:
                continue
            colour = RESPONSE_COLOURS.get(c.best_overall_response or "", "#9e9e9e")
            width = 3 if c.subject_id == current else 1
            self.spider.plot(
                c.days,
                c.change_pct,
                pen=pg.mkPen(colour, width=width),
                symbol="o",
                symbolSize=6,
                symbolBrush=colour,
                name=c.subject_id,
            )
            label = pg.TextItem(c.subject_id, color=colour, anchor=(0, 0.5))
            label.setPos(c.days[-1], c.change_pct[-1])
            self.spider.addItem(label)
        last_day = max((c.days[-1] for c in curves if c.days), default=0.0)
        self.spider.setXRange(0.0, max(last_day, 1.0) * 1.2, padding=0.02)  # room for the labels on the right
        self.waterfall.clear()
        best = sorted(((c.best_change_pct, c) for c in curves if c.best_change_pct is not None), key=lambda t: -t[0])
        if not best:
            return
        xs = np.arange(len(best))
        heights = [b for b, _ in best]
        brushes = [pg.mkBrush(RESPONSE_COLOURS.get(c.best_overall_response or "", "#9e9e9e")) for _, c in best]
        self.waterfall.addItem(pg.BarGraphItem(x=xs, height=heights, width=0.7, brushes=brushes))
        self.waterfall.addLine(y=-30, pen=pg.mkPen("#66bb6a", style=Qt.PenStyle.DashLine))
        self.waterfall.addLine(y=20, pen=pg.mkPen("#e53935", style=Qt.PenStyle.DashLine))
        axis = self.waterfall.getAxis("bottom")
        axis.setTicks([[(float(x), c.subject_id) for x, (_, c) in zip(xs, best, strict=True)]])


def curve_for(subject_id: str, response: CriteriaResponse, days: list[float]) -> SubjectCurve:
    """The % change of the sum at each evaluated timepoint (baseline 0 %); ``days`` are the study days of those."""
    xs: list[float] = []
    ys: list[float] = []
    before_progression: list[float] = []
    progressed = False
    for i, (day, tp) in enumerate(zip(days, response.timepoints, strict=False)):
        pct = tp.get("change_from_baseline_pct")
        if tp.get("sum_mm") is not None:
            xs.append(day)
            ys.append(0.0 if pct is None else float(pct))
            if i > 0 and not progressed and pct is not None:
                before_progression.append(float(pct))
        progressed = progressed or tp.get("overall_response") in ("PD", "iCPD")
    best = min(before_progression) if before_progression else None
    return SubjectCurve(subject_id, xs, ys, response.best_overall_response, best)
