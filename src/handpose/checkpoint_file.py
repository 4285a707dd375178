"""Reading training checkpoints: tensors and plain containers only, and the contract validated.

A checkpoint is loaded with ``torch.load(..., weights_only=True)``: a file that needs anything else to
unpickle (code, classes, callables) is refused with one line, never executed. Reading one needs
neither Lightning nor the training code, so inference can load ``.ckpt`` files without them.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from handpose.contract import Contract
from handpose.errors import HandposeError
from handpose.safe_read import check_nesting

MODULE_PREFIX = "model."


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
    check_nesting({k: v for k, v in obj.items() if k != "state_dict"}, path, "checkpoint")
    return obj


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def read_checkpoint(path: str | Path) -> tuple[Contract, dict[str, torch.Tensor], dict[str, Any]]:
    """The contract, network weights and metadata (config, epoch, best validation score) of a checkpoint.

    Raises:
        HandposeError: Missing, corrupt, unsafe, or not written by ``handpose train``.
    """
    ckpt = load_safely(path)
    hparams = ckpt.get("hyper_parameters")
    if not isinstance(hparams, dict) or "contract" not in hparams:
        raise HandposeError("not a handpose training checkpoint (no preprocessing contract)", path)
    contract = Contract.from_dict(hparams["contract"], str(path))
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
