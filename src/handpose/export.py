"""``handpose export``: a model package (:mod:`handpose.package`) from a training checkpoint or a network.

The fp32 ONNX graph is exported and checked against PyTorch by :mod:`handpose.onnx_graph`; the int8
graph with int8 fully connected weights is made from it here, and ``handpose quantize``
(:mod:`handpose.quantization`) passes in its own maker of the static int8 graph.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from handpose.contract import Contract
from handpose.errors import HandposeError

QUANTIZE_CHOICES = ("int8",)
Int8Maker = Callable[[bytes], tuple[bytes, dict[str, Any]]]
"""The fp32 graph's bytes -> the int8 graph's bytes and what to record about it."""


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
    int8_maker: Int8Maker | None = None,
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
        quantize: ``"int8"``: also an int8 graph with int8 fully connected weights; implies ``onnx``.
        int8_maker: Makes the int8 graph from the verified fp32 one instead (``handpose quantize``'s
            static int8 graph); implies ``onnx``.

    Returns:
        The ``model.json`` content.
    """
    from handpose import onnx_graph
    from handpose.package import write_package

    if quantize not in (None, *QUANTIZE_CHOICES):
        raise HandposeError(f"unknown quantisation {quantize!r}; choose one of: {', '.join(QUANTIZE_CHOICES)}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise HandposeError("output exists and is not a folder", out)
    graphs: dict[str, tuple[bytes, dict[str, Any]]] = {}
    if onnx or quantize is not None or int8_maker is not None:
        # Root-relative models also need their 2D joints to place a photo's hand in the image.
        extra = ("uv",) if contract.output_space == "rel" else ()
        fp32, check = onnx_graph.verified_graph(network, contract.input_size, contract.in_channels, extra_outputs=extra)
        graphs["onnx"] = (fp32, check)
        if int8_maker is not None:
            graphs["onnx-int8"] = int8_maker(fp32)
        elif quantize == "int8":
            graphs["onnx-int8"] = int8_weights_graph(network, contract, fp32)
    return write_package(out, network.state_dict(), contract, meta, source, metrics=metrics, graphs=graphs)


def int8_weights_graph(network: nn.Module, contract: Contract, fp32: bytes) -> tuple[bytes, dict[str, Any]]:
    """The verified fp32 graph with int8 fully connected weights, and its largest deviation from PyTorch."""
    from handpose import onnx_graph

    data = onnx_graph.quantize_onnx(fp32, "int8")
    inputs = onnx_graph.random_inputs(2, contract.in_channels, contract.input_size, seed=1)
    deviation = onnx_graph.max_deviation(onnx_graph.ort_session(data, threads=None), network, (inputs,))
    return data, {"quantize": "int8 fully connected weights (MatMulNBits, block 32)", "max_abs_diff": deviation}
