"""The reading session: one reader's read of one subject, the timepoint on screen, the selected lesion, undo/redo.

Every edit goes through `_edit`, which snapshots the read for the command stack and tells subscribers what changed.
Nothing here knows about Qt; the views subscribe to the events and call these methods.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

from recist.baseline import organ_key
from workstation.read_model import (
    Lesion,
    LesionAssessment,
    LesionStatus,
    Measurement,
    MeasurementOrigin,
    Point,
    Read,
    Role,
    TimepointRead,
)
from workstation.session.commands import CommandStack
from workstation.session.events import Event
from workstation.session.persistence import ReadStore

_ID_PREFIX = {Role.TARGET: "T", Role.NON_TARGET: "NT", Role.NEW: "N"}


class SessionError(Exception):
    """An edit the read does not allow (unknown lesion, measurement at the wrong timepoint); the message says why."""


@dataclass(frozen=True)
class Change:
    """What an edit (or undo/redo) changed, for views to refresh: ``lesion_id`` None means "possibly everything"."""

    description: str
    lesion_id: str | None = None


class ReadingSession:
    def __init__(self, read: Read, store: ReadStore | None = None, view_only: str | None = None) -> None:
        if not read.timepoints:
            raise SessionError(f"subject {read.subject_id} has no timepoints to read")
        self.read = read
        self.store = store
        self.commands = CommandStack()
        self.current_timepoint = 0
        self.selected_lesion: str | None = None
        self.changed: Event[Change] = Event("changed")
        self.timepoint_changed: Event[int] = Event("timepoint_changed")
        self.selection_changed: Event[str | None] = Event("selection_changed")
        self.dirty_changed: Event[bool] = Event("dirty_changed")
        #: reasons given for amending signed timepoints (by index); every save of the read carries them
        self.amendment_reasons: dict[int, str] = {}
        #: timepoints whose signature an amendment withdrew (the store's rule): to be signed again
        self.signatures_withdrawn: set[int] = set()
        #: study and series UIDs each timepoint was read on, learnt as its images load (for DICOM SR and SDTM)
        self.images: dict[int, tuple[str, str]] = {}
        #: when set, the read is shown, never changed: every edit is refused with this message (e.g. an adjudicator
        #: looking at a central reader's measurements on the images)
        self.view_only = view_only

    def note_images(self, tp_index: int, study_uid: str, series_uid: str) -> None:
        """Remember the study and series timepoint ``tp_index`` is read on. Not an edit (nothing to undo): it is kept
        in the read now and at every save, so an undo to an older snapshot cannot lose it.

        A central read keeps none: its timepoints carry no source UID (`workstation.review.blinding`); the review
        keeps each timepoint's study and series, and the data manager's export puts them back (`unblind_read`)."""
        self.images[tp_index] = (study_uid, series_uid)
        self._fill_images()

    def forget_images(self, tp_index: int) -> None:
        """Timepoint ``tp_index`` is to be read on another series of its study: its recorded study and series go (the
        next images opened are recorded instead). Refused for a signed timepoint, and for one with measurements: they
        were made on the images it has."""
        tp = self.read.timepoints[tp_index]
        if tp.signed:
            raise SessionError(f"{tp.label} is signed: it stays on the series it was read and signed on")
        measured = [lid for lid, a in tp.assessments.items() if a.measurements]
        if measured:
            raise SessionError(
                f"{tp.label} has measurements on its series ({', '.join(measured)}): they belong to those images; "
                "delete them first to read the timepoint on another series"
            )
        self.images.pop(tp_index, None)
        tp.study_uid, tp.series_uid = "", ""

    def _fill_images(self) -> None:
        if self.read.reader_role == "central":
            return
        for i, (study_uid, series_uid) in self.images.items():
            tp = self.read.timepoints[i]
            if not tp.series_uid:
                tp.study_uid, tp.series_uid = study_uid, series_uid

    # ---- navigation ----------------------------------------------------------------------------------------------
    @property
    def timepoint(self) -> TimepointRead:
        return self.read.timepoints[self.current_timepoint]

    @property
    def is_baseline(self) -> bool:
        return self.current_timepoint == 0

    def go_to_timepoint(self, index: int) -> None:
        if not 0 <= index < len(self.read.timepoints):
            raise SessionError(f"subject {self.read.subject_id} has no timepoint {index + 1}")
        if index != self.current_timepoint:
            self.current_timepoint = index
            self.timepoint_changed.emit(index)

    def select_lesion(self, lesion_id: str | None) -> None:
        if lesion_id is not None and lesion_id not in self.read.lesions:
            raise SessionError(f"no lesion {lesion_id} in this read")
        if lesion_id != self.selected_lesion:
            self.selected_lesion = lesion_id
            self.selection_changed.emit(lesion_id)

    # ---- queries -------------------------------------------------------------------------------------------------
    def assessment(self, lesion_id: str, tp_index: int | None = None) -> LesionAssessment | None:
        tp = self.read.timepoints[self.current_timepoint if tp_index is None else tp_index]
        return tp.assessments.get(lesion_id)

    def latest_measurement(self, lesion_id: str, before_tp: int | None = None) -> tuple[int, Measurement] | None:
        """The most recent counted measurement of a lesion at or before ``before_tp`` (default: the current one)."""
        last = self.current_timepoint if before_tp is None else before_tp
        for idx in range(last, -1, -1):
            a = self.read.timepoints[idx].assessments.get(lesion_id)
            if a is None:
                continue
            counted = [m for m in a.measurements if m.origin is not MeasurementOrigin.SUGGESTED]
            if counted:
                return idx, counted[0]
        return None

    def next_lesion_id(self, role: Role) -> str:
        prefix = _ID_PREFIX[role]
        n = 1
        while f"{prefix}{n}" in self.read.lesions:
            n += 1
        return f"{prefix}{n}"

    @property
    def dirty(self) -> bool:
        return not self.commands.is_clean

    # ---- edits ---------------------------------------------------------------------------------------------------
    def amend(self, tp_index: int, reason: str) -> None:
        """Allow changes to a signed timepoint, and to every signed one after it (an amendment withdraws their
        signatures too: one reason, not a dialog per timepoint for a lesion-wide change such as its organ); they
        are saved as an amendment carrying ``reason``."""
        if self.view_only:
            raise SessionError(self.view_only)
        if not reason.strip():
            raise SessionError("an amendment needs a reason")
        for i, tp in enumerate(self.read.timepoints):
            if i == tp_index or (i > tp_index and tp.signed):
                self.amendment_reasons.setdefault(i, reason.strip())
        self.amendment_reasons[tp_index] = reason.strip()

    def _touched(self, lesion_id: str | None, tp_index: int | None) -> set[int]:
        """Timepoints an edit changes: the one edited, or every one holding the lesion for lesion-wide edits."""
        if tp_index is not None:
            return {tp_index}
        out = {i for i, tp in enumerate(self.read.timepoints) if lesion_id in tp.assessments}
        lesion = self.read.lesions.get(lesion_id or "")
        return out | ({lesion.first_timepoint} if lesion is not None else set())

    def edit_refused_here(self) -> str | None:
        """Why nothing can be recorded at the current timepoint now (a read open for viewing only, a signed timepoint
        not being amended), or None: said before the engine is run for a measurement that could not be accepted."""
        if self.view_only:
            return self.view_only
        try:
            self._check_signed({self.current_timepoint})
        except SessionError as exc:
            return str(exc)
        return None

    def _check_signed(self, touched: set[int]) -> None:
        for i in sorted(touched):
            tp = self.read.timepoints[i]
            if tp.signed and i not in self.amendment_reasons:
                raise SessionError(
                    f"{tp.label} is signed: changing it is an amendment; give the reason first (Measure > Amend)"
                )

    def _edit(
        self,
        description: str,
        lesion_id: str | None,
        apply: Callable[[Read], None],
        tp_index: int | None = None,
    ) -> None:
        if self.view_only:
            raise SessionError(self.view_only)
        self._check_signed(self._touched(lesion_id, tp_index))
        was_dirty = self.dirty
        before = copy.deepcopy(self.read)
        apply(self.read)
        self.commands.push(description, before, self.read)
        self.changed.emit(Change(description, lesion_id))
        if self.dirty != was_dirty:
            self.dirty_changed.emit(self.dirty)

    def _require(self, lesion_id: str) -> Lesion:
        lesion = self.read.lesions.get(lesion_id)
        if lesion is None:
            raise SessionError(f"no lesion {lesion_id} in this read")
        return lesion

    def add_lesion(
        self,
        role: Role,
        organ: str,
        is_node: bool = False,
        location: str = "",
        measurement: Measurement | None = None,
        point: Point | None = None,
    ) -> str:
        """Declare a lesion at the current timepoint (targets and non-targets only at baseline, RECIST 1.1 sec. 4.2),
        with its first measurement when given: one step to undo. A non-target is not measured: it keeps where it was
        seen (``point``, else the middle of the measurement drawn on it), as a new lesion declared without a
        measurement does, so that the follow-up proposes it there."""
        if role is not Role.NEW and not self.is_baseline:
            raise SessionError("targets and non-targets are chosen at baseline; at follow-up add a new lesion")
        if role is Role.NEW and self.is_baseline:
            raise SessionError("a new lesion is only found at follow-up; at baseline choose target or non-target")
        lesion_id = self.next_lesion_id(role)
        _check_node_organ(lesion_id, organ, is_node)
        if measurement is not None:
            self._check_measurement(lesion_id, is_node, measurement)
        tp_index = self.current_timepoint

        def apply(read: Read) -> None:
            read.lesions[lesion_id] = Lesion(lesion_id, role, organ, is_node, location, first_timepoint=tp_index)
            if measurement is not None and role is not Role.NON_TARGET:
                read.timepoints[tp_index].assessments[lesion_id] = LesionAssessment(
                    LesionStatus.MEASURED, [copy.deepcopy(measurement)]
                )
                return
            # A non-target is "present" where declared, a new lesion "unequivocal", until the reader says otherwise.
            initial = {Role.NON_TARGET: LesionStatus.PRESENT, Role.NEW: LesionStatus.UNEQUIVOCAL}.get(role)
            if initial is not None:
                seen = point or (measurement.centre_mm() if measurement is not None else None)
                read.timepoints[tp_index].assessments[lesion_id] = LesionAssessment(initial, point_mm=seen)

        how = f" ({measurement.origin.value})" if measurement is not None else ""
        self._edit(f"add {lesion_id}{how}", lesion_id, apply, tp_index)
        self.select_lesion(lesion_id)
        return lesion_id

    def update_lesion(
        self, lesion_id: str, *, organ: str | None = None, is_node: bool | None = None, role: Role | None = None
    ) -> None:
        lesion = self._require(lesion_id)
        _check_node_organ(
            lesion_id, lesion.organ if organ is None else organ, lesion.is_node if is_node is None else is_node
        )

        def apply(read: Read) -> None:
            lesion = read.lesions[lesion_id]
            if organ is not None:
                lesion.organ = organ
            if is_node is not None:
                lesion.is_node = is_node
            if role is not None and role is not lesion.role:
                lesion.role = role
                for tp in read.timepoints:  # what it was recorded as, in the new role's terms
                    a = tp.assessments.get(lesion_id)
                    if a is not None:
                        converted = _in_role(a, role)
                        if converted is None:
                            del tp.assessments[lesion_id]
                        else:
                            tp.assessments[lesion_id] = converted

        self._edit(f"edit {lesion_id}", lesion_id, apply)

    def removal_refused(self, lesion_id: str) -> str | None:
        """Why deleting ``lesion_id`` would be refused (a signed timepoint assesses it, the read is view only), or
        None: said before the reader is asked to confirm."""
        if self.view_only:
            return self.view_only
        try:
            self._check_signed(self._touched(lesion_id, None))
        except SessionError as exc:
            return str(exc)
        return None

    def remove_lesion(self, lesion_id: str) -> None:
        self._require(lesion_id)

        def apply(read: Read) -> None:
            del read.lesions[lesion_id]
            for tp in read.timepoints:
                tp.assessments.pop(lesion_id, None)

        self._edit(f"delete {lesion_id}", lesion_id, apply)
        if self.selected_lesion == lesion_id:
            self.select_lesion(None)

    @staticmethod
    def _check_measurement(lesion_id: str, is_node: bool, measurement: Measurement) -> None:
        if measurement.origin is MeasurementOrigin.SUGGESTED:
            raise SessionError("a suggestion must be accepted, adjusted or redrawn before it is recorded")
        if is_node and measurement.short_axis_mm is None:
            raise SessionError(f"{lesion_id} is a lymph node: measure its short axis too (RECIST 1.1 sec. 4.2)")
        if is_node and measurement.long_axis_mm is None:
            if measurement.short_axis_mm is None or measurement.short_axis_mm <= 0:
                raise SessionError(f"{lesion_id}: a measured lymph node needs a short axis above 0 mm")
        elif measurement.long_axis_mm is None or measurement.long_axis_mm <= 0:
            raise SessionError(f"{lesion_id}: a measured lesion needs a long axis above 0 mm")

    def record_measurement(self, lesion_id: str, measurement: Measurement, *, add_fragment: bool = False) -> None:
        """Store a reader's measurement of a lesion at the current timepoint (replacing any, or as a split fragment)."""
        lesion = self._require(lesion_id)
        self._check_measurement(lesion_id, lesion.is_node, measurement)
        tp_index = self.current_timepoint

        def apply(read: Read) -> None:
            tp = read.timepoints[tp_index]
            current = tp.assessments.get(lesion_id)
            keep = current.measurements if (add_fragment and current is not None) else []
            tp.assessments[lesion_id] = LesionAssessment(LesionStatus.MEASURED, [*keep, copy.deepcopy(measurement)])

        verb = "add fragment to" if add_fragment else "measure"
        self._edit(f"{verb} {lesion_id} ({measurement.origin.value})", lesion_id, apply, tp_index)

    def set_status(
        self, lesion_id: str, status: LesionStatus, merged_into: str | None = None, point: Point | None = None,
        keep_host: bool = False,
    ) -> None:
        """Record a status without a measurement (disappeared, too small, present, absent, not evaluated, ...);
        ``point``: where the reader saw it (kept from before when not given and the lesion is still seen: present
        becoming unequivocal progression is still where it was)."""
        lesion = self._require(lesion_id)
        allowed = _ALLOWED_STATUS[lesion.role]
        if status not in allowed:
            names = ", ".join(s.value for s in allowed)
            raise SessionError(f"{lesion_id} is a {lesion.role.value} lesion: its status is one of {names}")
        if self.current_timepoint == 0 and status not in _BASELINE_STATUS[lesion.role] and not self.view_only:
            raise SessionError(
                f"{lesion_id}: at baseline a {lesion.role.value} lesion is "
                f"{'measured' if lesion.role is Role.TARGET else 'present'} (RECIST 1.1 sec. 4.2); "
                f"'{status.value.replace('_', ' ')}' is for a follow-up. Delete the lesion if it is not there"
            )
        if status is LesionStatus.MERGED:
            self._check_merge(lesion_id, merged_into)
        tp_index = self.current_timepoint
        if lesion.role is Role.NEW and status is LesionStatus.UNEQUIVOCAL_PROGRESSION and tp_index <= \
                lesion.first_timepoint:
            raise SessionError(f"{lesion_id}: a new lesion is in progression only at a visit after the one where it "
                               "was first seen; here it is unequivocal or equivocal")

        def apply(read: Read) -> None:
            tp = read.timepoints[tp_index]
            current = tp.assessments.get(lesion_id)
            measurements = current.measurements if (current and status is LesionStatus.MEASURED) else []
            kept = None  # where it was seen, while it is still seen (present becoming progression stays there)
            if current is not None and (current.status is status or {current.status, status} <= SEEN_STATUSES):
                kept = current.point_mm
            if kept is None and current is not None and status in SEEN_STATUSES:
                # measured, now judged (a new lesion found equivocal): its place stays, where it was measured, so it
                # is marked and proposed at the next visit rather than lost with the measurement
                kept = _measured_place(current)
            seen = point or kept
            tp.assessments[lesion_id] = LesionAssessment(status, measurements, merged_into=merged_into, point_mm=seen)
            host = tp.assessments.get(merged_into or "")
            if status is LesionStatus.MERGED and host is not None and host.status is LesionStatus.MEASURED and \
                    not keep_host:
                # its measurement here may be of the lesion before it took this one in: it is measured again, as the
                # coalesced lesion (until then the visit is not evaluable, never a sum that lost a lesion)
                tp.assessments[merged_into or ""] = LesionAssessment(LesionStatus.NOT_EVALUATED,
                                                                     point_mm=_measured_place(host))

        self._edit(f"{lesion_id}: {status.value.replace('_', ' ')}", lesion_id, apply, tp_index)

    def merge(self, lesion_id: str, into: str, host_measured_as_coalesced: bool = False) -> str:
        """Record target ``lesion_id`` coalesced into target ``into`` at this timepoint (RECIST 1.1 sec. 4.3.2: 0 mm
        here, the coalesced lesion measured as ``into``). A measurement of ``into`` already recorded here is taken
        back (it may be of the lesion before the merge) unless the reader says it is of the coalesced lesion:
        returns what the reader must do next."""
        host = self.assessment(into) if into in self.read.lesions else None
        measured = host is not None and host.status is LesionStatus.MEASURED
        self.set_status(lesion_id, LesionStatus.MERGED, merged_into=into, keep_host=host_measured_as_coalesced)
        if measured and host_measured_as_coalesced:
            return f"{lesion_id} merged into {into}: {into}'s measurement here is the coalesced lesion's"
        if measured:
            return (f"{lesion_id} merged into {into}: measure {into} again as the coalesced lesion (its measurement "
                    f"here was taken back; RECIST 1.1 sec. 4.3.2)")
        return f"{lesion_id} merged into {into}: measure {into} as the coalesced lesion (RECIST 1.1 sec. 4.3.2)"

    def merge_candidates(self, lesion_id: str) -> list[str]:
        """The targets ``lesion_id`` may have coalesced into here: other targets of the same organ, not merged here."""
        return [other for other in self.read.lesions if self._merge_refused(lesion_id, other) is None]

    def _check_merge(self, lesion_id: str, into: str | None) -> None:
        if into is None or into not in self.read.lesions:
            raise SessionError(f"{lesion_id}: say which lesion it merged into")
        why = self._merge_refused(lesion_id, into)
        if why is not None:
            raise SessionError(why)

    def _merge_refused(self, lesion_id: str, into: str) -> str | None:
        lesion, host = self.read.lesions[lesion_id], self.read.lesions[into]
        if into == lesion_id:
            return f"{lesion_id} cannot merge into itself"
        if lesion.role is not Role.TARGET or host.role is not Role.TARGET:
            return f"{lesion_id} -> {into}: only a target merges, into another target (RECIST 1.1 sec. 4.3.2)"
        if organ_key(lesion.organ, lesion.is_node) != organ_key(host.organ, host.is_node):
            return (f"{lesion_id} ({lesion.organ}) cannot have coalesced with {into} ({host.organ}): lesions coalesce "
                    "within one organ")
        here = self.assessment(into)
        if here is not None and here.status is LesionStatus.MERGED:
            return f"{into} is itself merged into {here.merged_into} here: merge {lesion_id} into {here.merged_into}"
        return None

    def clear_assessment(self, lesion_id: str) -> None:
        self._require(lesion_id)
        tp_index = self.current_timepoint

        def apply(read: Read) -> None:
            read.timepoints[tp_index].assessments.pop(lesion_id, None)

        self._edit(f"clear {lesion_id}", lesion_id, apply, tp_index)

    # ---- undo / redo / save --------------------------------------------------------------------------------------
    def undo(self) -> str | None:
        if self.view_only:
            raise SessionError(self.view_only)
        was_dirty = self.dirty
        cmd = self.commands.undo()
        if cmd is None:
            return None
        try:  # an edit made before a timepoint was signed is not taken back on it unseen (only by an amendment)
            self._check_signed(self._differing(cmd.before))
        except SessionError as exc:
            self.commands.redo()
            raise SessionError(f"not undone ({cmd.description}): {exc}") from None
        self._restore_with(cmd.before, f"undo {cmd.description}", was_dirty)
        return cmd.description

    def redo(self) -> str | None:
        if self.view_only:
            raise SessionError(self.view_only)
        was_dirty = self.dirty
        cmd = self.commands.redo()
        if cmd is None:
            return None
        try:
            self._check_signed(self._differing(cmd.after))
        except SessionError as exc:
            self.commands.undo()
            raise SessionError(f"not redone ({cmd.description}): {exc}") from None
        self._restore_with(cmd.after, f"redo {cmd.description}", was_dirty)
        return cmd.description

    def _differing(self, state: Read) -> set[int]:
        """The timepoints that going back (or forward) to ``state`` would change: those whose own values differ, and
        every one holding a lesion whose declaration differs; all of them for the read's own settings."""
        now = self.read
        every = set(range(max(len(now.timepoints), len(state.timepoints))))
        settings = ("criteria", "confirmation_required", "sd_min_days", "treatment_start")
        if any(getattr(now, f, None) != getattr(state, f, None) for f in settings):
            return every
        out = set()
        for i in every:
            a = now.timepoints[i] if i < len(now.timepoints) else None
            b = state.timepoints[i] if i < len(state.timepoints) else None
            if a is None or b is None or (a.label, a.date, a.assessments) != (b.label, b.date, b.assessments):
                out.add(i)
        for lesion_id in {*now.lesions, *state.lesions}:
            if now.lesions.get(lesion_id) != state.lesions.get(lesion_id):
                for read in (now, state):
                    out |= {i for i, tp in enumerate(read.timepoints) if lesion_id in tp.assessments}
                    lesion = read.lesions.get(lesion_id)
                    if lesion is not None:
                        out.add(lesion.first_timepoint)
        return out

    def _restore_with(self, state: Read, description: str, was_dirty: bool) -> None:
        signatures = [tp.signature for tp in self.read.timepoints]
        self.read = copy.deepcopy(state)
        for tp, signature in zip(self.read.timepoints, signatures, strict=False):
            tp.signature = signature  # made or withdrawn by the store, never by undo or redo
        if self.selected_lesion is not None and self.selected_lesion not in self.read.lesions:
            self.selected_lesion = None
            self.selection_changed.emit(None)
        self.changed.emit(Change(description))
        if self.dirty != was_dirty:
            self.dirty_changed.emit(self.dirty)

    def save(self) -> None:
        """Save through the store (raises `ReadStoreError` with a clear message; the read in memory is kept)."""
        if self.view_only:
            raise SessionError(self.view_only)
        if self.store is None:
            raise SessionError("no place to save this read was configured")
        self._fill_images()
        # each amended timepoint's own reason: a change saved with it elsewhere (an unsigned timepoint) has none
        signed = {i for i, tp in enumerate(self.read.timepoints) if tp.signed}
        self.store.save(self.read, reason=dict(self.amendment_reasons))
        self.signatures_withdrawn |= {i for i in signed if not self.read.timepoints[i].signed}
        was_dirty = self.dirty
        self.commands.mark_clean()
        if was_dirty:
            self.dirty_changed.emit(False)


