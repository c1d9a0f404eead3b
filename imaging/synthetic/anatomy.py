"""The synthetic thoraco-abdominal anatomy (lung bases to upper abdomen), portal-venous phase.

`build_anatomy` returns the solids in painting order (later ones paint over earlier ones). Positions are anatomical
millimetres, LPS (x to the patient's left, y posterior, z to the head); z = 0 is about the top of the liver dome.
Attenuation values are typical of contrast-enhanced CT in the portal-venous phase.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from imaging.synthetic.solids import Arr, BoolArray, Capsule, Clip, Ellipsoid, EllipticCylinder, Rib, Solid

#: Hounsfield units of each tissue (portal-venous phase).
TISSUE_HU: dict[str, float] = {
    "air": -1024.0,
    "gas": -995.0,
    "fat": -100.0,
    "visceral fat": -92.0,
    "muscle": 48.0,
    "lung": -855.0,
    "lung vessel": 140.0,
    "myocardium": 55.0,
    "blood": 165.0,
    "aorta": 185.0,
    "vena cava": 135.0,
    "liver": 102.0,
    "liver vessel": 175.0,
    "gallbladder": 8.0,
    "spleen": 112.0,
    "kidney": 165.0,
    "stomach wall": 62.0,
    "gastric fluid": 12.0,
    "oesophagus": 45.0,
    "colon wall": 40.0,
    "cortical bone": 920.0,
    "cancellous bone": 245.0,
    "disc": 85.0,
    "csf": 12.0,
    "rib cortex": 820.0,
    "rib marrow": 290.0,
    "sternum": 420.0,
    "fluid": 9.0,
    # lesions
    "liver metastasis": 48.0,
    "necrosis": 18.0,
    "lung nodule": 38.0,
    "lymph node": 44.0,
    "gastric tumour": 88.0,
    "sclerotic bone": 760.0,
    "lytic bone": 36.0,
}

#: Tissues that belong to each organ a lesion may sit in (used to check that lesions are placed inside their organ).
ORGAN_TISSUES: dict[str, frozenset[str]] = {
    "liver": frozenset({"liver", "liver vessel"}),
    "lung": frozenset({"lung", "lung vessel"}),
    "stomach": frozenset({"stomach wall", "gastric fluid", "gas"}),
    "bone": frozenset({"cortical bone", "cancellous bone"}),
}


@dataclass(frozen=True)
class Body:
    """Outline of the trunk (super-ellipse), shared by several solids."""

    cx: float = 0.0
    cy: float = 8.0
    ax: float = 136.0
    ay: float = 102.0


def dome_z(x: Arr, y: Arr) -> Arr:
    """Height (mm) of the diaphragm under the lungs: right dome higher (liver), recesses lower laterally and behind."""
    right = 8.0 - 0.0032 * (x + 55.0) ** 2 - 0.0022 * (y + 5.0) ** 2
    left = -2.0 - 0.0032 * (x - 55.0) ** 2 - 0.0022 * (y + 5.0) ** 2
    return np.asarray(np.where(x < 0.0, right, left))


def _above_dome(margin: float) -> Clip:
    def clip(x: Arr, y: Arr, z: Arr) -> BoolArray:
        return np.asarray(z > dome_z(x, y) + margin)

    return clip


def _below_dome(margin: float) -> Clip:
    def clip(x: Arr, y: Arr, z: Arr) -> BoolArray:
        return np.asarray(z < dome_z(x, y) - margin)

    return clip


def _in_ellipse(cx: float, cy: float, ax: float, ay: float) -> Clip:
    def clip(x: Arr, y: Arr, z: Arr) -> BoolArray:
        return np.asarray(((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2 <= 1.0)

    return clip


def _both(a: Clip, b: Clip) -> Clip:
    def clip(x: Arr, y: Arr, z: Arr) -> BoolArray:
        return np.asarray(a(x, y, z) & b(x, y, z))

    return clip


def _lung_vessel_tree(rng: np.random.Generator, side: int) -> list[Solid]:
    """A branching tree of tapering vessels from the hilum towards the lung base (three roots, ~90 segments a lung)."""
    out: list[Solid] = []
    hilum = np.array([side * 40.0, 20.0, 60.0])
    roots = ([side * 0.55, 0.05, -0.83], [side * 0.35, -0.6, -0.72], [side * 0.3, 0.7, -0.65])
    stack = [(hilum, np.array(d) / np.linalg.norm(d), 5.5, 0) for d in roots]
    while stack:
        start, direction, radius, depth = stack.pop()
        length = rng.uniform(22.0, 38.0) * (0.85**depth)
        end = start + direction * length
        r_end = radius * 0.72
        out.append(Capsule("lung vessel", p0=tuple(start), p1=tuple(end), r0=radius, r1=r_end,
                           only_within=frozenset({"lung"})))
        if depth < 4:
            for _ in range(2):
                d = direction + rng.normal(scale=0.45, size=3)
                d[2] -= 0.25  # the bases are below the hilum
                stack.append((end, d / np.linalg.norm(d), r_end, depth + 1))
    return out


def build_anatomy(rng: np.random.Generator, body: Body, *, pleural_effusion: bool = False,
                  ascites: bool = False) -> list[Solid]:
    """Every solid of the trunk in painting order. ``rng`` varies the vessel trees; ``body`` the outline.

    ``pleural_effusion`` / ``ascites`` add those findings (non-target lesions that come and go between visits).
    """
    b = body
    cav_ax, cav_ay = b.ax - 24.0, b.ay - 22.0
    in_cavity = _in_ellipse(b.cx, b.cy, cav_ax, cav_ay)
    below = _below_dome(2.5)
    solids: list[Solid] = [
        EllipticCylinder("fat", cx=b.cx, cy=b.cy, ax=b.ax, ay=b.ay, exponent=2.4),
        EllipticCylinder("muscle", cx=b.cx, cy=b.cy, ax=b.ax - 14.0, ay=b.ay - 14.0, exponent=2.4),
        EllipticCylinder("visceral fat", cx=b.cx, cy=b.cy, ax=cav_ax, ay=cav_ay),
    ]
    # Thorax: lungs above the diaphragm, heart, then the mediastinal vessels.
    for side in (-1, 1):
        solids.append(EllipticCylinder("lung", cx=side * 68.0, cy=18.0, ax=55.0, ay=74.0,
                                       clip=_both(_above_dome(0.0), in_cavity)))
    solids.append(Ellipsoid("myocardium", centre=(25.0, -35.0, 42.0), radii=(62.0, 46.0, 44.0), yaw=-25.0,
                            clip=_above_dome(3.0)))
    solids.append(Ellipsoid("blood", centre=(25.0, -35.0, 44.0), radii=(50.0, 35.0, 34.0), yaw=-25.0,
                            clip=_above_dome(9.0)))
    if pleural_effusion:
        solids.append(right_pleural_effusion())
    # Abdomen: fluid spaces, organs below the diaphragm.
    if ascites:
        solids += perihepatic_ascites()
    solids += [
        Ellipsoid("liver", centre=(-55.0, -2.0, -28.0), radii=(56.0, 68.0, 70.0), clip=_both(below, in_cavity)),
        Ellipsoid("liver", centre=(12.0, -42.0, -22.0), radii=(48.0, 28.0, 34.0), yaw=-15.0,
                  clip=_both(below, in_cavity)),
        Ellipsoid("gallbladder", centre=(-38.0, -52.0, -62.0), radii=(14.0, 18.0, 26.0), yaw=20.0),
        Ellipsoid("spleen", centre=(88.0, 42.0, -40.0), radii=(24.0, 50.0, 46.0), yaw=30.0,
                  clip=_both(below, in_cavity)),
        Ellipsoid("kidney", centre=(-62.0, 64.0, -102.0), radii=(27.0, 30.0, 55.0), yaw=-20.0),
        Ellipsoid("kidney", centre=(62.0, 64.0, -98.0), radii=(27.0, 30.0, 55.0), yaw=20.0),
        Ellipsoid("stomach wall", centre=(55.0, -22.0, -42.0), radii=(40.0, 34.0, 44.0), yaw=20.0,
                  clip=below),
        Ellipsoid("gastric fluid", centre=(55.0, -22.0, -42.0), radii=(35.0, 29.0, 39.0), yaw=20.0,
                  clip=lambda x, y, z: np.asarray((y > -30.0) & below(x, y, z))),
        Ellipsoid("gas", centre=(55.0, -22.0, -42.0), radii=(35.0, 29.0, 39.0), yaw=20.0,
                  clip=lambda x, y, z: np.asarray((y <= -30.0) & below(x, y, z))),
        Capsule("colon wall", p0=(40.0, -62.0, -75.0), p1=(95.0, -15.0, -62.0), r0=17.0, r1=17.0),
        Capsule("gas", p0=(40.0, -62.0, -75.0), p1=(95.0, -15.0, -62.0), r0=12.5, r1=12.5,
                only_within=frozenset({"colon wall"})),
    ]
    # Vessels.
    solids += [
        EllipticCylinder("aorta", cx=12.0, cy=38.0, ax=12.0, ay=12.0),
        EllipticCylinder("vena cava", cx=-25.0, cy=30.0, ax=11.0, ay=10.0, z1=6.0),
        Capsule("liver vessel", p0=(-8.0, 8.0, -55.0), p1=(-48.0, 0.0, -30.0), r0=7.0, r1=5.0,
                only_within=frozenset({"liver"})),
        Capsule("liver vessel", p0=(-25.0, 28.0, -2.0), p1=(-92.0, -15.0, -14.0), r0=5.5, r1=3.0,
                only_within=frozenset({"liver"})),
        Capsule("liver vessel", p0=(-25.0, 28.0, -2.0), p1=(-45.0, -48.0, -8.0), r0=5.0, r1=3.0,
                only_within=frozenset({"liver"})),
        Capsule("liver vessel", p0=(-20.0, 25.0, -4.0), p1=(10.0, -45.0, -16.0), r0=4.5, r1=2.5,
                only_within=frozenset({"liver"})),
    ]
    # Oesophagus: from the posterior mediastinum through the hiatus to the cardia.
    path = [(6.0, 30.0, 110.0), (10.0, 27.0, 30.0), (26.0, 14.0, -8.0), (40.0, -2.0, -24.0)]
    for p0, p1 in itertools.pairwise(path):
        solids.append(Capsule("oesophagus", p0=p0, p1=p1, r0=9.0, r1=9.0))
    for p0, p1 in itertools.pairwise(path):
        solids.append(Capsule("gas", p0=p0, p1=p1, r0=2.5, r1=2.5, only_within=frozenset({"oesophagus"})))
    # Lung vessels (only inside lung).
    for side in (-1, 1):
        solids += _lung_vessel_tree(rng, side)
    # Spine, ribs, sternum, back muscles.
    solids += [
        EllipticCylinder("muscle", cx=-32.0, cy=b.cy + 87.0, ax=20.0, ay=15.0),
        EllipticCylinder("muscle", cx=32.0, cy=b.cy + 87.0, ax=20.0, ay=15.0),
        EllipticCylinder("cortical bone", cx=0.0, cy=62.0, ax=17.0, ay=16.0),
        EllipticCylinder("cancellous bone", cx=0.0, cy=62.0, ax=15.3, ay=14.3),
    ]
    for k in range(-5, 5):  # intervertebral discs every 30 mm
        z0 = 12.0 + 30.0 * k
        solids.append(EllipticCylinder("disc", cx=0.0, cy=62.0, ax=17.0, ay=16.0, z0=z0, z1=z0 + 7.0))
    solids += [
        EllipticCylinder("cortical bone", cx=0.0, cy=89.0, ax=13.0, ay=12.0),
        EllipticCylinder("cortical bone", cx=0.0, cy=100.0, ax=4.5, ay=7.0),
        EllipticCylinder("csf", cx=0.0, cy=88.0, ax=7.5, ay=7.0),
        EllipticCylinder("sternum", cx=0.0, cy=b.cy - b.ay + 17.0, ax=14.0, ay=5.5, z0=-25.0),
    ]
    rib_ax, rib_ay = b.ax - 19.0, b.ay - 18.0
    for i in range(7):
        for side in (-1, 1):
            z_post = 110.0 - 26.0 * i
            for tissue, half_thickness, half_height in (("rib cortex", 4.5, 6.5), ("rib marrow", 3.0, 4.8)):
                solids.append(Rib(tissue, cx=b.cx, cy=b.cy, ax=rib_ax, ay=rib_ay, z_posterior=z_post, drop=85.0,
                                  angle_from=0.32, angle_to=2.45 - 0.12 * i, side=side,
                                  half_thickness=half_thickness, half_height=half_height))
    return solids


def right_pleural_effusion() -> Solid:
    """A dependent (posterior) right pleural effusion filling the back of the right lung base."""
    return EllipticCylinder("fluid", cx=-68.0, cy=18.0, ax=55.0, ay=74.0,
                            clip=lambda x, y, z: np.asarray((y > 58.0 - 0.15 * (z + 20.0)) & (z < 40.0)),
                            only_within=frozenset({"lung", "lung vessel"}))


def perihepatic_ascites() -> list[Solid]:
    """Ascites: a rim of fluid around the liver and spleen (painted before those organs)."""
    below = _below_dome(2.5)
    return [
        Ellipsoid("fluid", centre=(-55.0, -2.0, -28.0), radii=(78.0, 90.0, 88.0), clip=below,
                  only_within=frozenset({"visceral fat"})),
        Ellipsoid("fluid", centre=(88.0, 42.0, -40.0), radii=(34.0, 60.0, 54.0), yaw=30.0,
                  clip=below, only_within=frozenset({"visceral fat"})),
    ]
