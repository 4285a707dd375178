"""The preprocessing contract: everything needed to turn a user's image into a model input and back.

A :class:`Contract` is saved in every checkpoint and every model package (as the plain dict of
:meth:`Contract.to_dict`, JSON- and ``weights_only``-safe) and is the only thing inference reads
besides the weights, so training and inference crop with the same code and the same numbers.

Reading one back (:meth:`Contract.from_dict`) validates it: a file is user input, and a size in it
decides how much memory the network takes, so types, ranges and sizes are checked before anything is
built, and every problem is one :class:`~handpose.errors.HandposeError` line naming the file.

Versions: 1 (no ``loss``; the model's registered loss trained it) and 2 (``loss`` recorded). Both
read; version 2 is written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from handpose import skeleton as skeletons
from handpose.errors import HandposeError

CONTRACT_FORMAT = "handpose-contract"
CONTRACT_VERSION = 2
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

MODALITIES = ("depth", "rgb")
OUTPUT_SPACES = ("cube", "uvz", "rel")
CENTER_MODES = ("gt", "com", "detect", "given")
# Bounds that keep a hostile or mistyped file from asking for gigabytes: every shipped model lies far inside.
MAX_INPUT_SIZE = 1024
MAX_CHANNELS = 4096
MAX_FC_DIM = 16384
MAX_CUBE_MM = 2000.0
MAX_HAND_SCALE_MM = 500.0
# model_kwargs keys that size layers, and their bound.
_SIZE_KWARGS = (
    (re.compile(r"(^|_)(channels|features|planes|filters)$"), MAX_CHANNELS),
    (re.compile(r"(^|_)(fc_dim|hidden|hidden_dim|dim|embed_dim)$"), MAX_FC_DIM),
    (re.compile(r"(^|_)input_size$"), MAX_INPUT_SIZE),
)
# Channel multipliers ("width"): every layer grows with them.
_WIDTH_KWARG = re.compile(r"(^|_)width$")
MAX_WIDTH = 8.0
DEPTH_NORMALISATION = "(d - centre_z) / (cube / 2); outside the cube, missing or background: +1"

Modality = Literal["depth", "rgb"]


@dataclass(frozen=True)
class LossSpec:
    """The training loss: a name in :mod:`handpose.losses` and its keyword arguments."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": dict(self.params)}


@dataclass(frozen=True)
class DepthCrop:
    """How a depth image becomes a crop: a cube of ``cube_mm`` around a centre.

    Attributes:
        cube_mm: Cube edge for validation, evaluation and prediction.
        train_cube_mm: ``(low, high)`` range the training cube is drawn from, or ``None``.
        train_center: Centre mode in training (``"gt"``, ``"com"``, ``"detect"``, ``"given"``).
        eval_center: Centre mode at evaluation and prediction without a given centre.
        transform_kwargs: Extra arguments of the crop transform.
    """

    cube_mm: float
    train_cube_mm: tuple[float, float] | None = None
    train_center: str = "gt"
    eval_center: str = "com"
    transform_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "cube",
            "cube_mm": self.cube_mm,
            "train_cube_mm": list(self.train_cube_mm) if self.train_cube_mm else None,
            "train_center": self.train_center,
            "eval_center": self.eval_center,
            "warp": "affine, nearest neighbour; box edges on the crop edges",
            "transform_kwargs": dict(self.transform_kwargs),
        }


@dataclass(frozen=True)
class BoxCrop:
    """How an RGB image becomes a crop: a square box around the hand's keypoints (or the given box)."""

    transform_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "keypoint_box", "transform_kwargs": dict(self.transform_kwargs)}


@dataclass(frozen=True)
class RGBNormalisation:
    """``(pixel * scale - mean) / std`` per channel, RGB order."""

    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    scale: float = 1 / 255

    def to_dict(self) -> dict[str, Any]:
        return {"mean": list(self.mean), "std": list(self.std), "scale": self.scale}