#: The statuses of a lesion seen on the images without a measurement: its place is kept from one to another.
SEEN_STATUSES = frozenset({LesionStatus.PRESENT, LesionStatus.UNEQUIVOCAL_PROGRESSION, LesionStatus.FURTHER_INCREASE,
                           LesionStatus.UNEQUIVOCAL, LesionStatus.EQUIVOCAL})

_ALLOWED_STATUS: dict[Role, tuple[LesionStatus, ...]] = {
    Role.TARGET: (
        LesionStatus.MEASURED,
        LesionStatus.DISAPPEARED,
        LesionStatus.TOO_SMALL,
        LesionStatus.MERGED,
        LesionStatus.NOT_EVALUATED,
    ),
    Role.NON_TARGET: (
        LesionStatus.PRESENT,
        LesionStatus.ABSENT,
        LesionStatus.UNEQUIVOCAL_PROGRESSION,
        LesionStatus.FURTHER_INCREASE,  # iRECIST: after a non-target iUPD, what confirms it
        LesionStatus.NOT_EVALUATED,
    ),
    # A new lesion may be gone again (iRECIST: an iUPD not confirmed, the pseudo-progression this trial looks for) or
    # not assessable at a visit; it could only be measured or judged present before.
    Role.NEW: (
        LesionStatus.MEASURED,
        LesionStatus.UNEQUIVOCAL,
        LesionStatus.EQUIVOCAL,
        # iRECIST: a new non-target lesion that increased since it was seen: confirms an iUPD (Seymour 2017 Table 2)
        LesionStatus.UNEQUIVOCAL_PROGRESSION,
        LesionStatus.ABSENT,
        LesionStatus.NOT_EVALUATED,
    ),
}


