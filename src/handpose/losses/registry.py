"""The loss registry: factories by name, and the old names kept as aliases.

A factory is ``factory(skeleton: Skeleton, **params) -> nn.Module``. Which loss trains which model is
data in the model registry (:attr:`handpose.models.registry.ModelSpec.loss`), so losses know nothing
about models and models import no loss.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

from handpose import skeleton as skeletons
from handpose.errors import HandposeError

LossFactory = Callable[..., nn.Module]

_LOSSES: dict[str, LossFactory] = {}

# Names of losses that existed only to switch a parameter: each stands for a loss plus parameters.
LOSS_ALIASES: dict[str, tuple[str, dict[str, Any]]] = {
    "crossinfonet_coords": ("crossinfonet", {"heatmap_weight": 0.0}),
    "resunet_joint": ("resunet", {"joint_weight": 1.0}),
    "ljg_l1": ("learnable_groups_l1", {}),
}


def register_loss(name: str) -> Callable[[LossFactory], LossFactory]:
    """Decorator registering a loss factory ``factory(skeleton, **params) -> nn.Module``."""

    def wrap(factory: LossFactory) -> LossFactory:
        if name in _LOSSES or name in LOSS_ALIASES:
            raise ValueError(f"loss {name!r} is already registered")
        _LOSSES[name] = factory
        return factory

    return wrap


def _resolve(name: str, params: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """``(registered name, parameters)`` of ``name``, an alias's parameters under the given ones."""
    if name in LOSS_ALIASES:
        target, preset = LOSS_ALIASES[name]
        return target, {**preset, **(params or {})}
    if name not in _LOSSES:
        raise HandposeError(f"unknown loss {name!r}; known: {', '.join(sorted(_LOSSES))}")
    return name, dict(params or {})


def check_loss(name: str, params: dict[str, Any] | None = None) -> None:
    """Raise a one-line :class:`HandposeError` unless ``name`` is a loss taking all of ``params``."""
    target, merged = _resolve(name, params)
    signature = inspect.signature(_LOSSES[target])
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
    known = [
        p for p in list(signature.parameters)[1:] if signature.parameters[p].kind is not inspect.Parameter.VAR_KEYWORD
    ]
    unknown = sorted(set(merged) - set(known))
    if unknown and not accepts_any:
        raise HandposeError(
            f"loss {target!r} takes no parameter {', '.join(unknown)}; it takes {', '.join(known) or 'none'}"
        )


def create_loss(name: str, skeleton: str | skeletons.Skeleton, **params: Any) -> nn.Module:
    """Build the loss registered as ``name`` (or an alias) for ``skeleton`` with ``params``."""
    check_loss(name, params)
    target, merged = _resolve(name, params)
    try:
        return _LOSSES[target](skeletons.get(skeleton), **merged)
    except (TypeError, ValueError) as exc:
        raise HandposeError(f"loss {target!r}: bad parameters {merged}: {exc}") from None
