"""The LightningDataModule: training and validation frames from any source, cropped as the contract says.

Sources (``data.dataset``):

- a registered reader name (``icvl``, ``nyu``, ``msra``, ``hands2017``, ``hands2019``, ``ho3d``, ``rhd``,
  ``stb``, ``freihand``, ...) over ``data.root``;
- ``synthetic``: a folder written by ``handpose synth`` (its ``train``/``val`` splits);
- ``synthetic_stream``: frames rendered on the fly in the loader workers (``data.stream``), with a
  validation set rendered from a different seed;
- ``mix``: the readers of ``data.mix`` concatenated, every sample in ``canonical21``
  (:mod:`handpose.training.mixture`).
"""

from __future__ import annotations

from typing import Any

import lightning as L
import numpy as np
from torch.utils.data import DataLoader

from handpose.contract import Contract
from handpose.datasets.base import Modality
from handpose.errors import HandposeError
from handpose.training.config import RunConfig
from handpose.training.data import CropDataset, EpochSampler, worker_init
from handpose.training.mixture import MIX, holdout_indices, open_mixture
from handpose.transforms import make_transform

STREAM = "synthetic_stream"


def open_stream(cfg: RunConfig, modality: Modality, train: bool) -> Any:
    """The synthetic engine's on-the-fly dataset for training or validation."""
    from handpose.datasets.synthetic import SyntheticStream

    s = cfg.data.stream
    count, seed = (s.count, s.seed) if train else (s.val_count, s.val_seed)
    return SyntheticStream(
        count=count,
        seed=seed,
        modality=modality,
        camera=s.camera,
        occluders=s.occluders,
        hands=s.hands,
        hand_model=s.hand,
    )


def open_split(name: str, root: str, split: str, kwargs: dict[str, Any] | None = None) -> Any:
    from handpose.datasets import open_dataset

    try:
        return open_dataset(name, root, split, **(kwargs or {}))
    except TypeError as exc:
        raise HandposeError(f"data.reader_kwargs do not fit the {name} reader: {exc}") from None


def spread(indices: np.ndarray, limit: int | None) -> np.ndarray:
    """At most ``limit`` of ``indices``, evenly spread (so every sequence stays represented)."""
    if limit is None or len(indices) <= limit:
        return indices
    return indices[np.linspace(0, len(indices) - 1, limit).round().astype(np.int64)]


def median_hand_scale(reader: Any, indices: np.ndarray) -> float | None:
    """Median scale-bone length (middle MCP-PIP, mm) of the training labels; ``None`` if they cannot be read cheaply.

    RGB packages store it: 2.5D joints of an unlabelled photo become millimetres only at an assumed hand size.
    """
    from handpose.codecs.uvz import root_and_scale
    from handpose.skeleton import get

    try:
        labels = np.asarray(reader.labels_xyz(), dtype=np.float64)[indices]
        skel = get(getattr(reader, "skeleton", "canonical21"))
        if skel.scale_bone_indices is None:
            return None
        _, scale = root_and_scale(labels, skel)
    except (NotImplementedError, AttributeError):
        return None
    scale = scale[np.isfinite(scale) & (scale > 0)]
    return round(float(np.median(scale)), 2) if scale.size else None


