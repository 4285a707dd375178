"""Synthetic benchmark across hand models: trained on mesh hands and scored on capsule hands, and the reverse.

For each modality one model trains twice from the same seed, for the same fixed number of steps, on
the same number of frames: once on frames rendered with the skinned mesh hand, once on frames
rendered with the capsule hand (same render seed, so the same hand poses). Each
model is scored on both held-out test sets (seed 2, mesh and capsule), next to each test set's
mean-pose baseline (the mean pose of the training frames rendered with that test set's hand). The
result is a 2x2 table per modality, rows the hand trained on, columns the hand scored on, each cell
the mean error and its ratio to the column's mean-pose error.

Data, training and scoring are the synthetic benchmark's own (``bench_synthetic_methods``): NYU-camera
right-hand depth frames cropped in a 250 mm cube on the labelled middle MCP, 256x256 RGB frames with
a small hourglass, Adam 1e-3 with a cosine decay to zero, the checkpoint with the lowest validation
error (last tenth of the training frames). The only differences: a fixed step count instead of a
wall-clock budget (the result does not depend on the machine's speed or load) and fp32 training.

Results go to benchmarks/results/cross_hands.json; the "Mesh and capsule hands" section of
docs/benchmarks.md is written from that file (``--render`` rewrites it without training).

    python benchmarks/bench_cross_hands.py                    # both modalities, default steps
    python benchmarks/bench_cross_hands.py --modalities depth # keeps the RGB results already saved
    python benchmarks/bench_cross_hands.py --render           # docs section from the saved results
    python benchmarks/bench_cross_hands.py --smoke            # tiny data, two steps; no docs update
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from _docs import cpu_name, replace_section
from bench_synthetic_methods import evaluate, machine, mean_pose_row, prepare_depth, prepare_rgb, run_config
from handpose.io import write_json_atomic

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "cross_hands.json"
# The section's heading starts so (docs/benchmarks.md adds what it compares).
HEADING = "## Mesh and capsule hands"
HAND_MODELS = ("mesh", "capsule")
# A model at this fraction of the mean-pose error or above has not learned the task yet.
UNLEARNED_RATIO = 0.9
MODALITIES = ("depth", "rgb")
# Scores kept per cell; the per-joint and curve arrays stay out of the results file.
KEPT = {
    "depth": ("frames", "mean_error_mm", "median_error_mm", "success_at_20mm", "success_at_40mm"),
    "rgb": ("frames", "mean_error_mm", "median_error_mm", "pa_mpjpe_mm", "auc_20_50"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modalities", default="depth,rgb", help="comma-separated: depth, rgb")
    parser.add_argument("--depth-model", default="crossinfonet")
    parser.add_argument("--rgb-model", default="learnable_groups_k3")
    parser.add_argument("--depth-steps", type=int, default=1000, help="optimiser steps of each depth training")
    parser.add_argument("--rgb-steps", type=int, default=400, help="optimiser steps of each RGB training")
    parser.add_argument("--train-frames", type=int, default=4000)
    parser.add_argument("--test-frames", type=int, default=500)
    parser.add_argument("--input-size", type=int, default=64, help="depth crop side")
    parser.add_argument("--hands", choices=("right", "left", "both"), default="right", help="depth frames' hands")
    parser.add_argument("--rgb-input-size", type=int, default=128, help="RGB crop side")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--work",
        default=str(REPO / "runs" / "bench-synthetic"),
        help="scratch folder (frames shared with the synthetic benchmark)",
    )
    parser.add_argument(
        "--results", help=f"results file (default {RESULTS.relative_to(REPO)}; --smoke: WORK/cross_hands_smoke.json)"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny data and two steps per model; no docs update")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument(
        "--render", action="store_true", help="rewrite the docs section from the results file; no training"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.smoke:
        args.train_frames, args.test_frames, args.batch_size = 24, 8, 4
        args.depth_steps = args.rgb_steps = 2
        args.input_size, args.rgb_input_size = 32, 64
        args.no_docs = True
    work = Path(args.work)
    results_path = Path(args.results) if args.results else (work / "cross_hands_smoke.json" if args.smoke else RESULTS)
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    if args.render:
        replace_section(HEADING, render(results))
        return 0
    modalities = [m.strip() for m in args.modalities.split(",") if m.strip()]
    unknown = sorted(set(modalities) - set(MODALITIES))
    if unknown or not modalities:
        parser.error(f"--modalities: expected depth and/or rgb, got {args.modalities!r}")
    if min(args.depth_steps, args.rgb_steps) < 1:
        parser.error("--depth-steps and --rgb-steps must be at least 1")
    import torch

    torch.set_num_threads(min(torch.get_num_threads(), 2))
    for modality in modalities:
        started = time.time()
        results[modality] = {
            **cross_table(modality, args, work),
            "command": command_line(argv),
            "machine": machine(),
            "cpu": cpu_name(),
            "wall_s": round(time.time() - started, 1),
        }
        write_json_atomic(results_path, results)
    if not args.no_docs:
        replace_section(HEADING, render(results))
    return 0


def cross_table(modality: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Train on each hand model, score every model on every test set; the 2x2 cells and the baselines."""
    model = args.depth_model if modality == "depth" else args.rgb_model
    steps = args.depth_steps if modality == "depth" else args.rgb_steps
    roots = {}
    for hand in HAND_MODELS:
        print(
            f"== {modality}: {args.train_frames} training and {args.test_frames} test frames, {hand} hands", flush=True
        )
        if modality == "depth":
            roots[hand] = prepare_depth(work, args.train_frames, args.test_frames, args.input_size, args.hands, hand)
        else:
            roots[hand] = prepare_rgb(work, args.train_frames, args.test_frames, hand)
    runs = {hand: train_on(model, modality, hand, roots[hand][0], steps, args, work) for hand in HAND_MODELS}
    cells: dict[str, dict[str, Any]] = {}
    for trained in HAND_MODELS:
        cells[trained] = {}
        for scored in HAND_MODELS:
            scores = evaluate(runs[trained]["checkpoint"], modality, roots[scored][1])
            cells[trained][scored] = kept(scores, modality)
            print(f"   trained on {trained}, scored on {scored}: {scores['mean_error_mm']:.2f} mm", flush=True)
    baselines = {}
    for scored in HAND_MODELS:
        run, (train_root, test_root) = runs[scored], roots[scored]
        if modality == "depth":
            scores = mean_pose_row(run["checkpoint"], run["train_frames"], train_root, test_root)
        else:
            scores = rgb_mean_pose_scores(run["checkpoint"], run["train_frames"], train_root, test_root)
        baselines[scored] = kept(scores, modality)
    for trained in HAND_MODELS:
        for scored in HAND_MODELS:
            cell = cells[trained][scored]
            cell["ratio"] = cell["mean_error_mm"] / baselines[scored]["mean_error_mm"]
    settings = {
        "model": model,
        "steps": steps,
        "train_frames": args.train_frames,
        "test_frames": args.test_frames,
        "batch_size": args.batch_size,
        "input_size": args.input_size if modality == "depth" else args.rgb_input_size,
    }
    if modality == "depth":
        settings["hands"] = args.hands
    return {"settings": settings, "runs": runs, "cells": cells, "baselines": baselines}


