"""Organ names as the workstation records them <-> SNOMED CT anatomic locations (DICOM finding sites).

Organs with no entry get a code in the workstation's local scheme (``99RECISTWS``) whose meaning is the organ as
typed, so nothing is lost on the way to DICOM and back.
"""

from __future__ import annotations

from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

LOCAL_SCHEME = "99RECISTWS"

#: organ (lower case, as the reader picks it) -> pydicom SCT keyword
_SCT_KEYWORD = {
    "adrenal gland": "AdrenalGland",
    "bone": "Bone",
    "brain": "Brain",
    "colon": "Colon",
    "duodenum": "Duodenum",
    "esophagus": "Esophagus",
    "kidney": "Kidney",
    "liver": "Liver",
    "lung": "Lung",
    "lymph node": "LymphNode",
    "mediastinum": "Mediastinum",
    "omentum": "Omentum",
    "ovary": "Ovary",
    "pancreas": "Pancreas",
    "pleura": "Pleura",
    "skin": "Skin",
    "small intestine": "SmallIntestine",
    "soft tissue": "SoftTissue",
    "spleen": "Spleen",
    "stomach": "Stomach",
}
_SYNONYMS = {"oesophagus": "esophagus", "adrenal": "adrenal gland", "node": "lymph node"}


def is_coded(organ: str) -> bool:
    """Whether ``organ`` has a SNOMED CT code here (else it is exported under the local scheme, as typed)."""
    key = organ.strip().lower()
    return _SYNONYMS.get(key, key) in _SCT_KEYWORD


def organ_code(organ: str) -> Code:
    key = organ.strip().lower()
    key = _SYNONYMS.get(key, key)
    if key in _SCT_KEYWORD:
        code: Code = getattr(codes.SCT, _SCT_KEYWORD[key])
        return code
    return Code("ORGAN", LOCAL_SCHEME, organ[:64] or "unspecified")


def organ_name(value: str, scheme: str, meaning: str) -> str:
    if scheme == LOCAL_SCHEME:
        return meaning if meaning != "unspecified" else ""
    for name, keyword in _SCT_KEYWORD.items():
        if getattr(codes.SCT, keyword).value == value:
            return name
    return meaning.lower()
