"""The model registry: every network and every architectural ablation is one named entry.

Ablations that only change the loss are not entries: a run's ``loss:`` config sets them, over the
default loss each entry names as data (:attr:`ModelSpec.loss`, :attr:`ModelSpec.loss_params`). Retired
names stay as aliases (:func:`register_alias`) so that configs, checkpoints and packages using them
still load; :func:`list_models` shows only the registered names.

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
from handpose.contract import Contract
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
        loss: Name of the loss in :mod:`handpose.losses` that trains it by default.
        loss_params: Keyword arguments of that loss (a run's ``loss:`` config overrides them).
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
    loss_params: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)
    skeleton_check: Callable[[skeletons.Skeleton], str | None] | None = None


@dataclass(frozen=True)
class ModelAlias:
    """An old registry name: the model it now stands for, and the loss it trained with when that differs.

    Attributes:
        model: The registered name.
        loss: ``(loss name, parameters)`` replacing the model's default loss, or ``None``.
    """

    model: str
    loss: tuple[str, dict[str, Any]] | None = None


_MODELS: dict[str, ModelSpec] = {}
_ALIASES: dict[str, ModelAlias] = {}


def register_alias(old: str, model: str, loss: str | None = None, loss_params: dict[str, Any] | None = None) -> None:
    """Keep ``old`` working (configs, checkpoints, packages) as another name of ``model``.

    Args:
        old: The retired name.
        model: The registered name it stands for.
        loss: The loss ``old`` trained with, when it is not ``model``'s default.
        loss_params: That loss's parameters.
    """
    if old in _MODELS or old in _ALIASES:
        raise ValueError(f"model {old!r} is already registered")
    _ALIASES[old] = ModelAlias(model, (loss, dict(loss_params or {})) if loss is not None else None)


def canonical_name(name: str) -> str:
    """The registered name behind ``name`` (itself unless it is an alias)."""
    _load_models()
    alias = _ALIASES.get(name)
    return alias.model if alias is not None else name


def aliases() -> dict[str, str]:
    """Every alias and the registered name it stands for."""
    _load_models()
    return {old: a.model for old, a in sorted(_ALIASES.items())}


def default_loss(
    model: str, name: str | None = None, params: dict[str, Any] | None = None
) -> tuple[str, dict[str, Any]]:
    """The loss that trains ``model``: ``(loss name, parameters)``.

    Args:
        model: A registered name or alias (an alias may carry its own loss).
        name: The loss a run asks for (``loss.name``); ``None`` keeps the model's.
        params: The run's loss parameters. With the model's own loss they override its default
            parameters one by one; with another loss they are all there is.
    """
    spec = get_spec(model)
    alias = _ALIASES.get(model)
    own_name, own_params = alias.loss if alias is not None and alias.loss is not None else (spec.loss, spec.loss_params)
    if name is None or name == own_name:
        return own_name, {**own_params, **(params or {})}
    return name, dict(params or {})


def default_group_lr(model: str, kwargs: dict[str, Any] | None = None) -> dict[str, float]:
    """The learning rate of each named parameter group a model has, for ``optim.group_lr``.

    Learnable Joint Groups trains its Gumbel-softmax selector at 1e-1 and its NDDR fusion at 1e-2
    (the paper's rates; the rest of the network follows ``optim.lr``). A variant gets a rate only for
    the groups it has: fixed groupings (``manual``, ``single``) have no selector, a variant without
    fusion no fusion. Every other model, the stage-one hourglass included, has no groups.

    Args:
        model: A registered name or alias.
        kwargs: The run's model arguments over the entry's defaults (they may change the grouping).
    """
    spec = get_spec(model)
    args = {**spec.defaults, **(kwargs or {})}
    # Only the grouped networks name a grouping or a group count; the hourglass alone names neither.
    if spec.family != "learnable_groups" or not {"grouping", "num_groups"} & args.keys():
        return {}
    rates = {}
    if args.get("grouping", "learned") == "learned":
        rates["selector"] = 0.1
    if args.get("fusion", True):
        rates["fusion"] = 0.01
    return rates


def register_model(
    name: str,
    *,
    modality: Literal["depth", "rgb"],
    family: str,
    input_size: int,
    output_space: OutputSpace,
    loss: str,
    loss_params: dict[str, Any] | None = None,
    in_channels: int | None = None,
    description: str = "",
    defaults: dict[str, Any] | None = None,
    skeleton_check: Callable[[skeletons.Skeleton], str | None] | None = None,
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering ``builder`` under ``name`` (see :class:`ModelSpec` for the fields)."""

    def wrap(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _MODELS or name in _ALIASES:
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
            loss_params=dict(loss_params or {}),
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
    """Registered model names matching a glob ``pattern`` (and a modality, if given), sorted; no aliases."""
    _load_models()
    return sorted(
        n for n, s in _MODELS.items() if fnmatch.fnmatch(n, pattern) and (modality is None or s.modality == modality)
    )


def get_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` registered as ``name`` (or as the model an alias stands for)."""
    _load_models()
    try:
        return _MODELS[canonical_name(name)]
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
    # Plain attributes, not submodules: set past nn.Module's typed __setattr__.
    model.__dict__.update(spec=spec, skeleton=skel, init_kwargs=kwargs)
    return model


def build_network(contract: Contract, initial_weights: bool = True) -> nn.Module:
    """The registered network a preprocessing contract names, built with the contract's arguments.

    Args:
        contract: The preprocessing contract (its sizes were bounded when it was read).
        initial_weights: Load the pretrained backbone file named in ``model_kwargs["weights"]``. Off when
            trained weights are loaded next anyway, so a package never needs the original file.
    """
    kwargs = dict(contract.model_kwargs)
    if not initial_weights:
        kwargs.pop("weights", None)
    return create_model(contract.model, skeleton=contract.skeleton, **kwargs)