def train_on(
    model: str, modality: str, hand: str, train_root: Path, steps: int, args: argparse.Namespace, work: Path
) -> dict[str, Any]:
    """One training of ``model`` on the frames of one hand model, bounded by ``steps`` optimiser steps."""
    from handpose.training.config import config_from_dict
    from handpose.training.run import train

    name = f"{model}_on_{hand}"
    out = work / "cross_runs" / modality
    shutil.rmtree(out / name, ignore_errors=True)
    # run_config bounds a run by wall clock; without minutes it is bounded by the steps set below.
    cfg = run_config(model, modality, train_root, argparse.Namespace(**{**vars(args), "minutes": None}), out)
    cfg["name"] = name
    cfg["trainer"]["max_steps"] = steps
    cfg["trainer"]["val_every_n_steps"] = validation_interval(steps)
    # 'auto' could time bf16 against fp32 and pick either per run; both trainings of a pair use fp32.
    cfg["trainer"]["precision"] = "32-true"
    print(f"== {name}: training {steps} steps", flush=True)
    started = time.time()
    summary = train(config_from_dict(cfg, source=name))
    return {
        "checkpoint": summary["best_checkpoint"],
        "steps": summary["global_step"],
        "epochs": summary["epochs"],
        "train_frames": summary["train_frames"],
        "train_s": round(time.time() - started, 1),
    }


