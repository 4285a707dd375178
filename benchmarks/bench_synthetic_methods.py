"""Synthetic benchmark: every depth method and ablation trained on the same synthetic frames under the
same CPU budget, scored on the same held-out frames; then the RGB methods (one group, manual groups,
learned groups, with and without fusion) the same way.

Depth: a synthetic NYU-camera folder (training frames, seed 1) and a held-out folder (seed 2), right
hands only by default as in the public depth benchmarks (``--hands``), decoded once into hand-region
caches; crops of ``--input-size`` pixels in a 250 mm cube centred on the labelled middle MCP; each
model trains for ``--minutes`` of wall clock (Adam 1e-3, cosine decay to zero over the time budget,
gradient norm clipped at 10), and the checkpoint with the lowest validation error (last tenth of the
training frames) is scored on the test frames, next to the mean-pose baseline (the training frames'
mean normalised pose, decoded with each test frame's own crop). RGB: the same with synthetic 256x256
colour frames, 2.5D/3D outputs scored root-relative.

The tables land in the "Synthetic benchmark" section of docs/benchmarks.md, each with the command that
produced it: a run of one modality (``--skip-rgb``, or ``--models`` of one kind) keeps the other
modality's last results from WORK/results.json. Run it on an otherwise idle machine: every model gets
the same wall-clock budget, so load from other processes changes the numbers.

    python benchmarks/bench_synthetic_methods.py --minutes 10
    python benchmarks/bench_synthetic_methods.py --smoke        # seconds per model, no docs update
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from _docs import replace_section
from handpose.io import write_json_atomic

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "benchmarks.md"
HEADING = "## Synthetic benchmark"

DEPTH_MODELS = (
    "crossinfonet",
    "crossinfonet_cross",
    "crossinfonet_base_hm",
    "crossinfonet_base",
    "fingerposenet",
    "fingerposenet_no_sharing",
    "fingerposenet_no_fusion",
    "holistic_resnet18",
)
RGB_MODELS = (
    "learnable_groups_one_group",
    "learnable_groups_manual",
    "learnable_groups_manual_nofusion",
    "learnable_groups_k3",
    "learnable_groups_k3_nofusion",
)
SMALL_HOURGLASS = {"features": 64, "stem_channels": 32, "num_modules": 1}


def prepare_depth(
    work: Path, train_frames: int, test_frames: int, input_size: int, hands: str, hand_model: str = "mesh"
) -> tuple[Path, Path]:
    from handpose.datasets import open_dataset
    from handpose.datasets.depthcache import build_depth_cache
    from handpose.synth.writer import write_synthetic

    caches = []
    for name, count, seed, split in (("train", train_frames, 1, "all"), ("test", test_frames, 2, "test")):
        # The hand model is in the name: a folder of the other hand is never taken for this one.
        folder = work / "data" / f"depth_{name}_{count}_{hands}_{hand_model}"
        if not (folder / "meta.json").is_file():
            write_synthetic(
                folder, count, seed=seed, camera="nyu", workers=2, overwrite=True, hands=hands, hand_model=hand_model
            )
        cache = work / "cache" / f"depth_{name}_{count}_{hands}_{hand_model}_{input_size}"
        if not (cache / split / "info.json").is_file():
            patch = int(-(-input_size * 1.75 * 1.1 // 16) * 16)
            build_depth_cache(
                open_dataset("synthetic", folder, split),
                cache,
                cube=250.0,
                patch_size=patch,
                center="gt",
                progress=False,
            )
        caches.append(cache)
    return caches[0], caches[1]


def prepare_rgb(work: Path, train_frames: int, test_frames: int, hand_model: str = "mesh") -> tuple[Path, Path]:
    from handpose.synth.writer import write_synthetic

    out = []
    for name, count, seed in (("train", train_frames, 1), ("test", test_frames, 2)):
        folder = work / "data" / f"rgb_{name}_{count}_{hand_model}"
        if not (folder / "meta.json").is_file():
            write_synthetic(
                folder, count, seed=seed, modality="rgb", camera=None, workers=2, overwrite=True, hand_model=hand_model
            )
        out.append(folder)
    return out[0], out[1]


def run_config(model: str, modality: str, train_root: Path, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    from handpose.models.registry import default_group_lr

    input_size = args.input_size if modality == "depth" else args.rgb_input_size
    kwargs = SMALL_HOURGLASS if model.startswith("learnable_groups_") else {}
    data: dict[str, Any] = {
        "dataset": "depth_cache" if modality == "depth" else "synthetic",
        "root": str(train_root),
        "train_split": "all",
        "val_split": "holdout",
        "val_fraction": 0.1,
        "augment": True,
        "batch_size": args.batch_size,
        "num_workers": 0,
    }
    if modality == "depth":
        data.update({"cube": 250.0, "center": "gt", "eval_center": "gt"})
    # Cosine over the wall-clock budget: every model ends annealed, whatever its speed.
    optim: dict[str, Any] = {"optimizer": "adam", "lr": 1e-3, "schedule": "cosine"}
    if model.startswith("learnable_groups_"):
        optim["group_lr"] = default_group_lr(model, kwargs)
        optim["temperature"] = {"start": 5.0, "step": 0.1, "every": 100, "min": 0.1}
    return {
        "name": model,
        "seed": 0,
        "out_dir": str(out),
        "model": {"name": model, "input_size": input_size, "kwargs": kwargs},
        "data": data,
        "optim": optim,
        "trainer": {
            "max_epochs": 10_000,
            "max_minutes": args.minutes,
            "accelerator": "cpu",
            "progress": "none",
            "log_every_n_steps": 10,
            "gradient_clip": 10.0,
        },
    }


def evaluate(best: str, modality: str, test_root: Path) -> dict[str, Any]:
    from handpose.evaluation.checkpoint import score_depth, score_rgb
    from handpose.inference import Estimator
    from handpose.model_evaluation import open_eval_dataset, predict_dataset
    from handpose.skeleton import get

    est = Estimator.load(best)
    if modality == "depth":
        test = open_eval_dataset(est, "depth_cache", str(test_root), "test")
        preds = predict_dataset(est, test, progress=False)
        return score_depth(preds.pred_xyz, preds.gt_xyz)
    test = open_eval_dataset(est, "synthetic", str(test_root), "test")
    preds = predict_dataset(est, test, progress=False)
    return score_rgb(preds.pred_xyz, preds.gt_xyz, preds.visible, get(est.skeleton).root_index)


def bench(
    models: tuple[str, ...], modality: str, train_root: Path, test_root: Path, args: argparse.Namespace, work: Path
) -> list[dict[str, Any]]:
    import shutil

    from handpose.training.config import config_from_dict
    from handpose.training.run import train

    rows = []
    for model in models:
        out = work / "runs" / modality
        shutil.rmtree(out / model, ignore_errors=True)
        cfg = config_from_dict(run_config(model, modality, train_root, args, out), source=model)
        print(f"== {model}: training {args.minutes:g} min", flush=True)
        summary = train(cfg)
        scores = evaluate(summary["best_checkpoint"], modality, test_root)
        row = {
            "model": model,
            "steps": summary["global_step"],
            "epochs": summary["epochs"],
            "checkpoint": summary["best_checkpoint"],
            "train_frames": summary["train_frames"],
            **scores,
        }
        print(f"   {model}: {row['mean_error_mm']:.2f} mm after {row['steps']} steps", flush=True)
        rows.append(row)
    if modality == "depth" and rows:
        rows.append(mean_pose_row(rows[0]["checkpoint"], rows[0]["train_frames"], train_root, test_root))
    return rows


def mean_pose_row(checkpoint: str, train_frames: int, train_root: Path, test_root: Path) -> dict[str, Any]:
    """The mean-pose baseline on the test frames, through the crops of a trained model's contract."""
    from handpose.datasets import open_dataset
    from handpose.demo import mean_pose_predictions
    from handpose.evaluation.checkpoint import score_depth
    from handpose.inference import Estimator
    from handpose.model_evaluation import open_eval_dataset, predict_dataset

    est = Estimator.load(checkpoint)
    preds = predict_dataset(est, open_eval_dataset(est, "depth_cache", str(test_root), "test"), progress=False)
    train_joints = open_dataset("depth_cache", train_root, "all").labels_xyz()[:train_frames]
    xyz = mean_pose_predictions(est, preds, train_joints)
    return {"model": "mean pose (baseline)", "steps": 0, "epochs": 0, **score_depth(xyz, preds.gt_xyz)}


