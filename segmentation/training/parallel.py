"""Fast training on many cores and a GPU: worker processes render synthetic patches while the GPU trains.

The CPU loop in `segmentation.training.train` draws one patch per step and is bit-reproducible; this one is for
throughput. Worker processes (a `DataLoader` over `PatchBatches`) render batches of patches of one shape with several
candidate clicks each. The trainer keeps the most recent patches in a pool on the device
(`segmentation.training.replay`) and draws a batch of one shape from it every step, with a fresh click and random
flips / in-plane transposition each time, so the GPU never waits for the renderer (the reuse factor is logged);
optionally a share of the draws goes to the patches the network last segmented worst (hard-example replay), and a
share is clicked on normal tissue with an empty target (negative clicks: the network learns to outline nothing where
there is no lesion; the shipped model never saw one, and draws an outline wherever it is clicked). Mixed
precision (bfloat16) on CUDA; an exponential moving average of the weights is kept and written as a second bundle.
The learning-rate schedule follows the wall clock, so a run anneals within its budget.

Not bit-reproducible (the pool's mix depends on timing); the seeds, the budget and the steps reached are recorded in
the bundle's metadata.
"""

from __future__ import annotations

import copy
import math
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import ndimage

from segmentation.bundle import default_network_def, write_bundle
from segmentation.network_inputs import GUIDANCE_SIGMA_MM, HU_WINDOWS
from segmentation.training.replay import ReplayPool, soft_dice_hardness
from segmentation.training.synthetic import pick_seed, sample_spacing
from segmentation.training.train import (
    CROP_EXTENT_MM,
    TRAIN_INPLANE,
    TRAIN_SLICES,
    TrainingResult,
    bundle_metadata,
    patch_slices,
    starting_network,
    training_patch,
)

#: Candidate clicks rendered per patch (the trainer picks one per use).
CLICKS_PER_PATCH = 6
#: Candidate clicks outside the lesion per patch, for negative examples (`augment`'s ``negative``): in tissue (over
#: AIR_HU), at least OUTSIDE_MM from the lesion; -1 where the patch has no such voxel.
OUTSIDE_CLICKS, OUTSIDE_MM, AIR_HU = 2, 8.0, -950.0


def outside_clicks(
    rng: np.random.Generator, image_hu: np.ndarray, mask: np.ndarray, spacing: tuple[float, ...], n: int
) -> np.ndarray:
    """``n`` voxels (n, 3) in tissue at least ``OUTSIDE_MM`` from the lesion (a reader's click on normal tissue);
    rows of -1 when there is none."""
    far = ndimage.distance_transform_edt(~mask.astype(bool), sampling=spacing) >= OUTSIDE_MM
    candidates = np.argwhere(far & (image_hu > AIR_HU))
    if len(candidates) == 0:
        return np.full((n, 3), -1, dtype=np.int64)
    return candidates[rng.integers(0, len(candidates), size=n)].astype(np.int64)


def render_batch(rng: np.random.Generator, size: int) -> dict[str, np.ndarray]:
    """``size`` patches of one shape: the first patch's acquisition sets the slice count; the others draw
    acquisitions until one gives the same count (so every acquisition keeps its natural frequency)."""
    spacing = sample_spacing(rng)
    slices = patch_slices(spacing)
    images, masks, spacings, clicks, outside = [], [], [], [], []
    for b in range(size):
        if b > 0:
            for _ in range(100):
                spacing = sample_spacing(rng)
                if patch_slices(spacing) == slices:
                    break
        patch = training_patch(rng, spacing, slices)
        depth = ndimage.distance_transform_edt(patch.mask, sampling=patch.spacing)
        level = 1.0 - depth / max(float(depth.max()), 1e-6)
        seeds = [patch.seed] + [pick_seed(rng, level, patch.mask) for _ in range(CLICKS_PER_PATCH - 1)]
        images.append(np.clip(np.rint(patch.image), -32768, 32767).astype(np.int16))
        masks.append(patch.mask.astype(np.uint8))
        spacings.append(patch.spacing)
        clicks.append(seeds)
        outside.append(outside_clicks(rng, patch.image, patch.mask, patch.spacing, OUTSIDE_CLICKS))
    return {
        "image": np.stack(images),
        "mask": np.stack(masks),
        "spacing": np.asarray(spacings, dtype=np.float32),
        "clicks": np.asarray(clicks, dtype=np.int64),
        "outside": np.stack(outside),
    }


