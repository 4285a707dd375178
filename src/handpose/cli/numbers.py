"""Argument types for the numbers a verb takes: finite, in range, with bounds that keep memory and time finite.

Each factory returns an ``argparse`` ``type=`` callable; a value outside its range is refused while the
command line is parsed, as one line naming the option (exit status 2), before anything is allocated.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def whole(low: int, high: int) -> Callable[[str], int]:
    """A whole number in ``[low, high]``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number in [{low}, {high}], got {text!r}") from None
        if not low <= value <= high:
            if low == 1 and value < 1:
                raise argparse.ArgumentTypeError(f"must be a positive whole number (at most {high}), got {text}")
            raise argparse.ArgumentTypeError(f"must be a whole number in [{low}, {high}], got {text}")
        return value

    parse.__name__ = "whole number"  # argparse names the type in its own messages
    return parse


def real(low: float, high: float, *, above: bool = False) -> Callable[[str], float]:
    """A finite number in ``[low, high]`` (``(low, high]`` when ``above``)."""
    span = f"{'(' if above else '['}{low:g}, {high:g}]"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a finite number in {span}, got {text!r}") from None
        inside = (low < value if above else low <= value) and value <= high
        if not math.isfinite(value) or not inside:
            raise argparse.ArgumentTypeError(f"must be a finite number in {span}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


# Shared bounds: far above any real use, far below what would exhaust memory or run for days.
MAX_FRAMES = 10_000_000
MAX_BATCH = 4096
MAX_CUBE_MM = 2000.0
MAX_HAND_SCALE_MM = 500.0
MAX_PICTURE_SIDE = 4096
MAX_LR = 10.0
