"""Fictitious identities and deterministic UIDs for the synthetic trial (plainly invented, realistic-looking)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

import numpy as np

INSTITUTION = "Northwind General Hospital (FICTITIOUS)"
SPONSOR = "Synthetic Oncology Research Group (FICTITIOUS)"
PROTOCOL_ID = "TIL-PEMBRO-GC-01"
PROTOCOL_NAME = "TIL + pembrolizumab, gastric/oesophageal cancer (SYNTHETIC)"
SITE_ID = "NW01"
PATIENT_COMMENT = "SYNTHETIC DATA - NOT A REAL PATIENT"

_FAMILY = ("HARTWELL", "OKONKWO", "VASQUEZ-LEE", "BRANDT", "ABERNATHY", "KOWALCZYK", "NAKAMURA", "DELACROIX",
           "FITZROY", "OYELARAN", "LINDQVIST", "MORENO")
_GIVEN_F = ("MAUD", "ROSA", "INGRID", "PRIYA", "HELENE", "AOIFE")
_GIVEN_M = ("DANIEL", "TOBIAS", "MATEO", "KENJI", "OSKAR", "EMEKA")
_PHYSICIANS = ("FENWICK^ALMA^^DR", "ROWNTREE^HUGO^^DR", "ESTERHAZY^CLARA^^DR")


@dataclass(frozen=True)
class FakeIdentity:
    patient_id: str
    patient_name: str
    birth_date: str  # YYYYMMDD
    sex: str
    referring_physician: str


def fake_identity(rng: np.random.Generator, index: int) -> FakeIdentity:
    sex = "F" if rng.random() < 0.45 else "M"
    given = _GIVEN_F if sex == "F" else _GIVEN_M
    family = _FAMILY[(3 * index + int(rng.integers(3))) % len(_FAMILY)]  # disjoint choices: no two subjects alike
    name = f"{family}^{given[int(rng.integers(len(given)))]}"
    year = int(rng.integers(1948, 1976))
    birth = f"{year:04d}{int(rng.integers(1, 13)):02d}{int(rng.integers(1, 29)):02d}"
    pid = f"NWH{int(rng.integers(1_000_000, 9_999_999))}"
    return FakeIdentity(pid, name, birth, sex, _PHYSICIANS[index % len(_PHYSICIANS)])


def accession_number(rng: np.random.Generator) -> str:
    return f"A26{int(rng.integers(10_000_000, 99_999_999))}"


def synthetic_uid(seed: int, *parts: object) -> str:
    """A DICOM UID derived only from the seed and the given parts: same inputs, same UID.

    The 2.25 form of PS3.5 B.2: the integer of a name-based (version 5 style, SHA) UUID of the inputs.
    """
    text = "\x1f".join(["recist-synthetic", str(seed), *map(str, parts)])
    return f"2.25.{uuid.UUID(bytes=hashlib.sha256(text.encode()).digest()[:16], version=5).int}"
