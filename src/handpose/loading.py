"""Open a trained model file: a package folder or a training checkpoint, as a network or an ONNX session.

Loading needs neither Lightning nor the training code: checkpoints are read by
:mod:`handpose.checkpoint_file`, packages by :mod:`handpose.package`, networks are built by the model
registry from the preprocessing contract, and ONNX sessions come from :mod:`handpose.onnx_graph`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from handpose.contract import Contract
from handpose.errors import HandposeError

RUNTIMES = ("torch", "onnx", "onnx-int8")
DEVICES = ("cpu", "cuda")


@dataclass
class LoadedModel:
    """A model ready to run.

    Attributes:
        contract: Its preprocessing contract.
        info: Metadata (metrics, training data, source file).
        network: The network in eval mode on its device (``runtime="torch"``), else ``None``.
        session: The ONNX Runtime session (``runtime="onnx"`` or ``"onnx-int8"``), else ``None``.
    """

    contract: Contract
    info: dict[str, Any] = field(default_factory=dict)
    network: nn.Module | None = None
    session: Any | None = None


def open_model(path: str | Path, device: str = "cpu", runtime: str = "torch") -> LoadedModel:
    """Load a model package folder (or its ``model.json``) or a ``.ckpt`` training checkpoint.

    Args:
        path: Package folder, ``model.json`` or ``.ckpt``.
        device: ``"cpu"`` or ``"cuda"``.
        runtime: ``"torch"``, ``"onnx"`` (packages exported with ``--onnx``) or ``"onnx-int8"``
            (the int8 graph of packages exported with ``--quantize int8``).

    Raises:
        HandposeError: Missing, corrupt, changed or unsafe files, weights that do not fit the model,
            an unavailable device or runtime.
    """
    if device not in DEVICES:
        raise HandposeError(f"unknown device {device!r}; use cpu or cuda")
    if device == "cuda" and runtime == "torch" and not torch.cuda.is_available():
        raise HandposeError("--device cuda requested but no CUDA device is available")
    if runtime not in RUNTIMES:
        raise HandposeError(f"unknown runtime {runtime!r}; use one of: {', '.join(RUNTIMES)}")
    path = Path(path)
    if path.is_dir() or path.name == "model.json":
        from handpose.package import read_package

        package = read_package(path)
        if runtime != "torch":
            from handpose.onnx_graph import ort_session

            threads = max(1, min(torch.get_num_threads(), 4))
            session = ort_session(package.graph(runtime), threads=threads, device=device)  # type: ignore[arg-type]
            return LoadedModel(package.contract, package.info, session=session)
        contract, weights, info = package.contract, package.weights, package.info
    elif path.exists():
        from handpose.checkpoint_file import read_checkpoint

        if runtime != "torch":
            option = "--quantize int8 (or made by handpose quantize)" if runtime == "onnx-int8" else "--onnx"
            raise HandposeError(f"--runtime {runtime} needs a package exported with {option}", path)
        contract, weights, meta = read_checkpoint(path)
        info = {"source": str(path), "metrics": {"val_mean_error_mm": meta["val_mean_error_mm"]}, **meta}
    else:
        raise HandposeError("model not found (expected a package folder or a .ckpt file)", path)
    network = load_network(contract, weights, str(path), info.get("temperature"))
    return LoadedModel(contract, info, network=network.to(device))


def load_network(
    contract: Contract, weights: dict[str, torch.Tensor], source: str, temperature: float | None = None
) -> nn.Module:
    """The contract's network with ``weights`` loaded strictly, in eval mode."""
    from handpose.models.registry import build_network

    network = build_network(contract, initial_weights=False)
    expected, given = set(network.state_dict()), set(weights)
    missing, unexpected = sorted(expected - given), sorted(given - expected)
    if missing or unexpected:
        raise HandposeError(
            f"weights do not fit model {contract.model!r} "
            f"({len(missing)} missing, {len(unexpected)} unexpected, e.g. {(missing or unexpected)[0]})",
            source,
        )
    try:
        network.load_state_dict(weights, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise HandposeError(f"weights do not fit model {contract.model!r}: {first[-1].strip()[:160]}", source) from None
    set_temperature = getattr(network, "set_temperature", None)
    if temperature is not None and callable(set_temperature):
        set_temperature(float(temperature))
    return network.eval()
