"""DICOM and geometry: `Volume`, series discovery and loading, PACS access. No Qt, no torch."""

from typing import TYPE_CHECKING

from imaging.volume import LoadWarning, PatientIdentity, SeriesInfo, Volume

__all__ = ["LoadWarning", "PatientIdentity", "SeriesInfo", "Volume"]

# DICOM discovery and loading, imported on first use so that `import imaging` stays light (no pydicom until needed).
_LAZY = {
    "discover": "imaging.discovery", "Discovery": "imaging.discovery", "SeriesRecord": "imaging.discovery",
    "load_series": "imaging.loader", "SeriesLoader": "imaging.loader", "DicomLoadError": "imaging.errors",
}  # fmt: skip

if TYPE_CHECKING:  # the real types for type checkers; at run time __getattr__ imports on first use
    from imaging.discovery import Discovery as Discovery
    from imaging.discovery import SeriesRecord as SeriesRecord
    from imaging.discovery import discover as discover
    from imaging.errors import DicomLoadError as DicomLoadError
    from imaging.loader import SeriesLoader as SeriesLoader
    from imaging.loader import load_series as load_series


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'imaging' has no attribute {name!r}")
