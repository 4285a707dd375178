"""The preprocessing contract: everything needed to turn a user's image into a model input and back.

It is a plain dict (JSON- and ``weights_only``-safe) saved in every checkpoint and every model
package, and the only thing :class:`handpose.inference.Estimator` reads besides the weights — so
training and inference build their crops with the same code and the same numbers.

Keys: ``format``, ``version``, ``model``, ``model_kwargs``, ``skeleton``, ``joint_names``,
``modality``, ``input_size``, ``in_channels``, ``output_space``, ``crop`` (depth: ``cube_mm``,
``train_cube_mm``, ``train_center``, ``eval_center``, ``warp``; RGB: transform settings), ``depth``
(units and normalisation), ``rgb`` (mean/std), ``camera`` (the training camera; inputs must come with
their own intrinsics), ``training_data``, ``handpose_version``.
"""

from __future__ import annotations

from typing import Any

from handpose import __version__
from handpose import skeleton as skeletons
from handpose.errors import HandposeError
from handpose.training.config import RunConfig

CONTRACT_FORMAT = "handpose-contract"
CONTRACT_VERSION = 1
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def build_contract(cfg: RunConfig, skeleton: str, data: dict[str, Any]) -> dict[str, Any]:
    """The contract of a run.

    Args:
        cfg: The resolved run config.
        skeleton: Joint order the model predicts.
        data: Facts about the training data: ``dataset``, ``root``, ``split``, ``frames``, ``camera``
            and, for RGB, ``hand_scale_mm``.
    """
    from handpose.models.registry import get_spec

    spec = get_spec(cfg.model.name)
    skel = skeletons.get(skeleton)
    contract: dict[str, Any] = {
        "format": CONTRACT_FORMAT,
        "version": CONTRACT_VERSION,
        "model": spec.name,
        "model_kwargs": dict(cfg.model.kwargs),
        "family": spec.family,
        "skeleton": skel.name,
        "joint_names": list(skel.joint_names),
        "modality": spec.modality,
        "input_size": int(cfg.model.input_size or spec.input_size),
        "in_channels": int(spec.in_channels),
        "output_space": spec.output_space,
        "camera": data.get("camera"),
        "training_data": {k: data[k] for k in ("dataset", "root", "split", "frames") if k in data},
        "handpose_version": __version__,
    }
    if contract["input_size"] != spec.input_size and "input_size" not in contract["model_kwargs"]:
        # Networks with size-dependent layers (FC heads) are built for the input they will see.
        contract["model_kwargs"]["input_size"] = contract["input_size"]
    if spec.modality == "depth":
        contract["crop"] = {
            "kind": "cube",
            "cube_mm": float(cfg.data.cube),
            "train_cube_mm": list(cfg.data.train_cube) if cfg.data.train_cube else None,
            "train_center": cfg.data.center,
            "eval_center": cfg.data.eval_center,
            "warp": "affine, nearest neighbour; box edges on the crop edges",
            "transform_kwargs": _plain(cfg.data.transform_kwargs),
        }
        contract["depth"] = {
            "units": "mm",
            "normalisation": "(d - centre_z) / (cube / 2); outside the cube, missing or background: +1",
            "background": 1.0,
        }
    else:
        contract["crop"] = {"kind": "keypoint_box", "transform_kwargs": _plain(cfg.data.transform_kwargs)}
        contract["rgb"] = {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "scale": 1 / 255}
        # The hand size assumed when lifting an unlabelled photo's 2.5D joints to millimetres.
        contract["hand_scale_mm"] = data.get("hand_scale_mm")
    return contract


def _plain(value: Any) -> Any:
    """``value`` reduced to JSON types (tuples become lists)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise HandposeError(f"data.transform_kwargs holds a {type(value).__name__}; only plain values are allowed")


def check_contract(contract: Any, source: str) -> dict[str, Any]:
    """Validate a contract read from a checkpoint or package; raise a one-line error naming ``source``."""
    if not isinstance(contract, dict) or contract.get("format") != CONTRACT_FORMAT:
        raise HandposeError("not a handpose model: no preprocessing contract inside", source)
    if int(contract.get("version", 0)) > CONTRACT_VERSION:
        raise HandposeError(f"made by a newer handpose (contract version {contract.get('version')})", source)
    for key in ("model", "skeleton", "modality", "input_size", "output_space", "crop"):
        if key not in contract:
            raise HandposeError(f"preprocessing contract lacks {key!r}", source)
    return contract


def make_transform(contract: dict[str, Any], train: bool, augment: bool = False, center: str | None = None) -> Any:
    """The crop transform a contract describes.

    Args:
        contract: The preprocessing contract.
        train: Use the training settings (cube range, training centre) instead of the evaluation ones.
        augment: Apply augmentation (training only).
        center: Override the centre mode (``"given"`` or ``"detect"`` at prediction time).
    """
    crop = contract["crop"]
    extra = dict(crop.get("transform_kwargs") or {})
    if contract["modality"] == "depth":
        from handpose.transforms.depth import DepthCropTransform

        cube: Any = crop["cube_mm"]
        if train and crop.get("train_cube_mm"):
            cube = tuple(crop["train_cube_mm"])
        mode = center or (crop["train_center"] if train else crop["eval_center"])
        try:
            return DepthCropTransform(
                out_size=int(contract["input_size"]), cube=cube, augment=augment, center=mode, **extra
            )
        except TypeError as exc:
            raise HandposeError(f"data.transform_kwargs: {exc}") from None
    from handpose.transforms.rgb import RGBCropTransform

    extra.setdefault("output_space", contract["output_space"])
    extra.setdefault("target_skeleton", contract["skeleton"])
    try:
        return RGBCropTransform(out_size=int(contract["input_size"]), augment=augment, **extra)
    except TypeError as exc:
        raise HandposeError(f"data.transform_kwargs: {exc}") from None