class PatchBatches(torch.utils.data.IterableDataset):  # type: ignore[type-arg]
    """An endless stream of rendered batches; each worker process draws from its own seed ``(seed, worker)``."""

    def __init__(self, seed: int, batch: int) -> None:
        self.seed = seed
        self.batch = batch

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        info = torch.utils.data.get_worker_info()
        rng = np.random.default_rng([self.seed, 0 if info is None else info.id + 1])
        while True:
            yield {k: torch.from_numpy(v) for k, v in render_batch(rng, self.batch).items()}


def network_input_torch(
    image_hu: torch.Tensor,
    clicks: torch.Tensor,
    spacing: torch.Tensor,
    hu_windows: tuple[tuple[float, float], ...] = HU_WINDOWS,
    sigma_mm: float = GUIDANCE_SIGMA_MM,
) -> torch.Tensor:
    """(B, C, K, J, I) network input on the device, the same as `segmentation.network_inputs.network_input` per
    sample: HU windows scaled to [-1, 1] and the click's Gaussian. ``image_hu`` (B, K, J, I); ``clicks`` (B, 3);
    ``spacing`` (B, 3) mm."""
    img = image_hu.float()
    channels = [(img.clamp(lo, hi) - (lo + hi) / 2) / ((hi - lo) / 2) for lo, hi in hu_windows]
    g = torch.ones_like(img)
    for axis in range(3):
        n = img.shape[axis + 1]
        d = (torch.arange(n, device=img.device, dtype=torch.float32)[None] - clicks[:, axis, None].float()) * spacing[
            :, axis, None
        ].float()
        shape = [img.shape[0], 1, 1, 1]
        shape[axis + 1] = n
        g = g * torch.exp(-0.5 * (d / sigma_mm) ** 2).reshape(shape)
    channels.append(g)
    return torch.stack(channels, dim=1)