def validation_interval(steps: int) -> int:
    """Steps between validations: about five per run, the last one after the final step.

    Epoch-end validation would leave the steps after the last full epoch (the most annealed ones)
    out of the checkpoint choice, so the interval divides the step count.
    """
    return next(k for k in range(max(steps // 5, 1), 0, -1) if steps % k == 0)


def rgb_mean_pose_scores(checkpoint: str, train_frames: int, train_root: Path, test_root: Path) -> dict[str, Any]:
    """The RGB mean-pose baseline: every test frame gets the training frames' mean root-relative pose.

    RGB scores are root-relative, so the mean of the root-relative training joints is the constant
    prediction with the lowest squared error on the training frames, as the depth baseline is for
    normalised crops.
    """
    import numpy as np

    from handpose.datasets import open_dataset
    from handpose.evaluation.checkpoint import score_rgb
    from handpose.inference import Estimator
    from handpose.model_evaluation import open_eval_dataset, predict_dataset
    from handpose.skeleton import get

    est = Estimator.load(checkpoint)
    root = get(est.skeleton).root_index
    # The training frames are the first ones; the held-out validation tail is left out.
    joints = open_dataset("synthetic", train_root, "all").labels_xyz()[:train_frames].astype(np.float64)
    mean = np.mean(joints - joints[:, root : root + 1], axis=0)
    preds = predict_dataset(est, open_eval_dataset(est, "synthetic", str(test_root), "test"), progress=False)
    if mean.shape != preds.gt_xyz.shape[1:]:
        raise ValueError(f"training labels have joints {mean.shape}, the test frames {preds.gt_xyz.shape[1:]}")
    guess = np.broadcast_to(mean, preds.gt_xyz.shape)
    return score_rgb(guess, preds.gt_xyz, preds.visible, root)


def kept(scores: dict[str, Any], modality: str) -> dict[str, Any]:
    return {k: scores[k] for k in KEPT[modality]}


def command_line(argv: list[str]) -> str:
    """The command as run, without the scratch-folder and results-file options (they do not change numbers)."""
    parts, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in ("--work", "--results"):
            skip = True
            continue
        if arg.startswith(("--work=", "--results=")):
            continue
        parts.append(arg)
    return shlex.join(["python", "benchmarks/bench_cross_hands.py", *parts])


def table(run: dict[str, Any]) -> list[str]:
    """The 2x2 table of one modality: rows trained on, columns scored on, plus the mean-pose row."""
    cells, baselines = run["cells"], run["baselines"]
    lines = [
        "| trained on \\ scored on | " + " | ".join(f"{h} test" for h in HAND_MODELS) + " |",
        "|---|" + "---|" * len(HAND_MODELS),
    ]
    for trained in HAND_MODELS:
        row = [f"{cells[trained][s]['mean_error_mm']:.2f} mm ({cells[trained][s]['ratio']:.2f})" for s in HAND_MODELS]
        lines.append(f"| {trained} ({run['runs'][trained]['steps']} steps) | " + " | ".join(row) + " |")
    base = [f"{baselines[s]['mean_error_mm']:.2f} mm (1.00)" for s in HAND_MODELS]
    lines.append("| mean pose of the column's training frames (baseline) | " + " | ".join(base) + " |")
    return lines


def gap_lines(run: dict[str, Any]) -> list[str]:
    """What the table says in words: how much each model loses on the other hand model's test frames."""
    cells = run["cells"]
    lines = []
    for trained, other in (("mesh", "capsule"), ("capsule", "mesh")):
        own, cross = cells[trained][trained]["mean_error_mm"], cells[trained][other]["mean_error_mm"]
        lines.append(
            f"- Trained on {trained} hands: {own:.2f} mm on {trained} test frames, {cross:.2f} mm on {other} "
            f"ones ({cross - own:+.2f} mm)."
        )
    if min(cells[h][h]["ratio"] for h in HAND_MODELS) >= UNLEARNED_RATIO:
        lines.append(
            f"- Both models are still within {1 - UNLEARNED_RATIO:.0%} of the mean pose on their own test frames: "
            "at this step count they have not learned enough for the gaps to mean anything."
        )
    return lines


def render(results: dict[str, Any]) -> str:
    """The docs section for ``cross_hands.json``'s content: ``{modality: {settings, runs, cells, baselines, ...}}``."""
    body = [
        "Each model trains twice with the same seed, steps and frame counts: on frames rendered with the skinned mesh hand (the engine's default) and on "
        "frames of the same render seed (the same hand poses) rendered with the capsule hand. Both are scored on a held-out mesh and a held-out "
        "capsule test set (another render seed). Each cell: mean error and, in brackets, its ratio to the "
        "mean-pose error of that column's test set (the mean pose of the training frames rendered with "
        "that column's hand). Data, crops and optimiser are the "
        "[synthetic benchmark's](#synthetic-benchmark-every-method-and-ablation-under-the-same-cpu-budget); "
        "training is bounded by a fixed step count (not by wall clock) and runs in fp32.",
        "",
    ]
    if not results:
        body.append("No results yet: `python benchmarks/bench_cross_hands.py` writes them.")
    for modality in MODALITIES:
        if modality not in results:
            continue
        run = results[modality]
        s = run["settings"]
        if modality == "depth":
            hands = {"both": "left and right hands", "right": "right hands", "left": "left hands"}[s["hands"]]
            title = f"Depth: {s['model']} (NYU camera, {hands}, {s['input_size']}-pixel crops"
            scores = "mean 3D error"
        else:
            title = f"RGB: {s['model']} (256x256 frames, {s['input_size']}-pixel crops, small hourglass"
            scores = "root-relative mean error"
        body += [
            f"{title}; {s['steps']} steps of batch {s['batch_size']} per model, {s['train_frames']} training and "
            f"{s['test_frames']} test frames per hand model; {scores}). Command: `{run['command']}` — CPU: "
            f"{run['cpu']}; {run['machine']}; {run['wall_s'] / 60:.1f} min in all.",
            "",
            *table(run),
            "",
            *gap_lines(run),
            "",
        ]
    return "\n".join(body)


if __name__ == "__main__":
    sys.exit(main())
