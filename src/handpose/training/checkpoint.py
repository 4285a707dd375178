"""Checkpoints: written atomically, read back only as tensors and plain containers.

Lightning's checkpoint dict is saved through :class:`AtomicCheckpointIO` (temporary file + rename, so
an interrupted save never leaves a truncated ``.ckpt``) and loaded with ``torch.load(...,
weights_only=True)``: a file that needs anything else to unpickle — code, classes, callables — is
refused with one line, never executed.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from handpose.errors import HandposeError
from handpose.io import atomic_path

MODULE_PREFIX = "model."


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint I/O with atomic saves and ``weights_only`` loads."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)

    def load_checkpoint(self, path: Any, map_location: Any | None = None, weights_only: bool | None = None) -> Any:
        return load_safely(path, map_location=map_location or "cpu")


def load_safely(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """``torch.load(path, weights_only=True)`` with every failure turned into one :class:`HandposeError` line."""
    path = Path(path)
    if not path.is_file():
        raise HandposeError("checkpoint not found" if not path.exists() else "checkpoint is not a file", path)
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" in str(exc).lower() or "weights_only" in str(exc):
            raise HandposeError(
                "refused: the checkpoint holds pickled objects beyond tensors and plain containers "
                "(it could run code when loaded); re-save it with handpose",
                path,
            ) from None
        raise HandposeError(f"corrupt checkpoint: {_first_line(exc)}", path) from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, KeyError) as exc:
        raise HandposeError(f"corrupt or truncated checkpoint: {_first_line(exc)}", path) from None
    if not isinstance(obj, dict):
        raise HandposeError("not a handpose checkpoint (expected a dict)", path)
    return obj


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def read_checkpoint(path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, Any]]:
    """The contract, network weights and metadata (config, epoch, best validation score) of a checkpoint.

    Raises:
        HandposeError: Missing, corrupt, unsafe, or not written by ``handpose train``.
    """
    from handpose.training.contract import check_contract

    ckpt = load_safely(path)
    hparams = ckpt.get("hyper_parameters")
    if not isinstance(hparams, dict) or "contract" not in hparams:
        raise HandposeError("not a handpose training checkpoint (no preprocessing contract)", path)
    contract = check_contract(hparams["contract"], str(path))
    state = ckpt.get("state_dict")
    if not isinstance(state, dict):
        raise HandposeError("checkpoint has no weights (state_dict)", path)
    weights = {k[len(MODULE_PREFIX) :]: v for k, v in state.items() if k.startswith(MODULE_PREFIX)}
    if not weights:
        raise HandposeError("checkpoint holds no network weights", path)
    meta = {
        "config": hparams.get("config", {}),
        "epoch": ckpt.get("epoch"),
        "global_step": ckpt.get("global_step"),
        "val_mean_error_mm": _best_score(ckpt),
        "temperature": ckpt.get("temperature"),
    }
    return contract, weights, meta


def _best_score(ckpt: dict[str, Any]) -> float | None:
    for key, state in (ckpt.get("callbacks") or {}).items():
        if str(key).startswith("ModelCheckpoint") and isinstance(state, dict):
            score = state.get("current_score", state.get("best_model_score"))
            if isinstance(score, torch.Tensor):
                return float(score)
    return None
