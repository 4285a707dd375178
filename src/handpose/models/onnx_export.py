"""ONNX export of registered models, with BatchNorm folded and optional int8 weight quantisation.

The exported graph takes ``image`` ``(B, C, S, S)`` with a dynamic batch axis and returns every entry
of the model's output dict, in the dict's order, under the same names.

``quantize="int8"`` stores the fully connected weights as block-wise int8 (ONNX Runtime's
``MatMulNBits``, block 32, activations quantised per block inside the kernel): it shrinks the FC
layers fourfold, and their memory traffic is a large share of the batch-1 time of the FC-heavy
depth models. ``"int8-dynamic"`` also quantises the
activations (ONNX Runtime dynamic quantisation). Convolutions stay fp32 in both. The effect on
accuracy must be measured on data (see ``docs/benchmarks.md``).
"""

from __future__ import annotations

import io
import warnings
from os import PathLike
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from handpose.errors import HandposeError
from handpose.io import write_bytes_atomic
from handpose.models.depth_layers import fold_batchnorm_checked

Quantize = Literal["int8", "int8-dynamic"] | None
QUANTIZE_MODES = ("int8", "int8-dynamic")


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


def onnx_bytes(model: nn.Module, input_size: int | None = None, opset: int = 17, joints_only: bool = False) -> bytes:
    """The serialised fp32 ONNX graph of ``model`` (eval mode, BatchNorm folded).

    ``joints_only`` exports just the ``joints`` output, dropping the training-only heads (models that
    offer ``joints_only()`` skip their computation; for others the exporter prunes unused nodes).
    """
    spec = getattr(model, "spec", None)
    size = input_size or getattr(model, "init_kwargs", {}).get("input_size") or getattr(spec, "input_size", None)
    if size is None:
        raise HandposeError("export needs the input size (the model carries no spec)")
    channels = spec.in_channels if spec is not None else 1
    folded = fold_batchnorm_checked(model, torch.randn(2, channels, size, size))
    if joints_only and hasattr(folded, "joints_only"):
        folded.joints_only()
    names = ["joints"] if joints_only else output_names(folded, size, channels)
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
    joints_only: bool = False,
) -> Path:
    """Write ``model`` as an ONNX file (atomically).

    Args:
        model: A model from :func:`handpose.create_model` (or any module given ``input_size``).
        path: Destination ``.onnx`` file.
        quantize: ``None`` for fp32, ``"int8"`` or ``"int8-dynamic"`` (see :func:`quantize_onnx`).
        input_size: Square input side; defaults to the size the model was built for (else its spec's).
        opset: ONNX opset (17 or later).
        joints_only: Export only the ``joints`` output (the deployed graph; see :func:`onnx_bytes`).

    Returns:
        ``path``.
    """
    if quantize is not None and quantize not in QUANTIZE_MODES:
        raise HandposeError(f"unknown quantisation {quantize!r}; choose one of: none, {', '.join(QUANTIZE_MODES)}")
    if opset < 17:
        raise HandposeError(f"opset must be 17 or later, got {opset}")
    path = Path(path)
    data = onnx_bytes(model, input_size, opset, joints_only)
    if quantize is None:
        write_bytes_atomic(path, data)
        return path
    write_bytes_atomic(path, quantize_onnx(data, quantize))
    return path


def _gemm_to_matmul(model: Any) -> None:
    """Rewrite ``Gemm(A, W, b)`` with a constant ``W`` (transB=1) as ``MatMul(A, W^T) + b``.

    ONNX Runtime's weight-only quantiser handles MatMul, and PyTorch exports ``nn.Linear`` as Gemm.
    """
    import onnx
    from onnx import helper, numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    nodes = []
    for node in model.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        plain = attrs.get("alpha", 1.0) == 1.0 and attrs.get("beta", 1.0) == 1.0 and not attrs.get("transA", 0)
        if node.op_type != "Gemm" or not plain or node.input[1] not in inits:
            nodes.append(node)
            continue
        weight = numpy_helper.to_array(inits[node.input[1]])
        if attrs.get("transB", 0):
            weight = weight.T
        name = f"{node.input[1]}_kn"
        model.graph.initializer.append(numpy_helper.from_array(weight.copy(), name))
        if len(node.input) > 2 and node.input[2]:
            mid = f"{node.output[0]}_matmul"
            nodes.append(helper.make_node("MatMul", [node.input[0], name], [mid], name=f"{node.name}_matmul"))
            nodes.append(helper.make_node("Add", [mid, node.input[2]], list(node.output), name=f"{node.name}_bias"))
        else:
            nodes.append(helper.make_node("MatMul", [node.input[0], name], list(node.output), name=node.name))
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    used = {i for n in model.graph.node for i in n.input}
    kept = [t for t in model.graph.initializer if t.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    onnx.checker.check_model(model)


def quantize_onnx(data: bytes, quantize: str, block_size: int = 32, accuracy_level: int | None = 4) -> bytes:
    """Quantise the fully connected weights of a serialised fp32 graph.

    Args:
        data: fp32 ONNX bytes (from :func:`onnx_bytes`).
        quantize: ``"int8"``: block-wise symmetric int8 weights (``MatMulNBits``); ``"int8-dynamic"``:
            ONNX Runtime's dynamic quantisation (int8 weights, per-tensor int8 activations; coarser).
        block_size: Weights per int8 scale for ``"int8"``.
        accuracy_level: ``MatMulNBits`` compute type for ``"int8"``: 4 multiplies in int8 with the
            activations quantised per block on the fly (fast: ~13x faster than 1 here at batch 1);
            ``None``/1 dequantises the weights to fp32 first (more exact, very slow on this CPU EP).

    Returns:
        The quantised graph's bytes.
    """
    import onnx

    model = onnx.load_from_string(data)
    if quantize == "int8":
        nbits = _import_matmul_nbits_quantizer()
        _gemm_to_matmul(model)
        config = nbits.DefaultWeightOnlyQuantConfig(
            block_size=block_size,
            is_symmetric=True,
            bits=8,
            accuracy_level=accuracy_level,
            op_types_to_quantize=("MatMul",),
        )
        quantizer = nbits.MatMulNBitsQuantizer(model, algo_config=config)
        quantizer.process()
        return quantizer.model.model.SerializeToString()
    if quantize == "int8-dynamic":
        import tempfile

        from onnxruntime.quantization import QuantType, quantize_dynamic

        with tempfile.TemporaryDirectory() as tmp:
            source, target = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
            source.write_bytes(data)
            quantize_dynamic(source, target, op_types_to_quantize=["MatMul", "Gemm"], weight_type=QuantType.QInt8)
            return target.read_bytes()
    raise HandposeError(f"unknown quantisation {quantize!r}; choose one of: none, {', '.join(QUANTIZE_MODES)}")


def _import_matmul_nbits_quantizer() -> Any:
    """ONNX Runtime's ``matmul_nbits_quantizer``, without the root-logger handler its import installs.

    The module calls ``logging.basicConfig(level=INFO)`` when first imported: every later INFO line of
    any library would then reach stderr (and a handler bound to a since-closed stream fails).
    """
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    from onnxruntime.quantization import matmul_nbits_quantizer

    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    logging.getLogger(matmul_nbits_quantizer.__name__).setLevel(logging.WARNING)
    return matmul_nbits_quantizer


def ort_session(path_or_bytes: str | PathLike | bytes, threads: int = 2):
    """An ONNX Runtime CPU session with ``threads`` intra-op threads and full graph optimisation."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    source = path_or_bytes if isinstance(path_or_bytes, bytes) else str(path_or_bytes)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
