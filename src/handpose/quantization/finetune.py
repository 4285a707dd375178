"""Quantisation-aware fine-tuning of a depth checkpoint and its static int8 package.

``handpose quantize CKPT OUT`` (:func:`quantize_checkpoint`):

1. folds BatchNorm into the convolutions (the weights an exporter deploys; the BatchNorms stay as
   biases, so the weights still load into the registered architecture);
2. rounds weights and activations as the int8 graph will (:class:`QuantSimulation`), with activation
   ranges calibrated on crops of the training data;
3. fine-tunes for a few steps on augmented training crops with the deployed output only (``joints``,
   L2 in the model's output space; BatchNorm statistics frozen, dropout off, as deployed);
4. writes a model package with the fine-tuned fp32 weights, their fp32 ONNX graph and the static int8
   graph calibrated on the same crops (``--runtime onnx-int8``).

``--steps 0`` skips fine-tuning: plain post-training quantisation.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from handpose.contract import Contract
from handpose.errors import HandposeError
from handpose.quantization import DEFAULT_CALIBRATION, DEFAULT_LR, DEFAULT_STEPS
from handpose.quantization.simulate import QuantSimulation


def training_source(contract: Contract, dataset: str | None, root: str | None, split: str | None) -> dict[str, Any]:
    """Dataset, root, split and frame count to fine-tune on, defaulting to the checkpoint's training data.

    With the defaults only the frames the checkpoint trained on are used (when training split off its
    validation frames, they are the end of the split and stay unseen).
    """
    recorded = dict(contract.training_data)
    if dataset and dataset != recorded.get("dataset") and not root:
        raise HandposeError(f"--root DIR is needed with --data {dataset} (the checkpoint trained on other data)")
    name, root = dataset or recorded.get("dataset"), root or recorded.get("root")
    if not name or not root:
        raise HandposeError("the checkpoint records no training data on disk; pass --data NAME --root DIR")
    same = name == recorded.get("dataset") and root == recorded.get("root")
    split = split or (recorded.get("split") if same else None) or "train"
    frames = recorded.get("frames") if same and split == recorded.get("split") else None
    return {"dataset": name, "root": str(root), "split": split, "frames": frames}


def open_training_crops(contract: Contract, source: dict[str, Any]) -> Any:
    """Augmented training crops of ``source`` (from :func:`training_source`)."""
    from handpose.datasets import open_dataset
    from handpose.training.data import CropDataset
    from handpose.transforms import make_transform

    reader = open_dataset(source["dataset"], source["root"], source["split"])
    frames = source.get("frames")
    indices = np.arange(min(len(reader), int(frames))) if frames else None
    transform = make_transform(contract, train=True, augment=True)
    return CropDataset(reader, transform, seed=0, indices=indices, skeleton=contract.skeleton)


def calibration_crops(contract: Contract, dataset: Any, count: int) -> np.ndarray:
    """``count`` crops of ``dataset``'s frames, evenly spread, as the deployed model sees them (no augmentation)."""
    from handpose.transforms import make_transform

    if count < 1:
        raise HandposeError(f"--calibration must be at least 1, got {count}")
    transform = make_transform(contract, train=False, augment=False)
    picks = np.linspace(0, len(dataset) - 1, min(count, len(dataset))).round().astype(int)
    return np.stack([np.asarray(transform(dataset.sample(int(i)), None)["image"]) for i in picks]).astype(np.float32)


def prepare_for_int8(network: nn.Module) -> nn.Module:
    """An eval-mode copy with BatchNorm folded into the convolutions (kept as biases) and only ``joints`` computed."""
    from handpose.models.batchnorm_folding import fold_batchnorm

    folded = fold_batchnorm(network, keep_modules=True)
    skip_heads = getattr(folded, "joints_only", None)
    if callable(skip_heads):
        skip_heads()
    return folded


def finetune(
    network: nn.Module,
    train_crops: Any,
    calibration: np.ndarray,
    steps: int,
    lr: float,
    batch_size: int = 32,
    fake_quant: bool = True,
    seed: int = 0,
    progress: bool = True,
) -> nn.Module:
    """Fine-tune ``network`` (from :func:`prepare_for_int8`, changed in place) under int8 rounding.

    Args:
        network: The prepared network.
        train_crops: A dataset of training dicts (``image``, ``joints`` in the model's output space).
        calibration: Crops that set the activation ranges (the ones the int8 graph is calibrated on).
        steps: Optimiser steps (Adam, cosine decay to zero).
        lr: Initial learning rate.
        batch_size: Crops per step.
        fake_quant: ``False`` fine-tunes in plain float: the control that tells fine-tuning's gain
            from the rounding's cost.
        seed: Seed of the crop order.
        progress: Show a progress bar on a terminal.

    Returns:
        ``network``, with float weights (the rounding is detached).
    """
    from handpose.evaluation.checkpoint import TerminalProgress
    from handpose.losses.depth import JointsL2

    if steps < 0:
        raise HandposeError(f"--steps must be >= 0, got {steps}")
    if steps == 0:
        return network
    if len(train_crops) < batch_size:
        raise HandposeError(f"{len(train_crops)} training frames: fewer than one batch of {batch_size}")
    example = torch.from_numpy(calibration[:2])
    simulation = QuantSimulation(network, example)
    try:
        simulation.calibrate(torch.from_numpy(calibration[i : i + 50]) for i in range(0, len(calibration), 50))
        simulation.set_enabled(fake_quant)
        loader = torch.utils.data.DataLoader(
            train_crops,
            batch_size=batch_size,
            shuffle=True,
            drop_last=True,
            generator=torch.Generator().manual_seed(seed),
        )
        loss_fn = JointsL2()
        optimizer = torch.optim.Adam([p for p in network.parameters() if p.requires_grad], lr=lr)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
        # Eval mode throughout: BatchNorm is folded and frozen, dropout off, as in the deployed graph.
        simulation.module.eval()
        batches = itertools.chain.from_iterable(itertools.repeat(loader))
        with TerminalProgress(progress) as bar:
            task = (
                bar.add_task("quantisation-aware fine-tuning" if fake_quant else "fine-tuning", total=steps)
                if bar
                else None
            )
            for step in range(steps):
                batch = next(batches)
                outputs = simulation.module(batch["image"].contiguous(memory_format=torch.channels_last))
                loss = loss_fn(outputs, batch)["loss"]
                if not torch.isfinite(loss):
                    raise HandposeError(f"fine-tuning diverged: loss is {loss.item()} at step {step}; lower --lr")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                if bar:
                    bar.update(task, advance=1)
    finally:
        simulation.remove()
    return network


