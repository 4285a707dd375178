"""FingerPoseNet (Tewolde et al., Neural Networks 187, 107315, 2025) — our interpretation.

Only the abstract is public: a pre-trained ResNet-50 base, six finger-level sub-tasks (five fingers
and the palm) that each extract, enhance and regress their own features with residual feature
sharing "scaled up" across all sub-tasks, and a multitask fusion layer. Every size and rule below
is our choice, documented in ``docs/models.md``:

- base: torchvision-layout ResNet-50 (ImageNet weights load with
  :func:`~handpose.models.backbones.resnet.load_torchvision_weights`, the stem summed to one channel),
  its stages 2-4 merged by a top-down pyramid into T at stride 8 (12x12 at 96 px), ``channels`` wide;
- one sub-task per :attr:`Skeleton.subtask_groups` entry; sub-task k extracts ``F_k`` from T with a
  bottleneck;
- residual feature sharing, CrossInfoNet's ``T - P0`` generalised: sub-task k receives
  ``S_k = sum_{j != k} a_kj (T - F_j)`` with learned scalars ``a_kj`` (initialised to 1/(K-1), so with
  two tasks and ``a = 1`` this is exactly CrossInfoNet's cross connection) and enhances
  ``concat(F_k, S_k)`` with a second bottleneck (``sharing=False``: enhances ``F_k`` alone);
- each sub-task regresses its own joints through a stride-2 convolution, flatten, FC, FC;
- joints in two groups (finger bases, in the finger and the palm group) are predicted by both;
- fusion: per-joint learned convex weights combine the sub-task estimates of every joint (shared
  ones from both predictors), and an MLP over all sub-task features and estimates adds a correction
  (its last layer starts at zero, so training starts from the combined estimates);
  ``fusion=False``: the sub-task estimates are combined by a plain average.

Output space ``"cube"``. Outputs: ``joints`` (B, J, 3), ``joints_<group>`` (B, n_group, 3) per
sub-task, ``joints_combined`` (B, J, 3) before the fusion correction.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from typing import Any

import torch
from torch import Tensor, nn

from handpose import skeleton as skeletons
from handpose.models.backbones.fpn import CrossInfoFPN
from handpose.models.backbones.resnet import build_resnet, load_torchvision_weights
from handpose.models.depth_layers import check_input_size, fc_bn_relu, head_bottleneck
from handpose.models.registry import register_model


class ResidualSharing(nn.Module):
    """``S_k = sum_{j != k} a_kj (T - F_j)`` for K tasks, with learned scalar weights ``a``."""

    off_diagonal: Tensor

    def __init__(self, num_tasks: int):
        super().__init__()
        init = torch.full((num_tasks, num_tasks), 1.0 / max(1, num_tasks - 1))
        self.weight = nn.Parameter(init.fill_diagonal_(0.0))
        self.register_buffer("off_diagonal", 1.0 - torch.eye(num_tasks), persistent=False)

    def forward(self, shared: Tensor, task_features: Sequence[Tensor]) -> list[Tensor]:
        residuals = torch.stack([shared - f for f in task_features])  # (K, B, C, H, W)
        mixed = torch.matmul(self.weight * self.off_diagonal, residuals.flatten(1))
        return list(mixed.reshape(residuals.shape).unbind(0))


class SubtaskRegressor(nn.Module):
    """Stride-2 3x3 conv, flatten, FC-FC (BatchNorm, ReLU, dropout), linear output of the group's joints."""

    def __init__(self, channels: int, spatial: int, reduced: int, num_joints: int, fc_dim: int, dropout: float):
        super().__init__()
        self.reduce = nn.Sequential(
            nn.Conv2d(channels, reduced, 3, 2, 1, bias=False), nn.BatchNorm2d(reduced), nn.ReLU(inplace=True)
        )
        side = (spatial + 1) // 2
        self.fc1 = fc_bn_relu(reduced * side * side, fc_dim, dropout)
        self.fc2 = fc_bn_relu(fc_dim, fc_dim, dropout)
        self.out = nn.Linear(fc_dim, num_joints * 3)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        features = self.fc2(self.fc1(torch.flatten(self.reduce(x).contiguous(), 1)))
        return self.out(features), features


