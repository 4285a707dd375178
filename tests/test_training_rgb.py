"""The RGB path on synthetic colour frames: a small Learnable Groups model trains (per-group learning
rates, annealed Gumbel temperature stored in the checkpoint), is evaluated with the RGB protocol and
exported to a package that rebuilds the same network."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from training_helpers import cli

SMALL = "{features: 32, stem_channels: 16, num_modules: 1, branch_channels: 8}"


def test_learnable_groups_train_evaluate_export(tmp_path: Path) -> None:
    from handpose.synth.writer import write_synthetic

    train_data = write_synthetic(tmp_path / "train", 24, seed=1, modality="rgb", camera=None)
    test_data = write_synthetic(tmp_path / "test", 6, seed=2, modality="rgb", camera=None)
    code = cli(
        "train",
        "--config",
        Path(__file__).resolve().parents[1] / "configs" / "synthetic" / "learnable_groups_k3_cpu.yaml",
        "--out",
        tmp_path / "runs",
        "--name",
        "learnable_groups",
        "data.dataset=synthetic",
        f"data.root={train_data}",
        "data.val_split=val",
        "data.batch_size=4",
        "data.num_workers=0",
        "model.input_size=64",
        f"model.kwargs={SMALL}",
        "trainer.max_epochs=1",
        "trainer.max_minutes=null",
        "trainer.progress=none",
        "optim.temperature.every=2",
    )
    assert code == 0
    best = tmp_path / "runs" / "learnable_groups" / "checkpoints" / "best.ckpt"
    ckpt = torch.load(best, map_location="cpu", weights_only=True)
    steps = ckpt["global_step"]
    assert steps == 5  # 21 training frames (index % 10 != 9) in batches of 4
    # Temperature annealed from 5 by 0.1 every 2 steps, saved with the weights.
    assert abs(ckpt["temperature"] - (5.0 - 0.1 * ((steps - 1) // 2))) < 1e-6
    lrs = [g["lr"] for g in ckpt["optimizer_states"][0]["param_groups"]]
    assert sorted(lrs)[-1] > 10 * sorted(lrs)[0]  # selector / fusion / rest at their own rates

    report_path = tmp_path / "eval.json"
    code = cli("evaluate", "--checkpoint", best, "--dataset", "synthetic", "--root", test_data, "--json", report_path)
    assert code == 0
    report = json.loads(report_path.read_text())
    assert report["modality"] == "rgb" and report["frames"] == 6
    assert np.isfinite(report["pa_mpjpe_mm"]) and 0 <= report["auc_20_50"] <= 1

    assert cli("export", best, tmp_path / "package") == 0
    from handpose.inference import Estimator

    est = Estimator.load(tmp_path / "package")
    assert est.modality == "rgb" and est.contract.output_space == "uvz"
    assert abs(float(est.network.temperature) - ckpt["temperature"]) < 1e-6

    # The package knows the training hands' size, and predicts an unlabelled photo from a hand box alone.
    from handpose.codecs.uvz import root_and_scale
    from handpose.datasets import open_dataset

    reader = open_dataset("synthetic", train_data, "train")
    _, scales = root_and_scale(reader.labels_xyz().astype(np.float64), reader.skeleton)
    assert abs(est.contract.hand_scale_mm - np.median(scales)) < 0.01
    frame = open_dataset("synthetic", test_data, "all")[0]
    uv = frame.joints_uvd[:, :2]
    lo, hi = uv.min(0) - 10, uv.max(0) + 10
    image = test_data / frame.frame_id
    box = f"{lo[0]:.1f},{lo[1]:.1f},{hi[0] - lo[0]:.1f},{hi[1] - lo[1]:.1f}"
    cam = frame.camera
    camera = f"{cam.fx},{cam.fy},{cam.cx},{cam.cy}"
    out = tmp_path / "pred"
    assert cli("predict", tmp_path / "package", image, "--camera", camera, "--box", box, "--out", out) == 0
    record = json.loads((out / f"{image.stem}.json").read_text())
    xyz = np.asarray(record["xyz_mm"])
    assert xyz.shape == (21, 3) and np.isfinite(xyz).all() and (xyz[:, 2] > 0).all()
    assert (out / f"{image.stem}_overlay.png").is_file()