@dataclass
class Int8Start:
    """A depth checkpoint made ready for int8 work (:func:`load_for_int8`)."""

    contract: Contract
    meta: dict[str, Any]
    network: nn.Module
    """BatchNorm-folded, ``joints`` only (:func:`prepare_for_int8`)."""
    train_crops: Any
    """Augmented training crops (:func:`open_training_crops`)."""
    calibration: np.ndarray
    """Crops that fix the activation ranges (:func:`calibration_crops`)."""
    source: dict[str, Any]
    """The training data used (:func:`training_source`)."""


def load_for_int8(
    checkpoint: str | Path,
    dataset: str | None = None,
    root: str | None = None,
    split: str | None = None,
    calibration: int = DEFAULT_CALIBRATION,
) -> Int8Start:
    """Read a depth checkpoint, prepare its network for int8 and open its training and calibration crops.

    Raises:
        HandposeError: Not a depth model, no usable training data, or fewer than one calibration crop.
    """
    from handpose.checkpoint_file import read_checkpoint
    from handpose.loading import load_network

    contract, weights, meta = read_checkpoint(checkpoint)
    if contract.output_space != "cube" or contract.modality != "depth":
        raise HandposeError(
            f"static int8 quantisation supports the depth models; {contract.model!r} is {contract.modality}",
            checkpoint,
        )
    network = prepare_for_int8(load_network(contract, weights, str(checkpoint), meta.get("temperature")))
    source = training_source(contract, dataset, root, split)
    train_crops = open_training_crops(contract, source)
    crops = calibration_crops(contract, train_crops, calibration)
    return Int8Start(contract, meta, network, train_crops, crops, source)


def quantize_checkpoint(
    checkpoint: str | Path,
    out: str | Path,
    dataset: str | None = None,
    root: str | None = None,
    split: str | None = None,
    steps: int = DEFAULT_STEPS,
    lr: float = DEFAULT_LR,
    calibration: int = DEFAULT_CALIBRATION,
    batch_size: int = 32,
    progress: bool = True,
) -> dict[str, Any]:
    """Fine-tune a depth checkpoint for int8 and write its package (see the module docstring).

    Returns:
        The package's ``model.json`` content.
    """
    from handpose.export import package_network

    start = load_for_int8(checkpoint, dataset, root, split, calibration)
    finetune(start.network, start.train_crops, start.calibration, steps, lr, batch_size, progress=progress)
    recipe = {
        "method": "quantisation-aware fine-tuning" if steps else "post-training quantisation",
        "steps": steps,
        "lr": lr if steps else None,
        "batch_size": batch_size if steps else None,
        "calibration_frames": len(start.calibration),
        "data": {**start.source, "frames": len(start.train_crops)},
    }
    return package_network(
        start.network,
        start.contract,
        start.meta,
        str(checkpoint),
        out,
        onnx=True,
        int8_maker=lambda fp32: static_int8_graph(start.network, fp32, start.calibration, recipe),
    )


def static_int8_graph(
    network: nn.Module, fp32: bytes, calibration: np.ndarray, recipe: dict[str, Any]
) -> tuple[bytes, dict[str, Any]]:
    """The static int8 graph of a verified fp32 graph, with what it is, how it was made and its deviation.

    The deviation from PyTorch is measured on calibration crops: the graph's activation ranges are
    those of real crops, and random input would overflow them.
    """
    from handpose import onnx_graph
    from handpose.quantization.static import ACTIVATION_OPS, quantize_static_onnx

    data = quantize_static_onnx(fp32, calibration)
    inputs = torch.from_numpy(np.asarray(calibration[:2], dtype=np.float32))
    deviation = onnx_graph.max_deviation(onnx_graph.ort_session(data, threads=None), network, (inputs,))
    kind = (
        "static int8: per-channel 7-bit convolution weights, uint8 activations of "
        f"{'/'.join(ACTIVATION_OPS)} calibrated on {len(calibration)} crops; int8 fully connected weights"
    )
    return data, {"quantize": kind, "max_abs_diff": deviation, "recipe": recipe}
