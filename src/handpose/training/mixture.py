"""Several datasets trained as one (``data.mix``), each mapped to the canonical 21-joint hand.

Learnable Groups' Dexter+Object model trains on RHD and STB together: two readers with different joint
orders, cameras and image sizes. :class:`MixedReader` concatenates readers and converts every sample
to ``canonical21`` through the skeleton registry, so the crop transform and the model see one joint
order; a joint a source cannot express (NaN after conversion) is refused rather than trained on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from handpose import skeleton as skeletons
from handpose.errors import HandposeError
from handpose.training.data import convert_sample

MIX = "mix"
MIX_SKELETON = "canonical21"


class MixedReader:
    """Readers concatenated in order, their samples in ``canonical21``.

    Args:
        readers: Opened dataset readers of one modality.
        names: Their dataset names (for messages and ``frame_id`` prefixes).
    """

    skeleton = MIX_SKELETON
    camera = None  # the sources' cameras differ; every sample carries its own

    def __init__(self, readers: Sequence[Any], names: Sequence[str]) -> None:
        modalities = {getattr(r, "modality", None) for r in readers}
        if len(modalities) != 1:
            raise HandposeError(f"data.mix: {', '.join(names)} mix depth and RGB datasets")
        self.readers = list(readers)
        self.names = list(names)
        self.modality = modalities.pop()
        self.offsets = np.cumsum([0] + [len(r) for r in readers])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def locate(self, index: int) -> tuple[int, int]:
        """``(source, frame)`` of concatenated index ``index``."""
        if not 0 <= index < len(self):
            raise IndexError(index)
        source = int(np.searchsorted(self.offsets, index, side="right") - 1)
        return source, index - int(self.offsets[source])

    def __getitem__(self, index: int) -> Any:
        source, frame = self.locate(int(index))
        sample = self.readers[source][frame]
        if sample.skeleton != MIX_SKELETON:
            sample = convert_sample(sample, MIX_SKELETON)
        return dataclasses.replace(sample, frame_id=f"{self.names[source]}/{sample.frame_id}")

    def labels_xyz(self) -> np.ndarray:
        """Every source's labels in ``canonical21``, concatenated (raises ``NotImplementedError`` like a reader)."""
        parts = []
        for reader in self.readers:
            labels = np.asarray(reader.labels_xyz(), dtype=np.float64)
            parts.append(skeletons.get(reader.skeleton).convert(labels, MIX_SKELETON))
        return np.concatenate(parts)


def check_canonical(reader: Any, name: str) -> None:
    """Refuse a source whose skeleton leaves a ``canonical21`` joint without a counterpart."""
    probe = np.zeros((skeletons.get(reader.skeleton).num_joints, 3))
    if not np.all(np.isfinite(skeletons.get(reader.skeleton).convert(probe, MIX_SKELETON))):
        raise HandposeError(
            f"data.mix: {name}'s skeleton {reader.skeleton!r} has no counterpart for every {MIX_SKELETON} joint"
        )


def open_mixture(
    sources: Sequence[Any], split: str, open_split: Callable[[str, str, str, dict[str, Any]], Any]
) -> MixedReader:
    """One :class:`MixedReader` over ``split`` of every ``data.mix`` entry."""
    readers = []
    for source in sources:
        reader = open_split(source.dataset, source.root, split, dict(source.reader_kwargs))
        check_canonical(reader, source.dataset)
        readers.append(reader)
    return MixedReader(readers, [s.dataset for s in sources])


def holdout_indices(reader: MixedReader, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation indices: the last ``fraction`` of every source held out.

    Per source, so that the checkpoint is chosen on every dataset of the mixture, and the last frames
    rather than every k-th, so that neighbouring video frames do not leak into validation.
    """
    train, val = [], []
    for k, name in enumerate(reader.names):
        start, stop = int(reader.offsets[k]), int(reader.offsets[k + 1])
        n = stop - start
        n_val = max(1, round(n * fraction))
        if n - n_val < 1:
            raise HandposeError(f"data.mix: {name} has too few frames ({n}) to hold out validation")
        train.append(np.arange(start, stop - n_val))
        val.append(np.arange(stop - n_val, stop))
    return np.concatenate(train), np.concatenate(val)
