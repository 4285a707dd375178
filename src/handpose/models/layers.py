"""Small building blocks shared by the RGB models: residual blocks, soft-argmax with a learnable beta, NDDR fusion.

Several independent branches (Learnable Groups' K group networks) run as one network of grouped
convolutions: channels are group-major (group ``g`` owns channels ``g C .. (g + 1) C``), every conv
has ``groups=K`` and every BatchNorm is per channel, so no weight is shared and the result equals K
separate networks — at a fraction of the per-call overhead.

Coordinates: :class:`SoftArgmax2d` returns ``u, v`` in [-1, 1] across the map, with -1 and +1 on the
outer edges of the first and last cells (the ``align_corners=False`` convention of
``torch.nn.functional.grid_sample``), so a heatmap covering the whole crop yields the crop's
normalised coordinates whatever its resolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from handpose.errors import HandposeError


class ConvBNReLU(nn.Sequential):
    """``k x k`` convolution (same padding, optionally grouped), batch norm, ReLU."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1, groups: int = 1
    ) -> None:
        super().__init__(
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                stride=stride,
                padding=kernel_size // 2,
                groups=groups,
                bias=False,
            ),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class ResBlock2d(nn.Module):
    """Post-activation residual block: two 3x3 conv-BN, a projected skip when shape changes, ReLU after the sum.

    Args:
        in_channels: Input width.
        out_channels: Output width.
        stride: 2 halves the resolution (both in the body and the skip).
        groups: Convolution groups; ``groups`` independent blocks side by side (channels group-major).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, groups=groups, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, groups=groups, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        if in_channels == out_channels and stride == 1:
            self.skip: nn.Module = nn.Identity()
        else:
            self.skip = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, groups=groups, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + self.skip(x))


def group_cat(tensors: list[torch.Tensor], groups: int) -> torch.Tensor:
    """Concatenate group-major channel blocks group by group: ``[a_0, b_0, a_1, b_1, ...]``.

    With ``groups`` networks packed side by side as grouped convolutions, channel ``c`` of group ``g``
    sits at ``g * C + c``; a plain ``torch.cat`` would mix the groups' channels in the next grouped conv.
    """
    parts = [t.reshape(t.shape[0], groups, t.shape[1] // groups, t.shape[2], t.shape[3]) for t in tensors]
    joined = torch.cat(parts, dim=2)
    return joined.reshape(joined.shape[0], -1, joined.shape[3], joined.shape[4])


def check_image(image: torch.Tensor, channels: int, multiple: int, size: int | None = None, model: str = "") -> None:
    """Raise :class:`HandposeError` unless ``image`` is ``(B, channels, S, S)`` with ``S`` a multiple of ``multiple``.

    Skipped while tracing for export, where shapes are symbolic.
    """
    if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export():
        return
    shape = tuple(image.shape)
    ok = len(shape) == 4 and shape[1] == channels and shape[2] == shape[3] and shape[2] % multiple == 0
    if ok and size is not None:
        ok = shape[2] == size
    if not ok:
        want = f"{size}x{size}" if size is not None else f"square, side a multiple of {multiple}"
        raise HandposeError(f"{model}: expected a (B, {channels}, S, S) image ({want}), got {shape}")


def normalized_grid(size: int, device: torch.device | None = None, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Cell-centre coordinates of ``size`` cells spanning [-1, 1]: ``(2 i + 1) / size - 1``."""
    return (torch.arange(size, device=device, dtype=dtype or torch.float32) * 2.0 + 1.0) / size - 1.0


class SoftArgmax2d(nn.Module):
    """Spatial softmax of ``beta_j * heatmap_j`` and its expected position; optionally integrates extra maps under it.

    This is the "latent heatmap" readout: ``beta`` is one learnable sharpness per joint (the Learnable
    Groups reference applies it as a depthwise 1x1 conv without bias).

    Args:
        num_joints: Heatmap channels.
        beta_init: Initial sharpness (the same for every joint).

    Returns from ``forward(heatmaps, *maps)``:
        ``(uv, probabilities, integrated)``: ``(B, J, 2)`` expected ``u, v`` in [-1, 1], the
        ``(B, J, H, W)`` softmax maps, and one ``(B, J)`` expectation per extra ``(B, J, H, W)`` map.
    """

    def __init__(self, num_joints: int, beta_init: float = 1.0) -> None:
        super().__init__()
        self.beta = nn.Parameter(torch.full((num_joints,), float(beta_init)))

    def forward(
        self, heatmaps: torch.Tensor, *maps: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        b, j, h, w = heatmaps.shape
        logits = heatmaps * self.beta.view(1, j, 1, 1)
        prob = torch.softmax(logits.reshape(b, j, h * w), dim=-1).reshape(b, j, h, w)
        xs = normalized_grid(w, heatmaps.device, heatmaps.dtype)
        ys = normalized_grid(h, heatmaps.device, heatmaps.dtype)
        u = (prob.sum(dim=2) * xs).sum(dim=-1)
        v = (prob.sum(dim=3) * ys).sum(dim=-1)
        integrated = [(prob * m).sum(dim=(2, 3)) for m in maps]
        return torch.stack((u, v), dim=-1), prob, integrated


class NDDRFusion(nn.Module):
    """Neural discriminative dimensionality reduction across K task branches (Gao et al., CVPR'19).

    Every branch gets back a 1x1 conv over the concatenation of all branches, then BN and ReLU. The
    conv starts as a weighted identity: ``own_weight`` on the branch's own channels and
    ``(1 - own_weight) / (K - 1)`` on each other branch's matching channels (0.9 / 0.05 for K = 3 in
    the Learnable Groups reference), so the fused network starts near the unfused one.

    The K per-branch ``(K C -> C)`` convs are stored as one ``(K C -> K C)`` conv whose output rows
    ``g C .. (g + 1) C`` are branch ``g``'s conv (the same parameters, one kernel call); input and
    output are group-major ``(B, K C, H, W)`` tensors.

    Args:
        num_branches: K.
        channels: Channels per branch.
        own_weight: Initial identity weight on the branch's own block.
    """

    def __init__(self, num_branches: int, channels: int, own_weight: float = 0.9) -> None:
        super().__init__()
        if num_branches < 2:
            raise ValueError("NDDR fusion needs at least two branches")
        self.num_branches = num_branches
        self.channels = channels
        self.conv = nn.Conv2d(num_branches * channels, num_branches * channels, 1, bias=True)
        self.norm = nn.BatchNorm2d(num_branches * channels)
        self.reset_identity(own_weight)

    @torch.no_grad()
    def reset_identity(self, own_weight: float = 0.9) -> None:
        """Re-initialise the conv to the weighted identity described in the class docstring."""
        k, c = self.num_branches, self.channels
        other = (1.0 - own_weight) / (k - 1)
        mix = torch.full((k, k), other)
        mix.fill_diagonal_(own_weight)
        weight = torch.kron(mix, torch.eye(c))  # block (g, h) = mix[g, h] * I
        self.conv.weight.copy_(weight.view(k * c, k * c, 1, 1))
        bias = self.conv.bias
        assert bias is not None  # built with bias=True
        bias.zero_()

    def block(self, branch: int, source: int) -> torch.Tensor:
        """``(C, C)`` weights branch ``branch``'s output takes from branch ``source``'s channels."""
        c = self.channels
        return self.conv.weight[branch * c : (branch + 1) * c, source * c : (source + 1) * c, 0, 0]

    def forward(self, stacked: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(stacked)))
