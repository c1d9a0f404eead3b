"""Generate the synthetic trial: images, ground truth, case files and expected responses, all from one seed."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from imaging.cancel import CancelToken, ProgressCallback, report
from imaging.synthetic.anatomy import Body, build_anatomy
from imaging.synthetic.axes import AxialAxes, axial_axes
from imaging.synthetic.cases import build_case, response_settings
from imaging.synthetic.courses import DAYS, FOLDERS, LABELS, SUBJECTS, LesionPlan, SubjectPlan, subject_plan
from imaging.synthetic.dicom_writer import SeriesHeader, write_series
from imaging.synthetic.expected import EXPECTED
from imaging.synthetic.identity import PROTOCOL_ID, FakeIdentity, accession_number, fake_identity, synthetic_uid
from imaging.synthetic.lesions import reference_shape
from imaging.synthetic.render import SliceGrid, render_series
from imaging.synthetic.shapes import LesionShape, Lobe
from imaging.synthetic.solids import LesionSolid, Solid

DEFAULT_SEED = 20260105
SMALL_MATRIX = 128
CRITERIA = {"RECIST 1.1": "recist", "iRECIST": "irecist"}


def _rng(seed: int, subject_number: int, stream: str) -> np.random.Generator:
    """An independent random stream per (seed, subject, purpose): changing one purpose never disturbs another."""
    return np.random.default_rng(np.random.SeedSequence([seed, subject_number, zlib.crc32(stream.encode())]))


@dataclass(frozen=True)
class LesionModel:
    """A planned lesion with its reference shape and the true axes of that shape (before scaling and shifting)."""

    plan: LesionPlan
    shape: LesionShape
    axes: AxialAxes | None  # None for non-measurable lesions

    def factor(self, t: int) -> float:
        """Scale at timepoint t that makes the true recorded axis equal to the script (0 when absent)."""
        assert self.plan.recorded_mm is not None and self.axes is not None
        v = self.plan.recorded_mm[t]
        if not v:
            return 0.0
        ref = self.axes.short_mm if self.plan.node else self.axes.long_mm
        return float(v) / ref


@dataclass(frozen=True)
class TimepointImages:
    index: int
    label: str
    folder: str
    study_date: date
    shift_mm: tuple[float, float, float]
    grid: SliceGrid
    header: SeriesHeader
    hu: npt.NDArray[np.int16]


@dataclass
class SyntheticSubject:
    """Everything generated for one subject; `write_subject` puts it on disk."""

    plan: SubjectPlan
    seed: int
    small: bool
    identity: FakeIdentity
    frame_of_reference_uid: str
    lesions: list[LesionModel]
    timepoints: list[TimepointImages]
    truth: dict[str, Any]

    def case(self, criteria: str) -> dict[str, Any]:
        return build_case(self.truth, criteria)

    def expected(self, criteria: str) -> dict[str, Any]:
        exp = EXPECTED[self.plan.subject_id][criteria]
        return {"subject_id": self.plan.subject_id, "criteria": criteria, **exp}


def _point(p: npt.ArrayLike) -> list[float]:
    return [round(float(v), 3) for v in np.asarray(p, dtype=np.float64)]


def _lesion_truth(model: LesionModel, t: int, shift: npt.NDArray[np.float64]) -> dict[str, Any]:
    plan = model.plan
    row: dict[str, Any] = {"label": LABELS[t], "present": plan.present(t)}
    empty = {"long_axis_mm": None, "short_axis_mm": None, "centre_lps_mm": None, "axial_plane_z_mm": None,
             "long_axis_endpoints_lps_mm": None, "short_axis_endpoints_lps_mm": None}
    if not plan.present(t):
        return row | empty
    if model.axes is None:  # non-measurable: a reference point only
        return row | empty | {"centre_lps_mm": _point(np.asarray(plan.centre) + shift)}
    ax = model.axes.scaled_about(model.shape.centre, model.factor(t), shift)
    return row | {
        "long_axis_mm": round(ax.long_mm, 3),
        "short_axis_mm": round(ax.short_mm, 3),
        "centre_lps_mm": _point(np.asarray(model.shape.centre) + shift),
        "axial_plane_z_mm": round(ax.z_mm, 3),
        "long_axis_endpoints_lps_mm": [_point(p) for p in ax.long_endpoints],
        "short_axis_endpoints_lps_mm": [_point(p) for p in ax.short_endpoints],
    }


def _solids_at(plan: SubjectPlan, models: list[LesionModel], t: int, vessel_seed: np.random.SeedSequence,
               body: Body) -> list[Solid]:
    findings = {m.plan.finding for m in models if m.plan.finding and m.plan.present(t)}
    solids = build_anatomy(np.random.default_rng(vessel_seed), body,
                           pleural_effusion="pleural effusion" in findings, ascites="ascites" in findings)
    for m in models:
        if m.plan.finding or not m.plan.present(t):
            continue
        shape = m.shape if m.axes is None else m.shape.scaled(m.factor(t))
        solids.append(LesionSolid(m.plan.tissue, shape=shape, only_within=m.plan.painted_within))
        if m.plan.necrotic:
            solids.append(LesionSolid("necrosis", shape=shape, threshold=0.5))
    return solids


def generate_subject(subject_id: str, seed: int = DEFAULT_SEED, small: bool = False, *,
                     progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> SyntheticSubject:
    """One subject's four CT studies and truth, in memory. ``small``: 128 x 128 images, for fast tests."""
    plan = subject_plan(subject_id)
    number = [s.subject_id for s in SUBJECTS].index(subject_id) + 1
    identity = fake_identity(_rng(seed, number, "identity"), number)
    for_uid = synthetic_uid(seed, subject_id, "frame-of-reference")
    models: list[LesionModel] = []
    for i, lp in enumerate(plan.lesions):
        if cancel is not None:
            cancel.raise_if_cancelled()
        report(progress, i, len(plan.lesions) + 4, f"{subject_id}: true axes of {lp.id}")
        if lp.finding:
            models.append(_finding_model(lp))
            continue
        shape = reference_shape(lp, _rng(seed, number, f"shape:{lp.id}"))
        models.append(LesionModel(lp, shape, axial_axes(shape) if lp.recorded_mm is not None else None))
    if small:
        matrix = SMALL_MATRIX
        pixel = plan.pixel_mm * plan.matrix / SMALL_MATRIX
    else:
        matrix, pixel = plan.matrix, plan.pixel_mm
    thick = plan.slice_thickness_mm
    shift_rng = _rng(seed, number, "repositioning")
    shifts = [(float(shift_rng.uniform(-6, 6)), float(shift_rng.uniform(-6, 6)),
               float(shift_rng.uniform(-0.6, 0.6) * thick)) for _ in LABELS]
    extents = {m.plan.id: m.shape.z_extent() for m in models if m.axes is not None}
    slice_z = _scan_positions(plan, models, extents, [s[2] for s in shifts])
    n_slices = len(slice_z)
    half = (matrix - 1) / 2 * pixel
    grid = SliceGrid(rows=matrix, columns=matrix, pixel_mm=pixel, thickness_mm=thick, x0=-half, y0=-half + 8.0,
                     slice_z=slice_z)
    acc_rng = _rng(seed, number, "accession")
    vessel_seed = np.random.SeedSequence([seed, number, zlib.crc32(b"vessels")])
    body = Body()
    baseline = date.fromisoformat(plan.baseline_date)
    timepoints: list[TimepointImages] = []
    for t, (label, folder, day) in enumerate(zip(LABELS, FOLDERS, DAYS, strict=True)):
        if cancel is not None:
            cancel.raise_if_cancelled()
        report(progress, len(plan.lesions) + t, len(plan.lesions) + 4, f"{subject_id}: rendering {label}")
        shift = shifts[t]
        _check_in_scan(subject_id, label, models, extents, t, shift[2], slice_z)
        hu = render_series(_solids_at(plan, models, t, vessel_seed, body), grid, shift,
                           _rng(seed, number, f"noise:{t}"), noise_sigma_hu=plan.noise_sigma_hu,
                           supersample=1 if small else 2, cancel=cancel)
        study_date = baseline + timedelta(days=day)
        header = SeriesHeader(
            identity=identity, subject_id=subject_id, timepoint_label=label,
            study_uid=synthetic_uid(seed, subject_id, t, "study"),
            series_uid=synthetic_uid(seed, subject_id, t, "series"),
            frame_of_reference_uid=for_uid,
            sop_uids=tuple(synthetic_uid(seed, subject_id, t, "image", k) for k in range(n_slices)),
            study_date=study_date.strftime("%Y%m%d"), study_time=f"{9 + number:02d}{(7 * t) % 60:02d}00",
            accession_number=accession_number(acc_rng), study_id=f"{number}{t + 1:02d}",
        )
        timepoints.append(TimepointImages(t, label, folder, study_date, shift, grid, header, hu))
    truth = {
        "subject_id": subject_id, "course": plan.course, "seed": seed, "small": small,
        "timepoints": [{"label": tp.label, "date": tp.study_date.isoformat(), "day": DAYS[tp.index],
                        "folder": tp.folder, "patient_shift_mm": _point(tp.shift_mm)} for tp in timepoints],
        "lesions": [
            {"id": m.plan.id, "role": m.plan.role, "organ": m.plan.organ, "node": m.plan.node, "kind": m.plan.kind,
             "measure": m.plan.measure,
             "timepoints": [_lesion_truth(m, tp.index, np.asarray(tp.shift_mm)) for tp in timepoints]}
            for m in models
        ],
    }
    report(progress, len(plan.lesions) + 4, len(plan.lesions) + 4, f"{subject_id}: done")
    return SyntheticSubject(plan, seed, small, identity, for_uid, models, timepoints, truth)


