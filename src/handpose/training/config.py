"""Typed training configuration: YAML files in ``configs/`` plus ``key=value`` overrides.

A run is described by one :class:`RunConfig` (model, data, optimiser, trainer). Files are plain YAML
mirroring the dataclasses; every key is checked against the dataclass fields and their types, and a
mistake raises :class:`~handpose.errors.HandposeError` naming the file, the line and the dotted key.

Example:
    >>> cfg = load_config("configs/synthetic/crossinfonet_tiny.yaml", ["optim.lr=5e-4", "trainer.max_epochs=3"])
    >>> cfg.optim.lr
    0.0005

The resolved configuration is saved with every run (``config.yaml``) and inside every checkpoint as a
plain dict (:meth:`RunConfig.to_dict`), so a run can always be reproduced from its outputs.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from handpose.errors import HandposeError
from handpose.safe_read import compose_yaml, loads_yaml, read_text


@dataclass
class ModelConfig:
    """Which network to train.

    Attributes:
        name: Registered model name (``handpose models`` lists them).
        skeleton: Joint convention the model predicts; ``None`` takes the training data's.
        input_size: Square input side in pixels; ``None`` takes the model's default.
        kwargs: Extra builder arguments (for example ``{"dropout": 0.4}``).
        weights: torchvision ImageNet file for the model's ResNet backbone (``resnet50-0676ba61.pth``
            ...); ``none`` (or unset) trains it from scratch. Applied to fresh runs only.
        init_from: A ``handpose train`` checkpoint whose tensors of the same name and shape initialise
            the network (for example the hourglass stage of Learnable Groups). Fresh runs only.
    """

    name: str = "crossinfonet"
    skeleton: str | None = None
    input_size: int | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    weights: str | None = None
    init_from: str | None = None


@dataclass
class LossConfig:
    """Which loss trains the model, with its parameters.

    Written flat in YAML: ``loss: {name: crossinfonet, heatmap_weight: 0.0}``; every key except
    ``name`` is a keyword argument of the loss (``handpose models`` lists each model's default).

    Attributes:
        name: A registered loss; ``None`` keeps the model's default loss.
        params: Keyword arguments of the loss. With the model's default loss (``name`` unset or the
            same name) they override the model's default arguments one by one.
    """

    name: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The flat YAML form: ``{"name": ..., **params}``."""
        return {"name": self.name, **self.params}


@dataclass
class StreamConfig:
    """Frames rendered on the fly by the synthetic engine (``data.dataset: synthetic_stream``).

    Attributes:
        count: Training frames per epoch.
        seed: Seed of the training frames.
        val_count: Validation frames (rendered with ``val_seed``, never seen in training).
        val_seed: Seed of the validation frames.
        camera: Camera preset or ``fx,fy,cx,cy,width,height``.
        occluders: Add occluding objects.
        hands: ``both`` (left or right, even odds), ``right`` or ``left``.
        hand: Hand model, ``mesh`` (skinned mesh) or ``capsule``.
    """

    count: int = 2000
    seed: int = 1
    val_count: int = 200
    val_seed: int = 1001
    camera: str = "nyu"
    occluders: bool = False
    hands: str = "both"
    hand: str = "mesh"


