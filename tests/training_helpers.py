"""A tiny trained model shared by the training, inference and export tests (built once per session).

``tiny_run()`` renders two small synthetic depth folders (training and held-out test frames), trains
the ``configs/synthetic/crossinfonet_tiny.yaml`` model on them for two epochs through the command
line, and exports a package with an ONNX graph. Everything lives in a temporary folder removed at exit.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPO / "configs" / "synthetic" / "crossinfonet_tiny.yaml"


@dataclass(frozen=True)
class TinyRun:
    root: Path
    train_data: Path
    test_data: Path
    run_dir: Path
    best: Path
    last: Path
    package: Path


def cli(*argv: str) -> int:
    from handpose.cli import main

    return main([str(a) for a in argv])


def train_args(out: Path, train_data: Path, name: str, *extra: str) -> list[str]:
    """``handpose train`` arguments for the tiny model on a synthetic folder."""
    return [
        "train",
        "--config",
        str(TINY_CONFIG),
        "--out",
        str(out),
        "--name",
        name,
        "data.dataset=synthetic",
        f"data.root={train_data}",
        "data.val_split=val",
        # 'auto' times bf16 against fp32 on CPUs with bf16 instructions: two runs could pick differently.
        "trainer.precision=32-true",
        *extra,
    ]


# Overrides that keep the RGB test runs small and quiet.
QUICK_RGB = ("data.num_workers=0", "model.input_size=64", "trainer.max_minutes=null", "trainer.progress=none")


def holdout_args(
    command: str,
    config: Path,
    out: Path,
    name: str,
    dataset: str,
    *overrides: str,
    options: tuple[str, ...] = (),
    val_fraction: float = 0.25,
) -> list:
    """``handpose train`` (or ``folds``) arguments for two steps on a held-out split of ``dataset``.

    Args:
        command: The subcommand.
        config: Training config file.
        out: Runs folder.
        name: Run name.
        dataset: ``data.dataset`` value.
        *overrides: More ``key=value`` overrides, applied after the common ones.
        options: Command options placed before the overrides.
        val_fraction: Share of the frames held out for validation.
    """
    return [
        command,
        "--config",
        config,
        "--out",
        out,
        "--name",
        name,
        *options,
        f"data.dataset={dataset}",
        "data.val_split=holdout",
        f"data.val_fraction={val_fraction}",
        "data.batch_size=4",
        "trainer.max_epochs=1",
        "trainer.max_steps=2",
        "trainer.precision=32-true",
        *overrides,
    ]


def check_dexter_fingertips(ckpt: Path, folder: Path, seed: int) -> None:
    """Score an RGB checkpoint on three Dexter+Object frames written to ``folder`` and check the report."""
    import json

    import numpy as np

    from fixtures import rgb_formats as rx

    truth = rx.write_dexter(folder / "dexter", np.random.default_rng(seed), frames=3)
    out = folder / "do.json"
    assert cli("evaluate", "--checkpoint", ckpt, "--dataset", "dexter", "--root", folder / "dexter", "--json", out) == 0
    report = json.loads(out.read_text())
    assert report["skeleton"] == "dexter5" and report["frames"] == len(truth["Grasp1"])
    assert 0 <= report["auc_0_50"] <= report["auc_0_100"] <= 1
    assert np.isfinite(report["mean_error_mm"]) and report["mean_error_mm"] > 0


@cache
def render(count: int, seed: int) -> Path:
    from handpose.synth.writer import write_synthetic

    return write_synthetic(_tmp() / f"synth_{count}_{seed}", count, seed=seed, camera="nyu")


@cache
def _tmp() -> Path:
    path = Path(tempfile.mkdtemp(prefix="handpose-tiny-"))
    atexit.register(shutil.rmtree, path, True)
    return path


@cache
def tiny_run() -> TinyRun:
    root = _tmp()
    train_data = render(40, 1)
    test_data = render(12, 2)
    assert cli(*train_args(root / "runs", train_data, "tiny", "trainer.max_epochs=2")) == 0
    run_dir = root / "runs" / "tiny"
    package = root / "package"
    assert cli("export", run_dir / "checkpoints" / "best.ckpt", package, "--onnx") == 0
    return TinyRun(
        root=root,
        train_data=train_data,
        test_data=test_data,
        run_dir=run_dir,
        best=run_dir / "checkpoints" / "best.ckpt",
        last=run_dir / "checkpoints" / "last.ckpt",
        package=package,
    )