def _lesion_z_range(m: LesionModel, extent: tuple[float, float], t: int, shift_z: float) -> tuple[float, float]:
    cz, f = m.shape.centre[2], m.factor(t)
    return cz + f * (extent[0] - cz) + shift_z, cz + f * (extent[1] - cz) + shift_z


def _scan_positions(plan: SubjectPlan, models: list[LesionModel], extents: dict[str, tuple[float, float]],
                    shifts_z: list[float]) -> tuple[float, ...]:
    """Slice positions (head first): the planned range, lengthened by whole slices if this seed's lesions stick out."""
    thick = plan.slice_thickness_mm
    top = plan.scan_top_mm
    bottom = top - thick * round(plan.scan_length_mm / thick)
    for m in models:
        for t, sz in enumerate(shifts_z):
            if m.axes is not None and m.plan.present(t):
                lo, hi = _lesion_z_range(m, extents[m.plan.id], t, sz)
                while hi > top - 1.0:
                    top += thick
                while lo < bottom + 1.0:
                    bottom -= thick
    return tuple(top - k * thick for k in range(round((top - bottom) / thick) + 1))


def _check_in_scan(subject_id: str, label: str, models: list[LesionModel], extents: dict[str, tuple[float, float]],
                   t: int, shift_z: float, slice_z: tuple[float, ...]) -> None:
    """Every measurable lesion present at t must lie wholly between the first and last slice (else the truth lies)."""
    for m in models:
        if m.axes is None or not m.plan.present(t):
            continue
        lo, hi = _lesion_z_range(m, extents[m.plan.id], t, shift_z)
        if lo < min(slice_z) or hi > max(slice_z):
            raise ValueError(f"{subject_id} {label}: lesion {m.plan.id} spans z {lo:.1f}..{hi:.1f} mm, outside the "
                             f"scanned {min(slice_z):.1f}..{max(slice_z):.1f} mm")


