"""Learning-rate and temperature schedules as small picklable objects (their state is plain numbers).

:class:`LRFactor` is the multiplier a ``LambdaLR`` applies per optimiser step; keeping it an object
with plain attributes (not a lambda) means its state saves in a ``weights_only`` checkpoint.
"""

from __future__ import annotations

import math


class LRFactor:
    """``lr(step) / lr`` for the schedules of :class:`~handpose.training.config.OptimConfig`.

    ``cosine`` decays over ``total_steps``, or, for a run bounded by wall clock instead of steps, over
    the time budget: the training loop then writes the elapsed share of the budget into
    :attr:`budget_progress` before each step (a plain float, so it saves with the scheduler).

    Args:
        schedule: ``exponential``, ``cosine``, ``step`` or ``constant``.
        steps_per_epoch: Optimiser steps per epoch (epoch-based schedules decay at epoch boundaries).
        total_steps: Steps of the whole run (``cosine``).
        gamma: Decay per epoch (``exponential``) or per ``step_every`` epochs (``step``).
        step_every: Epochs per decay of ``step``.
        warmup_steps: Linear warm-up from 0.
        time_budget: Whether ``cosine`` follows :attr:`budget_progress` rather than ``total_steps``.
    """

    def __init__(
        self,
        schedule: str,
        steps_per_epoch: int,
        total_steps: int,
        gamma: float = 0.96,
        step_every: int = 10,
        warmup_steps: int = 0,
        time_budget: bool = False,
    ) -> None:
        self.schedule = schedule
        self.steps_per_epoch = max(int(steps_per_epoch), 1)
        self.total_steps = max(int(total_steps), 1)
        self.gamma = float(gamma)
        self.step_every = max(int(step_every), 1)
        self.warmup_steps = int(warmup_steps)
        self.time_budget = bool(time_budget)
        self.budget_progress = 0.0

    def __call__(self, step: int) -> float:
        warm = min(1.0, (step + 1) / self.warmup_steps) if self.warmup_steps > 0 else 1.0
        epoch = step // self.steps_per_epoch
        if self.schedule == "exponential":
            return warm * self.gamma**epoch
        if self.schedule == "step":
            return warm * self.gamma ** (epoch // self.step_every)
        if self.schedule == "cosine":
            progress = self.budget_progress if self.time_budget else step / self.total_steps
            progress = min(max(progress, 0.0), 1.0)
            return warm * 0.5 * (1.0 + math.cos(math.pi * progress))
        return warm


def temperature_at(step: int, start: float, decrement: float, every: int, minimum: float) -> float:
    """Learnable Groups' Gumbel-softmax temperature: from ``start``, minus ``decrement`` every ``every`` steps."""
    return max(minimum, start - decrement * (step // max(every, 1)))
