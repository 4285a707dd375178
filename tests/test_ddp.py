"""Two CPU processes (DDP over gloo) train like one process with the same global batch.

Each process takes half of every global batch (``EpochSampler``) and DDP averages the gradients. The
single process it is compared with takes the same halves one after the other and accumulates their
gradients into one step, so BatchNorm sees the same half batches in both and the trained weights
must agree up to the order of floating-point sums (PyTorch synchronises BatchNorm across processes on
GPUs only). Dropout is switched off to compare like with like. The fast test checks the batch
partition itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from handpose.training.data import EpochSampler
from training_helpers import TINY_CONFIG, render


def test_processes_split_each_global_batch_exactly() -> None:
    single = list(EpochSampler(50, 8, seed=3, shuffle=True))
    ranks = [list(EpochSampler(50, 8, seed=3, shuffle=True, rank=r, world_size=2)) for r in range(2)]
    assert len(single) == 48 and all(len(r) == 24 for r in ranks)
    for b in range(6):
        merged = ranks[0][4 * b : 4 * b + 4] + ranks[1][4 * b : 4 * b + 4]
        assert merged == single[8 * b : 8 * b + 8]


def _train(out: Path, data: Path, devices: int, *extra: str) -> Path:
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "handpose",
        "train",
        "--config",
        str(TINY_CONFIG),
        "--out",
        str(out),
        "--name",
        f"d{devices}",
        "--devices",
        str(devices),
        "data.dataset=synthetic",
        f"data.root={data}",
        "data.val_split=val",
        "trainer.accelerator=cpu",
        "trainer.max_epochs=2",
        "model.kwargs.dropout=0.0",
        "data.limit_train=32",  # whole global batches of 8 in both runs
        *extra,
    ]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return out / f"d{devices}" / "checkpoints" / "last.ckpt"


@pytest.mark.slow
def test_two_process_ddp_matches_one_process(tmp_path: Path) -> None:
    data = render(40, 1)
    one = torch.load(
        _train(tmp_path, data, 1, "data.batch_size=4", "trainer.accumulate_grad_batches=2"),
        map_location="cpu",
        weights_only=True,
    )
    two = torch.load(_train(tmp_path, data, 2, "data.batch_size=8"), map_location="cpu", weights_only=True)
    assert one["global_step"] == two["global_step"] > 0
    v1 = _val_error(one)
    v2 = _val_error(two)
    assert np.isfinite(v1) and np.isfinite(v2)
    # Running BatchNorm averages differ (each process updates its own from its halves), so the
    # validation errors agree closely rather than exactly; the trained weights agree tightly.
    assert abs(v2 - v1) < 0.05 * v1, (v1, v2)
    worst = {}
    for name, w1 in one["state_dict"].items():
        if w1.is_floating_point() and w1.numel() > 1 and "running_" not in name:
            w2 = two["state_dict"][name]
            worst[name] = float((w1 - w2).norm() / (w1.norm() + 1e-12))
    name = max(worst, key=worst.get)
    assert worst[name] < 1e-3, (name, worst[name])


def _val_error(ckpt: dict) -> float:
    for key, state in ckpt["callbacks"].items():
        if key.startswith("ModelCheckpoint") and state.get("current_score") is not None:
            return float(state["current_score"])
    raise AssertionError("no validation score in the checkpoint")
