"""`recist train`: train the lesion segmentation model on synthetic lesions and write a model bundle."""

from __future__ import annotations

import argparse
from pathlib import Path

from segmentation.training.channels import parse_channels
from workstation.cli import CommandError


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "train",
        help="train the lesion segmentation model on synthetic lesions",
        description="Train the click-guided MONAI lesion model on seeded synthetic lesions and write a bundle folder "
        "(configs/, models/model.pt). The same --steps, --seed and --threads give the same weights on CPU.",
    )
    p.add_argument("--out", type=Path, default=Path("models/lesion_seg"), help="bundle folder to write")
    p.add_argument("--minutes", type=float, default=None, help="wall-clock budget (steps calibrated from it)")
    p.add_argument("--steps", type=int, default=None, help="number of training steps (exactly reproducible)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--init", type=Path, default=None, help="fine-tune: start from this bundle's weights")
    p.add_argument("--learning-rate", type=float, default=None, help="peak learning rate (3e-3 CPU, 2e-3 parallel)")
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="render patches in this many worker processes and train from a pool of them (fast; needs --minutes; "
        "not bit-reproducible; also writes OUT_ema with the weights' moving average)",
    )
    p.add_argument("--device", default="auto", help="with --workers: cuda, cpu or auto (default)")
    p.add_argument("--batch", type=int, default=4, help="with --workers: patches per step (default 4)")
    p.add_argument(
        "--channels",
        type=parse_channels,
        default=None,
        help="a network of other widths, one per level, e.g. 24,48,96,192,384 (default: the shipped 16,32,64,128,256; "
        "not with --init, which keeps the bundle's network)",
    )
    p.add_argument(
        "--hard",
        type=float,
        default=0.0,
        help="with --workers: the share of patches drawn by how badly the network segmented them last time "
        "(hard-example replay; default 0, uniform; it made the shipped model worse, see its card)",
    )
    p.add_argument(
        "--negative",
        type=float,
        default=0.0,
        help="with --workers: the share of patches clicked on normal tissue, away from the lesion, with an empty "
        "target, so that the model learns to outline nothing there (default 0, as the shipped model was trained)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.minutes is None and args.steps is None:
        raise CommandError("give --minutes N and/or --steps N")
    if args.minutes is not None and args.minutes <= 0:
        raise CommandError("--minutes must be positive")
    if args.steps is not None and args.steps < 1:
        raise CommandError("--steps must be at least 1")
    if args.channels is not None and args.init is not None:
        raise CommandError("--channels builds a new network; --init continues the bundle's own: give one of them")
    from segmentation.bundle import BundleError
    from segmentation.training.train import main_json, train

    if args.workers:
        return run_parallel(args)
    if args.hard or args.negative:
        raise CommandError(f"--{'hard' if args.hard else 'negative'} needs --workers (the parallel trainer)")
    try:
        result = train(
            args.out,
            steps=args.steps,
            minutes=args.minutes,
            seed=args.seed,
            threads=args.threads,
            init=args.init,
            learning_rate=args.learning_rate or 3e-3,
            **({"channels": args.channels} if args.channels else {}),
        )
    except BundleError as exc:
        raise CommandError(f"--init: {exc}") from None
    except OSError as exc:
        raise CommandError(f"cannot write the bundle to {args.out}: {exc}") from None
    except RuntimeError as exc:  # the renderer processes stopped, or the device failed
        raise CommandError(f"training stopped: {exc}; the last checkpoint (if any) is in {args.out}") from None
    print(main_json(result))
    return 0


def run_parallel(args: argparse.Namespace) -> int:
    if args.minutes is None or args.steps is not None:
        raise CommandError("--workers trains for --minutes N (not --steps)")
    if args.workers < 1 or args.batch < 1:
        raise CommandError("--workers and --batch must be at least 1")
    for name in ("hard", "negative"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            raise CommandError(f"--{name} is a share of the draws, from 0 to 1 (not {getattr(args, name)})")
    from segmentation.base import SegmentationError
    from segmentation.bundle import BundleError
    from segmentation.engines.monai_engine import resolve_device
    from segmentation.training.parallel import train_parallel
    from segmentation.training.train import main_json

    try:
        device = resolve_device(args.device)
    except SegmentationError as exc:
        raise CommandError(f"--device: {exc}") from None
    try:
        result = train_parallel(
            args.out,
            minutes=args.minutes,
            seed=args.seed,
            workers=args.workers,
            device=device,
            batch=args.batch,
            learning_rate=args.learning_rate,
            init=args.init,
            channels=args.channels,
            hard_fraction=args.hard,
            negative_fraction=args.negative,
        )
    except BundleError as exc:
        raise CommandError(f"--init: {exc}") from None
    except OSError as exc:
        raise CommandError(f"cannot write the bundle to {args.out}: {exc}") from None
    except RuntimeError as exc:  # the renderer processes stopped, or the device failed
        raise CommandError(f"training stopped: {exc}; the last checkpoint (if any) is in {args.out}") from None
    print(main_json(result))
    return 0
