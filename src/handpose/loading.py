"""Open a trained model file: a package folder or a training checkpoint, as a network or an ONNX session.

Loading needs neither Lightning nor the training code: checkpoints are read by
:mod:`handpose.checkpoint_file`, packages by :mod:`handpose.package`, networks are built by the model
registry from the preprocessing contract, and ONNX sessions come from :mod:`handpose.onnx_graph`.
Reading a file (:func:`read_model_file`) and opening one runtime on it (:func:`open_runtime`) are
separate steps, so that ``--runtime auto`` (:mod:`handpose.runtime_choice`) reads and checks the
file once and opens every runtime it times from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from handpose.contract import Contract
from handpose.errors import HandposeError

# What ``--runtime`` can force; ``torch-bf16`` is PyTorch under bfloat16 autocast.
RUNTIMES = ("torch", "torch-bf16", "onnx", "onnx-int8")
DEVICES = ("cpu", "cuda")


class RuntimeFailureError(HandposeError):
    """PyTorch under bf16 autocast cannot run this input here (PyTorch fp32 still can).

    Args:
        detail: What failed (the first line of the PyTorch error).
    """

    def __init__(self, detail: str) -> None:
        self.detail = f"PyTorch bf16 autocast failed here ({detail})"
        super().__init__(f"{self.detail}; use --runtime torch")


@dataclass
class LoadedModel:
    """A model ready to run.

    Attributes:
        contract: Its preprocessing contract.
        info: Metadata (metrics, training data, source file).
        network: The network in eval mode on its device (PyTorch runtimes), else ``None``.
        session: The ONNX Runtime session (``runtime="onnx"`` or ``"onnx-int8"``), else ``None``.
        runtime: The runtime it runs in (one of :data:`RUNTIMES`).
        device: ``"cpu"`` or ``"cuda"``.
        choice: How ``--runtime auto`` chose ``runtime`` (a :class:`handpose.runtime_choice.RuntimeChoice`).
    """

    contract: Contract
    info: dict[str, Any] = field(default_factory=dict)
    network: nn.Module | None = None
    session: Any | None = None
    runtime: str = "torch"
    device: str = "cpu"
    choice: Any | None = None

    def run(self, images: np.ndarray, names: Sequence[str]) -> dict[str, np.ndarray]:
        """The outputs ``names`` for preprocessed crops ``(B, C, S, S)`` (see :func:`run_outputs`)."""
        return run_outputs(
            images, names, self.contract.model, self.network, self.session, self.device, self.runtime == "torch-bf16"
        )


@dataclass
class ModelFile:
    """A package or checkpoint read and checked, before any runtime is opened on it.

    Attributes:
        path: What was given.
        contract: Its preprocessing contract.
        weights: The network's state dict.
        info: Metadata (metrics, training data, source file).
        weights_sha256: SHA-256 of the weights file (``model.safetensors`` or the ``.ckpt``).
        package: The package read back, or ``None`` for a checkpoint.
    """

    path: Path
    contract: Contract
    weights: dict[str, torch.Tensor]
    info: dict[str, Any]
    weights_sha256: str
    package: Any | None = None

    def graph_sha256(self, runtime: str) -> str | None:
        """SHA-256 of the ONNX graph of ``runtime`` as ``model.json`` lists it, or ``None`` without one."""
        if self.package is None:
            return None
        from handpose.package import GRAPH_FILES

        name = GRAPH_FILES.get(runtime)
        files = self.info.get("files")
        if name is None or not (self.package.folder / name).is_file() or not isinstance(files, dict):
            return None
        value = files.get(name)
        return value if isinstance(value, str) else None


def output_names(contract: Contract) -> tuple[str, ...]:
    """The outputs a prediction reads: ``joints``, and for root-relative RGB models their 2D ``uv`` too."""
    if contract.modality == "rgb" and contract.output_space != "uvz":
        return ("joints", "uv")
    return ("joints",)


def open_model(path: str | Path, device: str = "cpu", runtime: str = "torch") -> LoadedModel:
    """Load a model package folder (or its ``model.json``) or a ``.ckpt`` training checkpoint.

    Args:
        path: Package folder, ``model.json`` or ``.ckpt``.
        device: ``"cpu"`` or ``"cuda"``.
        runtime: ``"torch"``, ``"torch-bf16"`` (PyTorch under bfloat16 autocast), ``"onnx"`` (packages
            exported with ``--onnx``) or ``"onnx-int8"`` (the int8 graph of packages exported with
            ``--quantize int8``). ``"auto"`` is :func:`handpose.runtime_choice.open_auto`.

    Raises:
        HandposeError: Missing, corrupt, changed or unsafe files, weights that do not fit the model,
            an unavailable device or runtime.
    """
    check_device(device, runtime)
    if runtime not in RUNTIMES:
        raise HandposeError(f"unknown runtime {runtime!r}; use one of: auto, {', '.join(RUNTIMES)}")
    return open_runtime(read_model_file(path), device, runtime)


def check_device(device: str, runtime: str) -> None:
    """Refuse an unknown device, and CUDA for PyTorch where there is none."""
    if device not in DEVICES:
        raise HandposeError(f"unknown device {device!r}; use cpu or cuda")
    if device == "cuda" and runtime.startswith(("torch", "auto")) and not torch.cuda.is_available():
        raise HandposeError("--device cuda requested but no CUDA device is available")


def read_model_file(path: str | Path) -> ModelFile:
    """Read and check a package folder (or its ``model.json``) or a ``.ckpt`` checkpoint.

    Raises:
        HandposeError: Missing, corrupt, changed or unsafe files.
    """
    from handpose.package import PACKAGE_WEIGHTS, read_package, sha256

    path = Path(path)
    if path.is_dir() or path.name == "model.json":
        package = read_package(path)
        # read_package checked the weights against this checksum.
        digest = str(package.info["files"][PACKAGE_WEIGHTS])
        return ModelFile(path, package.contract, package.weights, package.info, digest, package)
    if path.exists():
        from handpose.checkpoint_file import read_checkpoint

        contract, weights, meta = read_checkpoint(path)
        info = {"source": str(path), "metrics": {"val_mean_error_mm": meta["val_mean_error_mm"]}, **meta}
        return ModelFile(path, contract, weights, info, sha256(path))
    raise HandposeError("model not found (expected a package folder or a .ckpt file)", path)


def open_runtime(model: ModelFile, device: str, runtime: str, network: nn.Module | None = None) -> LoadedModel:
    """Open ``runtime`` on a model file read by :func:`read_model_file`.

    Args:
        model: The model file.
        device: ``"cpu"`` or ``"cuda"``.
        runtime: One of :data:`RUNTIMES`.
        network: For the PyTorch runtimes, a network already built from ``model`` (reused, not rebuilt).

    Raises:
        HandposeError: The model file has no graph for ``runtime``, or it does not load.
    """
    if runtime in ("onnx", "onnx-int8"):
        if model.package is None:
            option = "--quantize int8 (or made by handpose quantize)" if runtime == "onnx-int8" else "--onnx"
            raise HandposeError(f"--runtime {runtime} needs a package exported with {option}", model.path)
        from handpose.onnx_graph import ort_session

        threads = max(1, min(torch.get_num_threads(), 4))
        graph = model.package.graph(runtime)
        session = ort_session(graph, threads=threads, device=device)  # type: ignore[arg-type]
        return LoadedModel(model.contract, model.info, session=session, runtime=runtime, device=device)
    if network is None:
        network = load_network(model.contract, model.weights, str(model.path), model.info.get("temperature"))
        network = network.to(device)
    return LoadedModel(model.contract, model.info, network=network, runtime=runtime, device=device)


@torch.inference_mode()
def run_outputs(
    images: np.ndarray | torch.Tensor,
    names: Sequence[str],
    model_name: str,
    network: nn.Module | None,
    session: Any | None = None,
    device: str | torch.device = "cpu",
    bf16: bool = False,
) -> dict[str, np.ndarray]:
    """The outputs ``names`` (float64 numpy) of an ONNX session, else of a network, for crops ``(B, C, S, S)``.

    Args:
        images: Preprocessed crops.
        names: Output names.
        model_name: The contract's model name (for messages).
        network: The network (used when ``session`` is ``None``).
        session: An ONNX Runtime session.
        device: The network's device.
        bf16: Run the network under bfloat16 autocast.

    Raises:
        HandposeError: The network (or its ONNX graph) has no output of one of the names.
        RuntimeFailureError: bf16 autocast failed on this input.
    """
    if session is not None:
        arr = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
        available = {o.name for o in session.get_outputs()}
        missing = [n for n in names if n not in available]
        if missing:
            raise HandposeError(
                f"the model's ONNX graph has no {', '.join(missing)} output; export the package again "
                "(or use --runtime torch)"
            )
        got = session.run(list(names), {"image": arr.astype(np.float32)})
        return {n: np.asarray(v, dtype=np.float64) for n, v in zip(names, got)}
    if network is None:
        raise HandposeError("the estimator has neither a network nor an ONNX session")
    device = torch.device(device)
    x = torch.as_tensor(images, dtype=torch.float32, device=device)
    if device.type == "cpu":
        x = x.contiguous(memory_format=torch.channels_last)
    try:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out = network(x)
    except RuntimeError as exc:
        if not bf16:
            raise
        # oneDNN builds bf16 kernels per shape and can fail where fp32 runs (e.g. a tight address-space limit).
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise RuntimeFailureError(first) from None
    missing = [n for n in names if n not in out]
    if missing:
        raise HandposeError(f"model {model_name!r} has no {', '.join(missing)} output")
    return {n: out[n].float().cpu().numpy().astype(np.float64) for n in names}


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