class FingerPoseNet(nn.Module):
    """Our FingerPoseNet (see the module docstring).

    Args:
        skeleton: Joints to predict; sub-tasks from :attr:`Skeleton.subtask_groups`.
        sharing: Residual feature sharing between sub-tasks.
        fusion: Learned multitask fusion (else the sub-task estimates are averaged).
        backbone: ``resnet50`` (the paper's base), ``resnet34`` or ``resnet18``.
        weights: Optional torchvision ImageNet weight file for the backbone.
        input_size: Side of the square input (96 by default); a multiple of 32.
        in_channels: Input channels.
        width: Backbone width multiplier (weights only load at 1.0).
        channels: Width of T and of every sub-task's features.
        reduced: Channels of each sub-task's map before flattening.
        fc_dim: Width of the sub-task FC layers.
        fusion_dim: Hidden width of the fusion MLP.
        dropout: Drop probability of the FC layers.
    """

    membership: Tensor

    def __init__(
        self,
        skeleton: skeletons.Skeleton,
        sharing: bool = True,
        fusion: bool = True,
        backbone: str = "resnet50",
        weights: str | PathLike | None = None,
        input_size: int = 96,
        in_channels: int = 1,
        width: float = 1.0,
        channels: int = 128,
        reduced: int = 64,
        fc_dim: int = 512,
        fusion_dim: int = 1024,
        dropout: float = 0.3,
    ):
        super().__init__()
        size = check_input_size(input_size)
        self.num_joints = skeleton.num_joints
        self.groups = dict(skeleton.subtask_groups)
        self.sharing = sharing
        self.fusion = fusion
        self.backbone = build_resnet(backbone, in_channels=in_channels, width=width)
        if weights is not None:
            load_torchvision_weights(self.backbone, weights)
        self.neck = CrossInfoFPN(self.backbone.stage_channels[1:], channels)
        t_size = size // 8
        names = list(self.groups)
        self.extract = nn.ModuleDict({g: head_bottleneck(channels, channels) for g in names})
        self.share = ResidualSharing(len(names)) if sharing else None
        enhance_in = 2 * channels if sharing else channels
        self.enhance = nn.ModuleDict({g: head_bottleneck(enhance_in, channels) for g in names})
        self.regress = nn.ModuleDict(
            {g: SubtaskRegressor(channels, t_size, reduced, len(self.groups[g]), fc_dim, dropout) for g in names}
        )
        # membership[j, s] = 1 when slot s of the concatenated sub-task outputs estimates joint j.
        slots = [j for g in names for j in self.groups[g]]
        membership = torch.zeros(self.num_joints, len(slots))
        membership[torch.tensor(slots), torch.arange(len(slots))] = 1.0
        if (membership.sum(1) == 0).any():
            missing = [skeleton.joint_names[j] for j in torch.nonzero(membership.sum(1) == 0).flatten().tolist()]
            raise ValueError(f"joints in no sub-task group: {missing}")
        self.register_buffer("membership", membership, persistent=False)
        if fusion:
            self.slot_logits = nn.Parameter(torch.zeros(len(slots)))
            hidden = fc_bn_relu(len(names) * fc_dim + len(slots) * 3, fusion_dim, dropout)
            fused = nn.Linear(fusion_dim, self.num_joints * 3)
            nn.init.zeros_(fused.weight)
            nn.init.zeros_(fused.bias)
            self.fuse = nn.Sequential(hidden, fused)

    def combine_weights(self) -> Tensor:
        """``(J, slots)`` convex weights turning the concatenated sub-task estimates into one per joint."""
        raw = self.membership
        if self.fusion:
            raw = raw * torch.exp(self.slot_logits - self.slot_logits.max())
        return raw / raw.sum(dim=1, keepdim=True)

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        _, c3, c4, c5 = self.backbone.forward_features(image)
        t = self.neck([c3, c4, c5])[0]
        names = list(self.groups)
        extracted = [self.extract[g](t) for g in names]
        if self.share is not None:
            shared = self.share(t, extracted)
            inputs = [torch.cat([f, s], dim=1) for f, s in zip(extracted, shared)]
        else:
            inputs = extracted
        batch = image.shape[0]
        out: dict[str, Tensor] = {}
        estimates, features = [], []
        for g, x in zip(names, inputs):
            coords, feats = self.regress[g](self.enhance[g](x))
            out[f"joints_{g}"] = coords.reshape(batch, -1, 3)
            estimates.append(coords)
            features.append(feats)
        slots = torch.cat(estimates, dim=1).reshape(batch, -1, 3)
        combined = torch.matmul(self.combine_weights(), slots)
        joints = combined
        if self.fusion:
            delta = self.fuse(torch.cat([*features, slots.flatten(1)], dim=1))
            joints = combined + delta.reshape(batch, self.num_joints, 3)
        return {"joints": joints, "joints_combined": combined, **out}


def _needs_groups(skel: skeletons.Skeleton) -> str | None:
    empty = [g for g, idx in skel.subtask_groups.items() if not idx]
    if len(skel.subtask_groups) < 2 or empty:
        return f"it needs at least two non-empty sub-task groups, got {dict(skel.subtask_groups)}"
    return None


def _builder(sharing: bool, fusion: bool):
    def build(skeleton: skeletons.Skeleton, **kwargs: Any) -> FingerPoseNet:
        kwargs.setdefault("sharing", sharing)
        kwargs.setdefault("fusion", fusion)
        return FingerPoseNet(skeleton, **kwargs)

    return build


_VARIANTS = {
    "fingerposenet": (True, True, "FingerPoseNet (our reading): ResNet-50, 6 sub-tasks, residual sharing, fusion"),
    "fingerposenet_no_sharing": (False, True, "FingerPoseNet ablation: no residual feature sharing"),
    "fingerposenet_no_fusion": (True, False, "FingerPoseNet ablation: sub-task estimates averaged, no fusion"),
}

for _name, (_sharing, _fusion, _description) in _VARIANTS.items():
    register_model(
        _name,
        modality="depth",
        family="fingerposenet",
        input_size=96,
        output_space="cube",
        loss="fingerposenet",
        description=_description,
        defaults={"sharing": _sharing, "fusion": _fusion},
        skeleton_check=_needs_groups,
    )(_builder(_sharing, _fusion))
