"""The measuring flow of the main window: a click asks the engine (in a worker, busy indicator at once); the reader
adjusts an end point, accepts, or rejects and draws by hand; the measurement is recorded for the lesion chosen in the
decision bar, with its origin and engine.

A mixin of `workstation.ui.main_window.MainWindow`: it uses the window's session, viewers, decision bar and jobs.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication

from imaging.cancel import CancelToken, ProgressCallback
from imaging.volume import Volume
from workstation.mask_store import MaskStoreError
from workstation.read_model import LesionStatus, Measurement, MeasurementOrigin, Role
from workstation.session.followup import LesionProposal
from workstation.session.measure import MeasureError, manual_measurement, move_endpoint
from workstation.session.reading import SessionError, non_target_seen_status
from workstation.session.suggestions import Suggestion
from workstation.session.tracked import TrackedHit, lesion_at, outline_hits, overlapped_lesions
from workstation.ui.mm_text import mm
from workstation.ui.viewer import Tool

if TYPE_CHECKING:
    from PyQt6.QtWidgets import QCheckBox

    from workstation.session.reading import ReadingSession
    from workstation.session.suggestions import MeasuringService
    from workstation.ui.decision_bar import DecisionBar
    from workstation.ui.viewer import SliceViewer
    from workstation.ui.workers import Job, JobRunner


@dataclass
class Pending:
    """A measurement waiting for the reader's decision: an engine's suggestion (maybe adjusted) or a hand drawing."""

    measurement: Measurement
    slice_index: int
    suggestion: Suggestion | None = None


NEW_NAMES = {Role.TARGET: "new target", Role.NON_TARGET: "new non-target", Role.NEW: "new lesion"}

#: How the engines' warnings end ("...: check it", "...; check the outline", "...? check it"); the bar says it once.
_CHECK_ENDING = re.compile(r"[:;,]?\s*check (it|the outline)( before accepting)?\s*$")


def warning_text(warnings: list[str]) -> str:
    """The engine's warnings in one line for the reader: each reason once, "check" said once at the end."""
    reasons = [_CHECK_ENDING.sub("", w).strip() for w in warnings]
    reasons = [r for r in reasons if r]
    return f"{'; '.join(reasons)}: check the outline before accepting" if reasons else ""


def middle_of(segment: tuple[tuple[float, float, float], tuple[float, float, float]]) -> tuple[float, float, float]:
    m = np.add(segment[0], segment[1]) / 2
    return (float(m[0]), float(m[1]), float(m[2]))


def _recorded_text(m: Measurement, is_node: bool) -> str:
    """What was recorded, as RECIST counts it: a lymph node by its short axis (RECIST 1.1 section 4.2)."""
    if is_node and m.short_axis_mm is not None:
        long = "not measured" if m.long_axis_mm is None else f"{mm(m.long_axis_mm)} mm"
        return f"short axis {mm(m.short_axis_mm)} mm recorded (node; long axis {long})"
    return f"{mm(m.long_axis_mm)} mm recorded"


