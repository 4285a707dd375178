"""Crops with exact inverses and augmentation; :func:`make_transform` builds the one a contract describes."""

from __future__ import annotations

from typing import Any, cast

from handpose.contract import BoxCrop, Contract, DepthCrop
from handpose.errors import HandposeError
from handpose.hand_center import CENTER_MODES, CenterMode


def make_transform(contract: Contract, train: bool, augment: bool = False, center: str | None = None) -> Any:
    """The crop transform a contract describes (training, evaluation and prediction all build it here).

    Args:
        contract: The preprocessing contract.
        train: Use the training settings (cube range, training centre) instead of the evaluation ones.
        augment: Apply augmentation (training only).
        center: Override the centre mode (``"given"`` or ``"detect"`` at prediction time).

    Returns:
        A :class:`~handpose.transforms.depth.DepthCropTransform` or
        :class:`~handpose.transforms.rgb.RGBCropTransform`.
    """
    crop = contract.crop
    extra = dict(crop.transform_kwargs)
    if isinstance(crop, DepthCrop):
        from handpose.transforms.depth import DepthCropTransform

        cube: float | tuple[float, float] = crop.cube_mm
        if train and crop.train_cube_mm:
            cube = crop.train_cube_mm
        mode = center or (crop.train_center if train else crop.eval_center)
        if mode not in CENTER_MODES:
            raise HandposeError(f"unknown centre mode {mode!r}; use {', '.join(CENTER_MODES)}")
        try:
            return DepthCropTransform(
                out_size=contract.input_size, cube=cube, augment=augment, center=cast(CenterMode, mode), **extra
            )
        except TypeError as exc:
            raise HandposeError(f"data.transform_kwargs: {exc}") from None
    assert isinstance(crop, BoxCrop)
    from handpose.transforms.rgb import RGBCropTransform

    rgb = contract.rgb
    extra.setdefault("output_space", contract.output_space)
    extra.setdefault("target_skeleton", contract.skeleton)
    if rgb is not None:
        extra.update(mean=rgb.mean, std=rgb.std, scale=rgb.scale)
    try:
        return RGBCropTransform(out_size=contract.input_size, augment=augment, **extra)
    except TypeError as exc:
        raise HandposeError(f"data.transform_kwargs: {exc}") from None