@dataclass(frozen=True)
class Contract:
    """The preprocessing contract of one trained model.

    Attributes:
        model: Registry name of the network.
        model_kwargs: Its builder arguments.
        family: Method family of the registry entry.
        skeleton: Joint order the model predicts.
        joint_names: The joints' names.
        modality: ``"depth"`` or ``"rgb"``.
        input_size: Square crop side in pixels.
        in_channels: Input channels.
        output_space: Meaning of ``outputs["joints"]`` (``"cube"``, ``"uvz"``, ``"rel"``).
        crop: The crop recipe.
        rgb: Pixel normalisation (RGB models).
        depth_background: Normalised value of missing, background and out-of-cube depth (depth models).
        camera: The training camera as :meth:`handpose.geometry.Camera.to_dict`, or ``None``.
        hand_scale_mm: Scale bone length assumed when lifting a photo's 2.5D joints (RGB models).
        loss: The training loss; ``None`` in version 1 contracts (the model's registered loss).
        training_data: Dataset, root, split and frame count of the training data.
        handpose_version: Version that wrote the contract.
        version: Contract format version.
    """

    model: str
    skeleton: str
    modality: Modality
    input_size: int
    output_space: str
    crop: DepthCrop | BoxCrop
    in_channels: int = 1
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)
    family: str = ""
    joint_names: tuple[str, ...] = ()
    rgb: RGBNormalisation | None = None
    depth_background: float = 1.0
    camera: Mapping[str, Any] | None = None
    hand_scale_mm: float | None = None
    loss: LossSpec | None = None
    training_data: Mapping[str, Any] = field(default_factory=dict)
    handpose_version: str = ""
    version: int = CONTRACT_VERSION

    def __post_init__(self) -> None:
        if not self.joint_names:
            # Frozen: the default names are the skeleton's, filled in once here.
            object.__setattr__(self, "joint_names", tuple(skeletons.get(self.skeleton).joint_names))

    @property
    def depth_crop(self) -> DepthCrop:
        """The cube crop of a depth model."""
        if not isinstance(self.crop, DepthCrop):
            raise HandposeError(f"model {self.model!r} takes {self.modality} images; it has no depth crop")
        return self.crop

    def to_dict(self) -> dict[str, Any]:
        """The contract as plain JSON types (what checkpoints and packages store)."""
        out: dict[str, Any] = {
            "format": CONTRACT_FORMAT,
            "version": self.version,
            "model": self.model,
            "model_kwargs": _plain(dict(self.model_kwargs), "model_kwargs"),
            "family": self.family,
            "skeleton": self.skeleton,
            "joint_names": list(self.joint_names),
            "modality": self.modality,
            "input_size": self.input_size,
            "in_channels": self.in_channels,
            "output_space": self.output_space,
            "camera": dict(self.camera) if self.camera is not None else None,
            "training_data": dict(self.training_data),
            "handpose_version": self.handpose_version,
            "crop": self.crop.to_dict(),
        }
        if self.loss is not None:
            out["loss"] = self.loss.to_dict()
        if self.modality == "depth":
            out["depth"] = {"units": "mm", "normalisation": DEPTH_NORMALISATION, "background": self.depth_background}
        else:
            out["rgb"] = (self.rgb or RGBNormalisation()).to_dict()
            out["hand_scale_mm"] = self.hand_scale_mm
        return out

    @classmethod
    def from_dict(cls, data: Any, source: str) -> Contract:
        """Read and validate a stored contract.

        Args:
            data: The stored dict (versions 1 and 2).
            source: The file it came from, named in every error.

        Raises:
            HandposeError: Not a contract, a newer version, or a missing, mistyped or out-of-range value.
        """
        return _Reader(source).contract(data)


def check_model_kwargs(kwargs: Any, source: str, key: str = "model_kwargs") -> dict[str, Any]:
    """The model-argument checks of :meth:`Contract.from_dict` (finite, layer sizes bounded), for run configs too.

    Raises:
        HandposeError: A non-finite value or a layer size outside its bound, naming ``source``.
    """
    return _Reader(source, key).model_kwargs(kwargs)


