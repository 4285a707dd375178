"""Checkpoints: written atomically, read back only as tensors and plain containers.

Lightning's checkpoint dict is saved through :class:`AtomicCheckpointIO` (temporary file + rename, so
an interrupted save never leaves a truncated ``.ckpt``) and loaded through
:func:`handpose.checkpoint_file.load_safely` (``weights_only``), which inference uses without Lightning.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO

from handpose.checkpoint_file import load_safely, read_checkpoint
from handpose.io import atomic_path

__all__ = ["AtomicCheckpointIO", "PeriodicCheckpoint", "load_safely", "read_checkpoint"]


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint I/O with atomic saves and ``weights_only`` loads."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)

    def load_checkpoint(self, path: Any, map_location: Any | None = None, weights_only: bool | None = None) -> Any:
        return load_safely(path, map_location=map_location or "cpu")


class PeriodicCheckpoint(ModelCheckpoint):
    """A checkpoint kept every N epochs, beside the run's "best" and "last" ones.

    Lightning keys a checkpoint callback's saved state by its class name and schedule, not its file
    name: as a plain ``ModelCheckpoint`` with N = 1 it would share the every-epoch "last" callback's key
    and Lightning would refuse to start. Its own class name keeps the keys apart (the other two keep
    Lightning's keys, which resumed runs use).
    """
