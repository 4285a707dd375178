"""ResUnet (Bekiri & Babahenini): a ResNet-34 U-Net with latent heatmaps for 2D and a bone-vector regressor for 3D.

No public code exists for this method; the network below is handpose's design from the paper's
description (see ``docs/models.md`` for every choice we had to make):

- Encoder: ResNet-34 in torchvision's layout (ImageNet weights load by name).
- Decoder: four U-Net blocks, each bilinear x2 upsampling, concatenation with the encoder skip of the
  same resolution (stages at strides 16, 8, 4 and the stem at stride 2), two 3x3 conv-BN-ReLU, and a
  1x1 heatmap conv. The last block's heatmaps are the final ones: 64x64 for a 128x128 crop.
- Latent heatmap representation: a spatial softmax of ``beta_j * heatmap_j`` with a learnable
  per-joint ``beta`` and its expected coordinates give ``uv`` (Iqbal et al. ECCV'18).
- 3D branch: four stages of two 3x3 conv + ReLU and a 2x max-pooling (as the paper's 3D branch)
  walk from the final decoder features (plus the final heatmaps) back down to stride 32,
  concatenating each decoder block's features on the way; two FC
  layers then regress one 3D vector per bone of the skeleton's kinematic tree (20 for a 21-joint
  hand). Joints are the bones summed from the root (:func:`handpose.codecs.bones.bones_to_joints`),
  pinned so the skeleton's root joint sits at the origin.

Output (``"rel"`` space, see :mod:`handpose.batch`): ``joints`` ``(B, J, 3)`` root-relative xyz divided
by the scale-bone length; ``bones`` ``(B, J - 1, 3)`` in the same units; ``uv`` ``(B, J, 2)`` in
[-1, 1] across the crop; ``heatmaps`` (final) and ``heatmaps_s16/s8/s4`` (intermediate).

Example:
    >>> model = create_model("resunet")
    >>> model.eval()(torch.zeros(1, 3, 128, 128))["joints"].shape
    torch.Size([1, 21, 3])
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from handpose.codecs.bones import bones_to_joints
from handpose.errors import HandposeError
from handpose.models.backbones.resnet import build_resnet, load_torchvision_weights
from handpose.models.layers import ConvBNReLU, SoftArgmax2d, check_image
from handpose.models.registry import register_alias, register_model
from handpose.skeleton import Skeleton

# Encoder output strides of the skips the four decoder blocks consume, coarse to fine.
SKIP_STRIDES = (16, 8, 4, 2)


class DecoderBlock(nn.Module):
    """Bilinear x2 upsampling, skip concatenation, two 3x3 conv-BN-ReLU, and a 1x1 heatmap conv."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, num_joints: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            ConvBNReLU(in_channels + skip_channels, out_channels), ConvBNReLU(out_channels, out_channels)
        )
        self.heatmap = nn.Conv2d(out_channels, num_joints, 1)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        x = self.convs(torch.cat((x, skip), dim=1))
        return x, self.heatmap(x)


