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
        *extra,
    ]


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
