"""Train the click-guided lesion segmentation network on synthetic patches and write a model bundle.

Reproducible: the patches come from ``numpy.random.default_rng(seed)`` and the weights from ``torch.manual_seed(seed)``
with deterministic algorithms, so the same ``steps``, ``seed`` and thread count give the same weights on CPU (the
learning-rate schedule follows the steps). With only ``minutes`` the schedule follows the wall clock, so that the run
always anneals within its budget on a shared or slow machine; the number of steps it reached is written to the bundle's
metadata (the patch sequence is the same for a seed, so a run is a prefix of a longer one).
"""

from __future__ import annotations

import json
import math
import platform
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from imaging.cancel import Cancelled, CancelToken, ProgressCallback, report
from segmentation.bundle import SHIPPED_CHANNELS, default_network_def, write_bundle
from segmentation.network_inputs import network_input
from segmentation.training.synthetic import LesionPatch, make_patch, sample_spacing

#: Crop the engine cuts around a click (mm, slice/row/column): an 80 mm lesion fits when the crop is re-centred on it.
CROP_EXTENT_MM = (112.0, 112.0, 112.0)
#: Training patches: in-plane pixels, and slices between these bounds (a multiple of 8 for the UNet's strides). The
#: engine's first crop has the same size in voxels (written to the bundle), so the network sees what it trained on.
TRAIN_INPLANE = 112
TRAIN_SLICES = (16, 32)


@dataclass(frozen=True)
class TrainingResult:
    out: Path
    steps: int
    seconds: float
    final_loss: float


def patch_slices(spacing: tuple[float, float, float], inplane: int = TRAIN_INPLANE) -> int:
    """Slices of a patch (and of the engine's first crop): about the in-plane extent, a multiple of 8, within bounds."""
    extent = inplane * spacing[1]
    return int(np.clip(round(extent / spacing[0] / 8) * 8, *TRAIN_SLICES))


def training_patch(
    rng: np.random.Generator, spacing: tuple[float, float, float] | None = None, slices: int | None = None
) -> LesionPatch:
    """One training patch at a random acquisition (or the one given); lesions up to 85 % of its in-plane extent."""
    spacing = spacing or sample_spacing(rng)
    nk = slices or patch_slices(spacing)
    extent = TRAIN_INPLANE * spacing[1]
    max_d = min(80.0, 0.85 * extent)
    diameter = float(math.exp(rng.uniform(math.log(5.0), math.log(max_d))))
    return make_patch(rng, shape=(nk, TRAIN_INPLANE, TRAIN_INPLANE), spacing=spacing, diameter_mm=diameter)


def starting_network(
    network_def: dict[str, Any], init: Path | None
) -> tuple[Any, dict[str, Any], dict[str, Any] | None]:
    """The network to train, its definition and its parent: ``network_def`` fresh, or, with ``init``, that bundle's
    network and weights (fine-tuning, e.g. the shipped model on a site's own data, or continuing a run), the parent's
    name, version and training facts to record as ``initialised_from``."""
    import torch

    from segmentation.bundle import build_network, read_bundle

    parent: dict[str, Any] | None = None
    base = read_bundle(init) if init is not None else None
    if base is not None:
        network_def = {"_target_": base.network_target, **base.network_args}
        parent = {"name": base.model_id, "version": base.version, "training": base.metadata.get("training")}
    net = build_network(network_def["_target_"], {k: v for k, v in network_def.items() if k != "_target_"})
    if base is not None:
        net.load_state_dict(torch.load(base.weights, map_location="cpu", weights_only=True))
    return net, network_def, parent


