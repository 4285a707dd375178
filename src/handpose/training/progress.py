"""Training progress as plain lines, for output that is not a terminal (a log file, a pipe, CI).

A progress bar redraws one line in place: written to a file it is either nothing (rich hides itself
off a terminal) or thousands of carriage returns. This callback prints a line every ``every_s``
seconds instead: step, share done, rate, time left (from the recent rate, so a machine that got
busier shows it), and the latest validation error.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from lightning.pytorch.callbacks import Callback

from handpose.training.module import VAL_METRIC


def format_duration(seconds: float) -> str:
    """``1:05:09`` / ``5:09`` for a duration in seconds."""
    seconds = max(round(seconds), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class LineProgress(Callback):
    """Prints ``[train] step 120/672 (18%), 3.9 steps/s, ETA 2:20, validation 31.2 mm`` lines.

    Args:
        total_steps: The steps the run plans (``None``: Lightning's estimate at the start).
        every_s: Seconds between lines.
        prefix: Start of each line.
        window: Recent steps the rate (and so the ETA) is measured over.
    """

    def __init__(
        self, total_steps: int | None = None, every_s: float = 15.0, prefix: str = "[train]", window: int = 50
    ):
        self.total = total_steps
        self.every_s = every_s
        self.prefix = prefix
        self.times: deque[tuple[int, float]] = deque(maxlen=window)
        self.last_print = 0.0
        self.validation: float | None = None

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        if self.total is None or self.total <= 0:
            estimated = trainer.estimated_stepping_batches
            self.total = int(estimated) if estimated != float("inf") else None
        self.last_print = time.monotonic()
        self.times.append((trainer.global_step, self.last_print))

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        now = time.monotonic()
        self.times.append((trainer.global_step, now))
        if now - self.last_print >= self.every_s and trainer.is_global_zero:
            self.last_print = now
            print(self.line(trainer.global_step), flush=True)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        value = trainer.callback_metrics.get(VAL_METRIC)
        if value is not None:
            self.validation = float(value)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.is_global_zero:
            print(self.line(trainer.global_step, done=True), flush=True)

    def rate(self) -> float | None:
        """Steps per second over the recent window."""
        if len(self.times) < 2:
            return None
        (s0, t0), (s1, t1) = self.times[0], self.times[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 and s1 > s0 else None

    def line(self, step: int, done: bool = False) -> str:
        parts = [
            f"{self.prefix} step {step}" + (f"/{self.total} ({100 * step / self.total:.0f}%)" if self.total else "")
        ]
        rate = self.rate()
        if rate:
            parts.append(f"{rate:.1f} steps/s")
            if self.total and not done:
                parts.append(f"ETA {format_duration((self.total - step) / rate)}")
        if done:
            parts.append("done")
        if self.validation is not None:
            parts.append(f"validation {self.validation:.2f} mm")
        return ", ".join(parts)
