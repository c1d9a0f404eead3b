"""The four scripted subjects of the sample trial: their lesions, where they sit, and how they change.

Every measurable lesion's recorded diameter (long axis; short axis for nodes) is scripted per timepoint; the generator
scales the lesion's continuous shape so that its true axis equals the script exactly. Positions are anatomical mm
(see `imaging.synthetic.anatomy`). The responses these courses should produce are reasoned by hand in
`imaging.synthetic.expected`.
"""

from __future__ import annotations

from dataclasses import dataclass

LABELS = ("baseline", "week 6", "week 12", "week 18")
FOLDERS = ("T0-baseline", "T1-week06", "T2-week12", "T3-week18")
DAYS = (0, 42, 84, 126)


@dataclass(frozen=True)
class LesionPlan:
    """One lesion of a subject and its scripted course.

    ``recorded_mm[t]`` is the diameter a radiologist records at timepoint t (long axis, or short axis for a node);
    ``0`` = disappeared, ``None`` = not there (a new lesion before it appears). Non-measurable non-targets (bone,
    effusion, ascites) have ``status`` per timepoint instead (``present`` / ``absent``).
    """

    id: str
    role: str  # target | non-target | new
    organ: str
    node: bool
    kind: str
    tissue: str
    centre: tuple[float, float, float] = (0.0, 0.0, 0.0)
    #: Relative semi-axes of the main lobe (the size follows from the script).
    proportions: tuple[float, float, float] = (1.0, 0.85, 0.75)
    recorded_mm: tuple[float | None, ...] | None = None
    status: tuple[str, ...] | None = None
    roughness: float = 0.12
    extra_lobes: int = 0
    necrotic: bool = False
    #: random | craniocaudal (nodes: long axis roughly head-feet) | wall (flattened along a given normal)
    orientation: str = "random"
    wall_normal: tuple[float, float, float] = (0.0, 0.0, 1.0)
    #: Paint only over these tissues (a bone lesion stays inside the bone); empty = paint everywhere.
    painted_within: frozenset[str] = frozenset()
    #: For effusion / ascites: the anatomy finding switched on while present (no lesion solid).
    finding: str | None = None
    #: Base size (mm) of the non-measurable lesion shape (bone lesions).
    size_mm: float = 0.0

    @property
    def measure(self) -> str:
        if self.recorded_mm is None:
            return "none"
        return "short_axis" if self.node else "long_axis"

    def present(self, t: int) -> bool:
        if self.recorded_mm is not None:
            v = self.recorded_mm[t]
            return v is not None and v > 0
        assert self.status is not None
        return self.status[t] == "present"


@dataclass(frozen=True)
class SubjectPlan:
    subject_id: str
    course: str
    slice_thickness_mm: float
    pixel_mm: float
    matrix: int
    noise_sigma_hu: float
    baseline_date: str
    lesions: tuple[LesionPlan, ...]
    #: Patient z (mm) of the most cranial slice and the length scanned (lung bases to upper abdomen).
    scan_top_mm: float = 40.0
    scan_length_mm: float = 95.0


def _gastric_wall_point() -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """A point on the posterior wall of the stomach and the wall's outward normal (anatomical mm)."""
    import math

    cx, cy, cz = 55.0, -22.0, -42.0
    rx, ry, rz = 40.0, 34.0, 44.0
    yaw = math.radians(20.0)
    u = (0.05, 0.93, 0.36)  # direction on the unit sphere (local frame)
    n = math.sqrt(sum(c * c for c in u))
    u = (u[0] / n, u[1] / n, u[2] / n)
    lx, ly, lz = rx * u[0], ry * u[1], rz * u[2]
    # The anatomy turns by `yaw` with (dx, dy)_local = R(-yaw) (dx, dy): so world = R(yaw) local.
    wx = cx + math.cos(yaw) * lx - math.sin(yaw) * ly
    wy = cy + math.sin(yaw) * lx + math.cos(yaw) * ly
    wz = cz + lz
    gx, gy, gz = u[0] / rx, u[1] / ry, u[2] / rz  # gradient of the implicit function, local frame
    nx = math.cos(yaw) * gx - math.sin(yaw) * gy
    ny = math.sin(yaw) * gx + math.cos(yaw) * gy
    m = math.sqrt(nx * nx + ny * ny + gz * gz)
    return (wx, wy, wz), (nx / m, ny / m, gz / m)


_GASTRIC_WALL, _GASTRIC_NORMAL = _gastric_wall_point()


def _liver_met(id_: str, role: str, centre: tuple[float, float, float], recorded: tuple[float | None, ...], *,
               necrotic: bool = False, lobes: int = 1) -> LesionPlan:
    kind = "liver metastasis, hypodense" + (", necrotic centre" if necrotic else "")
    return LesionPlan(id_, role, "liver", False, kind, "liver metastasis", centre=centre, recorded_mm=recorded,
                      necrotic=necrotic, extra_lobes=lobes, roughness=0.10, proportions=(1.0, 0.82, 0.78))


def _lung_nodule(id_: str, centre: tuple[float, float, float], recorded: tuple[float | None, ...]) -> LesionPlan:
    return LesionPlan(id_, "target", "lung", False, "lung nodule, solid, lobulated", "lung nodule", centre=centre,
                      recorded_mm=recorded, roughness=0.16, extra_lobes=2, proportions=(1.0, 0.9, 0.85))


