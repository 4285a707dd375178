"""Feature extractors shared by the networks: ResNets (torchvision layout and CrossInfoNet's slim layout), FPN."""

from handpose.models.backbones.fpn import CrossInfoFPN
from handpose.models.backbones.resnet import (
    ResNet,
    SlimResNet,
    build_resnet,
    load_torchvision_weights,
    resnet18,
    resnet34,
    resnet50,
    slim_resnet50,
)

__all__ = [
    "CrossInfoFPN",
    "ResNet",
    "SlimResNet",
    "build_resnet",
    "load_torchvision_weights",
    "resnet18",
    "resnet34",
    "resnet50",
    "slim_resnet50",
]
