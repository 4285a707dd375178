"""Pieces of the training engine: sampler, schedules, parameter groups, decoding, checkpoint I/O."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from crop_reference import normalized_joints
from handpose.codecs import decode_batch
from handpose.errors import HandposeError
from handpose.training.checkpoint import AtomicCheckpointIO, load_safely
from handpose.training.data import EpochSampler
from handpose.training.module import parameter_groups
from handpose.training.schedule import LRFactor, temperature_at


def test_sampler_is_a_deterministic_permutation_per_epoch() -> None:
    sampler = EpochSampler(30, 8, seed=1, shuffle=True)
    first = list(sampler)
    assert len(first) == len(sampler) == 24
    assert all(e == 0 for e, _ in first) and len({i for _, i in first}) == 24
    assert list(EpochSampler(30, 8, seed=1, shuffle=True)) == first
    sampler.set_epoch(1)
    second = list(sampler)
    assert all(e == 1 for e, _ in second) and [i for _, i in second] != [i for _, i in first]


def test_validation_sampler_deals_every_frame_once() -> None:
    parts = [list(EpochSampler(7, 4, seed=0, shuffle=False, rank=r, world_size=2, drop_last=False)) for r in range(2)]
    assert sorted(i for part in parts for _, i in part) == list(range(7))
    with pytest.raises(HandposeError, match="multiple of the process count"):
        EpochSampler(10, 3, seed=0, shuffle=True, world_size=2)


def test_crossinfonet_schedule_and_warmup() -> None:
    f = LRFactor("exponential", steps_per_epoch=10, total_steps=100, gamma=0.96)
    assert f(0) == 1.0 and f(9) == 1.0 and math.isclose(f(10), 0.96) and math.isclose(f(25), 0.96**2)
    cosine = LRFactor("cosine", steps_per_epoch=10, total_steps=100)
    assert cosine(0) == 1.0 and math.isclose(cosine(50), 0.5) and cosine(100) < 1e-12
    warm = LRFactor("constant", steps_per_epoch=10, total_steps=100, warmup_steps=4)
    assert [warm(s) for s in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]
    step = LRFactor("step", steps_per_epoch=1, total_steps=100, gamma=0.5, step_every=3)
    assert [step(s) for s in (0, 2, 3, 6)] == [1.0, 1.0, 0.5, 0.25]


def test_cosine_over_a_time_budget_follows_the_elapsed_share_not_the_step() -> None:
    timed = LRFactor("cosine", steps_per_epoch=10, total_steps=10**9, time_budget=True)
    timed.budget_progress = 0.5
    assert math.isclose(timed(3), 0.5)
    timed.budget_progress = 1.3  # the last step can start after the budget ran out
    assert timed(4) == 0.0
    state = torch.optim.lr_scheduler.LambdaLR(torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0), timed)
    assert state.state_dict()["lr_lambdas"][0]["budget_progress"] == 1.3


def test_temperature_annealing() -> None:
    assert temperature_at(0, 5.0, 0.1, 1000, 0.1) == 5.0
    assert math.isclose(temperature_at(2999, 5.0, 0.1, 1000, 0.1), 4.8)
    assert temperature_at(10**7, 5.0, 0.1, 1000, 0.1) == 0.1


class _Grouped(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.selector = nn.Parameter(torch.zeros(3))
        self.fusion = nn.Linear(2, 2)
        self.body = nn.Linear(2, 2)
        self.spec = type("S", (), {"name": "grouped"})()

    def param_groups(self) -> list[dict]:
        return [{"name": "selector", "params": [self.selector]}, {"name": "fusion", "params": self.fusion.parameters()}]


def test_parameter_groups_get_their_own_rates() -> None:
    groups = {g["name"]: g for g in parameter_groups(_Grouped(), 1e-4, {"selector": 0.1, "fusion": 0.01})}
    assert groups["selector"]["lr"] == 0.1 and groups["fusion"]["lr"] == 0.01 and groups["rest"]["lr"] == 1e-4
    assert len(groups["rest"]["params"]) == 2
    with pytest.raises(HandposeError, match="unknown groups"):
        parameter_groups(_Grouped(), 1e-4, {"nddr": 0.1})
    with pytest.raises(HandposeError, match="defines no parameter groups"):
        parameter_groups(_Plain(), 1e-4, {"selector": 0.1})


class _Plain(nn.Linear):
    def __init__(self) -> None:
        super().__init__(2, 2)
        self.spec = type("S", (), {"name": "plain"})()


def test_validation_decoding_matches_the_crop_geometry(rng) -> None:
    from handpose.geometry import CAMERAS, CubeCrop

    cam = CAMERAS["nyu"]
    xyz = rng.normal(0, 40, (2, 21, 3)) + np.array([30.0, -20.0, 450.0])
    crops = [CubeCrop.around(x[9], 250.0, cam, 64, rotation_deg=r) for x, r in zip(xyz, (0.0, 35.0))]
    norm = np.stack([normalized_joints(c, x) for c, x in zip(crops, xyz)])
    batch = {
        "center_xyz": torch.tensor([c.center_xyz for c in crops]),
        "cube": torch.tensor([c.cube for c in crops]),
        "rotation_deg": torch.tensor([0.0, 35.0]),
        "camera": torch.tensor([[cam.fx, cam.fy, cam.cx, cam.cy]] * 2),
    }
    decoded = decode_batch(torch.tensor(norm), batch, "cube").numpy()
    assert np.abs(decoded - xyz).max() < 1e-3  # float32 geometry, mm


def test_checkpoints_are_written_atomically_and_read_safely(tmp_path: Path) -> None:
    io = AtomicCheckpointIO()
    path = tmp_path / "a.ckpt"
    io.save_checkpoint({"state_dict": {"w": torch.ones(2)}, "hyper_parameters": {"config": {"x": 1}}}, path)
    assert [p.name for p in tmp_path.iterdir()] == ["a.ckpt"]  # no temporary left behind
    assert torch.equal(io.load_checkpoint(path)["state_dict"]["w"], torch.ones(2))
    (tmp_path / "b.ckpt").write_bytes(b"")
    with pytest.raises(HandposeError, match="corrupt or truncated"):
        load_safely(tmp_path / "b.ckpt")
    with pytest.raises(HandposeError, match="not found"):
        load_safely(tmp_path / "c.ckpt")


def test_runs_saved_before_losses_were_configurable_train_with_the_model_default() -> None:
    from handpose.losses.depth import CrossInfoNetLoss
    from handpose.training.config import config_from_dict
    from handpose.training.module import PoseModule, training_loss

    old = Path(__file__).resolve().parent / "fixtures" / "contract_v1" / "old.ckpt"
    hp = torch.load(old, map_location="cpu", weights_only=True)["hyper_parameters"]
    assert "loss" not in hp["contract"]  # contract version 1
    hp["config"].pop("loss", None)  # configs older than the loss: block
    module = PoseModule(hp["config"], hp["contract"])
    assert isinstance(module.loss_fn, CrossInfoNetLoss) and module.loss_fn.heatmap_weight == 0.01
    # Old registry names carry the loss they trained with.
    for name, loss in {
        "resunet_joint_loss": {"name": "resunet", "params": {"joint_weight": 1.0}},
        "ljg_k3": {"name": "learnable_groups_l1", "params": {}},
        "crossinfonet_base": {"name": "crossinfonet", "params": {"heatmap_weight": 0.0}},
    }.items():
        assert training_loss(config_from_dict({**hp["config"], "model": {"name": name}})) == loss
    # A run's loss: block overrides the default parameter by parameter.
    tuned = config_from_dict({**hp["config"], "loss": {"heatmap_weight": 0.5}})
    assert training_loss(tuned) == {"name": "crossinfonet", "params": {"heatmap_weight": 0.5}}
