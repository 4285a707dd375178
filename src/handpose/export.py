"""Model packages: a folder that is everything needed to run a trained model, and nothing executable.

``handpose export CKPT OUT [--onnx]`` writes::

    OUT/model.safetensors   network weights (safetensors: tensors only, no pickle)
    OUT/model.json          format, model name and builder kwargs, skeleton, modality, the
                            preprocessing contract (input size, crop cube, depth normalisation,
                            camera assumptions), training data, metrics, file checksums
    OUT/model.onnx          (with --onnx) the graph ``image -> joints``; exported only after its
                            outputs agree with PyTorch (max difference recorded in model.json)
    OUT/model.int8.onnx     (with --quantize int8) the graph with int8 fully connected weights;
                            ``handpose quantize`` writes the static int8 graph here instead

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
    if quantize not in (None, "int8"):
        raise HandposeError(f"unknown quantisation {quantize!r}; export supports int8 ('handpose quantize' the rest)")
    from handpose.training.checkpoint import read_checkpoint

    contract, weights, meta = read_checkpoint(checkpoint)
    network = build_loaded_network(contract, weights, str(checkpoint), meta.get("temperature"))
    return write_package(network, contract, meta, str(checkpoint), out, onnx=onnx, metrics=metrics, quantize=quantize)


def write_package(
    network: nn.Module,
    contract: dict[str, Any],
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
    from safetensors.torch import save_file

    if quantize not in (None, *QUANTIZE_CHOICES):
        raise HandposeError(f"unknown quantisation {quantize!r}; choose one of: {', '.join(QUANTIZE_CHOICES)}")
    if quantize == "int8-static" and calibration is None:
        raise HandposeError("int8-static quantisation needs calibration crops")
    onnx = onnx or quantize is not None
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
            "checkpoint": source,
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
        static = calibration if quantize == "int8-static" else None
        int8 = export_int8(network, contract, out / PACKAGE_ONNX, out / PACKAGE_ONNX_INT8, static)
        description["onnx_int8"] = {**int8, **({"recipe": recipe} if recipe else {})}
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


def export_int8(
    network: nn.Module,
    contract: dict[str, Any],
    fp32_path: Path,
    path: Path,
    calibration: np.ndarray | None = None,
) -> dict[str, Any]:
    """Write the int8 version of the verified fp32 graph; returns what it is and its largest deviation from PyTorch.

    Without ``calibration``: int8 fully connected weights only. With it: the static int8 graph
    (:func:`handpose.quantization.static.quantize_static_onnx`), checked on calibration crops (its
    activation ranges are those of real crops; random input would overflow them).
    """
    import onnxruntime as ort

    from handpose.models.onnx_export import quantize_onnx

    size, channels = int(contract["input_size"]), int(contract.get("in_channels", 1))
    if calibration is None:
        data = quantize_onnx(fp32_path.read_bytes(), "int8")
        inputs = torch.rand(2, channels, size, size, generator=torch.Generator().manual_seed(1)) * 2 - 1
        kind = "int8 fully connected weights (MatMulNBits, block 32)"
    else:
        from handpose.quantization.static import ACTIVATION_OPS, quantize_static_onnx

        data = quantize_static_onnx(fp32_path.read_bytes(), calibration)
        inputs = torch.from_numpy(np.asarray(calibration[:2], dtype=np.float32))
        kind = (
            "static int8: per-channel 7-bit convolution weights, uint8 activations of "
            f"{'/'.join(ACTIVATION_OPS)} calibrated on {len(calibration)} crops; int8 fully connected weights"
        )
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    max_diff = _deviation(session, JointsOnly(network.float()).eval(), (inputs,))
    with atomic_path(path) as final:
        final.write_bytes(data)
    return {"quantize": kind, "max_abs_diff": max_diff}


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