def augment(
    batch: dict[str, torch.Tensor], rng: np.random.Generator, negative: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A random click per patch, random flips of each axis and a random row/column transpose (pixels are square).
    ``negative``: the share of patches clicked outside the lesion instead (on normal tissue, where the patch has
    some), whose target is then empty: the network learns that a click on no lesion outlines nothing.
    Returns image (B,K,J,I), mask (B,1,K,J,I) float, click (B,3), spacing (B,3)."""
    image, mask, spacing = batch["image"], batch["mask"], batch["spacing"]
    b = image.shape[0]
    rows = torch.arange(b, device=image.device)
    pick = torch.from_numpy(rng.integers(0, batch["clicks"].shape[1], size=b)).to(image.device)
    click = batch["clicks"][rows, pick].clone()
    if negative > 0 and "outside" in batch:
        other = torch.from_numpy(rng.integers(0, batch["outside"].shape[1], size=b)).to(image.device)
        away = batch["outside"][rows, other]
        chosen = torch.from_numpy(rng.uniform(size=b) < negative).to(image.device) & (away[:, 0] >= 0)
        if bool(chosen.any()):
            click = torch.where(chosen[:, None], away, click)
            mask = mask * (~chosen).to(mask.dtype).reshape(b, 1, 1, 1)
    flips = rng.uniform(size=3) < 0.5
    shape = image.shape[1:]
    dims = [axis + 1 for axis in range(3) if flips[axis]]
    if dims:
        image, mask = image.flip(dims), mask.flip(dims)
        for axis in range(3):
            if flips[axis]:
                click[:, axis] = shape[axis] - 1 - click[:, axis]
    if rng.uniform() < 0.5:
        image, mask = image.transpose(2, 3), mask.transpose(2, 3)
        click = click[:, [0, 2, 1]]
        spacing = spacing[:, [0, 2, 1]]
    return image, mask[:, None].float(), click, spacing


def _guard(stream: Iterator[Any], failure: list[BaseException]) -> Iterator[Any]:
    """The items of ``stream``; an exception ends it and is kept in ``failure``."""
    while True:
        try:
            item = next(stream)
        except StopIteration:
            return
        except BaseException as exc:
            failure.append(exc)
            return
        yield item


def train_parallel(
    out: Path,
    *,
    minutes: float,
    seed: int = 0,
    workers: int = 4,
    device: str = "cuda",
    batch: int = 4,
    learning_rate: float | None = None,
    pool_batches: int = 256,
    checkpoint_seconds: float = 60.0,
    validation_patches: int = 32,
    ema_decay: float = 0.999,
    channels: tuple[int, ...] | None = None,
    init: Path | None = None,
    warmup: int | None = None,
    hard_fraction: float = 0.0,
    negative_fraction: float = 0.0,
    log: Any = print,
) -> TrainingResult:
    """Train for ``minutes`` and write the bundle to ``out`` (checkpointed as it goes) and the weights' moving
    average to ``out`` + "_ema". ``init``: a bundle whose network and weights to continue from (its name, version
    and training facts are recorded as ``initialised_from``). By default the peak learning rate is 2e-3 after 200
    warm-up steps from scratch, and 6e-4 after 50 when continuing. ``hard_fraction``: the share of drawn patches
    chosen by how badly the network segmented them last time (`segmentation.training.replay`); 0 draws uniformly.
    ``negative_fraction``: the share clicked outside the lesion with an empty target (`augment`); 0: none, as the
    shipped model was trained."""
    from monai.losses.dice import DiceCELoss

    if learning_rate is None:
        learning_rate = 6e-4 if init is not None else 2e-3
    if warmup is None:
        warmup = 50 if init is not None else 200
    torch.manual_seed(seed)
    torch.backends.cudnn.benchmark = device == "cuda"
    rng = np.random.default_rng([seed, 1])
    fresh = default_network_def() if channels is None else default_network_def(channels)
    net, network_def, parent = starting_network(fresh, init)
    net = net.to(device).train()
    ema_net = copy.deepcopy(net).eval()
    ema_params = list(ema_net.parameters())
    optimiser = torch.optim.AdamW(net.parameters(), lr=learning_rate, weight_decay=1e-4)
    loss_fn = DiceCELoss(sigmoid=True, squared_pred=True, smooth_nr=1e-5, smooth_dr=1e-5)
    amp = torch.autocast(device, dtype=torch.bfloat16) if device == "cuda" else torch.autocast("cpu", enabled=False)

    val_rng = np.random.default_rng([seed, 777])
    validation = [render_batch(val_rng, batch) for _ in range(max(1, validation_patches // batch))]

    loader = torch.utils.data.DataLoader(
        PatchBatches(seed, batch),
        batch_size=None,
        num_workers=workers,
        multiprocessing_context="spawn" if workers > 0 else None,
        prefetch_factor=4 if workers > 0 else None,
        persistent_workers=workers > 0,
    )
    incoming: queue.Queue[dict[str, torch.Tensor]] = queue.Queue(maxsize=4 * max(workers, 1))
    stop = threading.Event()

    failure: list[BaseException] = []

    def feed() -> None:
        try:
            stream = iter(loader)
        except BaseException as exc:  # the renderers could not start: the trainer reports it
            failure.append(exc)
            return
        for item in _guard(stream, failure):
            while not stop.is_set():
                try:
                    incoming.put(item, timeout=0.5)
                    break
                except queue.Full:
                    continue
            if stop.is_set():
                return

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    pool = ReplayPool(pool_batches * batch, hard_fraction, report_lag=2)
    rendered = 0
    start = time.monotonic()
    budget = minutes * 60.0
    step = 0
    ema_loss: float | None = None
    last_save = time.monotonic()
    history: list[dict[str, float]] = []

    def lr_at(fraction: float) -> float:
        if step < warmup:
            return learning_rate * (step + 1) / warmup
        floor = min(1e-5, learning_rate)
        return floor + 0.5 * (learning_rate - floor) * (1 + math.cos(math.pi * min(1.0, fraction)))

    def validate(model: torch.nn.Module) -> float:
        was_training = model.training
        model.eval()
        dices = []
        with torch.no_grad(), amp:
            for vb in validation:
                t = {k: torch.from_numpy(v).to(device) for k, v in vb.items()}
                x = network_input_torch(t["image"], t["clicks"][:, 0], t["spacing"])
                pred = model(x)[:, 0].float() > 0
                truth = t["mask"].bool()
                inter = (pred & truth).flatten(1).sum(1).float()
                size = pred.flatten(1).sum(1).float() + truth.flatten(1).sum(1).float()
                dices.append((2 * inter / size.clamp(min=1)).cpu())
        model.train(was_training)
        return float(torch.cat(dices).median())

    def outlined_outside(model: torch.nn.Module) -> float:
        """The share of the validation patches clicked on normal tissue where the network outlines the click."""
        was_training = model.training
        model.eval()
        hits, total = 0, 0
        with torch.no_grad(), amp:
            for vb in validation:
                t = {k: torch.from_numpy(v).to(device) for k, v in vb.items()}
                away = t["outside"][:, 0]
                valid = away[:, 0] >= 0
                if not bool(valid.any()):
                    continue
                logits = model(network_input_torch(t["image"], away.clamp(min=0), t["spacing"]))[:, 0].float()
                at_click = logits[torch.arange(len(away), device=device), away[:, 0], away[:, 1], away[:, 2]]
                hits += int(((at_click > 0) & valid).sum())
                total += int(valid.sum())
        model.train(was_training)
        return hits / max(total, 1)

    def checkpoint_row(step: int, elapsed: float) -> dict[str, float]:
        return {
            "step": step,
            "seconds": round(elapsed, 1),
            "val_dice": validate(net),
            "val_dice_ema": validate(ema_net),
            "val_outlined_outside": outlined_outside(net),
            "val_outlined_outside_ema": outlined_outside(ema_net),
        }

    def save(final: bool) -> None:
        elapsed = time.monotonic() - start
        for suffix, model in (("", net), ("_ema", ema_net)):
            meta = bundle_metadata(seed, step, None, minutes, workers, elapsed, ema_loss, final)
            meta["training"].update(
                {
                    "trainer": "segmentation.training.parallel (worker processes render, the device trains)",
                    "device": torch.cuda.get_device_name() if device == "cuda" else device,
                    "batch": batch,
                    "patches_rendered": rendered,
                    "weights": f"exponential moving average, decay {ema_decay:g}" if suffix else "last step",
                    "validation_dice_median": history[-1]["val_dice" + suffix] if history else None,
                }
            )
            meta["training"]["schedule"] = "by wall clock (steps depend on speed)"
            meta["training"]["peak_learning_rate"] = learning_rate
            meta["training"]["hard_example_share"] = hard_fraction
            meta["training"]["negative_click_share"] = negative_fraction
            if history:
                meta["training"]["validation_outlined_outside"] = history[-1]["val_outlined_outside" + suffix]
            if parent is not None:
                meta["training"]["initialised_from"] = parent
            state = {k: v.detach().float().cpu() for k, v in model.state_dict().items()}
            write_bundle(Path(str(out) + suffix), state, network_def, CROP_EXTENT_MM, meta, TRAIN_INPLANE, TRAIN_SLICES)

    try:
        while time.monotonic() - start < budget:
            while True:
                try:
                    item = incoming.get_nowait() if pool else incoming.get(timeout=1.0)
                except queue.Empty:
                    if pool:
                        break
                    if not feeder.is_alive():
                        raise RuntimeError(
                            f"the patch renderers stopped: {failure[0] if failure else 'no reason'}"
                        ) from None
                    continue
                pool.add({k: v.to(device, non_blocking=True) for k, v in item.items()})
                rendered += int(item["image"].shape[0])
            elapsed = time.monotonic() - start
            fraction = elapsed / budget if step >= warmup else 0.0  # the cosine follows the clock after warm-up
            for group in optimiser.param_groups:
                group["lr"] = lr_at(fraction)
            chosen, keys = pool.draw(rng, batch)
            image, mask, click, spacing = augment(chosen, rng, negative_fraction)
            x = network_input_torch(image, click, spacing)
            optimiser.zero_grad(set_to_none=True)
            with amp:
                logits = net(x)
            loss = loss_fn(logits.float(), mask)
            if hard_fraction > 0:
                pool.report(keys, soft_dice_hardness(logits, mask))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            optimiser.step()
            decay = min(ema_decay, (1 + step) / (10 + step))
            with torch.no_grad():
                torch._foreach_lerp_(ema_params, [p.detach() for p in net.parameters()], 1 - decay)
            step += 1
            if step % 100 == 0:
                value = float(loss.detach())
                ema_loss = value if ema_loss is None else 0.9 * ema_loss + 0.1 * value
            if time.monotonic() - last_save >= checkpoint_seconds:
                history.append(checkpoint_row(step, elapsed))
                log(
                    f"step {step}  {elapsed:.0f} s  loss {ema_loss}  val Dice {history[-1]['val_dice']:.3f} "
                    f"(average weights {history[-1]['val_dice_ema']:.3f})  lr {lr_at(fraction):.2e}  "
                    f"rendered {rendered}  reuse {step * batch / max(rendered, 1):.1f}x  pool {len(pool)} patches  "
                    f"normal-tissue clicks outlined {history[-1]['val_outlined_outside_ema']:.0%}"
                )
                save(final=False)
                last_save = time.monotonic()
        history.append(checkpoint_row(step, time.monotonic() - start))
        log(f"done: {history[-1]}, rendered {rendered}")
        save(final=True)
    finally:
        stop.set()
    return TrainingResult(out, step, time.monotonic() - start, float(ema_loss or 0.0))


def main(argv: list[str] | None = None) -> int:
    """``python -m segmentation.training.parallel OUT MINUTES WORKERS [BATCH] [--init BUNDLE] [--lr LR]
    [--seed N] [--channels C1,C2,...] [--hard SHARE] [--negative SHARE]`` (a module, so that the renderer processes,
    which are spawned, can import it)."""
    import argparse
    import os

    from segmentation.training.channels import parse_channels

    parser = argparse.ArgumentParser(prog="python -m segmentation.training.parallel")
    parser.add_argument("out", type=Path)
    parser.add_argument("minutes", type=float)
    parser.add_argument("workers", type=int)
    parser.add_argument("batch", type=int, nargs="?", default=8)
    parser.add_argument("--init", type=Path, help="continue from this bundle's weights")
    parser.add_argument("--lr", type=float, default=None, help="peak learning rate (default 2e-3; 6e-4 with --init)")
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument(
        "--hard",
        type=float,
        default=0.0,
        help="share of drawn patches chosen by how badly the network segmented them last time (default 0: uniform)",
    )
    parser.add_argument(
        "--negative",
        type=float,
        default=0.0,
        help="share of patches clicked on normal tissue with an empty target (default 0, as the shipped model)",
    )
    parser.add_argument(
        "--channels",
        type=parse_channels,
        default=None,
        help="network widths per level, e.g. 24,48,96,192,384 (default: the shipped network's; not with --init)",
    )
    args = parser.parse_args(argv)
    for name in ("hard", "negative"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            parser.error(f"--{name} is a share of the patches drawn, from 0 to 1")
    if args.channels is not None and args.init is not None:
        parser.error("--channels builds a new network; --init continues the bundle's own: give one of them")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(
        f"torch {torch.__version__}, device {device}, {os.cpu_count()} CPUs, {args.workers} workers, "
        f"batch {args.batch}, peak lr {args.lr or 'default'}, seed {args.seed}, from {args.init or 'scratch'}, "
        f"channels {args.channels or 'shipped'}, hard-example share {args.hard}, negative-click share {args.negative}"
    )
    result = train_parallel(
        args.out,
        minutes=args.minutes,
        seed=args.seed,
        workers=args.workers,
        device=device,
        batch=args.batch,
        learning_rate=args.lr,
        init=args.init,
        channels=args.channels,
        hard_fraction=args.hard,
        negative_fraction=args.negative,
    )
    print(f"trained: {result.steps} steps in {result.seconds:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    import os

    os._exit(main())  # at once: do not wait for the renderer processes
