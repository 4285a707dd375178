"""Training losses, registered by name and kept apart from the networks.

A loss is an ``nn.Module`` called as ``loss(outputs, batch) -> dict[str, Tensor]``; the dict holds
the total under ``"loss"`` and each weighted term under its own name (for logging). ``outputs`` is
the model's output dict, ``batch`` a :class:`handpose.batch.DepthBatch` or
:class:`handpose.batch.RGBBatch`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from handpose import skeleton as skeletons
from handpose.errors import HandposeError

_LOSSES: dict[str, Callable[..., nn.Module]] = {}


def register_loss(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering a loss factory ``factory(skeleton, **kwargs) -> nn.Module``."""

    def wrap(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _LOSSES:
            raise ValueError(f"loss {name!r} is already registered")
        _LOSSES[name] = factory
        return factory

    return wrap


def create_loss(name: str, skeleton: str | skeletons.Skeleton, **kwargs: Any) -> nn.Module:
    """Build the loss registered as ``name`` for ``skeleton``."""
    import handpose.models  # noqa: F401  (models import their losses, which registers them)

    try:
        factory = _LOSSES[name]
    except KeyError:
        raise HandposeError(f"unknown loss {name!r}; known: {', '.join(sorted(_LOSSES))}") from None
    return factory(skeletons.get(skeleton), **kwargs)


def loss_names() -> list[str]:
    import handpose.models  # noqa: F401

    return sorted(_LOSSES)
