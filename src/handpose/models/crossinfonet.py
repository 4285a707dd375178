"""CrossInfoNet (Du et al., "CrossInfoNet: Multi-Task Information Sharing Based Hand Pose Estimation", CVPR 2019).

Layer by layer as the reference code builds it (``dumyy/handpose``, ``netlib/basemodel.py``
``basenet2``), for any skeleton with a palm/finger partition (:attr:`Skeleton.palm_indices`,
:attr:`Skeleton.finger_indices`):

- slim quarter-width ResNet-50 (:func:`~handpose.models.backbones.resnet.slim_resnet50`) and its
  FPN (:class:`~handpose.models.backbones.fpn.CrossInfoFPN`), 256 channels per level;
- global heatmap head on the 24x24 level: bottleneck(256/128) -> 3x3 conv -> J maps;
- T = the 12x12x256 level; palm and finger bottlenecks P0, F0 (256/128), each with a heatmap head
  (1x1 conv 256 + ReLU -> 3x3 conv -> maps, bilinearly resized to 24x24);
- cross connection: the palm branch continues from concat(P0, T - F0), the finger branch from
  concat(F0, T - P0) (switch off with ``cross=False``: each continues from its own P0/F0);
- per branch: bottleneck(256/128) -> 2x2 max-pool -> flatten (6x6x256) -> FC 1024 -> FC 1024 ->
  FC to the branch's joints; FC layers with BatchNorm, ReLU and dropout;
- the two 1024-d branch features concatenated (2048-d) -> FC to all joints = ``outputs["joints"]``.

Output space ``"cube"``: ``(xyz - centre) / (cube / 2)``. Outputs: ``joints`` (B, J, 3),
``joints_palm``, ``joints_finger`` (the branch regressions), and with heatmaps on, ``heatmaps``
(B, J, S/4, S/4), ``heatmaps_palm``, ``heatmaps_finger`` (same resolution).

Deliberate choices (see ``docs/models.md``): output layers (last FCs and heatmap convolutions) carry a
bias instead of the reference's BatchNorm unless ``output_batchnorm=True``; dropout drops 0.4 (the
code's ``keep_prob=0.6``; the paper's "dropout rate 0.6" would drop more).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from handpose import skeleton as skeletons
from handpose.models.backbones.fpn import CrossInfoFPN, conv_bn
from handpose.models.backbones.resnet import slim_resnet50
from handpose.models.depth_layers import (
    check_input_size,
    fc_bn_relu,
    head_bottleneck,
    index_buffer,
    needs_partition,
    output_conv,
    output_linear,
)
from handpose.models.registry import register_model


class BranchRegressor(nn.Module):
    """Bottleneck, 2x2 max-pool, flatten, FC-FC (BatchNorm, ReLU, dropout), linear output.

    ``forward`` returns ``(coords (B, n*3), features (B, fc_dim))``; coords are ``None`` when not asked for.
    """

    def __init__(
        self,
        in_channels: int,
        channels: int,
        spatial: int,
        num_joints: int,
        fc_dim: int,
        dropout: float,
        output_batchnorm: bool,
    ):
        super().__init__()
        self.block = head_bottleneck(in_channels, channels)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = fc_bn_relu(channels * (spatial // 2) ** 2, fc_dim, dropout)
        self.fc2 = fc_bn_relu(fc_dim, fc_dim, dropout)
        self.out = output_linear(fc_dim, num_joints * 3, output_batchnorm)

    def forward(self, x: Tensor, coords: bool = True) -> tuple[Tensor | None, Tensor]:
        x = self.pool(self.block(x))
        # Flatten in (C, H, W) order whatever the memory format, so exported graphs match eager ones.
        features = self.fc2(self.fc1(torch.flatten(x.contiguous(), 1)))
        return (self.out(features) if coords else None), features


class CrossInfoNet(nn.Module):
    """The CrossInfoNet network (see the module docstring).

    Args:
        skeleton: Joints to predict; palm/finger partition from the skeleton.
        cross: Use the cross connection (``T - F0`` into the palm branch, ``T - P0`` into the finger branch).
        heatmaps: Build the three heatmap heads (needed for heatmap supervision).
        input_size: Side of the square depth crop (96 in the reference); a multiple of 32.
        in_channels: Input channels.
        width: Backbone width multiplier.
        channels: FPN and head width (256).
        fc_dim: Width of the branch FC layers (1024).
        dropout: Drop probability of the branch FC layers (0.4).
        output_batchnorm: Put BatchNorm (no bias) on the output layers as the reference's slim arg_scope does.
    """

    def __init__(
        self,
        skeleton: skeletons.Skeleton,
        cross: bool = True,
        heatmaps: bool = True,
        input_size: int = 96,
        in_channels: int = 1,
        width: float = 1.0,
        channels: int = 256,
        fc_dim: int = 1024,
        dropout: float = 0.4,
        output_batchnorm: bool = False,
    ):
        super().__init__()
        size = check_input_size(input_size)
        self.num_joints = skeleton.num_joints
        self.cross = cross
        self.with_heatmaps = heatmaps
        # False: forward computes only ``joints`` (what inference uses), skipping the heatmap heads,
        # the 24x24 pyramid level and the branch outputs. Set by ``joints_only()``.
        self.aux_outputs = True
        self.register_buffer("palm_index", index_buffer(skeleton.palm_indices), persistent=False)
        self.register_buffer("finger_index", index_buffer(skeleton.finger_indices), persistent=False)
        n_palm, n_finger = len(skeleton.palm_indices), len(skeleton.finger_indices)

        self.backbone = slim_resnet50(in_channels=in_channels, width=width)
        self.fpn = CrossInfoFPN(self.backbone.stage_channels, channels)
        self.palm_block = head_bottleneck(channels, channels)
        self.finger_block = head_bottleneck(channels, channels)
        if heatmaps:
            self.heatmap_head = nn.Sequential(
                head_bottleneck(channels, channels), output_conv(channels, self.num_joints, 3, output_batchnorm)
            )
            self.palm_heatmap_head = nn.Sequential(
                conv_bn(channels, channels, 1), output_conv(channels, n_palm, 3, output_batchnorm)
            )
            self.finger_heatmap_head = nn.Sequential(
                conv_bn(channels, channels, 1), output_conv(channels, n_finger, 3, output_batchnorm)
            )
        branch_in = 2 * channels if cross else channels
        t_size = size // 8
        self.palm_regressor = BranchRegressor(branch_in, channels, t_size, n_palm, fc_dim, dropout, output_batchnorm)
        self.finger_regressor = BranchRegressor(
            branch_in, channels, t_size, n_finger, fc_dim, dropout, output_batchnorm
        )
        self.hand_out = output_linear(2 * fc_dim, self.num_joints * 3, output_batchnorm)

    def joints_only(self, enabled: bool = True) -> CrossInfoNet:
        """Make ``forward`` return only ``joints`` (the deployed graph); the same joints, less compute."""
        self.aux_outputs = not enabled
        return self

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        heatmaps = self.with_heatmaps and self.aux_outputs
        levels = self.fpn(self.backbone.forward_features(image), finest=0 if heatmaps else 1)
        fine, t = (levels[0], levels[1]) if heatmaps else (None, levels[0])
        p0 = self.palm_block(t)
        f0 = self.finger_block(t)
        if self.cross:
            palm_in = torch.cat([p0, t - f0], dim=1)
            finger_in = torch.cat([f0, t - p0], dim=1)
        else:
            palm_in, finger_in = p0, f0
        palm, palm_features = self.palm_regressor(palm_in, self.aux_outputs)
        finger, finger_features = self.finger_regressor(finger_in, self.aux_outputs)
        hand = self.hand_out(torch.cat([palm_features, finger_features], dim=1))
        batch = image.shape[0]
        out = {"joints": hand.reshape(batch, self.num_joints, 3)}
        if not self.aux_outputs:
            return out
        out["joints_palm"] = palm.reshape(batch, -1, 3)
        out["joints_finger"] = finger.reshape(batch, -1, 3)
        if fine is not None:  # heatmaps requested
            size = fine.shape[-2:]
            out["heatmaps"] = self.heatmap_head(fine)
            out["heatmaps_palm"] = F.interpolate(
                self.palm_heatmap_head(p0), size=size, mode="bilinear", align_corners=False
            )
            out["heatmaps_finger"] = F.interpolate(
                self.finger_heatmap_head(f0), size=size, mode="bilinear", align_corners=False
            )
        return out


def _builder(cross: bool, heatmaps: bool):
    def build(skeleton: skeletons.Skeleton, **kwargs: Any) -> CrossInfoNet:
        kwargs.setdefault("cross", cross)
        kwargs.setdefault("heatmaps", heatmaps)
        return CrossInfoNet(skeleton, **kwargs)

    return build


# Table 1 of the paper: Base, Base + HM, Cross, Cross + HM (the full model).
_VARIANTS = {
    "crossinfonet": (True, True, "CrossInfoNet, full model (cross connection + heatmap supervision)"),
    "crossinfonet_cross": (True, False, "CrossInfoNet ablation: cross connection, no heatmaps"),
    "crossinfonet_base_hm": (False, True, "CrossInfoNet ablation: no cross connection, heatmaps"),
    "crossinfonet_base": (False, False, "CrossInfoNet ablation: baseline, neither"),
}

for _name, (_cross, _hm, _description) in _VARIANTS.items():
    register_model(
        _name,
        modality="depth",
        family="crossinfonet",
        input_size=96,
        output_space="cube",
        loss="crossinfonet",
        # Without heatmap heads there is nothing for the heatmap terms to supervise.
        loss_params={} if _hm else {"heatmap_weight": 0.0},
        description=_description,
        defaults={"cross": _cross, "heatmaps": _hm},
        skeleton_check=needs_partition,
    )(_builder(_cross, _hm))
