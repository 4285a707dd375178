"""Data for training: any reader (real, synthetic folder, synthetic streamed) + the right crop transform.

Reproducibility is built into the sampler rather than left to global random state. Each epoch's
order is a permutation drawn from ``(seed, epoch)``, and every item is requested as ``(epoch, index)``
so augmentation draws from ``(seed, epoch, index)`` — in whichever worker process it runs. A run
resumed from a checkpoint therefore sees exactly the frames and augmentations it would have seen
without stopping, and ``N`` DDP processes together see exactly the batches one process would.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from handpose.errors import HandposeError


class EpochSampler(Sampler):
    """Deterministic per-epoch order, split across processes one global batch at a time.

    Global batch ``b`` holds positions ``b * B .. (b + 1) * B - 1`` of the epoch's permutation; process
    ``r`` of ``W`` takes the ``r``-th slice of ``B / W`` of it. Yields ``(epoch, index)`` pairs.

    Args:
        length: Frames in the dataset.
        global_batch: Batch size summed over processes ``B``.
        seed: Seed of the permutations.
        shuffle: Permute (training) or keep order (validation).
        rank: This process.
        world_size: Processes ``W``; must divide ``global_batch``.
        drop_last: Training: drop a final incomplete global batch. Evaluation (``False``): deal the
            frames round-robin over the processes instead.
    """

    def __init__(
        self,
        length: int,
        global_batch: int,
        seed: int,
        shuffle: bool,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = True,
    ) -> None:
        if global_batch % world_size:
            raise HandposeError(f"data.batch_size {global_batch} must be a multiple of the process count {world_size}")
        self.length = length
        self.global_batch = global_batch
        self.seed = seed
        self.shuffle = shuffle
        self.rank = rank
        self.world_size = world_size
        self.drop_last = drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _local_positions(self) -> list[int]:
        if not self.drop_last:
            # Evaluation: every frame exactly once, dealt round-robin so that no process is left empty.
            return list(range(self.rank, self.length, self.world_size))
        per_rank = self.global_batch // self.world_size
        n_batches = self.length // self.global_batch
        out: list[int] = []
        for b in range(n_batches):
            start = b * self.global_batch + self.rank * per_rank
            out.extend(range(start, min(start + per_rank, self.length)))
        return out

    def __iter__(self) -> Iterator[tuple[int, int]]:
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.length)
        else:
            order = np.arange(self.length)
        for pos in self._local_positions():
            yield self.epoch, int(order[pos])

    def __len__(self) -> int:
        return len(self._local_positions())


class CropDataset(Dataset):
    """A reader (or a subset of it) seen through a crop transform, as dicts of tensors.

    Args:
        reader: Indexable sequence of :class:`~handpose.datasets.base.Sample`.
        transform: Callable ``transform(sample, rng) -> dict`` of :mod:`handpose.batch` keys.
        seed: Seed of augmentation.
        indices: Frames of ``reader`` to use (``None``: all).
        skeleton: Joint order the model predicts; frames are converted when the reader's differs.
    """

    def __init__(
        self,
        reader: Any,
        transform: Any,
        seed: int,
        indices: Sequence[int] | np.ndarray | None = None,
        skeleton: str | None = None,
    ) -> None:
        self.reader = reader
        self.transform = transform
        self.seed = seed
        self.indices = np.arange(len(reader)) if indices is None else np.asarray(indices, dtype=np.int64)
        self.skeleton = skeleton

    def __len__(self) -> int:
        return len(self.indices)

    def sample(self, index: int) -> Any:
        """The raw sample behind item ``index`` (converted to the model's skeleton)."""
        sample = self.reader[int(self.indices[index])]
        if self.skeleton is not None and sample.skeleton != self.skeleton:
            sample = convert_sample(sample, self.skeleton)
        return sample

    def __getitem__(self, item: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        epoch, index = item if isinstance(item, tuple) else (0, item)
        rng = np.random.default_rng([self.seed, epoch, int(index)])
        out = self.transform(self.sample(index), rng)
        return {k: to_tensor(v) for k, v in out.items() if _is_array_like(v)}


def convert_sample(sample: Any, skeleton: str) -> Any:
    """A copy of ``sample`` with its joints re-ordered to ``skeleton`` (through the canonical hand)."""
    import dataclasses

    from handpose import skeleton as skeletons

    src = skeletons.get(sample.skeleton)
    xyz = src.convert(sample.joints_xyz, skeleton)
    uvd = src.convert(sample.joints_uvd, skeleton)
    vis = src.convert(sample.visibility.astype(np.float64)[:, None].repeat(3, 1), skeleton, fill=0.0)[:, 0] > 0.5
    if not np.all(np.isfinite(xyz)):
        raise HandposeError(f"skeleton {sample.skeleton!r} has no counterpart for every joint of {skeleton!r}")
    return dataclasses.replace(sample, joints_xyz=xyz, joints_uvd=uvd, visibility=vis, skeleton=skeleton)


def _is_array_like(v: Any) -> bool:
    return isinstance(v, (np.ndarray, torch.Tensor, float, int, np.floating, np.integer))


def to_tensor(v: Any) -> torch.Tensor:
    if isinstance(v, torch.Tensor):
        return v
    arr = np.asarray(v)
    if arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    if not arr.flags.c_contiguous:
        arr = arr.copy()  # not np.ascontiguousarray: it turns 0-d arrays into 1-d ones
    return torch.from_numpy(arr)


def worker_init(_: int) -> None:
    # Each loader worker renders or crops on its own core; extra intra-op threads only contend.
    torch.set_num_threads(1)
