"""Training throughput per model (images/s): with the real data pipeline on, the pipeline's own ceiling,
and the network alone on tensors already in memory.

- ``pipeline``: depth frames from a decoded hand-region cache of a synthetic NYU-camera folder (as
  ``handpose data cache`` writes it; ``--depth-source png`` reads the 16-bit PNGs instead), RGB frames
  from their PNGs, cropped and augmented by the model's crop transform through the training
  DataLoader (``--workers`` processes, ``--rgb-workers`` for RGB), no network.
- ``train``: the same loader feeding forward + backward + Adam, as ``handpose train`` runs it
  (channels-last; fp32 and bf16 autocast, ``--precision``).
- ``compute``: forward + backward + Adam on one batch reused, i.e. the network's ceiling.

The ratio train / compute is what the data pipeline costs the training (target: at least 0.9).

Writes the "Training throughput" section of docs/benchmarks.md: one table per modality, each with the
command that measured it. Rows are kept per model, input and precision in
``benchmarks/results/training_throughput.json`` (committed): a run replaces the rows it measures and
keeps the others, and ``--render`` rewrites the section from the file alone. Run it on an otherwise
idle machine.

    python benchmarks/bench_training_throughput.py
    python benchmarks/bench_training_throughput.py --models learnable_groups_k3,resunet --rgb-batch-size 8
    python benchmarks/bench_training_throughput.py --render
    python benchmarks/bench_training_throughput.py --smoke    # seconds, no docs update
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from _docs import cpu_name, replace_section
from handpose.io import write_json_atomic

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parents[1]
HEADING = "## Training throughput"
RESULTS = REPO / "benchmarks" / "results" / "training_throughput.json"
TITLES = {"depth": "Depth", "rgb": "RGB"}
# (model, input size, builder kwargs): the depth seeds at their reference input, the demo's size, RGB seeds.
MODELS: tuple[tuple[str, int, dict[str, Any]], ...] = (
    ("crossinfonet", 96, {}),
    ("crossinfonet", 64, {}),
    ("fingerposenet", 96, {}),
    ("holistic_resnet18", 96, {}),
    ("learnable_groups_k3", 256, {}),
    ("resunet", 128, {}),
)


def _config(model: str, size: int, kwargs: dict[str, Any], root: Path, batch: int, workers: int, cached: bool) -> Any:
    from handpose.models import get_spec
    from handpose.training.config import config_from_dict

    rgb = get_spec(model).modality == "rgb"
    source = {"dataset": "synthetic", "root": str(root / ("rgb" if rgb else "depth"))}
    if cached and not rgb:
        source = {"dataset": "depth_cache", "root": str(depth_cache(root, size)), "cube": 250.0, "center": "gt"}
    return config_from_dict(
        {
            "name": "throughput",
            "model": {"name": model, "input_size": size, "kwargs": kwargs},
            "data": {
                **source,
                "train_split": "all",
                "val_split": "holdout",
                "batch_size": batch,
                "num_workers": workers,
                "augment": True,
            },
            "trainer": {"accelerator": "cpu"},
        },
        source=model,
    )


def depth_cache(root: Path, size: int) -> Path:
    """A hand-region cache of the depth folder with room for ``size``-pixel augmented crops (built once)."""
    from handpose.datasets import open_dataset
    from handpose.datasets.depthcache import build_depth_cache

    cache = root / f"depth_cache_{size}"
    if not (cache / "all" / "info.json").is_file():
        patch = int(-(-size * 1.75 * 1.1 // 16) * 16)
        reader = open_dataset("synthetic", root / "depth", "all")
        build_depth_cache(reader, cache, cube=250.0, patch_size=patch, center="gt", progress=False)
    return cache


def measure(
    model: str, size: int, kwargs: dict[str, Any], root: Path, args: argparse.Namespace, precision: str
) -> dict[str, float]:
    import torch

    from handpose.models import get_spec
    from handpose.training.run import build_run

    rgb = get_spec(model).modality == "rgb"
    workers = args.rgb_workers if rgb else args.workers
    batch_size = args.rgb_batch_size if rgb else args.batch_size
    cfg = _config(model, size, kwargs, root, batch_size, workers, args.depth_source == "cache")
    module, dm, _ = build_run(cfg)
    loader = dm._loader(dm.train_dataset(), train=True)
    steps = args.steps

    def take(n: int) -> list[dict[str, torch.Tensor]]:
        out = []
        while len(out) < n:
            for batch in loader:
                out.append(batch)
                if len(out) == n:
                    break
        return out

    start = time.perf_counter()
    take(steps)
    pipeline = steps * batch_size / (time.perf_counter() - start)

    module.setup("fit")
    module.train()
    opt = torch.optim.Adam(module.parameters(), 1e-4)

    bf16 = precision.startswith("bf16")

    def step(batch: dict[str, torch.Tensor]) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = module.compute_loss(module(batch["image"]), batch)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    fixed = take(1)[0]
    for _ in range(args.warmup):
        step(fixed)
    start = time.perf_counter()
    for _ in range(steps):
        step(fixed)
    compute = steps * batch_size / (time.perf_counter() - start)

    start = time.perf_counter()
    for batch in take(steps):
        step(batch)
    train = steps * batch_size / (time.perf_counter() - start)
    return {"pipeline": pipeline, "train": train, "compute": compute}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32, help="depth batch size")
    parser.add_argument("--rgb-batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes (depth)")
    parser.add_argument("--rgb-workers", type=int, default=1, help="DataLoader worker processes (RGB)")
    parser.add_argument("--depth-source", choices=("cache", "png"), default="cache")
    parser.add_argument("--precision", choices=("32-true", "bf16-mixed", "both"), default="both")
    parser.add_argument("--frames", type=int, default=400, help="synthetic frames per modality")
    parser.add_argument("--models", help="comma-separated subset of model names")
    parser.add_argument("--work", default=str(REPO / "runs" / "bench-throughput"))
    parser.add_argument("--results", default=str(RESULTS), help="rows kept across runs (committed)")
    parser.add_argument("--render", action="store_true", help="only rewrite the docs section from --results")
    parser.add_argument("--smoke", action="store_true", help="tiny run, no docs update")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    results_path = Path(args.results)
    if args.render:
        replace_section(HEADING, render(json.loads(results_path.read_text())))
        return 0
    models = MODELS
    if args.smoke:
        args.batch_size, args.rgb_batch_size, args.steps, args.warmup, args.frames = 4, 4, 2, 1, 16
        args.no_docs = True
        models = (("crossinfonet", 64, {"width": 0.25, "channels": 32, "fc_dim": 64}),)
    if args.models:
        wanted = set(args.models.split(","))
        models = tuple(m for m in models if m[0] in wanted)
    import torch

    from handpose.models import get_spec
    from handpose.synth.writer import write_synthetic

    torch.set_num_threads(min(torch.get_num_threads(), 2))
    root = Path(args.work)
    for modality, camera in (("depth", "nyu"), ("rgb", None)):
        folder = root / modality
        if not (folder / "meta.json").is_file():
            write_synthetic(folder, args.frames, seed=1, modality=modality, camera=camera, workers=2, overwrite=True)
    precisions = ("32-true", "bf16-mixed") if args.precision == "both" else (args.precision,)
    command = "python " + " ".join(
        shlex.quote(a) for a in [str(Path(sys.argv[0]).resolve().relative_to(REPO)), *sys.argv[1:]]
    )
    rows = []
    for model, size, kwargs in models:
        rgb = get_spec(model).modality == "rgb"
        for precision in precisions:
            result = measure(model, size, kwargs, root, args, precision)
            print(
                f"{model} @{size} {precision}: pipeline {result['pipeline']:.0f}, train {result['train']:.1f}, "
                f"compute {result['compute']:.1f} images/s (ratio {result['train'] / result['compute']:.2f})",
                flush=True,
            )
            source = (
                f"{args.rgb_workers} loader worker(s), PNG frames"
                if rgb
                else f"{args.workers} loader worker(s), depth from a {args.depth_source}"
            )
            rows.append(
                {
                    "model": model,
                    "input": size,
                    "precision": precision,
                    "modality": "rgb" if rgb else "depth",
                    "batch": args.rgb_batch_size if rgb else args.batch_size,
                    "command": command,
                    "setup": f"{cpu_name()}, {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, "
                    f"channels-last, {source}",
                    **{k: round(v, 2) for k, v in result.items()},
                }
            )
    if args.no_docs:
        return 0
    results = json.loads(results_path.read_text()) if results_path.is_file() else {"rows": []}
    done = {(r["model"], r["input"], r["precision"]) for r in rows}
    kept = [r for r in results.get("rows", []) if (r["model"], r["input"], r["precision"]) not in done]
    results = {"rows": kept + rows, "load_average_at_end": round(os.getloadavg()[0], 1)}
    write_json_atomic(results_path, results)
    replace_section(HEADING, render(results))
    return 0


def render(results: dict[str, Any]) -> str:
    """One table per modality and command that measured its rows."""
    lines: list[str] = [
        "The last column is what the data pipeline costs the training (target: at least 0.9). Few timed steps "
        "on a machine shared with other work make each rate noisy: a ratio above 1 is that noise. "
        "`python benchmarks/bench_training_throughput.py --render` rewrites this section from "
        "`benchmarks/results/training_throughput.json`.",
        "",
    ]
    for modality in ("depth", "rgb"):
        rows = [r for r in results["rows"] if r["modality"] == modality]
        for command in dict.fromkeys(r["command"] for r in rows):
            group = [r for r in rows if r["command"] == command]
            lines += [
                f"{TITLES[modality]} models. Command: `{command}` — {group[0]['setup']}.",
                "",
                "| model | input | batch | precision | pipeline alone (img/s) | training with pipeline (img/s) | "
                "network alone (img/s) | with pipeline / alone |",
                "|---|---|---|---|---|---|---|---|",
                *(
                    f"| {r['model']} | {r['input']} | {r['batch']} | {r['precision']} | {r['pipeline']:.0f} | "
                    f"{r['train']:.1f} | {r['compute']:.1f} | {r['train'] / r['compute']:.2f} |"
                    for r in group
                ),
                "",
            ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