def train(
    out: Path,
    *,
    steps: int | None = None,
    minutes: float | None = None,
    seed: int = 0,
    threads: int = 1,
    channels: tuple[int, ...] = SHIPPED_CHANNELS,
    learning_rate: float = 3e-3,
    checkpoint_every: int = 250,
    init: Path | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    log: Any = print,
) -> TrainingResult:
    """Train and write the bundle to ``out`` (checkpointed as it goes, so an interrupted run leaves a usable model)."""
    import torch
    from monai.losses.dice import DiceCELoss

    if steps is None and minutes is None:
        raise ValueError("give the number of steps, the minutes, or both")
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(seed)
    net, network_def, parent = starting_network(default_network_def(channels), init)
    net.train()
    optimiser = torch.optim.AdamW(net.parameters(), lr=learning_rate, weight_decay=1e-4)
    loss_fn = DiceCELoss(sigmoid=True, squared_pred=True, smooth_nr=1e-5, smooth_dr=1e-5)
    start = time.monotonic()
    warmup = 100
    ema: float | None = None

    def lr_at(fraction: float, step: int) -> float:
        """Linear warm-up over `warmup` steps, then cosine decay to 1e-5 over the run (fraction 0..1)."""
        if step < warmup:
            return learning_rate * (step + 1) / warmup
        return 1e-5 + 0.5 * (learning_rate - 1e-5) * (1 + math.cos(math.pi * min(1.0, fraction)))

    def save(step: int, final: bool) -> None:
        meta = bundle_metadata(seed, step, steps, minutes, threads, time.monotonic() - start, ema, final)
        if parent is not None:
            meta["training"]["initialised_from"] = parent
            meta["version"] = f"{parent['version']}+ft"
        write_bundle(out, net.state_dict(), network_def, CROP_EXTENT_MM, meta, TRAIN_INPLANE, TRAIN_SLICES)

    step = 0
    budget_s = minutes * 60 if minutes is not None else math.inf
    while True:
        if cancel is not None and cancel.cancelled:
            save(step, final=False)
            raise Cancelled("training cancelled; the last checkpoint was kept")
        elapsed = time.monotonic() - start
        if (steps is not None and step >= steps) or elapsed >= budget_s:
            break
        # With a step count the schedule follows the steps (bit-reproducible); with minutes only, the clock.
        fraction = (step - warmup) / max(1, steps - warmup) if steps is not None else elapsed / budget_s
        patch = training_patch(rng)
        x = torch.from_numpy(network_input(patch.image, patch.seed, patch.spacing)[None])
        y = torch.from_numpy(patch.mask[None, None].astype(np.float32))
        for group in optimiser.param_groups:
            group["lr"] = lr_at(fraction, step)
        optimiser.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        optimiser.step()
        value = float(loss.detach())
        ema = value if ema is None else 0.98 * ema + 0.02 * value
        step += 1
        if step % 50 == 0:
            log(f"step {step}/{steps or '?'}  loss {ema:.4f}  lr {lr_at(fraction, step):.2e}  {elapsed:.0f} s")
            report(progress, step, steps or step, f"loss {ema:.4f}")
        if step % checkpoint_every == 0:
            save(step, final=False)
    save(step, final=True)
    return TrainingResult(out, step, time.monotonic() - start, float(ema or 0.0))


def bundle_metadata(
    seed: int,
    steps: int,
    planned: int | None,
    minutes: float | None,
    threads: int,
    seconds: float,
    loss: float | None,
    final: bool,
) -> dict[str, Any]:
    import monai
    import torch

    return {
        "schema": "https://github.com/Project-MONAI/MONAI-extra-test-data/releases/download/0.8.1/"
        "meta_schema_20220324.json",
        "name": "lesion_seg",
        "version": "0.1.0",
        "description": "Click-guided 3-D lesion segmentation on CT (RECIST suggestion); synthetic training data only.",
        "task": "interactive lesion segmentation from one click",
        "monai_version": monai.__version__,
        "pytorch_version": torch.__version__,
        "numpy_version": np.__version__,
        "intended_use": "research; suggestions a radiologist accepts, adjusts or rejects. Not validated on patients.",
        "network_data_format": {
            "inputs": {
                "image": {
                    "type": "image",
                    "format": "hounsfield",
                    "num_channels": 3,
                    "channel_def": {"0": "HU window -1000..400", "1": "HU window -160..240", "2": "click guidance"},
                    "spatial_shape": "native resolution crop, each side a multiple of 8",
                }
            },
            "outputs": {
                "pred": {"type": "image", "format": "logits", "num_channels": 1, "channel_def": {"0": "lesion"}}
            },
        },
        "training": {
            "data": "segmentation.training.synthetic (procedural lesions, seeded)",
            "seed": seed,
            "steps_done": steps,
            "steps_planned": planned,
            "minutes_budget": minutes,
            "schedule": "by steps (bit-reproducible on CPU)" if planned else "by wall clock (steps depend on speed)",
            "torch_threads": threads,
            "seconds": round(seconds, 1),
            "final_loss_ema": None if loss is None else round(loss, 4),
            "complete": final,
            "host": platform.machine(),
            "finished_utc": datetime.now(UTC).isoformat(timespec="seconds") if final else None,
        },
    }


def main_json(result: TrainingResult) -> str:
    return json.dumps(
        {"out": str(result.out), "steps": result.steps, "seconds": round(result.seconds, 1), "loss": result.final_loss}
    )