def _node(id_: str, role: str, centre: tuple[float, float, float], recorded: tuple[float | None, ...],
          where: str) -> LesionPlan:
    return LesionPlan(id_, role, "lymph node", True, f"lymph node, enlarged, ovoid ({where})", "lymph node",
                      centre=centre, recorded_mm=recorded, roughness=0.05, proportions=(1.0, 0.8, 1.5),
                      orientation="craniocaudal")


_LEFT_PARA_AORTIC = (37.0, 30.0, -28.0)
_AORTOCAVAL = (-7.0, 33.0, -22.0)


SUBJECTS: tuple[SubjectPlan, ...] = (
    SubjectPlan(
        "SUBJ-001", "confirmed PR, then PD", slice_thickness_mm=5.0, pixel_mm=0.84, matrix=336,
        noise_sigma_hu=9.0, baseline_date="2026-01-05", scan_top_mm=40.0, scan_length_mm=95.0,
        lesions=(
            _liver_met("T1", "target", (-62.0, 8.0, -24.0), (40.0, 26.0, 22.0, 30.0), necrotic=True),
            _liver_met("T2", "target", (-25.0, -30.0, -30.0), (30.0, 19.0, 16.0, 22.0)),
            _lung_nodule("T3", (-72.0, 12.0, 22.0), (20.0, 12.0, 10.0, 14.0)),
            _node("T4", "target", _LEFT_PARA_AORTIC, (20.0, 13.0, 11.0, 13.0), "left para-aortic"),
            LesionPlan("NT1", "non-target", "bone", False, "bone metastasis, sclerotic (vertebral body)",
                       "sclerotic bone", centre=(0.0, 60.0, -2.0), status=("present",) * 4, size_mm=13.0,
                       painted_within=frozenset({"cancellous bone"})),
        ),
    ),
    SubjectPlan(
        "SUBJ-002", "pseudo-progression: PD by RECIST 1.1 at week 6, then response (iUPD, then iPR)",
        slice_thickness_mm=2.5, pixel_mm=0.82, matrix=352, noise_sigma_hu=13.0, baseline_date="2026-01-12",
        scan_top_mm=40.0, scan_length_mm=90.0,
        lesions=(
            LesionPlan("T1", "target", "stomach", False, "gastric wall mass (primary tumour)", "gastric tumour",
                       centre=_GASTRIC_WALL, recorded_mm=(30.0, 38.0, 20.0, 16.0), roughness=0.10,
                       proportions=(1.0, 0.78, 0.42), orientation="wall", wall_normal=_GASTRIC_NORMAL),
            _liver_met("T2", "target", (-58.0, 10.0, -24.0), (25.0, 32.0, 16.0, 13.0), lobes=2),
            _node("T3", "target", _LEFT_PARA_AORTIC, (17.0, 20.0, 12.0, 11.0), "left para-aortic"),
            LesionPlan("NT1", "non-target", "bone", False, "bone metastasis, lytic (vertebral body)", "lytic bone",
                       centre=(2.0, 63.0, 30.0), status=("present",) * 4, size_mm=12.0,
                       painted_within=frozenset({"cancellous bone"})),
        ),
    ),
    SubjectPlan(
        "SUBJ-003", "complete response (a target node shrinks under 10 mm; effusion and a non-target node resolve)",
        slice_thickness_mm=3.0, pixel_mm=0.86, matrix=336, noise_sigma_hu=11.0, baseline_date="2026-01-19",
        scan_top_mm=36.0, scan_length_mm=84.0,
        lesions=(
            _liver_met("T1", "target", (-60.0, 5.0, -25.0), (22.0, 12.0, 0.0, 0.0)),
            _lung_nodule("T2", (75.0, 30.0, 22.0), (14.0, 8.0, 0.0, 0.0)),
            _node("T3", "target", _LEFT_PARA_AORTIC, (16.0, 11.0, 8.0, 7.0), "left para-aortic"),
            LesionPlan("NT1", "non-target", "pleura", False, "pleural effusion, right", "fluid",
                       centre=(-60.0, 63.0, 15.0), status=("present", "present", "absent", "absent"),
                       finding="pleural effusion"),
            _node("NT2", "non-target", _AORTOCAVAL, (12.0, 11.0, 8.0, 7.0), "aortocaval"),
        ),
    ),
    SubjectPlan(
        "SUBJ-004", "stable disease, then a new liver lesion (PD; iUPD confirmed as iCPD)",
        slice_thickness_mm=5.0, pixel_mm=0.88, matrix=320, noise_sigma_hu=9.5, baseline_date="2026-01-26",
        scan_top_mm=36.0, scan_length_mm=85.0,
        lesions=(
            _liver_met("T1", "target", (-55.0, 15.0, -22.0), (35.0, 33.0, 33.0, 34.0), necrotic=True, lobes=2),
            _lung_nodule("T2", (-70.0, 40.0, 20.0), (18.0, 17.0, 18.0, 18.0)),
            _node("T3", "target", _LEFT_PARA_AORTIC, (19.0, 18.0, 18.0, 19.0), "left para-aortic"),
            LesionPlan("NT1", "non-target", "peritoneum", False, "ascites (perihepatic and perisplenic)", "fluid",
                       centre=(10.0, -4.0, -28.0), status=("present",) * 4, finding="ascites"),
            _liver_met("N1", "new", (-82.0, -22.0, -18.0), (None, None, 12.0, 18.0)),
        ),
    ),
)


def subject_plan(subject_id: str) -> SubjectPlan:
    for s in SUBJECTS:
        if s.subject_id == subject_id:
            return s
    raise KeyError(f"no subject {subject_id!r} in the sample trial (have: {', '.join(s.subject_id for s in SUBJECTS)})")