class PoseDataModule(L.LightningDataModule):
    """Training and validation loaders for a run.

    Call :meth:`open` first (it reads labels, not images, and reports what the data is), then
    :meth:`use_contract` with the contract built from that.
    """

    def __init__(self, cfg: RunConfig, modality: Modality) -> None:
        super().__init__()
        self.cfg = cfg
        self.modality = modality
        self.train_reader: Any = None
        self.val_reader: Any = None
        self.train_indices: np.ndarray = np.zeros(0, dtype=np.int64)
        self.val_indices: np.ndarray = np.zeros(0, dtype=np.int64)
        self.contract: Contract | None = None

    # -- readers -------------------------------------------------------------------------------
    def open(self) -> dict[str, Any]:
        """Open the readers; returns facts for the contract (``dataset``, ``split``, ``frames``, ``camera``, ``skeleton``)."""
        d = self.cfg.data
        if d.dataset == STREAM:
            self.train_reader = open_stream(self.cfg, self.modality, train=True)
            self.val_reader = open_stream(self.cfg, self.modality, train=False)
            self.train_indices = np.arange(len(self.train_reader))
            self.val_indices = np.arange(len(self.val_reader))
        elif d.dataset == MIX:
            self._open_mixture()
        else:
            assert d.root is not None
            reader_kwargs = dict(d.reader_kwargs)
            if d.subject is not None:
                reader_kwargs["subject"] = d.subject
            self.train_reader = open_split(d.dataset, d.root, d.train_split, reader_kwargs)
            if d.val_split == "holdout":
                n = len(self.train_reader)
                n_val = max(1, round(n * d.val_fraction))
                if n - n_val < 1:
                    raise HandposeError(f"{d.dataset} {d.train_split}: too few frames ({n}) to hold out validation")
                # The last frames, not every k-th: neighbouring video frames would leak into validation.
                self.train_indices = np.arange(n - n_val)
                self.val_reader = self.train_reader
                self.val_indices = np.arange(n - n_val, n)
            else:
                self.val_reader = open_split(d.dataset, d.root, d.val_split, reader_kwargs)
                self.train_indices = np.arange(len(self.train_reader))
                self.val_indices = np.arange(len(self.val_reader))
        reader_modality = getattr(self.train_reader, "modality", self.modality)
        if reader_modality != self.modality:
            raise HandposeError(
                f"model {self.cfg.model.name!r} takes {self.modality} images but dataset {d.dataset!r} is {reader_modality}"
            )
        self.train_indices = spread(self.train_indices, d.limit_train)
        self.val_indices = spread(self.val_indices, d.limit_val)
        if len(self.train_indices) < d.batch_size:
            raise HandposeError(
                f"data.batch_size {d.batch_size} is larger than the {len(self.train_indices)} training frames"
            )
        camera = getattr(self.train_reader, "camera", None)
        facts = {
            "dataset": "+".join(s.dataset for s in d.mix) if d.mix else d.dataset,
            "root": ", ".join(s.root for s in d.mix) if d.mix else d.root,
            "split": d.train_split,
            "frames": len(self.train_indices),
            "camera": camera.to_dict() if camera is not None and hasattr(camera, "to_dict") else None,
            "skeleton": getattr(self.train_reader, "skeleton", "canonical21"),
        }
        if self.modality == "rgb":
            facts["hand_scale_mm"] = median_hand_scale(self.train_reader, self.train_indices)
        return facts

    def _open_mixture(self) -> None:
        d = self.cfg.data
        self.train_reader = open_mixture(d.mix, d.train_split, open_split)
        if d.val_split == "holdout":
            self.val_reader = self.train_reader
            self.train_indices, self.val_indices = holdout_indices(self.train_reader, d.val_fraction)
        else:
            self.val_reader = open_mixture(d.mix, d.val_split, open_split)
            self.train_indices = np.arange(len(self.train_reader))
            self.val_indices = np.arange(len(self.val_reader))

    def use_contract(self, contract: Contract | dict[str, Any]) -> None:
        self.contract = (
            contract if isinstance(contract, Contract) else Contract.from_dict(contract, "the run's contract")
        )

    # -- datasets ------------------------------------------------------------------------------
    def train_dataset(self) -> CropDataset:
        assert self.contract is not None, "call use_contract() first"
        transform = make_transform(self.contract, train=True, augment=self.cfg.data.augment)
        return CropDataset(self.train_reader, transform, self.cfg.seed, self.train_indices, self.contract.skeleton)

    def val_dataset(self) -> CropDataset:
        assert self.contract is not None, "call use_contract() first"
        transform = make_transform(self.contract, train=False, augment=False)
        return CropDataset(self.val_reader, transform, self.cfg.seed + 1, self.val_indices, self.contract.skeleton)

    def _rank(self) -> tuple[int, int]:
        trainer = self.trainer
        if trainer is None:
            return 0, 1
        return int(trainer.global_rank), int(trainer.world_size)

    def _loader(self, dataset: CropDataset, train: bool) -> DataLoader:
        rank, world = self._rank()
        d = self.cfg.data
        sampler = EpochSampler(
            len(dataset), d.batch_size, self.cfg.seed, shuffle=train, rank=rank, world_size=world, drop_last=train
        )
        return DataLoader(
            dataset,
            batch_size=d.batch_size // world,
            sampler=sampler,
            num_workers=d.num_workers,
            worker_init_fn=worker_init if d.num_workers else None,
            persistent_workers=False,
            pin_memory=False,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_dataset(), train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_dataset(), train=False)
