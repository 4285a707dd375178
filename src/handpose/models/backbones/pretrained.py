"""ImageNet initialisation of the ResNet backbones from torchvision's weight files, checked by SHA-256.

FingerPoseNet (ResNet-50) and ResUnet (ResNet-34) start from ImageNet weights in their papers. Those
files cannot be fetched during training here (and a run should not depend on a download), so a config
names the file (``model.weights: PATH``). A torchvision file name carries the first 8 hex digits of
the file's SHA-256; a file under one of the names below must match the full digest.

Example:
    >>> model = create_model("fingerposenet", skeleton="nyu14")
    >>> load_imagenet_backbone(model, "weights/resnet50-0676ba61.pth")["skipped"]  # fc.weight, fc.bias
    2
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from torch import nn

from handpose.errors import HandposeError
from handpose.models.backbones.resnet import BasicBlock, ResNet, load_torchvision_weights

# Value of model.weights that trains the backbone from scratch on purpose.
NO_WEIGHTS = "none"


@dataclass(frozen=True)
class TorchvisionWeights:
    """One of torchvision's ImageNet-1k (``IMAGENET1K_V1``) ResNet weight files.

    Attributes:
        arch: Architecture name (``resnet50``).
        file: torchvision's file name.
        sha256: SHA-256 of the file.
    """

    arch: str
    file: str
    sha256: str

    @property
    def url(self) -> str:
        return f"https://download.pytorch.org/models/{self.file}"


TORCHVISION_WEIGHTS = {
    w.arch: w
    for w in (
        TorchvisionWeights(
            "resnet18", "resnet18-f37072fd.pth", "f37072fd47e89c5e827621c5baffa7500819f7896bbacec160b1a16c560e07ec"
        ),
        TorchvisionWeights(
            "resnet34", "resnet34-b627a593.pth", "b627a593bcbe140c234610266fe4f8ae95ea42fc881d091c9b6052e6b1d0590f"
        ),
        TorchvisionWeights(
            "resnet50", "resnet50-0676ba61.pth", "0676ba61b6795bbe1773cffd859882e5e297624d384b6993f7c9e683e722fb8a"
        ),
    )
}
_HASHED_NAME = re.compile(r"^[a-z0-9_]+-([0-9a-f]{8})\.pth$")


def find_resnet(model: nn.Module) -> tuple[str, ResNet]:
    """The first torchvision-layout ResNet inside ``model`` and its name prefix (``"backbone."``, ``"encoder."``).

    Raises:
        HandposeError: The model holds none (CrossInfoNet's slim backbone and the hourglass are not
            ImageNet networks).
    """
    for name, module in model.named_modules():
        if isinstance(module, ResNet):
            return (f"{name}." if name else ""), module
    spec = getattr(model, "spec", None)
    what = f"model {spec.name!r}" if spec is not None else type(model).__name__
    raise HandposeError(f"model.weights: {what} has no ImageNet ResNet backbone; set model.weights=none")


def resnet_arch(net: ResNet) -> str:
    """``resnet18``, ``resnet34`` or ``resnet50`` from the layout (``custom`` for anything else)."""
    units = tuple(len(stage) for stage in (net.layer1, net.layer2, net.layer3, net.layer4))
    basic = isinstance(net.layer1[0], BasicBlock)
    layouts: dict[tuple[bool, tuple[int, ...]], str] = {
        (True, (2, 2, 2, 2)): "resnet18",
        (True, (3, 4, 6, 3)): "resnet34",
        (False, (3, 4, 6, 3)): "resnet50",
    }
    return layouts.get((basic, units), "custom")


def where_to_get(arch: str) -> str:
    """One sentence naming torchvision's file for ``arch``, its address and SHA-256."""
    known = TORCHVISION_WEIGHTS.get(arch)
    if known is None:
        return f"no torchvision ImageNet file is known for a {arch} backbone"
    return f"download torchvision's {known.file} from {known.url} (SHA-256 {known.sha256})"


def file_sha256(path: str | PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_weights_file(path: str | PathLike, arch: str) -> Path:
    """The weight file, after checking that it exists and, under a torchvision name, its SHA-256.

    Raises:
        HandposeError: One line: the file is missing (saying where to get it) or its digest is wrong.
    """
    path = Path(path)
    if not path.is_file():
        raise HandposeError(f"model.weights: file not found; {where_to_get(arch)}, or set model.weights=none", path)
    known = {w.file: w for w in TORCHVISION_WEIGHTS.values()}.get(path.name)
    hashed = _HASHED_NAME.match(path.name)
    if known is not None or hashed is not None:
        digest = file_sha256(path)
        expected = known.sha256 if known is not None else hashed.group(1) if hashed is not None else ""
        if not digest.startswith(expected):
            raise HandposeError(
                f"model.weights: SHA-256 {digest[:16]}... does not match {expected[:16]}... of {path.name} "
                "(incomplete or altered download)",
                path,
            )
    return path


def load_imagenet_backbone(model: nn.Module, path: str | PathLike) -> dict[str, Any]:
    """Load a torchvision ImageNet ResNet file into the model's ResNet backbone.

    Returns:
        ``{"file", "arch", "prefix", "loaded", "skipped", "missing"}`` with counts of the file's tensors
        copied, the file's tensors the backbone has no place for (the classifier), and backbone tensors
        the file did not provide.

    Raises:
        HandposeError: No ResNet in the model, a missing or corrupt file, or tensors that do not fit
            (another architecture or a width other than 1.0).
    """
    prefix, net = find_resnet(model)
    arch = resnet_arch(net)
    file = check_weights_file(path, arch)
    report = load_torchvision_weights(model, file, prefix=prefix)
    return {
        "file": str(file),
        "arch": arch,
        "prefix": prefix,
        "loaded": len(report["loaded"]),
        "skipped": len(report["skipped"]),
        "missing": len(report["missing"]),
    }