def table(rows: list[dict[str, Any]], modality: str) -> list[str]:
    if modality == "depth":
        lines = [
            "| model | steps | mean error (mm) | median (mm) | frames within 20 / 40 mm |",
            "|---|---|---|---|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r['model']} | {r['steps']} | {r['mean_error_mm']:.2f} | {r['median_error_mm']:.2f} | "
                f"{100 * r['success_at_20mm']:.1f}% / {100 * r['success_at_40mm']:.1f}% |"
            )
        return lines
    lines = ["| model | steps | root-relative mean (mm) | PA-MPJPE (mm) | AUC 20-50 mm |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['steps']} | {r['mean_error_mm']:.2f} | {r['pa_mpjpe_mm']:.2f} | "
            f"{r['auc_20_50']:.3f} |"
        )
    return lines


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training wall clock per model")
    parser.add_argument("--train-frames", type=int, default=4000)
    parser.add_argument("--test-frames", type=int, default=500)
    parser.add_argument("--input-size", type=int, default=64, help="depth crop side")
    parser.add_argument("--hands", choices=("right", "left", "both"), default="right", help="depth frames' hands")
    parser.add_argument("--rgb-input-size", type=int, default=128, help="RGB crop side")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--models", help="comma-separated subset")
    parser.add_argument("--skip-rgb", action="store_true")
    parser.add_argument("--work", default=str(REPO / "runs" / "bench-synthetic"), help="scratch folder")
    parser.add_argument("--smoke", action="store_true", help="a few seconds per model, tiny data; no docs update")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument(
        "--from-results", action="store_true", help="rewrite the docs section from WORK/results.json; no training"
    )
    return parser