def _in_role(a: LesionAssessment, role: Role) -> LesionAssessment | None:
    """A target's assessment as a non-target's, or the reverse (None: to be measured): a target made a non-target
    kept its diameter and no status, which the response engine refuses (every response vanished)."""
    place = a.point_mm or _measured_place(a)
    if role is Role.NON_TARGET:
        if a.status in (LesionStatus.MEASURED, LesionStatus.TOO_SMALL):
            return LesionAssessment(LesionStatus.PRESENT, point_mm=place)
        if a.status is LesionStatus.DISAPPEARED:
            return LesionAssessment(LesionStatus.ABSENT)
        if a.status is LesionStatus.MERGED:
            return LesionAssessment(LesionStatus.NOT_EVALUATED, point_mm=place)
        return a
    if role is Role.TARGET:
        if a.status is LesionStatus.ABSENT:
            return LesionAssessment(LesionStatus.DISAPPEARED)
        if a.status is LesionStatus.NOT_EVALUATED:
            return a
        return None  # seen (present, progressing): a target is measured
    return a


def _measured_place(a: LesionAssessment) -> Point | None:
    """The middle of the first measured axis of an assessment (None without one)."""
    for m in a.measurements:
        line = m.long_axis_endpoints or m.short_axis_endpoints
        if line is not None:
            (x0, y0, z0), (x1, y1, z1) = line
            return ((x0 + x1) / 2, (y0 + y1) / 2, (z0 + z1) / 2)
    return None


