"""ONNX export of registered models, with BatchNorm folded and optional int8 weight quantisation.

The exported graph takes ``image`` ``(B, C, S, S)`` with a dynamic batch axis and returns every entry
of the model's output dict, in the dict's order, under the same names.

``quantize="int8"`` applies ONNX Runtime's dynamic quantisation to the MatMul/Gemm weights (int8
weights, activations quantised on the fly): it shrinks the FC layers fourfold, which is what bounds
batch-1 speed of the FC-heavy depth models. Its effect on accuracy must be measured on data; the
convolutions stay fp32.
"""

from __future__ import annotations

import io
import warnings
from os import PathLike
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from handpose.errors import HandposeError
from handpose.io import write_bytes_atomic, write_with_atomic
from handpose.models.depth_layers import fold_batchnorm

Quantize = Literal["int8"] | None


class _TupleOutputs(nn.Module):
    """Wraps a dict-returning model so the exporter sees a fixed tuple of named outputs."""

    def __init__(self, model: nn.Module, names: list[str]):
        super().__init__()
        self.model = model
        self.names = names

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(image)
        return tuple(out[n] for n in self.names)


def output_names(model: nn.Module, input_size: int, in_channels: int) -> list[str]:
    with torch.no_grad():
        out = model(torch.zeros(1, in_channels, input_size, input_size))
    return list(out)


def onnx_bytes(model: nn.Module, input_size: int | None = None, opset: int = 17) -> bytes:
    """The serialised fp32 ONNX graph of ``model`` (eval mode, BatchNorm folded)."""
    spec = getattr(model, "spec", None)
    size = input_size or (spec.input_size if spec is not None else None)
    if size is None:
        raise HandposeError("export needs the input size (the model carries no spec)")
    channels = spec.in_channels if spec is not None else 1
    folded = fold_batchnorm(model)
    names = output_names(folded, size, channels)
    wrapper = _TupleOutputs(folded, names).eval()
    buffer = io.BytesIO()
    example = torch.randn(2, channels, size, size)
    with torch.no_grad(), warnings.catch_warnings():
        # The TorchScript exporter is deprecated but exact and fast for these static graphs.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            wrapper,
            (example,),
            buffer,
            input_names=["image"],
            output_names=names,
            dynamic_axes={"image": {0: "batch"}, **{n: {0: "batch"} for n in names}},
            opset_version=opset,
            dynamo=False,
        )
    return buffer.getvalue()


def export_onnx(
    model: nn.Module,
    path: str | PathLike,
    quantize: Quantize = None,
    input_size: int | None = None,
    opset: int = 17,
) -> Path:
    """Write ``model`` as an ONNX file (atomically).

    Args:
        model: A model from :func:`handpose.create_model` (or any module given ``input_size``).
        path: Destination ``.onnx`` file.
        quantize: ``None`` for fp32, ``"int8"`` for dynamically quantised MatMul/Gemm weights.
        input_size: Square input side; defaults to the model's spec.
        opset: ONNX opset (17 or later).

    Returns:
        ``path``.
    """
    if quantize not in (None, "int8"):
        raise HandposeError(f"unknown quantisation {quantize!r}; choose int8 or none")
    if opset < 17:
        raise HandposeError(f"opset must be 17 or later, got {opset}")
    path = Path(path)
    data = onnx_bytes(model, input_size, opset)
    if quantize is None:
        write_bytes_atomic(path, data)
        return path
    from onnxruntime.quantization import QuantType, quantize_dynamic

    def write(tmp: Path) -> None:
        source = tmp.with_name(tmp.name + ".fp32.onnx")
        try:
            source.write_bytes(data)
            quantize_dynamic(source, tmp, op_types_to_quantize=["MatMul", "Gemm"], weight_type=QuantType.QInt8)
        finally:
            source.unlink(missing_ok=True)

    write_with_atomic(path, write)
    return path


def ort_session(path_or_bytes: str | PathLike | bytes, threads: int = 2):
    """An ONNX Runtime CPU session with ``threads`` intra-op threads and full graph optimisation."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    source = path_or_bytes if isinstance(path_or_bytes, bytes) else str(path_or_bytes)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
