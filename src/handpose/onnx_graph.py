"""ONNX graphs of the networks: export, the check against PyTorch, weight quantisation and ONNX Runtime sessions.

Every graph handpose writes comes from :func:`onnx_bytes`: one wrapper turns a network's output dict
into named graph outputs, BatchNorm is folded into the convolutions (kept only where the folded copy
reproduces the network), the image input ``(B, C, S, S)`` has a dynamic batch axis, and the outputs
keep their dict names (``"joints"`` first). :func:`verified_graph` exports and checks the graph
against PyTorch before anyone uses it, and :func:`ort_session` is the one place that opens graphs
with ONNX Runtime, on the CPU or with the CUDA provider.

``quantize_onnx(..., "int8")`` stores the fully connected weights as block-wise int8 (ONNX Runtime's
``MatMulNBits``, block 32, activations quantised per block inside the kernel): it shrinks the FC
layers fourfold, and their memory traffic is a large share of the batch-1 time of the FC-heavy depth
models. ``"int8-dynamic"`` also quantises the activations (ONNX Runtime dynamic quantisation).
Convolutions stay fp32 in both; the effect on accuracy must be measured on data
(``docs/benchmarks.md``).
"""

from __future__ import annotations

import io
import logging
import tempfile
import warnings
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import torch
from torch import nn

from handpose.errors import HandposeError
from handpose.io import write_bytes_atomic

INPUT_NAME = "image"
JOINTS = "joints"
OPSET = 17
PARITY_TOLERANCE = 1e-3  # in the model's normalised output space (about 0.1 mm for a 250 mm cube)
QUANTIZE_MODES = ("int8", "int8-dynamic")
Quantize = Literal["int8", "int8-dynamic"] | None
Device = Literal["cpu", "cuda"]


class GraphOutputs(nn.Module):
    """A dict-returning network seen by the exporter as a tuple of named outputs."""

    def __init__(self, network: nn.Module, names: Sequence[str]) -> None:
        super().__init__()
        self.network = network
        self.names = list(names)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.network(image)
        return tuple(out[n] for n in self.names)


def input_shape(network: nn.Module, input_size: int | None = None, in_channels: int | None = None) -> tuple[int, int]:
    """``(side, channels)`` of the network's input: the arguments, else what the network was built for."""
    spec = getattr(network, "spec", None)
    kwargs = getattr(network, "init_kwargs", {}) or {}
    size = input_size or kwargs.get("input_size") or getattr(spec, "input_size", None)
    if size is None:
        raise HandposeError("export needs the input size (the model carries no spec)")
    channels = in_channels or getattr(spec, "in_channels", None) or 1
    return int(size), int(channels)


def random_inputs(batch: int, channels: int, size: int, seed: int) -> torch.Tensor:
    """Reproducible inputs in the crops' range [-1, 1]."""
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(batch, channels, size, size, generator=gen) * 2 - 1


def onnx_bytes(
    model: nn.Module,
    input_size: int | None = None,
    opset: int = OPSET,
    joints_only: bool = False,
    in_channels: int | None = None,
    outputs: Sequence[str] | None = None,
) -> bytes:
    """The serialised fp32 ONNX graph of ``model`` (eval mode, BatchNorm folded).

    Args:
        model: A network returning a dict of outputs.
        input_size: Square input side; default: the size the model was built for (else its spec's).
        opset: ONNX opset (17 or later).
        joints_only: Export only ``"joints"``, dropping training-only heads (models that offer
            ``joints_only()`` skip their computation; for others the exporter prunes unused nodes).
        in_channels: Input channels; default: the model spec's.
        outputs: Export exactly these outputs, in this order (overrides ``joints_only``).

    Raises:
        HandposeError: The exporter failed (first line of its message).
    """
    from handpose.models.batchnorm_folding import fold_batchnorm_checked

    if opset < OPSET:
        raise HandposeError(f"opset must be {OPSET} or later, got {opset}")
    size, channels = input_shape(model, input_size, in_channels)
    folded = fold_batchnorm_checked(model.float(), random_inputs(2, channels, size, seed=2))
    default = [JOINTS] if joints_only else None
    names = list(outputs or default or _output_names(folded, size, channels))
    skip_heads = getattr(folded, "joints_only", None)
    if names == [JOINTS] and callable(skip_heads):
        skip_heads()
    # eval() on the wrapper itself: exporters restore the wrapper's own mode.
    wrapper = GraphOutputs(folded, names).eval()
    buffer = io.BytesIO()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # The TorchScript exporter is deprecated but exact and fast for these static graphs.
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                wrapper,
                (random_inputs(2, channels, size, seed=0),),
                cast(Any, buffer),  # the exporter writes to file objects too; its annotation names paths only
                input_names=[INPUT_NAME],
                output_names=names,
                dynamic_axes={INPUT_NAME: {0: "batch"}, **{n: {0: "batch"} for n in names}},
                opset_version=opset,
                dynamo=False,
            )
    except HandposeError:
        raise
    except Exception as exc:  # exporter failures come in many types
        raise HandposeError(f"ONNX export failed: {_first_line(exc)}") from None
    return buffer.getvalue()


