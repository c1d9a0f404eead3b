"""A MONAI-bundle-like model folder: ``configs/metadata.json``, ``configs/inference.json``, ``models/model.pt``.

``inference.json`` names the network as a MONAI bundle does (``network_def`` with ``_target_`` and its arguments) plus
what the engine needs to prepare the input (HU windows, guidance SD, crop extent, threshold). Only classes under
``monai.networks.nets`` are instantiated and the weights load with ``torch.load(weights_only=True)``: a bundle a site
drops in is data, never code that runs. torch is imported inside functions only.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segmentation.network_inputs import GUIDANCE_SIGMA_MM, HU_WINDOWS

DEFAULT_BUNDLE = Path(__file__).resolve().parent.parent / "models" / "lesion_seg"
ALLOWED_NETWORK_PREFIX = "monai.networks.nets."


class BundleError(Exception):
    """A model bundle that is missing or malformed; the message names the file and what is wrong."""


@dataclass(frozen=True)
class BundleConfig:
    """The parts of a bundle the engine needs, read and checked."""

    root: Path
    model_id: str
    version: str
    network_target: str
    network_args: dict[str, Any]
    hu_windows: tuple[tuple[float, float], ...]
    guidance_sigma_mm: float
    crop_extent_mm: tuple[float, float, float]
    #: The first crop, in voxels: in-plane size and (min, max) slices, as in training (the instance-norm statistics of
    #: the network match those of its training patches); the larger ``crop_extent_mm`` crop is the second pass.
    first_crop_inplane: int
    first_crop_slices: tuple[int, int]
    threshold: float
    refine_edges: bool
    #: Passes with the crop mirrored (1 = none, up to 8), probabilities averaged.
    test_time_flips: int
    metadata: dict[str, Any]
    #: Boundary sharpness (soft Dice of probabilities and mask) mapped to confidence 0 and 1; the outline is flagged
    #: below their middle. Calibrated per model (a sharper model needs a higher bar): see the model card.
    confidence_sharpness: tuple[float, float] = (0.80, 0.90)
    #: Thresholds (low, high) among which the outline on the image's strongest edge is chosen per lesion
    #: (`segmentation.edge_threshold`); None: the fixed ``threshold``.
    edge_threshold_range: tuple[float, float] | None = None

    @property
    def weights(self) -> Path:
        return self.root / "models" / "model.pt"


#: The shipped network: five levels, the first halving rows and columns only (slices are thicker than pixels).
SHIPPED_CHANNELS = (16, 32, 64, 128, 256)
SHIPPED_STRIDES: tuple[Any, ...] = ((1, 2, 2), 2, 2, 2)


def default_network_def(
    channels: tuple[int, ...] = SHIPPED_CHANNELS, strides: tuple[Any, ...] | None = None
) -> dict[str, Any]:
    """A 3-D residual UNet (MONAI), 3 input channels, 1 output logit; strides unless given (one per level after the
    first; a stride is one number or one per axis): the shipped network's for as many levels (a wider network keeps
    its full resolution across thick slices at the first level), else 2."""
    if strides is None:
        strides = SHIPPED_STRIDES if len(channels) == len(SHIPPED_CHANNELS) else (2,) * (len(channels) - 1)
    return {
        "_target_": "monai.networks.nets.UNet",
        "spatial_dims": 3,
        "in_channels": len(HU_WINDOWS) + 1,
        "out_channels": 1,
        "channels": list(channels),
        "strides": [list(s) if isinstance(s, tuple | list) else s for s in strides],
        "num_res_units": 1,
        "norm": "INSTANCE",
    }


def size_multiples(network_args: dict[str, Any]) -> tuple[int, int, int]:
    """Per axis (slice, row, column), the multiple a crop's size must be for the network's strides (a stride is one
    number or one per axis)."""
    out = [1, 1, 1]
    for stride in network_args.get("strides", []):
        per_axis = [int(stride)] * 3 if isinstance(stride, int | float) else [int(s) for s in stride]
        out = [a * b for a, b in zip(out, per_axis, strict=True)]
    return (out[0], out[1], out[2])


def inference_config(
    network_def: dict[str, Any],
    crop_extent_mm: tuple[float, float, float],
    first_crop_inplane: int = 96,
    first_crop_slices: tuple[int, int] = (16, 24),
) -> dict[str, Any]:
    return {
        "network_def": network_def,
        "input": {
            "hu_windows": [list(w) for w in HU_WINDOWS],
            "guidance_sigma_mm": GUIDANCE_SIGMA_MM,
            "crop_extent_mm": list(crop_extent_mm),
            "first_crop_inplane": first_crop_inplane,
            "first_crop_slices": list(first_crop_slices),
            "size_multiple": list(size_multiples(network_def)),
        },
        "postprocessing": {
            "threshold": 0.5,
            "largest_component_at_seed": True,
            "refine_edges": False,
            "confidence_sharpness": [0.80, 0.90],
        },
    }


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"model bundle file missing: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"model bundle file unreadable: {path}: {exc}") from None
    if not isinstance(data, dict):
        raise BundleError(f"model bundle file is not a JSON object: {path}")
    return data


def read_bundle(root: Path | str = DEFAULT_BUNDLE) -> BundleConfig:
    """Read and check a bundle folder (no torch needed)."""
    root = Path(root)
    if not root.is_dir():
        raise BundleError(f"no model bundle at {root}")
    meta = _read_json(root / "configs" / "metadata.json")
    inf = _read_json(root / "configs" / "inference.json")
    net = inf.get("network_def")
    if not isinstance(net, dict) or not isinstance(net.get("_target_"), str):
        raise BundleError(f"{root / 'configs' / 'inference.json'}: 'network_def' with a '_target_' is required")
    target = net["_target_"]
    if not target.startswith(ALLOWED_NETWORK_PREFIX):
        raise BundleError(f"{root}: network '{target}' is not a MONAI network ({ALLOWED_NETWORK_PREFIX}*)")
    inp = inf.get("input", {})
    try:
        windows = tuple((float(lo), float(hi)) for lo, hi in inp.get("hu_windows", HU_WINDOWS))
        sigma = float(inp.get("guidance_sigma_mm", GUIDANCE_SIGMA_MM))
        extent_list = [float(x) for x in inp.get("crop_extent_mm", (112.0, 112.0, 112.0))]
        threshold = float(inf.get("postprocessing", {}).get("threshold", 0.5))
        low, high = (float(x) for x in inf.get("postprocessing", {}).get("confidence_sharpness", (0.80, 0.90)))
        first_inplane = int(inp.get("first_crop_inplane", 96))
        first_slices = tuple(int(x) for x in inp.get("first_crop_slices", (16, 24)))
        edge_range = inf.get("postprocessing", {}).get("edge_threshold_range")
        edge = None if edge_range is None else tuple(float(x) for x in edge_range)
    except (TypeError, ValueError) as exc:
        raise BundleError(f"{root / 'configs' / 'inference.json'}: bad 'input' section: {exc}") from None
    if not 0.0 <= low < high <= 1.0:
        raise BundleError(f"{root / 'configs' / 'inference.json'}: confidence_sharpness needs 0 <= low < high <= 1")
    if edge is not None and not (len(edge) == 2 and 0.0 < edge[0] <= threshold <= edge[1] < 1.0):
        raise BundleError(
            f"{root / 'configs' / 'inference.json'}: edge_threshold_range needs [low, high] with "
            f"0 < low <= threshold ({threshold:g}) <= high < 1"
        )
    if len(extent_list) != 3 or min(extent_list) <= 0:
        raise BundleError(f"{root / 'configs' / 'inference.json'}: crop_extent_mm needs three positive numbers")
    if int(net.get("in_channels", len(windows) + 1)) != len(windows) + 1:
        raise BundleError(f"{root}: in_channels must be the number of HU windows + 1 (the click guidance)")
    weights = root / "models" / "model.pt"
    if not weights.is_file():
        raise BundleError(f"model bundle has no weights: {weights}")
    return BundleConfig(
        root=root,
        model_id=str(meta.get("name", root.name)),
        version=str(meta.get("version", "0")),
        network_target=target,
        network_args={k: v for k, v in net.items() if k != "_target_"},
        hu_windows=windows,
        guidance_sigma_mm=sigma,
        crop_extent_mm=(extent_list[0], extent_list[1], extent_list[2]),
        first_crop_inplane=first_inplane,
        first_crop_slices=(first_slices[0], first_slices[-1]),
        threshold=threshold,
        refine_edges=bool(inf.get("postprocessing", {}).get("refine_edges", False)),
        test_time_flips=int(inf.get("postprocessing", {}).get("test_time_flips", 1)),
        metadata=meta,
        confidence_sharpness=(low, high),
        edge_threshold_range=None if edge is None else (edge[0], edge[1]),
    )


def build_network(target: str, args: dict[str, Any]) -> Any:
    """Instantiate a MONAI network class by its dotted name (only under `ALLOWED_NETWORK_PREFIX`)."""
    if not target.startswith(ALLOWED_NETWORK_PREFIX):
        raise BundleError(f"network '{target}' is not a MONAI network")
    module_name, _, cls_name = target.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), cls_name)
        return cls(**args)
    except (ImportError, AttributeError, TypeError, ValueError) as exc:
        raise BundleError(f"cannot build network {target}: {exc}") from None


def load_network(config: BundleConfig, device: str = "cpu") -> Any:
    """The network with the bundle's weights, in eval mode on ``device``."""
    import torch

    net = build_network(config.network_target, config.network_args)
    try:
        state = torch.load(config.weights, map_location=device, weights_only=True)
        net.load_state_dict(state)
    except Exception as exc:  # corrupt or mismatched weights: say which file
        raise BundleError(f"cannot load weights {config.weights}: {exc}") from None
    return net.to(device).eval()


def write_bundle(
    root: Path,
    state_dict: Any,
    network_def: dict[str, Any],
    crop_extent_mm: tuple[float, float, float],
    metadata: dict[str, Any],
    first_crop_inplane: int = 96,
    first_crop_slices: tuple[int, int] = (16, 24),
) -> None:
    """Write (or overwrite, atomically per file) a bundle folder."""
    import torch

    (root / "configs").mkdir(parents=True, exist_ok=True)
    (root / "models").mkdir(parents=True, exist_ok=True)
    tmp = root / "models" / "model.pt.tmp"
    torch.save(state_dict, tmp)
    tmp.replace(root / "models" / "model.pt")
    inference = inference_config(network_def, crop_extent_mm, first_crop_inplane, first_crop_slices)
    for name, data in (("metadata.json", metadata), ("inference.json", inference)):
        t = root / "configs" / (name + ".tmp")
        t.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        t.replace(root / "configs" / name)
