"""ResNet backbones: torchvision's ResNet-18/34/50 layout and CrossInfoNet's slim ResNet-50 layout.

The torchvision-layout networks use torchvision's parameter names (``conv1``, ``bn1``,
``layer1.0.conv1``, ``layer1.0.downsample.0``, ``fc``, ...), so an ImageNet state dict written by
torchvision loads with :func:`load_torchvision_weights` — also into a network with a different number
of input channels (the stem filters are summed/averaged over the RGB axis) or without the
classifier. Every network returns its four stage outputs from ``forward_features``.

The slim layout (:func:`slim_resnet50`) follows CrossInfoNet's reference code (Du et al., CVPR 2019,
``dumyy/handpose`` ``netlib/basemodel.py``): a 5x5/32 stride-2 stem, a 3x3 stride-1 max-pool and
quarter-width bottleneck stages (64/128/256/256 output channels, 3/4/6/3 units) that, like TF-slim's
``resnet_v1``, put the stride in the LAST unit of each stage and subsample the identity shortcut
there.

Example:
    >>> net = resnet50(in_channels=1)
    >>> load_torchvision_weights(net, "resnet50-11ad3fa6.pth")
    >>> c2, c3, c4, c5 = net.forward_features(torch.zeros(1, 1, 96, 96))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path

import torch
from torch import Tensor, nn

from handpose.errors import HandposeError

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "SlimResNet",
    "load_torchvision_weights",
    "resnet18",
    "resnet34",
    "resnet50",
    "slim_resnet50",
]


def _scaled(channels: int, width: float) -> int:
    # Multiples of 8 keep oneDNN's blocked channels_last kernels on their fast path.
    return max(8, round(channels * width / 8) * 8) if width != 1.0 else channels


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with an identity or projection shortcut (ResNet-18/34)."""

    expansion = 1

    def __init__(self, in_channels: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + shortcut)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (carrying the stride), 1x1 expand; ReLU after the shortcut sum.

    Args:
        in_channels: Input channels.
        planes: Bottleneck width; the block outputs ``planes * expansion`` channels.
        stride: Stride of the 3x3 convolution.
        downsample: Shortcut module, ``None`` for identity.
        expansion: Output/bottleneck width ratio (4 in every ResNet here).
    """

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        expansion: int = 4,
    ):
        super().__init__()
        out_channels = planes * expansion
        self.conv1 = nn.Conv2d(in_channels, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + shortcut)


def projection(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    """The 1x1 convolution + BatchNorm shortcut used when a block changes shape."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels))


class ResNet(nn.Module):
    """ResNet in torchvision's layout (v1.5: the stride sits in the 3x3 convolution).

    Args:
        block: :class:`BasicBlock` or :class:`Bottleneck`.
        layers: Units per stage, e.g. ``(3, 4, 6, 3)``.
        in_channels: Input channels (1 for depth).
        width: Multiplier on every stage width (1.0 = torchvision; weights only load at 1.0).
        num_classes: Size of the ``fc`` classifier; ``None`` builds none.

    Attributes:
        stage_channels: Output channels of the four stages.
        stage_strides: Output strides of the four stages (4, 8, 16, 32).
    """

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        layers: Sequence[int],
        in_channels: int = 3,
        width: float = 1.0,
        num_classes: int | None = None,
    ):
        super().__init__()
        if len(layers) != 4 or min(layers) < 1:
            raise HandposeError(f"ResNet needs four stages of at least one unit, got {list(layers)}")
        if width <= 0:
            raise HandposeError(f"ResNet width multiplier must be positive, got {width}")
        self.in_channels = in_channels
        self.width = width
        stem = _scaled(64, width)
        self.conv1 = nn.Conv2d(in_channels, stem, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        channels = stem
        stages = []
        for i, (units, planes) in enumerate(zip(layers, (64, 128, 256, 512))):
            stage, channels = self._stage(block, channels, _scaled(planes, width), units, 1 if i == 0 else 2)
            stages.append(stage)
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        expansion = block.expansion
        self.stage_channels: tuple[int, ...] = tuple(_scaled(p, width) * expansion for p in (64, 128, 256, 512))
        self.stage_strides: tuple[int, ...] = (4, 8, 16, 32)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes) if num_classes else None
        _init_resnet(self)

    @staticmethod
    def _stage(
        block: type[BasicBlock] | type[Bottleneck], in_channels: int, planes: int, units: int, stride: int
    ) -> tuple[nn.Sequential, int]:
        out_channels = planes * block.expansion
        downsample = (
            projection(in_channels, out_channels, stride) if stride != 1 or in_channels != out_channels else None
        )
        blocks = [block(in_channels, planes, stride, downsample)]
        blocks += [block(out_channels, planes) for _ in range(units - 1)]
        return nn.Sequential(*blocks), out_channels

    def stem(self, x: Tensor) -> Tensor:
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))

    def forward_features(self, x: Tensor) -> list[Tensor]:
        """The four stage outputs (strides 4, 8, 16, 32)."""
        c2 = self.layer1(self.stem(x))
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        return [c2, c3, c4, c5]

    def forward(self, x: Tensor) -> Tensor:
        """Class logits when a classifier exists, else the globally pooled last stage ``(B, C)``."""
        pooled = torch.flatten(self.avgpool(self.forward_features(x)[-1]), 1)
        return pooled if self.fc is None else self.fc(pooled)


