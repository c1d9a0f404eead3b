"""The one error type of DICOM discovery and loading."""

from __future__ import annotations


class DicomLoadError(Exception):
    """A series cannot be loaded. The message says what is wrong and where (file, slice position, series UID)."""