@dataclass
class MixSource:
    """One dataset of a training mixture (``data.mix``).

    Attributes:
        dataset: A registered reader name (``rhd``, ``stb``, ...).
        root: Its dataset folder.
        reader_kwargs: Extra arguments passed to its reader.
    """

    dataset: str = ""
    root: str = ""
    reader_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class DataConfig:
    """Where frames come from and how they are cropped.

    Attributes:
        dataset: A registered reader name (``icvl``, ``nyu``, ``synthetic``, ...), ``synthetic_stream``,
            or ``mix`` for the datasets listed in ``mix``.
        root: Dataset folder (unused for ``synthetic_stream`` and ``mix``).
        train_split: Split read for training.
        val_split: Split used to choose the best checkpoint. ``"holdout"`` keeps the last
            ``val_fraction`` of the training split apart; the test split is refused.
        val_fraction: Share of the training split held out when ``val_split`` is ``"holdout"``.
        cube: Crop cube edge in mm (depth) for validation, evaluation and prediction (and training
            unless ``train_cube`` is set).
        train_cube: Optional ``[low, high]`` range the training cube is drawn from per frame.
        center: Training crop centre (depth): ``"gt"`` (a labelled joint), ``"com"`` (centre of mass of the
            depth refined from the labels), ``"detect"`` (from the depth alone) or ``"given"`` (the reader's
            centre file).
        eval_center: Crop centre for validation, evaluation and prediction without a given centre;
            prediction always uses the depth alone (``"detect"``) when the image has no labels.
        augment: Apply the reference augmentation to training crops.
        batch_size: Frames per optimisation step, summed over all devices.
        num_workers: DataLoader worker processes per device.
        limit_train: Use at most this many training frames (``None``: all).
        limit_val: Use at most this many validation frames (``None``: all).
        transform_kwargs: Extra arguments passed to the crop transform.
        reader_kwargs: Extra arguments passed to the dataset reader (``joints`` for NYU,
            ``genuine_only`` for ICVL, ``centers`` for a centre file, ...).
        subject: MSRA's held-out subject (0-8) of a leave-one-subject-out fold: the run trains on
            the eight others (passed to the reader as ``subject``; overrides ``reader_kwargs``).
        stream: Settings of ``synthetic_stream``.
        mix: With ``dataset: mix``, the datasets trained together (``[{dataset: rhd, root: RHD},
            {dataset: stb, root: STB}]``), each read on ``train_split``/``val_split`` and mapped to
            the canonical 21-joint hand; ``holdout`` holds out the same share of each.
    """

    dataset: str = "synthetic_stream"
    root: str | None = None
    train_split: str = "train"
    val_split: str = "val"
    val_fraction: float = 0.05
    cube: float = 250.0
    train_cube: list[float] | None = None
    center: Literal["gt", "com", "detect", "given"] = "gt"
    eval_center: Literal["gt", "com", "detect", "given"] = "com"
    augment: bool = True
    batch_size: int = 32
    num_workers: int = 0
    limit_train: int | None = None
    limit_val: int | None = None
    transform_kwargs: dict[str, Any] = field(default_factory=dict)
    reader_kwargs: dict[str, Any] = field(default_factory=dict)
    subject: int | None = None
    stream: StreamConfig = field(default_factory=StreamConfig)
    mix: list[MixSource] = field(default_factory=list)


@dataclass
class TemperatureConfig:
    """Gumbel-softmax temperature schedule of Learnable Groups: ``max(min, start - step * (global_step // every))``."""

    start: float = 5.0
    step: float = 0.1
    every: int = 1000
    min: float = 0.1


@dataclass
class OptimConfig:
    """Optimiser and learning-rate schedule.

    Attributes:
        optimizer: ``adam`` or ``adamw`` or ``sgd``.
        lr: Base learning rate.
        weight_decay: L2 penalty (CrossInfoNet's reference uses 1e-5).
        schedule: ``exponential`` (``lr * gamma ** epoch``, CrossInfoNet's x0.96 per epoch), ``cosine``
            (to zero over the run's steps, or over ``trainer.max_minutes`` when that alone bounds it),
            ``step`` (``lr * gamma ** (epoch // step_every)``) or ``constant``.
        cosine_over: What ``cosine`` decays over: ``steps`` (the run's estimated steps), ``time``
            (``trainer.max_minutes``), or ``auto``: time when the run is bounded by minutes and no
            ``max_steps``, steps otherwise.
        gamma: Decay factor of ``exponential`` and ``step``.
        step_every: Epochs between decays of ``step``.
        warmup_steps: Linear warm-up steps before the schedule.
        group_lr: Learning rate per parameter group the model names (Learnable Groups:
            ``{"selector": 0.1, "fusion": 0.01}``); parameters in no named group use ``lr``.
        temperature: Temperature annealing for models with a ``set_temperature`` method.
    """

    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: Literal["exponential", "cosine", "step", "constant"] = "exponential"
    cosine_over: Literal["auto", "steps", "time"] = "auto"
    gamma: float = 0.96
    step_every: int = 10
    warmup_steps: int = 0
    group_lr: dict[str, float] = field(default_factory=dict)
    temperature: TemperatureConfig | None = None