def main() -> int:
    parser = build_parser()
    args = parser.parse_args()
    if args.smoke:
        args.minutes, args.train_frames, args.test_frames, args.batch_size = 0.1, 80, 20, 8
        args.no_docs = True
    import torch

    torch.set_num_threads(min(torch.get_num_threads(), 2))
    work = Path(args.work)
    # A smoke run never replaces the real results.
    results_path = work / ("smoke.json" if args.smoke else "results.json")
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    if args.from_results:
        replace_section(HEADING, render(results))
        return 0
    chosen = set(args.models.split(",")) if args.models else None
    depth_models = tuple(m for m in DEPTH_MODELS if chosen is None or m in chosen)
    rgb_models = () if args.skip_rgb else tuple(m for m in RGB_MODELS if chosen is None or m in chosen)
    for modality, models in (("depth", depth_models), ("rgb", rgb_models)):
        if not models:
            continue
        started = time.time()
        if modality == "depth":
            train_root, test_root = prepare_depth(
                work, args.train_frames, args.test_frames, args.input_size, args.hands
            )
        else:
            train_root, test_root = prepare_rgb(work, args.train_frames, args.test_frames)
        rows = bench(models, modality, train_root, test_root, args, work)
        results[modality] = {
            "rows": rows,
            "args": vars(args),
            "command": command_line(parser, args),
            "machine": machine(),
            "wall_s": round(time.time() - started, 1),
        }
        write_json_atomic(results_path, results)
    if not args.no_docs:
        replace_section(HEADING, render(results))
    return 0


