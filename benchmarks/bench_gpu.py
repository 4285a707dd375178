"""The product path on a CUDA machine: train, evaluate, export, predict and time the models on the GPU.

1. Render synthetic NYU-camera depth frames (training and held-out test), decode them into caches.
2. ``handpose train``: CrossInfoNet, bf16 mixed precision, on 2 GPUs (DDP) when the machine has
   them, else 1; images/s from the run's wall time.
3. ``handpose evaluate --checkpoint`` on the test frames.
4. ``handpose export --onnx``.
5. ``handpose predict --device cuda`` on test PNGs with the package.
6. The models' frames/s on the GPU (eager PyTorch, fp32 and bf16 autocast, batches 1 and 32).

Each stage is a separate process, as a user runs it. The rows land in the "GPU" section of
docs/benchmarks.md with the GPU's name. ``--dry-run`` runs every stage on the CPU with tiny sizes
(what ``tests/test_bench_gpu.py`` checks) and writes the section to ``--docs`` (default: nowhere).

    python benchmarks/bench_gpu.py                 # on a CUDA machine
    python benchmarks/bench_gpu.py --dry-run --work /tmp/g --docs /tmp/g/benchmarks.md
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _docs import DOCS, cpu_name, replace_section

REPO = Path(__file__).resolve().parents[1]
HEADING = "## GPU"
MODELS = (("crossinfonet", 96), ("fingerposenet", 96), ("resunet", 128), ("learnable_groups_k3", 256))
DRY_MODELS = (("crossinfonet", 32),)


def handpose(*argv: Any, env: dict[str, str] | None = None) -> tuple[float, str]:
    """Run a ``handpose`` verb in its own process; its wall time and output (a failure stops the script)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "handpose", *map(str, argv)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"handpose {argv[0]} failed (exit {done.returncode})")
    return wall, done.stdout + done.stderr


