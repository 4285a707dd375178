"""The model registry: every network and every ablation variant is one named entry.

Example:
    >>> import handpose
    >>> model = handpose.create_model("crossinfonet", skeleton="nyu14")
    >>> out = model(torch.zeros(2, 1, 96, 96))
    >>> out["joints"].shape
    torch.Size([2, 14, 3])

A builder is a function ``builder(skeleton: Skeleton, **kwargs) -> nn.Module`` decorated with
:func:`register_model`. The module returned carries its :class:`ModelSpec` as ``model.spec`` and its
construction arguments as ``model.init_kwargs`` (what checkpoints store to rebuild it).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from torch import nn

from handpose import skeleton as skeletons
from handpose.errors import HandposeError

OutputSpace = Literal["cube", "uvz", "rel"]


@dataclass(frozen=True)
class ModelSpec:
    """What a registered model is and what it expects.

    Attributes:
        name: Registry name, e.g. ``"crossinfonet"`` or ``"crossinfonet_base_hm"``.
        builder: Function building the module for a skeleton.
        modality: ``"depth"`` or ``"rgb"``.
        family: Method the entry belongs to (``"crossinfonet"``, ``"fingerposenet"``, ...).
        input_size: Default square input side in pixels.
        in_channels: Input channels (1 for depth, 3 for RGB).
        output_space: Meaning of ``outputs["joints"]`` (see :mod:`handpose.batch`).
        loss: Name of the loss in :mod:`handpose.losses` that trains it.
        description: One line for ``handpose models``.
        defaults: Keyword arguments the builder is called with unless overridden.
        skeleton_check: Returns an error message when the model cannot serve a skeleton, else ``None``.
    """

    name: str
    builder: Callable[..., nn.Module]
    modality: Literal["depth", "rgb"]
    family: str
    input_size: int
    in_channels: int
    output_space: OutputSpace
    loss: str
    description: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)
    skeleton_check: Callable[[skeletons.Skeleton], str | None] | None = None


_MODELS: dict[str, ModelSpec] = {}


def register_model(
    name: str,
    *,
    modality: Literal["depth", "rgb"],
    family: str,
    input_size: int,
    output_space: OutputSpace,
    loss: str,
    in_channels: int | None = None,
    description: str = "",
    defaults: dict[str, Any] | None = None,
    skeleton_check: Callable[[skeletons.Skeleton], str | None] | None = None,
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering ``builder`` under ``name`` (see :class:`ModelSpec` for the fields)."""

    def wrap(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _MODELS:
            raise ValueError(f"model {name!r} is already registered")
        _MODELS[name] = ModelSpec(
            name=name,
            builder=builder,
            modality=modality,
            family=family,
            input_size=input_size,
            in_channels=in_channels if in_channels is not None else (1 if modality == "depth" else 3),
            output_space=output_space,
            loss=loss,
            description=description or (builder.__doc__ or "").strip().splitlines()[0],
            defaults=dict(defaults or {}),
            skeleton_check=skeleton_check,
        )
        return builder

    return wrap


def _load_models() -> None:
    # Importing the package registers every model it ships.
    import handpose.models  # noqa: F401


def list_models(pattern: str = "*", modality: str | None = None) -> list[str]:
    """Registered model names matching a glob ``pattern`` (and a modality, if given), sorted."""
    _load_models()
    return sorted(
        n for n, s in _MODELS.items() if fnmatch.fnmatch(n, pattern) and (modality is None or s.modality == modality)
    )


def get_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` registered as ``name``."""
    _load_models()
    try:
        return _MODELS[name]
    except KeyError:
        raise HandposeError(f"unknown model {name!r}; available: {', '.join(sorted(_MODELS))}") from None


def create_model(name: str, skeleton: str | skeletons.Skeleton = "canonical21", **overrides: Any) -> nn.Module:
    """Build the registered model ``name`` for ``skeleton``.

    Args:
        name: A name from :func:`list_models`.
        skeleton: Skeleton name or object the model predicts joints for.
        **overrides: Builder keyword arguments replacing the entry's defaults.

    Returns:
        The module, with ``.spec`` (its :class:`ModelSpec`), ``.skeleton`` and ``.init_kwargs`` set.
    """
    spec = get_spec(name)
    skel = skeletons.get(skeleton)
    if spec.skeleton_check is not None:
        problem = spec.skeleton_check(skel)
        if problem:
            raise HandposeError(f"model {name!r} cannot serve skeleton {skel.name!r}: {problem}")
    kwargs = {**spec.defaults, **overrides}
    try:
        model = spec.builder(skel, **kwargs)
    except TypeError as exc:
        raise HandposeError(f"model {name!r}: bad arguments {sorted(overrides)}: {exc}") from None
    model.spec = spec
    model.skeleton = skel
    model.init_kwargs = kwargs
    return model
