"""Losses of the RGB models: Learnable Joint Groups' weighted L1 (Eq. 10), ResUnet's heatmap + 2D + bone loss.

Both read targets from an :class:`handpose.batch.RGBBatch`: ``joints`` in the model's output space,
``joints_xyz`` (camera mm, Learnable Groups in camera units) and, for ResUnet's 2D terms,
``joints_crop`` (crop ``u, v`` in [-1, 1]). Non-finite target entries (labels a dataset does not
have) are left out of every term.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from handpose.codecs.bones import joints_to_bones
from handpose.codecs.heatmap import HeatmapTargets, heatmap_target
from handpose.errors import HandposeError
from handpose.losses.registry import register_loss
from handpose.skeleton import Skeleton


def _target(batch: Mapping[str, torch.Tensor], key: str) -> torch.Tensor:
    if key not in batch:
        raise HandposeError(f"the batch has no {key!r} target (keys: {', '.join(sorted(batch))})")
    return batch[key]


def masked_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference over the finite entries of ``target`` (labels a dataset lacks are NaN)."""
    finite = torch.isfinite(target)
    diff = torch.where(finite, pred - torch.nan_to_num(target), torch.zeros_like(pred)).abs()
    return diff.sum() / finite.sum().clamp_min(1)


def half_squared_l2(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``1/2 * sum |pred - target|^2`` over everything but the batch axis, averaged over the batch (NaN targets left out)."""
    finite = torch.isfinite(target)
    diff = torch.where(finite, pred - torch.nan_to_num(target), torch.zeros_like(pred))
    return 0.5 * diff.square().sum() / max(pred.shape[0], 1)


class LearnableGroupsLoss(nn.Module):
    """Learnable Groups' Eq. 10: L1 on the joints with the depth term weighted by ``z_weight`` (the paper's beta = 20).

    Eq. 10 names camera-space ``X, Y, Z``; the reference repository has no training code to say more.
    ``units`` picks where the L1 is measured:

    - ``"camera_mm"`` (default, Eq. 10 as written): the 2.5D prediction is lifted to camera
      millimetres with the batch's crop intrinsics, ground-truth root depth and scale (as the reference
      evaluates) and compared with ``joints_xyz``: ``mean|dX| + mean|dY| + z_weight * mean|dZ|``.
    - ``"uvz"``: in the 2.5D output space itself, ``u, v`` errors in pixels of a ``uv_pixels``-sided
      crop (the reference's 256-crop pixels) and ``z`` in scale-bone units. One millimetre of depth is
      then worth about 1/30 of a unit against about one pixel per millimetre across the crop, so the
      depth term weighs roughly 40x less than in camera units; ``z_weight: 0`` gives the 2D loss of
      the hourglass stage.

    Args:
        skeleton: Unused; losses are built per skeleton.
        z_weight: Weight of the depth term.
        units: ``"camera_mm"`` or ``"uvz"``.
        uv_pixels: Crop side that one unit of ``[-1, 1]`` is measured against in ``"uvz"`` units
            (error x ``uv_pixels / 2``).
    """

    def __init__(
        self, skeleton: Skeleton, z_weight: float = 20.0, units: str = "camera_mm", uv_pixels: float = 256.0
    ) -> None:
        super().__init__()
        if units not in ("camera_mm", "uvz"):
            raise ValueError(f"units must be 'camera_mm' or 'uvz', got {units!r}")
        self.z_weight = z_weight
        self.units = units
        self.uv_scale = uv_pixels / 2.0

    def forward(
        self, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        pred = outputs["joints"]
        if self.units == "camera_mm":
            from handpose.codecs import decode_batch

            target = _target(batch, "joints_xyz").to(pred.dtype)
            pred = decode_batch(pred, batch, "uvz")
            plane, name = masked_l1(pred[..., :2], target[..., :2]) * 2.0, "xy"  # mean over X, Y -> |dX| + |dY|
        else:
            target = _target(batch, "joints").to(pred.dtype)
            plane, name = masked_l1(pred[..., :2], target[..., :2]) * 2.0 * self.uv_scale, "uv"  # crop pixels
        if not self.z_weight:
            return {"loss": plane, name: plane}
        z = masked_l1(pred[..., 2], target[..., 2]) * self.z_weight
        return {"loss": plane + z, name: plane, "z": z}


class ResUnetLoss(nn.Module):
    """ResUnet's training loss: heatmaps at every decoder scale + 2D latent-heatmap coordinates + bone vectors.

    Terms (each mean-reduced, then weighted):

    - ``heatmap``: MSE between every intermediate heatmap and Gaussian targets of ``sigma`` pixels at
      that map's resolution (sigma is given at the final resolution and halves with each coarser scale),
      which the codec renders into ``batch["heatmap_targets"]`` (``heatmap_targets`` below).
    - ``uv``: L1 between the soft-argmax ``u, v`` and the crop coordinates (``joints_crop``).
    - ``bone``: the paper's bone loss, half the sum over bones of the squared L2 norm of the bone-vector
      error (targets from ``joints`` in "rel" space), averaged over the batch. ``bone_loss: l1``
      gives the mean absolute error instead (the loss before it followed the paper).
    - ``joint``: L1 on the summed joints (off by default; ``loss: {joint_weight: 1.0}`` turns it on).

    Args:
        skeleton: Skeleton giving the kinematic tree of the bone target.
        heatmap_weight: Weight of the heatmap term.
        uv_weight: Weight of the 2D term.
        bone_weight: Weight of the bone term.
        joint_weight: Weight of the joint term.
        sigma: Gaussian sigma in pixels of the final heatmap.
        bone_loss: ``"squared_l2"`` (the paper) or ``"l1"``.
    """

    def __init__(
        self,
        skeleton: Skeleton,
        heatmap_weight: float = 1.0,
        uv_weight: float = 1.0,
        bone_weight: float = 1.0,
        joint_weight: float = 0.0,
        sigma: float = 2.0,
        bone_loss: str = "squared_l2",
    ) -> None:
        super().__init__()
        if bone_loss not in ("squared_l2", "l1"):
            raise ValueError(f"bone_loss must be 'squared_l2' or 'l1', got {bone_loss!r}")
        self.bone_loss = bone_loss
        self.skeleton = skeleton
        self.weights = {"heatmap": heatmap_weight, "uv": uv_weight, "bone": bone_weight, "joint": joint_weight}
        self.sigma = sigma
        self.heatmap_targets = HeatmapTargets("gaussian", sigma) if heatmap_weight else None

    def forward(
        self, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        target = _target(batch, "joints").to(outputs["joints"].dtype)
        terms: dict[str, torch.Tensor] = {}
        if self.weights["heatmap"] or self.weights["uv"]:
            uv_target = _target(batch, "joints_crop")[..., :2].to(outputs["uv"].dtype)
        if self.weights["heatmap"]:
            maps = [outputs["heatmaps"]] + [outputs[k] for k in sorted(outputs) if k.startswith("heatmaps_")]
            total = outputs["heatmaps"].new_zeros(())
            # Joints without a 2D label get no heatmap supervision (not a push towards an empty map).
            labelled = torch.isfinite(uv_target).all(dim=-1).to(outputs["heatmaps"].dtype)[..., None, None]
            cells = labelled.sum().clamp_min(1)
            for hm in maps:
                size = hm.shape[-1]
                goal = heatmap_target(batch, size).to(hm.dtype)
                total = total + ((hm - goal).square() * labelled).sum() / (cells * size * size)
            terms["heatmap"] = total / len(maps)
        if self.weights["uv"]:
            terms["uv"] = masked_l1(outputs["uv"], uv_target)
        if self.weights["bone"]:
            pred_bones = outputs.get("bones")
            if pred_bones is None:
                pred_bones = joints_to_bones(outputs["joints"], self.skeleton)
            bone_target = joints_to_bones(target, self.skeleton)
            if self.bone_loss == "l1":
                terms["bone"] = masked_l1(pred_bones, bone_target)
            else:
                terms["bone"] = half_squared_l2(pred_bones, bone_target)
        if self.weights["joint"]:
            terms["joint"] = masked_l1(outputs["joints"], target)
        weighted = {k: v * self.weights[k] for k, v in terms.items()}
        return {"loss": sum(weighted.values(), target.new_zeros(())), **weighted}


# The classes are the factories: their arguments after the skeleton are the loss's parameters.
register_loss("learnable_groups_l1")(LearnableGroupsLoss)
register_loss("resunet")(ResUnetLoss)