def _finding_model(lp: LesionPlan) -> LesionModel:
    """Effusion / ascites: drawn by the anatomy, so only a tiny placeholder shape marks its reference point."""
    identity = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
    return LesionModel(lp, LesionShape(lp.centre, identity, (Lobe((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),)), None)


def _dump(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=1) + "\n", encoding="utf-8")


def write_subject(subject: SyntheticSubject, out_dir: Path, *, progress: ProgressCallback | None = None,
                  cancel: CancelToken | None = None) -> dict[str, Any]:
    """Write the subject's folders and JSON files under ``out_dir``; returns its entry for ``trial.json``."""
    sid = subject.plan.subject_id
    root = out_dir / sid
    root.mkdir(parents=True, exist_ok=True)
    entries = []
    for tp in subject.timepoints:
        write_series(root / tp.folder, tp.hu, tp.grid, tp.header, cancel=cancel)
        report(progress, tp.index + 1, len(subject.timepoints), f"{sid}: wrote {tp.label}")
        entries.append({
            "label": tp.label, "date": tp.study_date.isoformat(), "day": DAYS[tp.index],
            "folder": f"{sid}/{tp.folder}", "study_uid": tp.header.study_uid, "series_uid": tp.header.series_uid,
            "accession_number": tp.header.accession_number, "slices": len(tp.grid.slice_z),
            "rows": tp.grid.rows, "columns": tp.grid.columns,
            "pixel_spacing_mm": [tp.grid.pixel_mm, tp.grid.pixel_mm], "slice_thickness_mm": tp.grid.thickness_mm,
        })
    _dump(root / "ground_truth.json", subject.truth)
    files: dict[str, dict[str, str]] = {"case_files": {}, "expected": {}}
    for criteria, stem in CRITERIA.items():
        _dump(root / f"case_{stem}.json", subject.case(criteria))
        _dump(root / f"expected_{stem}.json", subject.expected(criteria))
        files["case_files"][criteria] = f"{sid}/case_{stem}.json"
        files["expected"][criteria] = f"{sid}/expected_{stem}.json"
    return {
        "subject_id": sid, "folder": sid, "course": subject.plan.course,
        "patient_id": subject.identity.patient_id, "patient_name": subject.identity.patient_name,
        "frame_of_reference_uid": subject.frame_of_reference_uid,
        "ground_truth": f"{sid}/ground_truth.json", **files, "timepoints": entries,
    }


def generate_trial(out_dir: str | Path, seed: int = DEFAULT_SEED, small: bool = False, *,
                   subjects: tuple[str, ...] | None = None, progress: ProgressCallback | None = None,
                   cancel: CancelToken | None = None) -> Path:
    """Generate every subject (or those named) into ``out_dir``; returns the path of ``trial.json``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wanted = subjects or tuple(s.subject_id for s in SUBJECTS)
    index = []
    for n, sid in enumerate(wanted):
        report(progress, n, len(wanted), f"generating {sid}")
        subject = generate_subject(sid, seed, small, progress=progress, cancel=cancel)
        index.append(write_subject(subject, out, progress=progress, cancel=cancel))
    report(progress, len(wanted), len(wanted), "done")
    trial = {"format": "recist-synthetic-trial", "version": 1, "seed": seed, "small": small,
             "protocol_id": PROTOCOL_ID, "generator": "imaging.synthetic",
             "response_settings": response_settings(), "subjects": index}
    path = out / "trial.json"
    _dump(path, trial)
    return path


__all__ = ["DEFAULT_SEED", "SyntheticSubject", "generate_subject", "generate_trial", "write_subject"]
