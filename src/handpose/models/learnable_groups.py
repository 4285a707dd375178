"""Learnable Joint Groups (Li, Gao and Sang, AAAI'21): a 2.5D RGB hand pose network whose joints pick their branch.

Pipeline (facts from ``moranli-aca/LearnableGroups-Hand:nets/Net.py``, see ``docs/models.md``):

1. A stacked hourglass gives heatmaps and features at 1/4 of the crop; two residual blocks turn
   ``[heatmaps, features]`` into a shared 32-channel map.
2. K group branches (small U-nets, no weight sharing; run side by side as grouped convolutions)
   refine the shared map; optional NDDR fusion mixes the K branch outputs once.
3. Each branch has a heatmap head and a depth head; soft-argmax with a learnable per-joint beta
   gives ``u, v`` and the depth map integrated under the same softmax gives a relative depth — every
   branch predicts all J joints.
4. A selector (J x K logits) picks, per joint, which branch's prediction is used: during training a
   relaxed one-hot sample (Gumbel-softmax / Concrete) under an annealed temperature, at evaluation a
   hard argmax (deterministic; the reference samples at test time too, available as
   ``eval_selection="sample"``).

Output (``"uvz"`` space, see :mod:`handpose.batch`): ``joints`` ``(B, J, 3)`` with ``u, v`` in [-1, 1]
across the crop and ``z = (z - z_root) / scale``. :func:`lift_to_camera` turns it into camera
millimetres with the crop intrinsics, a root depth and a scale.

Example:
    >>> model = create_model("ljg_k3", features=32, stem_channels=16, depth=2)
    >>> model.eval()(torch.zeros(1, 3, 64, 64))["joints"].shape
    torch.Size([1, 21, 3])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch import nn
from torch.distributions import RelaxedOneHotCategorical

from handpose.codecs.uvz import decode_uvz
from handpose.errors import HandposeError
from handpose.models.backbones.hourglass import StackedHourglass
from handpose.models.layers import ConvBNReLU, NDDRFusion, ResBlock2d, SoftArgmax2d, check_image, group_cat
from handpose.models.registry import register_alias, register_model
from handpose.skeleton import Skeleton

EvalSelection = Literal["hard", "sample", "soft"]
Grouping = Literal["learned", "manual", "single"]

# The reference initialises the selector weight to this constant: equal logits, a uniform prior over groups.
SELECTOR_INIT = 0.5


@dataclass
class TemperatureSchedule:
    """Step-wise linear annealing of the Gumbel-softmax temperature: ``max(floor, start - decay * (step // every))``.

    The paper starts at 5 and subtracts 0.1 every 1000 steps toward 0 (not checked in code: the
    reference repository has no training code). ``floor`` keeps the temperature positive, which the
    Concrete distribution requires; with the defaults it is reached at step 49,000 (the same rule as
    :func:`handpose.training.schedule.temperature_at`, which the training loop applies each step).

    Attributes:
        start: Temperature at step 0.
        decay: Amount subtracted at each decay point.
        every: Steps between decay points.
        floor: Smallest temperature returned.
    """

    start: float = 5.0
    decay: float = 0.1
    every: int = 1000
    floor: float = 0.1

    def __post_init__(self) -> None:
        if self.every <= 0 or self.floor <= 0 or self.start <= 0 or self.decay < 0:
            raise ValueError(f"bad temperature schedule {self}")

    def __call__(self, step: int) -> float:
        return self.value(step)

    def value(self, step: int) -> float:
        """Temperature to use at optimisation step ``step`` (0-based)."""
        drops = max(int(step), 0) // self.every
        return max(self.floor, self.start - self.decay * drops)

    def state_dict(self) -> dict[str, float | int]:
        return asdict(self)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for key in ("start", "decay", "every", "floor"):
            if key in state:
                setattr(self, key, type(getattr(self, key))(state[key]))
        self.__post_init__()


class GroupBranches(nn.Module):
    """K group U-nets at heatmap resolution, packed as grouped convolutions (no weight sharing).

    Each group's U-net follows the reference's per-group branch: a 1x1 entry conv and a residual block
    at full resolution, two stride-2 residual downsamples, a transposed conv up, a skip merge and
    another transposed conv, then ``[up, residual, entry]`` concatenated, squeezed by a 1x1 conv and a
    final residual block. The input side must be divisible by 4.

    Args:
        num_groups: K.
        channels: Channels of each group's U-net (32 in the reference).

    ``forward`` takes the shared ``(B, C, H, W)`` map and returns the group-major ``(B, K C, H, W)``
    outputs (group ``g`` in channels ``g C .. (g + 1) C``).
    """

    def __init__(self, num_groups: int, channels: int) -> None:
        super().__init__()
        k, c = num_groups, channels
        self.num_groups = k
        self.entry = ConvBNReLU(k * c, k * c, kernel_size=1, groups=k)
        self.res = ResBlock2d(k * c, k * c, groups=k)
        self.down1 = ResBlock2d(k * c, k * c, stride=2, groups=k)
        self.down2 = ResBlock2d(k * c, k * c, stride=2, groups=k)
        self.up2 = _up(k * c, k * c, k)
        self.merge1 = ConvBNReLU(2 * k * c, k * c, kernel_size=1, groups=k)
        self.up1 = _up(k * c, k * c, k)
        self.merge0 = ConvBNReLU(3 * k * c, 2 * k * c, kernel_size=1, groups=k)
        self.exit = ResBlock2d(2 * k * c, k * c, groups=k)

    def forward(self, shared: torch.Tensor) -> torch.Tensor:
        k = self.num_groups
        e = self.entry(shared.repeat(1, k, 1, 1) if k > 1 else shared)
        r = self.res(e)
        d1 = self.down1(r)
        d2 = self.down2(d1)
        u1 = self.up1(self.merge1(group_cat([self.up2(d2), d1], k)))
        return self.exit(self.merge0(group_cat([u1, r, e], k)))


def _up(in_channels: int, out_channels: int, groups: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1, groups=groups, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def _head(channels: int, out_channels: int, groups: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels, channels, 3, padding=1, groups=groups),
        nn.ReLU(inplace=True),
        nn.Conv2d(channels, out_channels, 3, padding=1, groups=groups),
    )


def manual_groups(skel: Skeleton) -> list[tuple[int, ...]]:
    """The paper's hand-designed grouping: thumb, index finger, everything else (other fingers, wrist, palm).

    Derived from :attr:`Skeleton.fingers`; joints outside any finger join the last group.
    """
    fingers = skel.fingers
    missing = [f for f in ("thumb", "index") if f not in fingers]
    if missing:
        raise ValueError(f"skeleton {skel.name} lacks the {' and '.join(missing)} finger(s) needed for manual groups")
    thumb, index = set(fingers["thumb"]), set(fingers["index"])
    rest = tuple(i for i in range(skel.num_joints) if i not in thumb and i not in index)
    return [tuple(sorted(thumb)), tuple(sorted(index)), rest]


class LearnableGroupsNet(nn.Module):
    """Hourglass + K group branches + (optional) NDDR fusion + per-joint group selection; 2.5D output.

    Args:
        skeleton: Joints to predict.
        num_groups: K, the number of group branches.
        grouping: ``"learned"`` (Gumbel-softmax selector), ``"manual"`` (:func:`manual_groups`, K = 3)
            or ``"single"`` (one branch for every joint, the baseline; K = 1).
        fusion: Apply NDDR fusion after the branch U-nets (needs K >= 2).
        stacks: Hourglass stacks.
        features: Hourglass width.
        depth: Hourglass recursion depth.
        num_modules: Residual modules per hourglass stage.
        stem_channels: Width of the first residual block on ``[heatmaps, features]`` (128 in the reference).
        branch_channels: Width of the shared map and of every branch (32 in the reference).
        beta_init: Initial soft-argmax sharpness (the reference leaves PyTorch's default init of its
            depthwise conv; a constant 10 gives a peaked softmax from the start and trains faster).
        temperature: Initial Gumbel-softmax temperature (a buffer, saved with the weights).
        eval_selection: Selection at evaluation: ``"hard"`` argmax one-hot (default, deterministic),
            ``"sample"`` a relaxed one-hot sample as in the reference, or ``"soft"`` the softmax of
            ``logits / temperature``.
        input_size: Crop side the model will see (optional; the network is fully convolutional, this
            only checks that the side suits the hourglass depth).

    Outputs of ``forward(image)``:
        ``joints`` ``(B, J, 3)`` (uvz), ``uv`` ``(B, J, 2)``, ``depth`` ``(B, J)``, ``heatmaps`` (the
        hourglass heatmaps, ``(B, J, S/4, S/4)``), ``group_joints`` ``(B, K, J, 3)`` (every branch's
        prediction) and, in training mode only, ``backbone_heatmaps`` ``(B, stacks, J, S/4, S/4)``.
    """

    # Buffers (registered in __init__), declared for the type checker.
    temperature: torch.Tensor
    fixed_assignment: torch.Tensor

    def __init__(
        self,
        skeleton: Skeleton,
        num_groups: int = 3,
        grouping: Grouping = "learned",
        fusion: bool = True,
        stacks: int = 1,
        features: int = 256,
        depth: int = 4,
        num_modules: int = 2,
        stem_channels: int = 128,
        branch_channels: int = 32,
        beta_init: float = 10.0,
        temperature: float = 5.0,
        eval_selection: EvalSelection = "hard",
        input_size: int | None = None,
    ) -> None:
        super().__init__()
        j = skeleton.num_joints
        self.side_multiple = 4 * 2 ** max(depth, 2)  # stride 4, then the hourglass levels and the U-nets' halvings
        if input_size is not None and (input_size < self.side_multiple or input_size % self.side_multiple):
            raise HandposeError(
                f"learnable groups with hourglass depth {depth} need an input side that is a multiple of "
                f"{self.side_multiple}, got {input_size}"
            )
        self.input_size = input_size
        if grouping == "single":
            num_groups = 1
        elif grouping == "manual":
            num_groups = 3
        elif grouping != "learned":
            raise HandposeError(f"unknown grouping {grouping!r}")
        if not 1 <= num_groups <= j:
            raise HandposeError(f"num_groups must be in [1, {j}], got {num_groups}")
        if fusion and num_groups < 2:
            raise HandposeError("NDDR fusion needs at least two groups")
        if eval_selection not in ("hard", "sample", "soft"):
            raise HandposeError(f"unknown eval_selection {eval_selection!r}")
        self.num_joints = j
        self.num_groups = num_groups
        self.grouping = grouping
        self.eval_selection = eval_selection

        self.backbone = StackedHourglass(j, stacks=stacks, features=features, depth=depth, num_modules=num_modules)
        self.shared = nn.Sequential(ResBlock2d(j + features, stem_channels), ResBlock2d(stem_channels, branch_channels))
        k, c = num_groups, branch_channels
        self.branches = GroupBranches(k, c)
        self.fusion = NDDRFusion(k, c) if fusion else None
        self.heatmap_head = _head(k * c, k * j, k)
        self.depth_head = _head(k * c, k * j, k)
        # One beta per (group, joint): every group's readout is its own.
        self.readout = SoftArgmax2d(k * j, beta_init)

        if grouping == "learned":
            self.selector_logits: nn.Parameter | None = nn.Parameter(torch.full((j, num_groups), SELECTOR_INIT))
            fixed = torch.zeros(j, num_groups)
        else:
            self.selector_logits = None
            fixed = torch.zeros(j, num_groups)
            groups = manual_groups(skeleton) if grouping == "manual" else [tuple(range(j))]
            for g, members in enumerate(groups):
                fixed[list(members), g] = 1.0
        # A fixed assignment is part of the architecture, not a learned weight: keep it out of checkpoints.
        self.register_buffer("fixed_assignment", fixed, persistent=False)
        self.register_buffer("temperature", torch.tensor(float(temperature)))

    # -- temperature and selection ---------------------------------------------------------------
    def set_temperature(self, value: float) -> None:
        """Set the Gumbel-softmax temperature (a positive float); it is stored with the weights."""
        if not value > 0:
            raise ValueError(f"temperature must be positive, got {value}")
        self.temperature.fill_(float(value))

    def selection_probabilities(self) -> torch.Tensor:
        """``(J, K)`` softmax of the selector logits (the fixed one-hot for manual and single groupings)."""
        if self.selector_logits is None:
            return self.fixed_assignment
        return torch.softmax(self.selector_logits, dim=1)

    def assignment(self) -> torch.Tensor:
        """``(J,)`` group index of each joint under the hard (argmax) selection."""
        if self.selector_logits is None:
            return self.fixed_assignment.argmax(dim=1)
        return self.selector_logits.argmax(dim=1)

    def _selection(self) -> torch.Tensor:
        if self.selector_logits is None:
            return self.fixed_assignment
        logits = self.selector_logits
        mode = "sample" if self.training else self.eval_selection
        if mode == "sample" and (torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()):
            raise HandposeError("a sampled joint-group selection cannot be exported; use eval_selection='hard'")
        if mode == "sample":
            return RelaxedOneHotCategorical(self.temperature, logits=logits).rsample()
        if mode == "soft":
            return torch.softmax(logits / self.temperature, dim=1)
        # Built from a comparison rather than one_hot so that it exports to ONNX as plain ops.
        groups = torch.arange(self.num_groups, device=logits.device)
        return (logits.argmax(dim=1, keepdim=True) == groups).to(logits.dtype)

    def param_groups(self) -> list[dict[str, Any]]:
        """Named parameter groups ``selector``, ``fusion`` and ``rest`` (empty ones left out), for per-group rates."""
        selector = [self.selector_logits] if self.selector_logits is not None else []
        fusion = list(self.fusion.parameters()) if self.fusion is not None else []
        special = {id(p) for p in selector + fusion}
        rest = [p for p in self.parameters() if id(p) not in special]
        groups = [{"name": "selector", "params": selector}, {"name": "fusion", "params": fusion}]
        groups.append({"name": "rest", "params": rest})
        return [g for g in groups if g["params"]]

    # -- forward ------------------------------------------------------------------------------------
    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        check_image(image, 3, self.side_multiple, model="learnable groups")
        heatmaps, features = self.backbone(image)
        shared = self.shared(torch.cat((heatmaps[-1], features), dim=1))
        branch_out = self.branches(shared)
        if self.fusion is not None:
            branch_out = self.fusion(branch_out)
        uv, _, (depth,) = self.readout(self.heatmap_head(branch_out), self.depth_head(branch_out))
        b, k, j = uv.shape[0], self.num_groups, self.num_joints
        per_group = torch.cat((uv, depth.unsqueeze(-1)), dim=-1).reshape(b, k, j, 3)
        selection = self._selection()
        joints = torch.einsum("jk,bkjc->bjc", selection, per_group)
        out = {
            "joints": joints,
            "uv": joints[..., :2],
            "depth": joints[..., 2],
            "heatmaps": heatmaps[-1],
            "group_joints": per_group,
        }
        if self.training:
            out["backbone_heatmaps"] = torch.stack(heatmaps, dim=1)
        return out


class HourglassPose(nn.Module):
    """The hourglass alone with a soft-argmax readout: Learnable Groups' first training stage (2D joints only).

    The paper first trains the hourglass on 2D joints (L1), then the whole network from it. The
    hourglass sits under ``backbone.`` exactly as in :class:`LearnableGroupsNet`, so a checkpoint of
    this model initialises any Learnable Groups variant through ``model.init_from`` (its readout is
    named apart and is left out).

    Args:
        skeleton: Joints to predict.
        stacks: Hourglass stacks.
        features: Hourglass width.
        depth: Hourglass recursion depth.
        num_modules: Residual modules per hourglass stage.
        beta_init: Initial soft-argmax sharpness.
        input_size: Crop side the model will see (checked against the hourglass depth).

    Outputs of ``forward(image)`` (``"uvz"`` space with no depth): ``joints`` ``(B, J, 3)`` with ``u, v``
    of the last stack's heatmaps and ``z = 0`` (the root depth: validation then ranks checkpoints by
    their 2D error), ``uv``, ``heatmaps`` and, in training mode, ``backbone_heatmaps``.
    """

    def __init__(
        self,
        skeleton: Skeleton,
        stacks: int = 1,
        features: int = 256,
        depth: int = 4,
        num_modules: int = 2,
        beta_init: float = 10.0,
        input_size: int | None = None,
    ) -> None:
        super().__init__()
        self.side_multiple = 4 * 2**depth
        if input_size is not None and (input_size < self.side_multiple or input_size % self.side_multiple):
            raise HandposeError(
                f"an hourglass of depth {depth} needs an input side that is a multiple of {self.side_multiple}, "
                f"got {input_size}"
            )
        self.input_size = input_size
        j = skeleton.num_joints
        self.backbone = StackedHourglass(j, stacks=stacks, features=features, depth=depth, num_modules=num_modules)
        self.hourglass_readout = SoftArgmax2d(j, beta_init)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        check_image(image, 3, self.side_multiple, model="the Learnable Groups hourglass")
        heatmaps, _ = self.backbone(image)
        uv, _, _ = self.hourglass_readout(heatmaps[-1])
        joints = torch.cat((uv, torch.zeros_like(uv[..., :1])), dim=-1)
        out = {"joints": joints, "uv": uv, "heatmaps": heatmaps[-1]}
        if self.training:
            out["backbone_heatmaps"] = torch.stack(heatmaps, dim=1)
        return out


def lift_to_camera(
    joints_uvz: torch.Tensor, K_crop: torch.Tensor, crop_size: int, root_depth: torch.Tensor, scale: torch.Tensor
) -> torch.Tensor:
    """2.5D ``(B, J, 3)`` -> camera-space mm: ``z = z_rel * scale + z_root``, then back-projection with the crop intrinsics.

    The reference evaluates with the ground-truth root depth and scale (``eval_RHD.py: P2W``); pass
    estimates when they are not known. See :func:`handpose.codecs.uvz.decode_uvz`.

    Args:
        joints_uvz: Model output ``joints``.
        K_crop: ``(B, 3, 3)`` intrinsics of the crop, in pixels of the ``crop_size`` crop.
        crop_size: Crop side in pixels.
        root_depth: ``(B,)`` root joint depth in mm.
        scale: ``(B,)`` scale-bone length in mm.
    """
    return decode_uvz(joints_uvz, K_crop, crop_size, root_depth, scale)


def param_groups(
    model: LearnableGroupsNet, lr_selector: float = 1e-1, lr_fusion: float = 1e-2, lr_rest: float = 1e-4
) -> list[dict[str, Any]]:
    """Optimizer parameter groups giving the selector, the NDDR fusion and the rest their own learning rates.

    The defaults are the paper's (1e-1, 1e-2, 1e-4; not checked in code). Empty groups are left out.
    Each group carries a ``"name"`` key for logging. (The training loop reaches the same split through
    ``model.param_groups()`` and ``optim.group_lr``.)
    """
    rates = {"selector": lr_selector, "fusion": lr_fusion, "rest": lr_rest}
    return [{**g, "lr": rates[g["name"]]} for g in model.param_groups()]


# -- registry ----------------------------------------------------------------------------------------
def _check_skeleton(needs_fingers: bool, num_groups: int) -> Any:
    def check(skel: Skeleton) -> str | None:
        if skel.num_joints < num_groups:
            return f"{num_groups} groups need at least {num_groups} joints"
        if needs_fingers and not {"thumb", "index"} <= set(skel.fingers):
            return "manual groups need a thumb and an index finger"
        return None

    return check


def _build(skeleton: Skeleton, **kwargs: Any) -> LearnableGroupsNet:
    return LearnableGroupsNet(skeleton, **kwargs)


# Suffixes of learnable_groups_*; each name was ljg_<suffix> before (kept as an alias).
_VARIANTS: Sequence[tuple[str, dict[str, Any], str]] = (
    ("one_group", {"grouping": "single", "fusion": False}, "one branch for all joints (baseline)"),
    ("manual", {"grouping": "manual", "fusion": True}, "manual groups thumb / index / rest, NDDR fusion"),
    ("manual_nofusion", {"grouping": "manual", "fusion": False}, "manual groups thumb / index / rest, no fusion"),
    ("k2", {"num_groups": 2, "fusion": True}, "K=2 learned groups, NDDR fusion"),
    ("k3", {"num_groups": 3, "fusion": True}, "K=3 learned groups, NDDR fusion (the released RHD model)"),
    ("k3_nofusion", {"num_groups": 3, "fusion": False}, "K=3 learned groups, no fusion"),
    ("k4", {"num_groups": 4, "fusion": True}, "K=4 learned groups, NDDR fusion"),
    ("k5", {"num_groups": 5, "fusion": True}, "K=5 learned groups, NDDR fusion"),
    ("k21", {"num_groups": 21, "fusion": True}, "K=21 learned groups (one per joint), NDDR fusion"),
)
# The paper's Table 3 (number of groups) is the no-fusion setting; its K=3 row is k3_nofusion.
_NOFUSION_SWEEP: Sequence[tuple[str, dict[str, Any], str]] = tuple(
    (f"k{k}_nofusion", {"num_groups": k, "fusion": False}, f"K={k} learned groups, no fusion (Table 3)")
    for k in (2, 4, 5, 21)
)

for _suffix, _defaults, _what in (*_VARIANTS, *_NOFUSION_SWEEP):
    _name = f"learnable_groups_{_suffix}"
    _groups = 1 if _defaults.get("grouping") == "single" else int(_defaults.get("num_groups", 3))
    register_model(
        _name,
        modality="rgb",
        family="learnable_groups",
        input_size=256,
        output_space="uvz",
        loss="learnable_groups_l1",
        description=f"Learnable Joint Groups (AAAI'21): hourglass, {_what}; 2.5D",
        defaults=_defaults,
        skeleton_check=_check_skeleton(_defaults.get("grouping") == "manual", _groups),
    )(_build)
    if (_suffix, _defaults, _what) in _VARIANTS:
        register_alias(f"ljg_{_suffix}", _name)

# Stage one of the paper's training: the hourglass alone on 2D joints, L1 in 256-crop pixels (no depth term).
register_model(
    "learnable_groups_hourglass",
    modality="rgb",
    family="learnable_groups",
    input_size=256,
    output_space="uvz",
    loss="learnable_groups_l1",
    loss_params={"units": "uvz", "z_weight": 0.0},
    description="Learnable Joint Groups stage 1: the hourglass alone on 2D joints (initialises the others)",
)(HourglassPose)