def prepare(work: Path, train_frames: int, test_frames: int, input_size: int) -> tuple[Path, Path, Path]:
    """Training cache, test cache and the test PNG folder."""
    from handpose.datasets import open_dataset
    from handpose.datasets.depthcache import build_depth_cache
    from handpose.synth.writer import write_synthetic

    out = []
    for name, count, seed, split in (("train", train_frames, 1, "all"), ("test", test_frames, 2, "test")):
        folder = work / "data" / name
        if not (folder / "meta.json").is_file():
            write_synthetic(folder, count, seed=seed, camera="nyu", workers=2, overwrite=True, hands="right")
        cache = work / "cache" / name
        if not (cache / split / "info.json").is_file():
            patch = int(-(-input_size * 1.75 * 1.1 // 16) * 16)
            reader = open_dataset("synthetic", folder, split)
            build_depth_cache(reader, cache, cube=250.0, patch_size=patch, center="gt", progress=False)
        out.append(cache)
    return out[0], out[1], work / "data" / "test"


def time_models(models: tuple[tuple[str, int], ...], device: str, seconds: float) -> list[dict[str, Any]]:
    """Eager frames/s per model, precision and batch size on ``device``."""
    import torch

    from handpose.models import get_spec
    from handpose.models.registry import create_model

    rows = []
    for name, size in models:
        channels = 3 if get_spec(name).modality == "rgb" else 1
        model = create_model(name, input_size=size).to(device).eval()
        for precision in ("fp32", "bf16"):
            row: dict[str, Any] = {"model": name, "input": size, "precision": precision}
            for batch in (1, 32):
                x = torch.randn(batch, channels, size, size, device=device)
                row[f"b{batch}"] = frames_per_s(model, x, precision == "bf16", seconds)
            rows.append(row)
    return rows


def frames_per_s(model: Any, x: Any, bf16: bool, seconds: float) -> float:
    import torch

    device_type = x.device.type

    def sync() -> None:
        if device_type == "cuda":
            torch.cuda.synchronize()

    with torch.inference_mode(), torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
        for _ in range(3):
            model(x)
        sync()
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            model(x)
            count += 1
        sync()
        return count * x.shape[0] / (time.perf_counter() - start)


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    dry = args.dry_run
    if not dry and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run on a GPU machine, or pass --dry-run to check the stages on the CPU")
    device = "cpu" if dry else "cuda"
    gpus = 0 if dry else torch.cuda.device_count()
    devices = 1 if dry else min(gpus, 2)
    size = 32 if dry else 96
    work = Path(args.work)
    train_cache, test_cache, test_pngs = prepare(work, args.train_frames, args.test_frames, size)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    stages: list[dict[str, Any]] = []

    run_dir = work / "runs" / "gpu"
    if run_dir.exists():
        import shutil

        shutil.rmtree(run_dir)
    train_argv = [
        "train",
        "--config",
        REPO / "configs" / "synthetic" / "crossinfonet_cpu.yaml",
        "--out",
        work / "runs",
        "--name",
        "gpu",
        "data.dataset=depth_cache",
        f"data.root={train_cache}",
        "data.train_split=all",
        "data.val_split=holdout",
        "data.num_workers=2",
        f"data.batch_size={args.batch_size}",
        f"model.input_size={size}",
        "trainer.max_minutes=null",
        f"trainer.max_steps={args.steps}",
        f"trainer.val_every_n_steps={max(args.steps // 3, 1)}",
        "trainer.precision=bf16-mixed",
        "trainer.progress=none",
        f"--accelerator={'cpu' if dry else 'gpu'}",
        f"--devices={devices}",
    ]
    wall, _ = handpose(*train_argv, env=env)
    summary = json.loads((run_dir / "summary.json").read_text())
    images = summary["global_step"] * args.batch_size
    stages.append(
        {
            "stage": f"train (bf16-mixed, {devices} device{'s' if devices > 1 else ''}, {summary['global_step']} steps)",
            "wall_s": wall,
            "result": f"{images / summary['wall_s']:.0f} images/s in training; "
            f"validation {summary['best_val_mean_error_mm']:.1f} mm",
        }
    )
    best = summary["best_checkpoint"]
    report = work / "evaluate.json"
    wall, _ = handpose(
        "evaluate", "--checkpoint", best, "--dataset", "depth_cache", "--root", test_cache, "--split", "test",
        "--json", report, env=env,
    )  # fmt: skip
    scores = json.loads(report.read_text())
    mean = scores["mean_error_mm"]
    stages.append({"stage": "evaluate --checkpoint", "wall_s": wall, "result": f"test mean error {mean:.1f} mm"})
    package = work / "package"
    wall, _ = handpose("export", best, package, "--onnx", env=env)
    stages.append({"stage": "export --onnx", "wall_s": wall, "result": "package with ONNX graph"})
    pngs = sorted(p for p in test_pngs.rglob("*.png"))[: args.predict_frames]
    wall, _ = handpose(
        "predict", package, *pngs, "--camera", "nyu", "--device", device, "--out", work / "predictions",
        "--no-plots", env=env,
    )  # fmt: skip
    written = sum((work / "predictions" / f"{png.stem}.json").is_file() for png in pngs)
    stages.append({"stage": f"predict --device {device}", "wall_s": wall, "result": f"{written} predictions written"})
    models = time_models(DRY_MODELS if dry else MODELS, device, args.seconds)
    name = "CPU dry run: " + cpu_name() if dry else f"{torch.cuda.get_device_name(0)} x{gpus}"
    return {"device": name, "stages": stages, "models": models, "torch": torch.__version__}


def render(result: dict[str, Any]) -> str:
    lines = [
        "Command: `python benchmarks/bench_gpu.py` (each stage a separate `handpose` process, synthetic "
        f"NYU-camera depth frames). Device: {result['device']}, torch {result['torch']}.",
        "",
        "| stage | wall (s) | result |",
        "|---|---|---|",
        *(f"| {s['stage']} | {s['wall_s']:.1f} | {s['result']} |" for s in result["stages"]),
        "",
        "| model | input | precision | eager b1 (frames/s) | eager b32 (frames/s) |",
        "|---|---|---|---|---|",
        *(
            f"| {m['model']} | {m['input']} | {m['precision']} | {m['b1']:.1f} | {m['b32']:.1f} |"
            for m in result["models"]
        ),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dry-run", action="store_true", help="every stage on the CPU, tiny sizes")
    p.add_argument("--work", default=str(REPO / "runs" / "bench-gpu"))
    p.add_argument("--docs", help="page to write the section to (default: docs/benchmarks.md; dry run: none)")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--train-frames", type=int, default=4000)
    p.add_argument("--test-frames", type=int, default=500)
    p.add_argument("--predict-frames", type=int, default=16)
    p.add_argument("--seconds", type=float, default=3.0, help="timed seconds per model configuration")
    args = p.parse_args(argv)
    if args.dry_run:
        args.steps, args.batch_size, args.train_frames, args.test_frames = 3, 4, 24, 6
        args.predict_frames, args.seconds = 2, 0.2
    result = run(args)
    print(render(result), flush=True)
    docs = Path(args.docs) if args.docs else (None if args.dry_run else DOCS)
    if docs is not None:
        replace_section(HEADING, render(result), docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
