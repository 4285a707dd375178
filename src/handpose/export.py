"""Model packages: a folder that is everything needed to run a trained model, and nothing executable.

``handpose export CKPT OUT [--onnx]`` writes::

    OUT/model.safetensors   network weights (safetensors: tensors only, no pickle)
    OUT/model.json          format, model name and builder kwargs, skeleton, modality, the
                            preprocessing contract (input size, crop cube, depth normalisation,
                            camera assumptions), training data, metrics, file checksums
    OUT/model.onnx          (with --onnx) the graph ``image -> joints``; exported only after its
                            outputs agree with PyTorch (max difference recorded in model.json)

:meth:`handpose.inference.Estimator.load` reads it back.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from handpose import __version__
from handpose.errors import HandposeError
from handpose.inference import (
    PACKAGE_FORMAT,
    PACKAGE_JSON,
    PACKAGE_ONNX,
    PACKAGE_ONNX_INT8,
    PACKAGE_WEIGHTS,
    build_loaded_network,
)
from handpose.io import atomic_path, write_json_atomic

ONNX_TOLERANCE = 1e-3  # in the model's normalised output space (about 0.1 mm for a 250 mm cube)


class JointsOnly(nn.Module):
    """Wraps a network so its graph returns only ``outputs["joints"]``."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.network(image)["joints"]


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

    Returns:
        The ``model.json`` content.
    """
    from safetensors.torch import save_file

    if quantize not in (None, "int8"):
        raise HandposeError(f"unknown quantisation {quantize!r}; the package supports int8")
    onnx = onnx or quantize is not None

    from handpose.training.checkpoint import read_checkpoint

    contract, weights, meta = read_checkpoint(checkpoint)
    network = build_loaded_network(contract, weights, str(checkpoint), meta.get("temperature"))
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise HandposeError("output exists and is not a folder", out)
    out.mkdir(parents=True, exist_ok=True)

    state = {k: v.detach().contiguous().cpu() for k, v in network.state_dict().items()}
    with atomic_path(out / PACKAGE_WEIGHTS) as tmp:
        save_file(state, str(tmp), metadata={"format": PACKAGE_FORMAT, "model": contract["model"]})
    description: dict[str, Any] = {
        "format": PACKAGE_FORMAT,
        "version": 1,
        "handpose_version": __version__,
        "model": contract["model"],
        "model_kwargs": contract.get("model_kwargs", {}),
        "skeleton": contract["skeleton"],
        "modality": contract["modality"],
        "contract": contract,
        "training_data": contract.get("training_data"),
        "training": {
            "config": meta.get("config"),
            "epoch": meta.get("epoch"),
            "global_step": meta.get("global_step"),
            "checkpoint": str(checkpoint),
        },
        "temperature": meta.get("temperature"),
        "metrics": {"val_mean_error_mm": meta.get("val_mean_error_mm"), **(metrics or {})},
        "files": {PACKAGE_WEIGHTS: _sha256(out / PACKAGE_WEIGHTS)},
    }
    if onnx:
        check = export_onnx(network, contract, out / PACKAGE_ONNX)
        description["onnx"] = check
        description["files"][PACKAGE_ONNX] = _sha256(out / PACKAGE_ONNX)
    else:
        (out / PACKAGE_ONNX).unlink(missing_ok=True)  # never leave a graph that belongs to other weights
    if quantize:
        description["onnx_int8"] = export_int8(network, contract, out / PACKAGE_ONNX, out / PACKAGE_ONNX_INT8)
        description["files"][PACKAGE_ONNX_INT8] = _sha256(out / PACKAGE_ONNX_INT8)
    else:
        (out / PACKAGE_ONNX_INT8).unlink(missing_ok=True)
    write_json_atomic(out / PACKAGE_JSON, description)
    return description


def export_onnx(network: nn.Module, contract: dict[str, Any], path: Path, batch: int = 2) -> dict[str, Any]:
    """Export ``network`` to ONNX at ``path`` and check it against PyTorch on the same inputs.

    Returns:
        ``{"opset", "max_abs_diff", "tolerance", "inputs"}``.

    Raises:
        HandposeError: Export failed or outputs disagree beyond :data:`ONNX_TOLERANCE`.
    """
    import onnxruntime as ort

    size, channels = int(contract["input_size"]), int(contract.get("in_channels", 1))
    gen = torch.Generator().manual_seed(0)
    dummy = torch.rand(batch, channels, size, size, generator=gen) * 2 - 1
    # eval() on the wrapper itself: exporters restore the wrapper's own mode, which would turn
    # BatchNorm and dropout of the network back to training.
    wrapper = JointsOnly(network.float()).eval()
    opset = 17
    with tempfile.TemporaryDirectory(dir=path.parent) as tmpdir:
        tmp = Path(tmpdir) / "model.onnx"
        try:
            _torch_onnx_export(wrapper, dummy, tmp, opset)
        except HandposeError:
            raise
        except Exception as exc:  # exporter failures come in many types
            raise HandposeError(f"ONNX export failed: {str(exc).strip().splitlines()[0][:200]}") from None
        wrapper.eval()
        session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        # Check on the export input and on a different batch size (the batch axis is dynamic).
        max_diff = _deviation(session, wrapper, (dummy, torch.rand(1, channels, size, size, generator=gen) * 2 - 1))
        if not max_diff <= ONNX_TOLERANCE:
            raise HandposeError(f"ONNX outputs differ from PyTorch by {max_diff:.2e} (> {ONNX_TOLERANCE}); not written")
        with atomic_path(path) as final:
            shutil.copyfile(tmp, final)
    return {"opset": opset, "max_abs_diff": max_diff, "tolerance": ONNX_TOLERANCE, "inputs": "image (B,C,S,S)"}


def export_int8(network: nn.Module, contract: dict[str, Any], fp32_path: Path, path: Path) -> dict[str, Any]:
    """Write the int8-FC version of the verified fp32 graph; returns its largest deviation from PyTorch."""
    import onnxruntime as ort

    from handpose.models.onnx_export import quantize_onnx

    data = quantize_onnx(fp32_path.read_bytes(), "int8")
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    size, channels = int(contract["input_size"]), int(contract.get("in_channels", 1))
    inputs = torch.rand(2, channels, size, size, generator=torch.Generator().manual_seed(1)) * 2 - 1
    max_diff = _deviation(session, JointsOnly(network.float()).eval(), (inputs,))
    with atomic_path(path) as final:
        final.write_bytes(data)
    return {"quantize": "int8 fully connected weights (MatMulNBits, block 32)", "max_abs_diff": max_diff}


def _deviation(session: Any, wrapper: nn.Module, batches: tuple[torch.Tensor, ...]) -> float:
    """Largest absolute difference between an ONNX Runtime session's joints and PyTorch's on ``batches``."""
    worst = 0.0
    for inputs in batches:
        with torch.inference_mode():
            expected = wrapper(inputs).numpy()
        (got,) = session.run(["joints"], {"image": inputs.numpy()})
        worst = max(worst, float(np.max(np.abs(np.asarray(got) - expected))))
    return worst


def _torch_onnx_export(wrapper: nn.Module, dummy: torch.Tensor, path: Path, opset: int) -> None:
    kwargs: dict[str, Any] = {
        "input_names": ["image"],
        "output_names": ["joints"],
        "dynamic_axes": {"image": {0: "batch"}, "joints": {0: "batch"}},
        "opset_version": opset,
    }
    try:
        torch.onnx.export(wrapper, (dummy,), str(path), dynamo=False, **kwargs)
    except TypeError:  # pragma: no cover - exporters without the dynamo switch
        torch.onnx.export(wrapper, (dummy,), str(path), **kwargs)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