def resnet18(in_channels: int = 3, width: float = 1.0, num_classes: int | None = None) -> ResNet:
    """ResNet-18 (torchvision names)."""
    return ResNet(BasicBlock, (2, 2, 2, 2), in_channels, width, num_classes)


def resnet34(in_channels: int = 3, width: float = 1.0, num_classes: int | None = None) -> ResNet:
    """ResNet-34 (torchvision names)."""
    return ResNet(BasicBlock, (3, 4, 6, 3), in_channels, width, num_classes)


def resnet50(in_channels: int = 3, width: float = 1.0, num_classes: int | None = None) -> ResNet:
    """ResNet-50 (torchvision names)."""
    return ResNet(Bottleneck, (3, 4, 6, 3), in_channels, width, num_classes)


RESNETS = {"resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50}


def build_resnet(name: str, in_channels: int = 3, width: float = 1.0) -> ResNet:
    """A torchvision-layout ResNet by name (``resnet18``, ``resnet34``, ``resnet50``), without classifier."""
    try:
        factory = RESNETS[name]
    except KeyError:
        raise HandposeError(f"unknown backbone {name!r}; available: {', '.join(RESNETS)}") from None
    return factory(in_channels=in_channels, width=width)


# -- CrossInfoNet's slim layout ------------------------------------------------------------------


class SlimBottleneck(Bottleneck):
    """TF-slim ``resnet_v1`` bottleneck: like :class:`Bottleneck`, but a same-shape unit with a stride
    subsamples its identity shortcut (1x1 max-pool) instead of projecting it."""

    def __init__(self, in_channels: int, planes: int, stride: int = 1, expansion: int = 4):
        out_channels = planes * expansion
        if in_channels != out_channels:
            shortcut: nn.Module | None = projection(in_channels, out_channels, stride)
        elif stride != 1:
            shortcut = nn.MaxPool2d(1, stride)
        else:
            shortcut = None
        super().__init__(in_channels, planes, stride, shortcut, expansion)


class SlimResNet(nn.Module):
    """CrossInfoNet's backbone: a quarter-width ResNet-50 trained from scratch.

    Input 96x96 -> stem 48x48x32 -> stages 24x24x64, 12x12x128, 6x6x256, 3x3x256 (at ``width=1``).

    Args:
        in_channels: Input channels.
        width: Multiplier on every width (1.0 = the reference).
        base_depths: Bottleneck widths of the four stages (outputs are 4x these).
        units: Units per stage.
        stem_channels: Output channels of the 5x5 stem convolution.
    """

    def __init__(
        self,
        in_channels: int = 1,
        width: float = 1.0,
        base_depths: Sequence[int] = (16, 32, 64, 64),
        units: Sequence[int] = (3, 4, 6, 3),
        stem_channels: int = 32,
    ):
        super().__init__()
        if len(base_depths) != 4 or len(units) != 4 or min(units) < 1:
            raise HandposeError("SlimResNet needs four stages of at least one unit")
        stem = _scaled(stem_channels, width)
        # TF's conv2d_same pads (k-1)//2 on both sides for stride 2 and an odd kernel: same as padding=2 here.
        self.conv1 = nn.Conv2d(in_channels, stem, 5, 2, 2, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 1, 1)
        channels = stem
        stages = []
        for depth, count in zip(base_depths, units):
            planes = _scaled(depth, width)
            # Stride 2 in the last unit of each stage, as slim's resnet_v1_block does.
            blocks = [
                SlimBottleneck(channels if i == 0 else planes * 4, planes, 2 if i == count - 1 else 1)
                for i in range(count)
            ]
            stages.append(nn.Sequential(*blocks))
            channels = planes * 4
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.stage_channels: tuple[int, ...] = tuple(_scaled(d, width) * 4 for d in base_depths)
        self.stage_strides: tuple[int, ...] = (4, 8, 16, 32)
        _init_resnet(self)

    def forward_features(self, x: Tensor) -> list[Tensor]:
        """The four stage outputs (strides 4, 8, 16, 32)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        c2 = self.layer1(x)
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        return [c2, c3, c4, c5]

    def forward(self, x: Tensor) -> list[Tensor]:
        return self.forward_features(x)


def slim_resnet50(in_channels: int = 1, width: float = 1.0) -> SlimResNet:
    """CrossInfoNet's reference backbone (see :class:`SlimResNet`)."""
    return SlimResNet(in_channels=in_channels, width=width)


def _init_resnet(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


# -- weights -------------------------------------------------------------------------------------


def _read_state_dict(source: str | PathLike | Mapping[str, Tensor]) -> dict[str, Tensor]:
    if isinstance(source, Mapping):
        return dict(source)
    path = Path(source)
    if not path.is_file():
        raise HandposeError("weight file not found", path=path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any parse failure is the file's fault, reported in one line
        raise HandposeError(f"cannot read weights: {type(exc).__name__}: {exc}", path=path) from None
    if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise HandposeError("not a state dict of tensors", path=path)
    return dict(state)


def adapt_stem(weight: Tensor, in_channels: int) -> Tensor:
    """Stem filters for ``in_channels`` inputs made from filters trained on ``weight.shape[1]`` inputs.

    The filters are averaged over the input axis and repeated, scaled so that a constant image gives
    the same response as before; for one channel this is the sum over the RGB axis.
    """
    if weight.shape[1] == in_channels:
        return weight
    mean = weight.mean(dim=1, keepdim=True) * (weight.shape[1] / in_channels)
    return mean.repeat(1, in_channels, 1, 1).contiguous()


def load_torchvision_weights(
    model: nn.Module, source: str | PathLike | Mapping[str, Tensor], prefix: str = ""
) -> dict[str, list[str]]:
    """Load a torchvision ResNet state dict into ``model`` (or into its sub-module under ``prefix``).

    Args:
        model: A :class:`ResNet` (any in_channels, width 1.0), or a model holding one.
        source: ``.pth``/``.pt`` (read with ``weights_only=True``), ``.safetensors``, or a state dict.
        prefix: Where the ResNet sits inside ``model``, e.g. ``"backbone."``.

    Returns:
        ``{"loaded": [...], "skipped": [...], "missing": [...]}``: keys copied, keys of the file
        the model has no place for (e.g. ``fc`` when there is no classifier), and model keys under
        ``prefix`` the file did not provide.

    Raises:
        HandposeError: The file cannot be read, or a tensor's shape does not fit.
    """
    state = _read_state_dict(source)
    own = model.state_dict()
    loaded, skipped = [], []
    updates: dict[str, Tensor] = {}
    for key, value in state.items():
        target = prefix + key
        if target not in own:
            skipped.append(key)
            continue
        if key == "conv1.weight" and value.ndim == 4 and own[target].ndim == 4:
            value = adapt_stem(value, own[target].shape[1])
        if own[target].shape != value.shape:
            if key.startswith("fc."):
                skipped.append(key)
                continue
            raise HandposeError(
                f"weights do not fit {target}: file {tuple(value.shape)} vs model {tuple(own[target].shape)}"
                " (torchvision weights need width=1.0)",
                path=None if isinstance(source, Mapping) else source,
            )
        updates[target] = value.to(own[target].dtype)
        loaded.append(key)
    if not loaded:
        raise HandposeError(
            f"no tensor of the weights matches the model under prefix {prefix!r}",
            path=None if isinstance(source, Mapping) else source,
        )
    model.load_state_dict(updates, strict=False)
    missing = [k for k in own if k.startswith(prefix) and k not in updates and not k.endswith("num_batches_tracked")]
    return {"loaded": loaded, "skipped": skipped, "missing": missing}