def _output_names(model: nn.Module, input_size: int, in_channels: int) -> list[str]:
    with torch.no_grad():
        out = model(torch.zeros(1, in_channels, input_size, input_size))
    return list(out)


def export_onnx(
    model: nn.Module,
    path: str | PathLike[str],
    quantize: Quantize = None,
    input_size: int | None = None,
    opset: int = OPSET,
    joints_only: bool = False,
) -> Path:
    """Write ``model`` as an ONNX file (atomically); ``quantize`` as in :func:`quantize_onnx`."""
    if quantize is not None and quantize not in QUANTIZE_MODES:
        raise HandposeError(f"unknown quantisation {quantize!r}; choose one of: none, {', '.join(QUANTIZE_MODES)}")
    path = Path(path)
    data = onnx_bytes(model, input_size, opset, joints_only)
    write_bytes_atomic(path, data if quantize is None else quantize_onnx(data, quantize))
    return path


def max_deviation(session: Any, network: nn.Module, batches: Sequence[torch.Tensor]) -> float:
    """Largest absolute difference between a session's ``joints`` and the PyTorch network's on ``batches``."""
    reference = network.float().eval()
    worst = 0.0
    for inputs in batches:
        with torch.inference_mode():
            expected = reference(inputs)[JOINTS].numpy()
        (got,) = session.run([JOINTS], {INPUT_NAME: inputs.numpy()})
        worst = max(worst, float(np.max(np.abs(np.asarray(got) - expected))))
    return worst


def verified_graph(
    network: nn.Module,
    input_size: int,
    in_channels: int,
    tolerance: float = PARITY_TOLERANCE,
    extra_outputs: Sequence[str] = (),
) -> tuple[bytes, dict[str, Any]]:
    """The deployed graph (``image -> joints``, plus ``extra_outputs``) of ``network``, checked against PyTorch.

    The check runs on the export batch size and on batch 1 (the batch axis is dynamic).

    Returns:
        The graph's bytes and ``{"opset", "max_abs_diff", "tolerance", "inputs"}``.

    Raises:
        HandposeError: Export failed or the outputs differ by more than ``tolerance``.
    """
    names = [JOINTS, *extra_outputs]
    data = onnx_bytes(network, input_size, in_channels=in_channels, outputs=names)
    batches = (random_inputs(2, in_channels, input_size, seed=0), random_inputs(1, in_channels, input_size, seed=1))
    worst = max_deviation(ort_session(data), network, batches)
    if not worst <= tolerance:
        raise HandposeError(f"ONNX outputs differ from PyTorch by {worst:.2e} (> {tolerance}); not written")
    info = {
        "opset": OPSET,
        "max_abs_diff": worst,
        "tolerance": tolerance,
        "inputs": "image (B,C,S,S)",
        "outputs": names,
    }
    return data, info


def ort_session(
    source: str | PathLike[str] | bytes, threads: int | None = 2, device: Device = "cpu", optimise: bool = True
) -> Any:
    """An ONNX Runtime session: the one place graphs are opened.

    Args:
        source: A graph file or its bytes.
        threads: Intra-op threads (``None``: ONNX Runtime's default).
        device: ``"cpu"``, or ``"cuda"`` (the CUDA provider first, the CPU one for what it lacks).
        optimise: Apply every graph optimisation ONNX Runtime has.

    Raises:
        HandposeError: ONNX Runtime is missing, the CUDA provider is unavailable, or the graph does not load.
    """
    try:
        import onnxruntime as ort
    except ImportError:  # pragma: no cover - a dependency
        raise HandposeError("running ONNX graphs needs the onnxruntime package") from None
    providers = ["CPUExecutionProvider"]
    if device == "cuda":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise HandposeError("--device cuda with ONNX needs onnxruntime-gpu (no CUDA execution provider)")
        providers.insert(0, "CUDAExecutionProvider")
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
    if optimise:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    name = source if isinstance(source, bytes) else str(source)
    try:
        return ort.InferenceSession(name, sess_options=options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own exception types for bad graphs
        where = None if isinstance(source, bytes) else Path(source)
        raise HandposeError(f"cannot load ONNX graph: {_first_line(exc)}", where) from None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__


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
        return bytes(quantizer.model.model.SerializeToString())
    if quantize == "int8-dynamic":
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
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    from onnxruntime.quantization import matmul_nbits_quantizer

    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    logging.getLogger(matmul_nbits_quantizer.__name__).setLevel(logging.WARNING)
    return matmul_nbits_quantizer