@dataclass
class TrainerConfig:
    """How Lightning runs the loop.

    Attributes:
        max_epochs: Epochs to train.
        max_steps: Stop after this many optimiser steps (-1: no limit).
        max_minutes: Stop after this many minutes of training (``None``: no limit).
        accelerator: ``auto``, ``cpu`` or ``gpu``.
        devices: Devices per node (an int, or ``auto``).
        num_nodes: Machines (SLURM or torchrun set the rest).
        strategy: Lightning strategy (``auto``, ``ddp``, ...).
        precision: ``auto`` (bf16-mixed on GPUs that support it and on CPUs with AVX512-BF16 or AMX,
            else 32; see :mod:`handpose.training.precision`), or any Lightning value.
        val_every_n_epochs: Validate every this many epochs.
        val_every_n_steps: Validate every this many training batches instead, across epoch boundaries
            (short epochs then cost no validation each); a run stopped by ``max_minutes`` still
            validates its final weights.
        limit_val_batches: Share or number of validation batches.
        log_every_n_steps: Logging interval.
        gradient_clip: Clip gradient norm (0: off).
        progress: ``rich``, ``plain`` or ``none``.
        channels_last: Use the channels-last memory layout (faster convolutions on CPUs).
        sync_batchnorm: With several GPU processes, compute BatchNorm statistics over the global batch
            (as one process would) instead of each process's share (PyTorch supports it on GPUs only).
        accumulate_grad_batches: Batches whose gradients add up to one optimiser step (a large
            effective batch on a small device).
        deterministic: Ask torch for deterministic kernels.
        save_every_n_epochs: Also keep ``epoch=N.ckpt`` every N epochs (0: only best and last).
        precise_bn_batches: Before each validation, re-estimate BatchNorm statistics as a plain average over
            this many training batches (0: keep the running averages). Short, fast-moving runs need it:
            running averages then lag the weights and evaluation-mode outputs drift far from training ones.
        freeze_batchnorm_at: Share of the run (0 < share < 1; of its time budget when the cosine schedule
            follows the budget, else of its optimiser steps) after which BatchNorm layers
            keep fixed statistics (re-estimated once at that step, over ``precise_bn_batches`` batches or
            10) and normalise with them in training too; ``None``: never. Batch statistics hide a rare
            input's outsized activations from the loss (the input's own values dominate its batch's
            variance), so training never learns to bound them, while inference divides by the running
            statistics: a short CrossInfoNet run then sent ~1 % of test crops to the corner of the cube.
            Training the last steps on the inference-time normalisation removes that gap.
    """

    max_epochs: int = 10
    max_steps: int = -1
    max_minutes: float | None = None
    accelerator: str = "auto"
    devices: int | str = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "auto"
    val_every_n_epochs: int = 1
    val_every_n_steps: int | None = None
    limit_val_batches: float | int = 1.0
    log_every_n_steps: int = 20
    gradient_clip: float = 0.0
    progress: Literal["rich", "plain", "none"] = "rich"
    channels_last: bool = True
    sync_batchnorm: bool = False
    accumulate_grad_batches: int = 1
    deterministic: bool = False
    save_every_n_epochs: int = 0
    precise_bn_batches: int = 0
    freeze_batchnorm_at: float | None = None


