"""Model packages: a folder that is everything needed to run a trained model, and nothing executable.

Layout::

    model.safetensors   network weights (safetensors: tensors only, no pickle)
    model.json          format, model name and builder kwargs, skeleton, modality, the
                        preprocessing contract, training data, metrics, and the SHA-256 of every file
    model.onnx          (optional) the graph ``image -> joints``, checked against PyTorch when written
    model.int8.onnx     (optional) an int8 version of that graph

This module is the one place that writes and reads that layout. Reading checks every file it is
about to use against the SHA-256 that ``model.json`` lists, so a truncated copy or a swapped weights
file is one line naming the file, never a model that silently predicts something else.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from handpose import __version__
from handpose.contract import Contract
from handpose.errors import HandposeError
from handpose.io import atomic_path, make_output_folder, write_bytes_atomic, write_json_atomic
from handpose.safe_read import read_json

PACKAGE_FORMAT = "handpose-model"
PACKAGE_VERSION = 1
PACKAGE_JSON = "model.json"
PACKAGE_WEIGHTS = "model.safetensors"
PACKAGE_ONNX = "model.onnx"
PACKAGE_ONNX_INT8 = "model.int8.onnx"
GRAPH_FILES = {"onnx": PACKAGE_ONNX, "onnx-int8": PACKAGE_ONNX_INT8}


@dataclass(frozen=True)
class Package:
    """A package read back: its contract, weights and description.

    Attributes:
        folder: The package folder.
        contract: The preprocessing contract.
        weights: The network's state dict.
        info: ``model.json`` without the contract, plus ``source`` (the folder).
    """

    folder: Path
    contract: Contract
    weights: dict[str, torch.Tensor]
    info: dict[str, Any] = field(default_factory=dict)

    def graph(self, runtime: str) -> Path:
        """The checked ONNX graph file for ``runtime`` (``"onnx"`` or ``"onnx-int8"``).

        Raises:
            HandposeError: The package has no such graph, or the file is not the one ``model.json`` lists.
        """
        name = GRAPH_FILES[runtime]
        path = self.folder / name
        if not path.is_file():
            option = "--quantize int8 (or made by handpose quantize)" if runtime == "onnx-int8" else "--onnx"
            raise HandposeError(f"--runtime {runtime} needs a package exported with {option}", self.folder)
        verify_file(path, self.info.get("files"))
        return path


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_file(path: Path, files: Any) -> None:
    """Check ``path`` against the SHA-256 listed for it in ``model.json``'s ``files``.

    Raises:
        HandposeError: The file is not listed, or its bytes are not the ones the package was written with.
    """
    expected = files.get(path.name) if isinstance(files, Mapping) else None
    if not isinstance(expected, str):
        raise HandposeError(f"{PACKAGE_JSON} lists no checksum for this file; re-export the package", path)
    if sha256(path) != expected.lower():
        raise HandposeError(
            f"file does not match the SHA-256 in {PACKAGE_JSON} (changed or damaged since export)", path
        )


def read_package(folder: str | Path) -> Package:
    """Read a package folder (or its ``model.json``): description, contract and checked weights.

    Raises:
        HandposeError: Not a package, a newer format, an invalid contract, a missing, damaged or
            changed file.
    """
    folder = Path(folder)
    if folder.name == PACKAGE_JSON:
        folder = folder.parent
    meta_path = folder / PACKAGE_JSON
    if not meta_path.is_file():
        raise HandposeError(f"not a model package: {PACKAGE_JSON} missing", folder)
    meta = read_json(meta_path, "json", "package description")  # bounded size and nesting
    if not isinstance(meta, dict) or meta.get("format") != PACKAGE_FORMAT:
        raise HandposeError(f"not a handpose model package (format should be {PACKAGE_FORMAT!r})", meta_path)
    version = meta.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version > PACKAGE_VERSION:
        raise HandposeError(f"package format version {version!r} is not one this handpose reads", meta_path)
    contract = Contract.from_dict(meta.get("contract"), str(meta_path))
    weights_path = folder / PACKAGE_WEIGHTS
    if not weights_path.is_file():
        raise HandposeError(f"package weights missing ({PACKAGE_WEIGHTS})", folder)
    verify_file(weights_path, meta.get("files"))
    try:
        from safetensors.torch import load_file

        weights = load_file(str(weights_path), device="cpu")
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise HandposeError(f"corrupt weights file: {str(exc).splitlines()[0][:160]}", weights_path) from None
    info = {k: v for k, v in meta.items() if k != "contract"}
    info["source"] = str(folder)
    return Package(folder=folder, contract=contract, weights=weights, info=info)


def write_package(
    out: str | Path,
    state: Mapping[str, torch.Tensor],
    contract: Contract,
    meta: Mapping[str, Any],
    source: str,
    metrics: Mapping[str, Any] | None = None,
    graphs: Mapping[str, tuple[bytes, Mapping[str, Any]]] | None = None,
) -> dict[str, Any]:
    """Write a package folder; files of an earlier package that this one lacks are removed.

    Args:
        out: Package folder (created).
        state: The network's state dict.
        contract: Its preprocessing contract.
        meta: Training metadata (``config``, ``epoch``, ``global_step``, ``val_mean_error_mm``, ``temperature``).
        source: Where the weights came from (recorded).
        metrics: Evaluation results to record.
        graphs: ``{"onnx" | "onnx-int8": (graph bytes, what to record about it)}``.

    Returns:
        The ``model.json`` content.
    """
    from safetensors.torch import save_file

    out = make_output_folder(out, "the package")
    graphs = dict(graphs or {})
    unknown = set(graphs) - set(GRAPH_FILES)
    if unknown:
        raise ValueError(f"unknown package graphs {sorted(unknown)}")
    tensors = {k: v.detach().contiguous().cpu() for k, v in state.items()}
    with atomic_path(out / PACKAGE_WEIGHTS) as tmp:
        save_file(tensors, str(tmp), metadata={"format": PACKAGE_FORMAT, "model": contract.model})
    stored = contract.to_dict()
    description: dict[str, Any] = {
        "format": PACKAGE_FORMAT,
        "version": PACKAGE_VERSION,
        "handpose_version": __version__,
        "model": contract.model,
        "model_kwargs": stored["model_kwargs"],
        "skeleton": contract.skeleton,
        "modality": contract.modality,
        "contract": stored,
        "training_data": stored["training_data"],
        "training": {
            "config": meta.get("config"),
            "epoch": meta.get("epoch"),
            "global_step": meta.get("global_step"),
            "checkpoint": source,
        },
        "temperature": meta.get("temperature"),
        "metrics": {"val_mean_error_mm": meta.get("val_mean_error_mm"), **dict(metrics or {})},
        "files": {PACKAGE_WEIGHTS: sha256(out / PACKAGE_WEIGHTS)},
    }
    for runtime, name in GRAPH_FILES.items():
        if runtime not in graphs:
            (out / name).unlink(missing_ok=True)  # never leave a graph that belongs to other weights
            continue
        data, record = graphs[runtime]
        write_bytes_atomic(out / name, data)
        description["onnx" if runtime == "onnx" else "onnx_int8"] = dict(record)
        description["files"][name] = sha256(out / name)
    write_json_atomic(out / PACKAGE_JSON, description)
    return description
