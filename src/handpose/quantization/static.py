"""Static int8 graphs: ONNX Runtime's calibrated QDQ quantisation of a network's image-shaped layers."""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from handpose.errors import HandposeError

ACTIVATION_OPS = ("Conv", "Add", "Sub", "Concat", "Relu", "MaxPool", "Resize")
"""Operators whose tensors become uint8: the whole convolutional trunk stays in int8 between them,
so the graph converts to float only where it enters the fully connected layers (quantising only
``Conv`` leaves a Quantize/Dequantize pair around every layer, a fifth of the batch-1 time)."""


def quantize_static_onnx(data: bytes, calibration: np.ndarray, input_name: str = "image") -> bytes:
    """Static int8 version of a serialised fp32 graph, plus block-wise int8 fully connected weights.

    Convolution weights are per-output-channel symmetric with 7 bits: without VNNI, AVX2's u8 x s8
    multiply adds pairs into saturating int16, which full 8-bit weights overflow (the stem, whose
    background input sits at the top of the uint8 range, then misplaces joints by decimetres).
    Activations (the 4-D outputs of :data:`ACTIVATION_OPS`; the operator set is fixed because
    :class:`~handpose.quantization.simulate.QuantSimulation` mirrors exactly this graph) are per-tensor
    uint8 over the minimum and maximum seen on ``calibration``; a network
    fine-tuned with :class:`~handpose.quantization.simulate.QuantSimulation` on the same crops has
    learnt exactly these ranges.

    Args:
        data: fp32 ONNX bytes (:func:`handpose.onnx_graph.onnx_bytes`).
        calibration: ``(N, C, S, S)`` float32 model inputs (real crops: random input has other ranges).
        input_name: The graph's input.

    Returns:
        The quantised graph's bytes (QuantizeLinear/DequantizeLinear pairs that ONNX Runtime fuses
        into int8 kernels).
    """
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from handpose.onnx_graph import quantize_onnx

    crops = np.asarray(calibration, dtype=np.float32)
    if crops.ndim != 4 or not len(crops):
        raise HandposeError(f"calibration must be a non-empty (N, C, S, S) array, got shape {crops.shape}")

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(crops)

        def get_next(self) -> dict[str, Any] | None:
            item = next(self.items, None)
            return None if item is None else {input_name: np.ascontiguousarray(item[None])}

    with tempfile.TemporaryDirectory() as tmp, _quiet_quantiser():
        source, prepared, target = (Path(tmp) / n for n in ("fp32.onnx", "prepared.onnx", "int8.onnx"))
        source.write_bytes(data)
        quant_pre_process(str(source), str(prepared))
        # Image-shaped tensors only: the fully connected layers' ReLUs and concatenation stay float
        # (QuantSimulation rounds exactly the 4-D tensors).
        excluded = _nodes_without_4d_output(prepared, ACTIVATION_OPS)
        quantize_static(
            str(prepared),
            str(target),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=list(ACTIVATION_OPS),
            nodes_to_exclude=excluded,
            reduce_range=True,
        )
        return quantize_onnx(target.read_bytes(), "int8")


@contextlib.contextmanager
def _quiet_quantiser() -> Iterator[None]:
    """Silence the quantiser's INFO lines (it logs every step, some through the root logger)."""
    loggers = [logging.getLogger(), logging.getLogger("onnxruntime.quantization")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _nodes_without_4d_output(path: Path, op_types: Sequence[str]) -> list[str]:
    """Nodes of ``op_types`` whose first output is not 4-D (shapes from the pre-processing's inference)."""
    import onnx

    model = onnx.load(str(path))
    ranks = {v.name: len(v.type.tensor_type.shape.dim) for v in (*model.graph.value_info, *model.graph.output)}
    return [n.name for n in model.graph.node if n.op_type in op_types and ranks.get(n.output[0], 4) != 4]
