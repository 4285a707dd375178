"""``handpose demo`` trains every planned step unless the user gives a time budget, and says when one cut it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from handpose.demo import FULL, QUICK, demo_config, training_threads
from handpose.demo_report import report_title

REPO = Path(__file__).resolve().parents[1]


def test_no_time_cap_unless_the_user_gives_one(tmp_path: Path) -> None:
    for plan in (FULL, QUICK):
        assert demo_config(plan, tmp_path)["trainer"]["max_minutes"] is None
    assert demo_config(QUICK, tmp_path, budget_minutes=2.5)["trainer"]["max_minutes"] == 2.5


def test_every_planned_step_sees_new_frames_once(tmp_path: Path) -> None:
    for plan in (FULL, QUICK):
        cfg = demo_config(plan, tmp_path)
        assert cfg["data"]["dataset"] == "synthetic_stream" and cfg["trainer"]["max_epochs"] == 1
        assert cfg["data"]["stream"]["count"] == plan.train_steps * plan.batch_size
        assert cfg["data"]["stream"]["seed"] != cfg["data"]["stream"]["val_seed"]


def test_another_seed_changes_weights_and_training_frames_only(tmp_path: Path) -> None:
    import dataclasses

    from handpose.demo import TEST_SEED

    base = demo_config(FULL, tmp_path)
    other = demo_config(dataclasses.replace(FULL, seed=3), tmp_path)
    assert other["seed"] == 3 and base["seed"] == 0
    stream, base_stream = other["data"]["stream"], base["data"]["stream"]
    assert stream["seed"] != base_stream["seed"] and stream["seed"] not in (stream["val_seed"], TEST_SEED)
    assert {k: v for k, v in stream.items() if k != "seed"} == {k: v for k, v in base_stream.items() if k != "seed"}


def test_demo_configs_are_valid_runs_with_their_loss(tmp_path: Path) -> None:
    from handpose.losses import create_loss
    from handpose.training.config import config_from_dict

    for plan in (FULL, QUICK):
        cfg = config_from_dict(demo_config(plan, tmp_path), source="demo")
        assert cfg.trainer.freeze_batchnorm_at == plan.freeze_batchnorm_at
        loss = create_loss(cfg.loss.name, "canonical21", **cfg.loss.params)
        assert loss.heatmap_weight == plan.heatmap_weight


def test_training_threads_leave_the_loaders_their_cores() -> None:
    assert training_threads(1, cores=2) == 1
    assert training_threads(2, cores=2) == 1  # never zero
    assert training_threads(1, cores=4) == 3
    assert training_threads(1, cores=64) == 4  # small crops gain nothing from more


def test_a_budget_that_cut_training_is_the_reports_first_line() -> None:
    cut = {"stopped_by_time_budget": True, "budget_minutes": 2.5, "train_steps": 131, "planned_steps": 672}
    assert report_title(cut) == (
        "# handpose demo report: time budget of 2.5 min hit, training stopped after 131 of 672 planned steps"
    )
    assert report_title({**cut, "stopped_by_time_budget": False}) == "# handpose demo report"


def test_a_budget_must_be_positive(tmp_path: Path) -> None:
    from handpose.cli import main

    assert main(["demo", "--quick", "--budget", "0", "--out", str(tmp_path / "d")]) == 2


BUSY = """
import os, time, torch
torch.set_num_threads(os.cpu_count())
a = torch.randn(1024, 1024)
end = time.time() + {seconds}
while time.time() < end:
    a = torch.tanh(a @ a)
"""


@pytest.mark.slow
def test_quick_demo_beside_a_cpu_heavy_process(tmp_path: Path) -> None:
    # The promise of `handpose demo --quick` on a machine that is not idle: a second process computing on
    # every core with spinning OpenMP threads, the worst neighbour, runs for the whole demo.
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")}
    busy = subprocess.Popen([sys.executable, "-c", BUSY.format(seconds=400)], env={**env, "OMP_WAIT_POLICY": "ACTIVE"})
    try:
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "handpose", "demo", "--quick", "--out", str(tmp_path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        elapsed = time.perf_counter() - start
    finally:
        busy.kill()
        busy.wait()
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["train_steps"] == metrics["planned_steps"] and not metrics["stopped_by_time_budget"]
    assert "[train] step" in done.stdout  # progress lines, though the output is a pipe
    assert metrics["mean_error_mm"] <= 0.7 * metrics["mean_pose_error_mm"], metrics
    assert elapsed < 180, elapsed


def test_demo_runs_table_checks_both_goals() -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    import bench_demo

    row = {
        "when": "w", "cpu": "c", "beside": "busy", "load_before": 2.0, "quick": True, "wall_min": 2.5,
        "train_steps": 198, "planned_steps": 198, "precision": "bf16-mixed", "mean_error_mm": 38.0,
        "mean_pose_error_mm": 59.0, "ratio": 0.64, "stopped_by_time_budget": False,
    }  # fmt: skip
    slow = {**row, "wall_min": 3.2}
    full = {**row, "quick": False, "wall_min": 8.0, "ratio": 0.41}
    table = bench_demo.render([row, slow, full]).splitlines()
    assert [ln.rsplit("|", 2)[1].strip() for ln in table if ln.startswith("| w |")] == ["yes", "no", "no"]
    forced = {**row, "precision": "32-true", "precision_asked": "32-true"}
    assert "| 32-true (asked) |" in bench_demo.render([forced])


def test_plan_variants_convert_to_the_fields_types() -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    import bench_demo_plan

    changed = bench_demo_plan.overrides(
        ["coordinate_loss=l2", "heatmap_weight=0.01", "freeze_batchnorm_at=none", "train_steps=300", "augment=true"],
        FULL,
    )
    assert changed == {
        "coordinate_loss": "l2",
        "heatmap_weight": 0.01,
        "freeze_batchnorm_at": None,
        "train_steps": 300,
        "augment": True,
    }
    with pytest.raises(SystemExit, match="KEY one of"):
        bench_demo_plan.overrides(["steps=3"], FULL)