def command_line(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """The command that reproduces ``args``: the script and every option that differs from its default."""
    parts = ["python", "benchmarks/bench_synthetic_methods.py"]
    for action in parser._actions:
        if action.dest not in vars(args) or action.dest in ("help", "work", "from_results"):
            continue
        value = getattr(args, action.dest)
        if not action.option_strings or value == action.default:
            continue
        parts += [action.option_strings[0]] if value is True else [action.option_strings[0], shlex.quote(str(value))]
    return " ".join(parts)


def machine() -> str:
    import torch

    return (
        f"{platform.machine()}, {os.cpu_count()} CPUs (torch threads {torch.get_num_threads()}), "
        f"Python {platform.python_version()}, torch {torch.__version__}"
    )


def observations(rows: list[dict[str, Any]]) -> list[str]:
    """What the depth table says about the papers' ablation claims, in words."""
    error = {r["model"]: r["mean_error_mm"] for r in rows}
    steps = {r["model"]: r["steps"] for r in rows}
    lines = []
    claimed = ["crossinfonet", "crossinfonet_cross", "crossinfonet_base_hm", "crossinfonet_base"]
    if all(m in error for m in claimed):
        seen = sorted(claimed, key=error.get)
        holds = seen == claimed
        lines.append(
            "- CrossInfoNet's Table 1 order (Cross + HM < Cross < Base + HM < Base): "
            + ("holds" if holds else "does not hold")
            + " here; observed, best first: "
            + ", ".join(f"{m} {error[m]:.2f} mm ({steps[m]} steps)" for m in seen)
            + "."
        )
    fpn = ["fingerposenet", "fingerposenet_no_sharing", "fingerposenet_no_fusion"]
    if all(m in error for m in fpn):
        best = min(fpn, key=error.get)
        lines.append(
            "- FingerPoseNet with sharing and fusion "
            + ("beats" if best == "fingerposenet" else "does not beat")
            + " its ablations here: "
            + ", ".join(f"{m} {error[m]:.2f} mm ({steps[m]} steps)" for m in fpn)
            + "."
        )
    if lines:
        lines.append(
            "- Under one wall-clock budget a cheaper variant takes more steps (the steps column): a short "
            "budget favours it, whatever its accuracy after full training. "
            "[Converged ablations](#converged-ablations-on-synthetic-data) compares the variants at equal steps."
        )
    return lines


def rgb_observations(rows: list[dict[str, Any]]) -> list[str]:
    """The Learnable Groups comparison in words: one group vs manual vs learned groups, with and without fusion."""
    error = {r["model"]: r["mean_error_mm"] for r in rows}
    if not error:
        return []
    order = sorted(error, key=error.get)
    return [
        "- Learnable Groups variants, best first (root-relative mean error): "
        + ", ".join(f"{m} {error[m]:.2f} mm" for m in order)
        + "."
    ]


def render(results: dict[str, Any]) -> str:
    """The docs section for a benchmark's ``results.json`` content: ``{modality: {rows, args, command, machine}}``."""
    body = [
        "Each model trains for the same minutes of wall clock on the same synthetic frames (last tenth = "
        "validation, picks the checkpoint) and is scored on the same held-out frames (Adam 1e-3 with a cosine "
        "decay to zero over the budget).",
        "",
    ]
    for modality in ("depth", "rgb"):
        if modality not in results:
            continue
        run = results[modality]
        args = argparse.Namespace(**run["args"])
        if modality == "depth":
            hands = {"both": "left and right hands", "right": "right hands", "left": "left hands"}[args.hands]
            title = f"Depth (NYU camera, {hands}, 250 mm cube on the labelled middle MCP, {args.input_size}-pixel crops"
            extra = observations(run["rows"])
        else:
            title = f"RGB (256x256 synthetic frames, {args.rgb_input_size}-pixel crops, small hourglass"
            extra = rgb_observations(run["rows"])
        body += [
            f"{title}; {args.minutes:g} min per model, {args.train_frames} training and {args.test_frames} test frames). "
            f"Command: `{run['command']}` — machine: {run['machine']}.",
            "",
            *table(run["rows"], modality),
            "",
            *extra,
            "",
        ]
    return "\n".join(body)


if __name__ == "__main__":
    sys.exit(main())
