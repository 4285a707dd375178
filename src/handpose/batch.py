"""The tensors that flow from the data pipeline into models and losses.

Every data pipeline (depth or RGB, real or synthetic) yields dictionaries with these keys, collated
along a leading batch dimension ``B``; ``J`` is the skeleton's joint count and ``S`` the crop size.
Models read only ``"image"``; losses read the targets; codecs read the geometry to map outputs back
to camera-space millimetres.

Output spaces (``ModelSpec.output_space``) — what a model's ``outputs["joints"]`` means:

- ``"cube"`` (depth models): cube-normalised camera xyz, ``(xyz - centre) / (cube / 2)``
  (see :class:`handpose.geometry.CubeCrop`).
- ``"uvz"`` (2.5D RGB models): crop ``u, v`` scaled to [-1, 1] across the crop, and relative depth
  ``(z - z_root) / scale``.
- ``"rel"`` (3D RGB models): root-relative camera xyz divided by the scale bone length.
"""

from __future__ import annotations

from typing import TypedDict

import torch


class DepthBatch(TypedDict, total=False):
    """A batch of depth crops.

    Attributes:
        image: ``(B, 1, S, S)`` float32 depth normalised to [-1, 1], background +1.
        joints: ``(B, J, 3)`` cube-normalised xyz targets.
        joints_crop: ``(B, J, 3)`` crop u, v in [-1, 1] and normalised depth — for heatmap targets.
        visible: ``(B, J)`` bool.
        center_xyz: ``(B, 3)`` cube centre, mm.
        cube: ``(B, 3)`` cube edge lengths, mm.
        rotation_deg: ``(B,)`` in-plane rotation applied to the crop.
        camera: ``(B, 4)`` fx, fy, cx, cy of the full image.
        joints_xyz: ``(B, J, 3)`` ground-truth camera-space mm (for metrics).
    """

    image: torch.Tensor
    joints: torch.Tensor
    joints_crop: torch.Tensor
    visible: torch.Tensor
    center_xyz: torch.Tensor
    cube: torch.Tensor
    rotation_deg: torch.Tensor
    camera: torch.Tensor
    joints_xyz: torch.Tensor


class RGBBatch(TypedDict, total=False):
    """A batch of RGB crops.

    Attributes:
        image: ``(B, 3, S, S)`` float32, ImageNet mean/std normalised.
        joints: ``(B, J, 3)`` targets in the model's output space (``"uvz"`` or ``"rel"``).
        joints_crop: ``(B, J, 3)`` crop u, v in [-1, 1] and relative depth ``(z - z_root) / scale``.
        joints_rel: ``(B, J, 3)`` root-relative xyz / scale.
        visible: ``(B, J)`` bool.
        root_xyz: ``(B, 3)`` root joint, mm.
        scale: ``(B,)`` scale-bone length, mm.
        K_crop: ``(B, 3, 3)`` intrinsics of the crop (pixels of the S x S crop).
        joints_xyz: ``(B, J, 3)`` ground-truth camera-space mm (for metrics).
    """

    image: torch.Tensor
    joints: torch.Tensor
    joints_crop: torch.Tensor
    joints_rel: torch.Tensor
    visible: torch.Tensor
    root_xyz: torch.Tensor
    scale: torch.Tensor
    K_crop: torch.Tensor
    joints_xyz: torch.Tensor
