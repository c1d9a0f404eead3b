"""DICOM and geometry: `Volume`, series discovery and loading, PACS access. No Qt, no torch."""

from imaging.volume import LoadWarning, PatientIdentity, SeriesInfo, Volume

__all__ = ["LoadWarning", "PatientIdentity", "SeriesInfo", "Volume"]
