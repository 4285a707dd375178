"""Holistic baseline: a ResNet, global average pooling and an FC regressor of all joints at once.

The comparison point for the structured models (CrossInfoNet, FingerPoseNet): same input and
output space (``"cube"``), no joint grouping. Output: ``joints`` (B, J, 3).
"""

from __future__ import annotations

from os import PathLike
from typing import Any

import torch
from torch import Tensor, nn

from handpose import skeleton as skeletons
from handpose.models.backbones.resnet import build_resnet, load_torchvision_weights
from handpose.models.registry import register_model


class HolisticRegressor(nn.Module):
    """Backbone -> global average pool -> FC (ReLU, dropout) -> FC to ``J * 3``.

    Args:
        skeleton: Joints to predict.
        backbone: ``resnet18``, ``resnet34`` or ``resnet50``.
        weights: Optional torchvision ImageNet weight file for the backbone.
        in_channels: Input channels.
        width: Backbone width multiplier.
        hidden: Width of the hidden FC layer.
        dropout: Drop probability after the hidden layer.
        input_size: Side of the square input. Global pooling serves any side of at least 32 pixels;
            the argument exists so that a checkpoint's contract can name its crop size like every model's.
    """

    def __init__(
        self,
        skeleton: skeletons.Skeleton,
        backbone: str = "resnet50",
        weights: str | PathLike | None = None,
        in_channels: int = 1,
        width: float = 1.0,
        hidden: int = 1024,
        dropout: float = 0.3,
        input_size: int = 96,
    ):
        super().__init__()
        if input_size < 32:
            raise ValueError(f"input_size must be at least 32 (the backbone downsamples 32x), got {input_size}")
        self.num_joints = skeleton.num_joints
        self.backbone = build_resnet(backbone, in_channels=in_channels, width=width)
        if weights is not None:
            load_torchvision_weights(self.backbone, weights)
        self.head = nn.Sequential(
            nn.Linear(self.backbone.stage_channels[-1], hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, self.num_joints * 3),
        )

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        pooled = torch.flatten(self.backbone.forward_features(image)[-1].mean(dim=(2, 3)), 1)
        return {"joints": self.head(pooled).reshape(image.shape[0], self.num_joints, 3)}


def _builder(backbone: str):
    def build(skeleton: skeletons.Skeleton, **kwargs: Any) -> HolisticRegressor:
        kwargs.setdefault("backbone", backbone)
        return HolisticRegressor(skeleton, **kwargs)

    return build


for _backbone in ("resnet50", "resnet18"):
    register_model(
        f"holistic_{_backbone}",
        modality="depth",
        family="holistic",
        input_size=96,
        output_space="cube",
        loss="depth_joints_l2",
        description=f"Holistic baseline: {_backbone.replace('resnet', 'ResNet-')} + FC regression of all joints",
        defaults={"backbone": _backbone},
    )(_builder(_backbone))
