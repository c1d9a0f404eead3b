"""DICOM and geometry: `Volume`, series discovery and loading, PACS access. No Qt, no torch."""

from imaging.volume import LoadWarning, PatientIdentity, SeriesInfo, Volume

__all__ = ["LoadWarning", "PatientIdentity", "SeriesInfo", "Volume"]

# DICOM discovery and loading, imported on first use so that `import imaging` stays light (no pydicom until needed).
_LAZY = {
    "discover": "imaging.discovery", "Discovery": "imaging.discovery", "SeriesRecord": "imaging.discovery",
    "load_series": "imaging.loader", "SeriesLoader": "imaging.loader", "DicomLoadError": "imaging.errors",
}  # fmt: skip


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'imaging' has no attribute {name!r}")
