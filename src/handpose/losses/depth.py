"""Losses of the depth networks: CrossInfoNet's weighted L2 sum, FingerPoseNet's sub-task sum, plain L2.

Every coordinate and heatmap term has the reference's form ``tf.nn.l2_loss(pred - gt) / B``, i.e.
half the sum of squares divided by the batch size (CrossInfoNet's coordinate terms may instead sum
joint distances), on cube-normalised coordinates
(:mod:`handpose.batch`, output space ``"cube"``). Every labelled joint is supervised, occluded or not
(a hidden fingertip still has a place in 3D, and the benchmarks score it); only joints a dataset left
unlabelled (non-finite targets) contribute nothing. Weight decay is not part of these losses: the
reference's L2 regulariser (1e-5 on weights, not on BatchNorm parameters) belongs to the optimiser.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from handpose import skeleton as skeletons
from handpose.codecs.heatmap import HeatmapTargets, heatmap_target
from handpose.errors import HandposeError
from handpose.losses.registry import register_loss


def half_sum_squares(pred: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
    """``0.5 * sum((pred - target)^2) / B``; ``weight`` (broadcast against the difference) masks entries.

    Masked entries may hold non-finite targets: they are zeroed before the product (``nan * 0`` is nan).
    """
    return 0.5 * _masked_difference(pred, target, weight).pow(2).sum() / pred.shape[0]


def _masked_difference(pred: Tensor, target: Tensor, weight: Tensor | None) -> Tensor:
    """``(pred - target) * weight``, finite where the weight is 0 even if the target is not."""
    if weight is None:
        return pred - target
    target = torch.where(weight > 0, target, pred.detach())
    return (pred - target) * weight


def sum_of_distances(pred: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
    """``sum of per-joint Euclidean distances / B`` over ``(B, J, 3)`` joints: the mean-error metric as a loss.

    Unlike the squared form, every millimetre counts alike, so training does not spend itself on the
    few worst joints at the expense of the typical one. ``weight`` (``(B, J, 1)``) masks joints.
    """
    diff = _masked_difference(pred, target, weight)
    # The epsilon keeps the gradient finite at a perfect prediction.
    return (diff.pow(2).sum(dim=-1) + 1e-12).sqrt().sum() / pred.shape[0]


COORDINATE_LOSSES = {"l2": half_sum_squares, "distance": sum_of_distances}


def _need(
    outputs: dict[str, Tensor], batch: dict[str, Tensor], out_keys: tuple[str, ...], batch_keys: tuple[str, ...]
) -> None:
    for key in out_keys:
        if key not in outputs:
            raise HandposeError(f"the model output has no {key!r} (has {sorted(outputs)})")
    for key in batch_keys:
        if key not in batch:
            raise HandposeError(f"the batch has no {key!r} (has {sorted(batch)})")


def _labelled(target: Tensor) -> Tensor:
    """``(B, J)`` mask (0/1, the target's dtype) of the joints with finite targets."""
    return torch.isfinite(target).all(dim=-1).to(target.dtype)


class JointsL2(nn.Module):
    """``0.5 * sum of squares / B`` between ``outputs["joints"]`` and ``batch["joints"]``."""

    def forward(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> dict[str, Tensor]:
        _need(outputs, batch, ("joints",), ("joints",))
        labelled = _labelled(batch["joints"])
        loss = half_sum_squares(outputs["joints"], batch["joints"], labelled[..., None])
        return {"loss": loss, "joints": loss.detach()}


class CrossInfoNetLoss(nn.Module):
    """CrossInfoNet's objective (reference ``train_and_test.py``; paper Eq. 7 with alpha 0.01, beta 1).

    ``total = 0.5 * (hw * (L_hm + L_hm_palm + L_hm_finger) + L_joints + L_palm + L_finger)``.

    The coordinate terms are the reference's squared form (``coordinates="l2"``) or, as an option, the
    sum of joint distances (``"distance"``, :func:`sum_of_distances`; the demo's choice: on a short run
    it lowers the typical joint's error).

    Heatmap targets are CrossInfoNet's blurred one-hot maps
    (:func:`handpose.codecs.heatmap.crossinfonet_heatmaps`), which the codec renders into
    ``batch["heatmap_targets"]`` at the resolution of the predicted maps (``heatmap_targets`` below).

    Args:
        skeleton: Supplies the palm/finger partition.
        heatmap_weight: ``hw``; 0 trains the coordinate outputs only (the "no HM" ablations).
        coordinates: ``"l2"`` or ``"distance"``.
    """

    palm: Tensor
    finger: Tensor

    def __init__(self, skeleton: skeletons.Skeleton, heatmap_weight: float = 0.01, coordinates: str = "l2"):
        super().__init__()
        if coordinates not in COORDINATE_LOSSES:
            raise HandposeError(f"loss coordinates must be one of {sorted(COORDINATE_LOSSES)}, got {coordinates!r}")
        self.coordinate_loss = COORDINATE_LOSSES[coordinates]
        self.heatmap_weight = float(heatmap_weight)
        self.heatmap_targets = HeatmapTargets("crossinfonet") if self.heatmap_weight > 0 else None
        self.register_buffer("palm", torch.tensor(skeleton.palm_indices, dtype=torch.long), persistent=False)
        self.register_buffer("finger", torch.tensor(skeleton.finger_indices, dtype=torch.long), persistent=False)

    def forward(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> dict[str, Tensor]:
        _need(outputs, batch, ("joints", "joints_palm", "joints_finger"), ("joints",))
        target = batch["joints"]
        labelled = _labelled(target)[..., None]
        coords = self.coordinate_loss
        terms = {
            "joints": coords(outputs["joints"], target, labelled),
            "joints_palm": coords(outputs["joints_palm"], target[:, self.palm], labelled[:, self.palm]),
            "joints_finger": coords(outputs["joints_finger"], target[:, self.finger], labelled[:, self.finger]),
        }
        total = terms["joints"] + terms["joints_palm"] + terms["joints_finger"]
        if self.heatmap_weight > 0:
            _need(outputs, batch, ("heatmaps", "heatmaps_palm", "heatmaps_finger"), ("joints_crop",))
            maps = heatmap_target(batch, outputs["heatmaps"].shape[-1])
            labelled_uv = _labelled(batch["joints_crop"][..., :2])[..., None, None]
            hm = {
                "heatmaps": half_sum_squares(outputs["heatmaps"], maps, labelled_uv),
                "heatmaps_palm": half_sum_squares(
                    outputs["heatmaps_palm"], maps[:, self.palm], labelled_uv[:, self.palm]
                ),
                "heatmaps_finger": half_sum_squares(
                    outputs["heatmaps_finger"], maps[:, self.finger], labelled_uv[:, self.finger]
                ),
            }
            total = total + self.heatmap_weight * (hm["heatmaps"] + hm["heatmaps_palm"] + hm["heatmaps_finger"])
            terms.update({k: self.heatmap_weight * v for k, v in hm.items()})
        out = {k: 0.5 * v.detach() for k, v in terms.items()}
        out["loss"] = 0.5 * total
        return out


class SubtaskLoss(nn.Module):
    """FingerPoseNet's objective (our choice): the final joints plus every sub-task's own joints.

    ``total = L_joints + subtask_weight * sum_k L_k`` with ``L_k`` on the joints of sub-task group ``k``
    (``outputs["joints_<group>"]``), all in the ``0.5 * sum of squares / B`` form.
    """

    def __init__(self, skeleton: skeletons.Skeleton, subtask_weight: float = 1.0):
        super().__init__()
        self.subtask_weight = float(subtask_weight)
        self.groups = {name: tuple(idx) for name, idx in skeleton.subtask_groups.items()}

    def forward(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> dict[str, Tensor]:
        keys = tuple(f"joints_{g}" for g in self.groups)
        _need(outputs, batch, ("joints", *keys), ("joints",))
        target = batch["joints"]
        labelled = _labelled(target)[..., None]
        out = {"joints": half_sum_squares(outputs["joints"], target, labelled)}
        total = out["joints"]
        for name, idx in self.groups.items():
            index = list(idx)
            term = self.subtask_weight * half_sum_squares(
                outputs[f"joints_{name}"], target[:, index], labelled[:, index]
            )
            out[f"joints_{name}"] = term
            total = total + term
        result = {k: v.detach() for k, v in out.items()}
        result["loss"] = total
        return result


@register_loss("depth_joints_l2")
def _joints_l2(skeleton: skeletons.Skeleton) -> nn.Module:
    return JointsL2()


@register_loss("crossinfonet")
def _crossinfonet(skeleton: skeletons.Skeleton, heatmap_weight: float = 0.01, coordinates: str = "l2") -> nn.Module:
    return CrossInfoNetLoss(skeleton, heatmap_weight, coordinates)


@register_loss("fingerposenet")
def _fingerposenet(skeleton: skeletons.Skeleton, subtask_weight: float = 1.0) -> nn.Module:
    return SubtaskLoss(skeleton, subtask_weight)