@dataclass
class RunConfig:
    """One training run.

    Attributes:
        name: Run name; outputs go to ``out_dir/name``.
        seed: Seeds weights, data order and augmentation.
        out_dir: Parent folder of run folders.
        description: Free text (which paper table the run reproduces).
        loss: The loss and its parameters (default: the model's own).
    """

    name: str = "run"
    seed: int = 0
    out_dir: str = "runs"
    description: str = ""
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (only str/int/float/bool/None/list/dict) — safe in ``weights_only`` checkpoints."""
        out = dataclasses.asdict(self)
        out["loss"] = self.loss.to_dict()
        return out

    @property
    def run_dir(self) -> Path:
        return Path(self.out_dir) / self.name


# ------------------------------------------------------------------------------------------------
# Loading and validation
# ------------------------------------------------------------------------------------------------
def load_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Read a YAML config, apply ``key=value`` overrides, and validate everything.

    Args:
        path: YAML file; ``None`` starts from the defaults.
        overrides: Dotted assignments such as ``"optim.lr=1e-4"``; values are parsed as YAML.

    Raises:
        HandposeError: Unreadable file, unknown key, wrong type or out-of-range value.
    """
    raw: dict[str, Any] = {}
    lines: dict[str, int] = {}
    if path is not None:
        raw, lines = _read_yaml(Path(path))
    for item in overrides:
        _apply_override(raw, item)
    cfg = _build(RunConfig, raw, "", str(path) if path else None, lines)
    _check_values(cfg, str(path) if path else None, lines)
    return cfg


def config_from_dict(data: dict[str, Any], source: str = "checkpoint") -> RunConfig:
    """Rebuild a :class:`RunConfig` from :meth:`RunConfig.to_dict` output (for example from a checkpoint)."""
    cfg = _build(RunConfig, data, "", source, {})
    _check_values(cfg, source, {})
    return cfg


def dump_config(cfg: RunConfig) -> str:
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)


