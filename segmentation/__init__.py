"""Lesion segmentation from a click, and RECIST diameters from masks. The only package that imports torch/monai."""

from segmentation.base import Provenance, SegmentationError, SegmentationHints, SegmentationResult, Segmenter

__all__ = ["Provenance", "SegmentationError", "SegmentationHints", "SegmentationResult", "Segmenter"]
