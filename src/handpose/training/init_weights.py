"""Initial weights of a fresh run: an ImageNet backbone file (``model.weights``) and/or a checkpoint (``model.init_from``).

``model.init_from: CKPT`` copies every tensor of a ``handpose train`` checkpoint whose name the new
network shares — how Learnable Groups' second stage starts from the hourglass trained alone on 2D
joints (``learnable_groups_hourglass``, whose weights live under the same ``backbone.`` names). A
tensor whose shape differs is refused (a partial copy would silently start from a different network);
tensors only one side has are counted and reported.

Both apply to a fresh run only; a resumed run continues from its own checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from handpose.errors import HandposeError
from handpose.models.backbones.pretrained import NO_WEIGHTS, load_imagenet_backbone


def wants_weights(weights: str | None) -> bool:
    """Whether ``model.weights`` names a file (``None`` and ``"none"`` do not)."""
    return weights is not None and weights.strip().lower() != NO_WEIGHTS


def load_matching(model: nn.Module, checkpoint: str | Path) -> dict[str, Any]:
    """Copy the tensors of a training checkpoint that ``model`` has under the same name.

    Returns:
        ``{"file", "model", "matched", "skipped", "kept"}``: the checkpoint's network, the number of
        tensors copied, checkpoint tensors the model has no place for, and model tensors the checkpoint
        does not hold (left at their initial values).

    Raises:
        HandposeError: An unreadable checkpoint, a tensor whose shape differs, or no tensor in common.
    """
    from handpose.checkpoint_file import read_checkpoint

    if not Path(checkpoint).is_file():
        raise HandposeError(
            "model.init_from: checkpoint not found; train the run it comes from first (for Learnable Groups "
            "configs/learnable_groups/<dataset>_hourglass.yaml) or set model.init_from=null",
            checkpoint,
        )
    contract, weights, _ = read_checkpoint(checkpoint)
    own = model.state_dict()
    matched = {}
    for key, value in weights.items():
        if key not in own:
            continue
        if own[key].shape != value.shape:
            raise HandposeError(
                f"model.init_from: {key} is {tuple(value.shape)} in the checkpoint ({contract.model}) but "
                f"{tuple(own[key].shape)} in the model; refusing a partial initialisation",
                checkpoint,
            )
        matched[key] = value.to(own[key].dtype)
    if not matched:
        raise HandposeError(f"model.init_from: no tensor of {contract.model!r} fits this model", checkpoint)
    with torch.no_grad():
        model.load_state_dict(matched, strict=False)
    return {
        "file": str(checkpoint),
        "model": contract.model,
        "matched": len(matched),
        "skipped": len(weights) - len(matched),
        "kept": len(own) - len(matched),
    }


def initialise(model: nn.Module, weights: str | None, init_from: str | None) -> list[str]:
    """Apply ``model.weights`` then ``model.init_from`` to a freshly built network.

    Returns:
        One report line per source (nothing when neither is set).
    """
    lines = []
    if wants_weights(weights):
        r = load_imagenet_backbone(model, str(weights))
        lines.append(
            f"model.weights: {r['loaded']} tensors of {r['file']} loaded into the {r['arch']} backbone "
            f"({r['skipped']} of the file skipped, {r['missing']} of the backbone not in the file)"
        )
    if init_from:
        r = load_matching(model, init_from)
        lines.append(
            f"model.init_from: {r['matched']} tensors of {r['model']} ({r['file']}) loaded, "
            f"{r['skipped']} of the checkpoint skipped, {r['kept']} of the model kept at their initial values"
        )
    return lines
