"""Network widths given on a command line (`recist train --channels`, `python -m segmentation.training.parallel`)."""

from __future__ import annotations

import argparse


def parse_channels(text: str) -> tuple[int, ...]:
    """'16,32,64' -> (16, 32, 64): at least two levels, each a positive number of feature maps."""
    try:
        channels = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}': give whole numbers separated by commas, e.g. 16,32,64,128,256"
        ) from None
    if len(channels) < 2 or min(channels) < 1:
        raise argparse.ArgumentTypeError(f"'{text}': at least two levels, each at least 1 channel")
    return channels