class MeasuringMixin:
    if TYPE_CHECKING:  # provided by the main window
        session: ReadingSession | None
        pending: Pending | None
        proposals: list[LesionProposal]
        current_viewer: SliceViewer
        decision_bar: DecisionBar
        node_check: QCheckBox
        measuring: MeasuringService
        jobs: JobRunner
        _suggest_job: Job | None
        _click_point: tuple[float, float, float]
        _click_slice: int
        _clicked_at: tuple[str, int] | None
        #: the lesion the reader asked to measure (G), whatever the click falls on
        _intended_lesion: str | None
        #: what the click being segmented replaces (said when its suggestion arrives), None when nothing waited
        _replaced: str | None
        #: stored outlines already read, by mask key
        _outline_cache: dict[str, tuple[Any, tuple[int, int, int]]]
        auto_answer: bool | None

        def say(self, message: str, timeout_ms: int = 8000) -> None: ...
        def shown(self, text: str) -> str: ...
        def _busy(self, text: str, total: int = 0) -> None: ...
        def _idle(self) -> None: ...
        def volume(self, tp_index: int) -> Volume | None: ...
        def set_tool(self, tool: Tool) -> None: ...
        def confirm(self, question: str, default_no: bool = False) -> bool: ...
        def _compare_beside(self, lesion_id: str) -> None: ...
        def _update_overlays(self) -> None: ...

    def suggest_at(self, point: tuple[float, float, float], slice_index: int) -> None:
        """A click on a lesion: show at once that the engine is working, run it in a worker."""
        s = self.session
        refused = s.edit_refused_here() if s is not None else None
        if refused is not None:  # a subject locked for analysis, a signed timepoint: no measurement to accept
            self.say(refused)
            return
        volume = self.volume(s.current_timepoint) if s else None
        if s is None or volume is None:
            self.say("the images are still loading")
            return
        if self._near_an_end(point, slice_index):  # a near miss of a handle threw the waiting suggestion away
            self.say("to move an end of the measurement waiting, drag it (press right on its handle); to measure "
                     "elsewhere, click farther from it", 0)
            return
        if self._suggest_job is not None and not self._suggest_job.done:
            self._suggest_job.cancel()
        self.decision_bar.say_below("note", None)
        self._replaced = self._waiting_name()
        is_node = self._click_is_node(point)
        QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        self._busy("finding the lesion…")
        self.current_viewer.loading_text = "finding the lesion…"
        self.current_viewer._update_text()
        measuring = self.measuring

        def work(_progress: ProgressCallback, cancel: CancelToken) -> Suggestion:
            suggestion = measuring.suggest(volume, point, is_node=is_node, cancel=cancel)
            # the outline is written here, off the GUI thread, and deleted again unless accepted; if writing fails,
            # accepting writes it again and says what is wrong
            with contextlib.suppress(MaskStoreError, OSError):
                measuring.keep_mask(suggestion, volume)
            return suggestion

        where = (s.read.subject_id, s.current_timepoint)

        def arrived(suggestion: Suggestion) -> None:
            # the reader may have moved on while the engine worked: a suggestion belongs to its own images; one the
            # reader cancelled (Esc, Cancel) after the engine's last look at the cancel token is not shown either
            moved_on = self.session is None or (self.session.read.subject_id, self.session.current_timepoint) != where
            if moved_on or job.token.cancelled:
                measuring.discard(suggestion)
                self._suggestion_ended()
                return
            self._suggested(suggestion)

        job = self.jobs.start(
            "suggestion",
            work,
            on_success=arrived,
            on_error=self._suggestion_failed,
            on_cancel=self._suggestion_ended,
        )
        self._suggest_job = job
        self._click_point = point
        self._clicked_at = (s.read.subject_id, s.current_timepoint)
        self._click_slice = slice_index
        self._intended_lesion = None  # a plain click: the lesion is found from where it falls

    def _click_is_node(self, point: tuple[float, float, float]) -> bool:
        lesion_id = self._lesion_for(point)
        s = self.session
        if s is not None and lesion_id is not None and lesion_id in s.read.lesions:
            return s.read.lesions[lesion_id].is_node
        return self.node_check.isChecked()

    def _suggestion_ended(self) -> None:
        self.current_viewer.loading_text = ""
        self.current_viewer._update_text()
        self._idle()

    def _suggested(self, suggestion: Suggestion) -> None:
        self._suggestion_ended()
        if self.session is None:
            self.measuring.discard(suggestion)
            return
        self._replace_pending(Pending(suggestion.measurement, suggestion.slice_index, suggestion))
        self.current_viewer.set_slice(suggestion.slice_index)
        self._show_pending(f"Suggested by {suggestion.measurement.engine}", warning_text(suggestion.warnings))
        choice = self.decision_bar.choice()
        if isinstance(choice, str):  # a tracked lesion: its earlier look stays beside it (in step, that viewer
            self._compare_beside(choice)  # followed the jump to the outline's slice, away from the lesion)
        moved = suggestion.slice_index - self._click_slice
        said = []
        if abs(moved) >= 2:  # the longest diameter lies away from the click: say so, the jump is not a mistake
            said.append(
                f"moved to Im {self.current_viewer.image_number(suggestion.slice_index)}, {abs(moved)} slices from the "
                f"{'proposed position' if self._intended_lesion is not None else 'one you clicked'} "
                f"(Im {self.current_viewer.image_number(self._click_slice)}): the outline's longest diameter is there"
            )
        if self._replaced is not None:  # never silently: the reader may have meant to accept it first
            said.append(f"the {self._replaced} waiting before was not accepted (Enter accepts one before moving on)")
            self._replaced = None
        if said:
            self.say("; ".join(said), 15000)

    def _node_changed(self, is_node: bool) -> None:
        """The reader said node or not while a suggestion waits: the same outline measured again as RECIST measures
        it (a node on the slice of its longest short axis). A measurement the reader adjusted or drew stays."""
        p, s = self.pending, self.session
        if p is None or s is None or p.suggestion is None or p.measurement.origin is not MeasurementOrigin.SUGGESTED:
            return
        volume = self.volume(s.current_timepoint)
        if volume is None:
            return
        again = self.measuring.remeasure(p.suggestion, volume, is_node)
        if again is p.suggestion:
            return
        # the same stored outline: nothing to discard
        self.pending = Pending(again.measurement, again.slice_index, again)
        self.current_viewer.set_slice(again.slice_index)
        self._show_pending(f"Suggested by {again.measurement.engine}", warning_text(again.warnings), fresh=False)

    def _suggestion_failed(self, message: str) -> None:
        self._suggestion_ended()
        advice = f"{message} — draw it by hand: R (ruler) or B (bidirectional)"
        self.say(advice, 30000)
        # where the reader looks, whole (the status bar cuts a long line), till the next click
        self.decision_bar.say_below("note", self.shown(advice), warn=True)

    def _waiting_name(self) -> str | None:
        """What a new measurement would replace: "suggestion" or "measurement drawn by hand", None when none waits."""
        if self.pending is None:
            return None
        return "suggestion" if self.pending.suggestion is not None else "measurement drawn by hand"

    def _line_drawn(self, long_axis: Any, short_axis: Any, slice_index: int) -> None:
        s = self.session
        if s is not None and s.view_only:
            self.say(s.view_only)
            return
        volume = self.volume(s.current_timepoint) if s else None
        if s is None or volume is None:
            return
        try:
            m = manual_measurement(volume, slice_index, long_axis, short_axis)
        except MeasureError as exc:
            self.say(str(exc), 0)  # until the next message: it went after 8 s, before it was read
            return
        self._click_point = middle_of(long_axis)
        self._clicked_at = (s.read.subject_id, s.current_timepoint)
        self._intended_lesion = None
        self._replace_pending(Pending(m, slice_index, None))
        self._show_pending("Drawn by hand")

    def _endpoint_moved(self, axis: str, end: int, point: Any) -> None:
        if self.pending is None:
            return
        try:
            self.pending.measurement = move_endpoint(self.pending.measurement, axis, end, point)
        except MeasureError as exc:
            self.say(str(exc), 0)
        self._show_pending("Adjusted by the reader" if self.pending.suggestion else "Drawn by hand", fresh=False)

    def _show_pending(self, title: str, warning: str = "", fresh: bool = True) -> None:
        """Draw the waiting measurement and describe it: its diameters first, then any ``warning`` on the second
        line; ``fresh`` (a new one) also resets the bar's lesion choice, an adjustment keeps what the reader chose."""
        p = self.pending
        s = self.session
        if p is None or s is None:
            return
        m = p.measurement
        short = f" × {mm(m.short_axis_mm)}" if m.short_axis_mm is not None else ""
        vol = f", {m.volume_ml:.1f} mL" if m.volume_ml else ""
        node = " as a lymph node (short axis counts)" if p.suggestion is not None and p.suggestion.is_node else ""
        lines = [f"<b>{title}</b>: {mm(m.long_axis_mm)}{short} mm{vol} ({m.origin.value}){node}"]
        outline = None
        if p.suggestion is not None and self.current_viewer.volume is not None:
            outline = p.suggestion.outline_mask(self.current_viewer.volume.shape, p.slice_index)
        self.current_viewer.set_pending(m.long_axis_endpoints, m.short_axis_endpoints, outline, p.slice_index)
        guess = None
        if fresh:
            hit = self._tracked_hit(self._click_point, p)
            intended = self._intended_lesion
            guess = intended or (hit.lesion_id if hit is not None else self._lesion_for(self._click_point))
            if intended is not None:  # G: the reader asked for this lesion; only warn if it lies on another
                if hit is not None and hit.lesion_id != intended and hit.measured_here:
                    lines.append(f"⚠ {hit.reason}, already measured here: check that this is {intended}")
            elif hit is not None and hit.measured_here:
                # short: it took three lines of a narrow bar (a split lesion's fragment: the bar's own box says so)
                # what Enter replaces, said: a click inside T1's 3-D outline 4 images from its measured slice offered
                # to re-measure it with no word of the 40.5 mm recorded
                here = s.assessment(hit.lesion_id)
                hit_node = hit.lesion_id in s.read.lesions and s.read.lesions[hit.lesion_id].is_node
                recorded = None if here is None or not here.measurements else (
                    here.measurements[0].short_axis_mm if hit_node else here.measurements[0].long_axis_mm)
                was = "" if recorded is None else f"{mm(recorded)} mm now; "
                lines.append(f"↻ {hit.reason}: Enter re-measures {hit.lesion_id} ({was}Ctrl+Z undoes)")
            elif hit is not None:
                lines.append(f"→ {hit.reason}: recorded for {hit.lesion_id}")
        if fresh:
            self.decision_bar.offer(lines, warning, s, guess)
        else:
            self.decision_bar.describe(lines, warning)
        self._update_overlays()  # the + of the lesion it is for gives way to the outline (once the bar names it)

    def _slice_tolerance_mm(self) -> float:
        """How far apart in z a click and a measurement may be and still be on the same lesion."""
        volume = self.current_viewer.volume
        return max(1.5 * float(volume.spacing[0]), 5.0) if volume is not None else 5.0

    def _stored_outlines(self) -> dict[str, tuple[Any, tuple[int, int, int]]]:
        """The stored outlines of the lesions measured at this timepoint, on the current series."""
        s, store, volume = self.session, self.measuring.mask_store, self.current_viewer.volume
        out: dict[str, tuple[Any, tuple[int, int, int]]] = {}
        if s is None or store is None or volume is None:
            return out
        for lesion_id, a in s.timepoint.assessments.items():
            for m in a.measurements:
                if m.mask_ref is None or m.series_uid != volume.info.series_uid:
                    continue
                cached = self._outline_cache.get(m.mask_ref)
                if cached is None:
                    try:
                        stored = store.load(m.mask_ref)
                    except MaskStoreError:
                        continue  # the measurement's end points still place it
                    k, j, i = stored.offset
                    cached = (stored.mask, (int(k), int(j), int(i)))
                    self._outline_cache[m.mask_ref] = cached  # a stored mask never changes: read it once
                out[lesion_id] = cached
        return out

    def _outline_hits(self, point: Any, pending: Pending | None) -> list[str]:
        volume = self.current_viewer.volume
        if volume is None:
            return []
        voxel = tuple(int(v) for v in volume.nearest_voxel(point))
        r = pending.suggestion.result if pending is not None and pending.suggestion is not None else None
        suggested = (r.mask, tuple(int(v) for v in r.offset)) if r is not None else None
        return outline_hits(self._stored_outlines(), voxel, suggested)  # type: ignore[arg-type]

    def _tracked_hit(self, point: Any, pending: Pending | None) -> TrackedHit | None:
        """The tracked lesion this click (and what it produced) falls on: re-measuring it is the default."""
        s = self.session
        if s is None:
            return None
        candidates = [lid for lid, les in s.read.lesions.items() if les.role is not Role.NON_TARGET]
        return lesion_at(
            s.read,
            s.current_timepoint,
            tuple(float(v) for v in point),  # type: ignore[arg-type]
            slice_tolerance_mm=self._slice_tolerance_mm(),
            proposals=[(prop.lesion_id, prop.point_mm) for prop in self.proposals],
            outline_hits=self._outline_hits(point, pending),
            pending=pending.measurement if pending is not None else None,
            candidates=candidates,
        )

    def _lesion_for(self, point: Any) -> str | None:
        """The lesion a click most likely belongs to when it is on none already tracked: the selected one if it is
        not measured here yet, else the nearest unmeasured proposal within 25 mm."""
        s = self.session
        if s is None:
            return None
        if s.selected_lesion is not None and s.assessment(s.selected_lesion) is None:
            return s.selected_lesion
        best, best_d = None, 25.0
        for prop in self.proposals:
            done = s.assessment(prop.lesion_id)
            if done is not None and done.status is LesionStatus.MEASURED:
                continue
            d = float(np.linalg.norm(np.subtract(prop.point_mm, point)))
            if d < best_d:
                best, best_d = prop.lesion_id, d
        return best

    def _toggle_node(self) -> None:
        self.node_check.setChecked(not self.node_check.isChecked())
        self.say("lymph node: measured on its short axis" if self.node_check.isChecked() else "not a lymph node")

    def _choose_new(self, role: Role) -> None:
        self.decision_bar.choose(role)
        self.set_tool(Tool.MEASURE)

    def accept_pending(self) -> None:
        """Record the pending measurement for the lesion chosen in the decision bar (declaring it if new)."""
        p, s = self.pending, self.session
        if p is None or s is None:
            return
        volume = self.volume(s.current_timepoint)
        assert volume is not None
        bar = self.decision_bar
        choice = bar.choice()
        missing = bar.missing()
        if missing is not None:
            self.say(missing)
            bar.organ_choice.setFocus()
            return
        if not self._confirm_low_confidence(p) or not self._confirm_new_on_tracked(p, choice):
            return
        if isinstance(choice, Role) and not self._confirm_organ(bar.organ()):
            bar.organ_choice.setFocus()
            return
        recorded = True
        try:
            m = p.measurement
            if p.suggestion is not None:
                adjusted = m if m.origin is MeasurementOrigin.ADJUSTED else None
                m = self.measuring.accept(p.suggestion, volume, adjusted)
            if isinstance(choice, Role):  # a new lesion and its first measurement: one step to undo
                lesion_id = s.add_lesion(choice, bar.organ(), self.node_check.isChecked(), measurement=m)
            elif s.read.lesions[choice].role is Role.NON_TARGET:
                lesion_id = choice
                # where it is seen now; a status that says it is seen (unequivocal progression, ...) stays: a click
                # on a progressing non-target reset it to "present" (an iUPD became iSD)
                s.set_status(lesion_id, non_target_seen_status(s, lesion_id), point=m.centre_mm())
                recorded = False  # a non-target is present, not measured: its outline is not kept
            else:
                lesion_id = choice
                s.record_measurement(lesion_id, m, add_fragment=bar.as_fragment())
        except (SessionError, MeasureError, MaskStoreError, ValueError, OSError) as exc:
            if p.suggestion is not None:  # refused: the outline stored for it goes too (accepting again rewrites it)
                self.measuring.discard(p.suggestion)
            self.say(str(exc))
            return
        self._clear_pending(accepted=recorded)
        self._clicked_at = None  # that click made this lesion: a lesion declared next is not put there
        self.node_check.setChecked(False)  # the next click is not a node unless the reader says so
        s.select_lesion(lesion_id)
        if not recorded:
            self.say(f"{lesion_id}: present")
        else:
            self.say(f"{lesion_id}: {_recorded_text(m, s.read.lesions[lesion_id].is_node)} ({m.origin.value})")

    def _confirm_low_confidence(self, p: Pending) -> bool:
        """An outline the engine is not sure of is accepted only when the reader says so (or adjusted it)."""
        sug = p.suggestion
        if sug is None or not sug.result.low_confidence or p.measurement.origin is MeasurementOrigin.ADJUSTED:
            return True
        why = warning_text(sug.warnings) or f"confidence {sug.result.confidence:.2f}"
        if self.confirm(
            f"The engine is not sure of this outline: {why}.\n\nAccept anyway? (No: adjust an end point, or reject "
            "with Esc and draw by hand)",
            default_no=True,
        ):
            return True
        self.say("not accepted: adjust an end point, or Esc to draw by hand")
        return False

    def _confirm_new_on_tracked(self, p: Pending, choice: Role | str) -> bool:
        """Recording a new lesion on top of one already measured here would count the same tumour twice: ask."""
        s = self.session
        if s is None or not isinstance(choice, Role):
            return True
        on = overlapped_lesions(
            s.read,
            s.current_timepoint,
            p.measurement,
            slice_tolerance_mm=self._slice_tolerance_mm(),
            outline_hits=self._outline_hits(self._click_point, p),
            click=self._click_point,
        )
        if not on:
            return True
        names = ", ".join(on)
        if self.confirm(
            f"This measurement lies on {names}, already measured at this timepoint. Record it as a SEPARATE "
            f"{NEW_NAMES[choice]} anyway? (No: choose {on[0]} in the bar to re-measure it)"
        ):
            return True
        self.decision_bar.choose(on[0])
        self.say(f"not recorded: the bar now re-measures {on[0]}; Enter to accept")
        return False

    def reject_pending(self) -> None:
        """Esc: reject the measurement waiting; with none, stop the engine while it is finding a lesion. (A finished
        job is marked done a moment after its suggestion is shown: a waiting measurement always goes first.)"""
        if self.pending is None and self._suggest_job is not None and not self._suggest_job.done:
            self._suggest_job.cancel()
            self.say("finding the lesion was cancelled")
            return
        if self.pending is None:
            return
        was_suggestion = self.pending.suggestion is not None
        self._clear_pending()
        node_off = ""
        if self.node_check.isChecked():  # said for the lesion just rejected, not for the next click elsewhere
            self.node_check.setChecked(False)
            node_off = "; the lymph-node flag is off again (N if you draw a node)"
        if was_suggestion:
            self.set_tool(Tool.RULER)
            self.say(f"suggestion rejected: drag the longest diameter by hand (B for the bidirectional tool){node_off}")
        elif node_off:
            self.say(f"measurement rejected{node_off}")

    #: a click this close (screen pixels) to an end of the measurement waiting is a missed drag of its handle
    NEAR_AN_END_PX = 12.0

    def _near_an_end(self, point: tuple[float, float, float], slice_index: int) -> bool:
        """Whether a click at ``point`` on ``slice_index`` is within `NEAR_AN_END_PX` of an end of the measurement
        waiting there (on screen, at the zoom shown)."""
        p = self.pending
        viewer = self.current_viewer
        mm_per_px = viewer.mm_per_pixel()
        if p is None or p.slice_index != slice_index or viewer.volume is None or mm_per_px <= 0:
            return False
        m = p.measurement
        ends = [*(m.long_axis_endpoints or ()), *(m.short_axis_endpoints or ())]
        x, y, _ = viewer.patient_to_view(point)
        for end in ends:
            ex, ey, _ = viewer.patient_to_view(end)
            if ((ex - x) ** 2 + (ey - y) ** 2) ** 0.5 / mm_per_px <= self.NEAR_AN_END_PX:
                return True
        return False

    def _replace_pending(self, pending: Pending) -> None:
        if self.pending is not None and self.pending.suggestion is not None:
            self.measuring.discard(self.pending.suggestion)
        self.pending = pending

    def _clear_pending(self, accepted: bool = False) -> None:
        """No measurement waits any more; a suggestion that was not ``accepted`` loses its stored outline."""
        if not accepted and self.pending is not None and self.pending.suggestion is not None:
            self.measuring.discard(self.pending.suggestion)
        self.pending = None
        self.decision_bar.setVisible(False)
        self.current_viewer.set_pending(None)
        self._update_overlays()
        self.current_viewer.setFocus()  # arrow keys and presets go to the images again, not to a combo box

    def suggest_at_proposal(self) -> None:
        """Pre-placed click: run the engine at the selected lesion's proposed position at this follow-up."""
        s = self.session
        if s is None or s.selected_lesion is None:
            self.say("select a lesion in the table first")
            return
        prop = next((p for p in self.proposals if p.lesion_id == s.selected_lesion), None)
        if prop is None:
            self.say(f"{s.selected_lesion} was measured or seen at no earlier timepoint: G measures a lesion where it "
                     "is proposed at a follow-up; click on it instead" if s.current_timepoint == 0 else
                     f"no proposed position for {s.selected_lesion} at this timepoint: click on it instead", 0)
            return
        self.current_viewer.center_on(prop.point_mm)
        if s.read.lesions[prop.lesion_id].role is Role.NON_TARGET:
            # a non-target is seen, not measured: no outline to wait for (an ascites outline leaked into the stomach
            # and warned at length)
            try:
                status = non_target_seen_status(s, prop.lesion_id)
                s.set_status(prop.lesion_id, status, point=prop.point_mm)
            except SessionError as exc:
                self.say(str(exc))
                return
            self.say(f"{prop.lesion_id} {status.value.replace('_', ' ')} at the proposed position (right-click it, or "
                     "the status box, for another status)")
            return
        self.suggest_at(prop.point_mm, self.current_viewer.slice_index)
        self._intended_lesion = prop.lesion_id

    def _confirm_organ(self, organ: str) -> bool:
        """An organ neither in the list, nor coded, nor already in this read (a misspelt "livr") is asked about: it
        would count as an organ of its own for the 2 targets per organ (RECIST 1.1 sec. 4.2)."""
        from workstation.export.organs import is_coded
        from workstation.ui.lesion_table import ORGANS

        known = {o.lower() for o in ORGANS}
        if self.session is not None:
            known |= {les.organ.strip().lower() for les in self.session.read.lesions.values()}
        if organ.strip().lower() in known or is_coded(organ):
            return True
        return self.confirm(f"'{organ}' is not in the list of organs ({', '.join(ORGANS)}) nor in this read. Record "
                            "it as an organ of its own? It counts on its own for the rule of at most 2 targets per "
                            "organ (a misspelt 'livr' would not count with 'liver')", default_no=True)

    def _organ_for_declaration(self, role: Role) -> str:
        """The organ the reader chose for a new lesion in the bar on show, else asked for now (never the previous
        lesion's: the hidden bar still holds the organ of the lesion last accepted)."""
        bar = self.decision_bar
        organ = bar.organ() if not bar.isHidden() and isinstance(bar.choice(), Role) else ""
        if organ or self.auto_answer is not None:
            return organ
        from PyQt6.QtWidgets import QInputDialog

        from workstation.ui.lesion_table import ORGANS

        chosen, ok = QInputDialog.getItem(
            self,  # type: ignore[arg-type]
            "Declare a lesion",
            f"Organ of the {NEW_NAMES[role].removeprefix('new ')}:",
            ["", *ORGANS],  # starts empty, as the decision bar does: Enter alone declares nothing
            0,
            True,
        )
        return chosen.strip() if ok else ""

    def declare_lesion(self, role: Role) -> None:
        """A non-measured lesion (non-target at baseline, or a new lesion) at the last clicked position."""
        s = self.session
        if s is None:
            return
        organ = self._organ_for_declaration(role)
        if not organ:
            self.say("no organ chosen: the lesion was not declared")
            return
        if not self._confirm_organ(organ):
            self.say(f"'{organ}' not used: the lesion was not declared")
            return
        # Where the reader last clicked on these images (a lesion the engine could not outline, e.g. in bone), or the
        # middle of the outline waiting, which this declaration takes the place of.
        point = self._click_point if self._clicked_at == (s.read.subject_id, s.current_timepoint) else None
        waiting = self.pending
        if waiting is not None:
            point = waiting.measurement.centre_mm() or point
        try:
            lesion_id = s.add_lesion(role, organ, self.node_check.isChecked(), point=point)
            self._clicked_at = None  # one lesion per click
            if waiting is not None:
                self._clear_pending()  # the outline is not kept: a declared lesion is not measured
        except SessionError as exc:
            self.say(str(exc))
            return
        finally:
            self.decision_bar.organ_choice.setCurrentText("")  # the next lesion's organ is chosen afresh
            self.current_viewer.setFocus()
        self.say(f"{lesion_id} declared ({role.value}, {organ}); right-click it in the table to change its status")
