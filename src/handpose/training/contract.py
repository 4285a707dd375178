"""The preprocessing contract of a training run (:class:`handpose.contract.Contract`), built from its config."""

from __future__ import annotations

from typing import Any

from handpose import __version__
from handpose import skeleton as skeletons
from handpose.contract import BoxCrop, Contract, DepthCrop, LossSpec, RGBNormalisation
from handpose.errors import HandposeError
from handpose.training.config import RunConfig


def run_contract(cfg: RunConfig, skeleton: str, data: dict[str, Any]) -> Contract:
    """The contract of a run.

    Args:
        cfg: The resolved run config.
        skeleton: Joint order the model predicts.
        data: Facts about the training data: ``dataset``, ``root``, ``split``, ``frames``, ``camera``
            and, for RGB, ``hand_scale_mm``.
    """
    from handpose.models.registry import default_loss, get_spec

    spec = get_spec(cfg.model.name)
    skel = skeletons.get(skeleton)
    input_size = int(cfg.model.input_size or spec.input_size)
    model_kwargs = dict(cfg.model.kwargs)
    if input_size != spec.input_size and "input_size" not in model_kwargs:
        # Networks with size-dependent layers (FC heads) are built for the input they will see.
        model_kwargs["input_size"] = input_size
    transform_kwargs = _plain(cfg.data.transform_kwargs)
    crop: DepthCrop | BoxCrop
    if spec.modality == "depth":
        crop = DepthCrop(
            cube_mm=float(cfg.data.cube),
            train_cube_mm=(float(cfg.data.train_cube[0]), float(cfg.data.train_cube[1]))
            if cfg.data.train_cube
            else None,
            train_center=cfg.data.center,
            eval_center=cfg.data.eval_center,
            transform_kwargs=transform_kwargs,
        )
    else:
        crop = BoxCrop(transform_kwargs=transform_kwargs)
    loss_name, loss_params = default_loss(cfg.model.name, cfg.loss.name, cfg.loss.params)
    return Contract(
        model=spec.name,
        skeleton=skel.name,
        modality=spec.modality,
        input_size=input_size,
        output_space=spec.output_space,
        crop=crop,
        in_channels=int(spec.in_channels),
        model_kwargs=model_kwargs,
        family=spec.family,
        joint_names=tuple(skel.joint_names),
        rgb=RGBNormalisation() if spec.modality == "rgb" else None,
        camera=data.get("camera"),
        # The hand size assumed when lifting an unlabelled photo's 2.5D joints to millimetres.
        hand_scale_mm=data.get("hand_scale_mm") if spec.modality == "rgb" else None,
        loss=LossSpec(loss_name, loss_params),
        training_data={k: data[k] for k in ("dataset", "root", "split", "frames") if k in data},
        handpose_version=__version__,
    )


def build_contract(cfg: RunConfig, skeleton: str, data: dict[str, Any]) -> dict[str, Any]:
    """:func:`run_contract` in its stored form (what checkpoints hold as a hyper-parameter)."""
    return run_contract(cfg, skeleton, data).to_dict()


def _plain(value: Any) -> Any:
    """``value`` reduced to JSON types (tuples become lists)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise HandposeError(f"data.transform_kwargs holds a {type(value).__name__}; only plain values are allowed")