def non_target_seen_status(session: ReadingSession, lesion_id: str) -> LesionStatus:
    """The status a non-target keeps where the reader places it at this timepoint (a click on it): its own when that
    says it is seen (present, unequivocal progression, further increase), else present."""
    a = session.assessment(lesion_id)
    return a.status if a is not None and a.status in SEEN_STATUSES else LesionStatus.PRESENT


#: At baseline a target is measured and a non-target present (RECIST 1.1 sec. 4.2; the engine refuses anything else,
#: and a read holding it could not be evaluated at all): what else the reader may say comes at a follow-up.
_BASELINE_STATUS: dict[Role, tuple[LesionStatus, ...]] = {
    Role.TARGET: (LesionStatus.MEASURED,),
    Role.NON_TARGET: (LesionStatus.PRESENT,),
    Role.NEW: (),
}


def allowed_statuses(role: Role, at_baseline: bool = False) -> tuple[LesionStatus, ...]:
    return _BASELINE_STATUS[role] if at_baseline else _ALLOWED_STATUS[role]


#: The organ a lymph node is recorded in (all nodes together count as one organ, RECIST 1.1 sec. 4.2).
NODE_ORGAN = "lymph node"


def _check_node_organ(lesion_id: str, organ: str, is_node: bool) -> None:
    """A lesion in the organ "lymph node" that is not marked as a node would be measured and judged by its long axis
    (10 mm to be measurable, no return to normal size) instead of its short axis: refused, saying what to do."""
    if organ.strip().lower() == NODE_ORGAN and not is_node:
        raise SessionError(
            f"{lesion_id}: a lesion in '{NODE_ORGAN}' must be marked as a lymph node (N), which measures its short "
            "axis (RECIST 1.1 sec. 4.2), or be given another organ"
        )