def _read_yaml(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    text = read_text(path, "config", "config file")
    node = compose_yaml(text, path, "config")  # refuses alias bombs and deep nesting before anything walks it
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise HandposeError(f"invalid YAML: {getattr(exc, 'problem', exc)}", path, line) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise HandposeError("a config must be a mapping of keys to values", path)
    lines: dict[str, int] = {}
    _collect_lines(node, "", lines)
    return data, lines


def _collect_lines(node: yaml.Node | None, prefix: str, out: dict[str, int]) -> None:
    if not isinstance(node, yaml.MappingNode):
        return
    for key_node, value_node in node.value:
        key = f"{prefix}{key_node.value}"
        out[key] = key_node.start_mark.line + 1
        _collect_lines(value_node, key + ".", out)


def _apply_override(raw: dict[str, Any], item: str) -> None:
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise HandposeError(f"override {item!r} must look like key=value (for example optim.lr=1e-4)")
    try:
        parsed = loads_yaml(value, f"override {key}") if value.strip() else None
    except HandposeError as exc:
        if not exc.reason.startswith("invalid YAML"):
            raise  # an alias bomb or deep nesting: refused, never walked
        parsed = value
    node = raw
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = parsed


def _build(cls: type, raw: Any, prefix: str, source: str | None, lines: dict[str, int]) -> Any:
    where = prefix.rstrip(".") or "the top level"
    if not isinstance(raw, dict):
        raise HandposeError(f"{where} must be a mapping", source, lines.get(prefix.rstrip(".")))
    if cls is LossConfig:
        # Flat in YAML: every key beside the name is a parameter of the loss.
        name = _coerce(str | None, raw.get("name"), f"{prefix}name", source, lines)
        params = {str(k): v for k, v in raw.items() if k != "name"}
        return LossConfig(name, _coerce(dict[str, Any], params, prefix.rstrip("."), source, lines))
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in names:
            raise HandposeError(
                f"unknown key {prefix}{key!s}; known keys here: {', '.join(sorted(names))}",
                source,
                lines.get(f"{prefix}{key}"),
            )
    kwargs = {}
    for name in names:
        if name in raw:
            kwargs[name] = _coerce(hints[name], raw[name], f"{prefix}{name}", source, lines)
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, key: str, source: str | None, lines: dict[str, int]) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)

    def fail(expected: str) -> HandposeError:
        return HandposeError(f"{key}: expected {expected}, got {value!r}", source, lines.get(key))

    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _coerce(option, value, key, source, lines)
            except HandposeError as exc:
                errors.append(exc)
        raise fail(" or ".join(_type_name(a) for a in args))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _build(tp, value if value is not None else {}, key + ".", source, lines)
    if origin is Literal:
        if value not in args:
            raise fail("one of " + ", ".join(repr(a) for a in args))
        return value
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise fail("true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail("an integer")
        return value
    if tp is float:
        if isinstance(value, str):
            # YAML 1.1 reads 1e-3 (no dot) as a string; accept plain numeric text.
            try:
                return float(value)
            except ValueError:
                raise fail("a number") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail("a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise fail("a string")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise fail("a list")
        return [_coerce(args[0], v, f"{key}[{i}]", source, lines) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise fail("a mapping")
        return {str(k): _coerce(args[1], v, f"{key}.{k}", source, lines) for k, v in value.items()}
    raise fail(_type_name(tp))  # pragma: no cover - every field type is handled above


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _check_values(cfg: RunConfig, source: str | None, lines: dict[str, int]) -> None:
    def need(ok: bool, key: str, message: str) -> None:
        if not ok:
            raise HandposeError(f"{key}: {message}", source, lines.get(key))

    d, o, t = cfg.data, cfg.optim, cfg.trainer
    _check_bounds(cfg, need, source)
    need(bool(cfg.name) and "/" not in cfg.name, "name", "must be a non-empty name without '/'")
    need(
        d.val_split != "test" and d.val_split != d.train_split,
        "data.val_split",
        "must be a validation split (or 'holdout'), never the test split or the training split",
    )
    need(0 < d.val_fraction < 0.5, "data.val_fraction", "must be in (0, 0.5)")
    need(d.cube > 0, "data.cube", "must be a positive size in mm")
    if d.train_cube is not None:
        need(
            len(d.train_cube) == 2 and 0 < d.train_cube[0] <= d.train_cube[1],
            "data.train_cube",
            "must be [low, high] with 0 < low <= high",
        )
    need(d.batch_size >= 1, "data.batch_size", "must be >= 1")
    need(d.num_workers >= 0, "data.num_workers", "must be >= 0")
    need(d.limit_train is None or d.limit_train >= 1, "data.limit_train", "must be >= 1")
    need(d.limit_val is None or d.limit_val >= 1, "data.limit_val", "must be >= 1")
    need(d.stream.count >= 1 and d.stream.val_count >= 1, "data.stream.count", "counts must be >= 1")
    need(d.stream.seed != d.stream.val_seed, "data.stream.val_seed", "must differ from data.stream.seed")
    need(d.stream.hand in ("mesh", "capsule"), "data.stream.hand", "must be mesh or capsule")
    need(
        d.dataset in ("synthetic_stream", "mix") or d.root is not None,
        "data.root",
        f"dataset {d.dataset!r} needs a root",
    )
    need((d.dataset == "mix") == bool(d.mix), "data.mix", "lists the datasets of 'dataset: mix' (and only then)")
    need(len(d.mix) <= 16, "data.mix", "must list at most 16 datasets")
    for i, mixed in enumerate(d.mix):
        need(
            bool(mixed.dataset) and mixed.dataset not in ("mix", "synthetic_stream") and bool(mixed.root),
            f"data.mix[{i}]",
            "needs a registered dataset name and its root",
        )
    need(
        cfg.loss.name is None or bool(cfg.loss.name),
        "loss.name",
        "must be a loss name (or left out for the model's own)",
    )
    need(_plain(cfg.loss.params), "loss", "parameters must be plain numbers, strings, booleans, lists or mappings")
    need(cfg.model.input_size is None or cfg.model.input_size >= 16, "model.input_size", "must be >= 16")
    need(o.lr > 0, "optim.lr", "must be > 0")
    need(o.weight_decay >= 0, "optim.weight_decay", "must be >= 0")
    need(0 < o.gamma <= 1, "optim.gamma", "must be in (0, 1]")
    need(o.step_every >= 1, "optim.step_every", "must be >= 1")
    need(o.warmup_steps >= 0, "optim.warmup_steps", "must be >= 0")
    need(o.cosine_over != "time" or t.max_minutes is not None, "optim.cosine_over", "time needs trainer.max_minutes")
    need(all(v > 0 for v in o.group_lr.values()), "optim.group_lr", "learning rates must be > 0")
    if o.temperature is not None:
        need(o.temperature.start > 0 and o.temperature.min > 0, "optim.temperature", "temperatures must be > 0")
        need(o.temperature.every >= 1, "optim.temperature.every", "must be >= 1")
    need(t.max_epochs >= 1, "trainer.max_epochs", "must be >= 1")
    need(t.max_steps == -1 or t.max_steps >= 1, "trainer.max_steps", "must be -1 or >= 1")
    need(t.max_minutes is None or t.max_minutes > 0, "trainer.max_minutes", "must be > 0")
    need(t.num_nodes >= 1, "trainer.num_nodes", "must be >= 1")
    need(
        t.devices == "auto" or (isinstance(t.devices, int) and t.devices >= 1),
        "trainer.devices",
        "must be 'auto' or >= 1",
    )
    need(t.val_every_n_epochs >= 1, "trainer.val_every_n_epochs", "must be >= 1")
    need(t.val_every_n_steps is None or t.val_every_n_steps >= 1, "trainer.val_every_n_steps", "must be >= 1")
    need(t.log_every_n_steps >= 1, "trainer.log_every_n_steps", "must be >= 1")
    need(t.accumulate_grad_batches >= 1, "trainer.accumulate_grad_batches", "must be >= 1")
    need(t.gradient_clip >= 0, "trainer.gradient_clip", "must be >= 0")
    need(t.save_every_n_epochs >= 0, "trainer.save_every_n_epochs", "must be >= 0")
    need(t.precise_bn_batches >= 0, "trainer.precise_bn_batches", "must be >= 0")
    need(
        t.freeze_batchnorm_at is None or 0.0 < t.freeze_batchnorm_at < 1.0,
        "trainer.freeze_batchnorm_at",
        "must be a share of the steps, between 0 and 1 (or null)",
    )


def _plain(value: Any) -> bool:
    """Whether ``value`` holds only YAML scalars, lists and string-keyed mappings (safe in checkpoints)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))


# Upper bounds that keep a mistyped or hostile config from asking for unbounded memory or time.
_UPPER_BOUNDS = {
    "data.batch_size": 65536,
    "data.num_workers": 256,
    "data.stream.count": 10_000_000,
    "data.stream.val_count": 1_000_000,
    "optim.lr": 100.0,
}


def _check_bounds(cfg: RunConfig, need: Any, source: str | None) -> None:
    """Every number finite, the sizes bounded, and the model arguments checked as a contract checks them."""
    from handpose.contract import MAX_CUBE_MM, MAX_INPUT_SIZE, check_model_kwargs

    stack: list[tuple[str, Any]] = [("", cfg)]
    while stack:
        prefix, node = stack.pop()
        items = (
            ((f.name, getattr(node, f.name)) for f in dataclasses.fields(node))
            if dataclasses.is_dataclass(node)
            else (node.items() if isinstance(node, dict) else enumerate(node))
        )
        for name, value in items:
            key = f"{prefix}{name}"
            if isinstance(value, float):
                need(math.isfinite(value), key, f"must be a finite number, got {value!r}")
            elif dataclasses.is_dataclass(value) or isinstance(value, (dict, list, tuple)):
                stack.append((key + ".", value))
    values = {
        "data.batch_size": cfg.data.batch_size,
        "data.num_workers": cfg.data.num_workers,
        "data.stream.count": cfg.data.stream.count,
        "data.stream.val_count": cfg.data.stream.val_count,
        "optim.lr": cfg.optim.lr,
    }
    for key, bound in _UPPER_BOUNDS.items():
        need(values[key] <= bound, key, f"must be at most {bound:g}, got {values[key]!r}")
    need(cfg.data.cube <= MAX_CUBE_MM, "data.cube", f"must be at most {MAX_CUBE_MM:g} mm")
    for edge in cfg.data.train_cube or []:
        need(edge <= MAX_CUBE_MM, "data.train_cube", f"must be at most {MAX_CUBE_MM:g} mm")
    size = cfg.model.input_size
    need(size is None or size <= MAX_INPUT_SIZE, "model.input_size", f"must be at most {MAX_INPUT_SIZE}")
    check_model_kwargs(cfg.model.kwargs, source or "config", "model.kwargs")
