"""``handpose export``: a model package (:mod:`handpose.package`) from a training checkpoint or a network.

The fp32 ONNX graph is exported and checked against PyTorch by :mod:`handpose.onnx_graph`; the int8
graphs are made from it here: int8 fully connected weights, or with calibration crops the static int8
graph of :mod:`handpose.quantization.static`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from handpose.contract import Contract
from handpose.errors import HandposeError

QUANTIZE_CHOICES = ("int8", "int8-static")


def export_package(
    checkpoint: str | Path,
    out: str | Path,
    onnx: bool = False,
    metrics: dict[str, Any] | None = None,
    quantize: str | None = None,
) -> dict[str, Any]:
    """Write a model package from a training checkpoint.

    Args:
        checkpoint: A ``.ckpt`` written by ``handpose train``.
        out: Package folder (created; existing package files are replaced).
        onnx: Also export and verify an ONNX graph.
        metrics: Evaluation results to record (e.g. from ``handpose evaluate --json``).
        quantize: ``"int8"`` also writes ``model.int8.onnx`` with int8 fully connected weights (the
            fast batch-1 CPU graph; implies ``onnx``). Its deviation from PyTorch on the check inputs is
            recorded, not bounded: measure its accuracy on data (``benchmarks/bench_int8_accuracy.py``).
            The fully static int8 graph needs calibration data: ``handpose quantize``.

    Returns:
        The ``model.json`` content.
    """
    from handpose.checkpoint_file import read_checkpoint
    from handpose.loading import load_network

    if quantize not in (None, "int8"):
        raise HandposeError(f"unknown quantisation {quantize!r}; export supports int8 ('handpose quantize' the rest)")
    contract, weights, meta = read_checkpoint(checkpoint)
    network = load_network(contract, weights, str(checkpoint), meta.get("temperature"))
    return package_network(network, contract, meta, str(checkpoint), out, onnx=onnx, metrics=metrics, quantize=quantize)


def package_network(
    network: nn.Module,
    contract: Contract,
    meta: dict[str, Any],
    source: str,
    out: str | Path,
    onnx: bool = False,
    metrics: dict[str, Any] | None = None,
    quantize: str | None = None,
    calibration: np.ndarray | None = None,
    recipe: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the package of a built network (see :func:`export_package`).

    Args:
        network: The network whose weights are packaged.
        contract: Its preprocessing contract.
        meta: Training metadata (config, epoch, step, validation error, temperature).
        source: Where the weights came from (recorded).
        out: Package folder.
        onnx: Also export and verify an ONNX graph.
        metrics: Evaluation results to record.
        quantize: ``"int8"`` (int8 fully connected weights) or ``"int8-static"`` (every convolution
            and image-shaped activation in int8 too, calibrated on ``calibration``); implies ``onnx``.
        calibration: ``(N, C, S, S)`` model inputs for ``"int8-static"``.
        recipe: How the weights were prepared for int8 (recorded under ``onnx_int8``).

    Returns:
        The ``model.json`` content.
    """
    from handpose import onnx_graph
    from handpose.package import write_package

    if quantize not in (None, *QUANTIZE_CHOICES):
        raise HandposeError(f"unknown quantisation {quantize!r}; choose one of: {', '.join(QUANTIZE_CHOICES)}")
    if quantize == "int8-static" and calibration is None:
        raise HandposeError("int8-static quantisation needs calibration crops")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise HandposeError("output exists and is not a folder", out)
    graphs: dict[str, tuple[bytes, dict[str, Any]]] = {}
    if onnx or quantize is not None:
        fp32, check = onnx_graph.verified_graph(network, contract.input_size, contract.in_channels)
        graphs["onnx"] = (fp32, check)
        if quantize:
            static = calibration if quantize == "int8-static" else None
            int8, record = int8_graph(network, contract, fp32, static)
            graphs["onnx-int8"] = (int8, {**record, **({"recipe": recipe} if recipe else {})})
    return write_package(out, network.state_dict(), contract, meta, source, metrics=metrics, graphs=graphs)


def int8_graph(
    network: nn.Module, contract: Contract, fp32: bytes, calibration: np.ndarray | None = None
) -> tuple[bytes, dict[str, Any]]:
    """The int8 version of the verified fp32 graph, with what it is and its largest deviation from PyTorch.

    Without ``calibration``: int8 fully connected weights only. With it: the static int8 graph
    (:func:`handpose.quantization.static.quantize_static_onnx`), checked on calibration crops (its
    activation ranges are those of real crops; random input would overflow them).
    """
    from handpose import onnx_graph

    if calibration is None:
        data = onnx_graph.quantize_onnx(fp32, "int8")
        inputs = onnx_graph.random_inputs(2, contract.in_channels, contract.input_size, seed=1)
        kind = "int8 fully connected weights (MatMulNBits, block 32)"
    else:
        from handpose.quantization.static import ACTIVATION_OPS, quantize_static_onnx

        data = quantize_static_onnx(fp32, calibration)
        inputs = torch.from_numpy(np.asarray(calibration[:2], dtype=np.float32))
        kind = (
            "static int8: per-channel 7-bit convolution weights, uint8 activations of "
            f"{'/'.join(ACTIVATION_OPS)} calibrated on {len(calibration)} crops; int8 fully connected weights"
        )
    deviation = onnx_graph.max_deviation(onnx_graph.ort_session(data, threads=None, optimise=False), network, (inputs,))
    return data, {"quantize": kind, "max_abs_diff": deviation}