class ResUnet(nn.Module):
    """ResNet encoder + 4-block U-Net decoder with heatmaps + latent-heatmap 2D + bone-vector 3D branch.

    Args:
        skeleton: Joints to predict; its kinematic tree defines the bones.
        input_size: Square crop side; must be divisible by 32 (fixes the FC input size).
        encoder: ``"resnet34"`` (the paper), ``"resnet18"`` or ``"resnet50"``.
        width: Encoder width multiplier (ImageNet weights load only at 1.0).
        decoder_channels: Output widths of the four decoder blocks, coarse to fine.
        branch_channels: Widths of the four conv + max-pool stages of the 3D branch.
        fc_channels: Width of the first FC layer of the 3D branch.
        beta_init: Initial latent-heatmap sharpness.
        encoder_weights: Optional torchvision ResNet state dict (``.pth`` or ``.safetensors``) for the encoder.
    """

    def __init__(
        self,
        skeleton: Skeleton,
        input_size: int = 128,
        encoder: str = "resnet34",
        width: float = 1.0,
        decoder_channels: Sequence[int] = (256, 128, 64, 32),
        branch_channels: Sequence[int] = (64, 128, 128, 256),
        fc_channels: int = 1024,
        beta_init: float = 10.0,
        encoder_weights: str | PathLike | None = None,
    ) -> None:
        super().__init__()
        if input_size % 32 or input_size < 32:
            raise HandposeError(f"ResUnet input_size must be a positive multiple of 32, got {input_size}")
        if len(decoder_channels) != 4 or len(branch_channels) != 4:
            raise HandposeError("ResUnet needs four decoder widths and four 3D-branch widths")
        self.skeleton_name = skeleton.name
        self.root_index = skeleton.root_index
        self.num_joints = j = skeleton.num_joints
        self.num_bones = len(skeleton.bones)
        self.input_size = input_size

        self.encoder = build_resnet(encoder, in_channels=3, width=width)
        if encoder_weights is not None:
            load_torchvision_weights(self.encoder, encoder_weights)
        c2, c3, c4, c5 = self.encoder.stage_channels
        stem = self.encoder.bn1.num_features
        skips = (c4, c3, c2, stem)
        blocks, channels = [], c5
        for skip, out in zip(skips, decoder_channels, strict=True):
            blocks.append(DecoderBlock(channels, skip, out, j))
            channels = out
        self.decoder = nn.ModuleList(blocks)
        self.latent = SoftArgmax2d(j, beta_init)

        # 3D branch: stride 2 -> 32, taking in the decoder features of strides 4, 8 and 16 on the way down.
        stages, channels = [], decoder_channels[-1] + j
        extra = (0, decoder_channels[2], decoder_channels[1], decoder_channels[0])
        for add, out in zip(extra, branch_channels, strict=True):
            stages.append(nn.Sequential(ConvBNReLU(channels + add, out), ConvBNReLU(out, out)))
            channels = out
        self.branch = nn.ModuleList(stages)
        cells = (input_size // 32) ** 2
        self.regressor = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * cells, fc_channels),
            nn.ReLU(inplace=True),
            nn.Linear(fc_channels, self.num_bones * 3),
        )

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        check_image(image, 3, 32, size=self.input_size, model="ResUnet")
        enc = self.encoder
        s2 = enc.relu(enc.bn1(enc.conv1(image)))
        c2 = enc.layer1(enc.maxpool(s2))
        c3 = enc.layer2(c2)
        c4 = enc.layer3(c3)
        x = enc.layer4(c4)
        features, heatmaps = [], []
        for block, skip in zip(self.decoder, (c4, c3, c2, s2), strict=True):
            x, hm = block(x, skip)
            features.append(x)
            heatmaps.append(hm)
        uv, _, _ = self.latent(heatmaps[-1])

        y = torch.cat((features[-1], heatmaps[-1]), dim=1)
        for i, stage in enumerate(self.branch):
            if i > 0:  # features of the decoder block at the resolution just reached (strides 4, 8, 16)
                y = torch.cat((y, features[3 - i]), dim=1)
            y = F.max_pool2d(stage(y), 2)
        bones = self.regressor(y).reshape(-1, self.num_bones, 3)
        joints = bones_to_joints(bones, self.skeleton_name, anchor_index=self.root_index)
        out = {"joints": joints, "bones": bones, "uv": uv, "heatmaps": heatmaps[-1]}
        for stride, hm in zip(SKIP_STRIDES[:-1], heatmaps[:-1], strict=True):
            out[f"heatmaps_s{stride}"] = hm
        return out


def _check_skeleton(skel: Skeleton) -> str | None:
    roots = sum(1 for p in skel.parents if p < 0)
    if roots != 1:
        return f"bone vectors need one kinematic tree, the skeleton has {roots} roots"
    if skel.scale_bone_indices is None:
        return "the 'rel' output space needs a scale bone"
    return None


def _build(skeleton: Skeleton, **kwargs: Any) -> ResUnet:
    return ResUnet(skeleton, **kwargs)


register_model(
    "resunet",
    modality="rgb",
    family="resunet",
    input_size=128,
    output_space="rel",
    loss="resunet",
    description="ResUnet (Bekiri & Babahenini): ResNet-34 U-Net, latent heatmaps, 20 bone vectors",
    skeleton_check=_check_skeleton,
)(_build)
# The joint-loss variant is the same network with a loss parameter (loss: {joint_weight: 1.0}).
register_alias("resunet_joint_loss", "resunet", loss="resunet", loss_params={"joint_weight": 1.0})