def _plain(value: Any, key: str) -> Any:
    """``value`` reduced to JSON types (tuples become lists)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v, key) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, key) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise HandposeError(f"{key} holds a {type(value).__name__}; only plain values are allowed")


class _Reader:
    """Field checks that raise one line naming the source file."""

    def __init__(self, source: str, kwargs_key: str = "model_kwargs") -> None:
        self.source = source
        self.kwargs_key = kwargs_key

    def fail(self, message: str) -> HandposeError:
        return HandposeError(f"preprocessing contract: {message}", self.source)

    def contract(self, data: Any) -> Contract:
        if not isinstance(data, Mapping) or data.get("format") != CONTRACT_FORMAT:
            raise HandposeError("not a handpose model: no preprocessing contract inside", self.source)
        version = self.version(data.get("version"))
        for key in ("model", "skeleton", "modality", "input_size", "output_space", "crop"):
            if key not in data:
                raise self.fail(f"lacks {key!r}")
        modality = self.choice(data, "modality", MODALITIES)
        skeleton = self.text(data, "skeleton")
        try:
            skel = skeletons.get(skeleton)
        except HandposeError:
            raise self.fail(f"unknown skeleton {skeleton!r}") from None
        joint_names = tuple(self.texts(data.get("joint_names") or list(skel.joint_names), "joint_names"))
        if len(joint_names) != skel.num_joints:
            raise self.fail(f"joint_names has {len(joint_names)} names for the {skel.num_joints} joints of {skeleton}")
        model_kwargs = self.model_kwargs(data.get("model_kwargs"))
        crop_data = self.mapping(data.get("crop"), "crop")
        transform_kwargs = self.mapping(crop_data.get("transform_kwargs") or {}, "crop.transform_kwargs")
        crop: DepthCrop | BoxCrop
        rgb = None
        hand_scale = None
        background = 1.0
        if modality == "depth":
            crop = DepthCrop(
                cube_mm=self.length(crop_data.get("cube_mm"), "crop.cube_mm", MAX_CUBE_MM),
                train_cube_mm=self.cube_range(crop_data.get("train_cube_mm")),
                train_center=self.choice(crop_data, "train_center", CENTER_MODES, "crop.", "gt"),
                eval_center=self.choice(crop_data, "eval_center", CENTER_MODES, "crop.", "com"),
                transform_kwargs=transform_kwargs,
            )
            depth = self.mapping(data.get("depth") or {}, "depth")
            background = self.number(depth.get("background", 1.0), "depth.background", -10.0, 10.0)
        else:
            crop = BoxCrop(transform_kwargs=transform_kwargs)
            rgb = self.rgb(data.get("rgb") or {})
            if data.get("hand_scale_mm") is not None:
                hand_scale = self.length(data["hand_scale_mm"], "hand_scale_mm", MAX_HAND_SCALE_MM)
        in_channels = self.integer(data.get("in_channels", 1 if modality == "depth" else 3), "in_channels", 1, 16)
        return Contract(
            model=self.text(data, "model"),
            skeleton=skel.name,
            modality=modality,  # type: ignore[arg-type]
            input_size=self.integer(data["input_size"], "input_size", 8, MAX_INPUT_SIZE),
            output_space=self.choice(data, "output_space", OUTPUT_SPACES),
            crop=crop,
            in_channels=in_channels,
            model_kwargs=model_kwargs,
            family=str(data.get("family") or ""),
            joint_names=joint_names,
            rgb=rgb,
            depth_background=background,
            camera=self.camera(data.get("camera")),
            hand_scale_mm=hand_scale,
            loss=self.loss(data.get("loss")),
            training_data=self.mapping(data.get("training_data") or {}, "training_data"),
            handpose_version=str(data.get("handpose_version") or ""),
            version=version,
        )

    def version(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise self.fail(f"version must be a whole number, got {value!r}")
        try:
            version = int(value)
        except ValueError:
            raise self.fail(f"version must be a whole number, got {value!r}") from None
        if version > CONTRACT_VERSION:
            raise HandposeError(f"made by a newer handpose (contract version {version})", self.source)
        if version < 1:
            raise self.fail(f"version must be 1 or more, got {version}")
        return version

    def mapping(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(f"{key} must be a mapping, got {type(value).__name__}")
        return {str(k): v for k, v in value.items()}

    def text(self, data: Mapping[str, Any], key: str, prefix: str = "") -> str:
        value = data.get(key)
        if not isinstance(value, str) or not value:
            raise self.fail(f"{prefix}{key} must be a non-empty string, got {value!r}")
        return value

    def texts(self, value: Any, key: str) -> list[str]:
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"{key} must be a list of strings")
        return list(value)

    def choice(
        self, data: Mapping[str, Any], key: str, choices: tuple[str, ...], prefix: str = "", default: str | None = None
    ) -> str:
        value = data.get(key, default)
        if value not in choices:
            raise self.fail(f"{prefix}{key} must be one of {', '.join(choices)}, got {value!r}")
        return str(value)

    def number(self, value: Any, key: str, low: float, high: float) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(f"{key} must be a finite number, got {value!r}")
        if not low <= value <= high:
            raise self.fail(f"{key} must lie in [{low:g}, {high:g}], got {value!r}")
        return float(value)

    def length(self, value: Any, key: str, high: float) -> float:
        if value is None:
            raise self.fail(f"lacks {key}")
        number = self.number(value, key, 0.0, high)
        if number <= 0:
            raise self.fail(f"{key} must be positive, got {value!r}")
        return number

    def integer(self, value: Any, key: str, low: int, high: int) -> int:
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"{key} must be a whole number, got {value!r}")
        if not low <= value <= high:
            raise self.fail(f"{key} must lie in [{low}, {high}], got {value}")
        return value

    def cube_range(self, value: Any) -> tuple[float, float] | None:
        if value is None:
            return None
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise self.fail(f"crop.train_cube_mm must be [low, high] in mm, got {value!r}")
        low = self.length(value[0], "crop.train_cube_mm", MAX_CUBE_MM)
        high = self.length(value[1], "crop.train_cube_mm", MAX_CUBE_MM)
        if low > high:
            raise self.fail(f"crop.train_cube_mm must have low <= high, got {list(value)}")
        return (low, high)

    def model_kwargs(self, value: Any) -> dict[str, Any]:
        kwargs = self.mapping(value or {}, self.kwargs_key)
        for key, item in kwargs.items():
            if isinstance(item, float) and not math.isfinite(item):
                raise self.fail(f"{self.kwargs_key}.{key} must be finite, got {item!r}")
            for pattern, bound in _SIZE_KWARGS:
                if pattern.search(key) and item is not None:
                    self.sizes(item, f"{self.kwargs_key}.{key}", bound)
            is_width = _WIDTH_KWARG.search(key) is not None and item is not None
            if is_width and self.number(item, f"{self.kwargs_key}.{key}", 0.0, MAX_WIDTH) <= 0:
                raise self.fail(f"{self.kwargs_key}.{key} must be positive, got {item!r}")
        return kwargs

    def sizes(self, value: Any, key: str, bound: int) -> None:
        """A layer size (or a list of them): whole numbers in ``[1, bound]``."""
        for item in value if isinstance(value, (list, tuple)) else [value]:
            self.integer(item, key, 1, bound)

    def rgb(self, value: Any) -> RGBNormalisation:
        data = self.mapping(value, "rgb")
        mean = self.triple(data.get("mean", IMAGENET_MEAN), "rgb.mean", 0.0)
        std = self.triple(data.get("std", IMAGENET_STD), "rgb.std", 1e-6)
        scale = self.number(data.get("scale", 1 / 255), "rgb.scale", 1e-6, 1.0)
        return RGBNormalisation(mean=mean, std=std, scale=scale)

    def triple(self, value: Any, key: str, low: float) -> tuple[float, float, float]:
        if not isinstance(value, (list, tuple)) or len(value) != 3:
            raise self.fail(f"{key} must hold 3 numbers (R, G, B), got {value!r}")
        a, b, c = (self.number(v, key, low, 1e3) for v in value)
        return (a, b, c)

    def camera(self, value: Any) -> dict[str, Any] | None:
        if value is None:
            return None
        data = self.mapping(value, "camera")
        for key in ("fx", "fy"):
            self.length(data.get(key), f"camera.{key}", 1e6)
        for key in ("cx", "cy"):
            self.number(data.get(key), f"camera.{key}", -1e6, 1e6)
        return data

    def loss(self, value: Any) -> LossSpec | None:
        if value is None:
            return None
        data = self.mapping(value, "loss")
        return LossSpec(
            name=self.text(data, "name", "loss."), params=self.mapping(data.get("params") or {}, "loss.params")
        )
