"""The one place that names the concrete segmentation engines.

``create_segmenter("auto")`` gives the consensus of the MONAI and classical engines (`consensus.ConsensusSegmenter`:
both run, the more confident outline is returned, a disagreement is flagged) when the MONAI bundle loads and its
metadata does not set ``"auto_select": false`` (which a bundle that loses to the classical engine carries), else the
classical engine alone, with ``fallback_reason`` saying why; the result's `Provenance` names the engine whose outline
was returned.
"""

from __future__ import annotations

from pathlib import Path

from segmentation.base import SegmentationError, Segmenter
from segmentation.bundle import DEFAULT_BUNDLE, BundleError

ENGINES = ("monai", "classical")  # "auto" is their consensus


def create_segmenter(name: str = "auto", device: str = "auto", bundle: Path | str = DEFAULT_BUNDLE) -> Segmenter:
    """An engine by name: "auto", "monai" or "classical". Raises `SegmentationError` with the reason when the named
    engine cannot run (no bundle, bad weights, no CUDA)."""
    if name not in ("auto", *ENGINES):
        raise SegmentationError(f"unknown segmentation engine '{name}' (auto, monai or classical)")
    if name in ("auto", "monai"):
        try:
            from segmentation.engines.monai_engine import MonaiSegmenter

            if name == "auto":
                _check_auto_select(bundle)
                from segmentation.engines.classical import ClassicalSegmenter
                from segmentation.engines.consensus import ConsensusSegmenter

                return ConsensusSegmenter(MonaiSegmenter(bundle, device), ClassicalSegmenter())
            return MonaiSegmenter(bundle, device)
        except (BundleError, ImportError) as exc:
            if name == "monai":
                raise SegmentationError(f"the MONAI engine cannot run: {exc}") from None
            from segmentation.engines.classical import ClassicalSegmenter

            engine = ClassicalSegmenter()
            engine.fallback_reason = f"MONAI engine unavailable ({exc}); using the classical engine"
            return engine
    from segmentation.engines.classical import ClassicalSegmenter

    return ClassicalSegmenter(device)


def _check_auto_select(bundle: Path | str) -> None:
    """A bundle whose metadata says ``"auto_select": false`` (its benchmark does not beat the classical engine) is
    used only when asked for by name."""
    from segmentation.bundle import read_bundle

    meta = read_bundle(bundle).metadata
    if meta.get("auto_select", True) is False:
        why = meta.get("auto_select_reason", "its metadata says so")
        raise BundleError(f"the bundle is not selected automatically ({why}); ask for --engine monai to use it")


def available_engines(bundle: Path | str = DEFAULT_BUNDLE) -> dict[str, str]:
    """Engine name -> "ok" or why it cannot run here (no torch import: checks the bundle's files only)."""
    import importlib.util

    out = {"classical": "ok"}
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("monai") is None:
        out["monai"] = "torch/monai are not installed"
    else:
        try:
            from segmentation.bundle import read_bundle

            read_bundle(bundle)
            out["monai"] = "ok"
        except BundleError as exc:
            out["monai"] = str(exc)
    return out
